r"""PNG plots of evaluation results (`metrics-<step>.json` files).

    # Score per cluster (or task): base vs tuned, grouped bars.
    python -m instruct.evals.plots bars --base /tmp/base/eval/metrics-0.json \
      --tuned /tmp/run/eval/metrics-2000.json --out /tmp/bars.png
    # Score vs training step, from every metrics-<step>.json in a directory.
    python -m instruct.evals.plots steps --eval_dir /tmp/run/eval \
      --out /tmp/steps.png

The files are those `instruct.evaluation.write_results` writes:
`{"step": N, "metrics": {task: {metric: value}}}`. A task's score is its
headline metric (`instruct.evals.heldout.headline`) unless `--metric` names
one.
"""

import argparse
import json
import os
import re
import sys
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from instruct.errors import UserError  # pylint: disable=g-import-not-at-top
from instruct.evals import heldout  # pylint: disable=g-import-not-at-top

TaskMetrics = Mapping[str, Mapping[str, float]]
_METRICS_RE = re.compile(r'^metrics-(\d+)\.json$')


def read_metrics_file(path: str) -> Tuple[int, Dict[str, Dict[str, float]]]:
  """(step, {task: {metric: value}}) of one metrics-<step>.json file."""
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except FileNotFoundError:
    raise UserError(f'{path}: no such metrics file.') from None
  if not text.strip():
    raise UserError(f'{path}: empty metrics file (expected {{"step": N, '
                    '"metrics": ...}} as written by instruct.eval; was the '
                    'evaluation interrupted?).')
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise UserError(f'{path}: not valid JSON ({e.msg}).') from None
  if not isinstance(data, dict) or not isinstance(data.get('metrics'), dict):
    raise UserError(f'{path}: expected {{"step": N, "metrics": {{task: '
                    '{metric: value}}}} as written by instruct.eval.')
  if not data['metrics']:
    raise UserError(f'{path}: no task metrics in the file.')
  return int(data.get('step', -1)), data['metrics']


def read_series(eval_dir: str) -> Dict[int, Dict[str, Dict[str, float]]]:
  """{step: metrics} from every metrics-<step>.json in `eval_dir`."""
  if not os.path.isdir(eval_dir):
    raise UserError(f'{eval_dir}: no such evaluation directory.')
  series = {}
  for name in os.listdir(eval_dir):
    m = _METRICS_RE.match(name)
    if m:
      series[int(m[1])] = read_metrics_file(os.path.join(eval_dir, name))[1]
  if not series:
    raise UserError(f'{eval_dir}: no metrics-<step>.json files (written by '
                    'instruct.eval).')
  return dict(sorted(series.items()))


def grouped_scores(metrics: TaskMetrics, by: str = 'cluster',
                   metric: Optional[str] = None,
                   group_fn: Optional[Callable[[str], Optional[str]]] = None
                   ) -> Dict[str, float]:
  """Mean headline score per cluster (`by='cluster'`) or per task."""
  if by not in ('cluster', 'task'):
    raise UserError(f'--by: expected cluster or task, got {by!r}.')
  group_fn = group_fn or (
      (lambda t: t) if by == 'task' else
      (lambda t: heldout.cluster_of(t) or t))
  groups: Dict[str, list] = {}
  for task, m in metrics.items():
    groups.setdefault(group_fn(task), []).append(heldout.headline(m, metric))
  # A task without the requested metric counts as missing, not as zero.
  return {g: (float(np.mean([x for x in v if not np.isnan(x)]))
              if any(not np.isnan(x) for x in v) else float('nan'))
          for g, v in sorted(groups.items())}


def plot_base_vs_tuned(base: TaskMetrics, tuned: TaskMetrics, out_png: str,
                       by: str = 'cluster', metric: Optional[str] = None,
                       labels: Sequence[str] = ('base', 'tuned'),
                       title: Optional[str] = None) -> str:
  """Grouped bars: score per cluster/task, base next to tuned. Returns path."""
  b = grouped_scores(base, by, metric)
  t = grouped_scores(tuned, by, metric)
  names = sorted(set(b) | set(t))
  x = np.arange(len(names))
  width = 0.4
  fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.5))
  for offset, scores, label in ((-width / 2, b, labels[0]),
                                (width / 2, t, labels[1])):
    ax.bar(x + offset, [scores.get(n, np.nan) for n in names], width,
           label=label)
  ax.set_xticks(x)
  ax.set_xticklabels(names, rotation=45, ha='right')
  ax.set_ylabel(metric or 'score (headline metric)')
  ax.set_title(title or f'Score per {by}: {labels[0]} vs {labels[1]}')
  ax.legend()
  fig.tight_layout()
  return _save(fig, out_png)


