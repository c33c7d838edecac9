"""Tests for Super-NaturalInstructions (NIv2) on a tiny fake directory."""

import json
import os

import pytest
import seqio

from instruct.data import niv2
from instruct.data import registry
from instruct.errors import UserError

_LENGTHS = {'inputs': 1024, 'targets': 64}


def _task(definition, categories, positives, negatives, instances,
          language='English'):
  # Key order as in the real files: Instances last.
  return {
      'Contributors': ['Someone'],
      'Source': ['fake_source'],
      'URL': ['https://example.org'],
      'Categories': categories,
      'Reasoning': [],
      'Definition': definition,
      'Input_language': [language],
      'Output_language': [language],
      'Instruction_language': ['English'],
      'Domains': ['Wikipedia'],
      'Positive Examples': positives,
      'Negative Examples': negatives,
      'Instances': instances,
      'Instance License': ['Unknown'],
  }


QA = _task(
    ['Answer the question about the passage with a single word.'],
    ['Question Answering', 'Reading Comprehension'],
    [{'input': 'Passage: The sky is blue. Question: What colour is the sky?',
      'output': 'blue', 'explanation': 'The passage says the sky is blue.'},
     {'input': 'Passage: Cats purr. Question: What do cats do?',
      'output': 'purr', 'explanation': 'Stated in the passage.'},
     {'input': 'Passage: unused third example.', 'output': 'x',
      'explanation': 'never shown'}],
    [{'input': 'Passage: Grass is green. Question: What colour is grass?',
      'output': 'blue', 'explanation': 'Grass is green, not blue.'}],
    [{'id': f'task001-{i}', 'input': f'Passage: Item {i}. Question: Which?',
      'output': [f'item{i}', f'alt{i}']} for i in range(40)])

SENTIMENT = _task(
    ['Classify the review as "POS" or "NEG".', 'Use {braces} literally.'],
    ['Sentiment Analysis'],
    [{'input': 'Great film!', 'output': 'POS', 'explanation': ''}],
    [],
    [{'id': f'task002-{i}', 'input': f'Review number {i}.',
      'output': ['POS' if i % 2 else 'NEG']} for i in range(10)])

TEST_TASK = _task(
    ['Rewrite the sentence in the passive voice.'], ['Text Rewriting'],
    [{'input': 'The dog bit the man.', 'output': 'The man was bitten by the '
      'dog.', 'explanation': 'Passive voice.'}], [],
    [{'id': 'task003-0', 'input': 'Ann wrote it.',
      'output': ['It was written by Ann.']}])

UNLISTED = _task(['Unlisted task.'], ['Misc'], [], [],
                 [{'id': 'u-0', 'input': 'a', 'output': ['b']}])

FILES = {
    'task001_fake_qa': QA,
    'task002_fake_sentiment': SENTIMENT,
    'task003_fake_rewriting': TEST_TASK,
    'task004_unlisted': UNLISTED,
}


def _make_dir(root, files=None, train=('task001_fake_qa',
                                       'task002_fake_sentiment'),
              test=('task003_fake_rewriting',)):
  os.makedirs(os.path.join(root, 'tasks'), exist_ok=True)
  os.makedirs(os.path.join(root, 'splits', 'default'), exist_ok=True)
  for name, content in (files or FILES).items():
    with open(os.path.join(root, 'tasks', f'{name}.json'), 'w',
              encoding='utf-8') as f:
      f.write(content if isinstance(content, str)
              else json.dumps(content, indent=1))
  for list_name, names in (('train', train), ('test', test)):
    with open(os.path.join(root, 'splits', 'default',
                           f'{list_name}_tasks.txt'), 'w') as f:
      f.write(''.join(n + '\n' for n in names))
  return str(root)


@pytest.fixture(autouse=True)
def _cleanup():
  before = {s.key for s in registry.registered_specs()}
  yield
  for spec in registry.registered_specs():
    if spec.key not in before:
      registry.unregister_dataset(spec.source, spec.name)


@pytest.fixture(name='niv2_dir')
def _niv2_dir(tmp_path):
  return _make_dir(tmp_path)


def _texts(task_name, split='train', n=None):
  ds = seqio.get_mixture_or_task(task_name).get_dataset(
      _LENGTHS, split=split, shuffle=False)
  if n is not None:
    ds = ds.take(n)
  return [{k: (v.decode('utf-8') if isinstance(v, bytes) else v)
           for k, v in ex.items()} for ex in ds.as_numpy_iterator()]


# --- Prompt formatting. ----------------------------------------------------

QA_DEF = ('Definition: Answer the question about the passage with a single '
          'word.')
