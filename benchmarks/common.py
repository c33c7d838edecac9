"""Shared pieces of the benchmarks: the models, timing, the matmul peak.

Every figure is a median over repeats measured in the running process; the
comparison it is reported against is measured in the same run.
"""

import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Sequence

import jax
import jax.numpy as jnp
import seqio

from instruct.models import decoder_only
from instruct.models import encoder_decoder
from instruct.models import llama
from instruct.models import t5

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'results')
MIXTURE = 'builtin_instructions'
BATCH = 32
LENGTHS = {'inputs': 128, 'targets': 64}


def num_cores() -> int:
  """CPU cores this process may use (what XLA's CPU client sizes its pool to)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def t5_config() -> t5.T5Config:
  """reference-facts.md's timing model: T5 v1.1 layout, 9.5M parameters."""
  return t5.T5Config(vocab_size=384, emb_dim=256, num_heads=4, head_dim=64,
                     mlp_dim=1024, num_encoder_layers=4, num_decoder_layers=4,
                     dropout_rate=0.0)


def llama_config() -> llama.LlamaConfig:
  """A tiny Llama of about the same width: 8 layers, GQA 4/2 heads x 64."""
  return llama.LlamaConfig(vocab_size=384, emb_dim=256, num_heads=4,
                           num_kv_heads=2, head_dim=64, num_layers=8,
                           mlp_dim=1024)


def t5_model(cfg: t5.T5Config = None) -> encoder_decoder.EncoderDecoderModel:
  vocab = seqio.ByteVocabulary()
  return encoder_decoder.EncoderDecoderModel(
      t5.Transformer(cfg or t5_config()), vocab, vocab, z_loss=1e-4)


def llama_model(cfg: llama.LlamaConfig = None
                ) -> decoder_only.DecoderOnlyModel:
  return decoder_only.DecoderOnlyModel(
      llama.LlamaTransformer(cfg or llama_config()), seqio.ByteVocabulary(),
      z_loss=1e-4)


def median(values: Sequence[float]) -> float:
  return float(statistics.median(values))


def timed(fn: Callable[[], object]) -> float:
  """Seconds one call of `fn` takes (it must block until its work is done)."""
  t = time.perf_counter()
  fn()
  return time.perf_counter() - t


def matmul_peak(sizes: Sequence[int] = (2048, 3072), repeats: int = 5,
                calls: int = 4) -> Dict[str, float]:
  """The machine's float32 matmul rate with XLA, in FLOP/s.

  A square [n, n] @ [n, n] product is as close to the hardware's peak as XLA
  gets on this backend; the best size's median over `repeats` (each of
  `calls` back-to-back products) is the denominator of MFU.
  """
  best: Dict[str, float] = {'flops_per_s': 0.0}
  for n in sizes:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
    mm = jax.jit(lambda x, y: x @ y)
    mm(a, b).block_until_ready()

    def run(a=a, b=b, mm=mm):
      outs = [mm(a, b) for _ in range(calls)]
      jax.block_until_ready(outs)

    rates: List[float] = [calls * 2 * n ** 3 / timed(run)
                          for _ in range(repeats)]
    if median(rates) > best['flops_per_s']:
      best = {'flops_per_s': median(rates), 'n': n,
              'repeats': [float(r) for r in rates]}
  return best


def machine() -> Dict[str, object]:
  """What the figures were measured on."""
  info = {'platform': platform.platform(), 'processor': platform.processor(),
          'cores': num_cores(), 'jax': jax.__version__,
          'jax_device': str(jax.devices()[0]),
          'load_average_1m': os.getloadavg()[0]}
  try:
    import torch  # pylint: disable=g-import-not-at-top
    info['torch'] = torch.__version__
  except ImportError:
    pass
  return info
