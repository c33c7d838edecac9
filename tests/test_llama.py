"""Llama and DecoderOnlyModel: parity with transformers, masks, the cache."""

import os

import flax
import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import seqio
import tensorflow as tf
import torch
import transformers

from conftest import REPO_ROOT
from instruct import configurables  # pylint: disable=unused-import
from instruct import decoding
from instruct.models import decoder_only
from instruct.models import hf_llama
from instruct.models import llama

VOCAB = 97
GREEDY_20 = decoding.plain_config(max_decode_length=20, eos_id=-1)
LLAMA3_ROPE = {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
               'high_freq_factor': 4.0, 'original_max_position_embeddings': 16}


def hf_model(tied=False, rope_scaling=None, seed=0):
  """A tiny random `LlamaForCausalLM` with grouped-query attention."""
  torch.manual_seed(seed)
  config = transformers.LlamaConfig(
      vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
      head_dim=8, rope_theta=500.0, rms_norm_eps=1e-5,
      tie_word_embeddings=tied, rope_scaling=rope_scaling,
      max_position_embeddings=256)
  model = transformers.LlamaForCausalLM(config).eval()
  # HF initialises norms to 1; random scales make the test see them.
  with torch.no_grad():
    for name, p in model.named_parameters():
      if name.endswith('norm.weight'):
        p.uniform_(0.5, 1.5)
  return model


def ours_from(hf):
  cfg = hf_llama.llama_config_from_hf(hf.config)
  params = hf_llama.params_from_hf_llama(hf.state_dict(), cfg)
  model = decoder_only.DecoderOnlyModel(
      llama.LlamaTransformer(cfg), seqio.PassThroughVocabulary(VOCAB, eos_id=1))
  return model, params


def hf_greedy(hf, prompt, steps):
  ids = torch.tensor([list(prompt)])
  with torch.no_grad():
    for _ in range(steps):
      nxt = hf(ids).logits[0, -1].argmax()
      ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
  return ids[0, len(prompt):].tolist()


def uncached_greedy(model, params, prompt, steps, bidirectional=False):
  """Reference: re-run the whole sequence for every token (no cache)."""
  width = len(prompt) + steps
  prefix = None
  if bidirectional:
    prefix = jnp.asarray([[1] * len(prompt) + [0] * steps])

  @jax.jit
  def next_token(seq, length):
    # Causal attention: the zeros after `length` cannot change the logits
    # at length - 1.
    logits = model.module.apply({'params': params}, seq,
                                decoder_causal_attention=prefix,
                                enable_dropout=False)
    return jnp.argmax(logits[0, length - 1])

  seq = np.zeros((1, width), np.int32)
  seq[0, :len(prompt)] = prompt
  for t in range(len(prompt), width):
    seq[0, t] = int(next_token(seq, t))
  return seq[0, len(prompt):].tolist()


def forward(model, params, tokens, **kwargs):
  """Jitted logits of the network (eager dispatch is slow on a busy CPU)."""
  fn = jax.jit(lambda p, t, kw: model.module.apply(
      {'params': p}, t, enable_dropout=False, **kw))
  return np.asarray(fn(params, jnp.asarray(tokens), kwargs))


def predict(model, params, batch, config=GREEDY_20):
  fn = jax.jit(model.predict_batch, static_argnames='decoding_config')
  return np.asarray(fn(params, batch, decoding_config=config))


def prompt_batch(prompts):
  """`inputs` batch (0-padded, no BOS) plus a decoder length."""
  width = max(len(p) for p in prompts)
  inputs = np.zeros((len(prompts), width), np.int32)
  for i, p in enumerate(prompts):
    inputs[i, :len(p)] = p
  return {'inputs': inputs,
          'decoder_input_tokens': np.zeros((len(prompts), 32), np.int32)}


# -----------------------------------------------------------------------------
# Parity with transformers.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('tied,rope', [(False, None), (True, None),
                                       (False, LLAMA3_ROPE)],
                         ids=['gqa', 'tied', 'llama3_rope'])
def test_logits_and_greedy_tokens_match_transformers(tied, rope):
  hf = hf_model(tied=tied, rope_scaling=rope)
  model, params = ours_from(hf)
  assert model.module.config.num_kv_heads == 2
  assert model.module.config.tie_word_embeddings == tied
  assert ('logits_dense' in params['decoder']) == (not tied)
  tokens = np.random.default_rng(0).integers(1, VOCAB, size=(2, 40))
  with torch.no_grad():
    ref = hf(torch.from_numpy(tokens)).logits.numpy()
  ours = forward(model, params, tokens)
  assert np.abs(ours - ref).max() <= 1e-4

  prompt = [5, 17, 42, 8, 23]
  expected = hf_greedy(hf, [0] + prompt, 20)
  got = predict(model, params, prompt_batch([prompt]))
  assert got[0].tolist() == expected


