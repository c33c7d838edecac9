"""Decoding: beam search against enumeration, sampling filters, cache parity."""

import functools
import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import seqio

from instruct import decoding
from instruct import errors
from instruct.models import encoder_decoder
from instruct.models import t5

Config = decoding.plain_config


# -----------------------------------------------------------------------------
# A toy model whose next-token distribution depends on the whole prefix.
# -----------------------------------------------------------------------------
def _prefix_model(batch_size, vocab, length, seed=0, eos_bias=0.0):
  """(tokens_to_logits, initial state fn, log-prob table) for a toy LM.

  The prefix generated so far is coded as a base-(vocab+1) number carried in
  the state; logits are a fixed random table indexed by (row, code), so every
  prefix has its own distribution and rows differ.
  """
  rng = np.random.default_rng(seed)
  table = rng.normal(0.0, 1.0, (batch_size, (vocab + 1) ** length, vocab))
  table[..., 1] += eos_bias  # EOS = 1: > 0 makes short outputs likelier.
  table = table.astype(np.float32)
  table_j = jnp.asarray(table)

  def tokens_to_logits(tokens_R1, state, step):
    # Leaves without the batch dimension pass through untouched.
    assert state['calls'].shape == () and state['shared'].shape == (7,)
    assert tokens_R1.shape == (state['code'].shape[0], 1)
    code_R = jnp.where(step == 0, state['code'],
                       state['code'] * (vocab + 1) + tokens_R1[:, 0] + 1)
    logits_RV = table_j[state['row'], code_R]
    return logits_RV, {**state, 'code': code_R, 'calls': state['calls'] + 1}

  def init_state(rows):
    rows = jnp.asarray(rows, jnp.int32)
    return {'row': rows, 'code': jnp.zeros_like(rows),
            'calls': jnp.zeros((), jnp.int32), 'shared': jnp.zeros((7,))}

  log_probs = np.asarray(jax.nn.log_softmax(table_j, axis=-1), np.float64)
  return tokens_to_logits, init_state, log_probs


def _enumerate(log_probs, row, vocab, length, eos_id, alpha):
  """Every possible output of a row with its beam score, best first."""
  out = []

  def visit(prefix, code, logp):
    for t in range(vocab):
      lp = logp + log_probs[row, code, t]
      seq = prefix + (t,)
      if t == eos_id or len(seq) == length:
        score = lp / ((5.0 + len(seq)) / 6.0) ** alpha
        out.append((score, seq + (0,) * (length - len(seq))))
      else:
        visit(seq, code * (vocab + 1) + t + 1, lp)

  visit((), 0, 0.0)
  return sorted(out, key=lambda x: -x[0])


def _run(tokens_to_logits, state, config, batch_size, length, rng=None):
  fn = jax.jit(functools.partial(
      decoding.decode, tokens_to_logits, batch_size=batch_size,
      max_decode_length=length, config=config))
  tokens, scores = fn(state, rng=rng)
  return np.asarray(tokens), np.asarray(scores)


@pytest.mark.parametrize('vocab,length,beams,alpha,eos_bias', [
    (4, 3, 9, 0.6, 0.0), (3, 4, 8, 0.0, 0.0), (3, 4, 8, 2.0, 0.0),
    (3, 4, 8, 3.0, 1.0), (3, 4, 8, 0.6, 1.0)])
def test_beam_search_finds_the_best_sequences_by_enumeration(
    vocab, length, beams, alpha, eos_bias):
  # Beams wide enough to hold every live prefix: the search is exhaustive, so
  # its top outputs must be exactly the top of the enumeration (EOS = 1).
  batch = 12
  ttl, init_state, log_probs = _prefix_model(batch, vocab, length,
                                             eos_bias=eos_bias)
  config = Config(method='beam', beam_size=beams, num_samples=3,
                  length_penalty=alpha)
  tokens, scores = _run(ttl, init_state(np.arange(batch)), config, batch,
                        length)
  assert tokens.shape == (batch, 3, length) and scores.shape == (batch, 3)
  greedy, _ = _run(ttl, init_state(np.arange(batch)), Config(), batch, length)
  greedy_is_best = []
  for row in range(batch):
    ranked = _enumerate(log_probs, row, vocab, length, 1, alpha)
    for n in range(3):
      np.testing.assert_array_equal(tokens[row, n], ranked[n][1])
      np.testing.assert_allclose(scores[row, n], ranked[n][0], rtol=1e-5)
    greedy_is_best.append(tuple(greedy[row, 0]) == ranked[0][1])
  # The case is not one greedy search already gets right everywhere.
  assert not all(greedy_is_best)


