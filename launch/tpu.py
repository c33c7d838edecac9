r"""Cloud TPU VMs and pod slices from a workstation, through `gcloud`.

    python -m launch.tpu create my-tpu --zone=us-central2-b \
        --accelerator-type=v4-32 --queued --spot
    python -m launch.tpu install my-tpu --zone=us-central2-b
    python -m launch.tpu run my-tpu --zone=us-central2-b \
        --model-dir=gs://my-bucket/flan-small -- \
        --gin_file=models/t5_1_1/small.gin --gin_file=runs/finetune.gin \
        --gin.MIXTURE_OR_TASK_NAME="'flan_collection'" \
        --gin.TASK_FEATURE_LENGTHS="{'inputs': 2048, 'targets': 512}" \
        --gin.TRAIN_STEPS=10000
    python -m launch.tpu logs my-tpu --zone=us-central2-b
    python -m launch.tpu stop my-tpu --zone=us-central2-b
    python -m launch.tpu delete my-tpu --zone=us-central2-b --queued
    python -m launch.tpu resume my-tpu ...   # after a pre-emption

Every subcommand takes `--dry-run`, which prints the exact commands (one per
line, shell-quoted) instead of running them. The training command is the
same on every worker (`--worker=all`): `jax.distributed.initialize()` finds
the other hosts of the slice by itself, so no extra arguments are needed
(see `instruct.partitioning.maybe_initialize_distributed`). See docs/tpu.md.
"""

import argparse
import dataclasses
import os
import re
import shlex
import sys
from typing import List, Optional, Sequence, Tuple

if __package__ in (None, ''):  # Run as `python launch/tpu.py`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from launch import common  # pylint: disable=g-import-not-at-top

UserError = common.UserError
Step = common.Step

# TPU software (runtime) version per generation, for JAX on a TPU VM.
SOFTWARE_VERSIONS = {
    'v4': 'tpu-ubuntu2204-base',
    'v5e': 'v2-alpha-tpuv5-lite',
    'v5p': 'v2-alpha-tpuv5',
    'v6e': 'v2-alpha-tpuv6e',
}

# v5e and v6e slice sizes (chips). Up to 8 chips is one host holding all of
# them; larger slices are made of 4-chip hosts.
_LITE_SIZES = (1, 4, 8, 16, 32, 64, 128, 256)

ACCELERATOR_PATTERNS = (
    'v4-N (N = TensorCores = 2 x chips; a multiple of 8 from 8 to 4096, '
    'e.g. v4-8, v4-32), '
    'v5litepod-N or its alias v5e-N (N = chips, one of 1, 4, 8, 16, 32, 64, '
    '128, 256), '
    'v5p-N (N = TensorCores = 2 x chips; a multiple of 8 from 8 to 12288), '
    'v6e-N (N = chips, one of 1, 4, 8, 16, 32, 64, 128, 256)')

# Paths on the workers, relative to the login directory (no `~`, which
# quoting would stop the remote shell from expanding).
REMOTE_DIR = 'instruct'
REMOTE_LOG = 'logs/train.log'  # Relative to REMOTE_DIR.
REMOTE_PID = 'logs/train.pid'
DEFAULT_REPO = 'https://github.com/OWNER/instruct.git'
LOCAL_ARCHIVE = '/tmp/instruct-src.tar.gz'


@dataclasses.dataclass(frozen=True)
class Accelerator:
  """A TPU slice type and what it is made of.

  Attributes:
    name: the accelerator type gcloud takes ('v4-32', 'v5litepod-8').
    generation: 'v4', 'v5e', 'v5p' or 'v6e'.
    chips: TPU chips in the slice.
    hosts: TPU VM workers (one JAX process each).
    chips_per_host: chips attached to each worker.
    software_version: the default TPU software version for this generation.
  """
  name: str
  generation: str
  chips: int
  hosts: int
  chips_per_host: int
  software_version: str

  def describe(self) -> str:
    return (f'{self.name}: {self.chips} chip(s) on {self.hosts} host(s) of '
            f'{self.chips_per_host} chip(s) (TPU {self.generation})')


