"""Tests for the built-in instruction tasks and their SeqIO registrations."""

import collections
import re

import numpy as np
import pytest
import seqio
import tensorflow as tf

from instruct.data import builtin
from instruct.data import preprocessors
import tasks  # pylint: disable=unused-import  # Registers the tasks.
from tasks import builtin as builtin_tasks

_LENGTHS = {'inputs': 192, 'targets': 32}
_EOS = 1


def _template_regex(template):
  """A regex fully matching any text the template's inputs can produce."""
  parts = []
  for literal, field in template.inputs_segments:
    parts.append(re.escape(literal))
    if field is not None:
      parts.append('.+?')
  return re.compile(''.join(parts), re.DOTALL)


def _take(name, split, n, **kwargs):
  ds = seqio.get_mixture_or_task(name).get_dataset(
      sequence_length=_LENGTHS, split=split, shuffle=False, **kwargs)
  return list(ds.take(n).as_numpy_iterator())


def _text(value):
  return value.decode('utf-8')


# --- Generators. ----------------------------------------------------------


def test_task_inventory():
  assert len(builtin.TASK_NAMES) >= 6
  assert set(builtin.CLASSIFICATION_TASK_NAMES) >= {'sentiment', 'parity'}
  for name in builtin.TASK_NAMES:
    task = builtin.get_task(name)
    assert len(task.templates) >= 6
    assert len(task.held_out_template_ids) == builtin.NUM_HELD_OUT_TEMPLATES
    assert set(task.seen_template_ids).isdisjoint(task.held_out_template_ids)
    assert len({t.inputs for t in task.templates}) == len(task.templates)
  with pytest.raises(KeyError, match='Unknown built-in task'):
    builtin.get_task('nope')


@pytest.mark.parametrize('name', builtin.TASK_NAMES)
def test_generation_is_deterministic(name):
  first = list(builtin.generate_examples(name, 'train', num_examples=50))
  again = list(builtin.generate_examples(name, 'train', num_examples=50))
  assert first == again
  # Examples can be regenerated individually, independent of iteration.
  assert builtin.generate_example(name, 'train', 37) == first[37]
  other_seed = list(builtin.generate_examples(name, 'train', seed=1,
                                              num_examples=50))
  assert other_seed != first


@pytest.mark.parametrize('name', builtin.TASK_NAMES)
def test_train_and_validation_content_is_disjoint(name):
  task = builtin.get_task(name)
  train = {task.content_key(f) for f in builtin.generate_examples(name,
                                                                  'train')}
  # Even a validation split generated with another seed stays disjoint.
  for seed in (builtin.DEFAULT_SEED, 123):
    validation = {task.content_key(f) for f in builtin.generate_examples(
        name, 'validation', seed=seed)}
    assert validation and not train & validation


@pytest.mark.parametrize('name', builtin.TASK_NAMES)
def test_fields_are_consistent_and_answers_correct(name):
  task = builtin.get_task(name)
  examples = list(builtin.generate_examples(name, 'validation'))
  assert [f['idx'] for f in examples] == list(range(200))
  keys = set(examples[0])
  for fields in examples:
    assert set(fields) == keys
    if task.is_classification:
      assert fields['answer'] == fields['options'][fields['label']]
    for template in task.templates:
      template.format(fields)  # Every template formats every example.
  if task.is_classification:
    # Both classes occur, with neither dominating.
    counts = collections.Counter(f['label'] for f in examples)
    assert len(counts) == 2 and min(counts.values()) > 60


def test_example_answers_spot_checks():
  for f in builtin.generate_examples('arithmetic', 'train', num_examples=100):
    expected = f['a'] + f['b'] if f['op'] == '+' else f['a'] - f['b']
    assert f['answer'] == expected >= 0
  for f in builtin.generate_examples('reverse_word', 'train', num_examples=50):
    assert f['answer'] == f['word'][::-1] and 3 <= len(f['word']) <= 6
  for f in builtin.generate_examples('translation', 'train', num_examples=50):
    words = f['english'].split()
    assert 2 <= len(words) <= 4
    assert f['answer'].split() == [builtin.TOYLANG_LEXICON[w] for w in words]
  for f in builtin.generate_examples('reading_comprehension', 'train',
                                     num_examples=50):
    assert f['answer'] in f['passage']
  assert len(builtin.TOYLANG_LEXICON) == len(
      set(builtin.TOYLANG_LEXICON.values())) == 30


