"""Tests for the built-in instruction tasks and their SeqIO registrations."""

import collections
import datetime
import re
import time

import numpy as np
import pytest
import seqio
import tensorflow as tf

from instruct.data import builtin
from instruct.data import cot
from instruct.data import preprocessors
from instruct.data import registry
import tasks  # pylint: disable=unused-import  # Registers the tasks.
from tasks import builtin as builtin_tasks

_LENGTHS = {'inputs': 192, 'targets': 32}
_EOS = 1
_NAMES = builtin.TASK_NAMES


def _template_regex(template):
  """A regex fully matching any text the template's inputs can produce."""
  parts = []
  for literal, field in template.inputs_segments:
    parts.append(re.escape(literal))
    if field is not None:
      parts.append('.+?')
  return re.compile(''.join(parts), re.DOTALL)


def _take(name, split, n, lengths=None, **kwargs):
  ds = seqio.get_mixture_or_task(name).get_dataset(
      sequence_length=lengths or _LENGTHS, split=split, shuffle=False,
      **kwargs)
  return list(ds.take(n).as_numpy_iterator())


def _text(value):
  return value.decode('utf-8')


def _validation(name):
  return list(builtin.generate_examples(name, 'validation'))


# --- The catalogue. -------------------------------------------------------


def test_task_inventory():
  assert len(_NAMES) >= 30
  clusters = builtin.clusters()
  assert len(clusters) >= 8
  assert sorted(n for names in clusters.values() for n in names) == sorted(
      _NAMES)
  # The original seven keep their names, order and kinds.
  assert builtin.CORE_TASK_NAMES == (
      'uppercase', 'reverse_word', 'arithmetic', 'sentiment',
      'reading_comprehension', 'translation', 'parity')
  assert set(builtin.CLASSIFICATION_TASK_NAMES) >= {'sentiment', 'parity'}
  for name in _NAMES:
    task = builtin.get_task(name)
    assert len(task.templates) >= 10 and len(task.seen_templates) >= 10
    assert len(task.held_out_template_ids) == builtin.NUM_HELD_OUT_TEMPLATES
    assert set(task.seen_template_ids).isdisjoint(task.held_out_template_ids)
    assert len({t.inputs for t in task.templates}) == len(task.templates)
    assert task.description
  # Arithmetic and multi-step reasoning tasks have worked rationales.
  for name in (clusters['arithmetic'] + clusters['multi_step_reasoning']):
    assert builtin.get_task(name).has_rationale or name == 'parity', name
  assert len(builtin.RATIONALE_TASK_NAMES) >= 7
  with pytest.raises(KeyError, match='Unknown built-in task'):
    builtin.get_task('nope')


@pytest.mark.parametrize('name', _NAMES)
def test_generation_is_deterministic(name):
  first = list(builtin.generate_examples(name, 'train', num_examples=50))
  again = list(builtin.generate_examples(name, 'train', num_examples=50))
  assert first == again
  # Examples can be regenerated individually, independent of iteration.
  assert builtin.generate_example(name, 'train', 37) == first[37]
  other_seed = list(builtin.generate_examples(name, 'train', seed=1,
                                              num_examples=50))
  assert other_seed != first


@pytest.mark.parametrize('name', _NAMES)
def test_train_and_validation_content_is_disjoint(name):
  task = builtin.get_task(name)
  start = time.perf_counter()
  train = {task.content_key(f) for f in builtin.generate_examples(name,
                                                                  'train')}
  # A 20k-example split takes well under a second on an idle core; the bound
  # is generous for a loaded test machine.
  assert time.perf_counter() - start < 3.0
  # Even a validation split generated with another seed stays disjoint.
  for seed in (builtin.DEFAULT_SEED, 123):
    validation = {task.content_key(f) for f in builtin.generate_examples(
        name, 'validation', seed=seed)}
    assert len(validation) >= 15 and not train & validation


