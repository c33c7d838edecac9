"""Built-in tasks as tf.data datasets, `DatasetSpec`s and `TaskSpec`s.

The one loader of the built-in data: `load(task_name, split)`. Both families
of built-in SeqIO tasks (`tasks.builtin`) and the robustness probes
(`instruct.evals.robustness`) read through it. Nothing is generated until a
dataset is built.
"""

import collections
import functools
from typing import Any, Callable, Optional, Sequence

import tensorflow as tf

from instruct.data import registry
from instruct.data.builtin import base
from instruct.data.builtin import catalogue

# The registry source of the built-in datasets (`builtin_<name>_<variant>`).
SOURCE = 'builtin'


def _tf_signature(value: Any) -> tf.TensorSpec:
  if isinstance(value, str):
    return tf.TensorSpec([], tf.string)
  if isinstance(value, bool):
    raise TypeError('bool fields are not supported; use int 0/1.')
  if isinstance(value, int):
    # idx and labels are small; int64 avoids any overflow concern for values.
    return tf.TensorSpec([], tf.int64)
  if isinstance(value, (list, tuple)) and all(isinstance(v, str)
                                              for v in value):
    return tf.TensorSpec([None], tf.string)
  raise TypeError(f'Unsupported field value {value!r}.')


@functools.lru_cache(maxsize=None)
def _columns(task_name: str, split: str):
  """Generates a split once per process, as `{field: tuple of values}`.

  The data is a pure function of (task, split), so caching is safe; it makes
  the repeated dataset builds of training, evaluation and tests cheap (a full
  20k-example train split takes ~0.3 s to generate).
  """
  columns = collections.defaultdict(list)
  for ex in catalogue.generate_examples(task_name, split):
    for k, v in ex.items():
      columns[k].append(v)
  return {k: tuple(v) for k, v in columns.items()}


def load(task_name: str, split: str) -> tf.data.Dataset:
  """A built-in task's raw fields as a dataset built from in-memory tensors.

  Built from tensors, not through a Python generator: a dataset made of
  tensors can have its iterator checkpointed with the model, which
  `from_generator`'s stateful PyFunc cannot. The order is fixed (the
  generated split, with `idx`); SeqIO's shuffle buffer shuffles for training.

  Args:
    task_name: the built-in task name.
    split: 'train' or 'validation'.

  Returns:
    A dataset of field dicts (strings, int64s, string vectors), with `idx`.
  """
  columns = _columns(task_name, split)
  # One example fixes the schema; every example of a task has the same fields.
  signature = {k: _tf_signature(v[0]) for k, v in columns.items()}
  tensors = {}
  for k, spec in signature.items():
    if spec.shape.rank == 1:
      tensors[k] = tf.ragged.constant(columns[k], dtype=spec.dtype)
    else:
      tensors[k] = tf.constant(columns[k], dtype=spec.dtype)
  return tf.data.Dataset.from_tensor_slices(tensors)


def dataset_fn(split: str, shuffle_files: bool, seed: Optional[int] = None,
               *, task_name: str) -> tf.data.Dataset:
  """SeqIO dataset_fn over `load`.

  The content of a split is fixed (generated with `DEFAULT_SEED`), and so is
  its order: there are no files to shuffle, so `shuffle_files` and `seed` are
  accepted for SeqIO's interface but do not change the dataset.
  """
  del shuffle_files, seed  # The generated data is fixed; see docstring.
  return load(task_name, split)


def task_spec(name: str, task_name: str, splits: Sequence[str],
              preprocessors: Sequence[Callable],
              **kwargs) -> registry.TaskSpec:
  """A `TaskSpec` over a built-in task's data, as it is (no variant).

  Args:
    name: the SeqIO task name.
    task_name: the built-in task.
    splits: its splits ('train' and/or 'validation').
    preprocessors: formatting steps (tokenization is appended on
      registration).
    **kwargs: the other `TaskSpec` fields (metrics, eval_only, ...).
  """
  return registry.TaskSpec(
      name=name,
      dataset_fn=functools.partial(dataset_fn, task_name=task_name),
      splits=tuple(splits),
      preprocessors=tuple(preprocessors),
      num_input_examples={s: base.SPLIT_SIZES[s] for s in splits},
      **kwargs)


def dataset_spec(task_name: str) -> registry.DatasetSpec:
  """The registry spec of a built-in task: its seen templates only."""
  task = catalogue.get_task(task_name)
  return registry.DatasetSpec(
      name=task_name,
      source=SOURCE,
      cluster=task.cluster,
      load=functools.partial(load, task_name),
      templates=task.seen_templates,
      splits=('train', 'validation'),
      num_examples=dict(base.SPLIT_SIZES),
      has_rationale=task.has_rationale,
      has_options=task.is_classification,
      description=task.description)
