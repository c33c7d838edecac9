"""Tests for the T5 network, its HF weight conversion and cached decoding."""

import dataclasses
import functools

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instruct import decoding
from instruct.models import hf_t5
from instruct.models import t5

# Tiny HF model: big enough for two layers per stack and the logarithmic
# relative position buckets (inputs longer than 8, outputs longer than 16).
_HF_KWARGS = dict(
    vocab_size=384, d_model=64, d_kv=16, d_ff=128, num_layers=2,
    num_decoder_layers=2, num_heads=4, feed_forward_proj='gated-gelu',
    tie_word_embeddings=False, dropout_rate=0.0,
    relative_attention_num_buckets=32, relative_attention_max_distance=128,
    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
_INPUT_LENGTHS = (20, 13, 6)
_TARGET_LENGTHS = (18, 11, 5)
_DECODE_LENGTH = 20

_TINY = t5.T5Config(vocab_size=64, emb_dim=16, num_heads=2, head_dim=4,
                    mlp_dim=24, num_encoder_layers=2, num_decoder_layers=1,
                    dropout_rate=0.1)


def _padded_tokens(rng, lengths, width, vocab_size):
  """Random tokens in [2, vocab) with each row padded after its length."""
  tokens = rng.integers(2, vocab_size, size=(len(lengths), width))
  tokens[np.arange(width)[None, :] >= np.array(lengths)[:, None]] = 0
  return tokens.astype(np.int32)


def _shift_right(targets):
  return np.pad(targets, ((0, 0), (1, 0)))[:, :-1]


def _build_hf(**overrides):
  torch = pytest.importorskip('torch')
  transformers = pytest.importorskip('transformers')
  torch.manual_seed(0)
  model = transformers.T5ForConditionalGeneration(
      transformers.T5Config(**{**_HF_KWARGS, **overrides})).eval()
  # HF initialises norm scales to one and relative biases small; make them
  # random and large so that a misplaced scale or bucket changes the logits.
  with torch.no_grad():
    for name, p in model.named_parameters():
      if 'layer_norm' in name:
        p.uniform_(0.5, 1.5)
      elif 'relative_attention_bias' in name:
        p.normal_(0.0, 1.0)
  return model


@pytest.fixture(scope='module', params=['v1_1', 'original'])
def hf_and_ours(request):
  """A random HF model, our config and converted params (v1.1 and tied T5)."""
  overrides = {} if request.param == 'v1_1' else dict(
      feed_forward_proj='relu', tie_word_embeddings=True)
  hf_model = _build_hf(**overrides)
  config = hf_t5.t5_config_from_hf(hf_model.config)
  params = hf_t5.params_from_hf_t5(hf_model.state_dict(), config)
  return hf_model, config, jax.tree.map(jnp.asarray, params)


@pytest.fixture(scope='module')
def batch():
  rng = np.random.default_rng(0)
  inputs = _padded_tokens(rng, _INPUT_LENGTHS, max(_INPUT_LENGTHS), 384)
  targets = _padded_tokens(rng, _TARGET_LENGTHS, max(_TARGET_LENGTHS), 384)
  return inputs, targets


@functools.partial(jax.jit, static_argnums=0)
def _forward(config, params, inputs, decoder_inputs, targets, **features):
  return t5.Transformer(config).apply({'params': params}, inputs,
                                      decoder_inputs, targets, **features,
                                      enable_dropout=False)


@functools.partial(jax.jit, static_argnums=0)
def _init(config, rng):
  ones = jnp.ones((1, 4), jnp.int32)
  return t5.Transformer(config).init(rng, ones, ones, ones,
                                     enable_dropout=False)


@functools.partial(jax.jit, static_argnames=('module', 'cached', 'temperature',
                                              'topk'))
def _decode(module, params, inputs, *, cached=True, eos_id=1, temperature=0.0,
            rng=None, topk=0):
  fn = decoding.greedy_decode if cached else decoding.decode_without_cache
  return fn(module, params, inputs, max_decode_length=_DECODE_LENGTH,
            eos_id=eos_id, temperature=temperature, rng=rng, topk=topk)


# ----------------------------------------------------------------------------
# Parity with Hugging Face.
# ----------------------------------------------------------------------------
def test_relative_position_bucket_matches_hf():
  pytest.importorskip('transformers')
  torch = pytest.importorskip('torch')
  from transformers.models.t5 import modeling_t5  # pylint: disable=g-import-not-at-top
  rel = np.arange(-1000, 1000)
  for bidirectional in (True, False):
    for num_buckets, max_distance in ((32, 128), (64, 256), (16, 20)):
      ours = t5.relative_position_bucket(rel, bidirectional, num_buckets,
                                         max_distance)
      theirs = modeling_t5.T5Attention._relative_position_bucket(  # pylint: disable=protected-access
          torch.from_numpy(rel), bidirectional, num_buckets,
          max_distance).numpy()
      np.testing.assert_array_equal(ours, theirs)
      # Every bucket is used (bidirectional: no key after the query is at
      # distance 0, so the first bucket of that half stays unused).
      assert len(np.unique(ours)) == num_buckets - bidirectional


def test_logits_match_hf(hf_and_ours, batch):
  torch = pytest.importorskip('torch')
  hf_model, config, params = hf_and_ours
  inputs, targets = batch
  decoder_inputs = _shift_right(targets)
  with torch.no_grad():
    expected = hf_model(
        input_ids=torch.from_numpy(inputs).long(),
        attention_mask=torch.from_numpy(inputs > 0).long(),
        decoder_input_ids=torch.from_numpy(decoder_inputs).long()).logits
  ours = np.asarray(_forward(config, params, inputs, decoder_inputs, targets))
  valid = targets > 0  # HF lets padding attend anywhere; compare real tokens.
  assert ours.dtype == np.float32
  assert np.abs(expected.numpy()).max() > 1.0  # Not trivially small.
  np.testing.assert_array_less(
      np.abs(ours - expected.numpy())[valid].max(), 1e-4)


# The tied, ReLU model repeats its start token; the v1.1 one says more.
@pytest.mark.parametrize('hf_and_ours', ['v1_1'], indirect=True)
def test_greedy_decode_matches_hf_generate(hf_and_ours, batch):
  torch = pytest.importorskip('torch')
  hf_model, config, params = hf_and_ours
  inputs = torch.from_numpy(batch[0]).long()
  mask = (inputs > 0).long()
  module = t5.Transformer(config)
  # Without EOS both sides produce all 20 tokens.
  hf_model.generation_config.eos_token_id = None
  with torch.no_grad():
    expected = hf_model.generate(input_ids=inputs, attention_mask=mask,
                                 do_sample=False, num_beams=1,
                                 max_new_tokens=_DECODE_LENGTH)[:, 1:]
  ours = np.asarray(_decode(module, params, batch[0], eos_id=-1))
  np.testing.assert_array_equal(ours, expected.numpy())
  assert len(np.unique(ours)) >= 5, ours  # A meaningful, varied sequence.

  # With an EOS taken from the middle of row 0, both stop that row there
  # and pad it with 0.
  eos = int(expected[0, 4])
  hf_model.generation_config.eos_token_id = eos
  with torch.no_grad():
    expected = hf_model.generate(input_ids=inputs, attention_mask=mask,
                                 do_sample=False, num_beams=1,
                                 max_new_tokens=_DECODE_LENGTH)[:, 1:].numpy()
  expected = np.pad(expected, ((0, 0), (0, _DECODE_LENGTH - expected.shape[1])))
  ours = np.asarray(_decode(module, params, batch[0], eos_id=eos))
  np.testing.assert_array_equal(ours, expected)
  first_eos = list(ours[0]).index(eos)
  assert first_eos <= 4 and not ours[0, first_eos + 1:].any()


def test_hf_round_trip_is_exact(hf_and_ours):
  torch = pytest.importorskip('torch')
  hf_model, config, params = hf_and_ours
  hf_state = {k: v.numpy() for k, v in hf_model.state_dict().items()}
  back = hf_t5.params_to_hf_t5(params, config)
  assert sorted(back) == sorted(hf_state)
  for name, value in hf_state.items():
    np.testing.assert_array_equal(back[name], value, err_msg=name)

  # Ours -> HF -> ours from our own initialiser, boxed as init returns it.
  variables = _init(config, jax.random.PRNGKey(1))
  ours = jax.tree.map(np.asarray, nn.unbox(variables['params']))
  again = hf_t5.params_from_hf_t5(hf_t5.params_to_hf_t5(variables, config),
                                  config)
  flat_ours = flax.traverse_util.flatten_dict(ours)
  flat_again = flax.traverse_util.flatten_dict(again)
  assert flat_ours.keys() == flat_again.keys()
  for key, value in flat_ours.items():
    np.testing.assert_array_equal(flat_again[key], value, err_msg=str(key))
  # And HF accepts the converted weights strictly.
  hf_model.load_state_dict({k: torch.from_numpy(v) for k, v in
                            hf_t5.params_to_hf_t5(ours, config).items()})


def test_config_conversion_round_trip():
  config = t5.T5Config(vocab_size=32128, emb_dim=768, num_heads=12,
                       num_encoder_layers=12, num_decoder_layers=12,
                       mlp_dim=2048)
  transformers = pytest.importorskip('transformers')
  hf_config = transformers.T5Config(**hf_t5.hf_t5_config_kwargs(config))
  assert hf_t5.t5_config_from_hf(hf_config) == config
  with pytest.raises(ValueError, match='feed_forward_proj'):
    hf_t5.t5_config_from_hf(transformers.T5Config(feed_forward_proj='gelu'))


# ----------------------------------------------------------------------------
# Parameter tree.
# ----------------------------------------------------------------------------
_ATTENTION = [(f'{n}/kernel', ('embed', 'joined_kv')) for n in
              ('query', 'key', 'value')] + [('out/kernel',
                                             ('joined_kv', 'embed'))]
_GATED_MLP = [('mlp/wi_0/kernel', ('embed', 'mlp')),
              ('mlp/wi_1/kernel', ('embed', 'mlp')),
              ('mlp/wo/kernel', ('mlp', 'embed'))]
_ENCODER_LAYER = (
    [('pre_attention_layer_norm/scale', ('embed',))] +
    [(f'attention/{n}', a) for n, a in _ATTENTION] +
    [('pre_mlp_layer_norm/scale', ('embed',))] + _GATED_MLP)
_DECODER_LAYER = (
    [('pre_self_attention_layer_norm/scale', ('embed',))] +
    [(f'self_attention/{n}', a) for n, a in _ATTENTION] +
    [('pre_cross_attention_layer_norm/scale', ('embed',))] +
    [(f'encoder_decoder_attention/{n}', a) for n, a in _ATTENTION] +
    [('pre_mlp_layer_norm/scale', ('embed',))] + _GATED_MLP)
_EXPECTED_TREE = dict(
    [('token_embedder/embedding', ('vocab', 'embed')),
     ('encoder/relpos_bias/rel_embedding', ('heads', 'relpos_buckets')),
     ('encoder/encoder_norm/scale', ('embed',)),
     ('decoder/relpos_bias/rel_embedding', ('heads', 'relpos_buckets')),
     ('decoder/decoder_norm/scale', ('embed',)),
     ('decoder/logits_dense/kernel', ('embed', 'vocab'))] +
    [(f'encoder/layers_{i}/{n}', a) for i in range(2)
     for n, a in _ENCODER_LAYER] +
    [(f'decoder/layers_0/{n}', a) for n, a in _DECODER_LAYER])
_SIZES = {'vocab': 64, 'embed': 16, 'heads': 2, 'relpos_buckets': 32,
          'joined_kv': 8, 'mlp': 24}


def _init_tree(config):
  ones = jnp.ones((2, 5), jnp.int32)
  variables = jax.eval_shape(
      functools.partial(t5.Transformer(config).init, enable_dropout=False),
      jax.random.PRNGKey(0), ones, ones, ones)
  flat = flax.traverse_util.flatten_dict(variables['params'], sep='/')
  return {k: (v.names, v.value.shape) for k, v in flat.items()}


def test_parameter_tree_and_logical_axes():
  tree = _init_tree(_TINY)
  assert {k: names for k, (names, _) in tree.items()} == _EXPECTED_TREE
  for name, (names, shape) in tree.items():
    assert shape == tuple(_SIZES[a] for a in names), name


def test_parameter_tree_variants():
  tied = _init_tree(dataclasses.replace(_TINY, logits_via_embedding=True))
  assert set(tied) == set(_EXPECTED_TREE) - {'decoder/logits_dense/kernel'}
  relu = _init_tree(dataclasses.replace(_TINY, mlp_activations=('relu',)))
  assert relu['encoder/layers_0/mlp/wi/kernel'] == (('embed', 'mlp'), (16, 24))
  assert not any('wi_0' in k for k in relu)


# ----------------------------------------------------------------------------
# Packing, dropout and decoding on our own random initialisation.
# ----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tiny_params():
  return nn.unbox(_init(_TINY, jax.random.PRNGKey(0))['params'])


def test_packed_equals_unpacked(tiny_params):
  # seqio-style packing of two examples into one row, then padding.
  inputs_a, targets_a = [5, 6, 7, 8, 1], [9, 10, 1]
  inputs_b, targets_b = [11, 12, 1], [13, 14, 15, 1]
  row = lambda *parts: np.array([sum(parts, [])], np.int32)
  features = dict(
      encoder_segment_ids=row([1] * 5, [2] * 3, [0, 0]),
      encoder_positions=row(list(range(5)), list(range(3)), [0, 0]),
      decoder_segment_ids=row([1] * 3, [2] * 4, [0]),
      decoder_positions=row(list(range(3)), list(range(4)), [0]))
  logits = _forward(
      _TINY, tiny_params, row(inputs_a, inputs_b, [0, 0]),
      row([0] + targets_a[:-1], [0] + targets_b[:-1], [0]),
      row(targets_a, targets_b, [0]), **features)[0]
  for inputs, targets, span in ((inputs_a, targets_a, slice(0, 3)),
                                (inputs_b, targets_b, slice(3, 7))):
    alone = _forward(_TINY, tiny_params, row(inputs), row([0] + targets[:-1]),
                     row(targets))[0]
    np.testing.assert_allclose(logits[span], alone, atol=1e-5, rtol=0)


def test_dropout(tiny_params):
  module = t5.Transformer(_TINY)
  tokens = jnp.array([[5, 6, 7, 1]], jnp.int32)
  run = lambda **kw: module.apply({'params': tiny_params}, tokens, tokens,
                                  tokens, **kw)
  train_a = run(rngs={'dropout': jax.random.PRNGKey(1)})
  train_b = run(rngs={'dropout': jax.random.PRNGKey(2)})
  assert not np.allclose(train_a, run(enable_dropout=False))
  assert not np.allclose(train_a, train_b)
  np.testing.assert_array_equal(train_a,
                                run(rngs={'dropout': jax.random.PRNGKey(1)}))


def test_cached_decode_matches_uncached(tiny_params):
  module = t5.Transformer(_TINY)
  rng = np.random.default_rng(1)
  inputs = _padded_tokens(rng, (9, 4), 9, _TINY.vocab_size)
  uncached = np.asarray(_decode(module, tiny_params, inputs, cached=False,
                                eos_id=-1))
  assert len(np.unique(uncached)) >= 3, uncached
  np.testing.assert_array_equal(
      _decode(module, tiny_params, inputs, eos_id=-1), uncached)

  # Stop row 0 at its fourth token: it keeps the EOS and is padded after it.
  eos = int(uncached[0, 3])
  cached = np.asarray(_decode(module, tiny_params, inputs, eos_id=eos))
  np.testing.assert_array_equal(
      cached, _decode(module, tiny_params, inputs, cached=False, eos_id=eos))
  first_eos = list(cached[0]).index(eos)
  assert first_eos <= 3 and not cached[0, first_eos + 1:].any()
  np.testing.assert_array_equal(cached[0, :first_eos + 1],
                                uncached[0, :first_eos + 1])

  # Sampling draws the same tokens either way for the same key.
  sample = functools.partial(_decode, module, tiny_params, inputs, eos_id=-1,
                             temperature=1.0, rng=jax.random.PRNGKey(3),
                             topk=5)
  sampled = np.asarray(sample())
  np.testing.assert_array_equal(sampled, sample(cached=False))
  assert not np.array_equal(sampled, uncached)


def test_cross_attention_cache_is_filled_once_then_read(tiny_params):
  # A prefill step stores the projected encoder outputs; later steps read
  # them (they get zeros for `encoded` here) and give the logits of steps
  # that project `encoded` every time, and of the full forward pass.
  module = t5.Transformer(_TINY)
  rng = np.random.default_rng(2)
  inputs = jnp.asarray(_padded_tokens(rng, (7, 3), 7, _TINY.vocab_size))
  length = 6
  targets = jnp.asarray(rng.integers(2, _TINY.vocab_size, (2, length)),
                        jnp.int32)
  decoder_inputs = jnp.concatenate(
      [jnp.zeros((2, 1), jnp.int32), targets[:, :-1]], axis=1)
  encoded = module.apply({'params': tiny_params}, inputs,
                         enable_dropout=False, method='encode')

  def step(cache, enc, tokens_B1, prefill):
    logits, variables = module.apply(
        {'params': tiny_params, 'cache': cache}, enc, inputs, tokens_B1,
        tokens_B1, enable_dropout=False, decode=True,
        max_decode_length=length, prefill=prefill, mutable=['cache'],
        method='decode')
    return logits[:, 0], variables['cache']

  empty = decoding.init_cache(module, tiny_params, encoded, inputs, length)
  assert 'encoder_decoder_attention' not in empty['decoder']['layers_0']
  plain, filled = [], []
  cache_a = cache_b = empty
  for i in range(length):
    out, cache_a = step(cache_a, encoded, decoder_inputs[:, i:i + 1], False)
    plain.append(out)
    out, cache_b = step(cache_b, encoded if i == 0 else jnp.zeros_like(
        encoded), decoder_inputs[:, i:i + 1], i == 0)
    filled.append(out)
  cross = cache_b['decoder']['layers_0']['encoder_decoder_attention']
  heads, head_dim = _TINY.num_heads, _TINY.head_dim
  assert cross['cached_cross_key'].shape == (2, heads, head_dim, 7)
  assert cross['cached_cross_value'].shape == (2, heads, 7, head_dim)
  full = _forward(_TINY, tiny_params, inputs, decoder_inputs, targets)
  np.testing.assert_allclose(np.stack(plain, 1), full, atol=1e-5)
  np.testing.assert_allclose(np.stack(filled, 1), full, atol=1e-5)


def test_decode_needs_max_decode_length(tiny_params):
  tokens = jnp.ones((1, 4), jnp.int32)
  with pytest.raises(ValueError, match='max_decode_length'):
    t5.Transformer(_TINY).apply({'params': tiny_params}, tokens, tokens,
                                tokens, enable_dropout=False, decode=True,
                                mutable=['cache'])
