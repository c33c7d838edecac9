"""Checkpoints of other tools: detection, import and export.

Formats (names as `python -m instruct.convert` spells them):

  * `ours` / T5X-Orbax: `checkpoint_<step>/state/` (instruct/checkpoints.py).
  * `t5x` legacy: `checkpoint_<step>/checkpoint`, a msgpack file holding
    `{'version': 3, 'optimizer': {'target': ..., 'state': {...}}}` in which
    every array of rank >= 1 is replaced by a TensorStore spec (a dict with
    'driver', 'kvstore', 'metadata') pointing at a zarr array in a folder
    named by the dotted parameter path, relative to the checkpoint directory,
    e.g. `target.encoder.layers_0.attention.query.kernel/`. Scalars (the
    step) are stored inline. Format version 2 wrote bfloat16 as uint16.
  * `hf`: a Hugging Face model directory, `config.json` plus
    `model.safetensors` or shards listed in `model.safetensors.index.json`.
  * `gguf`: a llama.cpp file (instruct/models/gguf.py).

Every reader returns host numpy arrays in our parameter tree and a list of
`MappingEntry` saying which source tensor became which parameter; every
mismatch (missing, unknown or misshapen tensor, unreadable file) is a
`UserError` naming the tensor or file and what was expected.
"""

import dataclasses
import json
import os
import re
import shutil
from typing import Any, Dict, List, Mapping, Optional, Tuple

import flax
from flax import traverse_util
import ml_dtypes
import numpy as np

from instruct import checkpoints
from instruct.errors import UserError
from instruct.models.gguf import MappingEntry

Path = Tuple[str, ...]
T5X_LEGACY_VERSION = 3
_TS_CHUNK_BYTES = 64 * 1024 * 1024  # T5X's target chunk size.
DEFAULT_MAX_SHARD_BYTES = 2 * 1024 ** 3


@dataclasses.dataclass
class Imported:
  """A checkpoint read into our layout (host numpy arrays)."""
  params: Dict[str, Any]
  step: int
  format: str                     # 'orbax' | 't5x' | 'hf' | 'gguf'
  architecture: Optional[str]     # 't5' | 'llama' | None (tree-only formats)
  config: Any = None              # T5Config / LlamaConfig when recorded
  mapping: List[MappingEntry] = dataclasses.field(default_factory=list)
  state: Any = None               # the whole T5X state tree, when there is one
  tokenizer_json: Optional[str] = None
  tokenizer_meta: Dict[str, Any] = dataclasses.field(default_factory=dict)
  source_dir: Optional[str] = None


# -----------------------------------------------------------------------------
# Detection.
# -----------------------------------------------------------------------------
_STEP_DIR = re.compile(r'^checkpoint_(\d+)$')


def _latest_step_dir(path: str, marker: str) -> Optional[str]:
  steps = []
  for name in os.listdir(path):
    m = _STEP_DIR.match(name)
    if m and os.path.exists(os.path.join(path, name, marker)):
      steps.append((int(m.group(1)), os.path.join(path, name)))
  return max(steps)[1] if steps else None


def detect_format(path: str) -> Tuple[str, str]:
  """(format, resolved path) of a checkpoint path.

  A model directory resolves to its latest `checkpoint_<step>`; a T5X legacy
  checkpoint may be named by its directory or its `checkpoint` file.
  """
  path = os.fspath(path)
  if '://' in path:  # Remote: only our Orbax layout is read there.
    return 'orbax', path
  if not os.path.exists(path):
    raise UserError(f'Checkpoint path {path} does not exist.')
  if os.path.isfile(path):
    with open(path, 'rb') as f:
      magic = f.read(4)
    if magic == b'GGUF' or path.endswith('.gguf'):
      return 'gguf', path
    if os.path.basename(path) == 'checkpoint':
      return 't5x', os.path.dirname(os.path.abspath(path))
    raise UserError(f'{path} is not a checkpoint file: expected a .gguf file '
                    'or a T5X `checkpoint` msgpack file.')
  if os.path.exists(os.path.join(path, 'config.json')):
    return 'hf', path
  if os.path.isfile(os.path.join(path, 'checkpoint')):
    return 't5x', path
  if os.path.isdir(os.path.join(path, 'state')):
    return 'orbax', path
  orbax = _latest_step_dir(path, 'state')
  legacy = _latest_step_dir(path, 'checkpoint')
  if orbax or legacy:
    best = max([p for p in (orbax, legacy) if p],
               key=lambda p: int(_STEP_DIR.match(os.path.basename(p))[1]))
    return ('orbax' if best == orbax else 't5x'), best
  raise UserError(
      f'{path} is not a checkpoint: expected a checkpoint_<step>/ directory '
      '(T5X Orbax or msgpack+TensorStore), a model directory containing one, '
      'a Hugging Face directory with config.json, or a .gguf file.')