# -----------------------------------------------------------------------------
# Cache, padding, packing, prefix LM.
# -----------------------------------------------------------------------------
def test_cached_decoding_equals_uncached():
  model, params = ours_from(hf_model(seed=1))
  prompt = [0, 11, 12, 13]
  got = predict(model, params, prompt_batch([prompt[1:]]))
  assert got[0].tolist() == uncached_greedy(model, params, prompt, 20)


def test_cached_step_logits_equal_full_forward():
  model, params = ours_from(hf_model(seed=2))
  cfg = model.module.config
  tokens = jnp.asarray(np.random.default_rng(1).integers(1, VOCAB, (2, 12)))
  full = forward(model, params, tokens)
  cache = model._init_cache(params, 2, 12)  # pylint: disable=protected-access
  step = jax.jit(lambda c, t: model.module.apply(
      {'params': params, 'cache': c}, t, decode=True, enable_dropout=False,
      mutable=['cache']))
  # Prefill 5 tokens at once, then one per call.
  out, v = step(cache, tokens[:, :5])
  steps = [out]
  for t in range(5, 12):
    out, v = step(v['cache'], tokens[:, t:t + 1])
    steps.append(out)
  np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)
  attention = v['cache']['decoder']['layers_0']['self_attention']
  # Keys [B, N, D, K] and values [B, N, K, D]: the layout a step reads.
  assert attention['cached_key'].shape == (2, cfg.num_kv_heads, cfg.head_dim,
                                           12)
  assert attention['cached_value'].shape == (2, cfg.num_kv_heads, 12,
                                             cfg.head_dim)


def test_left_padded_batch_decodes_like_each_prompt_alone():
  model, params = ours_from(hf_model(seed=3))
  prompts = [[7, 8, 9, 10, 11, 12, 13], [20], [30, 31, 32]]
  batched = predict(model, params, prompt_batch(prompts))
  for i, p in enumerate(prompts):
    alone = predict(model, params, prompt_batch([p]))
    assert batched[i].tolist() == alone[0].tolist(), i
    assert alone[0].tolist() == uncached_greedy(model, params, [0] + p, 20)


def test_packed_logits_equal_unpacked():
  model, params = ours_from(hf_model(seed=4))
  rng = np.random.default_rng(2)
  a, b = rng.integers(1, VOCAB, 7), rng.integers(1, VOCAB, 5)
  packed = np.zeros((1, 16), np.int32)
  packed[0, :7], packed[0, 7:12] = a, b
  segments = np.array([[1] * 7 + [2] * 5 + [0] * 4])
  positions = np.array([list(range(7)) + list(range(5)) + [0] * 4])
  logits = forward(model, params, packed, decoder_target_tokens=packed,
                   decoder_segment_ids=segments, decoder_positions=positions)
  for seq, sl in ((a, slice(0, 7)), (b, slice(7, 12))):
    alone = forward(model, params, seq[None])
    np.testing.assert_allclose(logits[0, sl], alone[0], atol=1e-5)


def test_prefix_lm_mask():
  causal = jnp.asarray([[1, 1, 1, 0, 0]])
  targets = jnp.asarray([[4, 5, 6, 7, 0]])
  mask = np.asarray(llama.make_decoder_mask(5, targets, None, causal))[0, 0]
  expected = np.array([[1, 1, 1, 0, 0],
                       [1, 1, 1, 0, 0],
                       [1, 1, 1, 0, 0],
                       [1, 1, 1, 1, 0],
                       [0, 0, 0, 0, 0]], bool)
  np.testing.assert_array_equal(mask, expected)
  plain = np.asarray(llama.make_decoder_mask(5, targets))[0, 0]
  np.testing.assert_array_equal(plain, [[1, 0, 0, 0, 0],
                                        [1, 1, 0, 0, 0],
                                        [1, 1, 1, 0, 0],
                                        [1, 1, 1, 1, 0],
                                        [0, 0, 0, 0, 0]])

  # In the network: a later prefix token changes earlier prefix positions
  # only with bidirectional attention; targets never affect earlier tokens.
  model, params = ours_from(hf_model(seed=5))
  tokens = np.array([[0, 5, 6, 7, 8, 9]])
  flags = jnp.asarray([[1, 1, 1, 1, 0, 0]])
  other = tokens.copy()
  other[0, 3] = 60
  later = tokens.copy()
  later[0, 5] = 60
  run = lambda t, ca: forward(model, params, t,
                              decoder_causal_attention=ca)[0]
  assert np.abs(run(tokens, flags)[1] - run(other, flags)[1]).max() > 1e-3
  np.testing.assert_allclose(run(tokens, None)[1], run(other, None)[1])
  np.testing.assert_allclose(run(tokens, flags)[:5], run(later, flags)[:5])