def test_translation_directions_share_their_split():
  to_toy = {f['english'] for f in builtin.generate_examples(
      'translation', 'train')}
  to_english = {f['answer'] for f in _validation('translation_to_english')}
  assert to_english and not to_toy & to_english


def test_closed_book_validation_asks_known_facts_in_new_words():
  for name in ('world_capitals', 'world_facts'):
    train = list(builtin.generate_examples(name, 'train'))
    known = {(f['country'], f['answer']) for f in train}
    questions = {f['question'] for f in train}
    for f in _validation(name):
      assert (f['country'], f['answer']) in known
      assert f['question'] not in questions


@pytest.mark.parametrize('name', _NAMES)
def test_fields_are_consistent_and_every_template_formats(name):
  task = builtin.get_task(name)
  examples = _validation(name)
  assert [f['idx'] for f in examples] == list(range(100))
  keys = set(examples[0])
  for fields in examples:
    assert set(fields) == keys
    assert all(isinstance(v, (str, int, list)) for v in fields.values())
    if task.is_classification:
      assert fields['answer'] == fields['options'][fields['label']]
    for template in task.templates:
      inputs, targets = template.format(fields)
      assert inputs.strip() and targets.strip()
  assert task.is_classification == ('options' in keys)
  assert task.has_rationale == ('rationale' in keys)
  if task.has_rationale:
    # CoT variants write the `question` from the zero-shot template, which
    # a `question` field would replace.
    assert 'question' not in keys
  if task.is_classification:
    # Every class occurs, none rare.
    counts = collections.Counter(f['label'] for f in examples)
    num_classes = len(examples[0]['options'])
    assert set(counts) == set(range(num_classes)), counts
    assert min(counts.values()) >= len(examples) / (3 * num_classes), counts


def _sentences(text):
  return [s for s in re.split(r'(?<=[.!?])\s+', text.strip()) if s]


_EQUATION = re.compile(r'(\d+) ([-+*]) (\d+) = (\d+)')


@pytest.mark.parametrize('name', builtin.RATIONALE_TASK_NAMES)
def test_rationales_are_worked_and_end_stating_the_answer(name):
  for f in builtin.generate_examples(name, 'train', num_examples=300):
    rationale, answer = f['rationale'], str(f['answer'])
    assert len(_sentences(rationale)) >= 2, rationale
    last = _sentences(rationale)[-1]
    assert re.search(rf'\b{re.escape(answer)}\b', last), (rationale, answer)
    # Every equation in a worked solution is right.
    for a, op, b, c in _EQUATION.findall(rationale):
      a, b, c = int(a), int(b), int(c)
      assert {'+': a + b, '-': a - b, '*': a * b}[op] == c, rationale
    # Each CoT answer sentence reads back the answer.
    for template in cot.COT_TEMPLATES:
      _, target = template.format(dict(f, question='Q?'))
      assert cot.extract_answer(target) == answer, target


