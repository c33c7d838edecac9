"""Tiny models, batches, parameters and checkpoints shared by the tests.

One place for what the tests build over and over (cf. T5X's `test_utils`):
one tiny T5 and one tiny Llama, configured by keyword overrides of a single
default each, random batches in the layout of each family's feature
converter, initial parameters (computed once per distinct model and shape),
random parameters drawn on the host (nothing to compile), and an Orbax
checkpoint in T5X's layout.

Import it as `import tiny` (pytest puts `tests/` on `sys.path`); the session
fixtures built on it live in `conftest.py`.
"""

import os
from typing import Any, Mapping, Optional, Sequence

import gin
import jax
import numpy as np
import optax
import seqio

from instruct import checkpoints
from instruct import gin_utils
from instruct import partitioning
from instruct import trainer
from instruct.models import decoder_only
from instruct.models import encoder_decoder
from instruct.models import llama
from instruct.models import t5

# The tiny T5 most tests use: 2 + 2 layers, 32 wide, no dropout.
T5_DEFAULTS = dict(vocab_size=384, emb_dim=32, num_heads=4, head_dim=8,
                   mlp_dim=64, num_encoder_layers=2, num_decoder_layers=2,
                   dropout_rate=0.0)
# The tiny Llama: 2 layers, grouped-query attention (4 query, 2 key/value
# heads).
LLAMA_DEFAULTS = dict(vocab_size=384, emb_dim=32, num_heads=4, num_kv_heads=2,
                      head_dim=8, num_layers=2, mlp_dim=64)

# The gin models `models/t5_1_1/tiny.gin` and `models/llama/tiny.gin` (with
# the byte vocabulary), for the tests that run the CLIs on them.
T5_GIN = ('models/t5_1_1/tiny.gin', 'models/vocab/byte.gin')
LLAMA_GIN = ('models/llama/tiny.gin', 'models/vocab/byte.gin')

BYTES = seqio.ByteVocabulary()


def t5_config(**overrides) -> t5.T5Config:
  """The tiny T5 network config, with `overrides` of any field."""
  return t5.T5Config(**{**T5_DEFAULTS, **overrides})


def llama_config(**overrides) -> llama.LlamaConfig:
  """The tiny Llama network config, with `overrides` of any field."""
  return llama.LlamaConfig(**{**LLAMA_DEFAULTS, **overrides})


def t5_model(config: Optional[t5.T5Config] = None,
             vocabulary: seqio.Vocabulary = BYTES,
             **model_kwargs) -> encoder_decoder.EncoderDecoderModel:
  """An `EncoderDecoderModel` over the tiny T5 (or `config`), on bytes."""
  return encoder_decoder.EncoderDecoderModel(
      t5.Transformer(config or t5_config()), vocabulary, vocabulary,
      **model_kwargs)


def llama_model(config: Optional[llama.LlamaConfig] = None,
                vocabulary: seqio.Vocabulary = BYTES,
                **model_kwargs) -> decoder_only.DecoderOnlyModel:
  """A `DecoderOnlyModel` over the tiny Llama (or `config`), on bytes."""
  return decoder_only.DecoderOnlyModel(
      llama.LlamaTransformer(config or llama_config()), vocabulary,
      **model_kwargs)


@gin.configurable('tiny.gin_model')
def _gin_model(model=gin.REQUIRED):
  return model


def gin_model(gin_files: Sequence[str] = T5_GIN, bindings: Sequence[str] = ()):
  """The `%MODEL` that `gin_files` (under gin_configs/) and `bindings` make.

  The gin config is cleared before and after, so tests that parse their own
  gin files are not affected.
  """
  gin.clear_config()
  try:
    gin_utils.parse_gin(list(gin_files),
                        list(bindings) + ['tiny.gin_model.model = %MODEL'])
    return _gin_model()  # pylint: disable=no-value-for-parameter
  finally:
    gin.clear_config()


