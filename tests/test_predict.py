"""The one decode path (`instruct.predict.Predictor`): padding, caching, sharding."""

import flax.linen as nn
import jax
import numpy as np
import pytest
import seqio
import tensorflow as tf

from instruct import decoding
from instruct import partitioning
from instruct import predict
from instruct.models import decoder_only
from instruct.models import encoder_decoder
from instruct.models import llama
from instruct.models import t5

GREEDY = decoding.plain_config(method='greedy', eos_id=-1, max_decode_length=6)
BEAM = decoding.plain_config(method='beam', beam_size=2, num_samples=2,
                             eos_id=-1, max_decode_length=6)
NUM_EXAMPLES = 5


def _model_and_features(family):
  """A tiny model, its parameters and NUM_EXAMPLES rows of model features."""
  vocab = seqio.ByteVocabulary()
  rng = np.random.default_rng(5)
  inputs = rng.integers(3, 255, (NUM_EXAMPLES, 7)).astype(np.int32)
  inputs[::2, 4:] = 0
  if family == 't5':
    model = encoder_decoder.EncoderDecoderModel(t5.Transformer(t5.T5Config(
        vocab_size=384, emb_dim=16, num_heads=2, head_dim=8, mlp_dim=32,
        num_encoder_layers=1, num_decoder_layers=2)), vocab, vocab)
    targets = rng.integers(3, 255, (NUM_EXAMPLES, 6)).astype(np.int32)
    feats = {'encoder_input_tokens': inputs,
             'decoder_input_tokens': np.concatenate(
                 [np.zeros((NUM_EXAMPLES, 1), np.int32), targets[:, :-1]], 1),
             'decoder_target_tokens': targets}
  else:
    model = decoder_only.DecoderOnlyModel(llama.LlamaTransformer(
        llama.LlamaConfig(emb_dim=16, num_heads=2, num_kv_heads=2,
                          head_dim=8, mlp_dim=32)), vocab)
    feats = {'inputs': inputs,
             'decoder_input_tokens': np.zeros((NUM_EXAMPLES, 16), np.int32)}
  params = nn.unbox(model.get_initial_variables(
      jax.random.PRNGKey(0), {k: v.shape for k, v in feats.items()}
  )['params'])
  return model, params, feats


def _indexed(feats):
  return tf.data.Dataset.from_tensor_slices(feats).enumerate()


def _one_device():
  return partitioning.Partitioner(devices=jax.devices()[:1])


@pytest.mark.parametrize('family,config', [('t5', GREEDY), ('llama', BEAM)],
                         ids=['t5-greedy', 'llama-beam'])
def test_partial_last_batch_gives_the_tokens_of_one_full_batch(family, config):
  model, params, feats = _model_and_features(family)
  whole = predict.Predictor(model, _one_device()).predict_dataset(
      params, _indexed(feats), batch_size=8, config=config)
  assert [i for i, _, _ in whole] == list(range(NUM_EXAMPLES))
  # Batches of 2 (the last has one real row), then 8 devices (batch 2 is
  # rounded up to 8 rows, 3 of them padding).
  for partitioner, batch_size in ((_one_device(), 2),
                                  (partitioning.Partitioner(), 2)):
    got = predict.Predictor(model, partitioner).predict_dataset(
        params, _indexed(feats), batch_size=batch_size, config=config)
    assert [i for i, _, _ in got] == list(range(NUM_EXAMPLES))
    for (_, want_tokens, want_aux), (_, tokens, aux) in zip(whole, got):
      assert tokens.shape == (config.num_outputs, 6)
      np.testing.assert_array_equal(tokens, want_tokens)
      np.testing.assert_allclose(aux['scores'], want_aux['scores'], rtol=1e-5)


def test_one_compilation_per_decoding_config():
  model, params, feats = _model_and_features('t5')
  traced = []
  original = model.predict_batch_with_aux

  def counting(p, batch, rng=None, decoding_config=None):
    traced.append(decoding_config)  # Runs only while jax.jit traces.
    return original(p, batch, rng, decoding_config)

  model.predict_batch_with_aux = counting
  predictor = predict.Predictor(model, _one_device())
  assert predictor.predict_fn(GREEDY) is predictor.predict_fn(
      decoding.plain_config(method='greedy', eos_id=-1, max_decode_length=6))
  # Three batches, the last one short: one compilation.
  predictor.predict_dataset(params, _indexed(feats), 2, config=GREEDY)
  assert traced == [GREEDY]
  predictor.predict_dataset(params, _indexed(feats), 2, config=BEAM)
  predictor.predict_dataset(params, _indexed(feats), 2, config=GREEDY)
  # A single short batch padded to the same rows reuses the compilation.
  predictor.predict_batch(params, {k: v[:1] for k, v in feats.items()},
                          rng=jax.random.PRNGKey(0), config=GREEDY, rows=2)
  assert traced == [GREEDY, BEAM]


def test_unsharded_batch_equals_the_models_own_prediction():
  # The BBH runner's path: no partitioner, prompts in `inputs`, short
  # batches padded to `rows`.
  model, params, feats = _model_and_features('llama')
  batch = {'inputs': feats['inputs'][:3],
           'decoder_input_tokens': np.zeros((3, 1), np.int32)}
  tokens, aux = predict.Predictor(model).predict_batch(
      params, batch, config=GREEDY, rows=4)
  assert tokens.shape == (3, 1, 6) and aux['scores'].shape == (3, 1)
  want = model.predict_batch(params, batch, decoding_config=GREEDY)
  np.testing.assert_array_equal(tokens[:, 0], np.asarray(want))


def test_scores_are_the_models_scores():
  model, params, feats = _model_and_features('t5')
  got = predict.Predictor(model, partitioning.Partitioner()).score_dataset(
      params, _indexed(feats), batch_size=2)
  want = np.asarray(model.score_batch(params, feats))
  assert [i for i, _ in got] == list(range(NUM_EXAMPLES))
  np.testing.assert_allclose([s for _, s in got], want, rtol=1e-5)