def test_prefix_lm_cached_decoding_equals_uncached():
  model, params = ours_from(hf_model(seed=6))
  model.inputs_bidirectional_attention = True
  prompts = [[3, 4, 5, 6, 7], [40, 41]]
  batched = predict(model, params, prompt_batch(prompts))
  for i, p in enumerate(prompts):
    assert batched[i].tolist() == uncached_greedy(
        model, params, [0] + p, 20, bidirectional=True), i


# -----------------------------------------------------------------------------
# SeqIO features.
# -----------------------------------------------------------------------------
def _converted(examples, lengths):
  ds = tf.data.Dataset.from_generator(
      lambda: iter(examples),
      output_signature={k: tf.TensorSpec([None], tf.int32) for k in lengths})
  converter = seqio.DecoderFeatureConverter(pack=False)
  feats = list(converter(ds, lengths).as_numpy_iterator())
  return {k: np.stack([f[k] for f in feats]) for k in feats[0]}


def test_prefix_lm_features_score_targets_and_predict_from_inputs():
  model, params = ours_from(hf_model(seed=7))
  examples = [{'inputs': [9, 4, 6, 1], 'targets': [3, 9, 1]},
              {'inputs': [8, 1], 'targets': [5, 1]}]
  batch = _converted(examples, {'inputs': 6, 'targets': 4})
  assert batch['decoder_causal_attention'][0].tolist() == [1] * 5 + [0] * 5
  scores = np.asarray(model.score_batch(params, batch))
  for i, ex in enumerate(examples):
    seq = [0] + ex['inputs'] + ex['targets']
    logp = jax.nn.log_softmax(forward(model, params, [seq[:-1]]))
    n = len(ex['inputs'])
    expect = sum(float(logp[0, n + j, t])
                 for j, t in enumerate(ex['targets']))
    np.testing.assert_allclose(scores[i], expect, rtol=1e-5)
  # The prompt comes from decoder_causal_attention: same as explicit inputs.
  from_features = predict(model, params, batch)
  explicit = predict(model, params,
                     prompt_batch([ex['inputs'] for ex in examples]))
  np.testing.assert_array_equal(from_features, explicit)


def test_default_length_stops_at_the_sequence_length():
  model, params = ours_from(hf_model(seed=8))
  batch = _converted([{'inputs': [9, 4, 6, 1], 'targets': [3, 1]}],
                     {'inputs': 6, 'targets': 4})
  out = predict(model, params, batch, config=None)
  assert out.shape == (1, 10)
  # Prompt is BOS + 4 inputs; 10 positions leave room for 6 tokens, the
  # last of which is EOS unless the model stopped earlier.
  nonzero = out[0][out[0] != 0].tolist()
  assert len(nonzero) <= 6 and nonzero[-1] == 1


# -----------------------------------------------------------------------------
# Hugging Face conversion.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('tied', [False, True])
def test_hf_round_trip_is_bit_identical(tied):
  cfg = llama.LlamaConfig(vocab_size=VOCAB, emb_dim=32, num_heads=4,
                          num_kv_heads=2, head_dim=8, num_layers=2, mlp_dim=48,
                          tie_word_embeddings=tied)
  variables = llama.LlamaTransformer(cfg).init(
      jax.random.PRNGKey(0), jnp.ones((1, 4), jnp.int32), enable_dropout=False)
  params = flax.core.meta.unbox(variables['params'])
  state_dict = hf_llama.params_to_hf_llama(params, cfg)
  hf = transformers.LlamaForCausalLM(
      transformers.LlamaConfig(**hf_llama.hf_llama_config_kwargs(cfg)))
  hf.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()},
                     strict=True)
  back = hf_llama.params_from_hf_llama(hf.state_dict(), cfg)
  flat_a = flax.traverse_util.flatten_dict(params)
  flat_b = flax.traverse_util.flatten_dict(back)
  assert flat_a.keys() == flat_b.keys()
  for k in flat_a:
    np.testing.assert_array_equal(np.asarray(flat_a[k]), flat_b[k], str(k))
  assert hf_llama.llama_config_from_hf(hf.config) == cfg