# -----------------------------------------------------------------------------
# Trees.
# -----------------------------------------------------------------------------
def flatten(tree: Mapping[str, Any]) -> Dict[Path, Any]:
  return traverse_util.flatten_dict(flax.core.unfreeze(tree))


def architecture_of(params: Mapping[str, Any]) -> Optional[str]:
  """'t5' (has an encoder), 'llama' (decoder only) or None."""
  if 'encoder' in params and 'decoder' in params:
    return 't5'
  if 'decoder' in params and 'token_embedder' in params:
    return 'llama'
  return None


def config_kind(config: Any) -> str:
  from instruct.models import llama, t5  # pylint: disable=g-import-not-at-top
  if isinstance(config, t5.T5Config):
    return 't5'
  if isinstance(config, llama.LlamaConfig):
    return 'llama'
  raise UserError(f'Unsupported model config {type(config).__name__}; '
                  'expected T5Config or LlamaConfig.')


def expected_shapes(config: Any) -> Dict[Path, Tuple[int, ...]]:
  from instruct.models import hf_llama, hf_t5  # pylint: disable=g-import-not-at-top
  if config_kind(config) == 't5':
    return hf_t5.expected_shapes(config)
  return hf_llama.expected_shapes(config)


def name_table(config: Any) -> List[Tuple[Path, str, bool]]:
  from instruct.models import hf_llama, hf_t5  # pylint: disable=g-import-not-at-top
  mod = hf_t5 if config_kind(config) == 't5' else hf_llama
  return mod.name_table(config)


def check_params(params: Mapping[str, Any],
                 expected: Mapping[Path, Tuple[int, ...]], source: str,
                 what: str = 'the model') -> None:
  """Refuses missing, unknown or misshapen parameters, naming the first."""
  got = flatten(params)
  missing = [p for p in expected if p not in got]
  if missing:
    p = missing[0]
    raise UserError(f'{source}: parameter {"/".join(p)} is missing (expected '
                    f'shape {tuple(expected[p])} for {what}); {len(missing)} '
                    'missing in all. Is it a checkpoint of another '
                    'architecture?')
  unknown = [p for p in got if p not in expected]
  if unknown:
    p = unknown[0]
    raise UserError(f'{source}: unknown parameter {"/".join(p)} (shape '
                    f'{np.shape(got[p])}) for {what}; {len(unknown)} unknown '
                    'in all. Is it a checkpoint of another architecture?')
  for p, shape in expected.items():
    if tuple(np.shape(got[p])) != tuple(shape):
      raise UserError(f'{source}: parameter {"/".join(p)} has shape '
                      f'{tuple(np.shape(got[p]))}; {what} expects '
                      f'{tuple(shape)}. Is it a checkpoint of another size?')


def infer_t5_config(params: Mapping[str, Any], **overrides):
  """A `T5Config` read off a T5 parameter tree's shapes.

  The number of heads comes from the relative-position table; the MLP is
  taken to be T5 v1.1's gated GELU when there are `wi_0`/`wi_1` kernels.
  """
  from instruct.models import t5  # pylint: disable=g-import-not-at-top
  flat = flatten(params)
  count = lambda stack: len({p[1] for p in flat
                             if p[0] == stack and p[1].startswith('layers_')})
  vocab, emb = flat[('token_embedder', 'embedding')].shape
  heads, buckets = flat[('encoder', 'relpos_bias', 'rel_embedding')].shape
  joined = flat[('encoder', 'layers_0', 'attention', 'query', 'kernel')].shape[1]
  gated = ('encoder', 'layers_0', 'mlp', 'wi_0', 'kernel') in flat
  wi = ('wi_0' if gated else 'wi')
  mlp = flat[('encoder', 'layers_0', 'mlp', wi, 'kernel')].shape[1]
  fields = dict(vocab_size=vocab, emb_dim=emb, num_heads=heads,
                num_encoder_layers=count('encoder'),
                num_decoder_layers=count('decoder'), head_dim=joined // heads,
                mlp_dim=mlp,
                mlp_activations=('gelu', 'linear') if gated else ('relu',),
                logits_via_embedding=(
                    ('decoder', 'logits_dense', 'kernel') not in flat),
                relative_attention_num_buckets=buckets, dropout_rate=0.0)
  fields.update(overrides)
  return t5.T5Config(**fields)