def _spot_check(name, f):
  """Recomputes an example's answer independently of its generator."""
  a = f['answer']
  if name == 'uppercase':
    assert a == f['text'].upper()
  elif name == 'reverse_word':
    assert a == f['word'][::-1] and 3 <= len(f['word']) <= 6
  elif name == 'acronym':
    assert a == ''.join(w[0] for w in f['phrase'].split()).upper()
  elif name == 'arithmetic':
    assert a == (f['a'] + f['b'] if f['op'] == '+' else f['a'] - f['b']) >= 0
  elif name == 'multiplication':
    assert a == f['a'] * f['b']
  elif name == 'parity':
    assert a == ('even', 'odd')[f['number'] % 2]
  elif name == 'word_problem':
    count = int(re.match(r'\w+ has (\d+)', f['problem']).group(1))
    for verb, n in re.findall(r'(buys|finds|gets|gives away|loses|sells) '
                              r'(\d+)', f['problem']):
      count += int(n) if verb in ('buys', 'finds', 'gets') else -int(n)
    assert a == count >= 1
  elif name == 'counting':
    assert a == f['items'].split(', ').count(f['item']) >= 1
  elif name == 'ordering':
    comparative = re.search(r'is (\w+) than', f['facts']).group(1)
    above = dict(re.findall(rf'(\w+) is {comparative} than (\w+)',
                            f['facts']))
    top = (set(above) - set(above.values())).pop()
    bottom = (set(above.values()) - set(above)).pop()
    superlative = f['query'].split()[-1].rstrip('?')
    is_top = superlative in ('tallest', 'oldest', 'fastest', 'heaviest')
    assert a == (top if is_top else bottom)
  elif name == 'day_of_week':
    monday = datetime.date(2024, 1, 1)  # A Monday.
    start = monday + datetime.timedelta(days=builtin._DAYS.index(f['day']))  # pylint: disable=protected-access
    assert a == (start + datetime.timedelta(days=f['days'])).strftime('%A')
  elif name == 'number_sequence':
    terms = [int(t) for t in f['sequence'].split(', ')]
    steps = {y - x for x, y in zip(terms, terms[1:])}
    assert len(steps) == 1 and a == terms[-1] + steps.pop()
  elif name in ('sentiment', 'emotion', 'topic', 'intent'):
    assert a in f['options']
  elif name == 'reading_comprehension':
    person = re.search(r'(?:does|is) (\w+?)(?:\'s| live| have)',
                       f['question']).group(1)
    assert re.search(rf'{person} (?:lives in|has a|works as a) {a}\.',
                     f['passage'])
  elif name == 'boolean_qa':
    person, value = re.match(r'Does (\w+) (?:live in|have a|work as a) '
                             r'(\w+)\?', f['question']).groups()
    holds = re.search(rf'{person} (?:lives in|has a|works as a) {value}\.',
                      f['passage']) is not None
    assert a == ('yes' if holds else 'no')
  elif name == 'world_capitals':
    country = [c for c in builtin.WORLD if c.name == f['country']][0]
    assert a == country.capital and country.name in f['question']
  elif name == 'world_facts':
    country = [c for c in builtin.WORLD if c.name == f['country']][0]
    assert a == getattr(country, f['relation'])
  elif name == 'translation':
    assert a.split() == [builtin.TOYLANG_LEXICON[w]
                         for w in f['english'].split()]
  elif name == 'translation_to_english':
    inverse = {v: k for k, v in builtin.TOYLANG_LEXICON.items()}
    assert a.split() == [inverse[w] for w in f['toylang'].split()]
  elif name == 'paraphrase_generation':
    subject, verb, obj = re.match(r'(\w+) (\w+) the (\w+)\.',
                                  f['sentence']).groups()
    assert a == f'The {obj} was {verb} by {subject}.'
  elif name == 'paraphrase_detection':
    same_words = sorted(f['sentence1'].split()) == sorted(
        f['sentence2'].split())
    if same_words:  # Same words, different roles: not a paraphrase.
      assert a == 'no'
  elif name == 'nli':
    assert a in builtin._NLI_OPTIONS  # pylint: disable=protected-access
    if f['hypothesis'] in f['premise']:
      assert a == 'yes'
  elif name == 'entailment':
    numbers = re.search(r'There are (\d+) .* (more|fewer) than (\d+)',
                        f['premise'] + ' ' + f['hypothesis'])
    if numbers:
      n, relation, m = int(numbers[1]), numbers[2], int(numbers[3])
      holds = n > m if relation == 'more' else n < m
    else:
      item = re.match(r'\w+ bought (\w+)\.', f['hypothesis']).group(1)
      holds = f' {item} ' in f['premise']
    assert a == ('yes' if holds else 'no')
  elif name == 'pronoun_resolution':
    female = f['pronoun'] == 'she'
    names = builtin._FEMALE_NAMES if female else builtin._MALE_NAMES  # pylint: disable=protected-access
    assert a in names and a in f['sentence']
  elif name == 'winograd':
    word = f['sentence'].rstrip('.').split()[-1]
    first = word in ('big', 'weak', 'small') and (
        word != 'small' or 'hidden' in f['sentence'])
    assert a == f['options'][0 if first else 1]
  elif name == 'data_to_text':
    assert a == f'{f["name"]} is a {f["job"]} in {f["city"]}.'
  elif name == 'date_to_text':
    date = datetime.date.fromisoformat(f['iso'])
    assert (date.year, date.month, date.day) == (f['year'], f['month'],
                                                 f['day'])
    assert a == f'{date:%B} {date.day}, {date.year}'
  elif name == 'headline':
    assert a.split()[0] in f['story'] and len(a) < len(f['story']) / 2
  elif name == 'compression':
    words = f['sentence'].rstrip('.').split()
    short = a.rstrip('.').split()
    it = iter(words)
    assert all(w in it for w in short) and len(short) < len(words)
  elif name == 'sort_numbers':
    numbers = [int(n) for n in f['numbers'].split(', ')]
    assert a == ', '.join(str(n) for n in sorted(numbers))
  elif name == 'sort_words':
    assert a == ', '.join(sorted(f['words'].split(', ')))
  else:
    raise AssertionError(f'No spot check for task {name!r}.')


