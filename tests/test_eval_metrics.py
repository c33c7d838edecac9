"""Benchmark metrics against hand-computed values and reference libraries."""

import math

import pytest
from rouge_score import rouge_scorer
import sacrebleu

from instruct.evals import qa_metrics


def test_normalize_answer_follows_the_official_squad_rules():
  # Lowercase, punctuation removed, articles (whole words only) removed,
  # whitespace collapsed.
  assert qa_metrics.normalize_answer('The  Theater, an A-list!') == (
      'theater alist')
  assert qa_metrics.normalize_answer('U.S.  Army') == 'us army'
  assert qa_metrics.normalize_answer('Anthem') == 'anthem'


def test_squad_v1_exact_match_and_f1_by_hand():
  targets = [['The Eiffel Tower', 'Eiffel tower'], 'the cat sat on the mat',
             'Paris']
  predictions = ['eiffel  Tower!', 'a cat on a mat', 'London']
  got = qa_metrics.squad(targets, predictions)
  # 2: reference "cat sat on mat" (4), prediction "cat on mat" (3), overlap 3:
  # P = 1, R = 3/4, F1 = 6/7.
  assert got['em'] == pytest.approx(100 / 3)
  assert got['f1'] == pytest.approx(100 * (1 + 6 / 7 + 0) / 3)


def test_squad_v1_takes_the_best_reference():
  got = qa_metrics.squad([['Denver Broncos', 'Broncos']], ['the broncos'])
  assert got == {'em': 100.0, 'f1': 100.0}
  got = qa_metrics.squad([['Denver Broncos']], ['the broncos'])
  assert got['em'] == 0.0 and got['f1'] == pytest.approx(100 * 2 / 3)


def test_squad_v2_no_answer_questions():
  targets = [[], ['Denver Broncos'], [''], ['Denver Broncos']]
  predictions = ['', '', 'nothing', 'Broncos']
  got = qa_metrics.squad_v2(targets, predictions)
  # EM: 1 (abstained on no-answer), 0, 0 (answered a no-answer), 0.
  # F1: 1, 0, 0, 2/3.
  assert got['em'] == pytest.approx(25.0)
  assert got['f1'] == pytest.approx(100 * (1 + 2 / 3) / 4)
  assert got['has_ans_em'] == 0.0
  assert got['has_ans_f1'] == pytest.approx(100 * (2 / 3) / 2)
  assert got['no_ans_em'] == pytest.approx(50.0)
  assert got['no_ans_f1'] == pytest.approx(50.0)


def test_squad_v2_halves_without_examples_are_nan():
  got = qa_metrics.squad_v2(['a dog'], ['dog'])
  assert got['em'] == 100.0 and math.isnan(got['no_ans_em'])
  with pytest.raises(ValueError, match='2 targets but 1 predictions'):
    qa_metrics.squad_v2(['a', 'b'], ['a'])


TARGETS = ['The cat sat on the mat. It was happy.',
           'A quick brown fox jumps over the lazy dog.',
           'Rain is expected tomorrow in the north.']
PREDICTIONS = ['The cat was sitting on the mat. It looked happy.',
               'The quick brown fox jumped over a lazy dog.',
               'Tomorrow it will rain in northern areas.']


def test_bleu_and_chrf_equal_sacrebleu():
  got = qa_metrics.bleu_chrf(TARGETS, PREDICTIONS)
  want_bleu = sacrebleu.corpus_bleu(PREDICTIONS, [TARGETS]).score
  want_chrf = sacrebleu.corpus_chrf(PREDICTIONS, [TARGETS]).score
  assert got['bleu'] == pytest.approx(want_bleu, abs=1e-9)
  assert got['chrf'] == pytest.approx(want_chrf, abs=1e-9)
  assert 0 < got['bleu'] < 100 and 0 < got['chrf'] < 100
  assert qa_metrics.chrf(TARGETS, TARGETS)['chrf'] == pytest.approx(100.0)
  assert math.isnan(qa_metrics.chrf([], [])['chrf'])


def test_rouge_equals_rouge_score():
  got = qa_metrics.rouge(TARGETS, PREDICTIONS)
  scorer = rouge_scorer.RougeScorer(['rouge1', 'rouge2', 'rougeLsum'],
                                    use_stemmer=True)
  for name in ('rouge1', 'rouge2', 'rougeLsum'):
    want = []
    for target, prediction in zip(TARGETS, PREDICTIONS):
      # rougeLsum needs one sentence per line; rouge1/2 ignore newlines.
      split = lambda s: s.replace('. ', '.\n')
      want.append(scorer.score(split(target), split(prediction))[name].fmeasure)
    assert got[name] == pytest.approx(100 * sum(want) / len(want), abs=1e-9)
  assert 0 < got['rouge2'] < got['rouge1'] < 100
