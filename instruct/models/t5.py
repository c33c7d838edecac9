"""T5 (v1.1 by default) encoder-decoder in flax.linen, T5X parameter tree.

The network is the one behind the T5 v1.1 and Flan-T5 checkpoints: RMSNorm
without biases, relative position buckets shared by all layers of a stack,
a gated-GELU MLP and no scaling of the attention logits (the query kernel's
initialiser absorbs 1/sqrt(head_dim) instead). Parameter names and logical
axis names match T5X, so T5X checkpoints load without renaming and the
logical-axis rules of T5X shard it.

Shape suffixes in names: B batch, L length (Q queries, K keys), E embedding,
H heads, D head dimension, M mlp, V vocabulary.
"""

import dataclasses
import functools
import math
from typing import Any, Callable, Optional, Tuple

import flax
from flax import traverse_util
import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from instruct import errors
from instruct.models import layers
from instruct.peft import layers as peft_layers
from instruct.peft import prompts as peft_prompts

Array = jax.Array

_attention_kernel_init = nn.initializers.variance_scaling(
    1.0, 'fan_in', 'normal')
_relpos_init = nn.initializers.variance_scaling(1.0, 'fan_avg', 'uniform')


@dataclasses.dataclass(frozen=True)
class T5Config:
  """Hyperparameters of the network; defaults are T5 v1.1 small on bytes."""
  vocab_size: int = 384
  emb_dim: int = 512
  num_heads: int = 6
  num_encoder_layers: int = 8
  num_decoder_layers: int = 8
  head_dim: int = 64
  mlp_dim: int = 1024
  mlp_activations: Tuple[str, ...] = ('gelu', 'linear')
  dropout_rate: float = 0.1
  # Activation and compute dtype; parameters are always stored in float32.
  dtype: str = 'float32'
  logits_via_embedding: bool = False
  float32_attention_logits: bool = True
  relative_attention_num_buckets: int = 32
  relative_attention_max_distance: int = 128
  # Parameter-efficient fine-tuning (`instruct.peft.config.PeftConfig`);
  # None trains every parameter.
  peft: Optional[Any] = None

  def __post_init__(self):
    # gin and JSON hand lists over; a tuple keeps the config hashable.
    object.__setattr__(self, 'mlp_activations', tuple(self.mlp_activations))

  @property
  def compute_dtype(self) -> jnp.dtype:
    return jnp.dtype(self.dtype)


def config_from_params(params: Any, **overrides) -> T5Config:
  """A `T5Config` read off a T5 parameter tree's shapes.

  The number of heads comes from the relative-position table; the MLP is
  taken to be T5 v1.1's gated GELU when there are `wi_0`/`wi_1` kernels.
  """
  flat = traverse_util.flatten_dict(flax.core.unfreeze(params))
  count = lambda stack: len({p[1] for p in flat
                             if p[0] == stack and p[1].startswith('layers_')})
  vocab, emb = flat[('token_embedder', 'embedding')].shape
  heads, buckets = flat[('encoder', 'relpos_bias', 'rel_embedding')].shape
  query = ('encoder', 'layers_0', 'attention', 'query', 'kernel')
  joined = flat[query].shape[1]
  gated = ('encoder', 'layers_0', 'mlp', 'wi_0', 'kernel') in flat
  wi = ('wi_0' if gated else 'wi')
  mlp = flat[('encoder', 'layers_0', 'mlp', wi, 'kernel')].shape[1]
  fields = dict(vocab_size=vocab, emb_dim=emb, num_heads=heads,
                num_encoder_layers=count('encoder'),
                num_decoder_layers=count('decoder'), head_dim=joined // heads,
                mlp_dim=mlp,
                mlp_activations=('gelu', 'linear') if gated else ('relu',),
                logits_via_embedding=(
                    ('decoder', 'logits_dense', 'kernel') not in flat),
                relative_attention_num_buckets=buckets, dropout_rate=0.0)
  fields.update(overrides)
  return T5Config(**fields)


def _activation(name: str) -> Callable[[Array], Array]:
  # 'gelu' is flax's tanh approximation, which is what T5X and HF's
  # 'gelu_new' (used by feed_forward_proj='gated-gelu') compute.
  if name == 'linear':
    return lambda x: x
  fn = getattr(nn, name, None)
  if fn is None or not callable(fn):
    raise ValueError(f'T5Config.mlp_activations: unknown activation {name!r}; '
                     "expected 'linear' or a flax.linen function like 'gelu'.")
  return fn


