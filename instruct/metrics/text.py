"""Generated-text overlap metrics: the one ROUGE, BLEU and chrF.

ROUGE (`rouge`, `rouge_l`) is computed in one place, on the `rouge-score`
package with stemming, the scorer T5, Flan and Super-NaturalInstructions'
official evaluation use:

  * Text is normalised as NIv2's reference does: rouge-score's tokenizer
    lowercases and keeps only [a-z0-9] tokens, so case, punctuation and
    whitespace never change ROUGE-1/2/L (scoring `normalize_text` of both
    sides gives the same numbers). ROUGE-Lsum reads newlines as sentence
    boundaries, so each side is put one sentence per line first (a
    sentence ends at '.', '!' or '?' followed by whitespace).
  * A target may be a list of references; each ROUGE type counts the best
    reference of each example.
  * No examples give 0.0 for every ROUGE type (not NaN): NIv2 reports 0 for
    an empty prediction list, and so do we, whoever calls.
  * Targets and predictions of different lengths raise ValueError.

BLEU and chrF are corpus metrics from `sacrebleu` (defaults: 13a
tokenisation, exponential smoothing; character 6-grams, beta 2); no examples
give NaN. Values are percentages (0-100).
"""

import functools
import re
from typing import Any, Dict, Sequence, Tuple

import numpy as np
from rouge_score import rouge_scorer
import sacrebleu

from instruct.metrics import core
from instruct.metrics import qa

# The ROUGE types of summarisation reporting (T5, Flan).
SUMMARY_ROUGE_TYPES = ('rouge1', 'rouge2', 'rougeLsum')


def _one_sentence_per_line(text: str) -> str:
  # rougeLsum splits summaries into sentences on newlines.
  return '\n'.join(s.strip() for s in re.split(r'(?<=[.!?])\s+', text.strip()))


@functools.lru_cache(maxsize=None)
def _scorer(types: Tuple[str, ...]) -> rouge_scorer.RougeScorer:
  return rouge_scorer.RougeScorer(list(types), use_stemmer=True)


def rouge(targets: Sequence[Any], predictions: Sequence[Any],
          types: Sequence[str] = SUMMARY_ROUGE_TYPES) -> Dict[str, float]:
  """Mean ROUGE F-measure (x100) per type; see the module docstring.

  Args:
    targets: per example, a reference string or a list of references.
    predictions: the model's outputs, aligned with `targets`.
    types: rouge-score types, e.g. 'rouge1', 'rouge2', 'rougeL',
      'rougeLsum'.

  Returns:
    {type: percent}; 0.0 for every type when there are no examples.
  """
  qa.check_aligned('rouge', targets, predictions)
  types = tuple(types)
  if not targets:
    return {t: 0.0 for t in types}
  scorer = _scorer(types)
  best = {t: [] for t in types}
  for target, prediction in zip(targets, predictions):
    prediction = _one_sentence_per_line(core.as_text(prediction))
    per_ref = [scorer.score(_one_sentence_per_line(r), prediction)
               for r in qa.references(target)]
    for t in types:
      best[t].append(max(s[t].fmeasure for s in per_ref))
  return {t: 100.0 * float(np.mean(best[t])) for t in types}


def rouge_l(targets: Sequence[Any],
            predictions: Sequence[Any]) -> Dict[str, float]:
  """Mean ROUGE-L F-measure (x100), NIv2's main metric: {'rougeL': ...}."""
  return rouge(targets, predictions, types=('rougeL',))


def bleu(targets: Sequence[Any],
         predictions: Sequence[Any]) -> Dict[str, float]:
  """Corpus BLEU (sacrebleu); a target may be a list of references."""
  qa.check_aligned('bleu', targets, predictions)
  if not targets:
    return {'bleu': float('nan')}
  refs = [qa.references(t) for t in targets]
  width = max(len(r) for r in refs)
  # sacrebleu takes reference streams; None pads an example's shorter list.
  streams = [[r[k] if k < len(r) else None for r in refs]
             for k in range(width)]
  result = sacrebleu.corpus_bleu([core.as_text(p) for p in predictions],
                                 streams)
  return {'bleu': float(result.score)}


def chrf(targets: Sequence[Any],
         predictions: Sequence[Any]) -> Dict[str, float]:
  """Corpus chrF (sacrebleu defaults: character 6-grams, beta 2)."""
  qa.check_aligned('chrf', targets, predictions)
  if not targets:
    return {'chrf': float('nan')}
  result = sacrebleu.corpus_chrf([core.as_text(p) for p in predictions],
                                 [[core.as_text(t) for t in targets]])
  return {'chrf': float(result.score)}


def bleu_chrf(targets: Sequence[Any],
              predictions: Sequence[Any]) -> Dict[str, float]:
  """BLEU and chrF together, the pair WMT evaluations report."""
  return {**bleu(targets, predictions), **chrf(targets, predictions)}
