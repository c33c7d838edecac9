"""The family registry, the checkpoint resolver and the import direction."""

import ast
import os

from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import REPO_ROOT
from instruct import checkpoint_formats as formats
from instruct import checkpoints
from instruct.errors import UserError
from instruct.models import families
from instruct.models import llama
from instruct.models import t5

T5_TINY = t5.T5Config(vocab_size=384, emb_dim=64, num_heads=4,
                      num_encoder_layers=2, num_decoder_layers=2, head_dim=16,
                      mlp_dim=256, dropout_rate=0.0)
LLAMA_TINY = llama.LlamaConfig(vocab_size=384, emb_dim=64, num_heads=4,
                               num_kv_heads=2, head_dim=16, num_layers=2,
                               mlp_dim=192)


def _imports(module_path):
  """Names of the instruct modules a source file imports (any scope)."""
  with open(os.path.join(REPO_ROOT, module_path), encoding='utf-8') as f:
    tree = ast.parse(f.read())
  out = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      out.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      out.update(f'{node.module}.{a.name}' for a in node.names)
  return out


def _zeros(shapes):
  return traverse_util.unflatten_dict(
      {p: np.zeros(s, np.float32) for p, s in shapes.items()})


# -----------------------------------------------------------------------------
# Registry.
# -----------------------------------------------------------------------------
def test_every_family_is_found_from_config_hf_json_and_params():
  for config in (T5_TINY, LLAMA_TINY):
    family = families.for_config(config)
    assert formats.config_kind(config) == family.name
    assert isinstance(config, family.config_cls)
    raw = family.hf_config_dict(config)
    assert families.for_hf_config(raw) is family
    # Without model_type, `architectures` decides.
    assert families.for_hf_config(
        {'architectures': raw['architectures']}) is family
    params = _zeros(family.expected_shapes(config))
    assert families.for_params(params) is family
    assert formats.architecture_of(params) == family.name
  # A tree with none of the families' layouts has no family.
  assert families.for_params({'dense': {'kernel': np.zeros((2, 2))}}) is None


def test_unknown_configs_and_model_types_are_user_errors():
  with pytest.raises(UserError, match="model_type 'bert' is not supported; "
                     "expected one of 't5'"):
    families.for_hf_config({'model_type': 'bert'}, 'x/config.json')
  with pytest.raises(UserError, match='Unsupported model config dict'):
    families.for_config({})
  with pytest.raises(ValueError, match='already registered'):
    families.register(families.get('t5'))


def test_config_from_params_reads_t5_and_asks_llama_for_its_gin_file():
  params = _zeros(families.get('t5').expected_shapes(T5_TINY))
  assert formats.config_from_params(params) == T5_TINY
  with pytest.raises(UserError, match='llama parameter tree .* gin file'):
    formats.config_from_params(_zeros(
        families.get('llama').expected_shapes(LLAMA_TINY)))


def test_checkpoint_formats_names_no_family_and_checkpoints_not_formats():
  src = open(os.path.join(REPO_ROOT, 'instruct', 'checkpoint_formats.py'),
             encoding='utf-8').read()
  for name in ('hf_t5', 'hf_llama', "'t5'", "'llama'", 'T5Config',
               'LlamaConfig'):
    assert name not in src, name
  assert not any('checkpoint_formats' in m
                 for m in _imports('instruct/checkpoints.py'))
  assert not any(m.endswith('.t5') or m == 'instruct.models.t5'
                 for m in _imports('instruct/models/llama.py'))


# -----------------------------------------------------------------------------
# Resolver.
# -----------------------------------------------------------------------------
def _save_orbax(model_dir, step):
  params = {'w': jnp.ones((2,))}
  mgr = checkpoints.CheckpointManager(str(model_dir), save_dataset=False,
                                      async_save=False)
  mgr.save(step, checkpoints.t5x_state(params, optax.sgd(0.1).init(params),
                                       jnp.int32(step)))
  mgr.wait_until_finished()
  mgr.close()


def test_resolver_lists_every_step_and_tells_formats_apart(tmp_path):
  run = tmp_path / 'run'
  for step in (20, 5, 100):
    _save_orbax(run, step)
  # A T5X msgpack checkpoint_<step> next to ours counts as one more step.
  legacy = run / 'checkpoint_50'
  legacy.mkdir()
  (legacy / 'checkpoint').write_bytes(b'')
  listed = formats.list_checkpoints(str(run))
  assert [(c.format, c.step) for c in listed] == [
      ('orbax', 5), ('orbax', 20), ('t5x', 50), ('orbax', 100)]
  latest = formats.resolve(str(run))
  assert latest == formats.Resolved('orbax', str(run / 'checkpoint_100'), 100)
  assert formats.list_checkpoints(str(run / 'checkpoint_20')) == [
      formats.Resolved('orbax', str(run / 'checkpoint_20'), 20)]
  assert formats.resolve(str(legacy / 'checkpoint')) == formats.Resolved(
      't5x', str(legacy), 50)
  assert formats.detect_format(str(run)) == ('orbax',
                                             str(run / 'checkpoint_100'))

  hf = tmp_path / 'hf'
  hf.mkdir()
  (hf / 'config.json').write_text('{}')
  assert formats.list_checkpoints(str(hf)) == [
      formats.Resolved('hf', str(hf), None)]
  gguf = tmp_path / 'm.gguf'
  gguf.write_bytes(b'GGUF')
  assert formats.resolve(str(gguf)).format == 'gguf'

  with pytest.raises(UserError, match='does not exist'):
    formats.resolve(str(tmp_path / 'nope'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(UserError, match='is not a checkpoint'):
    formats.list_checkpoints(str(tmp_path / 'empty'))


def test_any_format_restore_reads_ours_and_orbax_restore_refuses_hf(tmp_path):
  _save_orbax(tmp_path / 'run', 7)
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  abstract = {'w': jax.ShapeDtypeStruct((2,), np.float32, sharding=sharding)}
  got, step = formats.restore_params_and_step(str(tmp_path / 'run'), abstract)
  assert step == 7
  np.testing.assert_array_equal(got['w'], np.ones(2))
  hf = tmp_path / 'hf'
  hf.mkdir()
  (hf / 'config.json').write_text('{}')
  with pytest.raises(UserError, match='read by instruct.checkpoint_formats'):
    checkpoints.restore_params_and_step(str(hf), abstract)
