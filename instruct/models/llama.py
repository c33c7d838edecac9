"""Llama-style decoder-only transformer in flax.linen, T5X-style parameter tree.

The network of Llama 2/3 and SmolLM2: RMSNorm before attention and MLP,
rotary position embeddings (RoPE, Hugging Face's rotate-half convention),
grouped-query attention, a SwiGLU MLP and no biases. Parameter names follow
T5X's decoder-only layout and carry logical axis names, so the logical-axis
rules shard it like T5. Query/key kernels keep Hugging Face's column order:
converting from `LlamaForCausalLM` is a transpose (see `hf_llama.py`).

One `__call__` serves training (packed sequences, prefix-LM), scoring and
cached decoding. With `decode=True` the attention layers keep a key/value
cache; a call may write several tokens at once (prefill), and per-row
positions let left-padded prompts of different lengths share one cache.

Shape suffixes in names: B batch, L length (Q queries, K keys), E embedding,
H query heads, G query heads per key/value head, N key/value heads, D head
dimension, M mlp, V vocabulary.
"""

import dataclasses
import math
from typing import Any, Optional

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from instruct.models import layers
from instruct.peft import layers as peft_layers
from instruct.peft import prompts as peft_prompts

Array = jax.Array

_kernel_init = nn.initializers.variance_scaling(1.0, 'fan_in', 'normal')
# 1/sqrt(emb_dim): unit-variance logits when the output layer is tied.
_embedding_init = nn.initializers.variance_scaling(
    1.0, 'fan_in', 'normal', in_axis=1, out_axis=0)
_ROPE_TYPES = ('default', 'llama3')


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
  """Hyperparameters of the network; defaults are a tiny byte-level model.

  `rope_type='llama3'` applies Llama 3.1/3.2's frequency rescaling with
  `rope_scaling_factor`, `rope_low_freq_factor`, `rope_high_freq_factor` and
  `rope_original_max_position` (Hugging Face's `rope_scaling` fields).
  `qkv_bias` adds biases to the query, key and value projections (Qwen2's
  attention; see `instruct.models.qwen2`).
  """
  vocab_size: int = 384
  emb_dim: int = 64
  num_heads: int = 4
  num_kv_heads: int = 2
  head_dim: int = 16
  num_layers: int = 2
  mlp_dim: int = 192
  rope_theta: float = 10000.0
  rms_norm_eps: float = 1e-5
  tie_word_embeddings: bool = False
  # Activation and compute dtype; parameters are always stored in float32.
  dtype: str = 'float32'
  dropout_rate: float = 0.0
  float32_attention_logits: bool = True
  rope_type: str = 'default'
  rope_scaling_factor: float = 8.0
  rope_low_freq_factor: float = 1.0
  rope_high_freq_factor: float = 4.0
  rope_original_max_position: int = 8192
  qkv_bias: bool = False
  # Parameter-efficient fine-tuning (`instruct.peft.config.PeftConfig`);
  # None trains every parameter.
  peft: Optional[Any] = None

  def __post_init__(self):
    for name in ('vocab_size', 'emb_dim', 'num_heads', 'num_kv_heads',
                 'head_dim', 'num_layers', 'mlp_dim'):
      if getattr(self, name) < 1:
        raise ValueError(f'LlamaConfig.{name} must be positive, got '
                         f'{getattr(self, name)}.')
    if self.num_heads % self.num_kv_heads:
      raise ValueError(
          f'LlamaConfig.num_kv_heads={self.num_kv_heads} must divide '
          f'num_heads={self.num_heads} (grouped-query attention).')
    if self.head_dim % 2:
      raise ValueError(f'LlamaConfig.head_dim={self.head_dim} must be even '
                       '(rotary embeddings rotate pairs).')
    if self.rope_type not in _ROPE_TYPES:
      raise ValueError(f'LlamaConfig.rope_type={self.rope_type!r}; expected '
                       f'one of {_ROPE_TYPES}.')

  @property
  def compute_dtype(self) -> jnp.dtype:
    return jnp.dtype(self.dtype)


