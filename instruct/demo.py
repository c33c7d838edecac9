r"""The quickstart: instruction-tune, checkpoint, evaluate base vs tuned.

    python -m instruct.demo --gin_file=gin_configs/quickstart.gin

Trains with the gin configuration given (evaluating at step 0 and at the
end), then prints one table per task: the step-0 model vs the tuned model,
on validation examples phrased with the training templates ("seen") and
with instruction templates held out of training ("unseen"). Exits non-zero
if the tuned model does not beat the step-0 model on the held-out templates.
"""

import os
import shutil
import sys
import time
from typing import Dict, Sequence

from absl import logging
import gin
import numpy as np

from instruct import evaluation
from instruct import gin_utils
from instruct import training
from instruct.evals import heldout
from instruct.evals import plots

UNSEEN_MARK = '_unseen_templates'
# Marks a MODEL_DIR as the demo's own, so a rerun may replace it.
DEMO_MARKER = '.instruct_demo'


def _headline(metrics: Dict[str, float]) -> float:
  """The task's main score: accuracy or exact match, whichever it reports."""
  for key in ('accuracy', 'exact_match'):
    if key in metrics:
      return metrics[key]
  return float(np.mean(list(metrics.values())))


def compare(base: evaluation.TaskMetrics,
            tuned: evaluation.TaskMetrics) -> str:
  """Markdown table: task | templates | metric | step 0 | tuned | delta."""
  rows = ['| task | templates | metric | step 0 | tuned | change |',
          '|---|---|---|---:|---:|---:|']
  for task in sorted(tuned):
    kind = 'unseen' if UNSEEN_MARK in task else 'seen'
    name = task.replace(UNSEEN_MARK, '')
    for metric in sorted(tuned[task]):
      b = base.get(task, {}).get(metric, float('nan'))
      t = tuned[task][metric]
      rows.append(f'| {name} | {kind} | {metric} | {b:.1f} | {t:.1f} | '
                  f'{t - b:+.1f} |')
  return '\n'.join(rows)


def group_means(metrics: evaluation.TaskMetrics) -> Dict[str, float]:
  seen = [_headline(m) for t, m in metrics.items() if UNSEEN_MARK not in t]
  unseen = [_headline(m) for t, m in metrics.items() if UNSEEN_MARK in t]
  return {'seen': float(np.mean(seen)) if seen else float('nan'),
          'unseen': float(np.mean(unseen)) if unseen else float('nan')}


def main(argv: Sequence[str]) -> None:
  args, bindings = gin_utils.parse_flags(argv, description=__doc__)
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  model_dir = gin.query_parameter('%MODEL_DIR')
  marker = os.path.join(model_dir, DEMO_MARKER)
  if os.path.isdir(model_dir) and os.listdir(model_dir):
    # Only a directory an earlier demo marked as its own is ever deleted.
    if not os.path.exists(marker):
      raise gin_utils.UserError(
          f'MODEL_DIR={model_dir} exists and was not made by the demo; '
          'choose another --gin.MODEL_DIR or remove it yourself.')
    print(f'[demo] starting afresh: removing the previous demo run in '
          f'{model_dir}')
    shutil.rmtree(model_dir)
  os.makedirs(model_dir, exist_ok=True)
  open(marker, 'w').close()
  start = time.time()
  result = gin_utils.call_configured(
      lambda: training.train(gin_config_str=gin.config_str()),  # pylint: disable=no-value-for-parameter
      training.REQUIRED_MACROS)
  eval_dir = os.path.join(model_dir, 'inference_eval')
  base = evaluation.read_results(eval_dir, 0)
  tuned = evaluation.read_results(eval_dir, result.step)
  table = compare(base, tuned)
  b, t = group_means(base), group_means(tuned)
  summary = (
      f'\nMean score over tasks (accuracy or exact match, %):\n'
      f'| templates | step 0 | tuned (step {result.step}) |\n|---|---:|---:|\n'
      f'| seen in training | {b["seen"]:.1f} | {t["seen"]:.1f} |\n'
      f'| held out of training | {b["unseen"]:.1f} | {t["unseen"]:.1f} |\n')
  train_mixture = gin.query_parameter('%MIXTURE_OR_TASK_NAME')
  protocol = heldout.seen_unseen_table(train_mixture, tuned, base=base)
  png = plots.plot_base_vs_tuned(
      base, tuned, os.path.join(model_dir, 'base_vs_tuned.png'), by='task',
      labels=('step 0', f'tuned (step {result.step})'),
      title='Quickstart: zero-shot score per eval task')
  report = (f'## Quickstart: step 0 vs tuned, zero-shot\n\n{table}\n'
            f'{summary}\n## Seen vs unseen (FLAN protocol)\n\n{protocol}\n\n'
            f'Plot: {os.path.basename(png)}\n')
  with open(os.path.join(model_dir, 'demo_report.md'), 'w') as f:
    f.write(report)
  print('\n' + report)
  print(f'[demo] finished in {time.time() - start:.0f} s; report, '
        f'checkpoints and metrics are in {model_dir}/')
  if not t['unseen'] > b['unseen']:
    raise SystemExit('[demo] FAILED: the tuned model does not beat the step-0 '
                     'model on held-out templates.')
  print('[demo] OK: the tuned model beats the step-0 model on instruction '
        'templates held out of training.')


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