def test_example_lengths_fit_the_demo_feature_lengths():
  """Reports and checks lengths over every template (seen and held out)."""
  report = []
  for name in builtin.TASK_NAMES:
    for split, n in (('train', 2000), ('validation', 200)):
      stats = builtin.length_stats(name, split, n)
      report.append(
          f'{name}/{split}: inputs mean {stats["inputs_mean"]:.0f} max '
          f'{stats["inputs_max"]}, targets mean {stats["targets_mean"]:.1f} '
          f'max {stats["targets_max"]}, over-length fraction '
          f'{stats["inputs_over_fraction"]:.3f}/'
          f'{stats["targets_over_fraction"]:.3f}')
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


# --- SeqIO registrations. -------------------------------------------------


def test_registered_names():
  names = builtin.TASK_NAMES
  assert builtin_tasks.TRAIN_TASKS == [f'builtin_{n}' for n in names]
  expected_unseen = []
  for n in names:
    expected_unseen.append(f'builtin_{n}_unseen_templates')
    if n in builtin.CLASSIFICATION_TASK_NAMES:
      expected_unseen.append(f'builtin_{n}_unseen_templates_options')
  assert builtin_tasks.EVAL_UNSEEN_TASKS == expected_unseen
  for name in builtin_tasks.ALL_TASKS + builtin_tasks.MIXTURES:
    assert seqio.get_mixture_or_task(name) is not None
  train = seqio.get_mixture_or_task('builtin_instructions')
  assert sorted(t.name for t in train.tasks) == sorted(
      builtin_tasks.TRAIN_TASKS)
  assert len({train.get_rate(t) for t in train.tasks}) == 1  # Equal rates.
  for mixture, expected in (
      ('builtin_instructions_eval_seen', builtin_tasks.EVAL_SEEN_TASKS),
      ('builtin_instructions_eval_unseen', builtin_tasks.EVAL_UNSEEN_TASKS),
      ('builtin_instructions_eval',
       builtin_tasks.EVAL_SEEN_TASKS + builtin_tasks.EVAL_UNSEEN_TASKS)):
    tasks_in_mixture = seqio.get_mixture_or_task(mixture).tasks
    assert sorted(t.name for t in tasks_in_mixture) == sorted(expected)
    assert all(t.splits == ('validation',) or
               t.name in builtin_tasks.TRAIN_TASKS for t in tasks_in_mixture)
  options_tasks = {f'builtin_{n}_options'
                   for n in builtin.CLASSIFICATION_TASK_NAMES}
  assert set(builtin_tasks.EVAL_SEEN_TASKS) == (
      set(builtin_tasks.TRAIN_TASKS) | options_tasks)


def test_metric_types():
  for name in builtin_tasks.ALL_TASKS:
    task = seqio.get_mixture_or_task(name)
    if name.endswith('_options'):
      assert task.score_metric_fns and not task.predict_metric_fns
      assert task.splits == ('validation',)
    else:
      assert task.predict_metric_fns and not task.score_metric_fns


def _check_tokenized(examples):
  for ex in examples:
    for key, limit in _LENGTHS.items():
      tokens = ex[key]
      assert tokens.dtype == np.int32
      assert 1 < len(tokens) <= limit
      assert tokens[-1] == _EOS


# Mixtures are covered by the tests below that build them (building one builds
# all of its tasks, which is what makes these tests slow).
@pytest.mark.parametrize('name', builtin_tasks.ALL_TASKS)
def test_every_registered_task_produces_tokenized_examples(name):
  provider = seqio.get_mixture_or_task(name)
  for split in provider.splits:
    examples = _take(name, split, 4)
    assert len(examples) == 4
    _check_tokenized(examples)


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


@pytest.mark.parametrize('name', builtin.TASK_NAMES)
def test_seqio_formatting_matches_python_reference(name):
  task = builtin.get_task(name)
  for suffix, ids in (('', task.seen_template_ids),
                      ('_unseen_templates', task.held_out_template_ids)):
    examples = _take(f'builtin_{name}{suffix}', 'validation', 12)
    for ex in examples:
      fields = builtin.generate_example(name, 'validation', int(ex['idx']))
      template_idx, inputs, targets = builtin.format_example(name, fields, ids)
      assert ex['_template_idx'] == template_idx
      assert _text(ex['_task_name']) == name
      assert _text(ex['inputs_pretokenized']) == inputs
      assert _text(ex['targets_pretokenized']) == targets


