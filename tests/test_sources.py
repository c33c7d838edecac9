"""Tests for user data sources: Alpaca/Self-Instruct JSON, JSONL, CSV, TSV."""

import json
import os

import gin
import pytest
import seqio

from instruct.data import registry
from instruct.data import sources
from instruct.data.templates import Template
from instruct.errors import UserError

_LENGTHS = {'inputs': 256, 'targets': 64}

FIN_TEMPLATES = [
    Template('Answer the finance question: {question}', '{answer}'),
    Template('Finance Q: {question}\nA:', '{answer}'),
]
FIN_FIELDS = {'question': 'q', 'answer': 'a'}


@pytest.fixture(autouse=True)
def _cleanup():
  """Unregisters what a test registered, so tests don't see each other's."""
  before = {s.key for s in registry.registered_specs()}
  yield
  for spec in registry.registered_specs():
    if spec.key not in before:
      registry.unregister_dataset(spec.source, spec.name)
  gin.clear_config()


def _write(tmp_path, name, content):
  path = os.path.join(tmp_path, name)
  mode = 'wb' if isinstance(content, bytes) else 'w'
  kwargs = {} if isinstance(content, bytes) else {'encoding': 'utf-8',
                                                  'newline': ''}
  with open(path, mode, **kwargs) as f:
    f.write(content)
  return path


def _jsonl(rows):
  return ''.join(json.dumps(r) + '\n' for r in rows)


def _examples(task_name, split='train', n=None):
  ds = seqio.get_mixture_or_task(task_name).get_dataset(
      _LENGTHS, split=split, shuffle=False)
  if n is not None:
    ds = ds.take(n)
  return [{k: (v.decode('utf-8') if isinstance(v, bytes) else v)
           for k, v in ex.items()} for ex in ds.as_numpy_iterator()]


def _texts(task_name, split='train'):
  return [(e['inputs_pretokenized'], e['targets_pretokenized'])
          for e in _examples(task_name, split)]


FIN_ROWS = [{'q': f'What is the yield of bond {i}?', 'a': f'{i}.5%',
             'other': i} for i in range(6)]


# --- Round trips through the registered SeqIO tasks. ----------------------


def test_jsonl_round_trip_with_field_mapping(tmp_path):
  path = _write(tmp_path, 'fin.jsonl', _jsonl(FIN_ROWS) + '\n')
  tasks = sources.register_user_task(
      'finance_qa', path=path, fields=FIN_FIELDS, templates=FIN_TEMPLATES,
      cluster='finance', validation_fraction=0)
  assert tasks['zs_noopt'] == 'user_finance_qa_zs_noopt'
  assert 'zs_opt' not in tasks  # No options in this data.
  examples = _examples(tasks['zs_noopt'])
  assert [(e['inputs_pretokenized'], e['targets_pretokenized'])
          for e in examples[:2]] == [
              ('Answer the finance question: What is the yield of bond 0?',
               '0.5%'),
              ('Finance Q: What is the yield of bond 1?\nA:', '1.5%')]
  assert len(examples) == 6
  assert [e['_template_idx'] for e in examples] == [0, 1, 0, 1, 0, 1]
  assert {e['_task_source'] for e in examples} == {'user'}
  assert {e['_task_name'] for e in examples} == {'finance_qa'}
  assert {e['_template_type'] for e in examples} == {'zs_noopt'}
  info = registry.task_info(tasks['zs_noopt'])
  assert (info.cluster, info.source, info.num_examples) == (
      'finance', 'user', {'train': 6})
  report = sources.load_report('finance_qa')
  assert (report.rows_read, report.rows_kept, report.rows_skipped) == (6, 6, 0)


def test_few_shot_variant_uses_train_rows(tmp_path):
  path = _write(tmp_path, 'fin.jsonl', _jsonl(FIN_ROWS))
  tasks = sources.register_user_task(
      'finance_fs', path=path, fields=FIN_FIELDS, templates=FIN_TEMPLATES,
      validation_fraction=0, variants=['fs1_noopt'])
  (inputs, target), = _texts(tasks['fs1_noopt'])[:1]
  assert target == '0.5%'
  # One exemplar (another row, rendered with a template) before the query.
  assert inputs.endswith('What is the yield of bond 0?')
  assert inputs.count('What is the yield of bond') == 2