# -----------------------------------------------------------------------------
# Rotary position embeddings.
# -----------------------------------------------------------------------------
def rope_inv_freq(config: LlamaConfig) -> np.ndarray:
  """Inverse frequencies [head_dim // 2] (float32), as Hugging Face computes.

  Args:
    config: uses head_dim, rope_theta and the rope_* scaling fields.

  Returns:
    The frequency of each rotated pair of dimensions.
  """
  dim = config.head_dim
  exponents = np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / dim
  inv_freq = (1.0 / (np.float32(config.rope_theta) ** exponents)).astype(
      np.float32)
  if config.rope_type == 'llama3':
    factor = config.rope_scaling_factor
    low, high = config.rope_low_freq_factor, config.rope_high_freq_factor
    old_len = config.rope_original_max_position
    wavelen = 2 * math.pi / inv_freq
    # Long wavelengths are slowed down by `factor`, short ones kept, the band
    # between interpolated smoothly.
    scaled = np.where(wavelen > old_len / low, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
    inv_freq = np.where(medium, smoothed, scaled).astype(np.float32)
  return inv_freq


def apply_rope(x_BLHD: Array, positions_BL: Array,
               inv_freq: np.ndarray) -> Array:
  """Rotates [B, L, H, D] queries or keys by their positions (rotate-half).

  Dimension i is paired with i + D/2 (Hugging Face's layout, not the
  interleaved pairs of the original Llama code and of GGUF files).
  """
  freqs_BLF = (positions_BL.astype(jnp.float32)[:, :, None] *
               jnp.asarray(inv_freq)[None, None, :])
  angles_BLD = jnp.concatenate([freqs_BLF, freqs_BLF], axis=-1)
  cos = jnp.cos(angles_BLD)[:, :, None, :]
  sin = jnp.sin(angles_BLD)[:, :, None, :]
  x = x_BLHD.astype(jnp.float32)
  half = x.shape[-1] // 2
  rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
  return (x * cos + rotated * sin).astype(x_BLHD.dtype)


# -----------------------------------------------------------------------------
# Layers.
# -----------------------------------------------------------------------------
def _dense(features, axes, dtype, name, peft=None, use_bias=False):
  return layers.Dense(features, axes, kernel_init=_kernel_init, dtype=dtype,
                      peft=peft, use_bias=use_bias, name=name)


def _decode_mask(cur: Array, num_queries: int, cache_length: int,
                 positions_BQ: Array,
                 causal_attention_BQ: Optional[Array],
                 num_virtual: int = 0) -> Array:
  """[B, 1, Q, K] mask for queries written at cache slots cur..cur+Q-1.

  A query at slot s with position p sees slots s-p..s: itself and the p
  tokens before it in its row. Left padding therefore needs no separate
  mask: a row whose prompt starts at slot 3 has position 0 there and never
  looks further back. Prefix-LM prompts (`causal_attention_BQ`) also see
  the later prompt tokens written in the same call. With prompt tuning the
  first `num_virtual` slots hold the soft prompt, seen by every later query
  (`positions_BQ` then counts the real tokens only, negative on the prompt).
  """
  slots_Q = cur + jnp.arange(num_queries)
  dist_QK = slots_Q[:, None] - jnp.arange(cache_length)[None, :]
  own_BQK = dist_QK[None] <= positions_BQ[:, :, None]
  if num_virtual:
    own_BQK = jnp.logical_or(
        own_BQK, (jnp.arange(cache_length) < num_virtual)[None, None, :])
  mask_BQK = jnp.logical_and(dist_QK[None] >= 0, own_BQK)
  if causal_attention_BQ is not None:
    prefix_BQ = causal_attention_BQ > 0
    zeros_BK = jnp.zeros((prefix_BQ.shape[0], cache_length), bool)
    prefix_BK = lax.dynamic_update_slice(zeros_BK, prefix_BQ,
                                         (jnp.zeros((), jnp.int32), cur))
    mask_BQK = jnp.logical_or(
        mask_BQK, jnp.logical_and(prefix_BQ[:, :, None], prefix_BK[:, None]))
  return mask_BQK[:, None]


class Attention(nn.Module):
  """Grouped-query self-attention with RoPE and a key/value cache.

  Cache layout (collection 'cache', see `layers.kv_cache`): `cached_key`
  [B, N, D, K] (keys after RoPE) and `cached_value` [B, N, K, D], with N =
  num_kv_heads, D = head_dim, K = cache_length, in the compute dtype; and
  the int32 scalar `cache_index`, the slot the next token goes to.
  """
  config: LlamaConfig

  @nn.compact
  def __call__(self, x_BLE: Array, positions_BL: Optional[Array],
               mask: Optional[Array], causal_attention_BL: Optional[Array],
               *, enable_dropout: bool = True, decode: bool = False) -> Array:
    cfg = self.config
    dtype = cfg.compute_dtype
    heads, kv_heads, head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    batch, length = x_BLE.shape[:2]
    q_BLHD = _dense(heads * head_dim, ('embed', 'joined_kv'), dtype, 'query',
                    cfg.peft, cfg.qkv_bias)(x_BLE).reshape(
                        batch, length, heads, head_dim)
    k_BLND = _dense(kv_heads * head_dim, ('embed', 'joined_kv'), dtype, 'key',
                    cfg.peft, cfg.qkv_bias)(x_BLE).reshape(
                        batch, length, kv_heads, head_dim)
    v_BLND = _dense(kv_heads * head_dim, ('embed', 'joined_kv'), dtype, 'value',
                    cfg.peft, cfg.qkv_bias)(x_BLE).reshape(
                        batch, length, kv_heads, head_dim)
    q_BLHD = _constrain_heads(q_BLHD)
    k_BLND = _constrain_heads(k_BLND)
    v_BLND = _constrain_heads(v_BLND)

    # Prompt tuning keeps its n virtual tokens in the first cache slots;
    # prefix tuning's keys are not in the cache. Either way the real tokens'
    # rotary positions start at n, as with `peft`.
    num_prompt = peft_prompts.num_prompt_tokens(cfg.peft)
    num_prefix = peft_prompts.num_prefix_tokens(cfg.peft)
    cache, cur = None, None
    if decode:
      cache = self._cache(batch, length, k_BLND.dtype)
      cur = cache[2].value if cache[3] else None
    if positions_BL is None:
      start = 0 if cur is None else cur
      positions_BL = jnp.broadcast_to(start + num_prefix + jnp.arange(length),
                                      (batch, length))
    inv_freq = rope_inv_freq(cfg)
    q_BLHD = apply_rope(q_BLHD, positions_BL, inv_freq)
    k_BLND = apply_rope(k_BLND, positions_BL, inv_freq)
    # Keys and values are [B, K, N, D] without a cache; read from one, keys
    # are [B, N, D, K] and values [B, N, K, D] (see the class docstring).
    keys, values = k_BLND, v_BLND
    key_spec = value_spec = 'bknd'
    if cur is not None:
      keys, values, mask = _update_cache(
          cache[:3], k_BLND, v_BLND,
          positions_BL - (num_prompt + num_prefix), causal_attention_BL,
          num_prompt)
      key_spec, value_spec = 'bndk', 'bnkd'
    if num_prefix:
      # Prefix keys/values are like a cache filled before the input: keys
      # already "rotated" (they are trained as they are), seen by all.
      prefix_k, prefix_v = peft_prompts.attention_prefix(self, kv_heads,
                                                         head_dim)
      keys, values, mask = peft_prompts.prepend_prefix(
          prefix_k, prefix_v, keys, values, mask,
          key_spec=key_spec, value_spec=value_spec)

    groups = heads // kv_heads
    q_BLNGD = q_BLHD.reshape(batch, length, kv_heads, groups, head_dim)
    if cfg.float32_attention_logits:
      q_BLNGD = q_BLNGD.astype(jnp.float32)
      keys = keys.astype(jnp.float32)
    q_BLNGD = q_BLNGD * jnp.asarray(1.0 / math.sqrt(head_dim), q_BLNGD.dtype)
    logits_BNGQK = layers.attention_product(f'bqngd,{key_spec}->bngqk',
                                            q_BLNGD, keys)
    if mask is not None:
      bias_B1QK = jnp.where(mask, 0.0, layers.MASK_BIAS).astype(
          logits_BNGQK.dtype)
      logits_BNGQK = logits_BNGQK + bias_B1QK[:, :, None]
    weights = jax.nn.softmax(logits_BNGQK, axis=-1).astype(dtype)
    weights = nn.Dropout(rate=cfg.dropout_rate)(
        weights, deterministic=not enable_dropout)
    out_BQNGD = layers.attention_product(f'bngqk,{value_spec}->bqngd',
                                         weights, values.astype(dtype))
    out_BQHD = _constrain_heads(
        out_BQNGD.reshape(batch, length, heads, head_dim))
    return _dense(cfg.emb_dim, ('joined_kv', 'embed'), dtype, 'out', cfg.peft)(
        out_BQHD.reshape(batch, length, heads * head_dim))

  def _cache(self, batch: int, length: int, dtype):
    """(cached_key, cached_value, cache_index, initialized) variables.

    The first (initialising) call's length becomes the cache length, T5X's
    recipe; that call attends like a plain one and writes nothing.
    """
    cfg = self.config
    initialized = self.has_variable('cache', 'cached_key')
    kv_heads, head_dim = cfg.num_kv_heads, cfg.head_dim
    key, value, index = layers.kv_cache(self, batch, kv_heads, head_dim,
                                        length, dtype)
    return key, value, index, initialized


def _update_cache(variables, k_BQND, v_BQND, positions_BQ,
                  causal_attention_BQ, num_virtual=0):
  """Writes Q new keys/values at the cache index; returns cache and mask.

  Keys are cached as [B, N, D, K], values as [B, N, K, D] (see `Attention`);
  `positions_BQ` count real tokens (see `_decode_mask`)."""
  cached_key, cached_value, index = variables
  batch, kv_heads, cache_length, head_dim = cached_value.value.shape
  num_queries = k_BQND.shape[1]
  if (k_BQND.shape[0] != batch or k_BQND.shape[2:] != (kv_heads, head_dim)
      or num_queries > cache_length):
    raise ValueError(
        f'Cached decoding: keys of shape {k_BQND.shape} (batch, length, kv '
        f'heads, head dim) do not fit the cache {cached_value.value.shape} '
        '(batch, kv heads, cache length >= length, head dim).')
  cur = layers.write_kv_cache(cached_key, cached_value, index, k_BQND, v_BQND)
  mask = _decode_mask(cur, num_queries, cache_length, positions_BQ,
                      causal_attention_BQ, num_virtual)
  return cached_key.value, cached_value.value, mask


def _constrain_heads(x_BLHD: Array) -> Array:
  return nn.with_logical_constraint(x_BLHD, ('batch', 'length', 'heads', 'kv'))


def _constrain(x_BLE: Array) -> Array:
  return nn.with_logical_constraint(x_BLE, ('batch', 'length', 'embed'))


class Mlp(nn.Module):
  """SwiGLU: wo(silu(wi_0 x) * wi_1 x)."""
  config: LlamaConfig

  @nn.compact
  def __call__(self, x_BLE: Array, *, enable_dropout: bool = True) -> Array:
    cfg = self.config
    dtype = cfg.compute_dtype
    gate_BLM = _dense(cfg.mlp_dim, ('embed', 'mlp'), dtype, 'wi_0',
                      cfg.peft)(x_BLE)
    up_BLM = _dense(cfg.mlp_dim, ('embed', 'mlp'), dtype, 'wi_1',
                    cfg.peft)(x_BLE)
    h_BLM = nn.silu(gate_BLM) * up_BLM
    h_BLM = nn.with_logical_constraint(h_BLM, ('batch', 'length', 'mlp'))
    h_BLM = nn.Dropout(rate=cfg.dropout_rate)(
        h_BLM, deterministic=not enable_dropout)
    return _dense(cfg.emb_dim, ('mlp', 'embed'), dtype, 'wo', cfg.peft)(h_BLM)


class DecoderLayer(nn.Module):
  """Pre-norm attention and MLP blocks with residual connections."""
  config: LlamaConfig

  @nn.compact
  def __call__(self, x_BLE, positions_BL, mask, causal_attention_BL, *,
               enable_dropout=True, decode=False):
    cfg = self.config
    dropout = nn.Dropout(rate=cfg.dropout_rate)
    h = layers.RMSNorm(epsilon=cfg.rms_norm_eps, dtype=cfg.compute_dtype,
                       name='pre_self_attention_layer_norm')(x_BLE)
    h = Attention(cfg, name='self_attention')(
        h, positions_BL, mask, causal_attention_BL,
        enable_dropout=enable_dropout, decode=decode)
    h = peft_layers.adapter(cfg.peft, h, 'attention', cfg.compute_dtype)
    x_BLE = _constrain(x_BLE + dropout(h, deterministic=not enable_dropout))
    h = layers.RMSNorm(epsilon=cfg.rms_norm_eps, dtype=cfg.compute_dtype,
                       name='pre_mlp_layer_norm')(x_BLE)
    h = Mlp(cfg, name='mlp')(h, enable_dropout=enable_dropout)
    h = peft_layers.adapter(cfg.peft, h, 'mlp', cfg.compute_dtype)
    return _constrain(x_BLE + dropout(h, deterministic=not enable_dropout))


class Decoder(nn.Module):
  """The layer stack, final norm and output layer."""
  config: LlamaConfig
  shared_embedding: nn.Module

  @nn.compact
  def __call__(self, tokens_BL, positions_BL, mask, causal_attention_BL, *,
               enable_dropout=True, decode=False, prefill=None):
    cfg = self.config
    x = self.shared_embedding(tokens_BL.astype(jnp.int32))
    num_prompt = peft_prompts.num_prompt_tokens(cfg.peft)
    prepend = bool(num_prompt) and (
        not decode or (tokens_BL.shape[1] > 1 if prefill is None else prefill))
    x, positions_BL, mask, causal_attention_BL = self._peft_inputs(
        x, positions_BL, mask, causal_attention_BL, decode, prepend)
    x = _constrain(x)
    x = nn.Dropout(rate=cfg.dropout_rate)(x, deterministic=not enable_dropout)
    for i in range(cfg.num_layers):
      x = DecoderLayer(cfg, name=f'layers_{i}')(
          x, positions_BL, mask, causal_attention_BL,
          enable_dropout=enable_dropout, decode=decode)
    x = layers.RMSNorm(epsilon=cfg.rms_norm_eps, dtype=cfg.compute_dtype,
                       name='decoder_norm')(x)
    if prepend:
      x = x[:, num_prompt:]  # No logits for the soft prompt's positions.
    if cfg.tie_word_embeddings:
      logits = self.shared_embedding.attend(x.astype(jnp.float32))
    else:
      logits = layers.Dense(cfg.vocab_size, ('embed', 'vocab'),
                            kernel_init=_kernel_init, dtype=jnp.float32,
                            name='logits_dense')(x)
    return nn.with_logical_constraint(logits.astype(jnp.float32),
                                      ('batch', 'length', 'vocab'))


  def _peft_inputs(self, x_BLE, positions_BL, mask, causal_attention_BL,
                   decode, prepend):
    """Soft prompt and shifted positions for prompt and prefix tuning.

    As `peft` feeds a causal LM: the n virtual tokens (prompt tuning) or the
    n prefix keys (prefix tuning) take positions 0..n-1 and the real tokens
    n, n+1, ... (per packed segment: each segment sees the prompt as it
    would alone). Without either method nothing changes.
    """
    cfg = self.config
    shift = peft_prompts.position_offset(cfg.peft)
    if not shift:
      return x_BLE, positions_BL, mask, causal_attention_BL
    batch, length = x_BLE.shape[:2]
    if positions_BL is None and not decode:
      positions_BL = jnp.broadcast_to(jnp.arange(length), (batch, length))
    if positions_BL is not None:
      positions_BL = positions_BL + shift
    prompt = peft_prompts.prompt_tuning(cfg.peft)
    if prompt is None:
      return x_BLE, positions_BL, mask, causal_attention_BL
    prompt_NE = peft_prompts.soft_prompt(
        self, prompt, cfg.emb_dim, lambda: self.shared_embedding.embedding)
    if not prepend:
      return x_BLE, positions_BL, mask, causal_attention_BL
    n = prompt_NE.shape[0]
    x_BLE = jnp.concatenate([jnp.broadcast_to(
        prompt_NE.astype(x_BLE.dtype)[None], (batch,) + prompt_NE.shape),
                             x_BLE], axis=1)
    if positions_BL is not None:
      positions_BL = jnp.concatenate(
          [jnp.broadcast_to(jnp.arange(n), (batch, n)),
           positions_BL.astype(jnp.int32)], axis=1)
    if mask is not None:
      mask = peft_prompts.prompt_causal_mask(mask, n)
    if causal_attention_BL is not None:
      causal_attention_BL = jnp.concatenate(
          [jnp.zeros((batch, n), causal_attention_BL.dtype),
           causal_attention_BL], axis=1)
    return x_BLE, positions_BL, mask, causal_attention_BL


def make_decoder_mask(length: int,
                      decoder_target_tokens: Optional[Array] = None,
                      decoder_segment_ids: Optional[Array] = None,
                      decoder_causal_attention: Optional[Array] = None,
                      batch_size: int = 1) -> Array:
  """[B, 1, L, L] training mask: causal, or bidirectional over the prefix.

  Args:
    length: sequence length L.
    decoder_target_tokens: [B, L]; positions with 0 (padding) are masked.
    decoder_segment_ids: [B, L] packing segments; attention stays inside.
    decoder_causal_attention: [B, L] prefix-LM flags (SeqIO's feature, 1 over
      the inputs plus one position): flagged positions see each other.
    batch_size: B when none of the arrays is given.

  Returns:
    Boolean mask, True where a query may attend to a key.
  """
  mask = layers.make_causal_mask(length)
  if decoder_causal_attention is not None:
    prefix = decoder_causal_attention > 0
    mask = jnp.logical_or(mask, layers.make_attention_mask(prefix, prefix))
  if decoder_target_tokens is not None:
    valid = decoder_target_tokens > 0
    mask = jnp.logical_and(mask, layers.make_attention_mask(valid, valid))
  if decoder_segment_ids is not None:
    mask = jnp.logical_and(
        mask,
        layers.make_segment_mask(decoder_segment_ids, decoder_segment_ids))
  if mask.shape[0] == 1:
    mask = jnp.broadcast_to(mask, (batch_size,) + mask.shape[1:])
  return mask


class LlamaTransformer(nn.Module):
  """Decoder-only Llama returning float32 logits [B, L, vocab]."""
  config: LlamaConfig

  def setup(self):
    cfg = self.config
    self.token_embedder = layers.Embed(cfg.vocab_size, cfg.emb_dim,
                                       dtype=cfg.compute_dtype,
                                       embedding_init=_embedding_init)
    self.decoder = Decoder(cfg, self.token_embedder)
    # Prefix tuning's reparameterisation MLP (or None); the attention layers
    # read its parameters (instruct.peft.prompts).
    self.peft_prefix_reparam = peft_prompts.reparam_module(
        cfg.peft, cfg.num_layers,
        cfg.num_kv_heads * cfg.head_dim)

  def __call__(self, decoder_input_tokens, decoder_target_tokens=None,
               decoder_segment_ids=None, decoder_positions=None,
               decoder_causal_attention=None, *, enable_dropout=True,
               decode=False, prefill=None):
    """Next-token logits for each position.

    Args:
      decoder_input_tokens: [B, L] tokens (SeqIO: targets shifted right, 0
        first); in decode mode the tokens to append to the cache.
      decoder_target_tokens: [B, L]; only its padding (0) is used, to mask
        padded keys. None: every position is real.
      decoder_segment_ids: [B, L] packing segments (1, 2, ...; 0 padding).
      decoder_positions: [B, L] RoPE positions (restarting per packed
        segment; per row for left-padded prompts). None: 0..L-1, or the cache
        slots when decoding.
      decoder_causal_attention: [B, L] prefix-LM flags; None is causal.
      enable_dropout: apply dropout (needs a 'dropout' rng).
      decode: append to the key/value cache ('cache' must be mutable). The
        first decode call only creates a cache as long as its input.
      prefill: with `decode` and prompt tuning, whether this call starts
        the sequence, so the soft prompt goes first (into the cache; the
        cache-creating call needs it too, to make room). None: when the call
        holds more than one token.

    Returns:
      Logits [B, L, vocab] in float32.
    """
    batch, length = decoder_input_tokens.shape
    if decode:
      if decoder_segment_ids is not None:
        raise ValueError('Packed sequences (decoder_segment_ids) cannot be '
                         'decoded with the cache; decode one per row.')
      mask = None  # Built from the cache slots and positions per layer.
    else:
      mask = make_decoder_mask(length, decoder_target_tokens,
                               decoder_segment_ids, decoder_causal_attention,
                               batch_size=batch)
    if self.peft_prefix_reparam is not None:
      self.peft_prefix_reparam()  # Creates its parameters at init.
    return self.decoder(decoder_input_tokens, decoder_positions, mask,
                        decoder_causal_attention,
                        enable_dropout=enable_dropout, decode=decode,
                        prefill=prefill)
