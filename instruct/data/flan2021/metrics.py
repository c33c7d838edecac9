"""The metrics of the Flan 2021-style tasks, by kind of task.

Every metric is implemented in `instruct.metrics` (percentages, SeqIO's
`(targets, predictions)`); this module names the groups the catalog uses:

  * classification answered by generating the option text: `accuracy`
    (exact match after whitespace normalisation);
  * extractive QA: `squad` (SQuAD exact match and token F1, best over a
    target's acceptable answers);
  * summarisation: `rouge` (ROUGE-1/2/Lsum, rouge-score with stemming);
  * translation: `bleu` (corpus BLEU, sacrebleu);
  * data to text: both; STS-B: `pearson_spearman`.

The metric names are re-exported here for existing imports.
"""

from instruct import metrics

accuracy = metrics.accuracy
normalize_answer = metrics.normalize_answer
squad = metrics.squad
rouge = metrics.rouge
bleu = metrics.bleu
pearson_spearman = metrics.pearson_spearman

CLASSIFICATION = (accuracy,)
EXTRACTIVE_QA = (squad,)
SUMMARIZATION = (rouge,)
TRANSLATION = (bleu,)
DATA_TO_TEXT = (rouge, bleu)
