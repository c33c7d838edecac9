"""Batched greedy decoding and sampling for autoregressive models.

The loop in `decode_loop` only sees a `tokens_to_logits` callable, so any
model that can give next-token logits from a state (a key/value cache, or the
token buffer itself) reuses it. `greedy_decode` and `decode_without_cache`
plug the T5 encoder-decoder into it. Everything is jittable with the module
and the integer/float options static, e.g.

  decode_fn = jax.jit(functools.partial(
      greedy_decode, model, max_decode_length=64))
  tokens = decode_fn(params, encoder_input_tokens)
"""

from typing import Any, Callable, Optional, Tuple

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

Array = jax.Array
PyTree = Any
# (tokens [B, 1] fed at this step, state, step) -> (logits [B, V], new state)
TokensToLogits = Callable[[Array, PyTree, Array], Tuple[Array, PyTree]]


def _next_token(logits_BV: Array, step: Array, temperature: float,
                rng: Optional[Array], topk: int) -> Array:
  """Argmax at temperature 0, else a sample from softmax(logits / T)."""
  if temperature == 0.0:
    return jnp.argmax(logits_BV, axis=-1).astype(jnp.int32)
  if rng is None:
    raise ValueError('Sampling (temperature > 0) needs an rng key.')
  logits_BV = logits_BV.astype(jnp.float32) / temperature
  if topk > 0:
    kth_B1 = lax.top_k(logits_BV, topk)[0][:, -1:]
    logits_BV = jnp.where(logits_BV < kth_B1, -jnp.inf, logits_BV)
  # Folding in the step keeps samples independent of how the loop is run.
  step_rng = jax.random.fold_in(rng, step)
  return jax.random.categorical(step_rng, logits_BV, axis=-1).astype(jnp.int32)


def decode_loop(tokens_to_logits: TokensToLogits,
                state: PyTree,
                *,
                batch_size: int,
                max_decode_length: int,
                eos_id: int = 1,
                start_id: int = 0,
                temperature: float = 0.0,
                rng: Optional[Array] = None,
                topk: int = 0) -> Array:
  """Generates up to `max_decode_length` tokens per row.

  Stops as soon as every row has produced `eos_id`. A row keeps its EOS and
  is padded with 0 afterwards.

  Args:
    tokens_to_logits: next-token logits given the token fed at `step`.
    state: initial state passed to `tokens_to_logits` (e.g. the cache).
    batch_size: number of rows.
    max_decode_length: number of tokens to generate at most.
    eos_id: end-of-sequence id.
    start_id: token fed at step 0 (T5 starts from 0).
    temperature: 0 for argmax, otherwise the sampling temperature.
    rng: PRNG key, needed when sampling.
    topk: when sampling, keep only the k most likely tokens (0 = all).

  Returns:
    int32 [batch_size, max_decode_length] tokens, without the start token.
  """

  def cond(carry):
    step, _, _, _, done_B = carry
    return jnp.logical_and(step < max_decode_length,
                           jnp.logical_not(jnp.all(done_B)))

  def body(carry):
    step, token_B, state, out_BL, done_B = carry
    logits_BV, state = tokens_to_logits(token_B[:, None], state, step)
    token_B = _next_token(logits_BV, step, temperature, rng, topk)
    token_B = jnp.where(done_B, 0, token_B)
    out_BL = lax.dynamic_update_slice(out_BL, token_B[:, None],
                                      (jnp.zeros((), jnp.int32), step))
    done_B = jnp.logical_or(done_B, token_B == eos_id)
    return step + 1, token_B, state, out_BL, done_B

  carry = (jnp.zeros((), jnp.int32),
           jnp.full((batch_size,), start_id, jnp.int32),
           state,
           jnp.zeros((batch_size, max_decode_length), jnp.int32),
           jnp.zeros((batch_size,), bool))
  return lax.while_loop(cond, body, carry)[3]


def _encode(module: nn.Module, params: PyTree, encoder_input_tokens: Array,
            encoder_segment_ids: Optional[Array]) -> Array:
  return module.apply({'params': params}, encoder_input_tokens,
                      encoder_segment_ids, enable_dropout=False,
                      method='encode')


