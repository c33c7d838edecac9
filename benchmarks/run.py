"""`make bench`: training throughput of the trainer on the T5 timing model.

The timing model of reference-facts.md: T5 v1.1 layout, emb 256, 4 heads x
64, 4+4 layers, mlp 1024, byte vocabulary, batch 32, lengths 128/64,
float32; data from the real SeqIO pipeline with packing (built-in mixture).
Prints a table of steps/s and non-padding tokens/s (median of repeats) and
writes benchmarks/results/train_throughput.json. Figures are measured here,
in this run; nothing is hard-coded.
"""

import json
import os
import statistics
import time

import jax
import numpy as np
import optax
import seqio

from instruct import input_pipeline
from instruct import partitioning
from instruct import trainer
from instruct.models import encoder_decoder
from instruct.models import t5
import tasks  # pylint: disable=unused-import

BATCH, LENGTHS = 32, {'inputs': 128, 'targets': 64}
STEPS_PER_REPEAT, REPEATS, WARMUP = 10, 5, 3


def timing_model():
  cfg = t5.T5Config(vocab_size=384, emb_dim=256, num_heads=4, head_dim=64,
                    mlp_dim=1024, num_encoder_layers=4, num_decoder_layers=4,
                    dropout_rate=0.0)
  vocab = seqio.ByteVocabulary()
  return encoder_decoder.EncoderDecoderModel(t5.Transformer(cfg), vocab, vocab,
                                             z_loss=1e-4)


def main():
  model = timing_model()
  tx = optax.adamw(1e-3)
  p = partitioning.Partitioner(devices=jax.devices()[:1])
  cfg = input_pipeline.DatasetConfig('builtin_instructions', LENGTHS, 'train',
                                     BATCH, shuffle=True, seed=0)
  ds = input_pipeline.get_dataset(cfg, seqio.EncDecFeatureConverter(pack=True))
  it = ds.as_numpy_iterator()
  batches = [next(it) for _ in range(WARMUP + STEPS_PER_REPEAT * REPEATS)]
  factory = trainer.StateFactory(model, tx, p,
                                 {k: v.shape for k, v in batches[0].items()})
  state = factory.init(0)
  n_params = sum(x.size for x in jax.tree.leaves(state.params))
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  rng = jax.random.PRNGKey(0)
  t0 = time.time()
  for b in batches[:WARMUP]:
    state, m = step(state, p.shard_batch(b), rng)
  jax.block_until_ready(m)
  compile_s = time.time() - t0
  rates = []
  for r in range(REPEATS):
    chunk = batches[WARMUP + r * STEPS_PER_REPEAT:
                    WARMUP + (r + 1) * STEPS_PER_REPEAT]
    sharded = [p.shard_batch(b) for b in chunk]
    t = time.time()
    for b in sharded:
      state, m = step(state, b, rng)
    jax.block_until_ready(m)
    dt = time.time() - t
    tgt = sum(int((b['decoder_target_tokens'] > 0).sum()) for b in chunk)
    inp = sum(int((b['encoder_input_tokens'] > 0).sum()) for b in chunk)
    rates.append({'steps_per_s': len(chunk) / dt, 'target_tok_per_s': tgt / dt,
                  'input_tok_per_s': inp / dt})
  med = {k: statistics.median(r[k] for r in rates) for k in rates[0]}
  fill_t = float(np.mean([(b['decoder_target_tokens'] > 0).mean()
                          for b in batches]))
  fill_i = float(np.mean([(b['encoder_input_tokens'] > 0).mean()
                          for b in batches]))
  result = {'model_params': int(n_params), 'batch': BATCH, 'lengths': LENGTHS,
            'first_steps_incl_compile_s': compile_s,
            'non_padding_fraction': {'inputs': fill_i, 'targets': fill_t},
            'median': med, 'repeats': rates, 'devices': str(jax.devices()[0])}
  os.makedirs('benchmarks/results', exist_ok=True)
  with open('benchmarks/results/train_throughput.json', 'w') as f:
    json.dump(result, f, indent=2)
  print('| benchmark | value |\n|---|---:|')
  print(f'| parameters | {n_params:,} |')
  print(f'| steps/s (median of {REPEATS}x{STEPS_PER_REPEAT}) | '
        f'{med["steps_per_s"]:.2f} |')
  print(f'| non-padding target tokens/s | {med["target_tok_per_s"]:,.0f} |')
  print(f'| non-padding input tokens/s | {med["input_tok_per_s"]:,.0f} |')
  print(f'| packing fill inputs / targets | {fill_i:.0%} / {fill_t:.0%} |')
  print(f'| first {WARMUP} steps incl. compile (s) | {compile_s:.1f} |')


if __name__ == '__main__':
  main()
  print()
  from benchmarks import packing  # pylint: disable=g-import-not-at-top
  packing.main([])
