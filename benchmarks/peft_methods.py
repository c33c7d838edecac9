r"""PEFT methods vs full fine-tuning: parameters, optimizer memory, time.

    python -m benchmarks.peft_methods            # both models, every method
    python -m benchmarks.peft_methods --models t5_small --steps 3

For SmolLM2-135M (the dimensions of gin_configs/models/llama/smollm2_135m.gin)
and a T5 v1.1 small-size network (gin_configs/models/t5_1_1/small.gin, 32128
ids), each method runs in its own subprocess (so its peak memory is its
own): random initial weights, AdamW (`instruct.optimizers.adamw`), the real
sharded train step on random token batches. Per row: trainable and total
parameters, optimizer-state bytes (measured on the state), the process's
peak resident memory (RSS high-water mark, compilation included) and the
median step time after a warm-up step. Prints a Markdown table and writes
benchmarks/results/peft_methods.json; nothing is hard-coded.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

MODELS = ('smollm2_135m', 't5_small')
METHODS = ('full', 'lora', 'lora_bf16_base', 'ia3', 'bitfit',
           'adapter_houlsby', 'adapter_pfeiffer')
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results',
                       'peft_methods.json')


def _peft_config(method: str):
  from instruct.peft import config as pc  # pylint: disable=g-import-not-at-top
  return {
      'full': None,
      'lora': pc.PeftConfig(lora=pc.LoraConfig(rank=8, alpha=16.0)),
      'lora_bf16_base': pc.PeftConfig(lora=pc.LoraConfig(rank=8, alpha=16.0),
                                      frozen_dtype='bfloat16'),
      'ia3': pc.PeftConfig(ia3=pc.IA3Config()),
      'bitfit': pc.PeftConfig(bitfit=pc.BitFitConfig()),
      'adapter_houlsby': pc.PeftConfig(adapter=pc.AdapterConfig(
          bottleneck_dim=64, placement='houlsby')),
      'adapter_pfeiffer': pc.PeftConfig(adapter=pc.AdapterConfig(
          bottleneck_dim=64, placement='pfeiffer')),
  }[method]


def _model_and_batch(name: str, peft, batch_size: int, length: int):
  """(model, random batch) for a benchmark model name."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import seqio  # pylint: disable=g-import-not-at-top
  from instruct.models import decoder_only  # pylint: disable=g-import-not-at-top
  from instruct.models import encoder_decoder  # pylint: disable=g-import-not-at-top
  from instruct.models import llama  # pylint: disable=g-import-not-at-top
  from instruct.models import t5  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  vocab = seqio.PassThroughVocabulary(size=32128 if name == 't5_small'
                                      else 49152)
  if name == 'smollm2_135m':
    cfg = llama.LlamaConfig(vocab_size=49152, emb_dim=576, num_heads=9,
                            num_kv_heads=3, head_dim=64, num_layers=30,
                            mlp_dim=1536, rope_theta=100000.0,
                            tie_word_embeddings=True, peft=peft)
    model = decoder_only.DecoderOnlyModel(
        llama.LlamaTransformer(cfg), vocab,
        loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')
    tokens = rng.integers(3, 49152, (batch_size, length)).astype(np.int32)
    batch = {'decoder_input_tokens': tokens,
             'decoder_target_tokens': np.roll(tokens, -1, axis=1),
             'decoder_loss_weights': np.ones_like(tokens, np.float32)}
  elif name == 't5_small':
    cfg = t5.T5Config(vocab_size=32128, emb_dim=512, num_heads=6,
                      num_encoder_layers=8, num_decoder_layers=8,
                      head_dim=64, mlp_dim=1024, dropout_rate=0.0, peft=peft)
    model = encoder_decoder.EncoderDecoderModel(
        t5.Transformer(cfg), vocab, vocab,
        loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')
    targets = rng.integers(3, 32128, (batch_size, length // 2)).astype(
        np.int32)
    batch = {'encoder_input_tokens': rng.integers(
        3, 32128, (batch_size, length)).astype(np.int32),
             'decoder_input_tokens': np.roll(targets, 1, axis=1),
             'decoder_target_tokens': targets,
             'decoder_loss_weights': np.ones_like(targets, np.float32)}
  else:
    raise SystemExit(f'--models: unknown model {name!r}; expected one of '
                     f'{", ".join(MODELS)}.')
  return model, batch


def run_one(name: str, method: str, steps: int, batch_size: int,
            length: int) -> Dict[str, Any]:
  """Measures one (model, method) pair in this process."""
  import jax  # pylint: disable=g-import-not-at-top
  from instruct import optimizers  # pylint: disable=g-import-not-at-top
  from instruct import partitioning  # pylint: disable=g-import-not-at-top
  from instruct import trainer  # pylint: disable=g-import-not-at-top
  from instruct.peft import core  # pylint: disable=g-import-not-at-top

  model, batch = _model_and_batch(name, _peft_config(method), batch_size,
                                  length)
  # What the imports alone (TensorFlow via seqio, JAX) hold, for reference.
  baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  tx = optimizers.adamw(1e-4)
  p = partitioning.Partitioner(devices=jax.devices()[:1])
  factory = trainer.StateFactory(model, tx, p,
                                 {k: v.shape for k, v in batch.items()})
  state = factory.init(0)
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  sharded = p.shard_batch(batch)
  rng = jax.random.PRNGKey(0)
  start = time.perf_counter()
  state, metrics = step(state, sharded, rng)
  jax.block_until_ready(metrics)
  first = time.perf_counter() - start
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    state, metrics = step(state, sharded, rng)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
  summary = factory.parameter_summary()
  return {
      'model': name, 'method': method,
      'trainable_parameters': summary['trainable_parameters'],
      'total_parameters': summary['total_parameters'],
      'optimizer_state_bytes': core.tree_bytes(state.opt_state),
      'parameter_bytes': core.tree_bytes(state.params),
      'peak_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                        * 1024,
      'baseline_rss_bytes': baseline_rss,
      'median_step_seconds': statistics.median(times),
      'first_step_seconds': first,
      'loss': float(metrics['loss']),
      'batch_size': batch_size, 'length': length, 'steps': steps,
  }


def _mib(n: float) -> str:
  return f'{n / 2**20:,.1f}'


def markdown(rows: List[Dict[str, Any]]) -> str:
  lines = ['| model | method | trainable params | % of total | optimizer '
           'state MiB | params MiB | peak RSS MiB | peak RSS over imports MiB'
           ' | median step s |',
           '|---|---|---:|---:|---:|---:|---:|---:|---:|']
  for r in rows:
    lines.append(
        f'| {r["model"]} | {r["method"]} | {r["trainable_parameters"]:,} | '
        f'{100 * r["trainable_parameters"] / r["total_parameters"]:.3g} | '
        f'{_mib(r["optimizer_state_bytes"])} | {_mib(r["parameter_bytes"])} |'
        f' {_mib(r["peak_rss_bytes"])} | '
        f'{_mib(r["peak_rss_bytes"] - r["baseline_rss_bytes"])} | '
        f'{r["median_step_seconds"]:.3f} |')
  return '\n'.join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--models', default=','.join(MODELS))
  parser.add_argument('--methods', default=','.join(METHODS))
  parser.add_argument('--steps', type=int, default=3,
                      help='timed steps after one warm-up step')
  parser.add_argument('--batch_size', type=int, default=2)
  parser.add_argument('--length', type=int, default=64,
                      help='Llama sequence / T5 input length (targets: half)')
  parser.add_argument('--child', nargs=2, metavar=('MODEL', 'METHOD'),
                      help=argparse.SUPPRESS)
  parser.add_argument('--output', default=RESULTS)
  args = parser.parse_args(argv)
  if args.child:
    print('RESULT ' + json.dumps(run_one(args.child[0], args.child[1],
                                         args.steps, args.batch_size,
                                         args.length)), flush=True)
    return
  rows = []
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=root + os.pathsep +
             os.environ.get('PYTHONPATH', ''))
  env.pop('XLA_FLAGS', None)
  for name in args.models.split(','):
    for method in args.methods.split(','):
      if method not in METHODS:
        raise SystemExit(f'--methods: unknown method {method!r}; expected '
                         f'some of {", ".join(METHODS)}.')
      out = subprocess.run(
          [sys.executable, '-m', 'benchmarks.peft_methods', '--child', name,
           method, '--steps', str(args.steps), '--batch_size',
           str(args.batch_size), '--length', str(args.length)],
          cwd=root, env=env, capture_output=True, text=True, check=False)
      result = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
      if out.returncode or not result:
        raise SystemExit(f'{name} {method} failed:\n{out.stderr[-3000:]}')
      rows.append(json.loads(result[-1][len('RESULT '):]))
      print(f'{name:>13} {method:<17} done: {rows[-1]["median_step_seconds"]:.3f}'
            ' s/step', flush=True)
  table = markdown(rows)
  print(table)
  os.makedirs(os.path.dirname(args.output), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump({'rows': rows, 'markdown': table,
               'machine': {'cpus': os.cpu_count(),
                           'load_average_1min': os.getloadavg()[0]}},
              f, indent=1)
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main()