def test_hf_conversion_errors_name_the_tensor():
  hf = hf_model()
  cfg = hf_llama.llama_config_from_hf(hf.config)
  sd = dict(hf.state_dict())
  missing = {k: v for k, v in sd.items() if 'layers.1.mlp.up_proj' not in k}
  with pytest.raises(KeyError, match=r'model\.layers\.1\.mlp\.up_proj\.weight'
                     r'.*\(48, 32\)'):
    hf_llama.params_from_hf_llama(missing, cfg)
  bad = dict(sd, **{'model.layers.0.self_attn.k_proj.weight':
                    torch.zeros(32, 32)})
  with pytest.raises(ValueError, match=r'k_proj\.weight.*\(32, 32\).*'
                     r'expected \(16, 32\)'):
    hf_llama.params_from_hf_llama(bad, cfg)
  extra = dict(sd, **{'model.layers.2.input_layernorm.weight': torch.ones(32)})
  with pytest.raises(ValueError, match=r'layers\.2\.input_layernorm'):
    hf_llama.params_from_hf_llama(extra, cfg)
  with pytest.raises(ValueError, match='num_kv_heads=3 must divide'):
    llama.LlamaConfig(num_heads=4, num_kv_heads=3)


# -----------------------------------------------------------------------------
# Gin sizes.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('name,num_params', [
    ('smollm2_135m', 134_515_008),
    ('llama3_2_1b', 1_235_814_400),
    ('llama2_7b', 6_738_415_616),
    ('llama3_8b', 8_030_261_248),
    ('tiny', None),
])
def test_gin_sizes_have_the_published_parameter_counts(name, num_params):
  gin.clear_config()
  try:
    gin.add_config_file_search_path(os.path.join(REPO_ROOT, 'gin_configs'))
    gin.parse_config_files_and_bindings(
        [f'models/llama/{name}.gin'], ["TOKENIZER_PATH = '/nonexistent'"])
    cfg = gin.get_configurable('network.LlamaConfig')()
  finally:
    gin.clear_config()
  shapes = jax.eval_shape(
      lambda: llama.LlamaTransformer(cfg).init(
          jax.random.PRNGKey(0), jnp.ones((1, 1), jnp.int32),
          enable_dropout=False))
  count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes))
  if num_params is None:
    assert cfg.vocab_size == 384 and count < 1_000_000
  else:
    assert count == num_params


def test_beam_and_samples_on_a_left_padded_batch():
  model, params = ours_from(hf_model(seed=9))
  batch = prompt_batch([[7, 8, 9, 10], [20]])
  beam = decoding.plain_config(method='beam', beam_size=3, num_samples=2,
                               max_decode_length=6, eos_id=-1,
                               length_penalty=0.0)
  fn = jax.jit(model.predict_batch_with_aux,
               static_argnames='decoding_config')
  tokens, aux = fn(params, batch, decoding_config=beam)
  assert tokens.shape == (2, 2, 6)
  scores = np.asarray(aux['scores'])
  assert np.all(scores[:, 0] >= scores[:, 1])
  # With no length penalty a beam's score is its log-likelihood under the
  # model: recompute it without the cache for the best beam of each row.
  for i, prompt in enumerate([[0, 7, 8, 9, 10], [0, 20]]):
    seq = prompt + np.asarray(tokens[i, 0]).tolist()
    logp = jax.nn.log_softmax(forward(model, params, [seq[:-1]]))[0]
    ll = sum(float(logp[len(prompt) - 1 + j, t])
             for j, t in enumerate(seq[len(prompt):]))
    np.testing.assert_allclose(scores[i, 0], ll, rtol=1e-4)
  sample = decoding.plain_config(method='sample', num_samples=3,
                                 max_decode_length=6, eos_id=-1)
  tokens, _ = fn(params, batch, jax.random.PRNGKey(0), decoding_config=sample)
  assert tokens.shape == (2, 3, 6)
  assert len({tuple(t) for t in np.asarray(tokens[0]).tolist()}) > 1
