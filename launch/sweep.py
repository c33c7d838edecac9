r"""Sweeps: a small grid of gin overrides, one run each, one combined table.

    # Two runs on this machine, in sequence (train, then eval), then a table:
    python -m launch.sweep --sweep-dir=/tmp/sweep \
        --gin_file=gin_configs/quickstart.gin \
        --grid='TRAIN_STEPS=[100,200]' --grid='BATCH_SIZE=[16,32]'

    # A ready-made ablation (its gin files, grid and overrides in one file):
    python -m launch.sweep --sweep-dir=/tmp/zs_fs \
        --grid-file=gin_configs/ablations/zero_vs_few_shot.yaml

    # One TPU job per run instead (printed with --dry-run):
    python -m launch.sweep --backend=tpu --dry-run \
        --sweep-dir=gs://BUCKET/sweeps/zs_fs --tpu-zone=us-central2-b \
        --tpu-accelerator-type=v4-32 --grid-file=...

    # Later: gather the TPU runs' results into the table.
    python -m launch.sweep --gather-only --sweep-dir=gs://BUCKET/sweeps/zs_fs

`--grid NAME=[v1, v2]` takes Python literals (strings quoted); a grid file
(YAML or JSON) may also tie several bindings into one axis:

    gin_file: [gin_configs/ablations/held_out_clusters.gin]
    overrides: {TRAIN_STEPS: 2000}
    grid:
      held_out:              # one axis, several bindings per value
        - {_label: nli, MIXTURE_OR_TASK_NAME: builtin_instructions_no_nli,
           EVAL_MIXTURE_OR_TASK_NAME: builtin_instructions_nli_eval}
        - ...
      RANDOM_SEED: [0, 1]    # a plain axis

Every run's overrides are checked before anything is launched: a binding of
a configurable that does not exist, a macro no gin file defines (the
override would name nothing) or a mixture that is not registered is one
clear error. Results: SWEEP_DIR/results.md (Markdown), results.csv and
results.png (mean headline score per run), plus sweep.json (the runs).
"""

import argparse
import ast
import csv
import dataclasses
import io
import itertools
import json
import os
import re
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

if __package__ in (None, ''):  # Run as `python launch/sweep.py`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from launch import common  # pylint: disable=g-import-not-at-top
from launch import local  # pylint: disable=g-import-not-at-top
from launch import tpu  # pylint: disable=g-import-not-at-top

UserError = common.UserError
LABEL_KEY = '_label'
_NAME_RE = re.compile(r'^[A-Za-z_][\w./]*$')


# -----------------------------------------------------------------------------
# The grid.
# -----------------------------------------------------------------------------


def gin_literal(value: Any) -> str:
  """A Python value as gin text (`'abc'`, `10`, `{'inputs': 64}`, `None`).

  Strings starting with `@` or `%` are gin references/macros and pass as is.
  """
  if isinstance(value, str) and value[:1] in ('@', '%'):
    return value
  return repr(value)


@dataclasses.dataclass(frozen=True)
class Run:
  """One point of the grid."""
  index: int
  name: str
  overrides: Tuple[Tuple[str, str], ...]  # (binding name, gin text) pairs.
  labels: Tuple[Tuple[str, str], ...]  # (axis, value label) for the table.

  def gin_flags(self) -> List[str]:
    return [f'--gin.{k}={v}' for k, v in self.overrides]


def _check_name(name: str, where: str) -> str:
  name = name.strip()
  if not _NAME_RE.match(name):
    raise UserError(f'{where}: {name!r} is not a gin binding name (expected '
                    'a MACRO or configurable.param, e.g. TRAIN_STEPS or '
                    'network.T5Config.emb_dim).')
  return name


