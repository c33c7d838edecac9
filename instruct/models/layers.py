"""Layers every model family shares, in flax.linen, T5X parameter names.

The embedding, the bias-free projection (where the weight-level PEFT methods
act), the float32-statistics RMSNorm, the attention masks, and the two parts
of cached decoding that do not depend on the family: writing new keys and
values into the cache, and the attention products (with one query per row as
a multiply-and-sum). Families (`t5.py`, `llama.py`, ...) import these and
never each other, so a new family starts from here.

Parameter names and logical axis names are T5X's (`embedding`, `kernel`,
`scale`; `vocab`, `embed`, `joined_kv`, `mlp`), so checkpoints and the
logical-axis sharding rules are the same for every family.

Shape suffixes in names: B batch, L length (Q queries, K keys), E embedding,
N (key/value) heads, G query heads per key/value head, D head dimension,
V vocabulary.
"""

from typing import Any, Callable, Optional, Tuple

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

from instruct.peft import layers as peft_layers

Array = jax.Array
Initializer = Callable[..., Array]

# Masked positions get this bias rather than -inf, so a query whose keys are
# all masked (padding) gives a uniform softmax instead of NaNs.
MASK_BIAS = -1e10

default_embedding_init = nn.initializers.normal(stddev=1.0)
default_kernel_init = nn.initializers.variance_scaling(
    1.0, 'fan_in', 'truncated_normal')


# -----------------------------------------------------------------------------
# Masks.
# -----------------------------------------------------------------------------
def make_attention_mask(query_input: Array, key_input: Array) -> Array:
  """Pairwise boolean mask [B, 1, Q, K] from per-position booleans [B, Q/K]."""
  return jnp.logical_and(query_input[:, None, :, None],
                         key_input[:, None, None, :])


def make_segment_mask(query_segment_ids: Array,
                      key_segment_ids: Array) -> Array:
  """[B, 1, Q, K] mask allowing attention within the same packed segment."""
  return jnp.equal(query_segment_ids[:, None, :, None],
                   key_segment_ids[:, None, None, :])


def make_causal_mask(length: int) -> Array:
  """[1, 1, L, L] mask letting query i see keys 0..i."""
  idx = jnp.arange(length)
  return (idx[None, :] <= idx[:, None])[None, None]


# -----------------------------------------------------------------------------
# Embedding, projection, normalisation.
# -----------------------------------------------------------------------------
class Embed(nn.Module):
  """Token embedding; `attend` gives logits against it (tied output layer)."""
  num_embeddings: int
  features: int
  dtype: Any = jnp.float32
  embedding_init: Initializer = default_embedding_init

  def setup(self):
    self.embedding = self.param(
        'embedding',
        nn.with_logical_partitioning(self.embedding_init, ('vocab', 'embed')),
        (self.num_embeddings, self.features), jnp.float32)

  def __call__(self, ids_BL: Array) -> Array:
    return jnp.take(jnp.asarray(self.embedding, self.dtype), ids_BL, axis=0)

  def attend(self, x_BLE: Array) -> Array:
    """Logits against the embedding matrix (tied output layer)."""
    embedding = jnp.asarray(self.embedding, x_BLE.dtype)
    return jnp.einsum('ble,ve->blv', x_BLE, embedding)


class Dense(nn.Module):
  """Projection of the last axis with a 2-D, named kernel.

  Bias-free unless `use_bias`: then a float32 `bias` [features], named by
  the kernel's output axis, is added after the product (and after the PEFT
  methods, which see the kernel only).
  """
  features: int
  kernel_axes: Tuple[str, str]
  kernel_init: Initializer = default_kernel_init
  dtype: Any = jnp.float32
  # `instruct.peft.config.PeftConfig`: LoRA, (IA)^3 and BitFit act here.
  peft: Optional[Any] = None
  use_bias: bool = False

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel = self.param(
        'kernel', nn.with_logical_partitioning(self.kernel_init,
                                               self.kernel_axes),
        (x.shape[-1], self.features), jnp.float32)
    x = jnp.asarray(x, self.dtype)
    kernel = jnp.asarray(kernel, self.dtype)
    if self.peft is not None:
      y = peft_layers.dense(self, x, kernel, self.kernel_axes, self.dtype)
    else:
      x2 = x.reshape((-1, x.shape[-1]))
      y = lax.dot_general(x2, kernel, (((1,), (0,)), ((), ())))
      y = y.reshape(x.shape[:-1] + (self.features,))
    if not self.use_bias:
      return y
    bias = self.param(
        'bias', nn.with_logical_partitioning(nn.initializers.zeros,
                                             (self.kernel_axes[1],)),
        (self.features,), jnp.float32)
    return y + jnp.asarray(bias, y.dtype).reshape((1,) * (y.ndim - 1) +
                                                  bias.shape)


