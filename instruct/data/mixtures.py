"""Collection mixtures: example caps, weights, temperature, held-out clusters.

Flan-style mixing (Chung et al. 2022; Longpre et al. 2023):

  * within a sub-collection, a task's rate is `min(train examples, cap)`,
    optionally tempered: `rate ** (1 / temperature)`
    (`register_capped_mixture`);
  * sub-collections are mixed by weight (`register_weighted_mixture`), so a
    sub-collection's share of the examples is its weight over the sum of
    weights, whatever the number or size of its tasks.

Both are plain SeqIO mixtures (`seqio.MixtureRegistry`), so
`MIXTURE_OR_TASK_NAME` works with them. SeqIO (0.0.20) computes a leaf task's
rate inside a mixture of mixtures as

    rate(task) = sum over sub-mixtures m containing task of
                 weight(m) * rate_m(task) / total_rate(m)

which is exactly "share of m = weight(m) / sum of weights, split inside m by
m's own rates", so nested mixtures are used as they are. Note that SeqIO
resolves a sub-mixture's name when the parent is built: re-registering a
sub-mixture afterwards needs the parent re-registered too.

Rates are callables evaluated when a dataset or report is built, so
registering a mixture reads no data; example counts come from
`DatasetSpec.num_examples` when declared, else are counted once and cached.

`mixture_report` lists every leaf task with its source, cluster, example
count, cap, rate and share of the mixture: the record of what a mixture
contains; `format_report` renders it as Markdown.
"""

import dataclasses
import functools
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import seqio
import tensorflow as tf

from instruct.data import registry
from instruct.errors import UserError

# Per-task example caps and sub-collection weights of the Flan 2022 collection.
FLAN_CAPS = {'flan2021': 30_000, 't0': 20_000, 'cot': 100_000, 'niv2': 5_000,
             'dialog': 200_000}
FLAN_WEIGHTS = {'flan2021': 0.4, 't0': 0.32, 'niv2': 0.2, 'cot': 0.05,
                'dialog': 0.03}
# Flan weights an input-inversion sub-mixture at 0.3 relative to its
# non-inverted sibling.
INVERSION_WEIGHT = 0.3
# Variants a held-out cluster is evaluated on (zero-shot only).
ZERO_SHOT_EVAL_VARIANTS = ('zs_opt', 'zs_noopt', 'zs_opt_rank')


@dataclasses.dataclass(frozen=True)
class MixtureInfo:
  """How a mixture registered here was defined (for reports)."""
  name: str
  kind: str  # 'capped', 'weighted', 'equal' or 'eval'
  cap: Optional[int] = None
  caps_by_source: Optional[Mapping[str, int]] = None
  temperature: float = 1.0
  weights: Optional[Mapping[str, float]] = None

  def cap_for(self, source: str) -> Optional[int]:
    if self.cap is not None:
      return self.cap
    if self.caps_by_source:
      return self.caps_by_source.get(source)
    return None


_MIXTURES: Dict[str, MixtureInfo] = {}


@dataclasses.dataclass(frozen=True)
class ReportRow:
  """One leaf task of a mixture."""
  task: str
  source: str
  cluster: str
  dataset: str
  variant: str
  examples: Optional[int]
  cap: Optional[int]
  rate: float
  share: float
  num_templates: Optional[int]


# --- Example counts. -------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _count_task_examples(task_name: str, split: str) -> int:
  task = seqio.get_mixture_or_task(task_name)
  dataset = task.source.get_dataset(split=split, shuffle=False)
  return int(dataset.reduce(tf.constant(0, tf.int64),
                            lambda n, _: n + 1).numpy())


def train_examples(task: seqio.Task, split: str = 'train') -> int:
  """Examples in a task's split: collection counts, SeqIO's, else counted."""
  if split not in task.splits:
    return 0
  if registry.is_registered(task.name):
    n = registry.num_examples(task.name, split)
    return 0 if n is None else n
  n = task.num_input_examples(split)
  if n is not None:
    return int(n)
  return _count_task_examples(task.name, split)


@dataclasses.dataclass(frozen=True)
class CappedRate:
  """A SeqIO rate function: `min(examples, cap) ** (1 / temperature)`."""
  cap: Optional[int] = None
  caps_by_source: Optional[Tuple[Tuple[str, int], ...]] = None
  temperature: float = 1.0

  def cap_for(self, task_name: str) -> Optional[int]:
    if self.cap is not None:
      return self.cap
    if self.caps_by_source and registry.is_registered(task_name):
      return dict(self.caps_by_source).get(
          registry.get_spec(task_name).source)
    return None

  def __call__(self, task: seqio.Task) -> float:
    n = train_examples(task)
    cap = self.cap_for(task.name)
    if cap is not None:
      n = min(n, cap)
    return float(n) ** (1.0 / self.temperature)


# --- Registration. ---------------------------------------------------------


def _check_names(names: Sequence[str], what: str) -> None:
  tasks = set(seqio.TaskRegistry.names())
  mixtures = set(seqio.MixtureRegistry.names())
  unknown = [n for n in names if n not in tasks and n not in mixtures]
  if unknown:
    raise UserError(f'{what}: not registered SeqIO tasks or mixtures: '
                    f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}.')