def parse_grid_flag(flag: str) -> Tuple[str, List[Any]]:
  """`NAME=[v1, v2]` -> (NAME, [v1, v2])."""
  name, sep, values = flag.partition('=')
  if not sep:
    raise UserError(f'--grid={flag!r}: expected NAME=[value, ...], e.g. '
                    "--grid='TRAIN_STEPS=[10, 20]'.")
  name = _check_name(name, f'--grid={flag!r}')
  try:
    parsed = ast.literal_eval(values.strip())
  except (ValueError, SyntaxError):
    raise UserError(f'--grid={flag!r}: {values!r} is not a Python list '
                    "literal (quote strings: ['a', 'b']).") from None
  if not isinstance(parsed, (list, tuple)) or not parsed:
    raise UserError(f'--grid={flag!r}: expected a non-empty list of values.')
  return name, list(parsed)


def _slug(text: str, limit: int = 40) -> str:
  return re.sub(r'[^A-Za-z0-9._-]+', '-', text).strip('-')[:limit] or 'x'


def _axis_points(axis: str, values: Sequence[Any], where: str
                ) -> List[Tuple[List[Tuple[str, str]], str]]:
  """[(overrides, label)] for one axis."""
  points = []
  for i, value in enumerate(values):
    if isinstance(value, Mapping):
      value = dict(value)
      label = str(value.pop(LABEL_KEY, f'{axis}{i}'))
      if not value:
        raise UserError(f'{where}: axis {axis!r} value {i} sets nothing.')
      points.append(([(_check_name(k, f'{where}: axis {axis!r}'),
                       gin_literal(v)) for k, v in value.items()], label))
    else:
      name = _check_name(axis, where)
      points.append(([(name, gin_literal(value))], str(value)))
  return points


def expand(grid: Mapping[str, Sequence[Any]],
           where: str = 'grid') -> List[Run]:
  """The cartesian product of the axes, in order (the last axis fastest)."""
  if not grid:
    raise UserError(f'{where}: no axes; give --grid or a grid file.')
  axes = []
  for axis, values in grid.items():
    if not isinstance(values, (list, tuple)) or not values:
      raise UserError(f'{where}: axis {axis!r} needs a non-empty list.')
    axes.append((axis, _axis_points(axis, values, where)))
  runs = []
  for i, combo in enumerate(itertools.product(*[p for _, p in axes])):
    overrides, labels = [], []
    for (axis, _), (binds, label) in zip(axes, combo):
      overrides.extend(binds)
      labels.append((axis, label))
    seen = {}
    for k, v in overrides:
      if k in seen and seen[k] != v:
        raise UserError(f'{where}: {k} is set by two axes.')
      seen[k] = v
    name = f'r{i:02d}_' + '_'.join(_slug(l, 24) for _, l in labels)
    runs.append(Run(i, name, tuple(overrides), tuple(labels)))
  return runs


def load_grid_file(path: str) -> Dict[str, Any]:
  """A YAML or JSON file with `grid` and optionally `gin_file`,
  `overrides` (common bindings) and `eval_gin_file` / `eval_overrides`."""
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except OSError as e:
    raise UserError(f'--grid-file={path}: cannot read it ({e}).') from None
  try:
    if path.endswith('.json'):
      data = json.loads(text)
    else:
      import yaml  # pylint: disable=g-import-not-at-top
      data = yaml.safe_load(text)
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(f'--grid-file={path}: not valid '
                    f'{"JSON" if path.endswith(".json") else "YAML"}: '
                    f'{str(e).splitlines()[0]}') from None
  known = {'grid', 'gin_file', 'overrides', 'eval_gin_file', 'eval_overrides',
           'description'}
  if not isinstance(data, dict) or 'grid' not in data:
    raise UserError(f'--grid-file={path}: expected a mapping with a `grid` '
                    'key.')
  unknown = sorted(set(data) - known)
  if unknown:
    raise UserError(f'--grid-file={path}: unknown key(s) {unknown}; expected '
                    f'{sorted(known)}.')
  for key in ('gin_file', 'eval_gin_file'):
    files = data.get(key) or []
    data[key] = [files] if isinstance(files, str) else list(files)
  for key in ('overrides', 'eval_overrides'):
    if not isinstance(data.get(key) or {}, dict):
      raise UserError(f'--grid-file={path}: `{key}` must be a mapping.')
  return data


