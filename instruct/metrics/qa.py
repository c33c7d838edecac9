"""Question answering: SQuAD exact match and the one token F1.

  * `normalize_answer`: SQuAD's official answer normalisation (lowercase, no
    ASCII punctuation, no articles a/an/the, whitespace collapsed).
  * `token_f1`: SQuAD-style bag-of-tokens F1 of two answers after
    `normalize_answer`; both empty scores 1, one empty scores 0. This is the
    project's only F1; every QA metric uses it.
  * `squad`: SQuAD v1.1 exact match and F1, best over an example's
    references (a target is a string or a list of acceptable answers).
  * `squad_v2`: SQuAD 2.0's scoring, where a question may have no answer (an
    empty reference list, or only empty strings): the prediction then scores
    1 exactly when it normalises to the empty string. Besides the overall
    numbers it reports the answerable / unanswerable halves, like the
    official evaluation script's `HasAns_*` / `NoAns_*` fields.

Values are percentages (0-100); no examples give NaN.
"""

import collections
import re
import string
from typing import Any, Dict, List, Sequence, Union

import numpy as np

from instruct.metrics import core

Target = Union[str, bytes, Sequence[Union[str, bytes]]]

_ARTICLES = re.compile(r'\b(a|an|the)\b')
_PUNCT = set(string.punctuation)


def references(target: Target) -> List[str]:
  """A target's acceptable answers: [target] for a string, else the list."""
  if isinstance(target, (str, bytes)):
    return [core.as_text(target)]
  return [core.as_text(t) for t in target]


def check_aligned(name: str, targets: Sequence[Any],
                  predictions: Sequence[Any]) -> None:
  """Raises ValueError naming metric `name` when the lengths differ."""
  if len(targets) != len(predictions):
    raise ValueError(f'{name}: {len(targets)} targets but {len(predictions)} '
                     'predictions.')


def normalize_answer(text: str) -> str:
  """SQuAD's answer normalisation."""
  text = ''.join(ch for ch in text.lower() if ch not in _PUNCT)
  return ' '.join(_ARTICLES.sub(' ', text).split())


def token_f1(reference: str, prediction: str) -> float:
  """SQuAD token F1 (in [0, 1]) of one prediction against one reference."""
  ref_tokens = normalize_answer(reference).split()
  pred_tokens = normalize_answer(prediction).split()
  if not ref_tokens or not pred_tokens:
    return float(ref_tokens == pred_tokens)
  common = collections.Counter(ref_tokens) & collections.Counter(pred_tokens)
  overlap = sum(common.values())
  if overlap == 0:
    return 0.0
  precision = overlap / len(pred_tokens)
  recall = overlap / len(ref_tokens)
  return 2 * precision * recall / (precision + recall)


def squad(targets: Sequence[Target],
          predictions: Sequence[Any]) -> Dict[str, float]:
  """SQuAD exact match and F1, best over each target's references."""
  check_aligned('squad', targets, predictions)
  if not targets:
    return {'em': float('nan'), 'f1': float('nan')}
  em, f1 = [], []
  for target, prediction in zip(targets, predictions):
    prediction = core.as_text(prediction)
    refs = references(target)
    em.append(max(float(normalize_answer(r) == normalize_answer(prediction))
                  for r in refs))
    f1.append(max(token_f1(r, prediction) for r in refs))
  return {'em': 100.0 * float(np.mean(em)), 'f1': 100.0 * float(np.mean(f1))}


def _v2_references(target: Any) -> List[str]:
  """A target's answers; [''] when it has none (an unanswerable question)."""
  refs = [r for r in references(target) if normalize_answer(r)]
  return refs or ['']


def squad_v2(targets: Sequence[Any],
             predictions: Sequence[Any]) -> Dict[str, float]:
  """SQuAD 2.0 exact match and F1, overall and split by answerability.

  Args:
    targets: per example, a string or a list of acceptable answers; an empty
      list (or only empty strings) means the question has no answer.
    predictions: the model's answers; '' abstains.

  Returns:
    {'em', 'f1', 'has_ans_em', 'has_ans_f1', 'no_ans_em', 'no_ans_f1'}; a
    half with no examples is NaN.
  """
  check_aligned('squad_v2', targets, predictions)
  em, f1, has_answer = [], [], []
  for target, prediction in zip(targets, predictions):
    refs = _v2_references(target)
    prediction = core.as_text(prediction)
    em.append(max(float(normalize_answer(r) == normalize_answer(prediction))
                  for r in refs))
    f1.append(max(token_f1(r, prediction) for r in refs))
    has_answer.append(refs != [''])
  em, f1, has_answer = np.array(em), np.array(f1), np.array(has_answer, bool)

  def mean(values, mask):
    return 100.0 * float(np.mean(values[mask])) if mask.any() else float('nan')

  everything = np.ones_like(has_answer)
  return {'em': mean(em, everything), 'f1': mean(f1, everything),
          'has_ans_em': mean(em, has_answer),
          'has_ans_f1': mean(f1, has_answer),
          'no_ans_em': mean(em, ~has_answer),
          'no_ans_f1': mean(f1, ~has_answer)}
