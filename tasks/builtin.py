"""SeqIO registrations of the built-in, offline instruction tasks.

Importing this module only declares tasks; no data is generated until a
dataset is requested. For each built-in task `<name>` (see
`instruct.data.builtin.TASK_NAMES`) it registers:

  * `builtin_<name>`: train/validation, seen templates only. Targets are the
    answer text, scored with `exact_match`.
  * `builtin_<name>_unseen_templates`: validation only, held-out templates.
  * classification tasks additionally get `builtin_<name>_options` and
    `builtin_<name>_unseen_templates_options`: validation only, one example per
    answer option, scored by rank classification (`score` metric).

and the mixtures

  * `builtin_instructions`: all `builtin_<name>` tasks at equal rates (train).
  * `builtin_instructions_eval_seen`: validation tasks with seen templates
    (generation tasks plus the `_options` tasks).
  * `builtin_instructions_eval_unseen`: the same with held-out templates.
  * `builtin_instructions_eval`: both.

Every example carries `_task_name` (string) and `_template_idx` (int32, index
into the task's full template list) metadata; feature converters ignore them
and mixtures drop them unless passed `passthrough_features`.
"""

import collections
import functools
from typing import Any, List, Optional

import seqio
import tensorflow as tf

from instruct import metrics
from instruct.data import builtin
from instruct.data import preprocessors

VOCABULARY = seqio.ByteVocabulary()
# As in T5/FLAN: inputs may be absent for decoder-only use; both end in EOS.
OUTPUT_FEATURES = {
    'inputs': seqio.Feature(vocabulary=VOCABULARY, add_eos=True,
                            required=False),
    'targets': seqio.Feature(vocabulary=VOCABULARY, add_eos=True),
}
# The lengths the demo uses; every built-in example fits (with EOS).
DEFAULT_SEQUENCE_LENGTH = {'inputs': 192, 'targets': 32}

PREFIX = 'builtin_'
TRAIN_MIXTURE = 'builtin_instructions'
EVAL_SEEN_MIXTURE = 'builtin_instructions_eval_seen'
EVAL_UNSEEN_MIXTURE = 'builtin_instructions_eval_unseen'
EVAL_MIXTURE = 'builtin_instructions_eval'

# Registered names, filled in below.
TRAIN_TASKS: List[str] = []  # builtin_<name>, seen templates, train+valid.
EVAL_SEEN_TASKS: List[str] = []  # Validation-side eval with seen templates.
EVAL_UNSEEN_TASKS: List[str] = []  # Validation-side eval, held-out templates.
ALL_TASKS: List[str] = []
MIXTURES: List[str] = []


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
  for ex in builtin.generate_examples(task_name, split):
    for k, v in ex.items():
      columns[k].append(v)
  return {k: tuple(v) for k, v in columns.items()}


def _dataset_fn(split: str, shuffle_files: bool, seed: Optional[int] = None,
                *, task_name: str) -> tf.data.Dataset:
  """Returns a built-in task's raw fields as a dataset.

  The content of a split is fixed (generated with `builtin.DEFAULT_SEED`), and
  so is its order: there are no files to shuffle, so `shuffle_files` and
  `seed` are accepted for SeqIO's interface but do not change the dataset.
  SeqIO's shuffle buffer does the shuffling for training.

  Args:
    split: 'train' or 'validation'.
    shuffle_files: ignored (see above).
    seed: ignored (see above).
    task_name: the built-in task name.

  Returns:
    A dataset of field dicts (strings, int64s, string vectors), with `idx`.
  """
  del shuffle_files, seed  # The generated data is fixed; see docstring.
  columns = _columns(task_name, split)
  # One example fixes the schema; every example of a task has the same fields.
  signature = {k: _tf_signature(v[0]) for k, v in columns.items()}
  # Built in memory from tensors, not through a Python generator: a dataset
  # made of tensors can have its iterator checkpointed with the model, which
  # `from_generator`'s stateful PyFunc cannot.
  tensors = {}
  for k, spec in signature.items():
    if spec.shape.rank == 1:
      tensors[k] = tf.ragged.constant(columns[k], dtype=spec.dtype)
    else:
      tensors[k] = tf.constant(columns[k], dtype=spec.dtype)
  return tf.data.Dataset.from_tensor_slices(tensors)


def _source(task_name: str, splits) -> seqio.FunctionDataSource:
  return seqio.FunctionDataSource(
      dataset_fn=functools.partial(_dataset_fn, task_name=task_name),
      splits=splits,
      num_input_examples={s: builtin.SPLIT_SIZES[s] for s in splits})


def _register_task(name: str, task_name: str, splits, template_ids,
                   options: bool) -> None:
  """Registers one SeqIO task over a built-in task's data."""
  task = builtin.get_task(task_name)
  pipeline = [
      functools.partial(
          preprocessors.apply_templates,
          templates=task.templates,
          template_ids=template_ids,
          task_name=task_name,
          with_options=options),
  ]
  if options:
    pipeline.append(preprocessors.rank_classification)
  pipeline += [
      seqio.preprocessors.tokenize,
      seqio.CacheDatasetPlaceholder(),
      seqio.preprocessors.append_eos_after_trim,
  ]
  if name in seqio.TaskRegistry.names():
    # Makes re-importing (e.g. importlib.reload in a notebook) idempotent.
    seqio.TaskRegistry.remove(name)
  seqio.TaskRegistry.add(
      name,
      source=_source(task_name, splits),
      preprocessors=pipeline,
      output_features=OUTPUT_FEATURES,
      postprocess_fn=metrics.rank_classification_target if options else None,
      metric_fns=([metrics.rank_classification_accuracy] if options
                  else [metrics.exact_match]))
  ALL_TASKS.append(name)


def _register_mixture(name: str, task_names: List[str]) -> None:
  if name in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(name)
  seqio.MixtureRegistry.add(name, list(task_names), default_rate=1.0)
  MIXTURES.append(name)


def _register_all() -> None:
  for task_name in builtin.TASK_NAMES:
    task = builtin.get_task(task_name)
    seen = f'{PREFIX}{task_name}'
    unseen = f'{seen}_unseen_templates'
    _register_task(seen, task_name, ('train', 'validation'),
                   task.seen_template_ids, options=False)
    _register_task(unseen, task_name, ('validation',),
                   task.held_out_template_ids, options=False)
    TRAIN_TASKS.append(seen)
    EVAL_SEEN_TASKS.append(seen)
    EVAL_UNSEEN_TASKS.append(unseen)
    if task.is_classification:
      _register_task(f'{seen}_options', task_name, ('validation',),
                     task.seen_template_ids, options=True)
      _register_task(f'{unseen}_options', task_name, ('validation',),
                     task.held_out_template_ids, options=True)
      EVAL_SEEN_TASKS.append(f'{seen}_options')
      EVAL_UNSEEN_TASKS.append(f'{unseen}_options')
  _register_mixture(TRAIN_MIXTURE, TRAIN_TASKS)
  _register_mixture(EVAL_SEEN_MIXTURE, EVAL_SEEN_TASKS)
  _register_mixture(EVAL_UNSEEN_MIXTURE, EVAL_UNSEEN_TASKS)
  _register_mixture(EVAL_MIXTURE, EVAL_SEEN_TASKS + EVAL_UNSEEN_TASKS)


_register_all()
