"""Benchmark metrics with SeqIO's `(targets, predictions)` signature.

SQuAD v1.1 exact match / F1, ROUGE-1/2/Lsum and BLEU are the ones of
`instruct.data.flan2021.metrics` (re-exported here so evaluation code has one
place to import benchmark metrics from); this module adds what they lack:

  * `squad_v2`: SQuAD 2.0's scoring, where a question may have no answer
    (an empty reference list, or only empty strings): the prediction then
    scores 1 exactly when it normalises to the empty string. Besides the
    overall numbers it reports the answerable / unanswerable halves, like the
    official evaluation script's `HasAns_*` / `NoAns_*` fields.
  * `chrf`: corpus chrF from `sacrebleu` (character 6-grams, beta 2).

All values are percentages (0-100); no examples give NaN, never 0.
"""

from typing import Any, Dict, List, Sequence

import numpy as np
import sacrebleu

from instruct.data.flan2021 import metrics as flan_metrics

# Re-exports: SQuAD v1.1 (official normalisation: lowercase, no punctuation,
# no articles a/an/the, collapsed whitespace; best over references), ROUGE
# (rouge-score, stemming, Lsum on sentence-split text) and BLEU (sacrebleu).
normalize_answer = flan_metrics.normalize_answer
squad = flan_metrics.squad
rouge = flan_metrics.rouge
bleu = flan_metrics.bleu
_text = flan_metrics._text  # pylint: disable=protected-access


def _check(name: str, targets: Sequence[Any], predictions: Sequence[Any]):
  if len(targets) != len(predictions):
    raise ValueError(f'{name}: {len(targets)} targets but {len(predictions)} '
                     'predictions.')


def _v2_references(target: Any) -> List[str]:
  """A target's answers; [''] when it has none (an unanswerable question)."""
  if isinstance(target, (str, bytes)):
    refs = [_text(target)]
  else:
    refs = [_text(t) for t in target]
  refs = [r for r in refs if normalize_answer(r)]
  return refs or ['']


def _token_f1(reference: str, prediction: str) -> float:
  # pylint: disable-next=protected-access
  return flan_metrics._f1(reference, prediction)


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
  _check('squad_v2', targets, predictions)
  em, f1, has_answer = [], [], []
  for target, prediction in zip(targets, predictions):
    refs = _v2_references(target)
    prediction = _text(prediction)
    em.append(max(float(normalize_answer(r) == normalize_answer(prediction))
                  for r in refs))
    f1.append(max(_token_f1(r, prediction) for r in refs))
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


def chrf(targets: Sequence[Any],
         predictions: Sequence[Any]) -> Dict[str, float]:
  """Corpus chrF (sacrebleu defaults: character 6-grams, beta 2)."""
  _check('chrf', targets, predictions)
  if not targets:
    return {'chrf': float('nan')}
  result = sacrebleu.corpus_chrf([_text(p) for p in predictions],
                                 [[_text(t) for t in targets]])
  return {'chrf': float(result.score)}


def bleu_chrf(targets: Sequence[Any],
              predictions: Sequence[Any]) -> Dict[str, float]:
  """BLEU and chrF together, the pair WMT evaluations report."""
  return {**bleu(targets, predictions), **chrf(targets, predictions)}