def _identity_mapping(tree: Mapping[str, Any]) -> List[MappingEntry]:
  return [MappingEntry('/'.join(p), p, tuple(np.shape(v)),
                       str(np.asarray(v).dtype))
          for p, v in flatten(tree).items()]


# -----------------------------------------------------------------------------
# T5X legacy: msgpack + TensorStore.
# -----------------------------------------------------------------------------
def _is_ts_spec(node: Any) -> bool:
  return isinstance(node, dict) and 'driver' in node and 'kvstore' in node


def _chunks(shape: Tuple[int, ...], itemsize: int) -> List[int]:
  chunks = list(shape)
  while chunks and np.prod(chunks) * itemsize > _TS_CHUNK_BYTES:
    i = int(np.argmax(chunks))
    chunks[i] = (chunks[i] + 1) // 2
  return chunks


def _ts_dtype(dtype: np.dtype) -> str:
  return 'bfloat16' if dtype == ml_dtypes.bfloat16 else np.dtype(dtype).name


def save_t5x_legacy(state: Mapping[str, Any], ckpt_dir: str) -> None:
  """Writes a state tree ({'target', 'state'}) as a T5X legacy checkpoint."""
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  os.makedirs(ckpt_dir, exist_ok=True)
  flat = traverse_util.flatten_dict(flax.core.unfreeze(state),
                                    keep_empty_nodes=True)
  written = {}
  for path, value in flat.items():
    if isinstance(value, traverse_util._EmptyNode) or value is None:  # pylint: disable=protected-access
      written[path] = value
      continue
    arr = np.asarray(value)
    if arr.ndim == 0:
      written[path] = arr
      continue
    name = '.'.join(path)
    spec = {'driver': 'zarr', 'dtype': _ts_dtype(arr.dtype),
            'kvstore': {'driver': 'file', 'path': name},
            'metadata': {'compressor': {'id': 'gzip'}, 'shape': list(arr.shape),
                         'chunks': _chunks(arr.shape, arr.dtype.itemsize)}}
    absolute = json.loads(json.dumps(spec))
    absolute['kvstore']['path'] = os.path.join(ckpt_dir, name)
    store = ts.open(absolute, create=True, delete_existing=True).result()
    store.write(arr).result()
    written[path] = spec
  tree = traverse_util.unflatten_dict(written)
  data = flax.serialization.msgpack_serialize(
      {'version': T5X_LEGACY_VERSION, 'optimizer': tree})
  with open(os.path.join(ckpt_dir, 'checkpoint'), 'wb') as f:
    f.write(data)


def _read_ts(spec: Dict[str, Any], ckpt_dir: str, version: int,
             name: str) -> np.ndarray:
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  spec = json.loads(json.dumps(spec))
  kvstore = spec.setdefault('kvstore', {})
  rel = kvstore.pop('path', None) or spec.pop('path', None) or name
  spec['kvstore'] = {'driver': 'file', 'path': os.path.join(ckpt_dir, rel)}
  spec.pop('metadata', None)  # Read what is there; the shape is checked later.
  try:
    arr = ts.open(spec, open=True, read=True).result().read().result()
  except Exception as e:  # tensorstore raises ValueError with long details.
    raise UserError(f'T5X checkpoint {ckpt_dir}: cannot read array {name!r} '
                    f'from {os.path.join(ckpt_dir, rel)}: '
                    f'{str(e).splitlines()[0][:200]}') from e
  arr = np.asarray(arr)
  if version < 3 and arr.dtype == np.uint16:
    arr = arr.view(ml_dtypes.bfloat16)  # Version 2 stored bfloat16 as uint16.
  return arr