def test_narrow_beam_scores_are_the_scores_of_its_sequences():
  vocab, length, batch = 5, 6, 2
  ttl, init_state, log_probs = _prefix_model(batch, vocab, length, seed=3)
  config = Config(method='beam', beam_size=2, num_samples=2,
                  length_penalty=0.6)
  tokens, scores = _run(ttl, init_state(np.arange(batch)), config, batch,
                        length)
  everything = {row: dict((seq, s) for s, seq in
                          _enumerate(log_probs, row, vocab, length, 1, 0.6))
                for row in range(batch)}
  for row in range(batch):
    assert scores[row, 0] >= scores[row, 1]
    for n in range(2):
      np.testing.assert_allclose(scores[row, n],
                                 everything[row][tuple(tokens[row, n])],
                                 rtol=1e-5)


@pytest.mark.parametrize('config', [
    Config(), Config(method='sample', num_samples=3, top_k=3),
    Config(method='beam', beam_size=3, num_samples=2)])
def test_first_logits_take_the_place_of_step_zero(config):
  # A caller that already has step 0's logits (a decoder-only prefill) gets
  # the same outputs; the model is then never asked for step 0.
  vocab, length, batch = 4, 5, 3
  ttl, init_state, _ = _prefix_model(batch, vocab, length, seed=4)
  rng = jax.random.PRNGKey(7)
  want = _run(ttl, init_state(np.arange(batch)), config, batch, length, rng)
  first_logits, _ = ttl(jnp.zeros((batch, 1), jnp.int32),
                        init_state(np.arange(batch)), jnp.asarray(0))

  def no_step_zero(tokens_R1, state, step):
    logits_RV, state = ttl(tokens_R1, state, step)
    return jnp.where(step == 0, jnp.nan, logits_RV), state

  got = jax.jit(functools.partial(
      decoding.decode, no_step_zero, batch_size=batch, max_decode_length=length,
      config=config))(init_state(np.arange(batch)), rng=rng,
                      first_logits=first_logits)
  np.testing.assert_array_equal(np.asarray(got[0]), want[0])
  np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-6)


def test_batched_rows_are_independent():
  vocab, length, batch = 4, 5, 3
  ttl, init_state, _ = _prefix_model(batch, vocab, length, seed=1)
  for config in (Config(), Config(method='beam', beam_size=3,
                                  num_samples=2)):
    together = _run(ttl, init_state(np.arange(batch)), config, batch, length)
    for row in range(batch):
      alone = _run(ttl, init_state([row]), config, 1, length)
      np.testing.assert_array_equal(alone[0][0], together[0][row])
      np.testing.assert_allclose(alone[1][0], together[1][row], rtol=1e-6)


def test_eos_is_kept_then_padding_and_max_length_caps():
  vocab, length, batch = 5, 6, 4
  ttl, init_state, _ = _prefix_model(batch, vocab, length, seed=2)
  state = init_state(np.arange(batch))
  free, _ = _run(ttl, state, Config(eos_id=-1), batch, length)
  free = free[:, 0]
  # Shorter maximum: the same tokens, cut.
  short, _ = _run(ttl, state, Config(eos_id=-1), batch, 3)
  np.testing.assert_array_equal(short[:, 0], free[:, :3])
  # Stop at the token row 0 produced third: row 0 ends there.
  eos = int(free[0, 2])
  stopped, _ = _run(ttl, state, Config(eos_id=eos), batch, length)
  stopped = stopped[:, 0]
  for row in range(batch):
    hits = np.flatnonzero(free[row] == eos)
    if hits.size:
      end = hits[0]
      np.testing.assert_array_equal(stopped[row, :end + 1],
                                    free[row, :end + 1])
      assert not stopped[row, end + 1:].any()
    else:
      np.testing.assert_array_equal(stopped[row], free[row])
  assert list(stopped[0]).index(eos) <= 2


