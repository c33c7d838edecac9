"""The Flan-style collection mixtures (SeqIO), over every registered dataset.

Importing this module imports the modules that register the collection's
datasets (`tasks.flan2021`, `tasks.niv2`, `tasks.cot`; a module that does not
exist yet is skipped) and then registers:

  * `flan_collection`: Flan 2022's recipe. One sub-mixture per sub-collection
    (source) with registered tasks, `flan_collection_<source>_submix`, where a
    task's rate is `min(train examples, FLAN_CAPS[source])`; sub-mixtures are
    mixed by `FLAN_WEIGHTS` (flan2021 0.4, t0 0.32, niv2 0.2, cot 0.05,
    dialog 0.03). **Sub-collections without registered tasks are left out and
    the remaining weights renormalised** to sum to 1 (with flan2021, niv2 and
    cot present: 0.4/0.65, 0.2/0.65, 0.05/0.65). Variants: zero-shot and
    few-shot with and without options for every source but cot, chain of
    thought (`cot`, `fs_cot`) for the cot source, and input inversion (`inv`, at
    weight `INVERSION_WEIGHT` = 0.3 relative to its source's other tasks)
    where datasets have inversion templates.
  * `flan_collection_zs`: the same, zero-shot variants only (`zs_opt`,
    `zs_noopt`, and `cot` for the cot source).
  * `flan_collection_fs`: few-shot only (`fs_opt`, `fs_noopt`, `fs_cot`).
  * `flan_collection_cot`: chain of thought only (`cot`, `fs_cot`).
  * `flan2021_heldout_no_<cluster>` / `flan2021_heldout_<cluster>_eval` for
    every flan2021 cluster: the FLAN paper's protocol (train on the other
    clusters' flan2021 tasks, evaluate zero-shot on the held-out cluster).

`python -m instruct.data report flan_collection` prints what each contains.
"""

import importlib
import logging
from typing import Dict, List, Sequence, Tuple

from instruct.data import mixtures
from instruct.data import registry


def _import_if_present(module: str) -> bool:
  """Imports a registration module; False only if that module is missing."""
  try:
    importlib.import_module(module)
  except ModuleNotFoundError as e:
    if e.name != module:
      raise  # A real missing dependency inside the module: report it.
    logging.info('%s is not available; its datasets are not in the Flan '
                 'mixtures.', module)
    return False
  return True


SOURCE_MODULES = ('tasks.flan2021', 'tasks.niv2', 'tasks.cot')
AVAILABLE_MODULES = tuple(m for m in SOURCE_MODULES if _import_if_present(m))

PREFIX = 'flan_collection'
HELD_OUT_PREFIX = 'flan2021_heldout'
INVERSION_WEIGHT = mixtures.INVERSION_WEIGHT

# Variant selections: (variants for the other sources, variants for 'cot').
# As in Flan, the CoT sub-collection contributes chain-of-thought prompts.
ALL_VARIANTS = (('zs_opt', 'zs_noopt', 'fs_opt', 'fs_noopt'),
                ('cot', 'fs_cot'))
ZS_VARIANTS = (('zs_opt', 'zs_noopt'), ('cot',))
FS_VARIANTS = (('fs_opt', 'fs_noopt'), ('fs_cot',))
COT_VARIANTS = ((), ('cot', 'fs_cot'))
SUBMIX_SUFFIX = 'submix'
HELD_OUT_TRAIN_VARIANTS = ('zs_opt', 'zs_noopt', 'fs_opt', 'fs_noopt')

MIXTURES: List[str] = []
# Mixture name -> {sub-mixture: normalised weight}.
WEIGHTS: Dict[str, Dict[str, float]] = {}


def _trainable(source: str, task_names: Sequence[str]) -> list:
  """Leaves out tasks that must stay unseen (NIv2's held-out test tasks)."""
  if source != 'niv2':
    return list(task_names)
  try:
    import tasks.niv2 as niv2_tasks  # pylint: disable=g-import-not-at-top
  except ImportError:
    return list(task_names)
  held_out = set(niv2_tasks.TEST_TASKS or ())
  return [t for t in task_names if registry.get_spec(t).name not in held_out]


def _source_mixture(name: str, source: str, variants: Sequence[str],
                    inversion: bool) -> str:
  """A sub-collection's capped mixture; None when it has no tasks."""
  cap = mixtures.FLAN_CAPS[source]
  tasks = _trainable(source,
                     registry.registered_tasks(source=source,
                                               variants=variants))
  inverted = (_trainable(source, registry.registered_tasks(
      source=source, variants=('inv',))) if inversion else [])
  if not tasks and not inverted:
    return None
  if not inverted:
    return mixtures.register_capped_mixture(name, tasks, cap=cap)
  if not tasks:
    return mixtures.register_capped_mixture(name, inverted, cap=cap)
  main = mixtures.register_capped_mixture(f'{name}_main', tasks, cap=cap)
  inv = mixtures.register_capped_mixture(f'{name}_inv', inverted, cap=cap)
  return mixtures.register_weighted_mixture(
      name, {main: 1.0, inv: INVERSION_WEIGHT})


def register_flan_mixture(name: str,
                          variants: Tuple[Sequence[str], Sequence[str]],
                          inversion: bool = False) -> str:
  """Registers a Flan-weighted mixture of capped per-source sub-mixtures.

  Args:
    name: mixture name; sub-mixtures are f'{name}_{source}_submix'.
    variants: (variants for the other sources, variants for 'cot').
    inversion: add input-inversion tasks (weight 0.3 within their source).

  Returns:
    `name`, or None if no source has tasks (nothing registered).
  """
  common, cot_variants = variants
  weights = {}
  for source, weight in mixtures.FLAN_WEIGHTS.items():
    chosen = tuple(cot_variants) if source == 'cot' else tuple(common)
    if not chosen:
      continue
    sub = _source_mixture(f'{name}_{source}_{SUBMIX_SUFFIX}', source, chosen,
                          inversion and source != 'cot')
    if sub is not None:
      weights[sub] = weight
  if not weights:
    logging.info('No collection tasks registered; %s not registered.', name)
    return None
  total = sum(weights.values())
  weights = {k: v / total for k, v in weights.items()}
  WEIGHTS[name] = weights
  MIXTURES.append(mixtures.register_weighted_mixture(name, weights))
  return name


def register_held_out_mixtures(prefix: str = HELD_OUT_PREFIX
                              ) -> List[Tuple[str, str]]:
  """Held-out-cluster mixture pairs for every flan2021 cluster."""
  tasks = registry.registered_tasks(source='flan2021',
                                    variants=HELD_OUT_TRAIN_VARIANTS)
  clusters = sorted({registry.get_spec(t).cluster for t in tasks})
  pairs = []
  if len(clusters) < 2:
    return pairs
  for cluster in clusters:
    pair = mixtures.held_out_cluster_mixtures(tasks, cluster, prefix)
    MIXTURES.extend(pair)
    pairs.append(pair)
  return pairs


def _register_all() -> None:
  register_flan_mixture(PREFIX, ALL_VARIANTS, inversion=True)
  register_flan_mixture(f'{PREFIX}_zs', ZS_VARIANTS)
  register_flan_mixture(f'{PREFIX}_fs', FS_VARIANTS)
  register_flan_mixture(f'{PREFIX}_cot', COT_VARIANTS)


_register_all()
HELD_OUT_MIXTURES = register_held_out_mixtures()
