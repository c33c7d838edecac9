"""Training and evaluation data from SeqIO.

The trainer reads batches of model features from `seqio.get_dataset` with the
model's feature converter (packing on for training). Each process reads its
own shard of the data and its slice of the global batch; the iterator is a
`tf.data` iterator so that its position can be checkpointed with the model.
"""

import dataclasses
import difflib
import importlib
from typing import Mapping, Optional, Sequence, Union

import gin
import seqio
import tensorflow as tf

from instruct.data import packing
from instruct.errors import UserError


@gin.configurable
@dataclasses.dataclass
class DatasetConfig:
  """What to read (T5X's `DatasetConfig` fields)."""
  mixture_or_task_name: str
  task_feature_lengths: Mapping[str, int]
  split: str
  batch_size: int
  shuffle: bool
  seed: Optional[int]
  use_cached: bool = False
  pack: bool = True
  module: Optional[Union[str, Sequence[str]]] = None
  # How examples are packed when `pack` is on: 'greedy' (SeqIO's packer),
  # 'best_fit' (`instruct.data.packing.BestFitPacking`, fills more slots) or
  # a callable (dataset, feature_lengths) -> packed dataset.
  packer: Union[str, packing.PackFn] = 'greedy'


def import_task_modules(modules: Optional[Union[str, Sequence[str]]]) -> None:
  """Imports the modules that register tasks (MIXTURE_OR_TASK_MODULE)."""
  if not modules:
    return
  if isinstance(modules, str):
    modules = [modules]
  for name in modules:
    try:
      importlib.import_module(name)
    except ImportError as e:
      raise UserError(
          f'MIXTURE_OR_TASK_MODULE={name!r} could not be imported: {e}') from e


def get_mixture_or_task(name: str):
  """Looks up a registered task or mixture, with a helpful error."""
  known = set(seqio.TaskRegistry.names()) | set(seqio.MixtureRegistry.names())
  if name in known:
    return seqio.get_mixture_or_task(name)
  close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.5)
  hint = f' Did you mean: {", ".join(close)}?' if close else ''
  raise UserError(
      f'MIXTURE_OR_TASK_NAME={name!r} is not a registered SeqIO task or '
      f'mixture ({len(known)} are registered; is MIXTURE_OR_TASK_MODULE '
      f'set to the module that registers it?).{hint}')


def get_dataset(cfg: DatasetConfig,
                feature_converter: seqio.FeatureConverter,
                shard_id: int = 0,
                num_shards: int = 1,
                num_epochs: Optional[int] = None) -> tf.data.Dataset:
  """Batched model features for this process.

  Args:
    cfg: what to read.
    feature_converter: the model's converter, e.g.
      `seqio.EncDecFeatureConverter(pack=True)`.
    shard_id: this process's index.
    num_shards: number of processes reading.
    num_epochs: None repeats forever (training).

  Returns:
    A dataset of dicts of [batch_size // num_shards, length] tensors.
  """
  import_task_modules(cfg.module)
  get_mixture_or_task(cfg.mixture_or_task_name)
  if cfg.batch_size % num_shards:
    raise UserError(f'BATCH_SIZE={cfg.batch_size} must be divisible by the '
                     f'number of processes ({num_shards}).')
  if cfg.pack:
    feature_converter = packing.with_packer(feature_converter, cfg.packer)
  ds = seqio.get_dataset(
      cfg.mixture_or_task_name,
      task_feature_lengths=dict(cfg.task_feature_lengths),
      dataset_split=cfg.split,
      shuffle=cfg.shuffle,
      num_epochs=num_epochs,
      feature_converter=feature_converter,
      shard_info=seqio.ShardInfo(index=shard_id, num_shards=num_shards),
      use_cached=cfg.use_cached,
      seed=cfg.seed)
  ds = ds.batch(cfg.batch_size // num_shards,
                drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  # The iterator is saved with every checkpoint. A vocabulary that tokenizes
  # in a `tf.py_function` (Hugging Face tokenizers) makes the pipeline
  # "stateful" to TF, which then refuses to save it, although that function
  # keeps no state between elements; IGNORE saves the pipeline's position.
  options = tf.data.Options()
  options.experimental_external_state_policy = (
      tf.data.experimental.ExternalStatePolicy.IGNORE)
  return ds.with_options(options)