def _resolve_file(path: str, base_dir: str) -> str:
  """A grid file's gin file: kept relative to the repository when it is
  there (so TPU workers, whose checkout is elsewhere, find it too)."""
  if os.path.isabs(path):
    return path
  for root in (common.REPO_ROOT, base_dir):
    if os.path.exists(os.path.join(root, path)):
      return (path if root == common.REPO_ROOT else
              os.path.join(root, path))
  return path  # gin's search path may still find it; parse reports if not.


def _local_flag(flag: str) -> str:
  """`--gin_file=rel` made absolute for a run on this machine."""
  if not flag.startswith('--gin_file='):
    return flag
  path = flag[len('--gin_file='):]
  if os.path.isabs(path) or os.path.exists(path):
    return flag if os.path.isabs(path) else f'--gin_file={os.path.abspath(path)}'
  if os.path.exists(os.path.join(common.REPO_ROOT, path)):
    return f'--gin_file={os.path.join(common.REPO_ROOT, path)}'
  return flag


# -----------------------------------------------------------------------------
# Validation: everything is parsed before anything runs.
# -----------------------------------------------------------------------------


def validate_run(gin_files: Sequence[str], flags: Sequence[str],
                 what: str = 'run') -> None:
  """Parses a run's gin files and overrides as the trainer would.

  Raises:
    UserError: an override whose configurable or parameter does not exist
      (gin's own check, via `instruct.gin_utils`), a macro override that no
      gin file defines, or a training/eval mixture that is not registered.
  """
  import gin  # pylint: disable=g-import-not-at-top
  # The configurables of runs/eval.gin (`evaluate`, `bbh_dir`, `bigbench_dir`).
  from instruct import checkpoint_evaluation  # pylint: disable=g-import-not-at-top,unused-import
  from instruct import configurables  # pylint: disable=g-import-not-at-top,unused-import
  from instruct.evals import bbh  # pylint: disable=g-import-not-at-top,unused-import
  from instruct.evals import bigbench  # pylint: disable=g-import-not-at-top,unused-import
  from instruct import gin_utils  # pylint: disable=g-import-not-at-top
  from instruct import input_pipeline  # pylint: disable=g-import-not-at-top
  from instruct import train as train_lib  # pylint: disable=g-import-not-at-top,unused-import
  args, bindings = gin_utils.parse_flags(
      [f'--gin_file={f}' for f in gin_files] + list(flags))
  gin.clear_config()
  try:
    # Unknown configurables, parameters and macros fail here (one line each).
    gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
    module = _macro('MIXTURE_OR_TASK_MODULE')
    input_pipeline.import_task_modules(module)
    for macro in ('MIXTURE_OR_TASK_NAME', 'EVAL_MIXTURE_OR_TASK_NAME'):
      value = _macro(macro)
      if isinstance(value, str):
        try:
          input_pipeline.get_mixture_or_task(value)
        except (UserError, ValueError) as e:
          raise UserError(f'{what}: {macro}={value!r}: '
                          f'{str(e).splitlines()[0]}') from None
  except UserError as e:
    if str(e).startswith(what):
      raise
    raise UserError(f'{what}: {e}') from None
  finally:
    gin.clear_config()


def _macro(name: str) -> Any:
  import gin  # pylint: disable=g-import-not-at-top
  try:
    value = gin.query_parameter(f'{name}/macro.value')
  except ValueError:
    return None
  # A macro bound to another macro (`EVAL_... = %MIXTURE_OR_TASK_NAME`).
  seen = 0
  while hasattr(value, 'selector') and seen < 10:
    try:
      value = gin.query_parameter(f'{value.selector}/macro.value')
    except ValueError:
      return None
    seen += 1
  return value


# -----------------------------------------------------------------------------
# Results.
# -----------------------------------------------------------------------------


def _fmt(value: float) -> str:
  return 'n/a' if value != value else f'{value:.2f}'  # NaN != NaN.


