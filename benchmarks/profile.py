"""`python -m benchmarks.profile`: trace train steps and summarise the ops.

Captures a `jax.profiler` trace of a few compiled train steps of the T5
timing model (or the tiny Llama) fed by the real packed pipeline, writes it
under --logdir (open it with TensorBoard's profile plugin or Perfetto, see
docs/profiling.md), and prints where the XLA threads spent their time,
grouped by op kind (the fusion name without its number): `ynn_fusion` /
`dot` are matmuls, `copy_*`/`transpose_*` are layout changes, the rest
element-wise fusions.
"""

import argparse
import collections
import glob
import os
import re
from typing import Dict, List, Tuple

import jax

from benchmarks import common
from benchmarks import train


def summarise(xplane_path: str, steps: int) -> List[Tuple[str, float, float]]:
  """(op kind, ms per step, share) summed over the XLA worker threads."""
  data = jax.profiler.ProfileData.from_file(xplane_path)
  kinds: Dict[str, float] = collections.Counter()
  for plane in data.planes:
    for line in plane.lines:
      if 'Eigen' not in line.name:  # XLA:CPU's compute threads
        continue
      for ev in line.events:
        if ev.name.startswith('ThunkExecutor'):
          continue  # the enclosing executor span, not an op
        kinds[re.sub(r'[.\d]+$', '', ev.name)] += ev.duration_ns
  total = sum(kinds.values()) or 1
  return [(k, v / 1e6 / steps, v / total)
          for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--family', choices=('t5', 'llama'), default='t5')
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--logdir', default='/tmp/instruct_trace')
  args = parser.parse_args(argv)
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)
  import tasks  # pylint: disable=g-import-not-at-top,unused-import
  model = common.t5_model() if args.family == 't5' else common.llama_model()
  it = train.packed_iterator(model)
  batches = [next(it) for _ in range(args.steps + 2)]
  ours = train.Ours(model, batches[0])
  ours.compile_seconds(batches[0])
  sharded = [ours.partitioner.shard_batch(b) for b in batches[1:]]
  ours.state, m = ours.step_fn(ours.state, sharded[0], ours.rng)  # warm
  jax.block_until_ready(m)
  with jax.profiler.trace(args.logdir):
    for i, b in enumerate(sharded[1:]):
      with jax.profiler.StepTraceAnnotation('train', step_num=i):
        ours.state, m = ours.step_fn(ours.state, b, ours.rng)
    jax.block_until_ready(m)
  path = sorted(glob.glob(os.path.join(args.logdir, '**', '*.xplane.pb'),
                          recursive=True), key=os.path.getmtime)[-1]
  print(f'trace: {path}\n')
  print('| op kind | ms per step (all XLA threads) | share |')
  print('|---|---:|---:|')
  for kind, ms, share in summarise(path, args.steps)[:15]:
    print(f'| {kind} | {ms:.1f} | {share:.1%} |')


if __name__ == '__main__':
  main()
