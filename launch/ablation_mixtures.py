"""Extra SeqIO mixtures for the ablations in gin_configs/ablations/.

Importing this module registers them, over the built-in collection's variant
tasks (`tasks.builtin`); nothing is read until a dataset is requested. The
ablation gin files import it with
`MIXTURE_OR_TASK_MODULE = ['tasks', 'launch.ablation_mixtures']`.

  * `ablation_clusters_<k>_no_nli` for k in `CLUSTER_COUNTS`: the first k
    training clusters (`CLUSTER_ORDER`, NLI never among them), every train
    variant. With `builtin_instructions_nli_eval` this is the FLAN paper's
    "number of instruction-tuning clusters" study (its Figure 6).
  * `ablation_fs_share_<p>`: zero-shot and few-shot variants mixed with
    p percent few-shot (Flan 2022's mixed prompt settings); 0 and 100 are
    `builtin_instructions_zs` and `builtin_instructions_fs`.
  * `ablation_no_cot` / `ablation_with_cot`: zero- and few-shot at equal
    weight, without and with `COT_SHARE` of chain-of-thought data.
  * `ablation_cluster_balanced`: every cluster gets the same share whatever
    its number of tasks (`builtin_instructions_all_variants` is the
    task-balanced counterpart: every task the same share).
"""

from typing import Dict, List

from instruct.data import builtin as builtin_data
from instruct.data import mixtures
import tasks.builtin as builtin_tasks

HELD_OUT_CLUSTER = 'nli'
# Training clusters in the order they are added (NLI is held out).
CLUSTER_ORDER = ('string_manipulation', 'sentiment', 'closed_book_qa',
                 'arithmetic', 'reading_comprehension', 'translation',
                 'paraphrase', 'topic_classification', 'coreference',
                 'struct_to_text', 'summarization', 'sorting',
                 'multi_step_reasoning')
CLUSTER_COUNTS = (1, 2, 4, 8, 13)
FS_SHARES = (10, 25, 50, 75, 90)  # Percent few-shot.
COT_SHARE = 0.1

TRAIN_VARIANTS = (builtin_tasks.ZERO_SHOT_VARIANTS +
                  builtin_tasks.FEW_SHOT_VARIANTS + builtin_tasks.COT_VARIANTS)
MIXTURES: List[str] = []


def _cluster_tasks(cluster: str) -> List[str]:
  return [builtin_tasks.VARIANT_TASKS[name][v]
          for name in builtin_data.clusters()[cluster]
          for v in TRAIN_VARIANTS if v in builtin_tasks.VARIANT_TASKS[name]]


def _register_all() -> None:
  cap = builtin_data.SPLIT_SIZES['train']
  assert set(CLUSTER_ORDER) | {HELD_OUT_CLUSTER} == set(
      builtin_data.clusters()), 'CLUSTER_ORDER is out of date.'
  for k in CLUSTER_COUNTS:
    tasks = [t for c in CLUSTER_ORDER[:k] for t in _cluster_tasks(c)]
    MIXTURES.append(mixtures.register_capped_mixture(
        f'ablation_clusters_{k}_no_{HELD_OUT_CLUSTER}', tasks, cap=cap))
  for p in FS_SHARES:
    MIXTURES.append(mixtures.register_weighted_mixture(
        f'ablation_fs_share_{p}', {builtin_tasks.ZERO_SHOT_MIXTURE: 100 - p,
                                   builtin_tasks.FEW_SHOT_MIXTURE: p}))
  MIXTURES.append(mixtures.register_weighted_mixture(
      'ablation_no_cot', {builtin_tasks.ZERO_SHOT_MIXTURE: 0.5,
                          builtin_tasks.FEW_SHOT_MIXTURE: 0.5}))
  rest = (1.0 - COT_SHARE) / 2
  MIXTURES.append(mixtures.register_weighted_mixture(
      'ablation_with_cot', {builtin_tasks.ZERO_SHOT_MIXTURE: rest,
                            builtin_tasks.FEW_SHOT_MIXTURE: rest,
                            builtin_tasks.COT_MIXTURE: COT_SHARE}))
  per_cluster: Dict[str, float] = {}
  for cluster in sorted(builtin_data.clusters()):
    per_cluster[mixtures.register_capped_mixture(
        f'ablation_cluster_{cluster}', _cluster_tasks(cluster), cap=cap)] = 1.0
  MIXTURES.extend(per_cluster)
  MIXTURES.append(mixtures.register_weighted_mixture(
      'ablation_cluster_balanced', per_cluster))


_register_all()