QA_POS1 = ('Positive Example 1 -\nInput: Passage: The sky is blue. Question: '
           'What colour is the sky?\nOutput: blue')
QA_POS2 = ('Positive Example 2 -\nInput: Passage: Cats purr. Question: What '
           'do cats do?\nOutput: purr')
QA_NEG1 = ('Negative Example 1 -\nInput: Passage: Grass is green. Question: '
           'What colour is grass?\nOutput: blue')
QUERY = ('Now complete the following example -\nInput: Passage: Item 0. '
         'Question: Which?\nOutput:')


def test_prompt_encodings_exact_text(niv2_dir):
  task = niv2.load_task(os.path.join(niv2_dir, 'tasks',
                                     'task001_fake_qa.json'))
  query = 'Passage: Item 0. Question: Which?'

  def prompt(name):
    return niv2.format_prompt(task, niv2.ENCODINGS[name], query)

  assert prompt('def') == f'{QA_DEF}\n\n{QUERY}'
  assert prompt('def_pos2') == f'{QA_DEF}\n\n{QA_POS1}\n\n{QA_POS2}\n\n{QUERY}'
  assert prompt('def_pos2_expl') == (
      f'{QA_DEF}\n\n{QA_POS1}\nExplanation: The passage says the sky is '
      f'blue.\n\n{QA_POS2}\nExplanation: Stated in the passage.\n\n{QUERY}')
  assert prompt('def_pos2_neg2_expl') == (
      f'{QA_DEF}\n\n{QA_POS1}\nExplanation: The passage says the sky is '
      f'blue.\n\n{QA_POS2}\nExplanation: Stated in the passage.\n\n'
      f'{QA_NEG1}\nExplanation: Grass is green, not blue.\n\n{QUERY}')
  assert prompt('pos2') == f'{QA_POS1}\n\n{QA_POS2}\n\n{QUERY}'
  assert task.cluster == 'question_answering'
  assert task.categories == ('Question Answering', 'Reading Comprehension')


def test_registered_task_round_trip(niv2_dir):
  reg = niv2.register_niv2(niv2_dir, variants=['zs_noopt'],
                           validation_fraction=0.0)
  name = reg.seqio_tasks['task001_fake_qa']['zs_noopt']
  assert name == 'niv2_task001_fake_qa_zs_noopt'
  examples = _texts(name)
  assert len(examples) == 40
  # Template i % 4 of the four default encodings.
  assert [e['_template_idx'] for e in examples[:5]] == [0, 1, 2, 3, 0]
  assert examples[0]['inputs_pretokenized'] == f'{QA_DEF}\n\n{QUERY}'
  assert examples[1]['inputs_pretokenized'] == (
      f'{QA_DEF}\n\n{QA_POS1}\n\n{QA_POS2}\n\n'
      + QUERY.replace('Item 0', 'Item 1'))
  # The first acceptable output is the target.
  assert [e['targets_pretokenized'] for e in examples[:2]] == ['item0',
                                                                'item1']
  assert {e['_task_source'] for e in examples} == {'niv2'}
  assert {e['_task_name'] for e in examples} == {'task001_fake_qa'}
  assert {e['_template_type'] for e in examples} == {'zs_noopt'}
  info = registry.task_info(name)
  assert (info.cluster, info.num_templates) == ('question_answering', 4)
  assert registry.num_examples(name, 'train') == 40
  assert registry.num_examples(name, 'validation') == 0


def test_braces_in_definition_are_literal(niv2_dir):
  reg = niv2.register_niv2(niv2_dir, variants=['zs_noopt'],
                           encodings=['def'], validation_fraction=0.0)
  first = _texts(reg.seqio_tasks['task002_fake_sentiment']['zs_noopt'])[0]
  assert first['inputs_pretokenized'] == (
      'Definition: Classify the review as "POS" or "NEG".\nUse {braces} '
      'literally.\n\nNow complete the following example -\nInput: Review '
      'number 0.\nOutput:')
  assert registry.get_spec('niv2_task002_fake_sentiment').cluster == (
      'sentiment_analysis')