@pytest.mark.parametrize('name', _NAMES)
def test_answers_are_correct(name):
  for f in builtin.generate_examples(name, 'train', num_examples=200):
    _spot_check(name, f)
  assert len(builtin.TOYLANG_LEXICON) == len(
      set(builtin.TOYLANG_LEXICON.values())) == 30


def test_zero_shot_lengths_fit_the_demo_feature_lengths():
  """Reports and checks lengths over every template (seen and held out)."""
  report = []
  for name in _NAMES:
    for split, n in (('train', 1000), ('validation', 100)):
      stats = builtin.length_stats(name, split, n)
      report.append(
          f'{name}/{split}: inputs mean {stats["inputs_mean"]:.0f} max '
          f'{stats["inputs_max"]}, targets mean {stats["targets_mean"]:.1f} '
          f'max {stats["targets_max"]}')
      assert stats['inputs_over_fraction'] == 0.0, report[-1]
      assert stats['targets_over_fraction'] == 0.0, report[-1]
  print('\n'.join(report))  # Shown with pytest -s.


# --- Preprocessors. -------------------------------------------------------


def test_rank_classification_expands_one_example_per_option():
  ds = tf.data.Dataset.from_generator(
      lambda: iter([
          {'inputs': 'q0', 'options': ['a', 'b'], 'label': 1, 'idx': 5,
           '_task_name': 't'},
          {'inputs': 'q1', 'options': ['c', 'd', 'e'], 'label': 0, 'idx': 9,
           '_task_name': 't'},
      ]),
      output_signature={
          'inputs': tf.TensorSpec([], tf.string),
          'options': tf.TensorSpec([None], tf.string),
          'label': tf.TensorSpec([], tf.int64),
          'idx': tf.TensorSpec([], tf.int64),
          '_task_name': tf.TensorSpec([], tf.string),
      })
  out = list(preprocessors.rank_classification(ds).as_numpy_iterator())
  assert [(_text(o['inputs']), _text(o['targets']), o['idx'], o['is_correct'])
          for o in out] == [('q0', 'a', 5, 0), ('q0', 'b', 5, 1),
                            ('q1', 'c', 9, 1), ('q1', 'd', 9, 0),
                            ('q1', 'e', 9, 0)]
  assert out[0]['idx'].dtype == np.int32
  assert out[0]['is_correct'].dtype == np.int32
  assert all(o['_task_name'] == b't' for o in out)


def test_rank_classification_rejects_out_of_range_label():
  ds = tf.data.Dataset.from_tensors(
      {'inputs': 'q', 'options': ['a', 'b'], 'label': 2, 'idx': 0})
  with pytest.raises(tf.errors.InvalidArgumentError):
    list(preprocessors.rank_classification(ds).as_numpy_iterator())