def test_csv_quoted_newlines_and_mapping(tmp_path):
  content = ('clause,verdict,ignored\n'
             '"The tenant shall pay rent,\nmonthly.",enforceable,x\n'
             '\n'  # A blank line is not a row.
             'Unlimited liability for all acts,unenforceable,y\n')
  path = _write(tmp_path, 'legal.csv', content)
  tasks = sources.register_user_task(
      'legal_clauses', path=path, fields={'text': 'clause',
                                          'answer': 'verdict'},
      templates=['Is this contract clause enforceable?\n{text}'],
      cluster='legal', validation_fraction=0, variants=['zs_noopt'])
  assert _texts(tasks['zs_noopt']) == [
      ('Is this contract clause enforceable?\nThe tenant shall pay rent,\n'
       'monthly.', 'enforceable'),
      ('Is this contract clause enforceable?\nUnlimited liability for all '
       'acts', 'unenforceable')]


def test_tsv_identity_mapping(tmp_path):
  path = _write(tmp_path, 'med.tsv',
                'symptom\tanswer\nfever and cough\tflu\nrash\tallergy\n')
  tasks = sources.register_user_task(
      'medical', path=path, templates=[('Symptoms: {symptom}. Likely cause?',
                                        '{answer}')],
      cluster='medical', validation_fraction=0, variants=['zs_noopt'])
  assert _texts(tasks['zs_noopt']) == [
      ('Symptoms: fever and cough. Likely cause?', 'flu'),
      ('Symptoms: rash. Likely cause?', 'allergy')]


def test_csv_long_field(tmp_path):
  contract = 'The parties agree. ' * 20_000  # ~380 KB, over csv's default.
  path = _write(tmp_path, 'long.csv', f'contract,answer\n"{contract}",ok\n')
  sources.register_user_task('long_doc', path=path, templates=['{contract}'],
                             validation_fraction=0, variants=['zs_noopt'])
  (row,) = registry.get_spec('user_long_doc').load('train').as_numpy_iterator()
  assert row['contract'].decode() == contract


def test_options_give_label_and_opt_variants(tmp_path):
  rows = [{'text': 'Revenue rose 20%.', 'options': ['positive', 'negative'],
           'answer': 'positive'},
          {'text': 'The firm went bankrupt.', 'options': ['positive',
                                                          'negative'],
           'answer': 'negative'}]
  path = _write(tmp_path, 'sent.jsonl', _jsonl(rows))
  tasks = sources.register_user_task(
      'fin_sentiment', path=path, templates=['Sentiment of: {text}'],
      fields={'options': 'options'}, cluster='finance',
      validation_fraction=0)
  assert 'zs_opt' in tasks
  raw = list(registry.get_spec(tasks['zs_opt']).load('train')
             .as_numpy_iterator())
  assert [r['label'] for r in raw] == [0, 1]
  assert [list(r['options']) for r in raw] == [[b'positive', b'negative']] * 2
  (inputs, target), _ = _texts(tasks['zs_opt'])
  assert inputs == ('Sentiment of: Revenue rose 20%.\n\nOPTIONS:\n'
                    '- positive\n- negative')
  assert target == 'positive'
  # CSV options are text split on a separator.
  path = _write(tmp_path, 'sent.csv',
                'text,choices,answer\nUp 5%,up|down,up\n')
  sources.register_user_task(
      'fin_sentiment_csv', path=path, templates=['{text}'],
      fields={'options': 'choices'}, validation_fraction=0)
  spec = registry.get_spec('user_fin_sentiment_csv')
  (row,) = list(spec.load('train').as_numpy_iterator())
  assert (list(row['options']), row['label']) == ([b'up', b'down'], 0)


def test_answer_not_in_options_is_an_error(tmp_path):
  path = _write(tmp_path, 'bad.jsonl', _jsonl(
      [{'text': 'x', 'options': ['a', 'b'], 'answer': 'c'}]))
  with pytest.raises(UserError, match=r'bad\.jsonl:1: .*answer.*not one of'):
    sources.register_user_task('bad_opts', path=path, templates=['{text}'],
                               fields={'options': 'options'})


# --- Splits. ---------------------------------------------------------------


