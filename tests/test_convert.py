"""Checkpoint interop: HF export/import (T5, Llama), T5X legacy, convert CLI."""

import json
import os
import re
import shutil
import subprocess
import sys

import flax
from flax import traverse_util
import jax
import ml_dtypes
import numpy as np
import pytest
import seqio

from instruct import checkpoint_formats as formats
from instruct import checkpoints
from instruct import convert
from instruct.errors import UserError
from instruct.models import hf_llama
from instruct.models import hf_t5
from instruct.models import llama
from instruct.models import t5
from tests.conftest import REPO_ROOT, single_process_env

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

# The sizes of gin_configs/models/t5_1_1/tiny.gin and models/llama/tiny.gin.
T5_TINY = t5.T5Config(vocab_size=384, emb_dim=64, num_heads=4,
                      num_encoder_layers=2, num_decoder_layers=2, head_dim=16,
                      mlp_dim=256, dropout_rate=0.0)
LLAMA_TINY = llama.LlamaConfig(vocab_size=384, emb_dim=64, num_heads=4,
                               num_kv_heads=2, head_dim=16, num_layers=2,
                               mlp_dim=192)


def _random_params(shapes, seed=0):
  rng = np.random.default_rng(seed)
  flat = {p: rng.normal(0, 0.3, s).astype(np.float32)
          for p, s in shapes.items()}
  return traverse_util.unflatten_dict(flat)


def _assert_trees_equal(a, b):
  fa, fb = formats.flatten(a), formats.flatten(b)
  assert set(fa) == set(fb)
  for p in fa:
    x, y = np.asarray(fa[p]), np.asarray(fb[p])
    assert x.dtype == y.dtype and x.shape == y.shape, p
    assert x.tobytes() == y.tobytes(), p  # Bit-identical.


# -----------------------------------------------------------------------------
# Hugging Face.
# -----------------------------------------------------------------------------
def test_t5_to_hf_and_back_bit_identical_and_same_logits(tmp_path):
  params = _random_params(hf_t5.expected_shapes(T5_TINY))
  files = formats.save_hf(params, T5_TINY, str(tmp_path),
                          vocabulary=seqio.ByteVocabulary())
  assert {'model.safetensors', 'config.json',
          'tokenizer_config.json'} <= set(files)
  back = formats.load_hf(str(tmp_path))
  assert back.architecture == 't5' and back.config == T5_TINY
  _assert_trees_equal(back.params, params)

  hf = transformers.T5ForConditionalGeneration.from_pretrained(str(tmp_path))
  hf.eval()
  rng = np.random.default_rng(1)
  enc = rng.integers(3, 384, (2, 9))
  dec_tgt = rng.integers(3, 384, (2, 6))
  dec_in = np.concatenate([np.zeros((2, 1), int), dec_tgt[:, :-1]], axis=1)
  ours = t5.Transformer(T5_TINY).apply(
      {'params': params}, enc, dec_in, dec_tgt, enable_dropout=False)
  with torch.no_grad():
    ref = hf(input_ids=torch.tensor(enc), decoder_input_ids=torch.tensor(
        dec_in)).logits.numpy()
  assert np.abs(np.asarray(ours) - ref).max() <= 1e-4
  # The ByT5 tokenizer transformers builds from our files matches SeqIO's.
  tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
  text = 'héllo, wörld'
  assert tok(text)['input_ids'] == seqio.ByteVocabulary().encode(text) + [1]