def combine(results: Sequence[Tuple[Run, Optional[Mapping[str, Any]]]]
           ) -> Dict[str, str]:
  """One Markdown table and one CSV over every run's metrics.

  Args:
    results: (run, {'step', 'metrics'} or None for a run without results).

  Returns:
    {'markdown': ..., 'csv': ...}.
  """
  from instruct.evals import heldout  # pylint: disable=g-import-not-at-top
  axes = list(dict.fromkeys(a for run, _ in results for a, _ in run.labels))
  md = ['### Runs', '', '| run | ' + ' | '.join(axes) + ' | step |',
        '|---|' + '---|' * len(axes) + '---:|']
  for run, res in results:
    labels = dict(run.labels)
    md.append(f'| {run.name} | ' + ' | '.join(labels.get(a, '') for a in axes)
              + f' | {res["step"] if res else "no results"} |')
  rows = sorted({(t, m) for _, res in results if res
                 for t, ms in res['metrics'].items() for m in ms})
  names = [run.name for run, _ in results]
  md += ['', '### Metrics (latest step of each run)', '',
         '| task | metric | ' + ' | '.join(names) + ' |',
         '|---|---|' + '---:|' * len(names)]
  for task, metric in rows:
    cells = [_fmt(res['metrics'].get(task, {}).get(metric, float('nan')))
             if res else 'n/a' for _, res in results]
    md.append(f'| {task} | {metric} | ' + ' | '.join(cells) + ' |')
  means = [_fmt(mean_headline(res['metrics'])) if res else 'n/a'
           for _, res in results]
  md.append('| **mean** | headline | ' + ' | '.join(means) + ' |')
  md += ['', f'Headline metric per task: the first of '
         f'{", ".join(heldout.HEADLINE_METRICS)} it reports.']
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator='\n')
  writer.writerow(['run', *axes, 'step', 'task', 'metric', 'value'])
  for run, res in results:
    if not res:
      continue
    labels = dict(run.labels)
    for task in sorted(res['metrics']):
      for metric in sorted(res['metrics'][task]):
        writer.writerow([run.name, *[labels.get(a, '') for a in axes],
                         res['step'], task, metric,
                         res['metrics'][task][metric]])
  return {'markdown': '\n'.join(md) + '\n', 'csv': buf.getvalue()}


def mean_headline(metrics: Mapping[str, Mapping[str, float]]) -> float:
  from instruct.evals import heldout  # pylint: disable=g-import-not-at-top
  scores = [heldout.headline(m) for m in metrics.values()]
  scores = [s for s in scores if s == s]
  return sum(scores) / len(scores) if scores else float('nan')


def plot(results: Sequence[Tuple[Run, Optional[Mapping[str, Any]]]],
         out_png: str) -> str:
  """A bar per run: its mean headline score over tasks."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  names = [run.name for run, _ in results]
  values = [mean_headline(res['metrics']) if res else float('nan')
            for _, res in results]
  fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names) + 2), 4.0))
  ax.bar(range(len(names)), values, color='tab:blue')
  ax.set_xticks(range(len(names)))
  ax.set_xticklabels(names, rotation=30, ha='right', fontsize='small')
  ax.set_ylabel('mean headline score over tasks')
  ax.set_title('Sweep results')
  fig.tight_layout()
  _write_bytes(out_png, _png_bytes(fig))
  plt.close(fig)
  return out_png


def _png_bytes(fig) -> bytes:
  buf = io.BytesIO()
  fig.savefig(buf, format='png', dpi=100)
  return buf.getvalue()


def _write_bytes(path: str, data: bytes) -> None:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, 'wb') as f:
    f.write(data)


def _write_text(path: str, text: str) -> None:
  _write_bytes(path, text.encode('utf-8'))


def gather(sweep_dir: str, runs: Sequence[Run]) -> Dict[str, str]:
  """Reads every run's latest metrics; writes results.md/.csv/.png."""
  results = []
  for run in runs:
    try:
      res = local.latest_metrics(os.path.join(sweep_dir, run.name))
    except UserError as e:
      print(f'[launch.sweep] {run.name}: {str(e).splitlines()[0]}',
            file=sys.stderr)
      res = None
    results.append((run, res))
  if not any(res for _, res in results):
    raise UserError(f'{sweep_dir}: no run has results yet.')
  tables = combine(results)
  paths = {'markdown': os.path.join(sweep_dir, 'results.md'),
           'csv': os.path.join(sweep_dir, 'results.csv'),
           'png': os.path.join(sweep_dir, 'results.png')}
  _write_text(paths['markdown'], tables['markdown'])
  _write_text(paths['csv'], tables['csv'])
  plot(results, paths['png'])
  return {**tables, 'paths': paths}


