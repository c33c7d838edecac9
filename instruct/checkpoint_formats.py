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

`resolve` is the one place a path is told apart: (format, directory or
file, step), and `list_checkpoints` every checkpoint a path holds;
`restore_params_and_step` reads the parameters of any of them.

Every reader returns host numpy arrays in our parameter tree and a list of
`MappingEntry` saying which source tensor became which parameter; every
mismatch (missing, unknown or misshapen tensor, unreadable file) is a
`UserError` naming the tensor or file and what was expected.

Architectures are looked up in the family registry
(`instruct.models.families`): nothing here names a model family.
"""

import dataclasses
import json
import os
import re
import shutil
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from absl import logging
import flax
from flax import traverse_util
import jax
import ml_dtypes
import numpy as np

from instruct import checkpoints
from instruct.errors import UserError
from instruct.models import families
from instruct.models import gguf
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
  architecture: Optional[str]     # a family name (instruct.models.families)
  config: Any = None              # the family's config, when recorded
  mapping: List[MappingEntry] = dataclasses.field(default_factory=list)
  state: Any = None               # the whole T5X state tree, when there is one
  tokenizer_json: Optional[str] = None
  tokenizer_meta: Dict[str, Any] = dataclasses.field(default_factory=dict)
  source_dir: Optional[str] = None


# -----------------------------------------------------------------------------
# The resolver.
# -----------------------------------------------------------------------------
_STEP_DIR = re.compile(r'^checkpoint_(\d+)$')
_LEGACY_MARKER = 'checkpoint'  # T5X's msgpack file in checkpoint_<step>/.


@dataclasses.dataclass(frozen=True)
class Resolved:
  """What a checkpoint path names.

  Attributes:
    format: 'orbax' (ours), 't5x' (msgpack + TensorStore), 'hf' or 'gguf'.
    path: what to read: the `checkpoint_<step>` directory (orbax, t5x), the
      HF directory or the .gguf file.
    step: the step its directory name gives; None for HF and GGUF.
  """
  format: str
  path: str
  step: Optional[int]


def _step_of_name(path: str) -> Optional[int]:
  m = _STEP_DIR.match(os.path.basename(os.path.normpath(path)))
  return int(m.group(1)) if m else None


def _steps(model_dir: str) -> List[Resolved]:
  """Every checkpoint_<step> of a model dir (ours or T5X's), oldest first."""
  found = {}
  for fmt, marker in (('t5x', _LEGACY_MARKER),
                      ('orbax', checkpoints.STATE_ITEM)):
    for step, d in checkpoints.step_dirs(model_dir, marker):
      found[step] = Resolved(fmt, os.fspath(d), step)  # Ours win a tie.
  return [found[step] for step in sorted(found)]


_NOT_A_CHECKPOINT = (
    'is not a checkpoint: expected a checkpoint_<step>/ directory (T5X Orbax '
    'or msgpack+TensorStore), a model directory containing one, a Hugging '
    'Face directory with config.json, or a .gguf file.')


def resolve(path: str) -> Resolved:
  """(format, what to read, step) of a checkpoint path.

  A model directory resolves to its latest `checkpoint_<step>`; a T5X legacy
  checkpoint may be named by its directory or its `checkpoint` file. Remote
  paths (gs://...) are read in our Orbax layout only.

  Raises:
    UserError: the path does not exist or holds no checkpoint.
  """
  path = os.fspath(path)
  if '://' in path:
    d = checkpoints.find_checkpoint_dir(path)
    return Resolved('orbax', os.fspath(d), checkpoints.step_of(d))
  if not os.path.exists(path):
    raise UserError(f'Checkpoint path {path} does not exist.')
  full = os.path.abspath(path)
  if os.path.isfile(path):
    with open(path, 'rb') as f:
      magic = f.read(4)
    if magic == b'GGUF' or path.endswith('.gguf'):
      return Resolved('gguf', full, None)
    if os.path.basename(path) == _LEGACY_MARKER:
      d = os.path.dirname(full)
      return Resolved('t5x', d, _step_of_name(d))
    raise UserError(f'{path} is not a checkpoint file: expected a .gguf file '
                    'or a T5X `checkpoint` msgpack file.')
  if os.path.exists(os.path.join(path, 'config.json')):
    return Resolved('hf', full, None)
  if os.path.isfile(os.path.join(path, _LEGACY_MARKER)):
    return Resolved('t5x', full, _step_of_name(full))
  if checkpoints.is_checkpoint_dir(path):
    return Resolved('orbax', full, _step_of_name(full))
  steps = _steps(path)
  if steps:
    return steps[-1]
  raise UserError(f'{path} {_NOT_A_CHECKPOINT}')


def list_checkpoints(path: str) -> List[Resolved]:
  """Every checkpoint `path` holds, oldest first.

  A model directory gives each of its `checkpoint_<step>` directories (ours
  and T5X's); any other checkpoint path gives itself, resolved.
  """
  path = os.fspath(path)
  first = resolve(path)
  if '://' in path:
    if checkpoints.is_checkpoint_dir(path):
      return [first]
    return [Resolved('orbax', os.fspath(d), step)
            for step, d in checkpoints.step_dirs(path)]
  if (first.format in ('hf', 'gguf') or os.path.isfile(path) or
      os.path.isfile(os.path.join(path, _LEGACY_MARKER)) or
      checkpoints.is_checkpoint_dir(path)):
    return [first]
  return _steps(path)


def detect_format(path: str) -> Tuple[str, str]:
  """(format, resolved path) of a checkpoint path (see `resolve`)."""
  r = resolve(path)
  return r.format, r.path


# -----------------------------------------------------------------------------
# Trees.
# -----------------------------------------------------------------------------
flatten = checkpoints.flatten
check_params = checkpoints.check_params


def architecture_of(params: Mapping[str, Any]) -> Optional[str]:
  """The family name of a parameter tree, or None if no family's."""
  family = families.for_params(params)
  return family.name if family else None


def config_kind(config: Any) -> str:
  """The family name of a model config."""
  return families.for_config(config).name


def expected_shapes(config: Any) -> Dict[Path, Tuple[int, ...]]:
  return families.for_config(config).expected_shapes(config)


def name_table(config: Any) -> List[Tuple[Path, str, bool]]:
  return families.for_config(config).name_table(config)


def config_from_params(params: Mapping[str, Any]) -> Any:
  """Our config read off a tree's shapes (families whose tree says it all).

  Raises:
    UserError: the tree's family needs its gin file, or has no family.
  """
  family = families.for_params(params)
  if family is None:
    raise UserError('Cannot tell the architecture of the source parameters; '
                    'pass the model gin file (--gin_file=...).')
  if family.config_from_params is None:
    raise UserError(f'A {family.name} parameter tree does not record all of '
                    'its hyperparameters (e.g. the head count); pass the '
                    'model gin file (--gin_file=...).')
  return family.config_from_params(params)


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
  return _step_of_name(ckpt_dir) or 0


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
  """(family name, our config) of a HF model directory."""
  raw = _hf_config(directory)
  source = os.path.join(directory, 'config.json')
  family = families.for_hf_config(raw, source)
  return family.name, family.config_from_hf_json(raw, source)


def _ignorable(name: str, config) -> bool:
  """Tensors HF may store that repeat others (tied) or are buffers."""
  return name.endswith('rotary_emb.inv_freq') or name in set(
      families.for_config(config).hf_aliases(config))


def load_hf(directory: str, config=None) -> Imported:
  """Reads a HF directory of any registered family into our parameters.

  Args:
    directory: holds config.json and safetensors file(s).
    config: our config to check against (e.g. from a model gin file); default
      the one config.json describes.
  """
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
                   not _ignorable(n, config))
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
  params = families.get(kind).params_from_hf(tensors, config)
  tok_path = os.path.join(directory, 'tokenizer.json')
  tok_json = None
  if os.path.exists(tok_path):
    with open(tok_path, encoding='utf-8') as f:
      tok_json = f.read()
  return Imported(params, 0, 'hf', kind, config, mapping,
                  tokenizer_json=tok_json, source_dir=directory)


