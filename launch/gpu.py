r"""GPU nodes: one JAX process per GPU, started directly or through Slurm.

    # One node with 8 GPUs: eight processes, one GPU each.
    python -m launch.gpu --gpus-per-node=8 --model-dir=/data/runs/ft -- \
        --gin_file=models/t5_1_1/base.gin --gin_file=runs/finetune.gin \
        --gin.MIXTURE_OR_TASK_NAME="'builtin_instructions'" ...
    # Two nodes: run this on each, with its --node-rank.
    python -m launch.gpu --num-nodes=2 --node-rank=0 --coordinator=node0:8476 ...
    # Slurm: print (or run) one srun line.
    python -m launch.gpu --slurm --num-nodes=2 --gpus-per-node=8 ...

Without Slurm every process gets `JAX_COORDINATOR_ADDRESS`,
`JAX_NUM_PROCESSES`, `JAX_PROCESS_ID` and `CUDA_VISIBLE_DEVICES=<its GPU>`;
`instruct.partitioning.maybe_initialize_distributed` sees the coordinator and
calls `jax.distributed.initialize` (see docs/gpu.md for the one-line change it
needs to pass the process count and id on). Under Slurm, JAX reads Slurm's own
variables; every task must see all of its node's GPUs (JAX picks GPU
`SLURM_LOCALID`), hence `--gpus-per-node` rather than `--gpus-per-task`.
`--dry-run` prints the commands.
"""

import argparse
import os
import shlex
import subprocess
import sys
from typing import List, Optional, Sequence

if __package__ in (None, ''):  # Run as `python launch/gpu.py`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from launch import common  # pylint: disable=g-import-not-at-top

UserError = common.UserError

DEFAULT_PORT = 8476


def process_env(process_id: int, num_processes: int, coordinator: str,
                local_gpu: int) -> List[tuple]:
  """The environment one process of a multi-process run needs."""
  return [('JAX_COORDINATOR_ADDRESS', coordinator),
          ('JAX_NUM_PROCESSES', str(num_processes)),
          ('JAX_PROCESS_ID', str(process_id)),
          ('CUDA_VISIBLE_DEVICES', str(local_gpu))]


def _train_argv(python: str, module: str, train_args: Sequence[str],
                model_dir: Optional[str]) -> List[str]:
  argv = [python, '-m', module, *train_args]
  if model_dir:
    argv.append(common.model_dir_flag(model_dir))
  return argv


def node_commands(train_args: Sequence[str], gpus_per_node: int,
                  num_nodes: int = 1, node_rank: int = 0,
                  coordinator: Optional[str] = None,
                  model_dir: Optional[str] = None,
                  python: str = 'python', module: str = 'instruct.train',
                  log_dir: str = 'logs') -> List[common.Step]:
  """One backgrounded command per GPU of this node.

  Process ids are `node_rank * gpus_per_node + gpu`; process 0 (node 0, GPU
  0) hosts the coordinator, so `coordinator` must name node 0.
  """
  if gpus_per_node < 1 or num_nodes < 1:
    raise UserError('--gpus-per-node and --num-nodes must be at least 1.')
  if not 0 <= node_rank < num_nodes:
    raise UserError(f'--node-rank={node_rank} must be in [0, {num_nodes}).')
  if num_nodes > 1 and not coordinator:
    raise UserError('--coordinator=HOST:PORT (node 0\'s address) is required '
                    'with --num-nodes > 1.')
  coordinator = coordinator or f'localhost:{DEFAULT_PORT}'
  total = num_nodes * gpus_per_node
  steps = []
  for gpu in range(gpus_per_node):
    pid = node_rank * gpus_per_node + gpu
    steps.append(common.Step(
        _train_argv(python, module, train_args, model_dir),
        env=process_env(pid, total, coordinator, gpu),
        comment=f'Process {pid} of {total} (GPU {gpu} of node {node_rank}).'))
  return steps


