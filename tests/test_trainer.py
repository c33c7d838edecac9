"""The train step: one step trains, microbatching and sharding change nothing."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from instruct import partitioning
from instruct import trainer
import tiny

LENGTHS = {'encoder_input_tokens': 24, 'decoder_input_tokens': 12}


def tiny_model(z_loss=1e-4, loss_normalizing_factor='NUM_REAL_TARGET_TOKENS'):
  return tiny.t5_model(z_loss=z_loss,
                       loss_normalizing_factor=loss_normalizing_factor)


def random_batch(batch_size=8, seed=0):
  return tiny.encdec_batch(batch_size, LENGTHS['encoder_input_tokens'],
                           LENGTHS['decoder_input_tokens'], seed)


def one_step(model, tx, partitioner, batch, num_microbatches=1):
  shapes = {k: v.shape for k, v in batch.items()}
  factory = trainer.StateFactory(model, tx, partitioner, shapes)
  state = factory.init(seed=0)
  initial = jax.tree.map(np.asarray, state.params)  # the step donates state
  step = trainer.jit_train_step(
      trainer.make_train_step(model, tx, num_microbatches), factory)
  new_state, metrics = step(state, partitioner.shard_batch(batch),
                            jax.random.PRNGKey(1))
  return factory, initial, new_state, metrics


def _single_device():
  return partitioning.Partitioner(devices=jax.devices()[:1])


def test_one_step_lowers_loss_on_the_same_batch():
  model, tx = tiny_model(), optax.adamw(1e-2)
  batch = random_batch()
  p = _single_device()
  factory, _, state, m1 = one_step(model, tx, p, batch)
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  for _ in range(5):
    state, m = step(state, p.shard_batch(batch), jax.random.PRNGKey(1))
  assert int(state.step) == 6
  assert float(m['loss']) < float(m1['loss'])
  assert float(m1['weight_sum']) == float(batch['decoder_loss_weights'].sum())


@pytest.mark.parametrize('mode', ['NUM_REAL_TARGET_TOKENS',
                                  'AVERAGE_PER_SEQUENCE', None])
def test_microbatches_equal_full_batch(mode):
  model, tx = tiny_model(loss_normalizing_factor=mode), optax.sgd(0.1)
  batch = random_batch()
  batch['decoder_loss_weights'][0, :4] = 0  # uneven tokens per microbatch
  p = _single_device()
  _, _, full, m_full = one_step(model, tx, p, batch, 1)
  _, _, micro, m_micro = one_step(model, tx, p, batch, 4)
  np.testing.assert_allclose(float(m_micro['loss']), float(m_full['loss']),
                             rtol=1e-5)
  for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(micro.params)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5,
                               atol=1e-6)


def _spec(sharding):
  return tuple(sharding.spec) + (None,) * (2 - len(sharding.spec))


def test_parameters_follow_logical_rules_on_a_4x2_mesh():
  assert len(jax.devices()) >= 8, 'conftest sets 8 simulated CPU devices'
  model = tiny_model()
  p = partitioning.Partitioner(num_partitions=2, devices=jax.devices()[:8])
  assert dict(p.mesh.shape) == {'data': 4, 'model': 2}
  factory = trainer.StateFactory(model, optax.adafactor(1e-3), p,
                                 {k: v.shape for k, v in random_batch().items()})
  state = factory.init(0)
  params = state.params
  expect = {
      ('token_embedder', 'embedding'): ('model', None),        # vocab, embed
      ('encoder', 'layers_0', 'attention', 'query', 'kernel'): (None, 'model'),
      ('encoder', 'layers_0', 'attention', 'out', 'kernel'): ('model', None),
      ('encoder', 'layers_1', 'mlp', 'wi_0', 'kernel'): (None, 'model'),
      ('decoder', 'layers_0', 'mlp', 'wo', 'kernel'): ('model', None),
      ('decoder', 'relpos_bias', 'rel_embedding'): ('model', None),
      ('decoder', 'logits_dense', 'kernel'): (None, 'model'),   # embed, vocab
      ('encoder', 'encoder_norm', 'scale'): (None, None),
  }
  for path, spec in expect.items():
    leaf = params
    for k in path:
      leaf = leaf[k]
    assert _spec(leaf.sharding) == spec, path
    # Really split: each device holds 1/2 of a model-sharded dimension.
    if 'model' in spec:
      dim = spec.index('model')
      shard = leaf.addressable_shards[0].data.shape
      assert shard[dim] * 2 == leaf.shape[dim], path


def test_one_step_on_8_devices_equals_one_device():
  # SGD keeps the update linear in the gradient, so equal parameters mean
  # equal gradients; Adam's m/sqrt(v) would magnify rounding noise of
  # near-zero gradients into visible differences.
  batch = random_batch(batch_size=8)
  tx = optax.sgd(0.5)
  _, s0, s1, m1 = one_step(tiny_model(), tx, _single_device(), batch)
  moved = [float(np.abs(np.asarray(a) - np.asarray(b)).max())
           for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s1.params))]
  assert min(moved) > 0, 'every parameter must be updated by the step'

  p8 = partitioning.Partitioner(num_partitions=2, devices=jax.devices()[:8])
  _, _, s8, m8 = one_step(tiny_model(), tx, p8, batch)
  np.testing.assert_allclose(float(m8['loss']), float(m1['loss']), rtol=1e-5)
  flat1 = jax.tree_util.tree_leaves_with_path(s1.params)
  flat8 = jax.tree.leaves(s8.params)
  for (path, a), b in zip(flat1, flat8):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7,
                               err_msg=jax.tree_util.keystr(path))
  # The step really ran sharded: the batch was split over 'data'.
  assert len(s8.params['decoder']['logits_dense']['kernel'].sharding
             .device_set) == 8


def test_bad_partitions_are_named():
  with pytest.raises(ValueError, match='num_partitions=3'):
    partitioning.Partitioner(num_partitions=3, devices=jax.devices()[:8])
