"""Metrics for the Flan 2021-style tasks, with SeqIO's `(targets, predictions)`.

All return percentages (0-100), like `instruct.metrics`:

  * `accuracy`: exact match after whitespace normalisation (classification
    answered by generating the option text);
  * `squad`: SQuAD's exact match and token F1 after its answer normalisation
    (lowercase, no punctuation, no articles); a target may be a list of
    acceptable answers, in which case the best one counts;
  * `rouge`: ROUGE-1/2/Lsum F-measure from `rouge-score` (stemming on), the
    summarisation metrics Flan and T5 report;
  * `bleu`: corpus BLEU from `sacrebleu` with its default 13a tokenisation;
  * `pearson_spearman`: correlations for STS-B's 0-5 similarity scores.
"""

import collections
import re
import string
from typing import Any, Dict, List, Sequence, Union

import numpy as np
from rouge_score import rouge_scorer
import sacrebleu
from scipy import stats

from instruct import metrics as base_metrics

Target = Union[str, bytes, Sequence[Union[str, bytes]]]


def _text(value: Any) -> str:
  if isinstance(value, bytes):
    return value.decode('utf-8', errors='replace')
  return str(value)


def _references(target: Target) -> List[str]:
  if isinstance(target, (str, bytes)):
    return [_text(target)]
  return [_text(t) for t in target]


def _check(name: str, targets: Sequence[Any], predictions: Sequence[Any]):
  if len(targets) != len(predictions):
    raise ValueError(f'{name}: {len(targets)} targets but {len(predictions)} '
                     'predictions.')


def accuracy(targets: Sequence[Any],
             predictions: Sequence[Any]) -> Dict[str, float]:
  """Percent of predictions equal to the target (whitespace-normalised)."""
  return {'accuracy': base_metrics.exact_match(targets, predictions)[
      'exact_match']}


_ARTICLES = re.compile(r'\b(a|an|the)\b')
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
  """SQuAD's answer normalisation."""
  text = ''.join(ch for ch in text.lower() if ch not in _PUNCT)
  return ' '.join(_ARTICLES.sub(' ', text).split())


def _f1(reference: str, prediction: str) -> float:
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
  _check('squad', targets, predictions)
  if not targets:
    return {'em': float('nan'), 'f1': float('nan')}
  em, f1 = [], []
  for target, prediction in zip(targets, predictions):
    prediction = _text(prediction)
    refs = _references(target)
    em.append(max(float(normalize_answer(r) == normalize_answer(prediction))
                  for r in refs))
    f1.append(max(_f1(r, prediction) for r in refs))
  return {'em': 100.0 * float(np.mean(em)), 'f1': 100.0 * float(np.mean(f1))}


def _rouge_lsum_text(text: str) -> str:
  # rougeLsum splits summaries into sentences on newlines.
  return '\n'.join(s.strip() for s in re.split(r'(?<=[.!?])\s+', text.strip()))


def rouge(targets: Sequence[Any],
          predictions: Sequence[Any]) -> Dict[str, float]:
  """Mean ROUGE-1, ROUGE-2 and ROUGE-Lsum F-measure."""
  _check('rouge', targets, predictions)
  names = ('rouge1', 'rouge2', 'rougeLsum')
  if not targets:
    return {n: float('nan') for n in names}
  scorer = rouge_scorer.RougeScorer(list(names), use_stemmer=True)
  totals = collections.defaultdict(list)
  for target, prediction in zip(targets, predictions):
    scores = scorer.score(_rouge_lsum_text(_text(target)),
                          _rouge_lsum_text(_text(prediction)))
    for n in names:
      totals[n].append(scores[n].fmeasure)
  return {n: 100.0 * float(np.mean(totals[n])) for n in names}


def bleu(targets: Sequence[Any],
         predictions: Sequence[Any]) -> Dict[str, float]:
  """Corpus BLEU (sacrebleu defaults: 13a tokenisation, exp smoothing)."""
  _check('bleu', targets, predictions)
  if not targets:
    return {'bleu': float('nan')}
  result = sacrebleu.corpus_bleu([_text(p) for p in predictions],
                                 [[_text(t) for t in targets]])
  return {'bleu': float(result.score)}


def _as_score(text: Any) -> float:
  """A 0-5 score from text; unparsable predictions become -1 (always wrong)."""
  try:
    return float(_text(text).strip())
  except ValueError:
    return -1.0


def pearson_spearman(targets: Sequence[Any],
                     predictions: Sequence[Any]) -> Dict[str, float]:
  """Pearson and Spearman correlation (x100) of predicted and gold scores."""
  _check('pearson_spearman', targets, predictions)
  gold = np.array([_as_score(t) for t in targets])
  pred = np.array([_as_score(p) for p in predictions])
  if len(gold) < 2 or np.std(gold) == 0 or np.std(pred) == 0:
    return {'pearson': float('nan'), 'spearman': float('nan')}
  return {'pearson': 100.0 * float(stats.pearsonr(gold, pred)[0]),
          'spearman': 100.0 * float(stats.spearmanr(gold, pred)[0])}


CLASSIFICATION = (accuracy,)
EXTRACTIVE_QA = (squad,)
SUMMARIZATION = (rouge,)
TRANSLATION = (bleu,)
DATA_TO_TEXT = (rouge, bleu)
