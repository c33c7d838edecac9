"""GGUF files below the model layer: open one, read metadata, rebuild its tokenizer.

`instruct.vocabularies` reads a GGUF file's tokenizer without knowing any
model family; `instruct.models.gguf` reads the tensors on top of this.
"""

import os
from typing import Any

import tokenizers
from tokenizers import decoders, models, pre_tokenizers

from instruct.errors import UserError

_LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
                 r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|"
                 r"\s+")


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