def load_t5x_legacy(ckpt_dir: str) -> Dict[str, Any]:
  """The whole state tree of a T5X legacy checkpoint, as numpy arrays."""
  path = os.path.join(ckpt_dir, 'checkpoint')
  try:
    with open(path, 'rb') as f:
      contents = flax.serialization.msgpack_restore(f.read())
  except Exception as e:  # msgpack raises several types on garbage.
    raise UserError(f'{path} is not a readable T5X msgpack checkpoint: '
                    f'{type(e).__name__}: {str(e)[:200]}') from e
  if not isinstance(contents, dict) or 'optimizer' not in contents:
    raise UserError(f'{path}: expected a msgpack map with an "optimizer" '
                    'entry (T5X checkpoint format).')
  version = int(contents.get('version', 0))
  def convert(node, prefix):
    if _is_ts_spec(node):
      return _read_ts(node, ckpt_dir, version, '.'.join(prefix))
    if isinstance(node, dict):
      return {k: convert(v, prefix + (k,)) for k, v in node.items()}
    return node
  state = convert(contents['optimizer'], ())
  if 'target' not in state:
    raise UserError(f'{path}: the state has no "target" (parameters).')
  return state


def step_of_state(state: Mapping[str, Any], ckpt_dir: str) -> int:
  step = state.get('state', {}).get('step') if isinstance(
      state.get('state'), dict) else None
  if step is not None:
    return int(np.asarray(step))
  m = _STEP_DIR.match(os.path.basename(os.path.normpath(ckpt_dir)))
  return int(m.group(1)) if m else 0


def save_orbax(state: Mapping[str, Any], model_dir: str, step: int) -> str:
  """Writes `state` as `model_dir/checkpoint_<step>` (our layout)."""
  manager = checkpoints.CheckpointManager(model_dir, save_dataset=False,
                                          async_save=False)
  manager.save(step, state)
  manager.wait_until_finished()
  manager.close()
  return os.path.join(checkpoints.absolute(model_dir), f'checkpoint_{step}')


# -----------------------------------------------------------------------------
# Hugging Face directories.
# -----------------------------------------------------------------------------
_HF_ARCHS = {'t5': 'T5ForConditionalGeneration', 'llama': 'LlamaForCausalLM'}


def _hf_config(directory: str) -> Dict[str, Any]:
  path = os.path.join(directory, 'config.json')
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f'{path} is not a readable JSON config: {e}') from e


def read_safetensors(directory: str) -> Dict[str, np.ndarray]:
  """All tensors of a HF directory (sharded or not), as numpy arrays."""
  from safetensors import numpy as st_numpy  # pylint: disable=g-import-not-at-top
  index = os.path.join(directory, 'model.safetensors.index.json')
  if os.path.exists(index):
    try:
      with open(index, encoding='utf-8') as f:
        weight_map = json.load(f)['weight_map']
    except (OSError, ValueError, KeyError) as e:
      raise UserError(f'{index} is not a valid safetensors index (expected '
                      f'JSON with a "weight_map"): {e}') from e
    files = sorted(set(weight_map.values()))
  elif os.path.exists(os.path.join(directory, 'model.safetensors')):
    weight_map, files = None, ['model.safetensors']
  else:
    raise UserError(f'{directory} holds no model.safetensors or '
                    'model.safetensors.index.json (PyTorch .bin files are not '
                    'read; convert them to safetensors).')
  tensors = {}
  for name in files:
    path = os.path.join(directory, name)
    if not os.path.exists(path):
      raise UserError(f'{path} is listed in the index but does not exist.')
    try:
      tensors.update(st_numpy.load_file(path))
    except Exception as e:  # safetensors raises its own error types.
      raise UserError(f'{path} is not a readable safetensors file: '
                      f'{str(e).splitlines()[0][:200]}') from e
  if weight_map is not None:
    absent = sorted(set(weight_map) - set(tensors))
    if absent:
      raise UserError(f'{index} lists {absent[0]!r} in '
                      f'{weight_map[absent[0]]}, which does not hold it.')
  return tensors