def _check_trainable(names: Sequence[str], what: str) -> None:
  evals = [n for n in names if registry.is_eval_only(n)]
  if evals:
    raise UserError(f'{what}: evaluation-only tasks cannot be in a training '
                    f'mixture: {evals[:10]}{" ..." if len(evals) > 10 else ""}.')


def _add(name: str, entries, info: MixtureInfo) -> str:
  """Registers a SeqIO mixture; the project's only `MixtureRegistry.add`."""
  if name in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(name)
  seqio.MixtureRegistry.add(name, entries)
  _MIXTURES[name] = info
  return name


def register_capped_mixture(
    name: str, task_names: Sequence[str], cap: Optional[int] = None,
    temperature: float = 1.0,
    caps_by_source: Optional[Mapping[str, int]] = None) -> str:
  """Registers a mixture with rate `min(train examples, cap) ** (1/T)`.

  Args:
    name: the mixture name.
    task_names: its tasks (or sub-mixtures, which then get the same rate
      function applied to their tasks' counts: prefer tasks here).
    cap: one cap for every task; None -> `caps_by_source`, else no cap.
    temperature: T >= 1 flattens the distribution towards small tasks.
    caps_by_source: per-source caps (e.g. FLAN_CAPS), used when `cap` is None.

  Returns:
    `name`.
  """
  task_names = list(dict.fromkeys(task_names))
  if not task_names:
    raise UserError(f'Mixture {name!r}: no tasks.')
  if temperature <= 0:
    raise UserError(f'Mixture {name!r}: temperature must be > 0, got '
                    f'{temperature}.')
  if cap is not None and cap <= 0:
    raise UserError(f'Mixture {name!r}: cap must be positive, got {cap}.')
  _check_names(task_names, f'Mixture {name!r}')
  _check_trainable(task_names, f'Mixture {name!r}')
  rate = CappedRate(
      cap=cap, temperature=float(temperature),
      caps_by_source=(tuple(sorted(caps_by_source.items()))
                      if caps_by_source else None))
  info = MixtureInfo(name, 'capped', cap=cap,
                     caps_by_source=dict(caps_by_source or {}) or None,
                     temperature=float(temperature))
  return _add(name, [(t, rate) for t in task_names], info)


def register_weighted_mixture(name: str, weights: Mapping[str, float]) -> str:
  """Registers a mixture of sub-mixtures (or tasks) with fixed weights.

  A sub-mixture's share of the examples is its weight over the sum of the
  weights; a task given directly gets its weight as its rate.
  """
  weights = {k: float(v) for k, v in weights.items()}
  if not weights:
    raise UserError(f'Mixture {name!r}: no sub-mixtures.')
  bad = {k: v for k, v in weights.items() if not v > 0}
  if bad:
    raise UserError(f'Mixture {name!r}: weights must be positive, got {bad}.')
  _check_names(list(weights), f'Mixture {name!r}')
  info = MixtureInfo(name, 'weighted', weights=dict(weights))
  return _add(name, list(weights.items()), info)


def register_equal_mixture(name: str, task_names: Sequence[str],
                           kind: str = 'equal') -> str:
  """A mixture of tasks at equal rates (rate 1.0 each, duplicates dropped).

  Args:
    name: the mixture name.
    task_names: registered tasks or mixtures.
    kind: recorded in `mixture_info` ('equal', or 'eval' for evaluation).
  """
  task_names = list(dict.fromkeys(task_names))
  if not task_names:
    raise UserError(f'Mixture {name!r}: no tasks.')
  _check_names(task_names, f'Mixture {name!r}')
  return _add(name, [(t, 1.0) for t in task_names], MixtureInfo(name, kind))


def register_eval_mixture(name: str, task_names: Sequence[str]) -> str:
  """An evaluation mixture (equal rates; evaluators score tasks separately)."""
  return register_equal_mixture(name, task_names, kind='eval')