# -----------------------------------------------------------------------------
# The sweep.
# -----------------------------------------------------------------------------


@dataclasses.dataclass
class Sweep:
  """Runs of a grid over common gin files and overrides."""
  sweep_dir: str
  gin_files: Sequence[str]
  runs: Sequence[Run]
  common_flags: Sequence[str] = ()  # --gin.N=V for every run.
  eval_args: Sequence[str] = ()  # instruct.eval flags for every run.

  def train_args(self, run: Run) -> List[str]:
    return ([f'--gin_file={f}' for f in self.gin_files] +
            list(self.common_flags) + run.gin_flags())

  def model_dir(self, run: Run) -> str:
    return os.path.join(self.sweep_dir, run.name)

  def local_args(self, run: Run) -> List[str]:
    return [_local_flag(f) for f in self.train_args(run)]

  def validate(self) -> None:
    files = [_local_flag(f'--gin_file={f}')[len('--gin_file='):]
             for f in self.gin_files]
    for run in self.runs:
      validate_run(files, list(self.common_flags) + run.gin_flags(),
                   what=f'run {run.name}')

  def manifest(self) -> str:
    return json.dumps({
        'gin_files': list(self.gin_files),
        'common_flags': list(self.common_flags),
        'eval_args': list(self.eval_args),
        'runs': [{'name': r.name, 'overrides': dict(r.overrides),
                  'labels': dict(r.labels)} for r in self.runs]}, indent=2)

  def run_local(self, in_process: bool = False) -> Dict[str, str]:
    _write_text(os.path.join(self.sweep_dir, 'sweep.json'), self.manifest())
    for run in self.runs:
      local.run(local.LocalJob(self.model_dir(run), self.local_args(run),
                               [_local_flag(f) for f in self.eval_args]),
                in_process=in_process)
    return gather(self.sweep_dir, self.runs)

  def local_steps(self) -> List[common.Step]:
    steps = []
    for run in self.runs:
      steps += local.LocalJob(self.model_dir(run), self.local_args(run),
                              [_local_flag(f) for f in self.eval_args]
                             ).steps()
    return steps

  def tpu_steps(self, zone: str, accelerator: str, name_prefix: str,
                project: Optional[str] = None, queued: bool = True,
                spot: bool = False, repo: str = tpu.DEFAULT_REPO,
                branch: str = 'main') -> List[common.Step]:
    """One TPU job per run: create, install, run (MODEL_DIR per run)."""
    tpu.check_model_dir(self.sweep_dir)
    acc = tpu.parse_accelerator(accelerator)
    steps = []
    for run in self.runs:
      name = f'{name_prefix}-{run.index:02d}'
      steps += tpu.create_steps(name, zone, acc, spot=spot, queued=queued,
                                project=project)
      steps += tpu.install_steps(name, zone, project, repo, branch)
      steps += tpu.run_steps(name, zone, self.train_args(run),
                             self.model_dir(run), project)
    return steps


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m launch.sweep', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--sweep-dir', required=True,
                 help='one MODEL_DIR per run goes under it (local or gs://).')
  p.add_argument('--gin_file', action='append', default=[])
  p.add_argument('--grid', action='append', default=[],
                 help="NAME=[v1, v2] (Python literals), repeatable.")
  p.add_argument('--grid-file', default=None, help='YAML or JSON grid.')
  p.add_argument('--backend', choices=('local', 'tpu'), default='local')
  p.add_argument('--in-process', action='store_true',
                 help='local runs in this process (faster start).')
  p.add_argument('--no-validate', dest='validate', action='store_false',
                 help='skip parsing every run locally before launching.')
  p.add_argument('--gather-only', action='store_true',
                 help='only collect the results of runs already done.')
  p.add_argument('--dry-run', action='store_true')
  p.add_argument('--tpu-zone', default=None)
  p.add_argument('--tpu-accelerator-type', default=None)
  p.add_argument('--tpu-name-prefix', default='sweep')
  p.add_argument('--tpu-project', default=None)
  p.add_argument('--tpu-repo', default=tpu.DEFAULT_REPO)
  p.add_argument('--tpu-spot', action='store_true')
  return p


