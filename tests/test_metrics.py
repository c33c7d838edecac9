"""Tests for instruct.metrics, including end-to-end SeqIO evaluation."""

import math
import re

import numpy as np
import pytest
import seqio

from instruct import metrics
from instruct.data import builtin
import tasks  # pylint: disable=unused-import  # Registers the tasks.

_LENGTHS = {'inputs': 192, 'targets': 32}


def test_normalize_text():
  assert metrics.normalize_text('  Rome \n') == 'Rome'
  assert metrics.normalize_text('ka  miro\tvek') == 'ka miro vek'
  assert metrics.normalize_text(b' Rome. ') == 'Rome.'
  assert metrics.normalize_text(' Rome.', lowercase=True,
                                strip_punctuation=True) == 'rome'


def test_exact_match():
  # Whitespace is forgiven; case and punctuation are not (by design: the
  # uppercase task is all about case).
  result = metrics.exact_match(['Rome', 'Rome', 'Rome', 'HELLO'],
                               [' Rome ', 'rome', 'Rome.', 'HELLO'])
  assert result == {'exact_match': 50.0}
  assert metrics.exact_match(['a'], ['a']) == {'exact_match': 100.0}
  assert math.isnan(metrics.exact_match([], [])['exact_match'])
  with pytest.raises(ValueError):
    metrics.exact_match(['a'], [])


def test_rank_classification_target():
  example = {'idx': np.int32(7), 'is_correct': np.int32(1)}
  assert metrics.rank_classification_target(
      'even', example=example, is_target=True) == (7, 1)
  assert metrics.rank_classification_target(
      'odd', example=example, is_target=False) == 'odd'
  with pytest.raises(ValueError):
    metrics.rank_classification_target('odd', is_target=True)


def test_rank_classification_accuracy_hand_computed():
  # Example 0: 2 options, correct one scores best -> right.
  # Example 1: 3 options, a wrong one scores best -> wrong.
  # Example 2: 2 options, correct one scores best -> right.
  targets = [(0, 1), (0, 0), (1, 0), (1, 1), (1, 0), (2, 0), (2, 1)]
  scores = [-1.0, -2.0, -0.5, -3.0, -4.0, -9.0, -8.0]
  result = metrics.rank_classification_accuracy(targets, scores)
  assert result == {'accuracy': pytest.approx(200.0 / 3)}


def test_rank_classification_accuracy_groups_by_idx_not_position():
  # Options of the two examples are interleaved and there is a varying number
  # of options. Grouping consecutive pairs ((0,1),(2,3),...) or taking one
  # argmax over everything would give 0% or 50%; grouping by idx gives 100%.
  targets = [(10, 0), (20, 1), (10, 1), (20, 0), (20, 0)]
  scores = np.array([-5.0, -1.0, -2.0, -0.5, -7.0])
  # Example 20: scores -1.0 (correct), -0.5 (wrong) -> wrong.
  # Example 10: -5.0 (wrong), -2.0 (correct) -> right.
  assert metrics.rank_classification_accuracy(targets, scores) == {
      'accuracy': 50.0}
  scores[3] = -1.5  # Now example 20's correct option wins too.
  assert metrics.rank_classification_accuracy(targets, scores) == {
      'accuracy': 100.0}


def test_rank_classification_accuracy_ties_and_errors():
  # Ties go to the first option in input order.
  assert metrics.rank_classification_accuracy(
      [(0, 1), (0, 0)], [-1.0, -1.0]) == {'accuracy': 100.0}
  assert metrics.rank_classification_accuracy(
      [(0, 0), (0, 1)], [-1.0, -1.0]) == {'accuracy': 0.0}
  assert math.isnan(metrics.rank_classification_accuracy([], [])['accuracy'])
  with pytest.raises(ValueError, match='no correct option'):
    metrics.rank_classification_accuracy([(0, 0), (0, 0)], [-1.0, -2.0])
  with pytest.raises(ValueError):
    metrics.rank_classification_accuracy([(0, 1)], [-1.0, -2.0])


def _decode(tokens):
  return seqio.ByteVocabulary().decode([int(t) for t in tokens])