class RMSNorm(nn.Module):
  """T5's layer norm: scale only, no centering, statistics in float32."""
  epsilon: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    x = jnp.asarray(x, jnp.float32)
    mean2 = jnp.mean(lax.square(x), axis=-1, keepdims=True)
    y = x * lax.rsqrt(mean2 + self.epsilon)
    scale = self.param(
        'scale', nn.with_logical_partitioning(nn.initializers.ones,
                                              ('embed',)),
        (x.shape[-1],), jnp.float32)
    scale = scale.reshape((1,) * (x.ndim - 1) + scale.shape)
    return jnp.asarray(y * scale, self.dtype)


# -----------------------------------------------------------------------------
# Cached decoding.
# -----------------------------------------------------------------------------
def kv_cache(module: nn.Module, batch: int, num_heads: int, head_dim: int,
             length: int, dtype: Any):
  """A module's (cached_key, cached_value, cache_index) cache variables.

  Layout (collection 'cache'): `cached_key` [B, N, D, K] and `cached_value`
  [B, N, K, D] in `dtype`, and the int32 scalar `cache_index`, the slot the
  next token is written to. A decoding step reads the whole cache, so it
  lies the way the step reads it: heads first (no transpose per step) and
  the summed dimension (D for the query-key product, K for the weighted
  values) outside the one kept, so the sums run over contiguous vectors
  (T5X lays its TPU caches out likewise). The sizes apply when the
  variables are created (the first, initialising call).
  """
  key = module.variable('cache', 'cached_key', jnp.zeros,
                        (batch, num_heads, head_dim, length), dtype)
  value = module.variable('cache', 'cached_value', jnp.zeros,
                          (batch, num_heads, length, head_dim), dtype)
  index = module.variable('cache', 'cache_index',
                          lambda: jnp.array(0, dtype=jnp.int32))
  return key, value, index


def write_kv_cache(cached_key, cached_value, cache_index, k_BQND: Array,
                   v_BQND: Array) -> Array:
  """Writes Q new keys/values at the cache index and advances it.

  Args:
    cached_key, cached_value, cache_index: the variables of `kv_cache`.
    k_BQND, v_BQND: the new keys and values [B, Q, N, D].

  Returns:
    The slot the first new key went to (the index before the call).
  """
  cur = cache_index.value
  zero = jnp.zeros((), jnp.int32)
  cached_key.value = lax.dynamic_update_slice(
      cached_key.value,
      k_BQND.transpose(0, 2, 3, 1).astype(cached_key.value.dtype),
      (zero, zero, zero, cur))
  cached_value.value = lax.dynamic_update_slice(
      cached_value.value,
      v_BQND.transpose(0, 2, 1, 3).astype(cached_value.value.dtype),
      (zero, zero, cur, zero))
  cache_index.value = cur + k_BQND.shape[1]
  return cur


def attention_product(spec: str, a: Array, b: Array) -> Array:
  """`jnp.einsum(spec, a, b)`, with one decoding query as multiply-and-sum.

  A decoding step has one query per row, so both attention products are
  matrix-vector work over the cache. XLA:CPU runs a batched dot as one small
  GEMM per (row, head); an elementwise product and a sum is one fused loop
  that reads the cache once, in the order it lies (see `kv_cache`).

  The fast paths cover the cache layouts of `kv_cache`, for multi-head
  attention (`h` heads: 'bqhd,bhdk->bhqk', 'bhqk,bhkd->bqhd') and grouped
  queries (`n` key/value heads of `g` queries: 'bqngd,bndk->bngqk',
  'bngqk,bnkd->bqngd'); any other spec is a plain einsum.
  """
  lhs = spec.split(',')[0]
  if 'q' in lhs and a.shape[lhs.index('q')] == 1:
    if spec == 'bqhd,bhdk->bhqk':  # [B, H, D, 1] * [B, H, D, K], sum over D.
      return jnp.sum(a[:, 0, :, :, None] * b, axis=2)[:, :, None]
    if spec == 'bhqk,bhkd->bqhd':  # [B, H, K, 1] * [B, H, K, D], sum over K.
      return jnp.sum(a[:, :, 0, :, None] * b, axis=2)[:, None]
    if spec == 'bqngd,bndk->bngqk':
      # [B, N, G, D, 1] * [B, N, 1, D, K], summed over D.
      return jnp.sum(a[:, 0, :, :, :, None] * b[:, :, None], axis=3)[
          :, :, :, None]
    if spec == 'bngqk,bnkd->bqngd':
      # [B, N, G, K, 1] * [B, N, 1, K, D], summed over K.
      return jnp.sum(a[:, :, :, 0, :, None] * b[:, :, None], axis=3)[:, None]
  return jnp.einsum(spec, a, b)