def test_task_splits_and_unlisted(niv2_dir):
  reg = niv2.register_niv2(niv2_dir, variants=['zs_noopt'])
  assert reg.train_tasks == ['task001_fake_qa', 'task002_fake_sentiment']
  assert reg.test_tasks == ['task003_fake_rewriting']
  assert dict(reg.skipped) == {'not_in_task_lists': 1}
  assert 'niv2_task004_unlisted_zs_noopt' not in seqio.TaskRegistry.names()
  assert sorted(registry.registered_tasks(source='niv2')) == [
      'niv2_task001_fake_qa_zs_noopt', 'niv2_task002_fake_sentiment_zs_noopt',
      'niv2_task003_fake_rewriting_zs_noopt']
  assert registry.get_spec('niv2_task003_fake_rewriting').cluster == (
      'text_rewriting')
  assert 'train tasks' in reg.format()
  # Only the test list.
  reg = niv2.register_niv2(niv2_dir, variants=['zs_noopt'],
                           task_lists=['test'])
  assert (reg.train_tasks, reg.test_tasks) == ([], ['task003_fake_rewriting'])


def test_default_variants_and_few_shot(niv2_dir):
  reg = niv2.register_niv2(niv2_dir)
  tasks = reg.seqio_tasks['task001_fake_qa']
  assert {'zs_noopt', 'fs_noopt', 'fs1_noopt'} <= set(tasks)
  assert not any(v.endswith('_opt') or 'cot' in v for v in tasks)
  (ex,) = _texts(tasks['fs1_noopt'], n=1)
  # One other instance's prompt and answer, then the query.
  assert ex['inputs_pretokenized'].endswith(QUERY)
  assert ex['inputs_pretokenized'].count('Now complete the following') == 2


def test_instance_split_and_caps(niv2_dir):
  reg = niv2.register_niv2(niv2_dir, variants=['zs_noopt'],
                           validation_fraction=0.3,
                           max_num_instances_per_task=20,
                           max_num_eval_instances_per_task=5)
  name = reg.seqio_tasks['task001_fake_qa']['zs_noopt']
  train = [e['targets_pretokenized'] for e in _texts(name, 'train')]
  valid = [e['targets_pretokenized'] for e in _texts(name, 'validation')]
  assert len(train) == 20 and len(valid) == 5
  assert set(train).isdisjoint(valid)
  # The split is a function of the instance id only.
  for t in valid:
    i = int(t[len('item'):])
    assert niv2.sources.validation_bucket({'id': f'task001-{i}'}) < 0.3
  assert registry.num_examples(name, 'train') == 20
  assert registry.num_examples(name, 'validation') == 5
  _, report = niv2.load_instances(
      os.path.join(niv2_dir, 'tasks', 'task001_fake_qa.json'),
      niv2.InstanceOptions(0.3, 20, 5))
  assert report.rows_read == 40
  assert report.rows_kept + report.rows_skipped == 40
  assert set(report.skipped) <= {'over_train_cap', 'over_validation_cap'}


def test_languages_filter(tmp_path):
  files = dict(FILES, task005_german=_task(
      ['Übersetze.'], ['Translation'], [], [],
      [{'id': 'g-0', 'input': 'Hallo', 'output': ['Hello']}],
      language='German'))
  root = _make_dir(tmp_path, files, train=('task001_fake_qa',
                                           'task005_german'), test=())
  reg = niv2.register_niv2(root, variants=['zs_noopt'],
                           languages=['English'])
  assert reg.train_tasks == ['task001_fake_qa']
  assert reg.skipped['language'] == 1


def test_directory_from_env_or_nothing(niv2_dir, monkeypatch):
  monkeypatch.delenv(niv2.ENV_VAR, raising=False)
  assert niv2.niv2_directory() is None
  assert niv2.register_niv2() is None
  monkeypatch.setenv(niv2.ENV_VAR, niv2_dir)
  reg = niv2.register_niv2(variants=['zs_noopt'])
  assert reg.directory == niv2_dir and len(reg.train_tasks) == 2


def test_registration_reads_only_headers(niv2_dir, monkeypatch):
  def _fail(*args, **kwargs):
    raise AssertionError('instances read at registration')
  monkeypatch.setattr(niv2, 'read_instances', _fail)
  niv2.register_niv2(niv2_dir, variants=['zs_noopt', 'fs_noopt'])


def test_header_reader_across_chunks(tmp_path, monkeypatch):
  monkeypatch.setattr(niv2, '_FIRST_CHUNK', 7)  # Many tiny, doubling reads.
  task = _task(['Définition très «longue» ' * 20], ['Question Answering'],
               [{'input': 'ü' * 50, 'output': 'ö', 'explanation': 'é'}], [],
               [{'id': 'x', 'input': 'a', 'output': ['b']}])
  path = tmp_path / 'task9_x.json'
  path.write_text(json.dumps(task, ensure_ascii=False), encoding='utf-8')
  header = niv2.read_header(str(path))
  assert header['Definition'] == task['Definition']
  assert header['Positive Examples'] == task['Positive Examples']
  assert header['Instances'] is None  # Seen, not parsed.
  # Instances before Definition: falls back to reading the whole file.
  reordered = {'Instances': task['Instances'], **task}
  path.write_text(json.dumps(reordered), encoding='utf-8')
  assert niv2.load_task(str(path)).definition == task['Definition'][0].strip()