def held_out_cluster_mixtures(
    task_names: Sequence[str], cluster: str, prefix: str,
    cap: Optional[int] = None,
    caps_by_source: Optional[Mapping[str, int]] = None,
    temperature: float = 1.0,
    eval_variants: Sequence[str] = ZERO_SHOT_EVAL_VARIANTS,
) -> Tuple[str, str]:
  """The FLAN paper's held-out-cluster protocol for one cluster.

  Training uses every task of every other cluster (any variant given);
  evaluation is zero-shot on the held-out cluster's datasets, including
  their rank-classification tasks when registered, on a non-train split.

  Args:
    task_names: registered collection tasks to draw from.
    cluster: the cluster to hold out.
    prefix: names are f'{prefix}_no_{cluster}' and f'{prefix}_{cluster}_eval'.
    cap: per-task cap for training (None -> caps_by_source, default FLAN's).
    caps_by_source: per-source caps (default FLAN_CAPS).
    temperature: training-mixture temperature.
    eval_variants: which variants of the held-out datasets to evaluate.

  Returns:
    `(train_mixture_name, eval_mixture_name)`.
  """
  infos = [registry.task_info(t) for t in dict.fromkeys(task_names)]
  clusters = sorted({i.cluster for i in infos})
  if cluster not in clusters:
    raise UserError(f'Held-out cluster {cluster!r} has no tasks among the '
                    f'{len(infos)} given; clusters: {clusters}.')
  train = [i.task for i in infos if i.cluster != cluster]
  if not train:
    raise UserError(f'Holding out {cluster!r} leaves no training tasks.')
  held_datasets = []
  for i in infos:
    if i.cluster == cluster and (i.source, i.dataset) not in held_datasets:
      held_datasets.append((i.source, i.dataset))
  evals = []
  for source, dataset in held_datasets:
    for variant in eval_variants:
      name = registry.task_name(source, dataset, variant)
      if name not in seqio.TaskRegistry.names():
        continue
      if any(s != 'train' for s in seqio.get_mixture_or_task(name).splits):
        evals.append(name)
  if not evals:
    raise UserError(f'Held-out cluster {cluster!r}: no zero-shot task with '
                    'an evaluation split.')
  train_name = register_capped_mixture(
      f'{prefix}_no_{cluster}', train, cap=cap,
      caps_by_source=(caps_by_source if caps_by_source is not None
                      else FLAN_CAPS),
      temperature=temperature)
  eval_name = register_eval_mixture(f'{prefix}_{cluster}_eval', evals)
  return train_name, eval_name


# --- Reports. --------------------------------------------------------------


def mixture_info(name: str) -> Optional[MixtureInfo]:
  return _MIXTURES.get(name)


def _direct_parents(mixture: seqio.Mixture, out: Dict[str, str]) -> None:
  """Maps each leaf task to the innermost mixture that lists it directly."""
  for name in mixture.rate_per_task_name:
    sub = seqio.get_mixture_or_task(name)
    if isinstance(sub, seqio.Mixture):
      _direct_parents(sub, out)
    else:
      out.setdefault(name, mixture.name)


def mixture_report(name: str) -> List[ReportRow]:
  """Every leaf task of a mixture (or a single task) with rate and share."""
  provider = seqio.get_mixture_or_task(name)
  if isinstance(provider, seqio.Task):
    tasks, rates, parents = [provider], [1.0], {}
  else:
    tasks = list(provider.tasks)
    rates = [float(provider.get_rate(t)) for t in tasks]
    parents = {}
    _direct_parents(provider, parents)
  total = sum(rates)
  rows = []
  for task, rate in zip(tasks, rates):
    parent = _MIXTURES.get(parents.get(task.name, ''))
    if registry.is_registered(task.name):
      info = registry.task_info(task.name)
      source, cluster, dataset = info.source, info.cluster, info.dataset
      variant, num_templates = info.variant, info.num_templates
    else:
      source = cluster = dataset = variant = ''
      num_templates = None
    cap = parent.cap_for(source) if parent is not None else None
    rows.append(ReportRow(
        task=task.name, source=source, cluster=cluster, dataset=dataset,
        variant=variant, examples=train_examples(task), cap=cap, rate=rate,
        share=rate / total if total else 0.0, num_templates=num_templates))
  return rows


def shares_by(rows: Sequence[ReportRow], field: str = 'source'
             ) -> Dict[str, float]:
  """Total share per value of a row field (e.g. per source or cluster)."""
  out: Dict[str, float] = {}
  for row in rows:
    key = getattr(row, field)
    out[key] = out.get(key, 0.0) + row.share
  return out


def _fmt(value) -> str:
  if value is None:
    return '-'
  if isinstance(value, float):
    return f'{value:,.6g}'
  if isinstance(value, int):
    return f'{value:,}'
  return str(value)


def format_report(rows: Sequence[ReportRow]) -> str:
  """A Markdown table of a report, then the share of each source."""
  header = ('task', 'source', 'cluster', 'dataset', 'variant', 'examples',
            'cap', 'rate', 'share', 'templates')
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '---|' * len(header)]
  for r in rows:
    cells = (r.task, r.source, r.cluster, r.dataset, r.variant,
             _fmt(r.examples), _fmt(r.cap), _fmt(r.rate),
             f'{100 * r.share:.3f}%', _fmt(r.num_templates))
    lines.append('| ' + ' | '.join(cells) + ' |')
  datasets = {(r.source, r.dataset) for r in rows}
  lines.append('')
  lines.append(f'{len(rows)} tasks, {len(datasets)} datasets, '
               f'{len({r.cluster for r in rows})} clusters.')
  lines.append('')
  lines.append('| source | datasets | tasks | share |')
  lines.append('|---|---|---|---|')
  for source, share in sorted(shares_by(rows).items(), key=lambda kv: -kv[1]):
    n_tasks = sum(r.source == source for r in rows)
    n_data = len({d for s, d in datasets if s == source})
    lines.append(f'| {source or "(other)"} | {n_data} | {n_tasks} | '
                 f'{100 * share:.2f}% |')
  return '\n'.join(lines)