def init_cache(module: nn.Module, params: PyTree, encoded: Array,
               encoder_input_tokens: Array, max_decode_length: int) -> PyTree:
  """Empty decoder cache for `max_decode_length` steps.

  The shapes come from an abstract initialising `decode` call over a
  [B, max_decode_length] zero input (T5X's recipe); every cache entry starts
  at zero, so no real computation is needed.
  """
  dummy_BL = jnp.zeros((encoder_input_tokens.shape[0], max_decode_length),
                       jnp.int32)

  def cache_shapes():
    _, variables = module.apply(
        {'params': params}, encoded, encoder_input_tokens, dummy_BL, dummy_BL,
        enable_dropout=False, decode=True, max_decode_length=max_decode_length,
        mutable=['cache'], method='decode')
    return variables['cache']

  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                      jax.eval_shape(cache_shapes))


def greedy_decode(module: nn.Module,
                  params: PyTree,
                  encoder_input_tokens: Array,
                  *,
                  max_decode_length: int,
                  eos_id: int = 1,
                  encoder_segment_ids: Optional[Array] = None,
                  temperature: float = 0.0,
                  rng: Optional[Array] = None,
                  topk: int = 0) -> Array:
  """Decodes with the key/value cache: encode once, then one token per step.

  Args:
    module: an encoder-decoder with `encode` and `decode` methods (T5).
    params: its parameters (boxed or not), without the 'params' key.
    encoder_input_tokens: int [B, input_len], 0 = padding.
    max_decode_length: number of tokens to generate at most.
    eos_id: end-of-sequence id.
    encoder_segment_ids: optional [B, input_len] segment ids for the encoder.
    temperature: 0 for argmax (greedy), otherwise the sampling temperature.
    rng: PRNG key, needed when sampling.
    topk: when sampling, keep only the k most likely tokens (0 = all).

  Returns:
    int32 [B, max_decode_length] tokens (no start token); 0 after EOS.
  """
  encoded = _encode(module, params, encoder_input_tokens, encoder_segment_ids)
  cache = init_cache(module, params, encoded, encoder_input_tokens,
                     max_decode_length)

  def tokens_to_logits(tokens_B1, cache, step):
    del step  # The cache tracks its own position.
    logits_B1V, variables = module.apply(
        {'params': params, 'cache': cache}, encoded, encoder_input_tokens,
        tokens_B1, tokens_B1, enable_dropout=False, decode=True,
        max_decode_length=max_decode_length, mutable=['cache'],
        method='decode')
    return logits_B1V[:, -1], variables['cache']

  return decode_loop(
      tokens_to_logits, cache, batch_size=encoder_input_tokens.shape[0],
      max_decode_length=max_decode_length, eos_id=eos_id,
      temperature=temperature, rng=rng, topk=topk)


def decode_without_cache(module: nn.Module,
                         params: PyTree,
                         encoder_input_tokens: Array,
                         *,
                         max_decode_length: int,
                         eos_id: int = 1,
                         encoder_segment_ids: Optional[Array] = None,
                         temperature: float = 0.0,
                         rng: Optional[Array] = None,
                         topk: int = 0) -> Array:
  """Same result as `greedy_decode`, re-running the whole decoder each step.

  Quadratic in the output length; a reference for tests and benchmarks.
  Arguments and return value are those of `greedy_decode`.
  """
  batch_size = encoder_input_tokens.shape[0]
  encoded = _encode(module, params, encoder_input_tokens, encoder_segment_ids)
  # Every decoder position counts as a real token; causality hides the
  # positions not generated yet.
  targets_BL = jnp.ones((batch_size, max_decode_length), jnp.int32)

  def tokens_to_logits(tokens_B1, inputs_BL, step):
    inputs_BL = lax.dynamic_update_slice(inputs_BL, tokens_B1,
                                         (jnp.zeros((), jnp.int32), step))
    logits_BLV = module.apply(
        {'params': params}, encoded, encoder_input_tokens, inputs_BL,
        targets_BL, enable_dropout=False, method='decode')
    return lax.dynamic_index_in_dim(logits_BLV, step, axis=1,
                                    keepdims=False), inputs_BL

  return decode_loop(
      tokens_to_logits, jnp.zeros((batch_size, max_decode_length), jnp.int32),
      batch_size=batch_size, max_decode_length=max_decode_length,
      eos_id=eos_id, temperature=temperature, rng=rng, topk=topk)
