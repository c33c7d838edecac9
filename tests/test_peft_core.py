"""instruct.peft.core and the trainer with PEFT: only the trainable subtree
gets gradients and optimizer state, the frozen base may be bfloat16,
microbatching and 8-device sharding change nothing."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from instruct import checkpoints
from instruct import errors
from instruct import partitioning
from instruct import trainer
from instruct.peft import config as pc
from instruct.peft import core
import tiny

LENGTHS = {'encoder_input_tokens': 16, 'decoder_input_tokens': 8}
LORA = pc.PeftConfig(lora=pc.LoraConfig(rank=4, alpha=8.0))


def tiny_model(peft=LORA, **kw):
  cfg = tiny.t5_config(num_encoder_layers=1, num_decoder_layers=1, peft=peft,
                       **kw)
  return tiny.t5_model(cfg, loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')


def random_batch(batch_size=8, seed=0):
  return tiny.encdec_batch(batch_size, LENGTHS['encoder_input_tokens'],
                           LENGTHS['decoder_input_tokens'], seed,
                           input_padding=3, target_padding=2)


def _one_device():
  return partitioning.Partitioner(devices=jax.devices()[:1])


def _factory(model, tx, p, batch):
  return trainer.StateFactory(model, tx, p,
                              {k: v.shape for k, v in batch.items()})


def _randomize_lora_b(params):
  """Non-zero B, so that one step moves A too (its gradient is 0 at B = 0)."""
  rng = np.random.default_rng(3)

  def f(path, x):
    if path[-1].key != 'peft_lora_b':
      return x
    return jax.device_put(0.1 * rng.standard_normal(x.shape).astype(x.dtype),
                          x.sharding)

  return jax.tree_util.tree_map_with_path(f, params)


def _steps(model, tx, p, batch, n=1, num_microbatches=1, random_b=False):
  factory = _factory(model, tx, p, batch)
  state = factory.init(0)
  if random_b:
    state = state.replace(params=_randomize_lora_b(state.params))
  initial = jax.tree.map(np.asarray, state.params)
  step = trainer.jit_train_step(
      trainer.make_train_step(model, tx, num_microbatches), factory)
  for _ in range(n):
    state, metrics = step(state, p.shard_batch(batch), jax.random.PRNGKey(1))
  return factory, initial, state, metrics


# -----------------------------------------------------------------------------
# Partition helpers.
# -----------------------------------------------------------------------------
def test_is_trainable_by_prefix_and_patterns():
  cfg = pc.PeftConfig(lora=pc.LoraConfig(), train_patterns=('layer_norm',))
  assert core.is_trainable(('encoder', 'layers_0', 'attention', 'query',
                            'peft_lora_a'), cfg)
  assert core.is_trainable(('decoder', 'layers_0', 'peft_adapter_mlp',
                            'up_kernel'), cfg)
  assert core.is_trainable(('encoder', 'layers_0', 'pre_mlp_layer_norm',
                            'scale'), cfg)
  assert not core.is_trainable(('encoder', 'layers_0', 'attention', 'query',
                                'kernel'), cfg)
  assert core.is_trainable(('anything', 'kernel'), None)


def test_partition_and_combine_round_trip():
  params = {'a': {'kernel': np.ones((2, 3)), 'peft_lora_a': np.ones((2, 1)),
                  'peft_lora_b': np.zeros((1, 3))},
            'norm': {'scale': np.ones(3)}}
  trainable, frozen = core.partition(params, LORA)
  assert trainable == {'a': {'peft_lora_a': params['a']['peft_lora_a'],
                             'peft_lora_b': params['a']['peft_lora_b']}}
  assert set(core.flatten(frozen)) == {('a', 'kernel'), ('norm', 'scale')}
  back = core.combine(trainable, frozen)
  assert core.flatten(back).keys() == core.flatten(params).keys()
  assert core.count_parameters(trainable) == 5
  assert core.count_parameters(params) == 14
  with pytest.raises(ValueError, match='both halves'):
    core.combine(trainable, trainable)


def test_incompatible_methods_message():
  with pytest.raises(errors.UserError, match='cannot be combined'):
    pc.PeftConfig(prompt_tuning=pc.PromptTuningConfig(),
                  prefix_tuning=pc.PrefixTuningConfig())


def test_target_pattern_matching_nothing_lists_dense_paths():
  model = tiny_model(pc.PeftConfig(lora=pc.LoraConfig(
      target_modules=('query', 'q_proj'))))
  with pytest.raises(errors.UserError) as e:
    _factory(model, optax.adam(1e-3), _one_device(), random_batch())
  msg = str(e.value)
  assert "peft.LoraConfig.target_modules: pattern 'q_proj'" in msg
  assert 'encoder/layers_<i>/attention/query' in msg
  assert 'decoder/layers_<i>/encoder_decoder_attention/value' in msg
  assert 'logits_dense' not in msg


# -----------------------------------------------------------------------------
# Trainer.
# -----------------------------------------------------------------------------
def test_optimizer_state_only_on_trainable_and_base_frozen():
  model, tx = tiny_model(), optax.adam(1e-2)
  p = _one_device()
  factory, initial, state, _ = _steps(model, tx, p, random_batch(), n=3)
  trainable, frozen = core.partition(state.params, LORA)
  n_train = core.count_parameters(trainable)
  # LoRA rank 4 on query+value of the encoder's self-attention and the
  # decoder's self- and cross-attention: 6 projections x (32*4 + 4*32).
  assert n_train == 6 * (32 * 4 + 4 * 32)
  opt_sizes = [int(np.prod(x.shape)) for x in jax.tree.leaves(state.opt_state)
               if np.ndim(x) > 0]
  assert sum(opt_sizes) == 2 * n_train  # Adam's mu and nu, nothing else
  summary = factory.parameter_summary()
  assert summary['trainable_parameters'] == n_train
  assert summary['total_parameters'] == core.count_parameters(state.params)
  assert 'trainable of' in factory.describe_parameters()
  # The base did not move; every LoRA B did.
  init_train, init_frozen = core.partition(initial, LORA)
  for a, b in zip(jax.tree.leaves(init_frozen), jax.tree.leaves(frozen)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  for path, b in core.flatten(trainable).items():
    if path[-1] == 'peft_lora_b':
      assert np.abs(np.asarray(b)).max() > 0, path


def test_bfloat16_frozen_base_trains_like_float32():
  batch = random_batch()
  tx = optax.adam(1e-2)
  bf16 = pc.PeftConfig(lora=LORA.lora, frozen_dtype='bfloat16')
  _, _, _, m32 = _steps(tiny_model(LORA), tx, _one_device(), batch)
  _, _, s16, m16 = _steps(tiny_model(bf16), tx, _one_device(), batch)
  trainable, frozen = core.partition(s16.params, bf16)
  assert {x.dtype for x in jax.tree.leaves(frozen)} == {jnp.dtype('bfloat16')}
  assert {x.dtype for x in jax.tree.leaves(trainable)} == {
      jnp.dtype('float32')}
  # Same initial weights up to bfloat16 rounding: nearly the same loss.
  np.testing.assert_allclose(float(m16['loss']), float(m32['loss']),
                             rtol=2e-2)


def test_microbatches_equal_full_batch_with_lora():
  model = tiny_model()
  tx = optax.sgd(0.5)
  batch = random_batch()
  batch['decoder_loss_weights'][0, :3] = 0
  p = _one_device()
  _, _, full, m_full = _steps(model, tx, p, batch, random_b=True)
  _, _, micro, m_micro = _steps(model, tx, p, batch, num_microbatches=4,
                                random_b=True)
  np.testing.assert_allclose(float(m_micro['loss']), float(m_full['loss']),
                             rtol=1e-5)
  for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(micro.params)):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5,
                               atol=1e-6)


def test_lora_step_on_8_devices_equals_one_device():
  assert len(jax.devices()) >= 8, 'conftest sets 8 simulated CPU devices'
  batch = random_batch(batch_size=8)
  tx = optax.sgd(0.5)
  _, s0, s1, m1 = _steps(tiny_model(), tx, _one_device(), batch,
                        random_b=True)
  moved = [float(np.abs(np.asarray(b) - a).max()) for a, b in zip(
      jax.tree.leaves(core.adapter_params(s0)),
      jax.tree.leaves(core.adapter_params(s1.params)))]
  assert min(moved) > 0, 'every LoRA A and B must be updated by the step'
  p8 = partitioning.Partitioner(num_partitions=2, devices=jax.devices()[:8])
  _, _, s8, m8 = _steps(tiny_model(), tx, p8, batch, random_b=True)
  np.testing.assert_allclose(float(m8['loss']), float(m1['loss']), rtol=1e-5)
  for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(s1.params),
                          jax.tree.leaves(s8.params)):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5,
                               atol=1e-7, err_msg=jax.tree_util.keystr(path))
  # LoRA's B [rank, joined_kv] follows the kernel's 'joined_kv' -> model rule.
  b = s8.params['encoder']['layers_0']['attention']['query']['peft_lora_b']
  assert tuple(b.sharding.spec) in ((None, 'model'),)
  # Adam's moments of B are sharded like B.
  opt = _factory(tiny_model(), optax.adam(1e-3), p8, batch).state_shardings
  mu = opt.opt_state[0].mu
  assert tuple(mu['encoder']['layers_0']['attention']['query']['peft_lora_b']
               .spec) == (None, 'model')
  assert 'kernel' not in mu['encoder']['layers_0']['attention']['query']


def test_initial_checkpoint_restores_base_and_inits_peft_fresh(tmp_path):
  batch = random_batch()
  shapes = {k: v.shape for k, v in batch.items()}
  p = _one_device()
  base_params = trainer.StateFactory(tiny_model(None), optax.identity(), p,
                                     shapes).init(7).params
  manager = checkpoints.CheckpointManager(str(tmp_path), save_dataset=False,
                                          async_save=False)
  manager.save(5, {'target': base_params,
                   'state': {'step': np.asarray(5, np.int32)}})
  manager.close()

  bf16 = pc.PeftConfig(lora=LORA.lora, frozen_dtype='bfloat16')
  factory = trainer.StateFactory(tiny_model(bf16), optax.adam(1e-3), p, shapes)
  restored, step = checkpoints.restore_params_and_step(
      str(tmp_path), factory.abstract_state.params,
      only=lambda path: not core.is_peft_path(path))
  assert step == 5
  assert not core.adapter_params(restored)
  params = core.combine(factory.init_fresh_params(0), restored)
  state = factory.from_params(params, step)
  for path, leaf in core.flatten(state.params).items():
    if core.is_peft_path(path):
      if path[-1] == 'peft_lora_b':
        assert not np.asarray(leaf).any()
      continue
    assert leaf.dtype == jnp.bfloat16, path  # cast on restore
    want = np.asarray(core.flatten(base_params)[path], np.float32)
    np.testing.assert_allclose(np.asarray(leaf, np.float32), want, rtol=1e-2,
                               atol=1e-6, err_msg='/'.join(path))
