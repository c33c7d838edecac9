"""The collection's vocabulary and SeqIO output features.

Every collection task tokenizes with `VOCABULARY`, a vocabulary that
delegates to `default_vocabulary()` at call time: ByteVocabulary unless gin
binds a run's vocabulary,

  instruct.data.registry.default_vocabulary.vocabulary = %VOCABULARY

(the gin name keeps the registry's module path, where this used to live;
`instruct.data.registry` re-exports everything here).
"""

from typing import Dict, Optional

import gin
import seqio


# Registered under its historical gin name,
# `instruct.data.registry.default_vocabulary`, which gin files bind.
@gin.configurable(module='instruct.data.registry')
def default_vocabulary(vocabulary: Optional[seqio.Vocabulary] = None
                      ) -> seqio.Vocabulary:
  """The vocabulary of collection tasks: gin-bound, else ByteVocabulary.

  Bind it to a run's vocabulary so all collection tasks tokenize with it:
    instruct.data.registry.default_vocabulary.vocabulary = %VOCABULARY
  """
  return vocabulary if vocabulary is not None else _BYTE_VOCABULARY


_BYTE_VOCABULARY = seqio.ByteVocabulary()


class DelegatingVocabulary(seqio.Vocabulary):
  """A vocabulary that forwards every call to `default_vocabulary()`.

  Tasks are registered at import, before gin is parsed; delegating at call
  time lets a run's gin-bound vocabulary drive their tokenization. All
  instances compare equal, so SeqIO mixtures accept tasks built with it.
  """

  def __init__(self):
    super().__init__(extra_ids=0)

  @property
  def _target(self) -> seqio.Vocabulary:
    return default_vocabulary()

  @property
  def eos_id(self):
    return self._target.eos_id

  @property
  def unk_id(self):
    return self._target.unk_id

  @property
  def pad_id(self):
    return self._target.pad_id

  @property
  def bos_id(self):
    return self._target.bos_id

  @property
  def extra_ids(self):
    return self._target.extra_ids

  @property
  def vocab_size(self):
    return self._target.vocab_size

  @property
  def _base_vocab_size(self):
    return self._target.vocab_size - self._target.extra_ids

  def _encode(self, s):
    return self._target.encode(s)

  def _decode(self, ids):
    return self._target.decode(ids)

  def _encode_tf(self, s):
    return self._target.encode_tf(s)

  def _decode_tf(self, ids):
    return self._target.decode_tf(ids)

  def decode(self, ids):
    return self._target.decode(ids)

  def decode_tf(self, ids):
    return self._target.decode_tf(ids)

  def __eq__(self, other):
    return isinstance(other, DelegatingVocabulary)

  def __hash__(self):
    return hash(DelegatingVocabulary)

  def __str__(self) -> str:
    return f'DelegatingVocabulary({self._target})'


VOCABULARY = DelegatingVocabulary()


def output_features(vocabulary: Optional[seqio.Vocabulary] = None
                   ) -> Dict[str, seqio.Feature]:
  """SeqIO output features: optional `inputs` and `targets`, both with EOS."""
  vocabulary = vocabulary if vocabulary is not None else VOCABULARY
  return {
      'inputs': seqio.Feature(vocabulary=vocabulary, add_eos=True,
                              required=False),
      'targets': seqio.Feature(vocabulary=vocabulary, add_eos=True),
  }


OUTPUT_FEATURES = output_features()