def config_from_hf_dir(directory: str):
  """(architecture, our config) of a HF model directory."""
  import transformers  # pylint: disable=g-import-not-at-top
  from instruct.models import hf_llama, hf_t5  # pylint: disable=g-import-not-at-top
  raw = _hf_config(directory)
  kind = raw.get('model_type')
  try:
    if kind in ('t5', 'mt5'):
      cfg = transformers.T5Config.from_dict(raw)
      return 't5', hf_t5.t5_config_from_hf(cfg, dropout_rate=0.0)
    if kind in ('llama', 'mistral') or kind is None and raw.get(
        'architectures') == ['LlamaForCausalLM']:
      cfg = transformers.LlamaConfig.from_dict(raw)
      return 'llama', hf_llama.llama_config_from_hf(cfg)
  except (ValueError, TypeError) as e:
    raise UserError(f'{directory}/config.json: {e}') from e
  raise UserError(f'{directory}/config.json: model_type {kind!r} is not '
                  "supported; expected 't5', 'mt5' or 'llama'.")


# Tensors HF may store that duplicate others (tied) or are buffers.
def _ignorable(name: str, kind: str, config) -> bool:
  if name.endswith('rotary_emb.inv_freq'):
    return True
  if kind == 't5':
    return name in ('encoder.embed_tokens.weight',
                    'decoder.embed_tokens.weight') or (
                        name == 'lm_head.weight' and
                        config.logits_via_embedding)
  return name == 'lm_head.weight' and config.tie_word_embeddings


def load_hf(directory: str, config=None) -> Imported:
  """Reads a HF T5 or Llama directory into our parameters.

  Args:
    directory: holds config.json and safetensors file(s).
    config: our config to check against (e.g. from a model gin file); default
      the one config.json describes.
  """
  from instruct.models import hf_llama, hf_t5  # pylint: disable=g-import-not-at-top
  kind, hf_cfg = config_from_hf_dir(directory)
  if config is not None and config_kind(config) != kind:
    raise UserError(f'{directory} is a {kind} checkpoint; the model is '
                    f'{config_kind(config)}.')
  config = config or hf_cfg
  tensors = read_safetensors(directory)
  shapes = expected_shapes(config)
  table = name_table(config)
  used = {name for _, name, _ in table}
  unknown = sorted(n for n in tensors if n not in used and
                   not _ignorable(n, kind, config))
  if unknown:
    raise UserError(f'{directory}: unknown tensor {unknown[0]!r} (shape '
                    f'{tensors[unknown[0]].shape}) for this {kind} model; '
                    f'{len(unknown)} unknown in all. Is it a checkpoint of '
                    'another architecture or size?')
  mapping = []
  for path, name, transpose in table:
    want = tuple(shapes[path][::-1] if transpose else shapes[path])
    if name not in tensors:
      raise UserError(f'{directory}: tensor {name!r} is missing (expected '
                      f'shape {want}, for {"/".join(path)}).')
    if tuple(tensors[name].shape) != want:
      raise UserError(f'{directory}: tensor {name!r} has shape '
                      f'{tuple(tensors[name].shape)}; expected {want} (for '
                      f'{"/".join(path)}). Is it a checkpoint of another '
                      'size?')
    mapping.append(MappingEntry(name, path, shapes[path],
                                f'{tensors[name].dtype}->float32',
                                'transposed' if transpose else ''))
  tensors = {k: np.asarray(v, np.float32) for k, v in tensors.items()}
  if kind == 't5':
    params = hf_t5.params_from_hf_t5(tensors, config)
  else:
    params = hf_llama.params_from_hf_llama(tensors, config, strict=False)
  tok_path = os.path.join(directory, 'tokenizer.json')
  tok_json = None
  if os.path.exists(tok_path):
    with open(tok_path, encoding='utf-8') as f:
      tok_json = f.read()
  return Imported(params, 0, 'hf', kind, config, mapping,
                  tokenizer_json=tok_json, source_dir=directory)


def _hf_state_dict(params, config) -> Dict[str, np.ndarray]:
  from instruct.models import hf_llama, hf_t5  # pylint: disable=g-import-not-at-top
  kind = config_kind(config)
  if kind == 't5':
    sd = hf_t5.params_to_hf_t5(params, config)
  else:
    sd = hf_llama.params_to_hf_llama(params, config)
  # Tied copies are left out; transformers re-ties them on load.
  return {k: v for k, v in sd.items() if not _ignorable(k, kind, config)}