def _hf_state_dict(params, config) -> Dict[str, np.ndarray]:
  sd = families.for_config(config).params_to_hf(params, config)
  # Tied copies are left out; transformers re-ties them on load.
  return {k: v for k, v in sd.items() if not _ignorable(k, config)}


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
    config: our config of any registered family.
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
  for ours, theirs in (('eos_id', 'eos_token_id'), ('bos_id', 'bos_token_id')):
    if meta.get(ours) is not None:
      ids[theirs] = int(meta[ours])
  return families.for_config(config).hf_config_dict(config, **ids)


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
    m = gguf.load_gguf(resolved)
    if config is not None:
      check_params(m.params, expected_shapes(config), resolved,
                   'the configured model')
    return Imported(m.params, 0, 'gguf', config_kind(m.config),
                    config or m.config,
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


def restore_params_and_step(
    path: str, abstract_params: Any,
    only: Optional[Callable[[Tuple[str, ...]], bool]] = None
) -> Tuple[Any, int]:
  """Reads the model parameters and step of a checkpoint in any format.

  Ours go to `checkpoints.restore_params_and_step` (read in place, sharded);
  a T5X msgpack + TensorStore checkpoint, a Hugging Face directory or a
  .gguf file is converted on the host and checked against
  `abstract_params` (a missing, unknown or misshapen parameter is a
  UserError naming it). Their step is the one they record (0 for HF/GGUF).

  Args:
    path: a `checkpoint_<step>` directory, a model directory (latest used),
      a HF directory or a .gguf file (see `resolve`).
    abstract_params: tree of `jax.ShapeDtypeStruct` with shardings (and the
      dtypes to restore in).
    only: restore just the leaves whose path (a tuple of names) this accepts
      (see `checkpoints.restore_params_and_step`).

  Returns:
    (params placed as `abstract_params` says, step).
  """
  fmt = 'orbax'
  if '://' not in os.fspath(path) and os.path.exists(path):
    try:
      fmt = resolve(path).format
    except UserError:
      pass  # checkpoints.find_checkpoint_dir says what is wrong.
  if fmt == 'orbax':
    return checkpoints.restore_params_and_step(path, abstract_params, only)
  if only is not None:
    abstract_params = checkpoints.select(abstract_params, only)
  imported = load(path)
  flat_abstract = flatten(abstract_params)
  check_params(imported.params, {p: a.shape for p, a in flat_abstract.items()},
               f'{path} ({imported.format})', 'the model gin file')
  flat = flatten(imported.params)
  placed = {p: jax.device_put(np.asarray(flat[p]).astype(a.dtype),
                              getattr(a, 'sharding', None))
            for p, a in flat_abstract.items()}
  logging.info('Imported %d parameters from %s (%s).', len(placed), path,
               imported.format)
  return traverse_util.unflatten_dict(placed), imported.step


def copy_tokenizer_files(src_dir: str, dst_dir: str) -> List[str]:
  """Copies a HF directory's tokenizer files (for HF -> HF conversions)."""
  names = [n for n in ('tokenizer.json', 'tokenizer_config.json',
                       'special_tokens_map.json', 'spiece.model',
                       'tokenizer.model') if
           os.path.exists(os.path.join(src_dir, n))]
  for n in names:
    shutil.copyfile(os.path.join(src_dir, n), os.path.join(dst_dir, n))
  return names