def _unknown_accelerator(value: str, why: str = '') -> UserError:
  return UserError(
      f'--accelerator-type={value!r} is not a TPU type this launcher knows'
      f'{" (" + why + ")" if why else ""}. Expected {ACCELERATOR_PATTERNS}.')


def parse_accelerator(value: str) -> Accelerator:
  """Validates an accelerator type and derives chips and hosts from it.

  v4 and v5p count TensorCores (two per chip) and have 4 chips per host, so
  v4-32 is 16 chips on 4 hosts and v5p-8 is 4 chips on one host. v5e
  (v5litepod) and v6e count chips: up to 8 chips is a single host, larger
  slices have 4 chips per host (v5litepod-16 is 4 hosts, v5litepod-256 is 64).

  Raises:
    UserError: an unknown pattern or size, with the valid patterns listed.
  """
  match = re.fullmatch(r'(v4|v5p|v5litepod|v5e|v6e)-(\d+)', value.strip())
  if not match:
    raise _unknown_accelerator(value)
  family, n = match.group(1), int(match.group(2))
  if family in ('v4', 'v5p'):
    limit = 4096 if family == 'v4' else 12288
    if n % 8 or not 8 <= n <= limit:
      raise _unknown_accelerator(
          value, f'{family} sizes count TensorCores: a multiple of 8 from 8 '
          f'to {limit}')
    chips = n // 2
    return Accelerator(f'{family}-{n}', family, chips, chips // 4, 4,
                       SOFTWARE_VERSIONS[family])
  generation = 'v6e' if family == 'v6e' else 'v5e'
  if n not in _LITE_SIZES:
    raise _unknown_accelerator(
        value, f'{generation} sizes count chips: one of {_LITE_SIZES}')
  per_host = n if n <= 8 else 4
  name = f'v6e-{n}' if generation == 'v6e' else f'v5litepod-{n}'
  return Accelerator(name, generation, n, n // per_host, per_host,
                     SOFTWARE_VERSIONS[generation])


# -----------------------------------------------------------------------------
# Command builders (pure: they return the plan, `main` prints or runs it).
# -----------------------------------------------------------------------------


def _where(zone: str, project: Optional[str]) -> List[str]:
  return [f'--zone={zone}'] + ([f'--project={project}'] if project else [])


def ssh(name: str, zone: str, remote_command: str,
        project: Optional[str] = None, worker: str = 'all',
        comment: str = '') -> Step:
  """`gcloud compute tpus tpu-vm ssh` running `remote_command` on workers."""
  return Step(['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh', name,
               *_where(zone, project), f'--worker={worker}',
               f'--command={remote_command}'], comment=comment)


def wait_active_step(name: str, zone: str, project: Optional[str]) -> Step:
  return Step(['gcloud', 'compute', 'tpus', 'queued-resources', 'describe',
               name, *_where(zone, project), '--format=value(state.state)'],
              comment='Wait until the queued resource is ACTIVE.',
              poll_until='ACTIVE')


def create_steps(name: str, zone: str, accelerator: Accelerator,
                 version: Optional[str] = None, spot: bool = False,
                 preemptible: bool = False, queued: bool = False,
                 project: Optional[str] = None) -> List[Step]:
  """Creates a TPU VM / pod slice, directly or as a queued resource."""
  version = version or accelerator.software_version
  note = accelerator.describe()
  if queued:
    if preemptible:
      raise UserError('--preemptible does not apply to queued resources; use '
                      '--spot (pre-emptible capacity) with --queued.')
    argv = ['gcloud', 'compute', 'tpus', 'queued-resources', 'create', name,
            f'--node-id={name}', *_where(zone, project),
            f'--accelerator-type={accelerator.name}',
            f'--runtime-version={version}']
    if spot:
      argv.append('--spot')
    return [Step(argv, comment=f'Queue a request for {note}.'),
            wait_active_step(name, zone, project)]
  if spot and preemptible:
    raise UserError('Pass either --spot or --preemptible, not both.')
  argv = ['gcloud', 'compute', 'tpus', 'tpu-vm', 'create', name,
          *_where(zone, project), f'--accelerator-type={accelerator.name}',
          f'--version={version}']
  if spot:
    argv.append('--spot')
  if preemptible:
    argv.append('--preemptible')
  return [Step(argv, comment=f'Create {note}.')]


