"""A SeqIO vocabulary backed by a Hugging Face `tokenizers` tokenizer.

    VOCABULARY = @HuggingFaceVocabulary()
    HuggingFaceVocabulary.path = '/models/smollm2/tokenizer.json'

`path` may be a `tokenizer.json` file, a directory holding one (a Hugging Face
model directory) or a `.gguf` file (the tokenizer is rebuilt from the GGUF
metadata, see `instruct.models.gguf`).

Ids are the tokenizer's own ids, never remapped, so a pre-trained embedding
table stays valid. SeqIO's conventions are met as follows:

  * PAD is id 0, always: SeqIO's feature converters pad with 0 and derive the
    loss weights from `token != 0`. Whatever token the tokenizer has at id 0
    (`<unk>` for Llama 1/2, `<|endoftext|>` for SmolLM2) therefore doubles as
    padding, and `decode` drops it.
  * EOS is the tokenizer's end-of-sequence token: `eos_id`/`eos_token` when
    given; else the `eos_token` of a `tokenizer_config.json` beside the
    tokenizer (or the GGUF metadata's eos id); else the first of
    `</s>`, `<|im_end|>`, `<|eot_id|>`, `<|end_of_text|>`, `<|endoftext|>`
    in the vocabulary. EOS must not be 0: SeqIO would give it zero loss
    weight and the model would never learn to stop. (SmolLM2's base tokenizer
    names `<|endoftext|>` = 0 as EOS; use `eos_token='<|im_end|>'` there.)
    Llama 1/2: PAD `<unk>` 0, EOS `</s>` 2, BOS `<s>` 1. SmolLM2-Instruct:
    PAD `<|endoftext|>` 0, EOS `<|im_end|>` 2, BOS `<|im_start|>` 1.
  * UNK is the BPE model's unknown token, if it has one (byte-level BPE
    tokenizers such as SmolLM2's have none: every byte is a token).
  * BOS is reported by `bos_id` but not added by `encode`, as with every SeqIO
    vocabulary; templates that need it write it out.
  * No extra ids (T5's sentinels are a SentencePiece-vocabulary feature).

In TensorFlow, `encode_tf`/`decode_tf` run the Rust tokenizer through
`tf.py_function` (TF Text has no byte-level BPE): they work in any tf.data
pipeline in the same process, but the graph cannot be serialised (e.g. for the
tf.data service).
"""

import json
import os
from typing import Any, Iterable, List, Optional

import gin
import numpy as np
import seqio
import tensorflow as tf
import tokenizers

from instruct import gguf_files
from instruct.errors import UserError

_EOS_CANDIDATES = ('</s>', '<|im_end|>', '<|eot_id|>', '<|end_of_text|>',
                   '<|endoftext|>')


def _read_tokenizer(path: str):
  """(tokenizer JSON string, metadata dict) from a file, directory or GGUF."""
  if not os.path.exists(path):
    raise UserError(f'Tokenizer path {path} does not exist; expected a '
                    'tokenizer.json file, a directory holding one, or a .gguf '
                    'file.')
  if path.endswith('.gguf'):
    tok, meta = gguf_files.read_tokenizer(path)
    return tok.to_str(), meta
  directory = path
  if os.path.isdir(path):
    path = os.path.join(path, 'tokenizer.json')
    if not os.path.exists(path):
      raise UserError(f'{directory} holds no tokenizer.json (a Hugging Face '
                      '"fast" tokenizer file is needed).')
  else:
    directory = os.path.dirname(path)
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
    tokenizers.Tokenizer.from_str(text)
  except Exception as e:  # tokenizers raises a bare Exception.
    raise UserError(f'{path} is not a valid tokenizer.json: '
                    f'{str(e).splitlines()[0] if str(e) else e!r}') from e
  meta = {}
  config_path = os.path.join(directory, 'tokenizer_config.json')
  if os.path.exists(config_path):
    with open(config_path, encoding='utf-8') as f:
      config = json.load(f)
    for key in ('eos_token', 'bos_token', 'unk_token'):
      value = config.get(key)
      if isinstance(value, dict):  # A serialised AddedToken.
        value = value.get('content')
      if value:
        meta[key] = value
  return text, meta