# --- SeqIO registrations: the quickstart protocol. ------------------------


def _mixture_tasks(name):
  return sorted(t.name for t in seqio.get_mixture_or_task(name).tasks)


def test_registered_names():
  assert builtin_tasks.TRAIN_TASKS == [f'builtin_{n}' for n in _NAMES]
  expected_unseen = []
  for n in _NAMES:
    expected_unseen.append(f'builtin_{n}_unseen_templates')
    if n in builtin.CLASSIFICATION_TASK_NAMES:
      expected_unseen.append(f'builtin_{n}_unseen_templates_options')
  assert builtin_tasks.EVAL_FULL_UNSEEN_TASKS == expected_unseen
  core = builtin_tasks.CORE_EVAL_TASK_NAMES
  assert builtin_tasks.EVAL_UNSEEN_TASKS == [
      t for t in expected_unseen
      if re.match(r'builtin_(.+)_unseen_templates', t).group(1) in core]
  for name in builtin_tasks.ALL_TASKS + builtin_tasks.MIXTURES:
    assert seqio.get_mixture_or_task(name) is not None
  train = seqio.get_mixture_or_task('builtin_instructions')
  assert _mixture_tasks('builtin_instructions') == sorted(
      builtin_tasks.TRAIN_TASKS)
  assert len({train.get_rate(t) for t in train.tasks}) == 1  # Equal rates.
  for mixture, expected in (
      ('builtin_instructions_eval_seen', builtin_tasks.EVAL_SEEN_TASKS),
      ('builtin_instructions_eval_unseen', builtin_tasks.EVAL_UNSEEN_TASKS),
      ('builtin_instructions_eval',
       builtin_tasks.EVAL_SEEN_TASKS + builtin_tasks.EVAL_UNSEEN_TASKS),
      ('builtin_instructions_eval_full',
       builtin_tasks.EVAL_FULL_SEEN_TASKS +
       builtin_tasks.EVAL_FULL_UNSEEN_TASKS)):
    assert _mixture_tasks(mixture) == sorted(expected)
    assert all(t.splits == ('validation',) or
               t.name in builtin_tasks.TRAIN_TASKS
               for t in seqio.get_mixture_or_task(mixture).tasks)
  options_tasks = {f'builtin_{n}_options'
                   for n in builtin.CLASSIFICATION_TASK_NAMES}
  assert set(builtin_tasks.EVAL_FULL_SEEN_TASKS) == (
      set(builtin_tasks.TRAIN_TASKS) | options_tasks)
  # The quickstart's evaluation stays about its original size: 9 tasks,
  # 24 eval tasks of at most 100 validation examples each.
  assert len(builtin_tasks.EVAL_SEEN_TASKS + builtin_tasks.EVAL_UNSEEN_TASKS
             ) == 24
  assert builtin.SPLIT_SIZES['validation'] == 100


def test_metric_types():
  for name in builtin_tasks.ALL_TASKS:
    task = seqio.get_mixture_or_task(name)
    if name.endswith('_options'):
      assert task.score_metric_fns and not task.predict_metric_fns
      assert task.splits == ('validation',)
    else:
      assert task.predict_metric_fns and not task.score_metric_fns


def _check_tokenized(examples, lengths=None):
  for ex in examples:
    for key, limit in (lengths or _LENGTHS).items():
      tokens = ex[key]
      assert tokens.dtype == np.int32
      assert 1 < len(tokens) <= limit
      assert tokens[-1] == _EOS


def test_byte_tokenization():
  ex = _take('builtin_uppercase', 'validation', 1)[0]
  text = ex['inputs_pretokenized']
  assert list(ex['inputs']) == [b + 3 for b in text] + [_EOS]
  assert list(ex['targets']) == [b + 3 for b in ex['targets_pretokenized']] + [
      _EOS]


