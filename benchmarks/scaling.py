"""Collectives of the compiled train step on 1, 2, 4 and 8 simulated devices.

Runs in a child process started with
`XLA_FLAGS=--xla_force_host_platform_device_count=8`, so the CPU backend
exposes eight devices; nothing is executed, the step is only compiled. For
each device count and sharding scheme our `Partitioner` builds the mesh and
shardings, `trainer.make_train_step` is jitted exactly as
`trainer.jit_train_step` does, and `benchmarks.hlo.count_collectives` reads
the post-partitioning HLO:

  data    all devices on `data`, parameters replicated (T5X's default rules)
  fsdp    all devices on `data`, parameters' `embed` axis also over `data`
          (`standard_logical_axis_rules(parameter_partitioning_dims=2)`)
  tensor  all devices on `model` (`Partitioner(num_partitions=n)`): heads,
          mlp, joined_kv and vocab split (Megatron-style)

`python -m benchmarks.scaling --child` prints the JSON; `benchmark()` starts
that child.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict

DEVICE_COUNTS = (1, 2, 4, 8)
SCHEMES = ('data', 'fsdp', 'tensor')


def _compile_and_count(n: int, scheme: str) -> Dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  from benchmarks import hlo  # pylint: disable=g-import-not-at-top
  from instruct import partitioning  # pylint: disable=g-import-not-at-top
  from instruct import trainer  # pylint: disable=g-import-not-at-top

  devices = jax.devices()[:n]
  if scheme == 'tensor':
    p = partitioning.Partitioner(num_partitions=n, devices=devices)
  elif scheme == 'fsdp':
    p = partitioning.Partitioner(
        logical_axis_rules=partitioning.standard_logical_axis_rules(
            parameter_partitioning_dims=2),
        devices=devices)
  else:
    p = partitioning.Partitioner(devices=devices)
  model = common.t5_model()
  b, li, lt = common.BATCH, common.LENGTHS['inputs'], common.LENGTHS['targets']
  shapes = {'encoder_input_tokens': (b, li), 'encoder_segment_ids': (b, li),
            'encoder_positions': (b, li), 'decoder_input_tokens': (b, lt),
            'decoder_target_tokens': (b, lt), 'decoder_segment_ids': (b, lt),
            'decoder_positions': (b, lt), 'decoder_loss_weights': (b, lt)}
  tx = optax.adamw(1e-3)
  factory = trainer.StateFactory(model, tx, p, shapes)
  batch = {k: jax.ShapeDtypeStruct(
      s, jax.numpy.float32 if k == 'decoder_loss_weights' else jax.numpy.int32)
           for k, s in shapes.items()}
  jitted = jax.jit(trainer.make_train_step(model, tx),
                   in_shardings=(factory.state_shardings, p.data_sharding,
                                 p.replicated),
                   out_shardings=(factory.state_shardings, p.replicated),
                   donate_argnums=(0,))
  t = time.perf_counter()
  with p.context():
    text = jitted.lower(factory.abstract_state, batch,
                        jax.random.PRNGKey(0)).compile().as_text()
  counts = hlo.count_collectives(text)
  param_bytes = sum(
      x.size * x.dtype.itemsize
      for x in jax.tree.leaves(factory.abstract_state.params))
  shard = [s.shard_shape(x.shape) for s, x in zip(
      jax.tree.leaves(factory.param_shardings),
      jax.tree.leaves(factory.abstract_state.params))]
  per_device = sum(int(jax.numpy.prod(jax.numpy.array(s))) * 4 for s in shard)
  return {'devices': n, 'scheme': scheme, 'mesh': dict(p.mesh.shape),
          'compile_s': time.perf_counter() - t, 'collectives': counts,
          'param_bytes': param_bytes, 'param_bytes_per_device': per_device}


def child() -> None:
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)
  rows = []
  for n in DEVICE_COUNTS:
    # On one device every scheme is the same program with no collectives.
    for scheme in (SCHEMES if n > 1 else ('data',)):
      try:
        rows.append(_compile_and_count(n, scheme))
      except Exception as e:  # pylint: disable=broad-except  # 4 heads, 8 ways
        rows.append({'devices': n, 'scheme': scheme,
                     'error': str(e).splitlines()[0][:200]})
      print(f'# {n} {scheme} {rows[-1].get("collectives", rows[-1])}',
            file=sys.stderr, flush=True)
  print(json.dumps(rows), flush=True)


def benchmark(timeout: int = 900) -> Dict[str, Any]:
  """Runs the child with eight simulated devices; returns its rows."""
  env = dict(os.environ)
  env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') +
                      ' --xla_force_host_platform_device_count=8').strip()
  proc = subprocess.run([sys.executable, '-m', 'benchmarks.scaling',
                         '--child'], capture_output=True, text=True, env=env,
                        timeout=timeout, check=False)
  for line in reversed(proc.stdout.splitlines()):
    if line.startswith('['):
      return {'rows': json.loads(line)}
  return {'error': ' | '.join(proc.stderr.strip().splitlines()[-3:])}


if __name__ == '__main__':
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--child', action='store_true',
                      help='compile and count here (needs 8 devices)')
  if parser.parse_args().child:
    child()
  else:
    print(json.dumps(benchmark(), indent=2))