def test_llama_to_hf_and_back_bit_identical_and_same_logits(tmp_path):
  params = _random_params(hf_llama.expected_shapes(LLAMA_TINY), seed=2)
  formats.save_hf(params, LLAMA_TINY, str(tmp_path), max_shard_bytes=60_000)
  # Sharded: several files plus an index naming every tensor.
  index = json.loads((tmp_path / 'model.safetensors.index.json').read_text())
  assert len(set(index['weight_map'].values())) > 1
  back = formats.load_hf(str(tmp_path))
  assert back.architecture == 'llama' and back.config == LLAMA_TINY
  _assert_trees_equal(back.params, params)

  hf = transformers.LlamaForCausalLM.from_pretrained(str(tmp_path))
  hf.eval()
  tokens = np.random.default_rng(3).integers(1, 384, (2, 12))
  ours = llama.LlamaTransformer(LLAMA_TINY).apply(
      {'params': params}, tokens, enable_dropout=False)
  with torch.no_grad():
    ref = hf(input_ids=torch.tensor(tokens)).logits.numpy()
  assert np.abs(np.asarray(ours) - ref).max() <= 1e-4


def test_hf_import_refuses_bad_checkpoints(tmp_path):
  from safetensors import numpy as st_numpy
  params = _random_params(hf_llama.expected_shapes(LLAMA_TINY))
  formats.save_hf(params, LLAMA_TINY, str(tmp_path))
  st = str(tmp_path / 'model.safetensors')
  tensors = st_numpy.load_file(st)
  # Missing tensor: named, with the expected shape.
  st_numpy.save_file({k: v for k, v in tensors.items()
                      if k != 'model.layers.1.mlp.up_proj.weight'}, st)
  with pytest.raises(UserError, match=r"'model.layers.1.mlp.up_proj.weight' "
                     r'is missing \(expected shape \(192, 64\)'):
    formats.load_hf(str(tmp_path))
  # Unknown tensor.
  st_numpy.save_file({**tensors, 'model.layers.2.extra.weight':
                      np.zeros(3, np.float32)}, st)
  with pytest.raises(UserError, match="unknown tensor 'model.layers.2.extra"):
    formats.load_hf(str(tmp_path))
  # Wrong shape.
  bad = dict(tensors)
  bad['model.norm.weight'] = np.zeros(65, np.float32)
  st_numpy.save_file(bad, st)
  with pytest.raises(UserError, match=r"'model.norm.weight' has shape "
                     r'\(65,\); expected \(64,\)'):
    formats.load_hf(str(tmp_path))
  # Corrupt file: named.
  with open(st, 'wb') as f:
    f.write(b'\x10\x00\x00\x00\x00\x00\x00\x00garbage')
  with pytest.raises(UserError, match='model.safetensors is not a readable'):
    formats.load_hf(str(tmp_path))


# -----------------------------------------------------------------------------
# T5X legacy (msgpack + TensorStore).
# -----------------------------------------------------------------------------
def _write_t5x_by_hand(ckpt_dir, state):
  """Writes T5X's legacy layout directly with tensorstore + msgpack."""
  import tensorstore as ts
  os.makedirs(ckpt_dir)
  flat = traverse_util.flatten_dict(state)
  out = {}
  for path, arr in flat.items():
    if arr.ndim == 0:
      out[path] = arr
      continue
    name = '.'.join(path)
    dtype = 'bfloat16' if arr.dtype == ml_dtypes.bfloat16 else arr.dtype.name
    spec = {'driver': 'zarr', 'dtype': dtype,
            'kvstore': {'driver': 'file', 'path': name},
            'metadata': {'compressor': {'id': 'gzip'},
                         'shape': list(arr.shape), 'chunks': list(arr.shape)}}
    absolute = json.loads(json.dumps(spec))
    absolute['kvstore']['path'] = os.path.join(ckpt_dir, name)
    ts.open(absolute, create=True).result().write(arr).result()
    out[path] = spec
  with open(os.path.join(ckpt_dir, 'checkpoint'), 'wb') as f:
    f.write(flax.serialization.msgpack_serialize(
        {'version': 3, 'optimizer': traverse_util.unflatten_dict(out)}))


