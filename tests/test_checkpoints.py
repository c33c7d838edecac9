"""Checkpoint layout and restore order helpers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow as tf

from instruct import checkpoints
from instruct.errors import UserError


def _save(tmp_path, step=3):
  params = {'encoder': {'kernel': jnp.arange(12.0).reshape(4, 3)},
            'scale': jnp.ones((3,))}
  opt = optax.adamw(1e-3).init(params)
  ds = tf.data.Dataset.range(50)
  it = iter(ds)
  for _ in range(7):
    next(it)
  mgr = checkpoints.CheckpointManager(str(tmp_path), keep=2)
  mgr.save(step, checkpoints.t5x_state(params, opt, jnp.int32(step)), it)
  mgr.wait_until_finished()
  return mgr, params, opt


def test_t5x_layout_and_numpy_load(tmp_path):
  mgr, params, _ = _save(tmp_path)
  ckpt = tmp_path / 'checkpoint_3'
  assert (ckpt / '_CHECKPOINT_METADATA').exists()
  assert (ckpt / 'state' / 'manifest.ocdbt').exists()
  assert list((ckpt / 'dataset').glob('train_ds-000-of-001*'))
  tree = checkpoints.load_numpy_tree(str(ckpt))
  assert set(tree) == {'target', 'state'}
  assert set(tree['state']) == {'step', 'param_states'}
  assert int(tree['state']['step']) == 3
  np.testing.assert_array_equal(tree['target']['encoder']['kernel'],
                                np.asarray(params['encoder']['kernel']))
  mgr.close()


def test_restore_params_and_step_and_dataset_position(tmp_path):
  mgr, params, opt = _save(tmp_path)
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      params)
  got, step = checkpoints.restore_params_and_step(str(tmp_path), abstract)
  assert step == 3
  np.testing.assert_array_equal(got['scale'], params['scale'])
  # The data iterator resumes exactly where it was saved (after 7 elements).
  it = iter(tf.data.Dataset.range(50))
  full_abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      checkpoints.t5x_state(params, opt, jnp.int32(3)))
  mgr.restore(3, full_abstract, iterator=it)
  assert int(next(it)) == 7
  mgr.close()


def test_unreadable_checkpoint_paths_name_the_path(tmp_path):
  with pytest.raises(UserError, match='does not exist'):
    checkpoints.find_checkpoint_dir(str(tmp_path / 'nope'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(UserError, match='is not a checkpoint'):
    checkpoints.find_checkpoint_dir(str(tmp_path / 'empty'))


def test_relative_model_dir_works(tmp_path, monkeypatch):
  # Orbax needs absolute paths; MODEL_DIR='demo_output/x' must still work.
  monkeypatch.chdir(tmp_path)
  mgr, params, _ = _save('relative/run')
  assert (tmp_path / 'relative' / 'run' / 'checkpoint_3' / 'state').exists()
  assert checkpoints.find_checkpoint_dir('relative/run').name == 'checkpoint_3'
  tree = checkpoints.load_numpy_tree('relative/run/checkpoint_3')
  np.testing.assert_array_equal(tree['target']['scale'], np.ones(3))
  mgr.close()


def test_manager_saves_and_restores_a_train_state_in_t5x_layout(tmp_path):
  from instruct import trainer  # pylint: disable=g-import-not-at-top
  params = {'encoder': {'kernel': jnp.arange(12.0).reshape(4, 3)}}
  state = trainer.TrainState(step=jnp.int32(4), params=params,
                             opt_state=optax.sgd(0.1, momentum=0.9).init(
                                 params))
  it = iter(tf.data.Dataset.range(50))
  next(it)
  mgr = checkpoints.CheckpointManager(str(tmp_path), async_save=False)
  mgr.save_state(4, state, it)
  tree = checkpoints.load_numpy_tree(str(tmp_path / 'checkpoint_4'))
  assert set(tree) == {'target', 'state'}  # T5X's layout on disk
  assert set(tree['state']) == {'step', 'param_states'}
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      state)
  it = iter(tf.data.Dataset.range(50))
  got = mgr.restore_state(4, abstract, iterator=it)
  assert isinstance(got, trainer.TrainState) and int(got.step) == 4
  np.testing.assert_array_equal(got.params['encoder']['kernel'],
                                params['encoder']['kernel'])
  assert (jax.tree.structure(got.opt_state) ==
          jax.tree.structure(state.opt_state))
  assert int(next(it)) == 1
  mgr.close()