@gin.configurable(module='seqio')
class HuggingFaceVocabulary(seqio.Vocabulary):
  """A SeqIO `Vocabulary` over a Hugging Face `tokenizers.Tokenizer`."""

  def __init__(self, path: str, eos_id: Optional[int] = None,
               eos_token: Optional[str] = None,
               unk_id: Optional[int] = None,
               bos_id: Optional[int] = None):
    """Loads the tokenizer.

    Args:
      path: a tokenizer.json, a directory holding one, or a .gguf file.
      eos_id: EOS id override (see the module docstring for the default).
      eos_token: EOS given as a token string instead of an id.
      unk_id: UNK id override (default: the BPE model's unknown token).
      bos_id: BOS id override (reported only; never added by `encode`).
    """
    self._path = path
    self._tokenizer_json, meta = _read_tokenizer(path)
    self._tokenizer = tokenizers.Tokenizer.from_str(self._tokenizer_json)
    if eos_id is None and eos_token is not None:
      eos_id = self._id_of(eos_token, 'eos_token')
    if eos_id is None:
      eos_id = meta.get('eos_id')
    if eos_id is None and 'eos_token' in meta:
      eos_id = self._tokenizer.token_to_id(meta['eos_token'])
    if eos_id is None:
      eos_id = next((i for i in map(self._tokenizer.token_to_id,
                                    _EOS_CANDIDATES) if i), None)
    if eos_id is None:
      raise UserError(f'{path}: cannot tell which token ends a sequence; set '
                      'HuggingFaceVocabulary.eos_token (or eos_id).')
    if eos_id == 0:
      raise UserError(
          f'{path}: EOS is id 0, which SeqIO reserves for padding (EOS would '
          'get no loss weight). Set HuggingFaceVocabulary.eos_token to '
          'another end token, e.g. "<|im_end|>".')
    if unk_id is None:
      unk_token = meta.get('unk_token') or getattr(self._tokenizer.model,
                                                   'unk_token', None)
      unk_id = self._tokenizer.token_to_id(unk_token) if unk_token else None
    if bos_id is None:
      bos_id = meta.get('bos_id')
      if bos_id is None and 'bos_token' in meta:
        bos_id = self._tokenizer.token_to_id(meta['bos_token'])
    size = self._tokenizer.get_vocab_size(with_added_tokens=True)
    for name, value in (('eos_id', eos_id), ('unk_id', unk_id),
                        ('bos_id', bos_id)):
      if value is not None and not 0 <= value < size:
        raise UserError(f'HuggingFaceVocabulary.{name}={value} is outside the '
                        f'vocabulary of {path} (size {size}).')
    self._eos_id, self._unk_id, self._bos_id = eos_id, unk_id, bos_id
    super().__init__(extra_ids=0)

  def _id_of(self, token: str, what: str) -> int:
    i = self._tokenizer.token_to_id(token)
    if i is None:
      raise UserError(f'HuggingFaceVocabulary.{what}={token!r} is not in the '
                      f'vocabulary of {self._path}.')
    return i

  # ---------------------------------------------------------------------------
  # Properties.
  # ---------------------------------------------------------------------------
  @property
  def tokenizer(self) -> tokenizers.Tokenizer:
    return self._tokenizer

  @property
  def tokenizer_json(self) -> str:
    """The tokenizer serialised as a tokenizer.json (for exports)."""
    return self._tokenizer_json

  @property
  def eos_id(self) -> int:
    return self._eos_id

  @property
  def unk_id(self) -> Optional[int]:
    return self._unk_id

  @property
  def bos_id(self) -> Optional[int]:
    return self._bos_id

  @property
  def _base_vocab_size(self) -> int:
    return self._tokenizer.get_vocab_size(with_added_tokens=True)

  def id_to_token(self, i: int) -> Optional[str]:
    return self._tokenizer.id_to_token(i)

  # ---------------------------------------------------------------------------
  # Python.
  # ---------------------------------------------------------------------------
  def _encode(self, s: str) -> List[int]:
    return self._tokenizer.encode(s, add_special_tokens=False).ids

  def _decode(self, ids: Iterable[int]) -> str:
    ids = [int(i) for i in ids if int(i) != self.pad_id]
    return self._tokenizer.decode(ids, skip_special_tokens=True)

  # ---------------------------------------------------------------------------
  # TensorFlow (through tf.py_function).
  # ---------------------------------------------------------------------------
  def _encode_np(self, strings: np.ndarray):
    encodings = self._tokenizer.encode_batch(
        [s.decode('utf-8') for s in strings.reshape(-1)],
        add_special_tokens=False)
    lengths = np.array([len(e.ids) for e in encodings], np.int64)
    values = np.array([i for e in encodings for i in e.ids], np.int32)
    return values, lengths

  def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
    """A scalar string gives [None] ids; a vector gives a RaggedTensor."""
    s = tf.convert_to_tensor(s, tf.string)
    if s.shape.rank not in (0, 1):
      raise ValueError(f'HuggingFaceVocabulary.encode_tf takes a scalar or a '
                       f'vector of strings, got shape {s.shape}.')
    values, lengths = tf.py_function(
        lambda x: self._encode_np(x.numpy()), [tf.reshape(s, [-1])],
        [tf.int32, tf.int64])
    values.set_shape([None])
    if s.shape.rank == 0:
      return values
    lengths.set_shape(s.shape)
    return tf.RaggedTensor.from_row_lengths(values, lengths)

  def _decode_np(self, ids: np.ndarray) -> np.ndarray:
    rows = ids.reshape(-1, ids.shape[-1]) if ids.size else ids.reshape(-1, 0)
    texts = self._tokenizer.decode_batch(
        [[int(i) for i in row if i != self.pad_id] for row in rows],
        skip_special_tokens=True)
    return np.array([t.encode('utf-8') for t in texts], dtype=object)

  def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
    """[..., L] ids (padded with 0) -> [...] strings."""
    if isinstance(ids, tf.RaggedTensor):
      ids = ids.to_tensor(default_value=self.pad_id)
    ids = tf.convert_to_tensor(ids)
    if ids.shape.rank == 0:
      raise ValueError('HuggingFaceVocabulary.decode_tf needs ids of rank >= 1.')
    out = tf.py_function(lambda x: self._decode_np(x.numpy()),
                         [tf.cast(ids, tf.int32)], tf.string)
    return tf.reshape(out, tf.shape(ids)[:-1])

  # ---------------------------------------------------------------------------
  # Pickling and equality, as SeqIO's vocabularies do.
  # ---------------------------------------------------------------------------
  def __getstate__(self):
    state = dict(self.__dict__)
    del state['_tokenizer']
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._tokenizer = tokenizers.Tokenizer.from_str(self._tokenizer_json)

  def __eq__(self, other: Any) -> bool:
    if not isinstance(other, HuggingFaceVocabulary):
      return False
    return (self._tokenizer_json == other._tokenizer_json and
            (self.eos_id, self.unk_id, self.bos_id) ==
            (other.eos_id, other.unk_id, other.bos_id))

  def __hash__(self) -> int:
    return hash((self._tokenizer_json, self.eos_id))

  def __repr__(self) -> str:
    return (f'HuggingFaceVocabulary(path={self._path!r}, '
            f'vocab_size={self.vocab_size}, eos_id={self.eos_id}, '
            f'unk_id={self.unk_id}, bos_id={self.bos_id})')