def _write_shards(state_dict: Dict[str, np.ndarray], directory: str,
                  max_shard_bytes: int) -> List[str]:
  from safetensors import numpy as st_numpy  # pylint: disable=g-import-not-at-top
  shards, current, size = [], {}, 0
  for name, value in state_dict.items():
    if current and size + value.nbytes > max_shard_bytes:
      shards.append(current)
      current, size = {}, 0
    current[name] = value
    size += value.nbytes
  shards.append(current)
  meta = {'format': 'pt'}
  if len(shards) == 1:
    st_numpy.save_file(shards[0], os.path.join(directory, 'model.safetensors'),
                       metadata=meta)
    return ['model.safetensors']
  names = [f'model-{i + 1:05d}-of-{len(shards):05d}.safetensors'
           for i in range(len(shards))]
  weight_map = {}
  for name, shard in zip(names, shards):
    st_numpy.save_file(shard, os.path.join(directory, name), metadata=meta)
    weight_map.update({k: name for k in shard})
  index = {'metadata': {'total_size': int(sum(v.nbytes for v in
                                                state_dict.values()))},
           'weight_map': weight_map}
  with open(os.path.join(directory, 'model.safetensors.index.json'), 'w',
            encoding='utf-8') as f:
    json.dump(index, f, indent=2)
  return names