def test_hash_split_is_deterministic_and_disjoint(tmp_path):
  rows = [{'q': f'question {i}', 'a': f'answer {i}'} for i in range(200)]
  path = _write(tmp_path, 'fin.jsonl', _jsonl(rows))
  kwargs = dict(path=path, fields=FIN_FIELDS, templates=FIN_TEMPLATES,
                validation_fraction=0.25, variants=['zs_noopt'])
  tasks = sources.register_user_task('split_a', **kwargs)
  spec = registry.get_spec(tasks['zs_noopt'])
  train = [r['question'] for r in spec.load('train').as_numpy_iterator()]
  valid = [r['question'] for r in spec.load('validation').as_numpy_iterator()]
  assert set(train).isdisjoint(valid)
  assert len(train) + len(valid) == 200
  assert 25 <= len(valid) <= 75  # ~50 expected.
  # Order within a split is file order.
  assert train == sorted(train, key=lambda q: int(q.split()[1]))
  assert spec.num_examples == {'train': len(train), 'validation': len(valid)}
  # Row-content hashing: independent of the task name and of row order.
  sources.register_user_task('split_b', **dict(kwargs, path=_write(
      tmp_path, 'rev.jsonl', _jsonl(rows[::-1]))))
  valid_b = [r['question'] for r in registry.get_spec('user_split_b')
             .load('validation').as_numpy_iterator()]
  assert sorted(valid_b) == sorted(valid)
  # Each row's split is its hash bucket.
  for q in valid:
    i = int(q.split()[1])
    assert sources.validation_bucket(
        {'question': f'question {i}', 'answer': f'answer {i}'}) < 0.25


def test_separate_validation_file(tmp_path):
  train = _write(tmp_path, 't.jsonl', _jsonl(FIN_ROWS[:4]))
  valid = _write(tmp_path, 'v.jsonl', _jsonl(FIN_ROWS[4:]))
  tasks = sources.register_user_task(
      'split_files', path=train, validation_path=valid, fields=FIN_FIELDS,
      templates=FIN_TEMPLATES, variants=['zs_noopt'])
  assert [t for _, t in _texts(tasks['zs_noopt'], 'validation')] == [
      '4.5%', '5.5%']
  assert len(_texts(tasks['zs_noopt'], 'train')) == 4


# --- Alpaca / Self-Instruct. ----------------------------------------------

ALPACA = [
    {'instruction': 'Give three tips for staying healthy.', 'input': '',
     'output': 'Eat well, sleep, exercise.'},
    {'instruction': 'Translate to French.', 'input': 'Good morning',
     'output': 'Bonjour'},
    {'instruction': 'Name a prime number.', 'output': '7'},  # No 'input'.
]


def test_alpaca_templates():
  assert len(sources.ALPACA_TEMPLATES) >= 10
  assert len({t.inputs for t in sources.ALPACA_TEMPLATES}) == len(
      sources.ALPACA_TEMPLATES)
  for t in sources.ALPACA_TEMPLATES:
    assert '{instruction}' in t.inputs
    with_input = dict(instruction='Do X.', answer='Y')
    values = dict(with_input, input='data')
    sources._derive_alpaca(values)  # pylint: disable=protected-access
    assert 'data' in t.format(values)[0]
    values = dict(with_input, input='')
    sources._derive_alpaca(values)  # pylint: disable=protected-access
    inputs, targets = t.format(values)
    assert 'Input' not in inputs and 'Context' not in inputs
    assert not inputs.endswith(('\n\n\n', ' ')) and targets == 'Y'


def test_alpaca_json_array_round_trip(tmp_path):
  path = _write(tmp_path, 'alpaca_data.json', json.dumps(ALPACA, indent=2))
  tasks = sources.register_alpaca('mini_alpaca', path=path,
                                  validation_fraction=0,
                                  variants=['zs_noopt'])
  assert tasks == {'zs_noopt': 'alpaca_mini_alpaca_zs_noopt'}
  examples = _examples(tasks['zs_noopt'])
  assert [(e['inputs_pretokenized'], e['targets_pretokenized'])
          for e in examples] == [
              ('Give three tips for staying healthy.',
               'Eat well, sleep, exercise.'),
              ('Instruction: Translate to French.\n\nInput: Good morning\n\n'
               'Response:', 'Bonjour'),
              ('Follow the instruction below.\n\nName a prime number.', '7')]
  assert [e['_task_source'] for e in examples] == ['alpaca'] * 3
  assert registry.get_spec(tasks['zs_noopt']).cluster == (
      'general_instructions')


def test_alpaca_jsonl_and_bad_rows_reported(tmp_path):
  rows = ALPACA + [{'instruction': 'Say hi.', 'input': '', 'output': ' '}]
  path = _write(tmp_path, 'self_instruct.jsonl', _jsonl(rows))
  with pytest.raises(UserError, match=r"self_instruct\.jsonl:4: field "
                     r"'output' \(for 'answer'\) \(the target\) is empty"):
    sources.register_alpaca('si', path=path)
  sources.register_alpaca('si', path=path, skip_bad_rows=True,
                          validation_fraction=0, variants=['zs_noopt'])
  report = sources.load_report('alpaca_si')
  assert (report.rows_read, report.rows_kept) == (4, 3)
  assert dict(report.skipped) == {sources.EMPTY_TARGET: 1}