def plot_score_vs_step(series: Mapping[int, TaskMetrics], out_png: str,
                       metric: Optional[str] = None,
                       tasks: Optional[Sequence[str]] = None,
                       title: Optional[str] = None) -> str:
  """One line per task plus their mean, score against training step."""
  steps = sorted(series)
  names = sorted(tasks or {t for m in series.values() for t in m})
  fig, ax = plt.subplots(figsize=(8, 4.5))
  table = np.array([[heldout.headline(series[s][n], metric)
                     if n in series[s] else np.nan for s in steps]
                    for n in names])
  for n, row in zip(names, table):
    ax.plot(steps, row, marker='.', linewidth=1, alpha=0.6, label=n)
  ax.plot(steps, np.nanmean(table, axis=0), color='black', linewidth=2.5,
          marker='o', label='mean')
  ax.set_xlabel('training step')
  ax.set_ylabel(metric or 'score (headline metric)')
  ax.set_title(title or 'Score vs training step')
  if len(names) <= 12:
    ax.legend(fontsize='small')
  fig.tight_layout()
  return _save(fig, out_png)


def plot_robustness(summary: Mapping[str, Any],
                    scores: Mapping[str, Mapping[str, float]], out_png: str,
                    title: Optional[str] = None) -> str:
  """Per task: every wording's score (dots: templates; crosses: paraphrases),
  the mean (bar) and the worst-to-best range. Returns the path."""
  names = list(summary)
  x = np.arange(len(names))
  fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4.5))
  means = [summary[n].mean for n in names]
  ax.bar(x, means, 0.6, color='lightsteelblue', label='mean')
  ax.vlines(x, [summary[n].worst for n in names],
            [summary[n].best for n in names], color='black', linewidth=2,
            label='worst to best')
  for i, n in enumerate(names):
    for key, value in scores[n].items():
      para = '/p' in str(key)
      ax.plot(i + (0.12 if para else -0.12), value, 'x' if para else 'o',
              color='tab:orange' if para else 'tab:blue', markersize=4,
              alpha=0.7)
  ax.plot([], [], 'o', color='tab:blue', label='template')
  ax.plot([], [], 'x', color='tab:orange', label='paraphrase')
  ax.set_xticks(x)
  ax.set_xticklabels(names, rotation=45, ha='right')
  ax.set_ylabel('score (headline metric)')
  ax.set_title(title or 'Score per wording of the instruction')
  ax.legend(fontsize='small')
  fig.tight_layout()
  return _save(fig, out_png)


def _save(fig, out_png: str) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
  fig.savefig(out_png, dpi=100)
  plt.close(fig)
  return out_png


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m instruct.evals.plots', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = parser.add_subparsers(dest='command', required=True)
  bars = sub.add_parser('bars', help='score per cluster/task, base vs tuned')
  bars.add_argument('--base', required=True, help='metrics-<step>.json')
  bars.add_argument('--tuned', required=True, help='metrics-<step>.json')
  bars.add_argument('--by', default='cluster', choices=('cluster', 'task'))
  steps = sub.add_parser('steps', help='score vs training step')
  steps.add_argument('--eval_dir', required=True)
  for p in (bars, steps):
    p.add_argument('--out', required=True, help='PNG file to write')
    p.add_argument('--metric', help='metric to plot (default: headline)')
  args = parser.parse_args(argv)
  try:
    if args.command == 'bars':
      path = plot_base_vs_tuned(read_metrics_file(args.base)[1],
                                read_metrics_file(args.tuned)[1], args.out,
                                by=args.by, metric=args.metric)
    else:
      path = plot_score_vs_step(read_series(args.eval_dir), args.out,
                                metric=args.metric)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'Wrote {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