def save_hf(params: Mapping[str, Any], config, directory: str, *,
            vocabulary=None, tokenizer_json: Optional[str] = None,
            tokenizer_meta: Optional[Mapping[str, Any]] = None,
            max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> List[str]:
  """Writes a HF model directory transformers loads without custom code.

  Args:
    params: our parameters.
    config: our T5Config or LlamaConfig.
    directory: created if needed.
    vocabulary: a SeqIO vocabulary whose tokenizer files to write (byte ->
      ByT5 tokenizer config, SentencePiece -> spiece.model + T5 tokenizer,
      HuggingFaceVocabulary -> tokenizer.json).
    tokenizer_json, tokenizer_meta: a tokenizer.json (and its eos/bos ids) to
      write when there is no vocabulary (e.g. from a GGUF file).
    max_shard_bytes: larger state dicts are split into shards plus an index.

  Returns:
    The files written.
  """
  kind = config_kind(config)
  check_params(params, expected_shapes(config), 'export', f'this {kind} model')
  os.makedirs(directory, exist_ok=True)
  files = _write_shards(_hf_state_dict(params, config), directory,
                        max_shard_bytes)
  hf = _hf_config_dict(config, vocabulary, tokenizer_meta)
  with open(os.path.join(directory, 'config.json'), 'w',
            encoding='utf-8') as f:
    json.dump(hf, f, indent=2, sort_keys=True)
  files.append('config.json')
  files += write_tokenizer_files(directory, vocabulary, tokenizer_json,
                                 tokenizer_meta)
  return files


def _hf_config_dict(config, vocabulary, tokenizer_meta) -> Dict[str, Any]:
  from instruct.models import hf_llama, hf_t5  # pylint: disable=g-import-not-at-top
  kind = config_kind(config)
  if kind == 't5':
    kwargs = hf_t5.hf_t5_config_kwargs(config)
    kwargs['is_encoder_decoder'] = True
  else:
    ids = {}
    meta = dict(tokenizer_meta or {})
    if vocabulary is not None:
      meta.setdefault('eos_id', vocabulary.eos_id)
      try:
        bos = vocabulary.bos_id
      except NotImplementedError:
        bos = None
      if bos is not None:
        meta.setdefault('bos_id', bos)
    for ours, theirs in (('eos_id', 'eos_token_id'),
                         ('bos_id', 'bos_token_id')):
      if meta.get(ours) is not None:
        ids[theirs] = int(meta[ours])
    kwargs = hf_llama.hf_llama_config_kwargs(config, **ids)
  return {'architectures': [_HF_ARCHS[kind]], 'model_type': kind,
          'torch_dtype': 'float32', **kwargs}


def write_tokenizer_files(directory: str, vocabulary=None,
                          tokenizer_json: Optional[str] = None,
                          tokenizer_meta: Optional[Mapping[str, Any]] = None
                          ) -> List[str]:
  """Tokenizer files AutoTokenizer reads; returns the names written."""
  import seqio  # pylint: disable=g-import-not-at-top
  from instruct import vocabularies  # pylint: disable=g-import-not-at-top
  def dump(name, obj):
    with open(os.path.join(directory, name), 'w', encoding='utf-8') as f:
      json.dump(obj, f, indent=2)
    return name
  if isinstance(vocabulary, seqio.ByteVocabulary):
    # HF's ByT5Tokenizer: pad 0, eos 1, unk 2, byte b -> b + 3, as SeqIO.
    return [dump('tokenizer_config.json', {
        'tokenizer_class': 'ByT5Tokenizer', 'extra_ids': 0,
        'eos_token': '</s>', 'pad_token': '<pad>', 'unk_token': '<unk>'})]
  if isinstance(vocabulary, seqio.SentencePieceVocabulary):
    with open(os.path.join(directory, 'spiece.model'), 'wb') as f:
      f.write(vocabulary.sp_model)
    return ['spiece.model', dump('tokenizer_config.json', {
        'tokenizer_class': 'T5Tokenizer', 'extra_ids': vocabulary.extra_ids,
        'eos_token': '</s>', 'pad_token': '<pad>', 'unk_token': '<unk>',
        'legacy': True})]
  meta = dict(tokenizer_meta or {})
  if isinstance(vocabulary, vocabularies.HuggingFaceVocabulary):
    tokenizer_json = vocabulary.tokenizer_json
    meta.update(eos_id=vocabulary.eos_id, bos_id=vocabulary.bos_id)
  elif vocabulary is not None:
    raise UserError(f'No tokenizer export for {type(vocabulary).__name__}.')
  if tokenizer_json is None:
    return []
  with open(os.path.join(directory, 'tokenizer.json'), 'w',
            encoding='utf-8') as f:
    f.write(tokenizer_json)
  import tokenizers  # pylint: disable=g-import-not-at-top
  tok = tokenizers.Tokenizer.from_str(tokenizer_json)
  config = {'tokenizer_class': 'PreTrainedTokenizerFast',
            'model_max_length': 1 << 30,
            'model_input_names': ['input_ids', 'attention_mask']}
  for key in ('eos', 'bos'):
    if meta.get(f'{key}_id') is not None:
      config[f'{key}_token'] = tok.id_to_token(int(meta[f'{key}_id']))
  config['pad_token'] = tok.id_to_token(0)  # SeqIO pads with id 0.
  return ['tokenizer.json', dump('tokenizer_config.json', config)]


# -----------------------------------------------------------------------------
# One entry point for every format.
# -----------------------------------------------------------------------------
def load(path: str, config=None) -> Imported:
  """Reads any supported checkpoint into our layout.

  Args:
    path: see `detect_format`.
    config: our model config to check the parameters against (None: the
      config the source records, or no check for tree-only formats).
  """
  fmt, resolved = detect_format(path)
  if fmt == 'gguf':
    from instruct.models import gguf  # pylint: disable=g-import-not-at-top
    m = gguf.load_gguf(resolved)
    if config is not None:
      check_params(m.params, expected_shapes(config), resolved,
                   'the configured model')
    return Imported(m.params, 0, 'gguf', 'llama', config or m.config,
                    m.mapping, tokenizer_json=m.tokenizer.to_str(),
                    tokenizer_meta=m.tokenizer_meta)
  if fmt == 'hf':
    return load_hf(resolved, config)
  if fmt == 't5x':
    state = load_t5x_legacy(resolved)
  else:
    state = checkpoints.load_numpy_tree(resolved)
  params = state['target']
  if config is not None:
    check_params(params, expected_shapes(config), resolved,
                 'the configured model')
  return Imported(params, step_of_state(state, resolved), fmt,
                  architecture_of(params), config, _identity_mapping(params),
                  state=state)


def copy_tokenizer_files(src_dir: str, dst_dir: str) -> List[str]:
  """Copies a HF directory's tokenizer files (for HF -> HF conversions)."""
  names = [n for n in ('tokenizer.json', 'tokenizer_config.json',
                       'special_tokens_map.json', 'spiece.model',
                       'tokenizer.model') if
           os.path.exists(os.path.join(src_dir, n))]
  for n in names:
    shutil.copyfile(os.path.join(src_dir, n), os.path.join(dst_dir, n))
  return names