# --- Bad input. ------------------------------------------------------------


def test_malformed_json_names_file(tmp_path):
  bad = json.dumps(QA, indent=1)
  bad = bad.replace('"Definition": [', '"Definition" [', 1)
  root = _make_dir(tmp_path, dict(FILES, task001_fake_qa=bad))
  with pytest.raises(UserError,
                     match=r'task001_fake_qa\.json:\d+: malformed JSON'):
    niv2.register_niv2(root, variants=['zs_noopt'])
  # Malformed inside the instances: found when the data is read.
  bad = json.dumps(QA, indent=1)
  bad = bad[:bad.index('"Instances"')] + '"Instances": [{"id": }]}'
  root = _make_dir(tmp_path / 'b', dict(FILES, task001_fake_qa=bad))
  reg = niv2.register_niv2(root, variants=['zs_noopt'])
  with pytest.raises(UserError, match=r'task001_fake_qa\.json:\d+: malformed'):
    _texts(reg.seqio_tasks['task001_fake_qa']['zs_noopt'])


def test_missing_definition_names_file_and_field(tmp_path):
  no_def = {k: v for k, v in QA.items() if k != 'Definition'}
  root = _make_dir(tmp_path, dict(FILES, task001_fake_qa=no_def))
  with pytest.raises(UserError, match=r"task001_fake_qa\.json: field "
                     r"'Definition' is missing"):
    niv2.register_niv2(root, variants=['zs_noopt'])


def test_empty_output_names_file_instance_and_field(tmp_path):
  task = json.loads(json.dumps(SENTIMENT))
  task['Instances'][3]['output'] = ['']
  task['Instances'][5]['output'] = []
  root = _make_dir(tmp_path, dict(FILES, task002_fake_sentiment=task))
  reg = niv2.register_niv2(root, variants=['zs_noopt'])
  name = reg.seqio_tasks['task002_fake_sentiment']['zs_noopt']
  with pytest.raises(UserError, match=r"task002_fake_sentiment\.json: "
                     r"instance 'task002-3': field 'output' is empty"):
    _texts(name)
  reg = niv2.register_niv2(root, variants=['zs_noopt'],
                           skip_bad_instances=True, validation_fraction=0.0)
  assert len(_texts(name)) == 8
  _, report = niv2.load_instances(
      os.path.join(root, 'tasks', 'task002_fake_sentiment.json'),
      niv2.InstanceOptions(0.0, None, 100, True))
  assert dict(report.skipped) == {'bad_instance': 2}


def test_missing_task_file_and_split_list(tmp_path):
  root = _make_dir(tmp_path, train=('task001_fake_qa', 'task099_gone'))
  with pytest.raises(UserError, match=r"train_tasks\.txt:2: task "
                     r"'task099_gone' has no file"):
    niv2.register_niv2(root)
  os.remove(os.path.join(root, 'splits', 'default', 'test_tasks.txt'))
  with pytest.raises(UserError, match=r'test_tasks\.txt: cannot read'):
    niv2.register_niv2(root, task_lists=['test'])
  with pytest.raises(UserError, match='has no tasks/ folder'):
    niv2.register_niv2(str(tmp_path / 'nowhere'))


def test_rouge_l_metric():
  assert niv2.rouge_l(['the cat sat'], ['the cat sat'])['rougeL'] == 100.0
  assert niv2.rouge_l(['the cat sat'], ['dog'])['rougeL'] == 0.0
  assert 0 < niv2.rouge_l(['the cat sat'], ['the cat'])['rougeL'] < 100


def test_tasks_niv2_module_uses_env_var(niv2_dir, monkeypatch):
  import importlib  # pylint: disable=g-import-not-at-top
  import tasks.niv2  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv(niv2.ENV_VAR, niv2_dir)
  importlib.reload(tasks.niv2)
  assert tasks.niv2.TRAIN_TASKS == ['task001_fake_qa',
                                    'task002_fake_sentiment']
  assert tasks.niv2.TEST_TASKS == ['task003_fake_rewriting']
  assert 'niv2_task003_fake_rewriting_zs_noopt' in seqio.TaskRegistry.names()
  monkeypatch.delenv(niv2.ENV_VAR)
  importlib.reload(tasks.niv2)
  assert tasks.niv2.REGISTRATION is None and tasks.niv2.TRAIN_TASKS == []
