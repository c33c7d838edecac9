"""SeqIO-compatible metrics: the one place metrics are implemented.

SeqIO tells metric kinds apart by their positional argument names:
`(targets, predictions)` for metrics on decoded model outputs and
`(targets, scores)` for metrics on per-example log-likelihoods. Every metric
returns a dict of percentages in [0, 100].

Modules (everything is also importable from `instruct.metrics` itself):

  * `core`: `normalize_text`, `exact_match`, `accuracy`, rank
    classification (`rank_classification_target` /
    `rank_classification_accuracy`) and `pearson_spearman`;
  * `qa`: SQuAD answer normalisation, the one token F1 (`token_f1`),
    `squad` and `squad_v2`;
  * `text`: the one ROUGE (`rouge`, `rouge_l`; rouge-score), `bleu`, `chrf`
    and `bleu_chrf` (sacrebleu).

No examples give NaN (an empty evaluation is not a 0% model), except ROUGE,
which gives 0.0 as NIv2's reference does (see `text`).

This is a foundation package: it imports nothing from `instruct.data`,
`instruct.evals` or anything above them. Task-specific scoring (BBH answer
extraction, BIG-bench's multiple-choice grade) stays with its task and calls
these.
"""

# pylint: disable=g-importing-member
from instruct.metrics.core import accuracy
from instruct.metrics.core import as_text
from instruct.metrics.core import exact_match
from instruct.metrics.core import normalize_text
from instruct.metrics.core import pearson_spearman
from instruct.metrics.core import rank_classification_accuracy
from instruct.metrics.core import rank_classification_target
from instruct.metrics.qa import normalize_answer
from instruct.metrics.qa import references
from instruct.metrics.qa import squad
from instruct.metrics.qa import squad_v2
from instruct.metrics.qa import token_f1
from instruct.metrics.text import bleu
from instruct.metrics.text import bleu_chrf
from instruct.metrics.text import chrf
from instruct.metrics.text import rouge
from instruct.metrics.text import rouge_l
from instruct.metrics.text import SUMMARY_ROUGE_TYPES