def shell_line(step: common.Step, log_dir: str) -> str:
  """A step as a backgrounded shell line writing its own log file."""
  pid = dict(step.env)['JAX_PROCESS_ID']
  return (f'{step.shell_line()} > {shlex.quote(log_dir)}/process_{pid}.log '
          '2>&1 &')


def slurm_command(train_args: Sequence[str], gpus_per_node: int,
                  num_nodes: int = 1, model_dir: Optional[str] = None,
                  python: str = 'python',
                  module: str = 'instruct.train') -> common.Step:
  """One `srun` line: a task per GPU; JAX reads Slurm's variables."""
  argv = ['srun', f'--nodes={num_nodes}',
          f'--ntasks-per-node={gpus_per_node}',
          f'--gpus-per-node={gpus_per_node}',
          *_train_argv(python, module, train_args, model_dir)]
  return common.Step(argv, comment=f'{num_nodes * gpus_per_node} tasks, one '
                     'per GPU (inside an sbatch script or salloc).')


def format_node_plan(steps: Sequence[common.Step], log_dir: str) -> str:
  lines = [f'mkdir -p {shlex.quote(log_dir)}']
  for step in steps:
    lines.append(f'# {step.comment}')
    lines.append(shell_line(step, log_dir))
  lines.append('wait')
  return '\n'.join(lines)


def run_node(steps: Sequence[common.Step], log_dir: str) -> int:
  """Starts every process, waits for all; the worst exit status wins."""
  os.makedirs(log_dir, exist_ok=True)
  procs = []
  for step in steps:
    env = dict(os.environ)
    env.update(dict(step.env))
    pid = env['JAX_PROCESS_ID']
    log = open(os.path.join(log_dir, f'process_{pid}.log'), 'w')  # pylint: disable=consider-using-with
    print(f'+ {shell_line(step, log_dir)}', flush=True)
    procs.append((subprocess.Popen(list(step.argv), env=env, stdout=log,  # pylint: disable=consider-using-with
                                   stderr=subprocess.STDOUT), log, pid))
  status = 0
  for proc, log, pid in procs:
    code = proc.wait()
    log.close()
    if code:
      print(f'process {pid} exited with status {code}; see '
            f'{log_dir}/process_{pid}.log', file=sys.stderr)
      status = max(status, code)
  return status


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m launch.gpu', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--gpus-per-node', type=int, required=True)
  p.add_argument('--num-nodes', type=int, default=1)
  p.add_argument('--node-rank', type=int, default=0)
  p.add_argument('--coordinator', default=None,
                 help=f'HOST:PORT of node 0 (default localhost:{DEFAULT_PORT} '
                 'on one node).')
  p.add_argument('--model-dir', default=None,
                 help='sets MODEL_DIR (shared by all nodes: NFS or gs://).')
  p.add_argument('--slurm', action='store_true',
                 help='print/run one srun line instead.')
  p.add_argument('--python', default=sys.executable,
                 help='the Python to run on the node(s) (default: this one).')
  p.add_argument('--module', default='instruct.train')
  p.add_argument('--log-dir', default='logs')
  p.add_argument('--dry-run', action='store_true')
  return p


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  own, train_args = (argv[:argv.index('--')], argv[argv.index('--') + 1:]
                    ) if '--' in argv else (argv, [])
  args = _parser().parse_args(own)
  try:
    if not train_args:
      raise UserError('Give the training arguments after --, e.g. -- '
                      '--gin_file=runs/finetune.gin ...')
    if args.slurm:
      step = slurm_command(train_args, args.gpus_per_node, args.num_nodes,
                           args.model_dir, args.python, args.module)
      common.execute([step], args.dry_run, required_program='srun',
                     install_hint='srun (Slurm) is not on PATH: run this on a '
                     'Slurm login node, or drop --slurm.')
      return 0
    steps = node_commands(train_args, args.gpus_per_node, args.num_nodes,
                          args.node_rank, args.coordinator, args.model_dir,
                          args.python, args.module, args.log_dir)
    if args.dry_run:
      print(format_node_plan(steps, args.log_dir), flush=True)
      return 0
    return run_node(steps, args.log_dir)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