@pytest.mark.parametrize('name', builtin.TASK_NAMES)
def test_held_out_templates_never_used_for_training(name):
  task = builtin.get_task(name)
  held_out = [_template_regex(t) for t in task.held_out_templates]
  seen = [_template_regex(t) for t in task.seen_templates]
  n = 3 * len(task.seen_template_ids)
  for split in ('train', 'validation'):
    for ex in _take(f'builtin_{name}', split, n):
      inputs = _text(ex['inputs_pretokenized'])
      assert ex['_template_idx'] in task.seen_template_ids
      assert not any(r.fullmatch(inputs) for r in held_out), inputs
      assert any(r.fullmatch(inputs) for r in seen), inputs
  for ex in _take(f'builtin_{name}_unseen_templates', 'validation', 6):
    inputs = _text(ex['inputs_pretokenized'])
    assert ex['_template_idx'] in task.held_out_template_ids
    assert any(r.fullmatch(inputs) for r in held_out), inputs


def test_training_mixture_has_no_held_out_templates():
  examples = _take('builtin_instructions', 'train', 300,
                   passthrough_features=['_task_name', '_template_idx'])
  _check_tokenized(examples)
  names = collections.Counter(_text(ex['_task_name']) for ex in examples)
  assert set(names) == set(builtin.TASK_NAMES)
  for ex in examples:
    task = builtin.get_task(_text(ex['_task_name']))
    assert ex['_template_idx'] in task.seen_template_ids


def test_template_usage_is_even():
  for name in ('builtin_sentiment', 'builtin_arithmetic_unseen_templates'):
    task = seqio.get_mixture_or_task(name)
    split = 'train' if 'train' in task.splits else 'validation'
    num_templates = len(set(ex['_template_idx']
                            for ex in _take(name, split, 50)))
    counts = collections.Counter(
        int(ex['_template_idx'])
        for ex in _take(name, split, 10 * num_templates))
    assert set(counts.values()) == {10}, counts


@pytest.mark.parametrize('name', builtin.CLASSIFICATION_TASK_NAMES)
def test_options_tasks_expand_with_exactly_one_correct(name):
  task = builtin.get_task(name)
  for suffix in ('', '_unseen_templates'):
    plain = {int(ex['idx']): ex
             for ex in _take(f'builtin_{name}{suffix}', 'validation', 10)}
    expanded = _take(f'builtin_{name}{suffix}_options', 'validation', 20)
    groups = collections.defaultdict(list)
    for ex in expanded:
      groups[int(ex['idx'])].append(ex)
    assert len(groups) == 10
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
      assert group[0]['is_correct'].dtype == np.int32


def test_template_specific_options_are_used():
  # sentiment template 3 verbalises the label as yes/no.
  examples = _take('builtin_sentiment_options', 'validation', 20)
  yes_no = {_text(ex['targets_pretokenized']) for ex in examples
            if ex['_template_idx'] == 3}
  assert yes_no == {'yes', 'no'}


def test_encdec_feature_converter_packs_training_mixture():
  ds = seqio.get_dataset(
      mixture_or_task_name='builtin_instructions',
      task_feature_lengths=_LENGTHS,
      dataset_split='train',
      shuffle=False,
      feature_converter=seqio.EncDecFeatureConverter(pack=True))
  batch = next(ds.batch(4).as_numpy_iterator())
  assert batch['encoder_input_tokens'].shape == (4, 192)
  assert batch['decoder_target_tokens'].shape == (4, 32)
  for key in ('encoder_segment_ids', 'encoder_positions',
              'decoder_segment_ids', 'decoder_positions',
              'decoder_loss_weights', 'decoder_input_tokens'):
    assert key in batch
  # Short examples really are packed: several segments per row.
  assert batch['encoder_segment_ids'].max() > 1


def test_encdec_feature_converter_on_eval_mixture():
  ds = seqio.get_dataset(
      mixture_or_task_name='builtin_instructions_eval',
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