def test_seqio_datasets_are_deterministic():
  first = _take('builtin_sentiment', 'train', 20, seed=3)
  again = _take('builtin_sentiment', 'train', 20, seed=3)
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a['inputs'], b['inputs'])
    np.testing.assert_array_equal(a['targets'], b['targets'])


@pytest.mark.parametrize('name', _NAMES)
def test_seqio_tasks_match_the_python_reference_and_template_split(name):
  """builtin_<name> and its unseen-templates task, on validation."""
  task = builtin.get_task(name)
  held_out = [_template_regex(t) for t in task.held_out_templates]
  for suffix, ids, n in (('', task.seen_template_ids, 20),
                         ('_unseen_templates', task.held_out_template_ids, 6)):
    examples = _take(f'builtin_{name}{suffix}', 'validation', n)
    assert len(examples) == n
    _check_tokenized(examples)
    for ex in examples:
      fields = builtin.generate_example(name, 'validation', int(ex['idx']))
      template_idx, inputs, targets = builtin.format_example(name, fields, ids)
      assert ex['_template_idx'] == template_idx
      assert template_idx in ids
      assert _text(ex['_task_name']) == name
      assert _text(ex['inputs_pretokenized']) == inputs
      assert _text(ex['targets_pretokenized']) == targets
      # Held-out wording never appears in what the seen task produces.
      assert (any(r.fullmatch(inputs) for r in held_out) ==
              (suffix == '_unseen_templates')), inputs


def test_training_mixture_has_no_held_out_templates_and_packs():
  # One build of the 33-task mixture serves both checks (builds are slow).
  ds = seqio.get_mixture_or_task('builtin_instructions').get_dataset(
      sequence_length=_LENGTHS, split='train', shuffle=False,
      passthrough_features=['_task_name', '_template_idx'])
  examples = list(ds.take(600).as_numpy_iterator())
  _check_tokenized(examples)
  names = collections.Counter(_text(ex['_task_name']) for ex in examples)
  assert set(names) == set(_NAMES)
  for ex in examples:
    task = builtin.get_task(_text(ex['_task_name']))
    assert ex['_template_idx'] in task.seen_template_ids
  converter = seqio.EncDecFeatureConverter(pack=True)
  packed = converter(ds.map(lambda ex: {k: ex[k] for k in _LENGTHS}),
                     _LENGTHS)
  batch = next(packed.batch(4).as_numpy_iterator())
  assert batch['encoder_input_tokens'].shape == (4, 192)
  assert batch['decoder_target_tokens'].shape == (4, 32)
  for key in ('encoder_segment_ids', 'encoder_positions',
              'decoder_segment_ids', 'decoder_positions',
              'decoder_loss_weights', 'decoder_input_tokens'):
    assert key in batch
  # Short examples really are packed: several segments per row.
  assert batch['encoder_segment_ids'].max() > 1


def test_template_usage_is_even():
  for name in ('builtin_sentiment', 'builtin_arithmetic_unseen_templates'):
    task = seqio.get_mixture_or_task(name)
    split = 'train' if 'train' in task.splits else 'validation'
    num_templates = len(set(ex['_template_idx']
                            for ex in _take(name, split, 50)))
    counts = collections.Counter(
        int(ex['_template_idx'])
        for ex in _take(name, split, 5 * num_templates))
    assert set(counts.values()) == {5}, counts


