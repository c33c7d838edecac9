"""Decoding for autoregressive models: greedy, sampling and beam search.

`decode` only sees a `tokens_to_logits` callable, so any model that can give
next-token logits from a state (a key/value cache, or the token buffer
itself) reuses it; `encoder_decoder_decode` plugs the T5 encoder-decoder in.
What to do is a `DecodingConfig` (gin-configurable, frozen and hashable, so
it can be a static argument):

  config = DecodingConfig(method='beam', beam_size=4, num_samples=2)
  decode_fn = jax.jit(functools.partial(
      encoder_decoder_decode, model, config=config, max_decode_length=64))
  tokens_BNL, scores_BN = decode_fn(params, encoder_input_tokens)

Every method stops a row at `eos_id` (the EOS is kept, 0 pads the rest) or at
`max_decode_length`, and the loop ends as soon as no row can change.

Scores: greedy and sampling return each sequence's log-likelihood under the
model (the sum of log_softmax(logits) over the tokens produced, EOS
included; temperature and top-k/top-p change which tokens are drawn, not how
they are scored). Beam search returns what it ranks by: the log-likelihood
divided by the brevity penalty ((5 + length) / 6) ** length_penalty of
Wu et al. (2016), as T5X does.

`greedy_decode`, `decode_without_cache` and `decode_loop` are the older
single-output entry points, kept for their callers.
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple, Union

import flax.linen as nn
import gin
import jax
from jax import lax
import jax.numpy as jnp

from instruct import errors

Array = jax.Array
PyTree = Any
# (tokens [B, 1] fed at this step, state, step) -> (logits [B, V], new state)
TokensToLogits = Callable[[Array, PyTree, Array], Tuple[Array, PyTree]]

METHODS = ('greedy', 'sample', 'beam')


# -----------------------------------------------------------------------------
# Configuration.
# -----------------------------------------------------------------------------
@gin.configurable
@dataclasses.dataclass(frozen=True)
class DecodingConfig:
  """How to turn next-token logits into sequences.

  Attributes:
    method: 'greedy' (argmax), 'sample' (temperature, top-k, top-p) or 'beam'.
    max_decode_length: tokens to generate at most; None means the length of
      the batch's targets (models) or the caller's explicit length.
    temperature: 'sample': logits are divided by it; 0 means argmax.
    top_k: 'sample': keep only the k most likely tokens (0: off).
    top_p: 'sample': keep the smallest set of most likely tokens whose
      probabilities sum to at least p (nucleus sampling; 1.0: off).
    num_samples: outputs per input: draws for 'sample', beams returned (best
      first) for 'beam'; must be 1 for 'greedy'.
    beam_size: 'beam': live hypotheses per input.
    length_penalty: 'beam': alpha in ((5 + length) / 6) ** alpha; 0 ranks by
      plain log-likelihood, larger values favour longer outputs.
    eos_id: end-of-sequence id (-1: never stop before max_decode_length).
  """
  method: str = 'greedy'
  max_decode_length: Optional[int] = None
  temperature: float = 1.0
  top_k: int = 0
  top_p: float = 1.0
  num_samples: int = 1
  beam_size: int = 4
  length_penalty: float = 0.6
  eos_id: int = 1

  def __post_init__(self):
    checks = (
        ('method', self.method in METHODS,
         f'one of {", ".join(repr(m) for m in METHODS)}'),
        ('max_decode_length',
         self.max_decode_length is None or self.max_decode_length >= 1,
         'None or a positive number of tokens'),
        ('temperature', self.temperature >= 0, 'a number >= 0'),
        ('top_k', self.top_k >= 0, 'an integer >= 0 (0 turns it off)'),
        ('top_p', 0 < self.top_p <= 1, 'a number in (0, 1] (1 turns it off)'),
        ('num_samples', self.num_samples >= 1, 'an integer >= 1'),
        ('beam_size', self.beam_size >= 1, 'an integer >= 1'),
        ('num_samples', self.method != 'greedy' or self.num_samples == 1,
         "1 with method='greedy' (every output would be the same; use "
         "method='sample' or 'beam' for several)"),
        ('num_samples',
         self.method != 'beam' or self.num_samples <= self.beam_size,
         f"at most beam_size={self.beam_size} with method='beam'"),
    )
    for field, ok, expected in checks:
      if not ok:
        raise errors.UserError(
            f'DecodingConfig.{field} = {getattr(self, field)!r}: expected '
            f'{expected}.')

  @property
  def num_outputs(self) -> int:
    """N, the number of sequences returned per input."""
    return 1 if self.method == 'greedy' else self.num_samples


def plain_config(**overrides) -> DecodingConfig:
  """A `DecodingConfig` from the class defaults and `overrides` only.

  Calling `DecodingConfig()` inside a gin-configured program picks up the
  user's `DecodingConfig.*` bindings; internal defaults must not.
  """
  values = {f.name: f.default for f in dataclasses.fields(DecodingConfig)}
  values.update(overrides)
  return DecodingConfig(**values)


def resolve_config(config: Optional[DecodingConfig],
                   default: Optional[DecodingConfig],
                   eos_id: Optional[int]) -> DecodingConfig:
  """The call's config, else the model's, else greedy; EOS from the vocab.

  The vocabulary knows the model's EOS; `DecodingConfig`'s default of 1 is
  wrong for most Hugging Face tokenizers, so it is replaced unless the config
  says -1 (never stop, on purpose).
  """
  eos_id = 1 if eos_id is None else eos_id
  config = config or default
  if config is None:
    return plain_config(eos_id=eos_id)
  if config.eos_id not in (eos_id, -1):
    config = dataclasses.replace(config, eos_id=eos_id)
  return config


def brevity_penalty(length: Union[int, Array], alpha: float) -> Array:
  """((5 + length) / 6) ** alpha; beam scores are log-likelihood / this."""
  return ((5.0 + jnp.asarray(length, jnp.float32)) / 6.0) ** alpha


# -----------------------------------------------------------------------------
# Logit filters.
# -----------------------------------------------------------------------------
def filter_logits(logits_BV: Array, top_k: int = 0,
                  top_p: float = 1.0) -> Array:
  """Sets logits outside the top-k / nucleus (top-p) sets to -inf.

  Top-p keeps, per row, the smallest set of most likely tokens whose
  probabilities (after top-k) sum to at least `top_p`; the most likely token
  is always kept.
  """
  vocab = logits_BV.shape[-1]
  if 0 < top_k < vocab:
    kth_B1 = lax.top_k(logits_BV, top_k)[0][:, -1:]
    logits_BV = jnp.where(logits_BV < kth_B1, -jnp.inf, logits_BV)
  if top_p < 1.0:
    order_BV = jnp.argsort(-logits_BV, axis=-1)
    sorted_BV = jnp.take_along_axis(logits_BV, order_BV, axis=-1)
    probs_BV = jax.nn.softmax(sorted_BV, axis=-1)
    # Probability mass strictly before each token: keep while it is < p.
    before_BV = jnp.cumsum(probs_BV, axis=-1) - probs_BV
    keep_sorted_BV = jnp.logical_or(before_BV < top_p,
                                    jnp.arange(vocab)[None, :] == 0)
    rows_B1 = jnp.arange(logits_BV.shape[0])[:, None]
    keep_BV = jnp.zeros(logits_BV.shape, bool).at[rows_B1, order_BV].set(
        keep_sorted_BV)
    logits_BV = jnp.where(keep_BV, logits_BV, -jnp.inf)
  return logits_BV


# -----------------------------------------------------------------------------
# State handling: repeat per output, reorder per beam.
# -----------------------------------------------------------------------------
def _batched_leaves(state: PyTree, batch_size: int) -> PyTree:
  """True for leaves whose leading dimension is the batch."""
  return jax.tree.map(
      lambda x: jnp.ndim(x) >= 1 and jnp.shape(x)[0] == batch_size, state)


def _repeat(state: PyTree, batched: PyTree, n: int) -> PyTree:
  """Row b becomes rows b*n .. b*n+n-1 in every batched leaf."""
  if n == 1:
    return state
  return jax.tree.map(lambda x, b: jnp.repeat(x, n, axis=0) if b else x,
                      state, batched)


def _gather_beams(state: PyTree, batched: PyTree, origin_BK: Array) -> PyTree:
  """New beam k of row b takes the state of old beam origin_BK[b, k]."""
  batch_size, beams = origin_BK.shape
  rows_B1 = jnp.arange(batch_size)[:, None]

  def gather(x, b):
    if not b:
      return x
    x = x.reshape((batch_size, beams) + x.shape[1:])[rows_B1, origin_BK]
    return x.reshape((batch_size * beams,) + x.shape[2:])

  return jax.tree.map(gather, state, batched)


def _start_tokens(start_tokens: Union[int, Array], batch_size: int) -> Array:
  start = jnp.asarray(start_tokens, jnp.int32)
  if start.ndim == 0:
    return jnp.full((batch_size,), start, jnp.int32)
  if start.shape != (batch_size,):
    raise ValueError(f'start_tokens must be an int or shape ({batch_size},), '
                     f'got shape {start.shape}.')
  return start


# -----------------------------------------------------------------------------
# The loops.
# -----------------------------------------------------------------------------
def decode(tokens_to_logits: TokensToLogits,
           state: PyTree,
           *,
           batch_size: int,
           max_decode_length: int,
           config: DecodingConfig,
           start_tokens: Union[int, Array] = 0,
           rng: Optional[Array] = None,
           first_logits: Optional[Array] = None) -> Tuple[Array, Array]:
  """Generates N sequences per row with greedy, sampling or beam search.

  Args:
    tokens_to_logits: (tokens [R, 1], state, step) -> (logits [R, V], state),
      R = batch_size * N (or * beam_size); `step` counts from 0.
    state: initial state for `tokens_to_logits`. Leaves whose leading
      dimension is `batch_size` are repeated per output (row b becomes rows
      b*N .. b*N+N-1) and reordered with their beams; other leaves (e.g. a
      scalar cache index) are passed through untouched.
    batch_size: number of inputs.
    max_decode_length: tokens to generate at most (`config.max_decode_length`
      is the models' business, not read here).
    config: what to do; static.
    start_tokens: int or [batch_size] tokens fed at step 0 (not used with
      `first_logits`, which already are step 0's output).
    rng: PRNG key, needed to sample (temperature > 0).
    first_logits: [batch_size, V] logits of step 0 when the caller already
      has them (a decoder-only prefill over the whole prompt gives them);
      `tokens_to_logits` is then first called at step 1. The first step is
      taken outside the loop, so the loop body needs no branch for it.

  Returns:
    (tokens int32 [batch_size, N, max_decode_length], scores float32
    [batch_size, N]); N = config.num_outputs. Tokens exclude the start token;
    0 after EOS. See the module docstring for what the scores are.
  """
  start_B = _start_tokens(start_tokens, batch_size)
  if first_logits is not None and first_logits.shape[0] != batch_size:
    raise ValueError(f'first_logits must be [{batch_size}, vocab], got shape '
                     f'{first_logits.shape}.')
  if config.method == 'beam':
    return _beam_search(tokens_to_logits, state, start_B,
                        batch_size=batch_size,
                        max_decode_length=max_decode_length, config=config,
                        first_logits=first_logits)
  return _sample(tokens_to_logits, state, start_B, batch_size=batch_size,
                 max_decode_length=max_decode_length, config=config, rng=rng,
                 first_logits=first_logits)


def _sample(tokens_to_logits, state, start_B, *, batch_size,
            max_decode_length, config, rng, first_logits=None):
  """Greedy decoding and sampling: N independent rows per input."""
  n = config.num_outputs
  rows = batch_size * n
  argmax = config.method == 'greedy' or config.temperature == 0.0
  if not argmax and rng is None:
    raise ValueError("method='sample' with temperature > 0 needs an rng key.")
  state = _repeat(state, _batched_leaves(state, batch_size), n)

  def cond(carry):
    step, _, _, _, done_R, _ = carry
    return jnp.logical_and(step < max_decode_length,
                           jnp.logical_not(jnp.all(done_R)))

  def body(carry):
    step, token_R, state = carry[:3]
    logits_RV, state = tokens_to_logits(token_R[:, None], state, step)
    return advance(carry, logits_RV, state)

  def advance(carry, logits_RV, state):
    step, token_R, _, out_RL, done_R, score_R = carry
    logits_RV = logits_RV.astype(jnp.float32)
    if argmax:
      token_R = jnp.argmax(logits_RV, axis=-1).astype(jnp.int32)
    else:
      filtered_RV = filter_logits(logits_RV / config.temperature,
                                  config.top_k, config.top_p)
      # Folding in the step keeps draws independent of how the loop is run
      # (cached or not); one key draws every row independently.
      token_R = jax.random.categorical(jax.random.fold_in(rng, step),
                                       filtered_RV, axis=-1).astype(jnp.int32)
    log_probs_RV = jax.nn.log_softmax(logits_RV, axis=-1)
    logp_R = jnp.take_along_axis(log_probs_RV, token_R[:, None], axis=-1)[:, 0]
    score_R = score_R + jnp.where(done_R, 0.0, logp_R)
    token_R = jnp.where(done_R, 0, token_R)
    out_RL = lax.dynamic_update_slice(out_RL, token_R[:, None],
                                      (jnp.zeros((), jnp.int32), step))
    done_R = jnp.logical_or(done_R, token_R == config.eos_id)
    return step + 1, token_R, state, out_RL, done_R, score_R

  carry = (jnp.zeros((), jnp.int32), jnp.repeat(start_B, n), state,
           jnp.zeros((rows, max_decode_length), jnp.int32),
           jnp.zeros((rows,), bool), jnp.zeros((rows,), jnp.float32))
  if first_logits is not None:
    carry = advance(carry, jnp.repeat(first_logits, n, axis=0), state)
  _, _, _, out_RL, _, score_R = lax.while_loop(cond, body, carry)
  return (out_RL.reshape(batch_size, n, max_decode_length),
          score_R.reshape(batch_size, n))


def _beam_search(tokens_to_logits, state, start_B, *, batch_size,
                 max_decode_length, config, first_logits=None):
  """Beam search with finished hypotheses kept apart from live ones.

  Each step extends the K live beams by every token and keeps the 2K best
  candidates (at most K of them end in EOS, so K stay live). Candidates that
  end in EOS, or reach max_decode_length, join the K best finished ones,
  scored log-likelihood / brevity penalty. The search stops early once the
  N-th best finished score beats the best score any live beam could still
  reach: log-likelihoods only fall, so that bound is the live log-likelihood
  over the largest penalty any continuation could get.
  """
  k, n = config.beam_size, config.num_samples
  length = max_decode_length
  alpha = config.length_penalty
  batched = _batched_leaves(state, batch_size)
  state = _repeat(state, batched, k)
  start_BK = jnp.repeat(start_B[:, None], k, axis=1)
  positions_11L = jnp.arange(length)[None, None, :]

  def cond(carry):
    step, _, live_logp_BK, _, fin_scores_BK, _ = carry
    most_penalty = jnp.maximum(brevity_penalty(step + 1, alpha),
                               brevity_penalty(length, alpha))
    best_live_B = jnp.max(live_logp_BK, axis=1) / most_penalty
    settled_B = fin_scores_BK[:, n - 1] > best_live_B
    return jnp.logical_and(step < length,
                           jnp.logical_not(jnp.all(settled_B)))

  def body(carry):
    step, live_BKL, live_logp_BK, fin_BKL, fin_scores_BK, state = carry
    prev_BK = jnp.where(
        step == 0, start_BK,
        lax.dynamic_index_in_dim(live_BKL, jnp.maximum(step - 1, 0), axis=2,
                                 keepdims=False))
    logits_RV, state = tokens_to_logits(
        prev_BK.reshape(batch_size * k, 1), state, step)
    return advance(carry, logits_RV, state)

  def advance(carry, logits_RV, state):
    step, live_BKL, live_logp_BK, fin_BKL, fin_scores_BK, _ = carry
    vocab = logits_RV.shape[-1]
    log_probs_BKV = jax.nn.log_softmax(
        logits_RV.astype(jnp.float32), axis=-1).reshape(batch_size, k, vocab)
    cand_logp_BC, cand_idx_BC = lax.top_k(
        (live_logp_BK[:, :, None] + log_probs_BKV).reshape(batch_size, -1),
        2 * k)
    cand_beam_BC = cand_idx_BC // vocab
    cand_token_BC = (cand_idx_BC % vocab).astype(jnp.int32)
    cand_BCL = jnp.take_along_axis(live_BKL, cand_beam_BC[:, :, None], axis=1)
    cand_BCL = jnp.where(positions_11L == step, cand_token_BC[:, :, None],
                         cand_BCL)
    is_eos_BC = cand_token_BC == config.eos_id

    # Finished: ends in EOS, or no room left.
    finishing_BC = jnp.logical_or(is_eos_BC, step == length - 1)
    new_scores_BC = jnp.where(
        finishing_BC, cand_logp_BC / brevity_penalty(step + 1, alpha),
        -jnp.inf)
    fin_scores_BK, keep_BK = lax.top_k(
        jnp.concatenate([fin_scores_BK, new_scores_BC], axis=1), k)
    fin_BKL = jnp.take_along_axis(
        jnp.concatenate([fin_BKL, cand_BCL], axis=1), keep_BK[:, :, None],
        axis=1)

    # Live: the K best that did not end in EOS.
    live_logp_BK, keep_BK = lax.top_k(
        jnp.where(is_eos_BC, -jnp.inf, cand_logp_BC), k)
    live_BKL = jnp.take_along_axis(cand_BCL, keep_BK[:, :, None], axis=1)
    origin_BK = jnp.take_along_axis(cand_beam_BC, keep_BK, axis=1)
    state = _gather_beams(state, batched, origin_BK)
    return step + 1, live_BKL, live_logp_BK, fin_BKL, fin_scores_BK, state

  # Only the first beam is live at the start, so that the K beams do not
  # all grow the same prefix.
  live_logp_BK = jnp.broadcast_to(
      jnp.where(jnp.arange(k) == 0, 0.0, -jnp.inf)[None, :], (batch_size, k))
  carry = (jnp.zeros((), jnp.int32),
           jnp.zeros((batch_size, k, length), jnp.int32),
           live_logp_BK.astype(jnp.float32),
           jnp.zeros((batch_size, k, length), jnp.int32),
           jnp.full((batch_size, k), -jnp.inf, jnp.float32),
           state)
  if first_logits is not None:
    carry = advance(carry, jnp.repeat(first_logits, k, axis=0), state)
  _, _, _, fin_BKL, fin_scores_BK, _ = lax.while_loop(cond, body, carry)
  scores_BN = fin_scores_BK[:, :n]
  # Slots no hypothesis reached (tiny vocabularies) hold no tokens.
  tokens_BNL = jnp.where(jnp.isfinite(scores_BN)[:, :, None], fin_BKL[:, :n],
                         0)
  return tokens_BNL, scores_BN


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
  """One greedy (temperature 0) or sampled sequence per row: tokens [B, L].

  The older interface of `decode`: no beams, no scores.
  """
  tokens_BNL, _ = decode(
      tokens_to_logits, state, batch_size=batch_size,
      max_decode_length=max_decode_length, start_tokens=start_id, rng=rng,
      config=_legacy_config(eos_id, temperature, topk))
  return tokens_BNL[:, 0]


def _legacy_config(eos_id: int, temperature: float, topk: int):
  if temperature == 0.0:
    return plain_config(method='greedy', eos_id=eos_id)
  return plain_config(method='sample', temperature=temperature, top_k=topk,
                      eos_id=eos_id)


# -----------------------------------------------------------------------------
# The T5 encoder-decoder.
# -----------------------------------------------------------------------------
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


def encoder_decoder_decode(module: nn.Module,
                           params: PyTree,
                           encoder_input_tokens: Array,
                           *,
                           max_decode_length: int,
                           config: DecodingConfig,
                           encoder_segment_ids: Optional[Array] = None,
                           rng: Optional[Array] = None,
                           use_cache: bool = True) -> Tuple[Array, Array]:
  """Encodes once, then decodes with `config`; see `decode`.

  Args:
    module: an encoder-decoder with `encode` and `decode` methods (T5).
    params: its parameters (unboxed), without the 'params' key.
    encoder_input_tokens: int [B, input_len], 0 = padding.
    max_decode_length: tokens to generate at most.
    config: the decoding method and its options.
    encoder_segment_ids: optional [B, input_len] segment ids for the encoder.
    rng: PRNG key, needed to sample.
    use_cache: one token per step against a key/value cache (the fast way);
      False re-runs the decoder over the whole prefix each step, quadratic
      in the length, as a reference for tests.

  Returns:
    (tokens int32 [B, N, max_decode_length], scores float32 [B, N]).
  """
  batch_size = encoder_input_tokens.shape[0]
  encoded = _encode(module, params, encoder_input_tokens, encoder_segment_ids)
  # The encoder outputs travel in the state so that they are repeated per
  # sample / beam along with the cache.
  state = {'encoded': encoded, 'encoder_input_tokens': encoder_input_tokens}
  if use_cache:
    state['cache'] = init_cache(module, params, encoded, encoder_input_tokens,
                                max_decode_length)
  else:
    state['decoder_input_tokens'] = jnp.zeros(
        (batch_size, max_decode_length), jnp.int32)

  def cached_step(tokens_R1, state, step, prefill=False):
    del step  # The cache tracks its own position.
    logits_R1V, variables = module.apply(
        {'params': params, 'cache': state['cache']}, state['encoded'],
        state['encoder_input_tokens'], tokens_R1, tokens_R1,
        enable_dropout=False, decode=True,
        max_decode_length=max_decode_length, prefill=prefill,
        mutable=['cache'], method='decode')
    return logits_R1V[:, -1], {**state, 'cache': variables['cache']}

  first_logits = None
  if use_cache:
    # Step 0 runs before the loop, once per input (not per sample or beam),
    # and caches the cross-attention keys and values for the later steps.
    first_logits, state = cached_step(
        jnp.zeros((batch_size, 1), jnp.int32), state, 0, prefill=True)

  def full_step(tokens_R1, state, step):
    inputs_RL = lax.dynamic_update_slice(state['decoder_input_tokens'],
                                         tokens_R1,
                                         (jnp.zeros((), jnp.int32), step))
    # Every decoder position counts as a real token; causality hides the
    # positions not generated yet.
    logits_RLV = module.apply(
        {'params': params}, state['encoded'], state['encoder_input_tokens'],
        inputs_RL, jnp.ones_like(inputs_RL), enable_dropout=False,
        method='decode')
    logits_RV = lax.dynamic_index_in_dim(logits_RLV, step, axis=1,
                                         keepdims=False)
    return logits_RV, {**state, 'decoder_input_tokens': inputs_RL}

  return decode(cached_step if use_cache else full_step, state,
                batch_size=batch_size, max_decode_length=max_decode_length,
                config=config, start_tokens=0, rng=rng,
                first_logits=first_logits)


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
  """One sequence per row with the key/value cache.

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
  tokens_BNL, _ = encoder_decoder_decode(
      module, params, encoder_input_tokens,
      max_decode_length=max_decode_length,
      config=_legacy_config(eos_id, temperature, topk),
      encoder_segment_ids=encoder_segment_ids, rng=rng)
  return tokens_BNL[:, 0]


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
  tokens_BNL, _ = encoder_decoder_decode(
      module, params, encoder_input_tokens,
      max_decode_length=max_decode_length,
      config=_legacy_config(eos_id, temperature, topk),
      encoder_segment_ids=encoder_segment_ids, rng=rng, use_cache=False)
  return tokens_BNL[:, 0]