def _t5x_state():
  params = _random_params(hf_t5.expected_shapes(T5_TINY), seed=4)
  params['encoder']['encoder_norm']['scale'] = (
      params['encoder']['encoder_norm']['scale'].astype(ml_dtypes.bfloat16))
  rng = np.random.default_rng(5)
  param_states = {'encoder': {'layers_0': {'mlp': {'wo': {'kernel': {
      'v_row': rng.random(256, np.float32),
      'v_col': rng.random(64, np.float32),
      'v': np.zeros((1,), np.float32)}}}}}}
  return {'target': params,
          'state': {'step': np.int32(1100), 'param_states': param_states}}


def test_t5x_legacy_round_trip_is_bit_identical(tmp_path, capsys):
  state = _t5x_state()
  src = str(tmp_path / 'flan' / 'checkpoint_1100')
  _write_t5x_by_hand(src, state)
  assert formats.detect_format(str(tmp_path / 'flan')) == ('t5x', src)
  _assert_trees_equal(formats.load_t5x_legacy(src), state)

  assert convert.main(['--from', 't5x', '--to', 'ours', src,
                       str(tmp_path / 'ours')]) is None
  printed = capsys.readouterr().out
  assert re.search(r'encoder/layers_0/attention/query/kernel +-> encoder/'
                   r'layers_0/attention/query/kernel  \(64, 64\)  float32',
                   printed)
  ours = checkpoints.load_numpy_tree(str(tmp_path / 'ours' / 'checkpoint_1100'))
  _assert_trees_equal(ours, state)

  back = str(tmp_path / 'back' / 'checkpoint_1100')
  convert.main(['--from', 'ours', '--to', 't5x', str(tmp_path / 'ours'), back])
  _assert_trees_equal(formats.load_t5x_legacy(back), state)
  # The msgpack file itself describes the same arrays in the same places.
  read = lambda d: flax.serialization.msgpack_restore(
      open(os.path.join(d, 'checkpoint'), 'rb').read())
  a, b = read(src), read(back)
  assert a['version'] == b['version'] == 3
  fa = traverse_util.flatten_dict(a['optimizer'], is_leaf=lambda _, v: (
      isinstance(v, dict) and 'driver' in v))
  fb = traverse_util.flatten_dict(b['optimizer'], is_leaf=lambda _, v: (
      isinstance(v, dict) and 'driver' in v))
  assert set(fa) == set(fb)
  for k in fa:
    if isinstance(fa[k], dict):
      assert fa[k]['kvstore'] == fb[k]['kvstore'] and (
          fa[k]['dtype'] == fb[k]['dtype'])


def test_restore_params_from_foreign_formats(tmp_path):
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  state = _t5x_state()
  _write_t5x_by_hand(str(tmp_path / 'legacy'), state)
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, np.float32, sharding=sharding),
      state['target'])
  got, step = formats.restore_params_and_step(str(tmp_path / 'legacy'),
                                              abstract)
  assert step == 1100
  np.testing.assert_array_equal(
      got['encoder']['layers_1']['mlp']['wo']['kernel'],
      state['target']['encoder']['layers_1']['mlp']['wo']['kernel'])
  assert got['encoder']['encoder_norm']['scale'].dtype == np.float32

  params = _random_params(hf_llama.expected_shapes(LLAMA_TINY))
  formats.save_hf(params, LLAMA_TINY, str(tmp_path / 'hf'))
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      params)
  got, step = formats.restore_params_and_step(str(tmp_path / 'hf'),
                                              abstract)
  assert step == 0
  _assert_trees_equal(jax.tree.map(np.asarray, got), params)
  # Another size: refused, naming the parameter and both shapes.
  small = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape[:-1] + (x.shape[-1] + 1,),
                                     x.dtype), params)
  with pytest.raises(UserError, match=r'decoder/decoder_norm/scale has shape '
                     r'\(64,\); the model gin file expects \(65,\)'):
    formats.restore_params_and_step(str(tmp_path / 'hf'), small)