def test_seqio_evaluator_rank_classification_end_to_end():
  """Runs seqio.Evaluator on an `_options` task with two fake scorers."""
  evaluator = seqio.Evaluator(
      mixture_or_task_name='builtin_parity_options',
      feature_converter=seqio.EncDecFeatureConverter(pack=False),
      eval_split='validation',
      sequence_length=_LENGTHS,
      async_compute_metrics=False)

  def oracle_score_fn(dataset, model_feature_shapes=None):
    del model_feature_shapes
    out = []
    for index, ex in dataset.as_numpy_iterator():
      inputs = _decode(ex['encoder_input_tokens'])
      target = _decode(ex['decoder_target_tokens'])
      # The first number in the input is the one asked about.
      number = int(re.search(r'\d+', inputs).group())
      even = number % 2 == 0
      # Most yes/no templates ask "is it even?"; one asks about a remainder.
      yes_means_even = 'remainder' not in inputs
      truth = {'even': even, 'odd': not even,
               'yes': even == yes_means_even,
               'no': even != yes_means_even}[target]
      out.append((index, 0.0 if truth else -10.0))
    return out

  def constant_score_fn(dataset, model_feature_shapes=None):
    del model_feature_shapes
    return [(index, -1.0) for index, _ in dataset.as_numpy_iterator()]

  name = 'builtin_parity_options'
  result, _ = evaluator.evaluate(compute_metrics=True,
                                 score_fn=oracle_score_fn)
  assert result.result()[name] == {'accuracy': 100.0}
  # With all-equal scores the first option (label 0: 'even' / 'yes') wins, so
  # accuracy is the fraction of even numbers among the examples.
  result, _ = evaluator.evaluate(compute_metrics=True,
                                 score_fn=constant_score_fn)
  examples = list(builtin.generate_examples('parity', 'validation'))
  expected = 100.0 * np.mean([f['label'] == 0 for f in examples])
  assert result.result()[name]['accuracy'] == pytest.approx(expected)


def test_seqio_evaluator_exact_match_end_to_end():
  name = 'builtin_translation_unseen_templates'
  evaluator = seqio.Evaluator(
      mixture_or_task_name=name,
      feature_converter=seqio.EncDecFeatureConverter(pack=False),
      eval_split='validation',
      sequence_length=_LENGTHS,
      async_compute_metrics=False)

  def echo_targets_fn(dataset, model_feature_shapes=None):
    # A perfect model, except that it gets every 4th example wrong.
    del model_feature_shapes
    out = []
    for index, ex in dataset.as_numpy_iterator():
      tokens = list(ex['decoder_target_tokens'])
      if index % 4 == 0:
        tokens = [ord('x') + 3, 1] + [0] * (len(tokens) - 2)
      out.append((index, tokens))
    return out

  result, _ = evaluator.evaluate(compute_metrics=True,
                                 predict_fn=echo_targets_fn)
  assert result.result()[name] == {'exact_match': 75.0}


def test_rank_classification_leaves_out_an_example_cut_short_by_a_cap():
  # Example 7 has 3 options but only 2 survived the cap: it is not scored on
  # a subset (its correct option is missing, which would otherwise raise).
  targets = [(5, 0, 3), (5, 1, 3), (5, 0, 3), (7, 0, 3), (7, 0, 3)]
  scores = [-3.0, -1.0, -2.0, -1.0, -2.0]
  assert metrics.rank_classification_accuracy(targets, scores) == {
      'accuracy': 100.0}
  # A complete example with no correct option is still an error.
  with pytest.raises(ValueError, match='no correct option'):
    metrics.rank_classification_accuracy([(1, 0, 2), (1, 0, 2)], [0.0, 1.0])


def test_rank_classification_target_carries_the_number_of_options():
  example = {'idx': 4, 'is_correct': 1, 'num_options': 3}
  assert metrics.rank_classification_target(
      'yes', example=example, is_target=True) == (4, 1, 3)


def test_rouge_of_no_examples_is_zero_not_nan():
  # One ROUGE for every caller (NIv2, benchmarks, BIG-bench, Flan): no
  # examples score 0, as NIv2's reference evaluation does.
  assert metrics.rouge_l([], []) == {'rougeL': 0.0}
  assert metrics.rouge([], []) == {'rouge1': 0.0, 'rouge2': 0.0,
                                   'rougeLsum': 0.0}


def test_rouge_l_normalises_text_and_checks_lengths():
  plain = metrics.rouge_l(['The cat sat.'], ['the cat'])['rougeL']
  messy = metrics.rouge_l(['  The   CAT\nsat. '], ['the, cat!'])['rougeL']
  assert messy == plain and 0 < plain < 100
  with pytest.raises(ValueError, match='rouge'):
    metrics.rouge_l(['a', 'b'], ['a'])


def test_rouge_takes_the_best_reference():
  best = metrics.rouge_l([['dog', 'the cat sat']], ['the cat sat'])
  assert best == {'rougeL': 100.0}


def test_token_f1_is_squad_f1():
  assert metrics.token_f1('the Denver Broncos', 'Broncos') == (
      pytest.approx(2 * 1 * 0.5 / 1.5))
  assert metrics.token_f1('', '') == 1.0 and metrics.token_f1('a b', '') == 0.0