@pytest.mark.parametrize('name', builtin.CLASSIFICATION_TASK_NAMES)
def test_options_tasks_expand_with_exactly_one_correct(name):
  task = builtin.get_task(name)
  for suffix in ('', '_unseen_templates'):
    plain = {int(ex['idx']): ex
             for ex in _take(f'builtin_{name}{suffix}', 'validation', 6)}
    num_options = len(builtin.generate_example(name, 'validation',
                                               0)['options'])
    expanded = _take(f'builtin_{name}{suffix}_options', 'validation',
                     6 * num_options)
    _check_tokenized(expanded)
    groups = collections.defaultdict(list)
    for ex in expanded:
      groups[int(ex['idx'])].append(ex)
    assert len(groups) == 6
    for idx, group in groups.items():
      fields = builtin.generate_example(name, 'validation', idx)
      template_idx = group[0]['_template_idx']
      template = task.templates[template_idx]
      assert [_text(ex['targets_pretokenized']) for ex in group] == (
          template.format_options(fields))
      assert sum(int(ex['is_correct']) for ex in group) == 1
      correct = [ex for ex in group if ex['is_correct']][0]
      # The correct option is exactly the plain task's training target.
      assert correct['targets_pretokenized'] == plain[idx][
          'targets_pretokenized']
      assert all(ex['inputs_pretokenized'] == plain[idx]['inputs_pretokenized']
                 for ex in group)


def test_template_specific_options_are_used():
  # sentiment template 3 verbalises the label as yes/no.
  examples = _take('builtin_sentiment_options', 'validation', 60)
  yes_no = {_text(ex['targets_pretokenized']) for ex in examples
            if ex['_template_idx'] == 3}
  assert yes_no == {'yes', 'no'}


def test_encdec_feature_converter_on_eval_mixture():
  ds = seqio.get_dataset(
      mixture_or_task_name='builtin_instructions_eval_unseen',
      task_feature_lengths=_LENGTHS,
      dataset_split='validation',
      shuffle=False,
      num_epochs=1,
      feature_converter=seqio.EncDecFeatureConverter(pack=False))
  examples = list(ds.take(8).as_numpy_iterator())
  assert len(examples) == 8
  for ex in examples:
    assert ex['encoder_input_tokens'].shape == (192,)
    assert ex['decoder_target_tokens'].shape == (32,)


# --- Flan-style variants through the registry. ----------------------------


def test_variant_registrations():
  for name in _NAMES:
    task = builtin.get_task(name)
    variants = builtin_tasks.VARIANT_TASKS[name]
    expected = {'zs_noopt', 'fs_noopt', 'xs_noopt'}
    if task.is_classification:
      expected |= {'zs_opt', 'zs_ropt', 'fs_opt', 'xs_opt', 'zs_opt_rank'}
    if task.has_rationale:
      expected |= {'cot', 'fs_cot'}
    assert set(variants) == expected, name
    for variant, task_name in variants.items():
      assert task_name == registry.task_name('builtin', name, variant)
      info = registry.task_info(task_name)
      assert (info.source, info.cluster, info.dataset) == (
          'builtin', task.cluster, name)
      assert info.num_examples == builtin.SPLIT_SIZES
    # Only seen templates reach the registry: held-out ones stay unseen.
    spec = registry.get_spec(variants['zs_noopt'])
    assert tuple(spec.templates) == task.seen_templates


def test_variant_mixtures():
  def tasks_of(mixture):
    return set(_mixture_tasks(mixture))
  zs, fs = tasks_of('builtin_instructions_zs'), tasks_of(
      'builtin_instructions_fs')
  cot_tasks = tasks_of('builtin_instructions_cot')
  assert len(zs) == len(_NAMES) + 2 * len(builtin.CLASSIFICATION_TASK_NAMES)
  assert {registry.task_info(t).variant for t in fs} == {
      'fs_opt', 'fs_noopt', 'xs_opt', 'xs_noopt'}
  assert {registry.task_info(t).dataset for t in cot_tasks} == set(
      builtin.RATIONALE_TASK_NAMES)
  assert tasks_of('builtin_instructions_all_variants') == zs | fs | cot_tasks
  for cluster, names in builtin.clusters().items():
    train, evaluation = builtin_tasks.HELD_OUT_CLUSTER_MIXTURES[cluster]
    assert train == f'builtin_instructions_no_{cluster}'
    train_clusters = {registry.task_info(t).cluster for t in tasks_of(train)}
    assert cluster not in train_clusters
    assert len(train_clusters) == len(builtin.clusters()) - 1
    eval_infos = [registry.task_info(t) for t in tasks_of(evaluation)]
    assert {i.dataset for i in eval_infos} == set(names)
    assert {i.template_type for i in eval_infos} <= {'zs_opt', 'zs_noopt'}


