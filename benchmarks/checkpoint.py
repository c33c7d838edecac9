"""Checkpoint save and restore speed with our Orbax `CheckpointManager`.

The state is the T5 timing model's train state (parameters, AdamW moments,
step) in T5X's layout, written synchronously (the time until the files are
complete, what an asynchronous save hides from the loop but still costs the
disk) and restored into the sharded abstract state, as a resumed run does.
MB/s is the state's array bytes over the wall time.
"""

import os
import tempfile
import time
from typing import Any, Dict

import jax
import optax

from benchmarks import common
from instruct import checkpoints
from instruct import partitioning
from instruct import trainer


def _bytes(tree) -> int:
  return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def benchmark(repeats: int = 3) -> Dict[str, Any]:
  model = common.t5_model()
  p = partitioning.Partitioner(devices=jax.devices()[:1])
  shapes = {'encoder_input_tokens': (common.BATCH, common.LENGTHS['inputs']),
            'decoder_input_tokens': (common.BATCH, common.LENGTHS['targets'])}
  factory = trainer.StateFactory(model, optax.adamw(1e-3), p, shapes)
  state = factory.init(0)
  tree = checkpoints.t5x_state(state.params, state.opt_state, state.step)
  abstract = checkpoints.t5x_state(factory.abstract_state.params,
                                   factory.abstract_state.opt_state,
                                   factory.abstract_state.step)
  nbytes = _bytes(tree)
  saves, restores = [], []
  with tempfile.TemporaryDirectory(prefix='bench_ckpt_') as d:
    manager = checkpoints.CheckpointManager(os.path.join(d, 'model'),
                                            async_save=False,
                                            save_dataset=False)
    for step in range(1, repeats + 1):
      t = time.perf_counter()
      manager.save(step, tree)
      manager.wait_until_finished()
      saves.append(time.perf_counter() - t)
      t = time.perf_counter()
      restored = manager.restore(step, abstract)
      jax.block_until_ready(restored)
      restores.append(time.perf_counter() - t)
    manager.close()
  mb = nbytes / 2**20
  return {'state_mb': mb,
          'save_s': common.median(saves), 'restore_s': common.median(restores),
          'save_mb_per_s': mb / common.median(saves),
          'restore_mb_per_s': mb / common.median(restores),
          'repeats': {'save_s': saves, 'restore_s': restores}}