# -----------------------------------------------------------------------------
# Sampling filters.
# -----------------------------------------------------------------------------
_PROBS = np.array([0.15, 0.5, 0.1, 0.25])  # sorted: 1, 3, 0, 2


@pytest.mark.parametrize('top_p,kept', [
    (0.45, {1}), (0.7, {1, 3}), (0.85, {1, 3, 0}), (0.95, {0, 1, 2, 3}),
    (1.0, {0, 1, 2, 3})])
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, kept):
  logits = jnp.log(jnp.asarray(_PROBS, jnp.float32))[None, :]
  filtered = np.asarray(decoding.filter_logits(logits, top_p=top_p))[0]
  assert set(np.flatnonzero(np.isfinite(filtered))) == kept
  np.testing.assert_allclose(filtered[list(kept)],
                             np.log(_PROBS[list(kept)]), rtol=1e-6)


def test_top_k_then_top_p():
  logits = jnp.log(jnp.asarray(_PROBS, jnp.float32))[None, :]
  top2 = np.asarray(decoding.filter_logits(logits, top_k=2))[0]
  assert set(np.flatnonzero(np.isfinite(top2))) == {1, 3}
  # After top-3 the mass renormalises to 0.5/0.9, 0.25/0.9, 0.15/0.9: p=0.8
  # needs two tokens, where without top-k it would need three.
  both = np.asarray(decoding.filter_logits(logits, top_k=3, top_p=0.8))[0]
  assert set(np.flatnonzero(np.isfinite(both))) == {1, 3}


def test_sampling_frequencies_follow_the_filtered_distribution():
  logits = jnp.log(jnp.asarray(_PROBS, jnp.float32))

  def ttl(tokens_R1, state, step):
    del step
    return jnp.broadcast_to(logits, (tokens_R1.shape[0], 4)), state

  n = 4000
  config = Config(method='sample', num_samples=n, top_p=0.7, eos_id=-1)
  tokens, scores = _run(ttl, jnp.zeros((1,)), config, 1, 1,
                        rng=jax.random.PRNGKey(0))
  counts = np.bincount(tokens[0, :, 0], minlength=4) / n
  np.testing.assert_allclose(counts, [0, 0.5 / 0.75, 0, 0.25 / 0.75],
                             atol=0.03)
  # Scores are log-likelihoods under the unfiltered model.
  np.testing.assert_allclose(scores[0], np.log(_PROBS[tokens[0, :, 0]]),
                             rtol=1e-5)


# -----------------------------------------------------------------------------
# On a tiny T5: greedy, sampling and beams, with and without the cache.
# -----------------------------------------------------------------------------
_TINY = t5.T5Config(vocab_size=64, emb_dim=16, num_heads=2, head_dim=4,
                    mlp_dim=24, num_encoder_layers=2, num_decoder_layers=2,
                    dropout_rate=0.0)
_LENGTH = 10


@pytest.fixture(scope='module')
def tiny():
  module = t5.Transformer(_TINY)
  ones = jnp.ones((1, 4), jnp.int32)
  params = nn.unbox(module.init(jax.random.PRNGKey(0), ones, ones, ones,
                                enable_dropout=False)['params'])
  rng = np.random.default_rng(0)
  inputs = rng.integers(2, _TINY.vocab_size, (3, 9)).astype(np.int32)
  inputs[1, 5:] = 0
  inputs[2, 3:] = 0
  return module, params, inputs


@functools.partial(jax.jit, static_argnames=('module', 'config', 'use_cache'))
def _t5_decode(module, params, inputs, rng, *, config, use_cache=True):
  return decoding.encoder_decoder_decode(
      module, params, inputs, max_decode_length=_LENGTH, config=config,
      rng=rng, use_cache=use_cache)