def _pip_install_remote() -> str:
  # Python 3.11 is what setup.py requires; the Ubuntu 22.04 TPU images ship
  # 3.10, so the 3.11 packages come from Ubuntu's universe repository.
  return ' && '.join([
      f'cd {REMOTE_DIR}',
      'python3.11 -m venv .venv',
      '.venv/bin/pip install -q --upgrade pip',
      # jax[tpu] is pinned to the project's jax in setup.py's `tpu` extra, so
      # libtpu matches the jax the code was tested with.
      ".venv/bin/pip install -q -e '.[tpu]'",
  ])


_APT = ('sudo apt-get update -qq && sudo apt-get install -y -qq python3.11 '
        'python3.11-venv git')


def install_steps(name: str, zone: str, project: Optional[str] = None,
                  repo: str = DEFAULT_REPO, branch: str = 'main',
                  copy: bool = False) -> List[Step]:
  """Puts the project on every worker and installs it with `.[tpu]`."""
  if copy:
    return [
        Step(['git', '-C', common.REPO_ROOT, 'archive', '--format=tar.gz',
              f'--output={LOCAL_ARCHIVE}', 'HEAD'],
             comment='Pack the committed tree (uncommitted edits are not '
             'included).'),
        Step(['gcloud', 'compute', 'tpus', 'tpu-vm', 'scp', LOCAL_ARCHIVE,
              f'{name}:instruct-src.tar.gz', *_where(zone, project),
              '--worker=all'], comment='Copy it to every worker.'),
        ssh(name, zone, ' && '.join([
            _APT, f'mkdir -p {REMOTE_DIR}',
            f'tar -xzf instruct-src.tar.gz -C {REMOTE_DIR}',
            _pip_install_remote()]), project,
            comment='Unpack and install on every worker.'),
    ]
  fetch = (f'(test -d {REMOTE_DIR}/.git && git -C {REMOTE_DIR} pull --ff-only'
           f' || git clone --branch {shlex.quote(branch)} '
           f'{shlex.quote(repo)} {REMOTE_DIR})')
  return [ssh(name, zone, ' && '.join([_APT, fetch, _pip_install_remote()]),
              project, comment='Clone (or update) and install on every '
              'worker.')]


def check_model_dir(model_dir: str, allow_local: bool = False) -> None:
  if not model_dir:
    raise UserError('--model-dir is required, e.g. --model-dir=gs://BUCKET/run')
  if not model_dir.startswith('gs://') and not allow_local:
    raise UserError(
        f'--model-dir={model_dir!r} is not a gs:// path. Every worker must '
        'write to (and, after a pre-emption, resume from) the same place: use '
        'a GCS bucket in the TPU\'s region, or pass --allow-local-model-dir '
        'for a single-host VM.')


def train_remote_command(train_args: Sequence[str], model_dir: str,
                         module: str = 'instruct.train') -> str:
  """The command each worker runs: the trainer in the background, logged."""
  for arg in train_args:
    if arg.startswith('--gin.MODEL_DIR='):
      raise UserError('Give the model directory once, with --model-dir, not '
                      f'also as {arg!r} in the training arguments.')
  argv = ['.venv/bin/python', '-m', module, *train_args,
          common.model_dir_flag(model_dir)]
  # The braces keep `cd` in this shell and background only the trainer, so
  # `$!` is its pid (nohup execs it) and `stop` can kill exactly that.
  return (f'cd {REMOTE_DIR} && mkdir -p logs && {{ nohup {shlex.join(argv)} '
          f'> {REMOTE_LOG} 2>&1 < /dev/null & echo $! > {REMOTE_PID}; }}')