def relative_position_bucket(relative_position: np.ndarray,
                             bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> np.ndarray:
  """Maps relative positions (key - query) to T5's relative attention buckets.

  Half of the buckets hold exact small distances, the other half distances
  growing logarithmically up to `max_distance`; a bidirectional stack splits
  the buckets again between keys before and after the query.

  Args:
    relative_position: integer array of key position minus query position.
    bidirectional: whether keys after the query get their own buckets.
    num_buckets: total number of buckets.
    max_distance: distances from here on share the last bucket.

  Returns:
    int32 array of bucket ids with the shape of `relative_position`.
  """
  # numpy, not jnp: shapes are static, so the buckets become constants and
  # the cached decoder and the full decoder see bit-identical buckets.
  n = -np.asarray(relative_position, dtype=np.int64)
  buckets = np.zeros_like(n)
  if bidirectional:
    num_buckets //= 2
    buckets += (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
  else:
    n = np.maximum(n, 0)
  max_exact = num_buckets // 2
  is_small = n < max_exact
  # float32 and the operation order of HF's PyTorch port, so that distances
  # on a bucket boundary round the same way; n is raised to 1 only to keep
  # log() finite for the small distances, which do not use this branch.
  ratio = np.maximum(n, 1).astype(np.float32) / np.float32(max_exact)
  large = max_exact + (
      np.log(ratio) / np.float32(math.log(max_distance / max_exact)) *
      np.float32(num_buckets - max_exact)).astype(np.int64)
  large = np.minimum(large, num_buckets - 1)
  buckets += np.where(is_small, n, large)
  return buckets.astype(np.int32)


class RelativePositionBiases(nn.Module):
  """Per-head learned bias for each relative position bucket."""
  num_heads: int
  num_buckets: int
  max_distance: int
  dtype: Any = jnp.float32

  def setup(self):
    self.rel_embedding = self.param(
        'rel_embedding',
        nn.with_logical_partitioning(_relpos_init, ('heads', 'relpos_buckets')),
        (self.num_heads, self.num_buckets), jnp.float32)

  def _lookup(self, relative_position: np.ndarray, bidirectional: bool):
    buckets = relative_position_bucket(relative_position, bidirectional,
                                       self.num_buckets, self.max_distance)
    return jnp.take(jnp.asarray(self.rel_embedding, self.dtype), buckets,
                    axis=1)

  def __call__(self, qlen: int, klen: int, bidirectional: bool) -> Array:
    """Bias [1, H, Q, K] for queries 0..qlen-1 against keys 0..klen-1."""
    relative_position = np.arange(klen)[None, :] - np.arange(qlen)[:, None]
    return self._lookup(relative_position, bidirectional)[None]

  def table(self, length: int, bidirectional: bool) -> Array:
    """Bias [H, 2 * length - 1] for relative positions -(length-1)..length-1.

    A query at position q reads its row of biases against keys 0..length-1 as
    `table[:, length - 1 - q:2 * length - 1 - q]`; the cached decoder slices
    it per step instead of rebuilding an [L, L] bias every token.
    """
    return self._lookup(np.arange(-(length - 1), length), bidirectional)


class MultiHeadDotProductAttention(nn.Module):
  """Multi-head attention with an optional key/value cache for decoding.

  Cache layout (collection 'cache', see `layers.kv_cache`): `cached_key`
  [B, H, D, max_length] and `cached_value` [B, H, max_length, D] in the
  compute dtype, and the int32 scalar `cache_index`, the position the next
  token is written to.

  Cross-attention (`cross_attention=True`) keeps the projected encoder
  outputs, `cached_cross_key` [B, H, D, K] and `cached_cross_value`
  [B, H, K, D], when a decoding call says `prefill` (the first step; T5X
  re-projects them every step). Later decoding calls read them; without a
  prefill call they project `inputs_kv` as usual.
  """
  num_heads: int
  head_dim: int
  dropout_rate: float = 0.0
  float32_logits: bool = True
  dtype: Any = jnp.float32
  peft: Optional[Any] = None
  cross_attention: bool = False

  @nn.compact
  def __call__(self, inputs_q: Array, inputs_kv: Array,
               mask: Optional[Array] = None, bias: Optional[Array] = None,
               relpos_table: Optional[Array] = None, *,
               enable_dropout: bool = True, decode: bool = False,
               prefill: bool = False) -> Array:
    """Attends `inputs_q` [B, Q, E] to `inputs_kv` [B, K, E].

    Args:
      inputs_q: query inputs.
      inputs_kv: key/value inputs.
      mask: boolean [B, 1, Q, K]; False positions are not attended to.
      bias: additive [1, H, Q, K] bias such as relative positions.
      relpos_table: with `decode`, the [H, 2L-1] relative position table of
        `RelativePositionBiases.table`, sliced at the cache index.
      enable_dropout: dropout on the attention probabilities.
      decode: single-token step against the key/value cache.
      prefill: with `decode`, the first step: cross-attention stores the
        projected `inputs_kv` in the cache for the later steps.

    Returns:
      [B, Q, E] outputs.
    """
    joined_kv = self.num_heads * self.head_dim

    def query_init(*args):
      # Folding 1/sqrt(head_dim) into the initialiser (as Mesh TF did) is why
      # the pretrained checkpoints need no scaling at run time.
      return _attention_kernel_init(*args) / np.sqrt(self.head_dim)

    projection = functools.partial(layers.Dense, joined_kv,
                                   ('embed', 'joined_kv'), dtype=self.dtype,
                                   peft=self.peft)
    q_BQHD = self._split_heads(
        projection(kernel_init=query_init, name='query')(inputs_q))
    if self.cross_attention and decode and (
        prefill or self.has_variable('cache', 'cached_cross_key')):
      if prefill:
        self.put_variable('cache', 'cached_cross_key', self._split_heads(
            projection(kernel_init=_attention_kernel_init, name='key')(
                inputs_kv)).transpose(0, 2, 3, 1))
        self.put_variable('cache', 'cached_cross_value', self._split_heads(
            projection(kernel_init=_attention_kernel_init, name='value')(
                inputs_kv)).transpose(0, 2, 1, 3))
      return self._attend(q_BQHD, self.get_variable('cache',
                                                    'cached_cross_key'),
                          self.get_variable('cache', 'cached_cross_value'),
                          'bhdk', 'bhkd', mask, None, enable_dropout,
                          inputs_q.shape[-1])
    k_BKHD = self._split_heads(
        projection(kernel_init=_attention_kernel_init, name='key')(inputs_kv))
    v_BKHD = self._split_heads(
        projection(kernel_init=_attention_kernel_init, name='value')(inputs_kv))

    # Prefix tuning: trained keys/values in front of the decoder's own, like
    # a cache filled before the input (`peft` gives T5 no other prefixes).
    num_prefix = 0
    if (peft_prompts.prefix_tuning(self.peft) is not None and
        self.name == 'self_attention'):
      prefix_k, prefix_v = peft_prompts.attention_prefix(
          self, self.num_heads, self.head_dim)
      num_prefix = prefix_k.shape[0]

    # Keys and values: [B, K, H, D], or for one query (a decoding step)
    # keys [B, H, D, K] and values [B, H, K, D] (see the class docstring).
    keys, values, cached = k_BKHD, v_BKHD, False
    if decode and not self.cross_attention:
      keys, values, mask, bias, cached = self._use_cache(
          k_BKHD, v_BKHD, mask, bias, relpos_table, num_prefix)
    key_spec = value_spec = 'bkhd'
    if cached or q_BQHD.shape[1] == 1:
      key_spec, value_spec = 'bhdk', 'bhkd'
    if not cached and q_BQHD.shape[1] == 1:
      keys = k_BKHD.transpose(0, 2, 3, 1)
      values = v_BKHD.transpose(0, 2, 1, 3)
    if num_prefix:
      keys, values, mask = peft_prompts.prepend_prefix(
          prefix_k, prefix_v, keys, values, mask,
          key_spec=key_spec.replace('h', 'n'),
          value_spec=value_spec.replace('h', 'n'))
      num_keys = keys.shape[key_spec.index('k')]
      if bias is not None and bias.shape[-1] != num_keys:
        raise ValueError(
            f'Prefix tuning: the position bias spans {bias.shape[-1]} keys, '
            f'expected {num_keys} ({num_prefix} prefix + own keys).')
    return self._attend(q_BQHD, keys, values, key_spec, value_spec, mask,
                        bias, enable_dropout, inputs_q.shape[-1])

  def _attend(self, q_BQHD, keys, values, key_spec, value_spec, mask, bias,
              enable_dropout, out_features):
    """Softmax attention of the queries over keys/values laid out as their
    specs say, then the output projection."""
    joined_kv = self.num_heads * self.head_dim
    if self.float32_logits:
      q_BQHD = q_BQHD.astype(jnp.float32)
      keys = keys.astype(jnp.float32)
    logits_BHQK = layers.attention_product(f'bqhd,{key_spec}->bhqk', q_BQHD,
                                           keys)
    if mask is not None:
      logits_BHQK = logits_BHQK + jnp.where(
          mask, 0.0, layers.MASK_BIAS).astype(logits_BHQK.dtype)
    if bias is not None:
      logits_BHQK = logits_BHQK + bias.astype(logits_BHQK.dtype)
    weights_BHQK = jax.nn.softmax(logits_BHQK).astype(self.dtype)
    # Like T5X, one dropout mask per key is shared by all queries.
    weights_BHQK = nn.Dropout(rate=self.dropout_rate, broadcast_dims=(-2,))(
        weights_BHQK, deterministic=not enable_dropout)

    out_BQHD = layers.attention_product(f'bhqk,{value_spec}->bqhd',
                                        weights_BHQK, values)
    out_BQHD = nn.with_logical_constraint(out_BQHD,
                                          ('batch', 'length', 'heads', 'kv'))
    out_BQJ = out_BQHD.reshape(out_BQHD.shape[:2] + (joined_kv,))
    return layers.Dense(out_features, ('joined_kv', 'embed'),
                        kernel_init=_attention_kernel_init, dtype=self.dtype,
                        peft=self.peft, name='out')(out_BQJ)

  def _split_heads(self, x_BLJ: Array) -> Array:
    x_BLHD = x_BLJ.reshape(x_BLJ.shape[:2] + (self.num_heads, self.head_dim))
    return nn.with_logical_constraint(x_BLHD,
                                      ('batch', 'length', 'heads', 'kv'))

  def _use_cache(self, k_BKHD, v_BKHD, mask, bias, relpos_table,
                 num_prefix=0):
    """Writes this step's key/value into the cache; returns the whole cache.

    With `num_prefix` prefix keys (prefix tuning) the relative position row
    also covers them: they sit at positions 0..n-1, the cache after them.

    Returns:
      (keys, values, mask, bias, whether keys and values come from the
      cache: not on the initialising call, which returns its inputs).
    """
    initialized = self.has_variable('cache', 'cached_key')
    # On the first (initialising) call the inputs span the full decode length,
    # which gives the cache its shape.
    batch, length, num_heads, head_dim = k_BKHD.shape
    cached_key, cached_value, cache_index = layers.kv_cache(
        self, batch, num_heads, head_dim, length, k_BKHD.dtype)
    if not initialized:
      return k_BKHD, v_BKHD, mask, None, False
    batch, num_heads, max_length, head_dim = cached_value.value.shape
    if k_BKHD.shape != (batch, 1, num_heads, head_dim):
      raise ValueError(
          'Cached decoding takes one token per step: expected keys of shape '
          f'{(batch, 1, num_heads, head_dim)}, got {k_BKHD.shape}.')
    cur = layers.write_kv_cache(cached_key, cached_value, cache_index, k_BKHD,
                                v_BKHD)

    # Keys not yet written are still zeros; mask them out.
    written_11K = (jnp.arange(max_length) <= cur)[None, None, None, :]
    written = jnp.broadcast_to(written_11K, (batch, 1, 1, max_length))
    mask = written if mask is None else jnp.logical_and(mask, written)
    if relpos_table is not None:
      total = max_length + num_prefix
      if relpos_table.shape[-1] != 2 * total - 1:
        raise ValueError(
            f'max_decode_length gives a relative position table for length '
            f'{(relpos_table.shape[-1] + 1) // 2}, but the cache holds '
            f'{max_length} positions (+ {num_prefix} prefix).')
      row_HK = lax.dynamic_slice_in_dim(relpos_table,
                                        total - 1 - (cur + num_prefix),
                                        total, axis=1)
      row = row_HK[None, :, None, :]
      bias = row if bias is None else bias + row
    return cached_key.value, cached_value.value, mask, bias, True


class MlpBlock(nn.Module):
  """Position-wise MLP; several activations are multiplied (gated units)."""
  mlp_dim: int
  activations: Tuple[str, ...] = ('gelu', 'linear')
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  peft: Optional[Any] = None

  @nn.compact
  def __call__(self, x_BLE: Array, *, enable_dropout: bool = True) -> Array:
    hidden_BLM = None
    for i, name in enumerate(self.activations):
      # T5X names a single input projection 'wi' and gated ones 'wi_0', ...
      dense_name = 'wi' if len(self.activations) == 1 else f'wi_{i}'
      h_BLM = _activation(name)(
          layers.Dense(self.mlp_dim, ('embed', 'mlp'), dtype=self.dtype,
                       peft=self.peft, name=dense_name)(x_BLE))
      hidden_BLM = h_BLM if hidden_BLM is None else hidden_BLM * h_BLM
    hidden_BLM = nn.Dropout(rate=self.dropout_rate, broadcast_dims=(-2,))(
        hidden_BLM, deterministic=not enable_dropout)
    hidden_BLM = nn.with_logical_constraint(hidden_BLM,
                                            ('batch', 'length', 'mlp'))
    return layers.Dense(x_BLE.shape[-1], ('mlp', 'embed'), dtype=self.dtype,
                        peft=self.peft, name='wo')(hidden_BLM)


def _dropout(config: T5Config, x: Array, enable_dropout: bool) -> Array:
  # T5X broadcasts residual dropout along the length axis.
  return nn.Dropout(rate=config.dropout_rate, broadcast_dims=(-2,))(
      x, deterministic=not enable_dropout)


def _attention(config: T5Config, name: str,
               cross_attention: bool = False) -> MultiHeadDotProductAttention:
  return MultiHeadDotProductAttention(
      num_heads=config.num_heads, head_dim=config.head_dim,
      dropout_rate=config.dropout_rate,
      float32_logits=config.float32_attention_logits,
      dtype=config.compute_dtype, peft=config.peft,
      cross_attention=cross_attention, name=name)


def _mlp(config: T5Config) -> MlpBlock:
  return MlpBlock(mlp_dim=config.mlp_dim, activations=config.mlp_activations,
                  dropout_rate=config.dropout_rate, dtype=config.compute_dtype,
                  peft=config.peft, name='mlp')


def _constrain(x_BLE: Array) -> Array:
  return nn.with_logical_constraint(x_BLE, ('batch', 'length', 'embed'))


def _relpos_bias(config: T5Config) -> RelativePositionBiases:
  return RelativePositionBiases(
      num_heads=config.num_heads,
      num_buckets=config.relative_attention_num_buckets,
      max_distance=config.relative_attention_max_distance,
      dtype=jnp.float32, name='relpos_bias')


class EncoderLayer(nn.Module):
  """Pre-norm self-attention and MLP sublayers with residuals."""
  config: T5Config

  @nn.compact
  def __call__(self, x_BLE, mask, bias, *, enable_dropout=True):
    cfg = self.config
    h = layers.RMSNorm(dtype=cfg.compute_dtype,
                       name='pre_attention_layer_norm')(x_BLE)
    h = _attention(cfg, 'attention')(h, h, mask, bias,
                                     enable_dropout=enable_dropout)
    h = peft_layers.adapter(cfg.peft, h, 'attention', cfg.compute_dtype)
    x_BLE = _constrain(x_BLE + _dropout(cfg, h, enable_dropout))
    h = layers.RMSNorm(dtype=cfg.compute_dtype,
                       name='pre_mlp_layer_norm')(x_BLE)
    h = _mlp(cfg)(h, enable_dropout=enable_dropout)
    h = peft_layers.adapter(cfg.peft, h, 'mlp', cfg.compute_dtype)
    return _constrain(x_BLE + _dropout(cfg, h, enable_dropout))


class DecoderLayer(nn.Module):
  """Pre-norm causal self-attention, cross-attention and MLP sublayers."""
  config: T5Config

  @nn.compact
  def __call__(self, x_BLE, encoded_BKE, decoder_mask, encoder_decoder_mask,
               bias, relpos_table, *, enable_dropout=True, decode=False,
               prefill=False):
    cfg = self.config
    h = layers.RMSNorm(dtype=cfg.compute_dtype,
                       name='pre_self_attention_layer_norm')(x_BLE)
    h = _attention(cfg, 'self_attention')(
        h, h, decoder_mask, bias, relpos_table, enable_dropout=enable_dropout,
        decode=decode)
    # Adapters (Houlsby) follow the self-attention block, not cross-attention.
    h = peft_layers.adapter(cfg.peft, h, 'attention', cfg.compute_dtype)
    x_BLE = _constrain(x_BLE + _dropout(cfg, h, enable_dropout))
    h = layers.RMSNorm(dtype=cfg.compute_dtype,
                       name='pre_cross_attention_layer_norm')(x_BLE)
    h = _attention(cfg, 'encoder_decoder_attention', cross_attention=True)(
        h, encoded_BKE, encoder_decoder_mask, enable_dropout=enable_dropout,
        decode=decode, prefill=prefill)
    x_BLE = _constrain(x_BLE + _dropout(cfg, h, enable_dropout))
    h = layers.RMSNorm(dtype=cfg.compute_dtype,
                       name='pre_mlp_layer_norm')(x_BLE)
    h = _mlp(cfg)(h, enable_dropout=enable_dropout)
    h = peft_layers.adapter(cfg.peft, h, 'mlp', cfg.compute_dtype)
    return _constrain(x_BLE + _dropout(cfg, h, enable_dropout))


class Encoder(nn.Module):
  """Embedding, layers sharing one relative position bias, final norm."""
  config: T5Config
  shared_embedding: nn.Module

  @nn.compact
  def __call__(self, tokens_BL, segment_ids_BL=None, *, enable_dropout=True):
    """Encodes [B, L] tokens; with prompt tuning the output is [B, n + L, E]
    (the soft prompt's positions first, as `peft` feeds T5)."""
    cfg = self.config
    x = self.shared_embedding(tokens_BL.astype(jnp.int32))
    valid_BL = tokens_BL > 0
    prompt = peft_prompts.prompt_tuning(cfg.peft)
    if prompt is not None:
      if segment_ids_BL is not None:
        raise errors.UserError(
            'Prompt tuning on T5 needs unpacked inputs: the soft prompt is '
            'attended bidirectionally by the encoder, so packed examples '
            'would see each other through it. Turn packing off: '
            '--gin.PACK=False (train/DatasetConfig.pack).')
      prompt_NE = peft_prompts.soft_prompt(
          self, prompt, cfg.emb_dim, lambda: self.shared_embedding.embedding)
      batch = tokens_BL.shape[0]
      x = jnp.concatenate([jnp.broadcast_to(
          prompt_NE.astype(x.dtype)[None], (batch,) + prompt_NE.shape), x],
                          axis=1)
      valid_BL = jnp.concatenate(
          [jnp.ones((batch, prompt_NE.shape[0]), bool), valid_BL], axis=1)
    mask = layers.make_attention_mask(valid_BL, valid_BL)
    if segment_ids_BL is not None:
      mask = jnp.logical_and(mask, layers.make_segment_mask(segment_ids_BL,
                                                     segment_ids_BL))
    length = x.shape[1]
    bias = _relpos_bias(cfg)(length, length, bidirectional=True)

    x = _constrain(_dropout(cfg, x, enable_dropout))
    for i in range(cfg.num_encoder_layers):
      x = EncoderLayer(cfg, name=f'layers_{i}')(
          x, mask, bias, enable_dropout=enable_dropout)
    x = layers.RMSNorm(dtype=cfg.compute_dtype, name='encoder_norm')(x)
    return _constrain(_dropout(cfg, x, enable_dropout))


class Decoder(nn.Module):
  """Embedding, decoder layers sharing one relative position bias, logits."""
  config: T5Config
  shared_embedding: nn.Module

  @nn.compact
  def __call__(self, encoded_BKE, tokens_BL, decoder_mask,
               encoder_decoder_mask, *, enable_dropout=True, decode=False,
               max_decode_length=None, positions_BL=None, prefill=False):
    cfg = self.config
    relpos = _relpos_bias(cfg)
    # Prefix tuning: n prefix keys at positions 0..n-1 in every
    # self-attention, the decoder's tokens from position n on.
    num_prefix = peft_prompts.num_prefix_tokens(cfg.peft)
    if decode:
      if max_decode_length is None:
        raise ValueError('decode=True needs max_decode_length (the length '
                         'the cache was initialised with).')
      bias, table = None, relpos.table(max_decode_length + num_prefix,
                                       bidirectional=False)
    else:
      length = tokens_BL.shape[1]
      bias, table = relpos(length, length, bidirectional=False), None
      if num_prefix:
        bias = _with_prefix_bias(relpos, bias, num_prefix, positions_BL,
                                 tokens_BL.shape)
    prompt = peft_prompts.prompt_tuning(cfg.peft)
    if prompt is not None and prompt.t5_decoder_prompt:
      # Held like `peft`'s second prompt of a seq2seq model; unused, as
      # there (see instruct.peft.prompts).
      peft_prompts.soft_prompt(
          self, prompt, cfg.emb_dim, lambda: self.shared_embedding.embedding,
          name='peft_decoder_prompt', row_offset=prompt.num_virtual_tokens)

    x = self.shared_embedding(tokens_BL.astype(jnp.int32))
    x = _constrain(_dropout(cfg, x, enable_dropout))
    for i in range(cfg.num_decoder_layers):
      x = DecoderLayer(cfg, name=f'layers_{i}')(
          x, encoded_BKE, decoder_mask, encoder_decoder_mask, bias, table,
          enable_dropout=enable_dropout, decode=decode, prefill=prefill)
    x = layers.RMSNorm(dtype=cfg.compute_dtype, name='decoder_norm')(x)
    x = _constrain(_dropout(cfg, x, enable_dropout))
    if cfg.logits_via_embedding:
      # Tied output layer: rescale so logits keep unit-scale variance.
      logits = self.shared_embedding.attend(x.astype(jnp.float32))
      logits = logits / np.sqrt(x.shape[-1])
    else:
      logits = layers.Dense(cfg.vocab_size, ('embed', 'vocab'),
                            dtype=jnp.float32, name='logits_dense')(x)
    return nn.with_logical_constraint(logits.astype(jnp.float32),
                                      ('batch', 'length', 'vocab'))


def _with_prefix_bias(relpos: RelativePositionBiases, bias_1HQK: Array,
                      num_prefix: int, positions_BQ: Optional[Array],
                      shape: Tuple[int, int]) -> Array:
  """Adds the bias columns [B, H, Q, n] of n prefix keys at positions 0..n-1.

  A query at (segment) position p sits at n + p; packed rows give p per
  segment, so each segment sees the prefix as it would alone.
  """
  batch, length = shape
  total = num_prefix + length
  table_HT = relpos.table(total, bidirectional=False)
  if positions_BQ is None:
    positions_BQ = jnp.broadcast_to(jnp.arange(length), (batch, length))
  # relative position (key - query) = j - (n + p), looked up in the table.
  rel_BQN = (jnp.arange(num_prefix)[None, None, :] - num_prefix -
             positions_BQ[:, :, None])
  prefix_HBQN = jnp.take(table_HT, rel_BQN + total - 1, axis=1)
  prefix_BHQN = jnp.transpose(prefix_HBQN, (1, 0, 2, 3))
  own_BHQK = jnp.broadcast_to(bias_1HQK, (batch,) + bias_1HQK.shape[1:])
  return jnp.concatenate([prefix_BHQN.astype(own_BHQK.dtype), own_BHQK],
                         axis=-1)


class Transformer(nn.Module):
  """T5 encoder-decoder returning float32 logits [B, target_len, vocab]."""
  config: T5Config

  def setup(self):
    cfg = self.config
    self.token_embedder = layers.Embed(cfg.vocab_size, cfg.emb_dim,
                                       dtype=cfg.compute_dtype)
    self.encoder = Encoder(cfg, self.token_embedder)
    self.decoder = Decoder(cfg, self.token_embedder)
    # Prefix tuning's reparameterisation MLP (or None); the decoder's
    # self-attention layers read its parameters (instruct.peft.prompts).
    self.peft_prefix_reparam = peft_prompts.reparam_module(
        cfg.peft, cfg.num_decoder_layers,
        cfg.num_heads * cfg.head_dim)

  def encode(self, encoder_input_tokens, encoder_segment_ids=None, *,
             enable_dropout=True):
    """Encodes [B, input_len] tokens (0 = padding) into [B, input_len, E]."""
    return self.encoder(encoder_input_tokens, encoder_segment_ids,
                        enable_dropout=enable_dropout)

  def decode(self, encoded, encoder_input_tokens, decoder_input_tokens,
             decoder_target_tokens, encoder_segment_ids=None,
             decoder_segment_ids=None, decoder_positions=None, *,
             enable_dropout=True, decode=False, max_decode_length=None,
             prefill=False):
    """Runs the decoder on encoder outputs and returns float32 logits.

    Args:
      encoded: [B, K, E] output of `encode`.
      encoder_input_tokens: [B, K] tokens, for the cross-attention padding mask.
      decoder_input_tokens: [B, L] decoder inputs (targets shifted right); one
        token per call ([B, 1]) when `decode`.
      decoder_target_tokens: [B, L] targets; only their padding (0) is used.
      encoder_segment_ids: [B, K] packing segment ids (1, 2, ...; 0 padding).
      decoder_segment_ids: [B, L] packing segment ids.
      decoder_positions: [B, L] positions within packed segments; only prefix
        tuning uses them (the prefix's relative positions); None: 0..L-1.
      enable_dropout: apply dropout (needs a 'dropout' rng).
      decode: one step of cached decoding; the 'cache' collection must be
        mutable. The first such call with [B, max_decode_length] inputs only
        creates the cache.
      max_decode_length: cache length; required with `decode`.
      prefill: with `decode`, this is the first step: the cross-attention
        keys and values of `encoded` go into the cache and later steps read
        them instead of projecting `encoded` again.

    Returns:
      Logits [B, L, vocab] in float32.
    """
    if self.peft_prefix_reparam is not None:
      self.peft_prefix_reparam()  # Creates its parameters at init.
    encoder_valid = encoder_input_tokens > 0
    num_prompt = peft_prompts.num_prompt_tokens(self.config.peft)
    if num_prompt:
      # The encoder's output starts with the soft prompt's n positions.
      encoder_valid = jnp.concatenate(
          [jnp.ones((encoder_valid.shape[0], num_prompt), bool),
           encoder_valid], axis=1)
    if decode:
      # Causality comes from the cache; packing is not supported while
      # decoding (as in T5X), so only encoder padding is masked.
      decoder_mask = None
      encoder_decoder_mask = layers.make_attention_mask(
          jnp.ones_like(decoder_target_tokens, dtype=bool), encoder_valid)
    else:
      valid = decoder_target_tokens > 0
      decoder_mask = jnp.logical_and(
          layers.make_causal_mask(decoder_target_tokens.shape[1]),
          layers.make_attention_mask(valid, valid))
      encoder_decoder_mask = layers.make_attention_mask(valid, encoder_valid)
      if decoder_segment_ids is not None:
        decoder_mask = jnp.logical_and(
            decoder_mask,
            layers.make_segment_mask(decoder_segment_ids,
                                     decoder_segment_ids))
        if encoder_segment_ids is not None:
          encoder_decoder_mask = jnp.logical_and(
              encoder_decoder_mask,
              layers.make_segment_mask(decoder_segment_ids,
                                       encoder_segment_ids))
    return self.decoder(encoded, decoder_input_tokens, decoder_mask,
                        encoder_decoder_mask, enable_dropout=enable_dropout,
                        decode=decode, max_decode_length=max_decode_length,
                        positions_BL=None if decode else decoder_positions,
                        prefill=prefill)

  def __call__(self, encoder_input_tokens, decoder_input_tokens,
               decoder_target_tokens, encoder_segment_ids=None,
               decoder_segment_ids=None, encoder_positions=None,
               decoder_positions=None, *, enable_dropout=True, decode=False,
               max_decode_length=None):
    """Encodes and decodes; returns float32 logits [B, target_len, vocab].

    `encoder_positions` and `decoder_positions` are accepted for the T5X
    feature interface and unused: relative position biases need no absolute
    positions, and packed segments are separated by the segment ids.
    """
    del encoder_positions
    encoded = self.encode(encoder_input_tokens, encoder_segment_ids,
                          enable_dropout=enable_dropout)
    return self.decode(encoded, encoder_input_tokens, decoder_input_tokens,
                       decoder_target_tokens, encoder_segment_ids,
                       decoder_segment_ids, decoder_positions,
                       enable_dropout=enable_dropout, decode=decode,
                       max_decode_length=max_decode_length)