def _t5(tiny, config, rng=None, use_cache=True):
  module, params, inputs = tiny
  rng = jax.random.PRNGKey(0) if rng is None else rng
  tokens, scores = _t5_decode(module, params, inputs, rng, config=config,
                              use_cache=use_cache)
  return np.asarray(tokens), np.asarray(scores)


@pytest.mark.parametrize('config', [
    Config(eos_id=-1),
    Config(method='sample', num_samples=3, top_k=8, top_p=0.9,
           temperature=0.8, eos_id=-1),
    Config(method='beam', beam_size=3, num_samples=2, eos_id=5),
], ids=['greedy', 'sample', 'beam'])
def test_cached_and_uncached_decoding_agree(tiny, config):
  cached = _t5(tiny, config)
  uncached = _t5(tiny, config, use_cache=False)
  np.testing.assert_array_equal(cached[0], uncached[0])
  np.testing.assert_allclose(cached[1], uncached[1], rtol=1e-5)
  assert len(np.unique(cached[0])) >= 4


def test_greedy_equals_beam_of_one_and_top_k_one_sampling(tiny):
  greedy, greedy_scores = _t5(tiny, Config(eos_id=-1))
  beam, beam_scores = _t5(tiny, Config(method='beam', beam_size=1,
                                       length_penalty=0.0, eos_id=-1))
  np.testing.assert_array_equal(beam, greedy)
  np.testing.assert_allclose(beam_scores, greedy_scores, rtol=1e-5)
  sampled, sampled_scores = _t5(tiny, Config(method='sample', top_k=1,
                                             num_samples=2, eos_id=-1))
  np.testing.assert_array_equal(sampled, np.repeat(greedy, 2, axis=1))
  np.testing.assert_allclose(sampled_scores, np.repeat(greedy_scores, 2, 1),
                             rtol=1e-5)
  # Greedy scores are log-likelihoods: each token is the most likely, so no
  # sample can score higher.
  assert (sampled_scores <= greedy_scores + 1e-5).all()


def test_num_samples_are_distinct_and_reproducible(tiny):
  config = Config(method='sample', num_samples=4, eos_id=-1)
  a = _t5(tiny, config, rng=jax.random.PRNGKey(7))
  b = _t5(tiny, config, rng=jax.random.PRNGKey(7))
  c = _t5(tiny, config, rng=jax.random.PRNGKey(8))
  np.testing.assert_array_equal(a[0], b[0])
  assert not np.array_equal(a[0], c[0])
  for row in a[0]:
    assert len({tuple(s) for s in row}) == 4


def test_config_errors_name_the_field():
  with pytest.raises(errors.UserError, match=r"DecodingConfig.method = 'bem'"):
    Config(method='bem')
  with pytest.raises(errors.UserError, match='num_samples.*beam_size=2'):
    Config(method='beam', beam_size=2, num_samples=3)
  with pytest.raises(errors.UserError, match='DecodingConfig.top_p = 0.0'):
    Config(method='sample', top_p=0.0)
  with pytest.raises(errors.UserError, match="num_samples = 2.*greedy"):
    Config(num_samples=2)
  # Hashable, hence usable as a static jit argument.
  assert hash(Config(method='beam')) == hash(Config(method='beam'))


def test_sampling_without_rng_is_an_error():
  with pytest.raises(ValueError, match='rng'):
    decoding.decode(lambda t, s, i: (jnp.zeros((1, 3)), s), jnp.zeros((1,)),
                    batch_size=1, max_decode_length=2,
                    config=Config(method='sample'))


def test_enumeration_helper_sanity():
  # The reference itself: probabilities of all complete outputs sum to one.
  _, _, log_probs = _prefix_model(1, 3, 3)
  total = sum(np.exp(s) for s, _ in _enumerate(log_probs, 0, 3, 3, 1, 0.0))
  np.testing.assert_allclose(total, 1.0, rtol=1e-6)
  assert len(list(itertools.islice(
      _enumerate(log_probs, 0, 3, 3, 1, 0.0), 100))) == 1 + 2 * (1 + 2 * 3)