# --- Errors name file, line and field. -------------------------------------


def _register_fin(path, **kwargs):
  return sources.register_user_task(
      'fin_err', path=path, fields=FIN_FIELDS, templates=FIN_TEMPLATES,
      **kwargs)


def test_malformed_json_line(tmp_path):
  path = _write(tmp_path, 'fin.jsonl',
                _jsonl(FIN_ROWS[:2]) + '{"q": "x", "a": \n')
  with pytest.raises(UserError, match=r'fin\.jsonl:3: malformed JSON'):
    _register_fin(path)


def test_malformed_json_array_names_line(tmp_path):
  path = _write(tmp_path, 'a.json',
                '[\n {"instruction": "a", "output": "b"},\n {"instruction": '
                '"c" "output": "d"}\n]')
  with pytest.raises(UserError, match=r'a\.json:3: malformed JSON'):
    sources.register_alpaca('bad_array', path=path)


def test_missing_field(tmp_path):
  rows = FIN_ROWS[:2] + [{'q': 'no answer here'}]
  path = _write(tmp_path, 'fin.jsonl', _jsonl(rows))
  with pytest.raises(UserError, match=r"fin\.jsonl:3: field 'a' \(for "
                     r"'answer'\) is missing"):
    _register_fin(path)
  path = _write(tmp_path, 'null.jsonl', _jsonl([{'q': None, 'a': 'x'}]))
  with pytest.raises(UserError, match=r"null\.jsonl:1: field 'q' .* is null"):
    _register_fin(path)


def test_not_utf8(tmp_path):
  good = _jsonl(FIN_ROWS[:2]).encode('utf-8')
  path = _write(tmp_path, 'fin.jsonl',
                good + b'{"q": "caf\xe9 prices?", "a": "up"}\n')
  with pytest.raises(UserError, match=r"fin\.jsonl:3: field 'q' .*not valid "
                     'UTF-8'):
    _register_fin(path)
  # CSV: the line of the record, even after a multi-line quoted field.
  path = _write(tmp_path, 'fin.csv',
                b'q,a\n"two\nlines",x\nok,y\n"\xff",z\n')
  with pytest.raises(UserError, match=r"fin\.csv:5: field 'q' .*UTF-8"):
    _register_fin(path)


def test_empty_target(tmp_path):
  path = _write(tmp_path, 'fin.tsv', 'q\ta\nWhat is APR?\t\n')
  with pytest.raises(UserError, match=r"fin\.tsv:2: field 'a' \(for "
                     r"'answer'\) \(the target\) is empty"):
    _register_fin(path)


def test_wrong_column_count_and_bad_type(tmp_path):
  path = _write(tmp_path, 'fin.csv', 'q,a\nx,y,z\n')
  with pytest.raises(UserError, match=r'fin\.csv:2: 3 columns, but the '
                     'header has 2'):
    _register_fin(path)
  path = _write(tmp_path, 'fin.jsonl', _jsonl([{'q': ['x'], 'a': 'y'}]))
  with pytest.raises(UserError, match=r"fin\.jsonl:1: field 'q' .* is a "
                     'list'):
    _register_fin(path)


def test_missing_file_and_unknown_extension(tmp_path):
  with pytest.raises(UserError, match='nope.jsonl: no such file'):
    _register_fin(str(tmp_path / 'nope.jsonl'))
  path = _write(tmp_path, 'fin.txt', 'q,a\n')
  with pytest.raises(UserError, match=r"fin\.txt: cannot tell the format.*"
                     'format='):
    _register_fin(path)


# --- skip_bad_rows: every skipped row is counted, by reason. ---------------


