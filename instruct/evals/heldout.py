"""Held-out evaluation report: seen vs unseen task clusters (FLAN protocol).

The FLAN paper's question is whether instruction tuning helps on *clusters*
of tasks the model never trained on. Given the training mixture and eval
results `{task: {metric: value}}`, each eval task is put in one group:

  * `unseen cluster`: its cluster has no task in the training mixture;
  * `seen cluster, unseen templates`: the cluster was trained on, but the
    task is phrased with held-out instruction templates (the quickstart's
    `builtin_<name>_unseen_templates` tasks);
  * `seen`: cluster and templates both appeared in training.

A task's cluster comes from `instruct.data.registry.task_info(task).cluster`
for collection tasks, else from the built-in task it is named after
(`builtin_<name>...`, see `instruct.data.builtin`). Tasks whose cluster is
unknown are listed as such, never dropped.
"""

import collections
from typing import Dict, List, Mapping, Optional, Sequence, Set

import numpy as np

from instruct import input_pipeline
from instruct.data import builtin
from instruct.data import registry

TaskMetrics = Mapping[str, Mapping[str, float]]
UNSEEN_TEMPLATES_MARK = '_unseen_templates'
SEEN = 'seen'
SEEN_CLUSTER_UNSEEN_TEMPLATES = 'seen cluster, unseen templates'
UNSEEN_CLUSTER = 'unseen cluster'
UNKNOWN = 'unknown cluster'
GROUPS = (SEEN, SEEN_CLUSTER_UNSEEN_TEMPLATES, UNSEEN_CLUSTER, UNKNOWN)
# Headline metric of a task, first match wins; else the mean of its metrics.
HEADLINE_METRICS = ('accuracy', 'exact_match', 'multiple_choice_grade',
                    'exact_str_match', 'f1', 'rougeLsum', 'rougeL', 'bleu')
_BUILTIN_PREFIX = 'builtin_'


def headline(metrics: Mapping[str, float],
             metric: Optional[str] = None) -> float:
  """The task's main score: `metric` if given, else the first of
  HEADLINE_METRICS it reports, else the mean of all its metrics."""
  if metric is not None:
    return float(metrics.get(metric, float('nan')))
  for key in HEADLINE_METRICS:
    if key in metrics:
      return float(metrics[key])
  return float(np.mean(list(metrics.values()))) if metrics else float('nan')


def cluster_of(task: str) -> Optional[str]:
  """The cluster of a SeqIO task name, or None if it cannot be told."""
  if registry.is_registered(task):
    return registry.task_info(task).cluster
  if task.startswith(_BUILTIN_PREFIX):
    rest = task[len(_BUILTIN_PREFIX):]
    # Longest built-in name that the rest is, or starts with plus '_'.
    for name in sorted(builtin.TASK_NAMES, key=len, reverse=True):
      if rest == name or rest.startswith(name + '_'):
        return builtin.get_task(name).cluster
  return None


def leaf_tasks(mixture_or_task: str) -> List[str]:
  """Task names of a registered mixture (recursively) or the task itself."""
  obj = input_pipeline.get_mixture_or_task(mixture_or_task)  # Clear error.
  tasks = getattr(obj, 'tasks', None)
  if tasks is None:
    return [obj.name]
  return sorted(t.name for t in tasks)


def training_clusters(train_mixture: str) -> Set[str]:
  """Clusters with at least one task in the training mixture."""
  return {c for c in map(cluster_of, leaf_tasks(train_mixture)) if c}


def group_of(task: str, trained: Set[str]) -> str:
  cluster = cluster_of(task)
  if cluster is None:
    return UNKNOWN
  if cluster not in trained:
    return UNSEEN_CLUSTER
  if UNSEEN_TEMPLATES_MARK in task:
    return SEEN_CLUSTER_UNSEEN_TEMPLATES
  return SEEN


def split_seen_unseen(train_mixture: str, results: TaskMetrics
                      ) -> Dict[str, List[str]]:
  """{group: [eval tasks]} for the groups in GROUPS that have tasks."""
  trained = training_clusters(train_mixture)
  out: Dict[str, List[str]] = collections.defaultdict(list)
  for task in sorted(results):
    out[group_of(task, trained)].append(task)
  return {g: out[g] for g in GROUPS if g in out}


def group_means(train_mixture: str, results: TaskMetrics,
                metric: Optional[str] = None) -> Dict[str, float]:
  """Mean headline score per group (unweighted over tasks)."""
  return {g: float(np.mean([headline(results[t], metric) for t in tasks]))
          for g, tasks in split_seen_unseen(train_mixture, results).items()}


def seen_unseen_table(train_mixture: str, results: TaskMetrics,
                      base: Optional[TaskMetrics] = None,
                      metric: Optional[str] = None) -> str:
  """Markdown: a summary per group, then one row per eval task.

  With `base` (e.g. the untuned model's results on the same tasks), each
  row also shows the base score and the change.
  """
  groups = split_seen_unseen(train_mixture, results)
  trained = training_clusters(train_mixture)
  cols = ['group', 'tasks', 'mean score'] + (
      ['base', 'change'] if base is not None else [])
  lines = [f'### Held-out evaluation (trained on {train_mixture}: '
           f'{len(trained)} clusters)', '',
           '| ' + ' | '.join(cols) + ' |',
           '|---|---:|---:|' + ('---:|---:|' if base is not None else '')]

  def _cells(tasks: Sequence[str]) -> List[str]:
    tuned = float(np.mean([headline(results[t], metric) for t in tasks]))
    cells = [f'{tuned:.2f}']
    if base is not None:
      b = float(np.mean([headline(base.get(t, {}), metric) for t in tasks]))
      cells += [f'{b:.2f}', f'{tuned - b:+.2f}']
    return cells

  for g, tasks in groups.items():
    lines.append(f'| {g} | {len(tasks)} | ' + ' | '.join(_cells(tasks)) + ' |')
  lines += ['', '| task | cluster | group | score |' + (
      ' base | change |' if base is not None else ''),
            '|---|---|---|---:|' + ('---:|---:|' if base is not None else '')]
  for g, tasks in groups.items():
    for t in tasks:
      lines.append(f'| {t} | {cluster_of(t) or "?"} | {g} | ' +
                   ' | '.join(_cells([t])) + ' |')
  return '\n'.join(lines)