def test_corrupt_t5x_files_are_named(tmp_path):
  state = _t5x_state()
  ckpt = str(tmp_path / 'checkpoint_1')
  _write_t5x_by_hand(ckpt, state)
  folder = os.path.join(ckpt, 'decoder.decoder_norm.scale'.join(
      ['target.', '']))
  shutil.rmtree(folder)
  with pytest.raises(UserError, match="cannot read array 'target.decoder."
                     "decoder_norm.scale'"):
    formats.load_t5x_legacy(ckpt)
  with open(os.path.join(ckpt, 'checkpoint'), 'wb') as f:
    f.write(b'\xc1\xc1 not msgpack')
  with pytest.raises(UserError, match='checkpoint is not a readable T5X'):
    formats.load_t5x_legacy(ckpt)


# -----------------------------------------------------------------------------
# The CLI.
# -----------------------------------------------------------------------------
def test_cli_ours_to_hf_with_gin_prints_mapping_and_refuses_mismatches(
    tmp_path, capsys):
  params = _random_params(hf_t5.expected_shapes(T5_TINY), seed=6)
  formats.save_orbax({'target': params, 'state': {'step': np.int32(7)}},
                     str(tmp_path / 'run'), 7)
  gin = ['--gin_file=models/t5_1_1/tiny.gin',
         '--gin_file=models/vocab/byte.gin']
  assert gin_utils_run(['--from', 'ours', '--to', 'hf', str(tmp_path / 'run'),
                        str(tmp_path / 'hf')] + gin) == 0
  out = capsys.readouterr().out
  assert 'step 7' in out and 'decoder/logits_dense/kernel' in out
  assert 'tokenizer_config.json' in out
  back = formats.load_hf(str(tmp_path / 'hf'))
  _assert_trees_equal(back.params, params)

  # HF -> ours prints HF names against our paths, with the transpose.
  convert.main(['--from', 'hf', '--to', 'ours', str(tmp_path / 'hf'),
                str(tmp_path / 'ours2')])
  out = capsys.readouterr().out
  assert re.search(r'encoder.block.0.layer.0.SelfAttention.q.weight +-> '
                   r'encoder/layers_0/attention/query/kernel  \(64, 64\)  '
                   r'float32->float32  \(transposed\)', out)

  # Another architecture; another size.
  def error_of(args):
    assert gin_utils_run(args) == 2
    return capsys.readouterr().err.strip()
  err = error_of(['--from', 'hf', '--to', 'ours', str(tmp_path / 'hf'),
                  str(tmp_path / 'x'), '--gin_file=models/llama/tiny.gin'])
  assert err == (f'error: {tmp_path}/hf is a t5 checkpoint; the model is '
                 'llama.')
  err = error_of(['--from', 'ours', '--to', 'hf', str(tmp_path / 'run'),
                  str(tmp_path / 'y'), '--gin.network.T5Config.mlp_dim=128']
                 + gin)
  assert 'encoder/layers_0/mlp/wi_0/kernel has shape (64, 256)' in err
  assert 'expects (64, 128)' in err
  err = error_of(['--from', 'gguf', '--to', 'hf', str(tmp_path / 'hf'),
                  str(tmp_path / 'z')])
  assert 'looks like a hf checkpoint, not --from=gguf' in err


def gin_utils_run(args):
  from instruct import gin_utils
  import gin
  gin.clear_config()
  try:
    return gin_utils.run_main(convert.main, args)
  finally:
    gin.clear_config()


@pytest.mark.e2e
def test_cli_corrupt_gguf_exits_2_naming_the_file(tmp_path):
  bad = tmp_path / 'broken.gguf'
  bad.write_bytes(b'GGUF\x03\x00\x00\x00' + b'\xff' * 40)
  proc = subprocess.run(
      [sys.executable, '-m', 'instruct.convert', '--from', 'gguf', '--to',
       'ours', str(bad), str(tmp_path / 'out')], cwd=REPO_ROOT,
      env=single_process_env(), capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith(f'error: {bad} is not a readable GGUF file'), last