@pytest.mark.parametrize('name', builtin.RATIONALE_TASK_NAMES)
def test_cot_variant_targets_give_back_the_answer(name):
  lengths = builtin_tasks.COT_SEQUENCE_LENGTH
  examples = _take(f'builtin_{name}_cot', 'validation', 24, lengths)
  _check_tokenized(examples, lengths)
  task = builtin.get_task(name)
  for ex in examples:
    fields = builtin.generate_example(name, 'validation', int(ex['idx']))
    target = _text(ex['targets_pretokenized'])
    assert target.startswith(fields['rationale'])
    assert cot.extract_answer(target) == str(fields['answer'])
    assert _text(ex['_template_type']) == 'cot'
    inputs = _text(ex['inputs_pretokenized'])
    # The question is one of the task's seen zero-shot prompts.
    assert any(t.format(fields)[0] in inputs for t in task.seen_templates)


@pytest.mark.parametrize('name,split', [
    ('builtin_ordering_fs_cot', 'validation'),
    ('builtin_ordering_zs_ropt', 'train'),
    ('builtin_nli_fs_opt', 'validation'),
    ('builtin_topic_xs_opt', 'train'),
    ('builtin_uppercase_fs_noopt', 'validation'),
    ('builtin_headline_zs_noopt', 'train'),
])
def test_variant_tasks_format(name, split):
  info = registry.task_info(name)
  lengths = _suggested_lengths(info.variant)
  examples = _take(name, split, 8, lengths)
  assert len(examples) == 8
  _check_tokenized(examples, lengths)
  task = builtin.get_task(info.dataset)
  for ex in examples:
    assert _text(ex['_task_source']) == 'builtin'
    assert _text(ex['_template_type']) == info.template_type
    fields = builtin.generate_example(info.dataset, split, int(ex['idx']))
    inputs = _text(ex['inputs_pretokenized'])
    target = _text(ex['targets_pretokenized'])
    if 'cot' in name:
      assert cot.extract_answer(target) == str(fields['answer'])
    elif 'ropt' in name:  # Possibly relabelled, e.g. '(B) no'.
      assert target.endswith(fields['answer'])
    else:
      assert target == task.seen_templates[int(ex['_template_idx'])].format(
          fields)[1]
    if 'fs' in name or 'xs' in name:
      assert ex['_num_shots'] >= 1
      assert inputs.count('\n\n') >= 1


def _suggested_lengths(variant):
  if variant == 'fs_cot':
    return builtin_tasks.FEW_SHOT_COT_SEQUENCE_LENGTH
  if variant == 'cot':
    return builtin_tasks.COT_SEQUENCE_LENGTH
  if variant[:2] in ('fs', 'xs'):
    return builtin_tasks.FEW_SHOT_SEQUENCE_LENGTH
  return builtin_tasks.OPTIONS_SEQUENCE_LENGTH


@pytest.mark.slow
def test_every_variant_task_yields_examples_within_suggested_lengths():
  """Measures every variant task (64 examples per split) against its lengths."""
  report, over = [], []
  for variants in builtin_tasks.VARIANT_TASKS.values():
    for variant, task_name in variants.items():
      lengths = _suggested_lengths(variant)
      task = seqio.get_mixture_or_task(task_name)
      longest = {'inputs': 0, 'targets': 0}
      for split in task.splits:
        ds = task.get_dataset(None, split=split, shuffle=False)
        for ex in ds.take(64).as_numpy_iterator():
          for k in longest:
            longest[k] = max(longest[k], len(ex[k]))
      report.append(f'{task_name}: {longest} (suggested {lengths})')
      if any(longest[k] > lengths[k] for k in longest):
        over.append(report[-1])
  print('\n'.join(report))
  assert not over, over
