"""Prompt robustness: how much a task's score depends on the instruction wording.

Score the same examples once per template (or per paraphrased instruction)
and summarise each task's scores: mean, worst (the score a user who picks an
unlucky wording gets), best, spread (best - worst) and standard deviation
(population, ddof=0, over templates). A robust model has a small spread.

`register_builtin_template_tasks` registers one SeqIO validation task per
template of a built-in task (`builtin_<name>_template<i>`, seen and held-out
templates alike) and a mixture of them; evaluate that mixture and pass the
results to `scores_from_metrics` and `summarize`.
"""

import dataclasses
import functools
import re
from typing import Dict, Mapping, Optional

import numpy as np
import seqio

from instruct import metrics as metrics_lib
from instruct.data import builtin
from instruct.data import preprocessors
from instruct.errors import UserError
from instruct.evals import heldout

TemplateScores = Mapping[str, Mapping[str, float]]  # task -> {template: score}
TEMPLATE_TASK_RE = re.compile(r'^(?P<task>.+)_template(?P<template>\d+)$')


@dataclasses.dataclass(frozen=True)
class RobustnessSummary:
  """One task's scores across templates."""
  num_templates: int
  mean: float
  worst: float
  best: float
  spread: float  # best - worst.
  std: float  # Population standard deviation over templates.
  worst_template: str


def summarize(scores: TemplateScores) -> Dict[str, RobustnessSummary]:
  """Mean, worst, best, spread and std per task.

  Raises UserError for a task with no scores or a non-finite score (a
  missing template must not silently shrink the spread).
  """
  out = {}
  for task in sorted(scores):
    per = dict(scores[task])
    if not per:
      raise UserError(f'Task {task}: no per-template scores.')
    bad = [t for t, v in per.items() if not np.isfinite(v)]
    if bad:
      raise UserError(f'Task {task}: non-finite score for template(s) {bad}.')
    values = np.array([per[t] for t in per], dtype=np.float64)
    worst_template = min(per, key=lambda t: (per[t], str(t)))
    out[task] = RobustnessSummary(
        num_templates=len(values), mean=float(values.mean()),
        worst=float(values.min()), best=float(values.max()),
        spread=float(values.max() - values.min()), std=float(values.std()),
        worst_template=str(worst_template))
  return out


def markdown_table(summary: Mapping[str, RobustnessSummary]) -> str:
  lines = ['| task | templates | mean | worst | best | spread | std | '
           'worst template |', '|---|---:|---:|---:|---:|---:|---:|---|']
  for task, s in summary.items():
    lines.append(f'| {task} | {s.num_templates} | {s.mean:.2f} | '
                 f'{s.worst:.2f} | {s.best:.2f} | {s.spread:.2f} | '
                 f'{s.std:.2f} | {s.worst_template} |')
  return '\n'.join(lines)


def scores_from_metrics(results: Mapping[str, Mapping[str, float]],
                        metric: Optional[str] = None,
                        pattern: re.Pattern = TEMPLATE_TASK_RE
                        ) -> Dict[str, Dict[str, float]]:
  """{task: {template: score}} from results of per-template tasks.

  Task names are matched with `pattern` (groups `task` and `template`);
  results of other tasks are ignored.
  """
  out: Dict[str, Dict[str, float]] = {}
  for name, m in results.items():
    match = pattern.match(name)
    if match:
      out.setdefault(match['task'], {})[match['template']] = heldout.headline(
          m, metric)
  if not out:
    raise UserError(f'No results of per-template tasks (names matching '
                    f'{pattern.pattern!r}) among {sorted(results)[:5]}...')
  return out


def register_builtin_template_tasks(task_name: str) -> Dict[int, str]:
  """One validation task per template of a built-in task, and a mixture.

  Tasks are `builtin_<task_name>_template<i>` for every template index i
  (held-out templates included), each scored with the task's usual
  exact-match metric over the same validation examples; the mixture is
  `builtin_<task_name>_all_templates`. Re-registering replaces them.
  Returns {template index: task name}.
  """
  # Imported here: the module registers every built-in task on import.
  import tasks.builtin as builtin_tasks  # pylint: disable=g-import-not-at-top
  if task_name not in builtin.TASK_NAMES:
    raise UserError(f'{task_name!r} is not a built-in task (known: '
                    f'{", ".join(builtin.TASK_NAMES)}).')
  task = builtin.get_task(task_name)
  names = {}
  for i in range(len(task.templates)):
    name = f'builtin_{task_name}_template{i}'
    if name in seqio.TaskRegistry.names():
      seqio.TaskRegistry.remove(name)
    seqio.TaskRegistry.add(
        name,
        source=builtin_tasks._source(task_name, ('validation',)),  # pylint: disable=protected-access
        preprocessors=[
            functools.partial(preprocessors.apply_templates,
                              templates=task.templates, template_ids=[i],
                              task_name=task_name),
            seqio.preprocessors.tokenize,
            seqio.CacheDatasetPlaceholder(),
            seqio.preprocessors.append_eos_after_trim,
        ],
        output_features=builtin_tasks.OUTPUT_FEATURES,
        metric_fns=[metrics_lib.exact_match])
    names[i] = name
  mixture = f'builtin_{task_name}_all_templates'
  if mixture in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(mixture)
  seqio.MixtureRegistry.add(mixture, list(names.values()), default_rate=1.0)
  return names
