"""Prompt tuning, prefix tuning and P-tuning v2 (instruct.peft.prompts) in
both families: packing, cached decoding, folding the reparameterisation,
initialisation from a text, and short training runs on a built-in task."""

import dataclasses

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import seqio
import tensorflow_datasets as tfds

import tasks  # pylint: disable=unused-import  # Registers the built-in tasks.
from instruct import decoding
from instruct import errors
from instruct import partitioning
from instruct import trainer
from instruct.models import decoder_only
from instruct.models import encoder_decoder
from instruct.models import llama
from instruct.models import t5
from instruct.peft import config as pc
from instruct.peft import core
from instruct.peft import prompts

VOCAB = seqio.ByteVocabulary()
N = 4
PEFTS = {
    'prompt': pc.PeftConfig(prompt_tuning=pc.PromptTuningConfig(
        num_virtual_tokens=N, init='vocab')),
    'prefix': pc.PeftConfig(prefix_tuning=pc.PrefixTuningConfig(
        num_virtual_tokens=N, reparameterize=True, reparam_hidden=32)),
    'p_tuning_v2': pc.PeftConfig(prefix_tuning=pc.PrefixTuningConfig(
        num_virtual_tokens=N)),
}


def t5_model(peft):
  cfg = t5.T5Config(vocab_size=384, emb_dim=32, num_heads=4, head_dim=8,
                    mlp_dim=64, num_encoder_layers=2, num_decoder_layers=2,
                    dropout_rate=0.0, peft=peft)
  return encoder_decoder.EncoderDecoderModel(
      t5.Transformer(cfg), VOCAB, VOCAB,
      loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')


def llama_model(peft):
  cfg = llama.LlamaConfig(vocab_size=384, emb_dim=32, num_heads=4,
                          num_kv_heads=2, head_dim=8, num_layers=2, mlp_dim=64,
                          peft=peft)
  return decoder_only.DecoderOnlyModel(
      llama.LlamaTransformer(cfg), VOCAB,
      loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')


def init(model, shapes, seed=0):
  variables = model.get_initial_variables(jax.random.PRNGKey(seed), shapes)
  return flax.core.meta.unbox(variables['params'])


def randomize_adapter(params, seed=1):
  flat = core.flatten(params)
  rng = np.random.default_rng(seed)
  for path in flat:
    if core.is_peft_path(path):
      flat[path] = rng.normal(size=flat[path].shape).astype(np.float32)
  return core.unflatten(flat)


# -----------------------------------------------------------------------------
# Llama: positions, masks, packing, cached decoding.
# -----------------------------------------------------------------------------
def _llama_logits(model, params, tokens, **kw):
  return np.asarray(model.module.apply(
      {'params': params}, tokens, np.ones_like(tokens), enable_dropout=False,
      **kw))


@pytest.mark.parametrize('method', [
    pytest.param('prompt', marks=pytest.mark.slow), 'p_tuning_v2'])
def test_llama_packed_segments_see_the_prompt_as_alone(method):
  model = llama_model(PEFTS[method])
  params = randomize_adapter(init(model, {'decoder_input_tokens': (1, 12)}))
  rng = np.random.default_rng(0)
  a, b = rng.integers(3, 384, 5), rng.integers(3, 384, 7)
  packed = np.concatenate([a, b])[None]
  logits = np.asarray(model.module.apply(
      {'params': params}, packed, packed,
      decoder_segment_ids=np.array([[1] * 5 + [2] * 7]),
      decoder_positions=np.array([list(range(5)) + list(range(7))]),
      enable_dropout=False))
  assert logits.shape == (1, 12, 384)  # No logits for virtual tokens.
  alone_a = _llama_logits(model, params, a[None])
  alone_b = _llama_logits(model, params, b[None])
  np.testing.assert_allclose(logits[:, :5], alone_a, atol=1e-5)
  np.testing.assert_allclose(logits[:, 5:], alone_b, atol=1e-5)
  base = llama_model(None)
  without = _llama_logits(base, core.base_params(params), a[None])
  assert np.abs(without - alone_a).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize('method', ['prompt', 'prefix'])
def test_llama_cached_decoding_matches_full_forward(method):
  model = llama_model(PEFTS[method])
  params = randomize_adapter(init(model, {'decoder_input_tokens': (2, 16)}))
  inputs = np.array([[40, 41, 42, 0, 0], [50, 51, 52, 53, 54]], np.int32)
  batch = {'inputs': inputs,
           'decoder_input_tokens': np.zeros((2, 12), np.int32)}
  tokens = np.asarray(model.predict_batch(params, batch))
  for row in range(2):
    prompt = [0] + [t for t in inputs[row] if t]
    seq = list(prompt)
    for _ in range(4):  # Greedy with full forward passes, no cache.
      logits = _llama_logits(model, params, np.array([seq]))
      seq.append(int(np.argmax(logits[0, -1])))
    assert list(tokens[row, :4]) == seq[len(prompt):], row


# -----------------------------------------------------------------------------
# T5: cached decoding, packing refused.
# -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize('method', ['prompt', 'prefix'])
def test_t5_cached_decoding_matches_uncached(method):
  model = t5_model(PEFTS[method])
  params = randomize_adapter(init(model, {'encoder_input_tokens': (2, 8),
                                          'decoder_input_tokens': (2, 6)}))
  enc = np.array([[40, 41, 42, 0, 0, 0], [50, 51, 52, 53, 54, 55]], np.int32)
  config = decoding.plain_config(eos_id=-1)
  cached, _ = decoding.encoder_decoder_decode(
      model.module, params, enc, max_decode_length=6, config=config)
  full, _ = decoding.encoder_decoder_decode(
      model.module, params, enc, max_decode_length=6, config=config,
      use_cache=False)
  np.testing.assert_array_equal(np.asarray(cached), np.asarray(full))


def test_t5_prompt_tuning_refuses_packed_inputs():
  model = t5_model(PEFTS['prompt'])
  params = init(model, {'encoder_input_tokens': (1, 6),
                        'decoder_input_tokens': (1, 4)})
  tokens = np.ones((1, 6), np.int32)
  with pytest.raises(errors.UserError, match='PACK=False'):
    model.module.apply({'params': params}, tokens, tokens[:, :4],
                       tokens[:, :4], encoder_segment_ids=tokens,
                       enable_dropout=False)


# -----------------------------------------------------------------------------
# Initialisation.
# -----------------------------------------------------------------------------
def test_prompt_init_from_text_uses_the_vocabulary_embeddings():
  peft = pc.PeftConfig(prompt_tuning=pc.PromptTuningConfig(
      num_virtual_tokens=5, init='text', init_text='ab'))
  model = llama_model(peft)  # The wrapper tokenises init_text.
  ids = model.module.config.peft.prompt_tuning.init_token_ids
  assert ids == tuple(VOCAB.encode('ab')) == (100, 101)
  params = init(model, {'decoder_input_tokens': (1, 4)})
  table = np.asarray(params['token_embedder']['embedding'])
  np.testing.assert_array_equal(params['decoder']['peft_prompt'],
                                table[[100, 101, 100, 101, 100]])


def test_prompt_init_text_without_ids_is_a_clear_error():
  with pytest.raises(errors.UserError, match='init_text'):
    pc.PromptTuningConfig(init='text')


# -----------------------------------------------------------------------------
# Short training runs and folding.
# -----------------------------------------------------------------------------
LENGTHS = {'inputs': 48, 'targets': 8}


def _batches(model, split, count, batch_size=16):
  task = seqio.get_mixture_or_task('builtin_parity')
  ds = task.get_dataset(LENGTHS, split=split, shuffle=False, seed=0)
  ds = model.FEATURE_CONVERTER_CLS(pack=False)(ds, LENGTHS)
  ds = ds.batch(batch_size, drop_remainder=True).take(count)
  return [dict(b) for b in tfds.as_numpy(ds)]


def _heldout_loss(model, params, batches):
  total = weights = 0.0
  for b in batches:
    _, m = model.loss_fn(params, b, None)
    total += float(m['loss_sum'])
    weights += float(m['weight_sum'])
  return total / weights


def _train(model, steps, lr):
  train = _batches(model, 'train', steps)
  heldout = _batches(model, 'validation', 2)
  p = partitioning.Partitioner(devices=jax.devices()[:1])
  tx = optax.adam(lr)
  factory = trainer.StateFactory(model, tx, p,
                                 {k: v.shape for k, v in train[0].items()})
  state = factory.init(0)
  before = _heldout_loss(model, jax.device_get(state.params), heldout)
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  for i in range(steps):
    state, _ = step(state, p.shard_batch(train[i % len(train)]),
                    jax.random.PRNGKey(i))
  params = jax.device_get(state.params)
  return params, before, _heldout_loss(model, params, heldout), heldout


@pytest.mark.slow
@pytest.mark.parametrize('family', ['t5', 'llama'])
@pytest.mark.parametrize('method', ['prompt', 'prefix', 'p_tuning_v2'])
def test_short_training_lowers_heldout_loss(family, method):
  make = t5_model if family == 't5' else llama_model
  model = make(PEFTS[method])
  params, before, after, heldout = _train(model, steps=12, lr=3e-2)
  print(f'[train] {family} {method}: held-out loss {before:.4f} -> '
        f'{after:.4f}')
  assert after < before - 0.05
  trained, _ = core.partition(params, PEFTS[method])
  assert core.count_parameters(trained) == core.count_parameters(
      core.adapter_params(params))
  if method == 'prefix':
    folded, folded_peft = prompts.fold_prefix_reparam(params, PEFTS[method])
    assert prompts.REPARAM not in folded
    assert not folded_peft.prefix_tuning.reparameterize
    folded_model = make(folded_peft)
    a = np.asarray(model._compute_logits(params, heldout[0]))  # pylint: disable=protected-access
    b = np.asarray(folded_model._compute_logits(folded, heldout[0]))  # pylint: disable=protected-access
    diff = float(np.max(np.abs(a - b)))
    print(f'[fold] {family}: max |folded - unfolded| logits = {diff:.2e}')
    assert diff < 1e-5


def test_fold_without_reparam_is_a_clear_error():
  with pytest.raises(errors.UserError, match='nothing to fold'):
    prompts.fold_prefix_reparam({}, PEFTS['p_tuning_v2'])