def test_skip_bad_rows_counts_by_reason(tmp_path):
  lines = [
      json.dumps({'q': 'good 1', 'a': '1'}).encode(),
      b'{"q": broken',                                  # malformed_json
      json.dumps({'q': 'no answer'}).encode(),          # missing_field
      b'{"q": "\xff\xfe", "a": "x"}',                   # not_utf8
      json.dumps({'q': 'empty', 'a': '  '}).encode(),   # empty_target
      json.dumps({'q': '', 'a': 'x'}).encode(),         # empty_field
      json.dumps(['not', 'an', 'object']).encode(),     # bad_type
      json.dumps({'q': 'good 2', 'a': '2'}).encode(),
      json.dumps({'q': 'no answer 2', 'a': None}).encode(),  # missing_field
      b'',
  ]
  path = _write(tmp_path, 'fin.jsonl', b'\n'.join(lines))
  _register_fin(path, skip_bad_rows=True, validation_fraction=0,
                variants=['zs_noopt'])
  report = sources.load_report('fin_err')
  assert report.rows_read == 9
  assert report.rows_kept == 2
  assert dict(report.skipped) == {
      sources.MALFORMED_JSON: 1, sources.MISSING_FIELD: 2,
      sources.NOT_UTF8: 1, sources.EMPTY_TARGET: 1, sources.EMPTY_FIELD: 1,
      sources.BAD_TYPE: 1}
  assert report.rows_read == report.rows_kept + report.rows_skipped
  assert report.messages[sources.MISSING_FIELD][0].startswith(
      f'{path}:3: field')
  text = report.format()
  assert 'read 9 rows' in text and 'kept 2' in text and 'skipped 7' in text
  assert 'skipped 2 (missing_field)' in text
  assert [t for _, t in _texts('user_fin_err_zs_noopt')] == ['1', '2']


def test_no_usable_rows(tmp_path):
  path = _write(tmp_path, 'fin.jsonl', '{"q": "x"}\n')
  with pytest.raises(UserError, match='no usable rows'):
    _register_fin(path, skip_bad_rows=True)


# --- Gin. ------------------------------------------------------------------


def test_register_user_tasks_from_gin(tmp_path):
  path = _write(tmp_path, 'fin.jsonl', _jsonl(FIN_ROWS))
  apath = _write(tmp_path, 'alpaca.json', json.dumps(ALPACA))
  gin.parse_config(f"""
from instruct.data import sources
sources.register_user_tasks.tasks = [
    {{'name': 'gin_finance', 'path': '{path}', 'cluster': 'finance',
      'fields': {{'question': 'q', 'answer': 'a'}},
      'templates': ['Answer the finance question: {{question}}',
                    ('Finance Q: {{question}}', 'A: {{answer}}')],
      'validation_fraction': 0.0, 'variants': ['zs_noopt']}},
]
sources.register_user_tasks.alpaca = [
    {{'name': 'gin_alpaca', 'path': '{apath}', 'validation_fraction': 0.0,
      'variants': ['zs_noopt']}},
]
""")
  out = sources.register_user_tasks()
  assert out == {'gin_finance': {'zs_noopt': 'user_gin_finance_zs_noopt'},
                 'gin_alpaca': {'zs_noopt': 'alpaca_gin_alpaca_zs_noopt'}}
  assert _texts('user_gin_finance_zs_noopt')[:2] == [
      ('Answer the finance question: What is the yield of bond 0?', '0.5%'),
      ('Finance Q: What is the yield of bond 1?', 'A: 1.5%')]
  assert len(_texts('alpaca_gin_alpaca_zs_noopt')) == 3


def test_gin_config_errors_are_user_errors():
  with pytest.raises(UserError, match=r'tasks\[0\] must be a dict'):
    sources.register_user_tasks(tasks=['finance'])
  with pytest.raises(UserError, match=r"tasks\[0\] \('x'\).*unexpected "
                     "keyword argument 'pth'"):
    sources.register_user_tasks(
        tasks=[{'name': 'x', 'pth': 'a', 'templates': ['{a}']}])
  with pytest.raises(UserError, match=r"tasks\[0\] \('x'\).*missing a "
                     "required argument: 'templates'"):
    sources.register_user_tasks(tasks=[{'name': 'x', 'path': 'a.jsonl'}])
  with pytest.raises(UserError, match=r'must match \[a-z0-9_\]\+'):
    sources.register_user_task('Bad-Name', path='x.jsonl', templates=['{a}'])


def test_tasks_user_module_registers_gin_tasks(tmp_path):
  import importlib  # pylint: disable=g-import-not-at-top
  path = _write(tmp_path, 'fin.jsonl', _jsonl(FIN_ROWS))
  gin.parse_config(f"""
from instruct.data import sources
sources.register_user_tasks.tasks = [
    {{'name': 'module_finance', 'path': '{path}',
      'fields': {{'question': 'q', 'answer': 'a'}},
      'templates': ['{{question}}'], 'variants': ['zs_noopt']}}]
""")
  import tasks.user  # pylint: disable=g-import-not-at-top
  importlib.reload(tasks.user)
  assert 'user_module_finance_zs_noopt' in seqio.TaskRegistry.names()
  assert tasks.user.REGISTERED == {
      'module_finance': {'zs_noopt': 'user_module_finance_zs_noopt'}}