def build(argv: Sequence[str]) -> Tuple[argparse.Namespace, Sweep]:
  """Parses a command line into the sweep it describes (runs nothing)."""
  own, eval_args = local.split_eval_flags(argv)
  common_flags = [a for a in own if a.startswith('--gin.')]
  own = [a for a in own if not a.startswith('--gin.')]
  args = _parser().parse_args(own)
  gin_files = list(args.gin_file)
  grid: Dict[str, Any] = {}
  if args.grid_file:
    data = load_grid_file(args.grid_file)
    base = os.path.dirname(os.path.abspath(args.grid_file))
    gin_files = [_resolve_file(f, base) for f in data['gin_file']] + gin_files
    common_flags = [f'--gin.{_check_name(k, args.grid_file)}={gin_literal(v)}'
                    for k, v in (data.get('overrides') or {}).items()
                   ] + common_flags
    eval_args = ([f'--gin_file={_resolve_file(f, base)}'
                  for f in data['eval_gin_file']] +
                 [f'--gin.{_check_name(k, args.grid_file)}={gin_literal(v)}'
                  for k, v in (data.get('eval_overrides') or {}).items()] +
                 eval_args)
    grid.update(data['grid'])
  for flag in args.grid:
    name, values = parse_grid_flag(flag)
    if name in grid:
      raise UserError(f'--grid={flag!r}: axis {name} is given twice.')
    grid[name] = values
  if not gin_files and not args.gather_only:
    raise UserError('No gin files: give --gin_file or a grid file with '
                    '`gin_file`.')
  runs = expand(grid, args.grid_file or '--grid')
  return args, Sweep(args.sweep_dir, gin_files, runs, common_flags, eval_args)


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    args, sweep = build(argv)
    if args.gather_only:
      out = gather(sweep.sweep_dir, sweep.runs)
      print(out['markdown'], flush=True)
      return 0
    if args.validate:
      sweep.validate()
    if args.backend == 'tpu':
      if not args.tpu_zone or not args.tpu_accelerator_type:
        raise UserError('--backend=tpu needs --tpu-zone and '
                        '--tpu-accelerator-type.')
      steps = sweep.tpu_steps(args.tpu_zone, args.tpu_accelerator_type,
                              args.tpu_name_prefix, args.tpu_project,
                              spot=args.tpu_spot, repo=args.tpu_repo)
      common.execute(steps, args.dry_run, required_program='gcloud',
                     install_hint=common.GCLOUD_INSTALL_HINT)
      if not args.dry_run:
        print(f'Started {len(sweep.runs)} TPU jobs. When they are done: '
              f'python -m launch.sweep --gather-only --sweep-dir='
              f'{sweep.sweep_dir} (with the same grid).', flush=True)
      return 0
    if args.dry_run:
      print(common.format_plan(sweep.local_steps()), flush=True)
      return 0
    out = sweep.run_local(in_process=args.in_process)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(out['markdown'], flush=True)
  print(f'Wrote {", ".join(out["paths"].values())}', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
