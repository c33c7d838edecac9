"""Exact match, rank classification and correlation metrics.

SeqIO tells metric kinds apart by their positional argument names:
`(targets, predictions)` for metrics on decoded model outputs and
`(targets, scores)` for metrics on per-example log-likelihoods. Every metric
returns a dict of percentages in [0, 100].

Text normalisation: `exact_match` compares `normalize_text` of both sides,
which only strips leading/trailing whitespace and collapses internal runs of
whitespace. Case and punctuation are significant: several built-in tasks test
exactly those (e.g. uppercasing), so " Rome" matches "Rome" but "rome" and
"Rome." do not. Pass `lowercase=True` / `strip_punctuation=True` to
`normalize_text` in a custom metric for lenient QA-style scoring.
"""

import collections
import string
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from absl import logging
import numpy as np
from scipy import stats

_PUNCTUATION_TABLE = str.maketrans('', '', string.punctuation)


def as_text(value: Any) -> str:
  """A str from a str or UTF-8 bytes (invalid bytes replaced)."""
  if isinstance(value, bytes):
    return value.decode('utf-8', errors='replace')
  return str(value)


def normalize_text(text: Any, lowercase: bool = False,
                   strip_punctuation: bool = False) -> str:
  """Normalises text for comparison.

  Args:
    text: a str (or UTF-8 bytes).
    lowercase: also lowercase.
    strip_punctuation: also delete ASCII punctuation.

  Returns:
    The text with surrounding whitespace removed and internal whitespace runs
    collapsed to one space (after the optional steps).
  """
  text = as_text(text)
  if lowercase:
    text = text.lower()
  if strip_punctuation:
    text = text.translate(_PUNCTUATION_TABLE)
  return ' '.join(text.split())


def exact_match(targets: Sequence[Any],
                predictions: Sequence[Any]) -> Dict[str, float]:
  """Percentage of predictions equal to their target after normalisation.

  Args:
    targets: reference strings.
    predictions: decoded model outputs, aligned with `targets`.

  Returns:
    {'exact_match': percent}; NaN for no examples, so an empty evaluation is
    not mistaken for a 0% model.

  Raises:
    ValueError: if the two sequences have different lengths.
  """
  if len(targets) != len(predictions):
    raise ValueError(f'exact_match: {len(targets)} targets but '
                     f'{len(predictions)} predictions.')
  if not targets:
    return {'exact_match': float('nan')}
  matches = [normalize_text(t) == normalize_text(p)
             for t, p in zip(targets, predictions)]
  return {'exact_match': 100.0 * float(np.mean(matches))}


def accuracy(targets: Sequence[Any],
             predictions: Sequence[Any]) -> Dict[str, float]:
  """`exact_match` reported as 'accuracy' (classification by generation)."""
  return {'accuracy': exact_match(targets, predictions)['exact_match']}


def _as_score(text: Any) -> float:
  """A 0-5 score from text; unparsable predictions become -1 (always wrong)."""
  try:
    return float(as_text(text).strip())
  except ValueError:
    return -1.0


def pearson_spearman(targets: Sequence[Any],
                     predictions: Sequence[Any]) -> Dict[str, float]:
  """Pearson and Spearman correlation (x100) of predicted and gold scores.

  For STS-B style 0-5 similarity scores; NaN when either side is constant
  or there are fewer than two examples.
  """
  if len(targets) != len(predictions):
    raise ValueError(f'pearson_spearman: {len(targets)} targets but '
                     f'{len(predictions)} predictions.')
  gold = np.array([_as_score(t) for t in targets])
  pred = np.array([_as_score(p) for p in predictions])
  if len(gold) < 2 or np.std(gold) == 0 or np.std(pred) == 0:
    return {'pearson': float('nan'), 'spearman': float('nan')}
  return {'pearson': 100.0 * float(stats.pearsonr(gold, pred)[0]),
          'spearman': 100.0 * float(stats.spearmanr(gold, pred)[0])}


def rank_classification_target(
    text: Any, example: Optional[Mapping[str, Any]] = None,
    is_target: bool = False) -> Any:
  """Postprocessor that turns a rank-classification target into a label.

  SeqIO calls postprocessors as `fn(text, example=..., is_target=...)`. For a
  target, the text (one answer option) is replaced by `(idx, is_correct)` from
  the preprocessed example, which is what `rank_classification_accuracy`
  needs to group options and find the correct one. Predictions pass through
  unchanged (score metrics never see them).

  Args:
    text: decoded target or prediction.
    example: the preprocessed example, with `idx` and `is_correct`.
    is_target: whether `text` is a target.

  Returns:
    `(idx, is_correct, num_options)` ints for targets (`(idx, is_correct)`
    when the example has no `num_options`); `text` otherwise.
  """
  if not is_target:
    return text
  if example is None:
    raise ValueError('rank_classification_target needs the example for '
                     'targets (it reads `idx` and `is_correct`).')
  if 'num_options' in example:
    return (int(example['idx']), int(example['is_correct']),
            int(example['num_options']))
  return int(example['idx']), int(example['is_correct'])


def rank_classification_accuracy(
    targets: Sequence[Tuple[int, int]],
    scores: Sequence[float]) -> Dict[str, float]:
  """Accuracy of picking the highest-scoring option of each example.

  Expanded options are grouped by their example id, not by position, so the
  metric is correct for any number of options per example and any order of
  the expanded examples. Ties go to the first option in input order.

  Args:
    targets: `(idx, is_correct)` or `(idx, is_correct, num_options)` per
      expanded option, as produced by `rank_classification_target`. With
      `num_options`, an example with fewer options than that (cut short by an
      evaluation cap) is left out with a warning.
    scores: the model's log-likelihood of each option's target, aligned with
      `targets`.

  Returns:
    {'accuracy': percent of original examples whose best-scoring option is
    correct}; NaN for no examples.

  Raises:
    ValueError: on misaligned inputs or an example with no correct option.
  """
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  if len(targets) != len(scores):
    raise ValueError(f'rank_classification_accuracy: {len(targets)} targets '
                     f'but {len(scores)} scores.')
  # idx -> (best score, whether that option is correct, any option correct).
  groups = collections.OrderedDict()
  expected = {}  # idx -> number of options, when the targets say.
  for target, score in zip(targets, scores):
    idx, is_correct = int(target[0]), bool(target[1])
    if len(target) > 2:
      expected[idx] = int(target[2])
    if idx not in groups:
      groups[idx] = [score, is_correct, is_correct, 1]
      continue
    group = groups[idx]
    if score > group[0]:
      group[0], group[1] = score, is_correct
    group[2] = group[2] or is_correct
    group[3] += 1
  # An evaluation cap (SeqIO's `num_examples`) counts expanded rows, so the
  # last example can lose some of its options; scoring it on a subset would be
  # wrong, so it is left out, and said so.
  incomplete = [idx for idx, group in groups.items()
                if idx in expected and group[3] < expected[idx]]
  if incomplete:
    logging.warning(
        'rank_classification_accuracy: left out %d example(s) cut short by '
        'the evaluation cap (ids %s).', len(incomplete), incomplete[:10])
    for idx in incomplete:
      del groups[idx]
  if not groups:
    return {'accuracy': float('nan')}
  missing = [idx for idx, group in groups.items() if not group[2]]
  if missing:
    raise ValueError('rank_classification_accuracy: no correct option for '
                     f'example ids {missing[:10]}.')
  correct = [group[1] for group in groups.values()]
  return {'accuracy': 100.0 * float(np.mean(correct))}