def run_steps(name: str, zone: str, train_args: Sequence[str], model_dir: str,
              project: Optional[str] = None,
              module: str = 'instruct.train') -> List[Step]:
  """Starts the same training command on every worker."""
  return [ssh(name, zone, train_remote_command(train_args, model_dir, module),
              project,
              comment=f'Start {module} on every worker (log: '
              f'{REMOTE_DIR}/{REMOTE_LOG} on each); jax.distributed finds '
              'the other hosts by itself.')]


def logs_steps(name: str, zone: str, project: Optional[str] = None,
               worker: str = '0', lines: int = 100) -> List[Step]:
  return [ssh(name, zone, f'tail -n {lines} -F {REMOTE_DIR}/{REMOTE_LOG}',
              project, worker=worker,
              comment='Follow the training log (Ctrl-C stops following, not '
              'training).')]


def stop_steps(name: str, zone: str,
               project: Optional[str] = None) -> List[Step]:
  pid = f'{REMOTE_DIR}/{REMOTE_PID}'
  return [ssh(name, zone, f'test -f {pid} && kill $(cat {pid}); rm -f {pid}',
              project, comment='Stop training on every worker (checkpoints '
              'already written stay in the model directory).')]


def delete_steps(name: str, zone: str, project: Optional[str] = None,
                 queued: bool = False) -> List[Step]:
  if queued:
    return [Step(['gcloud', 'compute', 'tpus', 'queued-resources', 'delete',
                  name, *_where(zone, project), '--force', '--quiet'],
                 comment='Delete the queued resource and its TPU VM.')]
  return [Step(['gcloud', 'compute', 'tpus', 'tpu-vm', 'delete', name,
                *_where(zone, project), '--quiet'],
               comment='Delete the TPU VM.')]


def resume_steps(name: str, zone: str, accelerator: Accelerator,
                 train_args: Sequence[str], model_dir: str,
                 version: Optional[str] = None, project: Optional[str] = None,
                 repo: str = DEFAULT_REPO, branch: str = 'main',
                 copy: bool = False, spot: bool = True,
                 module: str = 'instruct.train') -> List[Step]:
  """After a pre-emption: re-create the slice, reinstall, rerun.

  A pre-empted spot TPU cannot be restarted; its queued resource is deleted
  and requested again. The rerun is the same command: the trainer restores
  the latest checkpoint in MODEL_DIR (parameters, optimizer, step and data
  position) before anything else (instruct/train.py, 'State').
  """
  steps = delete_steps(name, zone, project, queued=True)
  steps += create_steps(name, zone, accelerator, version, spot=spot,
                        queued=True, project=project)
  steps += install_steps(name, zone, project, repo, branch, copy)
  steps += run_steps(name, zone, train_args, model_dir, project, module)
  return steps


# -----------------------------------------------------------------------------
# Command line.
# -----------------------------------------------------------------------------