def test_model_predict_paths_and_deprecated_temperature(tiny):
  module, params, inputs = tiny
  vocab = seqio.ByteVocabulary()
  batch = {'encoder_input_tokens': inputs,
           'decoder_target_tokens': np.zeros((3, _LENGTH), np.int32)}
  beam = Config(method='beam', beam_size=3, num_samples=2, eos_id=-1)
  model = encoder_decoder.EncoderDecoderModel(module, vocab, vocab,
                                              decoding_config=beam)
  tokens, aux = jax.jit(model.predict_batch_with_aux)(params, batch)
  want = _t5(tiny, beam)
  np.testing.assert_array_equal(tokens, want[0])
  np.testing.assert_allclose(aux['scores'], want[1], rtol=1e-5)
  # predict_batch: the first output. A per-call config wins over the model's,
  # and its max_decode_length over the batch's target length.
  short = jax.jit(functools.partial(
      model.predict_batch,
      decoding_config=Config(max_decode_length=4, eos_id=-1)))(params, batch)
  np.testing.assert_array_equal(short, _t5(tiny, Config(eos_id=-1))[0][:, 0,
                                                                      :4])
  with pytest.warns(DeprecationWarning, match='decode_temperature'):
    old = encoder_decoder.EncoderDecoderModel(module, vocab, vocab,
                                              decode_temperature=0.5)
  assert old.decoding_config == Config(method='sample', temperature=0.5)


@pytest.mark.parametrize('family', ['t5', 'llama'])
@pytest.mark.parametrize('config', [
    Config(method='greedy', eos_id=-1, max_decode_length=6),
    Config(method='beam', beam_size=2, num_samples=2, eos_id=-1,
           max_decode_length=6)])
def test_sharded_decoding_equals_one_device(family, config):
  # 8 devices (conftest): data-parallel 8 and data 4 x model 2, parameters
  # sharded by their logical axes, give the one-device tokens.
  from instruct import partitioning  # pylint: disable=g-import-not-at-top
  from instruct.models import decoder_only  # pylint: disable=g-import-not-at-top
  from instruct.models import llama  # pylint: disable=g-import-not-at-top
  vocab = seqio.ByteVocabulary()
  rng = np.random.default_rng(5)
  inputs = rng.integers(3, 255, (8, 7)).astype(np.int32)
  inputs[::2, 4:] = 0
  if family == 't5':
    model = encoder_decoder.EncoderDecoderModel(t5.Transformer(t5.T5Config(
        vocab_size=384, emb_dim=16, num_heads=2, head_dim=8, mlp_dim=32,
        num_encoder_layers=1, num_decoder_layers=2)), vocab, vocab)
    batch = {'encoder_input_tokens': inputs,
             'decoder_input_tokens': np.zeros((8, 6), np.int32)}
  else:
    model = decoder_only.DecoderOnlyModel(llama.LlamaTransformer(
        llama.LlamaConfig(emb_dim=16, num_heads=2, num_kv_heads=2,
                          head_dim=8, mlp_dim=32)), vocab)
    batch = {'inputs': inputs,
             'decoder_input_tokens': np.zeros((8, 16), np.int32)}
  boxed = model.get_initial_variables(
      jax.random.PRNGKey(0), {k: v.shape for k, v in batch.items()}
  )['params']
  params = nn.unbox(boxed)

  def predict(p, b):
    return model.predict_batch_with_aux(p, b, decoding_config=config)[0]

  want = np.asarray(jax.jit(predict)(params, batch))
  for num_partitions in (1, 2):
    part = partitioning.Partitioner(num_partitions=num_partitions)
    sharded = jax.device_put(params, part.boxed_to_shardings(boxed))
    with part.context():
      got = jax.jit(predict)(sharded, part.shard_batch(batch))
    np.testing.assert_array_equal(np.asarray(got), want,
                                  err_msg=f'{num_partitions} partitions')
