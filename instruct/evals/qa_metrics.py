"""Benchmark metrics, re-exported from `instruct.metrics` (existing imports).

SQuAD v1.1 / 2.0 exact match and F1 (`instruct.metrics.qa`), ROUGE, BLEU and
chrF (`instruct.metrics.text`). New code imports `instruct.metrics`.
"""

from instruct import metrics

normalize_answer = metrics.normalize_answer
squad = metrics.squad
squad_v2 = metrics.squad_v2
rouge = metrics.rouge
bleu = metrics.bleu
chrf = metrics.chrf
bleu_chrf = metrics.bleu_chrf