def _split_train_args(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
  argv = list(argv)
  if '--' in argv:
    i = argv.index('--')
    return argv[:i], argv[i + 1:]
  return argv, []


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='python -m launch.tpu', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = parser.add_subparsers(dest='command', required=True)
  base = argparse.ArgumentParser(add_help=False)
  base.add_argument('name', help='TPU VM (and queued resource) name.')
  base.add_argument('--zone', required=True, help='e.g. us-central2-b.')
  base.add_argument('--project', default=None)
  base.add_argument('--dry-run', action='store_true',
                    help='print the commands instead of running them.')
  create = argparse.ArgumentParser(add_help=False)
  create.add_argument('--accelerator-type', required=True,
                      help=f'one of: {ACCELERATOR_PATTERNS}.')
  create.add_argument('--version', default=None,
                      help='TPU software version (default per generation: '
                      f'{SOFTWARE_VERSIONS}).')
  source = argparse.ArgumentParser(add_help=False)
  source.add_argument('--repo', default=DEFAULT_REPO,
                      help='git URL to clone on the workers.')
  source.add_argument('--branch', default='main')
  source.add_argument('--copy', action='store_true',
                      help='copy this checkout (git archive HEAD) instead of '
                      'cloning.')
  run = argparse.ArgumentParser(add_help=False)
  run.add_argument('--model-dir', required=True,
                   help='gs://BUCKET/PATH: checkpoints, TensorBoard, eval.')
  run.add_argument('--allow-local-model-dir', action='store_true')
  run.add_argument('--module', default='instruct.train',
                   help='entry point to run (instruct.train, instruct.eval).')

  p = sub.add_parser('create', parents=[base, create],
                     help='create a TPU VM or pod slice.')
  p.add_argument('--spot', action='store_true')
  p.add_argument('--preemptible', action='store_true')
  p.add_argument('--queued', action='store_true',
                 help='request it as a queued resource (recommended).')
  sub.add_parser('install', parents=[base, source],
                 help='install the project on every worker.')
  sub.add_parser('run', parents=[base, run],
                 help='start training on every worker: run NAME ... -- '
                 'TRAIN_ARGS.')
  p = sub.add_parser('logs', parents=[base], help='stream the training log.')
  p.add_argument('--worker', default='0', help="a worker index or 'all'.")
  p.add_argument('--lines', type=int, default=100)
  sub.add_parser('stop', parents=[base], help='stop training on all workers.')
  p = sub.add_parser('delete', parents=[base], help='delete the TPU.')
  p.add_argument('--queued', action='store_true',
                 help='it was created with --queued.')
  p = sub.add_parser('resume', parents=[base, create, source, run],
                     help='after a pre-emption: re-create (queued, spot), '
                     'reinstall and rerun: resume NAME ... -- TRAIN_ARGS.')
  p.add_argument('--no-spot', dest='spot', action='store_false')
  return parser


def plan(argv: Sequence[str]) -> Tuple[argparse.Namespace, List[Step]]:
  """Parses a command line into (args, steps) without running anything."""
  own, train_args = _split_train_args(argv)
  args = _parser().parse_args(own)
  where = dict(zone=args.zone, project=args.project)
  if args.command in ('run', 'resume'):
    check_model_dir(args.model_dir, args.allow_local_model_dir)
    if not train_args:
      raise UserError(f'{args.command}: give the training arguments after '
                      '--, e.g. -- --gin_file=runs/finetune.gin ...')
  elif train_args:
    raise UserError(f'{args.command} takes no training arguments (after --).')
  if args.command == 'create':
    steps = create_steps(args.name, accelerator=parse_accelerator(
        args.accelerator_type), version=args.version, spot=args.spot,
                         preemptible=args.preemptible, queued=args.queued,
                         **where)
  elif args.command == 'install':
    steps = install_steps(args.name, repo=args.repo, branch=args.branch,
                          copy=args.copy, **where)
  elif args.command == 'run':
    steps = run_steps(args.name, train_args=train_args,
                      model_dir=args.model_dir, module=args.module, **where)
  elif args.command == 'logs':
    steps = logs_steps(args.name, worker=args.worker, lines=args.lines,
                       **where)
  elif args.command == 'stop':
    steps = stop_steps(args.name, **where)
  elif args.command == 'delete':
    steps = delete_steps(args.name, queued=args.queued, **where)
  else:
    steps = resume_steps(
        args.name, accelerator=parse_accelerator(args.accelerator_type),
        train_args=train_args, model_dir=args.model_dir, version=args.version,
        repo=args.repo, branch=args.branch, copy=args.copy, spot=args.spot,
        module=args.module, **where)
  return args, steps


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  try:
    args, steps = plan(argv)
    common.execute(steps, args.dry_run, required_program='gcloud',
                   install_hint=common.GCLOUD_INSTALL_HINT)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
