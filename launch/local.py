r"""Run a job on this machine: train, then (optionally) evaluate.

    python -m launch.local --model-dir=/tmp/run -- \
        --gin_file=gin_configs/quickstart.gin --gin.TRAIN_STEPS=20

    # Also evaluate every checkpoint with instruct.eval afterwards:
    python -m launch.local --model-dir=/tmp/run \
        --eval_gin_file=models/t5_1_1/tiny.gin \
        --eval_gin_file=models/vocab/byte.gin --eval_gin_file=runs/eval.gin \
        --eval_gin.MIXTURE_OR_TASK_NAME="'builtin_instructions_eval'" \
        --eval_gin.TASK_FEATURE_LENGTHS="{'inputs': 192, 'targets': 32}" \
        -- --gin_file=gin_configs/quickstart.gin --gin.TRAIN_STEPS=20

The trainer evaluates at the end of training when its gin files name an eval
mixture (`MODEL_DIR/inference_eval/metrics-<step>.json`); the optional
`instruct.eval` step writes `MODEL_DIR/eval/metrics-<step>.json`. This is the
backend `launch.sweep` uses for local runs. By default each step is a
subprocess (`python -m instruct.train ...`, its output in MODEL_DIR/*.log);
`--in-process` runs it in this Python process instead, which skips the
start-up cost (notebooks, tests).
"""

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

if __package__ in (None, ''):  # Run as `python launch/local.py`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from launch import common  # pylint: disable=g-import-not-at-top

UserError = common.UserError
METRICS_SUBDIRS = ('eval', 'inference_eval')  # Preferred first.
_METRICS_RE = re.compile(r'metrics-(\d+)\.json$')


@dataclasses.dataclass
class LocalJob:
  """A train (+ eval) job on this machine.

  Attributes:
    model_dir: MODEL_DIR of the run (eval results go to model_dir/eval).
    train_args: `instruct.train` flags (--gin_file, --gin.NAME=VALUE, ...),
      without MODEL_DIR.
    eval_args: `instruct.eval` flags, without CHECKPOINT_PATH and
      EVAL_OUTPUT_DIR; empty: no separate evaluation.
  """
  model_dir: str
  train_args: Sequence[str]
  eval_args: Sequence[str] = ()

  def train_argv(self) -> List[str]:
    return [*self.train_args, common.model_dir_flag(self.model_dir)]

  def eval_argv(self) -> List[str]:
    if not self.eval_args:
      return []
    return [*self.eval_args,
            f'--gin.CHECKPOINT_PATH="{self.model_dir}"',
            f'--gin.EVAL_OUTPUT_DIR="{os.path.join(self.model_dir, "eval")}"']

  def steps(self, python: str = sys.executable) -> List[common.Step]:
    """The commands, as `python -m ...` lines (what a dry run prints)."""
    steps = [common.Step([python, '-m', 'instruct.train', *self.train_argv()],
                         comment=f'Train into {self.model_dir}.')]
    if self.eval_args:
      steps.append(common.Step([python, '-m', 'instruct.eval',
                                *self.eval_argv()],
                               comment='Evaluate its checkpoints.'))
    return steps


def _run_in_process(module: str, argv: Sequence[str]) -> int:
  """Runs `module.main(argv)` here, with a clean gin config before and after."""
  import importlib  # pylint: disable=g-import-not-at-top
  import gin  # pylint: disable=g-import-not-at-top
  from instruct import gin_utils  # pylint: disable=g-import-not-at-top
  entry = importlib.import_module(module)
  gin.clear_config()
  try:
    return gin_utils.run_main(entry.main, list(argv))
  finally:
    gin.clear_config()


def _run_subprocess(module: str, argv: Sequence[str], log_path: str) -> int:
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  env = dict(os.environ)
  env['PYTHONPATH'] = common.REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  with open(log_path, 'w', encoding='utf-8') as log:
    return subprocess.run([sys.executable, '-m', module, *argv], stdout=log,
                          stderr=subprocess.STDOUT, cwd=common.REPO_ROOT,
                          env=env, check=False).returncode