def encdec_batch(batch_size: int = 8, input_length: int = 24,
                 target_length: int = 12, seed: int = 0, input_padding: int = 5,
                 target_padding: int = 3,
                 vocab_size: int = 384) -> dict[str, np.ndarray]:
  """Random encoder-decoder features with padded tails (ids 3..vocab_size)."""
  rng = np.random.default_rng(seed)
  enc = rng.integers(3, vocab_size, size=(batch_size, input_length))
  tgt = rng.integers(3, vocab_size, size=(batch_size, target_length))
  if input_padding:
    enc[:, -input_padding:] = 0
  if target_padding:
    tgt[:, -target_padding:] = 0
  dec_in = np.concatenate([np.zeros((batch_size, 1), int), tgt[:, :-1]], 1)
  return {'encoder_input_tokens': enc.astype(np.int32),
          'decoder_input_tokens': dec_in.astype(np.int32),
          'decoder_target_tokens': tgt.astype(np.int32),
          'decoder_loss_weights': (tgt > 0).astype(np.float32)}


def one_device() -> partitioning.Partitioner:
  """A partitioner over the first (simulated) device only."""
  return partitioning.Partitioner(devices=jax.devices()[:1])


_INIT_CACHE: dict[Any, Any] = {}


def _shape_key(shapes: Mapping[str, Sequence[int]]):
  return tuple(sorted((k, tuple(v)) for k, v in shapes.items()))


def init_params(model, shapes: Mapping[str, Sequence[int]], seed: int = 0):
  """The model's initial parameters on one device, as the trainer makes them.

  Each distinct (model class, network config, input shapes, seed) is
  initialised (compiled) once per session; every call returns fresh device
  arrays, so a caller may donate or modify them.
  """
  key = (type(model), type(model.module), model.module.config,
         _shape_key(shapes), seed)
  if key not in _INIT_CACHE:
    params = trainer.StateFactory(model, optax.identity(), one_device(),
                                  dict(shapes)).init(seed).params
    _INIT_CACHE[key] = jax.tree.map(np.asarray, params)
  return jax.tree.map(jax.numpy.asarray, _INIT_CACHE[key])


def abstract_params(model, shapes: Mapping[str, Sequence[int]]):
  """`jax.ShapeDtypeStruct`s of the model's parameters (nothing compiled)."""
  return trainer.StateFactory(model, optax.identity(), one_device(),
                              dict(shapes)).abstract_state.params


def random_params(abstract, seed: int = 0, scale: float = 0.5):
  """Normal(0, scale) arrays of the shapes (and dtypes) in `abstract`.

  `abstract` is a tree of arrays or `jax.ShapeDtypeStruct`s; the values are
  drawn on the host with numpy, so nothing is compiled.
  """
  rng = np.random.default_rng(seed)
  return jax.tree.map(
      lambda a: rng.normal(0.0, scale, a.shape).astype(a.dtype), abstract)


def save_checkpoint(model_dir, params, step: int = 3) -> str:
  """Saves `params` as `model_dir/checkpoint_<step>` (T5X layout, no data)."""
  manager = checkpoints.CheckpointManager(str(model_dir), async_save=False,
                                          save_dataset=False)
  manager.save(step, checkpoints.t5x_state(params, {}, np.int32(step)))
  manager.close()
  return os.path.join(str(model_dir), f'checkpoint_{step}')


def save_random_gin_checkpoint(model_dir, gin_files: Sequence[str] = T5_GIN,
                               bindings: Sequence[str] = (),
                               step: int = 3) -> str:
  """Random weights of a gin model saved as `model_dir/checkpoint_<step>`."""
  model = gin_model(gin_files, bindings)
  shapes = {'encoder_input_tokens': (2, 16), 'decoder_input_tokens': (2, 8)}
  return save_checkpoint(model_dir,
                         random_params(abstract_params(model, shapes)), step)
