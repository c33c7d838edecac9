"""Memory of full fine-tuning vs LoRA on SmolLM2-135M (its GGUF weights).

Each configuration runs in its own process (`python -m benchmarks.memory
--mode full|lora`), so one cannot inherit the other's heap. The process
loads the weights, builds the train state, runs one step (compilation),
then resets the kernel's resident-set high-water mark (`/proc/self/
clear_refs`) and runs two more: the peak of those two steps is the training
peak. The optimizer-state bytes are counted from the state's arrays.

Both modes use the same code: `instruct.peft.core.partition` splits the
parameters into (trainable, frozen), AdamW is initialised on the trainable
half only, and the gradient is taken with respect to it. With no PEFT config
everything is trainable (full fine-tuning).
"""

import argparse
import dataclasses
import functools
import gc
import json
import re
import resource
import subprocess
import sys
import time
from typing import Any, Dict, Optional

BATCH, LENGTH = 4, 256
LORA = dict(rank=8, alpha=16, target_modules=('query', 'value'))


def _status_kb(field: str) -> int:
  with open('/proc/self/status') as f:
    return int(re.search(field + r':\s+(\d+)', f.read()).group(1))


def _reset_peak() -> bool:
  try:
    with open('/proc/self/clear_refs', 'w') as f:
      f.write('5')
    return True
  except OSError:
    return False


def measure(mode: str) -> Dict[str, Any]:
  """Runs in the child process: one configuration's figures."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  import seqio  # pylint: disable=g-import-not-at-top
  from instruct.models import decoder_only  # pylint: disable=g-import-not-at-top
  from instruct.models import gguf  # pylint: disable=g-import-not-at-top
  from instruct.models import llama  # pylint: disable=g-import-not-at-top
  from instruct.peft import core  # pylint: disable=g-import-not-at-top

  loaded = gguf.load_gguf(gguf.smollm2_gguf_path())
  cfg = loaded.config
  peft_cfg = None
  if mode == 'lora':
    from instruct.peft import config as peft_config  # pylint: disable=g-import-not-at-top
    peft_cfg = peft_config.PeftConfig(lora=peft_config.LoraConfig(**LORA))
    cfg = dataclasses.replace(cfg, peft=peft_cfg)
  model = decoder_only.DecoderOnlyModel(
      llama.LlamaTransformer(cfg),
      seqio.PassThroughVocabulary(cfg.vocab_size, eos_id=2))
  params = jax.tree.map(jnp.asarray, loaded.params)
  if peft_cfg is not None:
    # The adapters' initial values come from the model's own initialiser;
    # the base weights stay the pretrained ones.
    init = nn.unbox(jax.jit(lambda r: model.get_initial_variables(
        r, {'decoder_input_tokens': (1, 8)}))(jax.random.PRNGKey(0))['params'])
    adapters = core.adapter_params(init)
    del init
    if not jax.tree.leaves(adapters):
      raise RuntimeError('the model created no peft_ parameters for LoRA')
    params = core.combine(adapters, params)
  trainable, frozen = core.partition(params, peft_cfg)
  del params, loaded
  tx = optax.adamw(1e-4)
  opt_state = tx.init(trainable)

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def step(trainable, opt_state, frozen, batch):
    def loss(t):
      return model.loss_fn(core.combine(t, frozen), batch, None)[0]
    value, grads = jax.value_and_grad(loss)(trainable)
    updates, opt_state = tx.update(grads, opt_state, trainable)
    return optax.apply_updates(trainable, updates), opt_state, value

  rng = np.random.default_rng(0)
  tokens = rng.integers(2, cfg.vocab_size, (BATCH, LENGTH), dtype=np.int32)
  batch = {'decoder_input_tokens': np.concatenate(
               [np.zeros((BATCH, 1), np.int32), tokens[:, :-1]], axis=1),
           'decoder_target_tokens': tokens,
           'decoder_loss_weights': np.ones((BATCH, LENGTH), np.float32)}
  trainable, opt_state, loss = step(trainable, opt_state, frozen, batch)
  jax.block_until_ready(loss)
  gc.collect()
  before_kb = _status_kb('VmRSS')
  reset = _reset_peak()
  t = time.perf_counter()
  for _ in range(2):
    trainable, opt_state, loss = step(trainable, opt_state, frozen, batch)
  jax.block_until_ready(loss)
  seconds = (time.perf_counter() - t) / 2
  return {
      'mode': mode, 'batch': BATCH, 'length': LENGTH,
      'params': core.count_parameters(trainable) +
                core.count_parameters(frozen),
      'trainable_params': core.count_parameters(trainable),
      'optimizer_state_bytes': core.tree_bytes(opt_state),
      'trainable_param_bytes': core.tree_bytes(trainable),
      'frozen_param_bytes': core.tree_bytes(frozen),
      'rss_before_steps_mb': before_kb / 1024,
      'peak_rss_during_steps_mb': (_status_kb('VmHWM') / 1024 if reset
                                   else None),
      'peak_rss_process_mb': resource.getrusage(
          resource.RUSAGE_SELF).ru_maxrss / 1024,
      'step_s': seconds, 'loss': float(loss),
      'lora': LORA if mode == 'lora' else None}


def run_child(mode: str, timeout: int = 900) -> Optional[Dict[str, Any]]:
  """Measures `mode` in a fresh process; None with a reason on failure."""
  proc = subprocess.run(
      [sys.executable, '-m', 'benchmarks.memory', '--mode', mode],
      capture_output=True, text=True, timeout=timeout, check=False)
  for line in reversed(proc.stdout.splitlines()):
    if line.startswith('{'):
      return json.loads(line)
  tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
  return {'mode': mode, 'error': ' | '.join(tail)}


def benchmark() -> Dict[str, Any]:
  """Full fine-tuning vs LoRA; LoRA is n/a when `instruct.peft` is missing."""
  from instruct.models import gguf  # pylint: disable=g-import-not-at-top
  try:
    gguf.smollm2_gguf_path()
  except Exception as e:  # pylint: disable=broad-except
    return {'error': f'SmolLM2-135M GGUF not available: {e}'}
  out = {'full': run_child('full')}
  try:
    from instruct.peft import config as _  # pylint: disable=g-import-not-at-top,unused-import
    from instruct.peft import core as _  # pylint: disable=g-import-not-at-top,unused-import,reimported
  except ImportError:
    out['lora'] = {'error': 'n/a (instruct.peft missing)'}
    print('LoRA: n/a (instruct.peft missing)')
    return out
  out['lora'] = run_child('lora')
  full, lora = out['full'], out['lora']
  if 'error' not in full and 'error' not in lora:
    out['lora_over_full_optimizer_state'] = (
        lora['optimizer_state_bytes'] / full['optimizer_state_bytes'])
    if full['peak_rss_during_steps_mb'] and lora['peak_rss_during_steps_mb']:
      out['lora_over_full_peak_rss'] = (lora['peak_rss_during_steps_mb'] /
                                        full['peak_rss_during_steps_mb'])
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--mode', choices=('full', 'lora'), required=True)
  args = parser.parse_args(argv)
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)
  print(json.dumps(measure(args.mode)), flush=True)


if __name__ == '__main__':
  main()