def _tail(path: str, lines: int = 15) -> str:
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      return ''.join(f.readlines()[-lines:])
  except OSError:
    return ''


def run(job: LocalJob, in_process: bool = False) -> Dict[str, object]:
  """Trains (and evaluates) `job`; returns its latest eval metrics.

  Returns:
    {'step': N, 'metrics': {task: {metric: value}}, 'path': metrics file}.

  Raises:
    UserError: a step failed (its log's last lines are in the message) or
      the run wrote no metrics.
  """
  for module, argv, log_name in (('instruct.train', job.train_argv(),
                                  'train.log'),
                                 ('instruct.eval', job.eval_argv(),
                                  'eval.log')):
    if not argv:
      continue
    log_path = os.path.join(job.model_dir, log_name)
    print(f'[launch.local] {module} -> {job.model_dir}'
          f'{"" if in_process else " (log: " + log_path + ")"}', flush=True)
    code = (_run_in_process(module, argv) if in_process else
            _run_subprocess(module, argv, log_path))
    if code:
      raise UserError(f'{module} failed (exit status {code}) for '
                      f'{job.model_dir}.\n{_tail(log_path)}')
  return latest_metrics(job.model_dir)


def metrics_files(model_dir: str) -> List[Tuple[int, str]]:
  """(step, path) of the metrics files of the preferred eval directory."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for sub in METRICS_SUBDIRS:
    pattern = os.path.join(model_dir, sub, 'metrics-*.json')
    found = []
    for path in tf.io.gfile.glob(pattern):
      m = _METRICS_RE.search(path)
      if m:
        found.append((int(m.group(1)), path))
    if found:
      return sorted(found)
  return []


def latest_metrics(model_dir: str) -> Dict[str, object]:
  """The newest `metrics-<step>.json` of a run (local or gs://)."""
  from instruct import evaluation  # pylint: disable=g-import-not-at-top
  found = metrics_files(model_dir)
  if not found:
    raise UserError(
        f'{model_dir}: no metrics-<step>.json in '
        f'{" or ".join(METRICS_SUBDIRS)}/. Give the training gin an eval '
        'mixture (EVAL_MIXTURE_OR_TASK_NAME) or pass --eval_gin_file.')
  step, path = found[-1]
  return {'step': step, 'path': path,
          'metrics': evaluation.read_results(os.path.dirname(path), step)}


def split_eval_flags(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
  """Pulls `--eval_gin_file=X` / `--eval_gin.N=V` out as instruct.eval flags."""
  rest, eval_args = [], []
  for arg in argv:
    if arg.startswith('--eval_gin_file='):
      eval_args.append('--gin_file=' + arg[len('--eval_gin_file='):])
    elif arg.startswith('--eval_gin.'):
      eval_args.append('--gin.' + arg[len('--eval_gin.'):])
    elif arg.startswith('--eval_gin_search_paths='):
      eval_args.append('--gin_search_paths=' +
                       arg[len('--eval_gin_search_paths='):])
    else:
      rest.append(arg)
  return rest, eval_args


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  own, train_args = ((argv[:argv.index('--')], argv[argv.index('--') + 1:])
                     if '--' in argv else (argv, []))
  own, eval_args = split_eval_flags(own)
  parser = argparse.ArgumentParser(
      prog='python -m launch.local', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model-dir', required=True)
  parser.add_argument('--in-process', action='store_true')
  parser.add_argument('--dry-run', action='store_true')
  args = parser.parse_args(own)
  try:
    if not train_args:
      raise UserError('Give the training arguments after --, e.g. -- '
                      '--gin_file=gin_configs/quickstart.gin')
    job = LocalJob(args.model_dir, train_args, eval_args)
    if args.dry_run:
      print(common.format_plan(job.steps()), flush=True)
      return 0
    result = run(job, in_process=args.in_process)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  from instruct import evaluation  # pylint: disable=g-import-not-at-top
  print(evaluation.markdown_table(result['metrics'],
                                  title=f'{args.model_dir} (step '
                                  f'{result["step"]})'), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
