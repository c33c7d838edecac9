"""Shared pieces of the Flan 2021-style catalog: TFDS reading and TF text ops.

Every dataset of the catalog is read with `tfds.load(..., shuffle_files=False)`
at a pinned builder version, then mapped, inside the tf.data graph, to the
canonical scalar fields its templates use (`answer`, `options` + `label` for
classification, `premise`, `question`, ...). Nothing here touches data at
import time: `load` functions only build pipelines when called.

TFDS data must already be prepared (`tfds build NAME` or a shared
`TFDS_DATA_DIR`); by default nothing is downloaded at run time, because dead
download links and checksum failures are the first thing Flan users hit
(FLAN#89, #98, #102). Bind `tfds_read_options.download = True` in gin to let
TFDS download and prepare missing datasets.
"""

import dataclasses
import functools
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

from absl import logging
import gin
import tensorflow as tf
import tensorflow_datasets as tfds

from instruct import errors
from instruct.data import registry
from instruct.data import templates as templates_lib

SOURCE = 'flan2021'
Features = Dict[str, tf.Tensor]
MapFn = Callable[[Mapping[str, tf.Tensor]], Features]


@gin.configurable
def tfds_read_options(data_dir: Optional[str] = None,
                      download: bool = False) -> Dict[str, object]:
  """Where TFDS data is read from and whether missing data may be downloaded.

  Args:
    data_dir: TFDS data directory; None uses TFDS's default
      (`$TFDS_DATA_DIR` or ~/tensorflow_datasets).
    download: let TFDS download and prepare a dataset that is missing.

  Returns:
    Keyword arguments for `tfds.load`.
  """
  return {'data_dir': data_dir, 'download': download}


@dataclasses.dataclass(frozen=True)
class TfdsSource:
  """A pinned TFDS builder and how the catalog's splits map onto its splits.

  Attributes:
    name: builder name with config, e.g. 'glue/mnli'.
    version: the builder version the field mapping was written against.
    splits: catalog split -> TFDS split, e.g. {'validation': 'dev'}.
  """
  name: str
  version: str
  splits: Mapping[str, str]

  @property
  def builder_name(self) -> str:
    return self.name.split('/')[0]

  @property
  def pinned_name(self) -> str:
    return f'{self.name}:{self.version}'


def splits(*names: str, **renamed: str) -> Dict[str, str]:
  """Builds a split map: positional names map to themselves."""
  out = {n: n for n in names}
  out.update(renamed)
  return out


def read_tfds(source: TfdsSource, split: str,
              dataset_name: str) -> tf.data.Dataset:
  """Reads one split of a TFDS dataset in its fixed file order.

  Args:
    source: the pinned builder.
    split: a catalog split name (a key of `source.splits`).
    dataset_name: the catalog name, for error messages.

  Returns:
    The TFDS examples, unshuffled (the order of the prepared files).

  Raises:
    UserError: for an unknown split, or when the data is not prepared.
  """
  if split not in source.splits:
    raise errors.UserError(
        f'flan2021 dataset {dataset_name!r} ({source.name}) has no split '
        f'{split!r}; expected one of {sorted(source.splits)}.')
  options = tfds_read_options()
  try:
    return tfds.load(source.pinned_name, split=source.splits[split],
                     shuffle_files=False, **options)
  except (AssertionError, FileNotFoundError, tfds.core.registered
          .DatasetNotFoundError) as e:
    raise errors.UserError(
        f'flan2021 dataset {dataset_name!r}: TFDS data for '
        f'{source.pinned_name} split {source.splits[split]!r} is not '
        f'available in data_dir={options["data_dir"] or "(TFDS default)"} '
        f'({e}). Prepare it with `tfds build {source.name}` or bind '
        '`tfds_read_options.download = True`.') from e


def make_loader(source: TfdsSource, map_fn: MapFn, dataset_name: str,
                filter_fn: Optional[Callable[..., tf.Tensor]] = None,
                filter_reason: str = '') -> Callable[[str], tf.data.Dataset]:
  """Returns `load(split)`: TFDS examples mapped to canonical fields.

  Args:
    source: the pinned builder.
    map_fn: TFDS example -> canonical feature dict (pure TF ops).
    dataset_name: catalog name, for messages.
    filter_fn: optional predicate on the TFDS example; examples failing it are
      dropped (e.g. SNLI pairs without a gold label).
    filter_reason: why `filter_fn` drops examples; logged on every load, and
      the dropped counts are documented in the dataset's description.
  """

  def load(split: str) -> tf.data.Dataset:
    ds = read_tfds(source, split, dataset_name)
    if filter_fn is not None:
      logging.info('flan2021 %s/%s: dropping %s.', dataset_name, split,
                   filter_reason)
      ds = ds.filter(filter_fn)
    # map() keeps the input order (deterministic=True is tf.data's default).
    return ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE)

  load.__name__ = f'load_{dataset_name}'
  load.__doc__ = f'Reads {source.pinned_name} as canonical fields.'
  return load


# ---------------------------------------------------------------------------
# TF text helpers (graph ops only, no py_function).


def clean(text: tf.Tensor) -> tf.Tensor:
  """Strips a string and collapses whitespace runs to one space."""
  return tf.strings.strip(tf.strings.regex_replace(text, r'\s+', ' '))


def first(values: tf.Tensor, default: str = '') -> tf.Tensor:
  """The first element of a 1-D string tensor, or `default` when empty."""
  return tf.concat([values, tf.constant([default])], axis=0)[0]


def join(values: tf.Tensor, separator: str) -> tf.Tensor:
  return tf.strings.reduce_join(values, separator=separator)


def numbered(values: tf.Tensor, separator: str = '\n') -> tf.Tensor:
  """'1. a<sep>2. b...' from a 1-D string tensor."""
  numbers = tf.strings.as_string(tf.range(1, tf.size(values) + 1))
  return join(tf.strings.join([numbers, '. ', values]), separator)


def choose(flag: tf.Tensor, if_true: str, if_false: str) -> tf.Tensor:
  return tf.where(tf.cast(flag, tf.bool), tf.constant(if_true),
                  tf.constant(if_false))


def lookup(index: tf.Tensor, table: Sequence[str]) -> tf.Tensor:
  """`table[index]` for a scalar integer tensor."""
  return tf.gather(tf.constant(list(table)), tf.cast(index, tf.int32))


def classification(options, label: tf.Tensor, name: str) -> Features:
  """`options`, `label` (int64) and `answer` = options[label], checked.

  Args:
    options: a Python sequence of strings or a 1-D string tensor.
    label: scalar integer tensor, the index of the correct option.
    name: dataset name, for the assertion message.
  """
  options = tf.convert_to_tensor(options, tf.string)
  label = tf.cast(label, tf.int64)
  check = tf.debugging.assert_less(
      label, tf.size(options, out_type=tf.int64),
      message=f'flan2021 {name}: label is not an index into its options')
  check_min = tf.debugging.assert_non_negative(
      label, message=f'flan2021 {name}: negative label (unlabelled example?)')
  with tf.control_dependencies([check, check_min]):
    answer = tf.gather(options, label)
  return {'options': options, 'label': label, 'answer': answer}


def index_of(values: tf.Tensor, item: tf.Tensor) -> tf.Tensor:
  """Index (int64) of the first `item` in `values`; 0 when absent."""
  hits = tf.cast(tf.equal(values, item), tf.int64)
  return tf.argmax(tf.concat([hits, [0]], 0), output_type=tf.int64)


def unique(values: tf.Tensor) -> tf.Tensor:
  """Deduplicates a 1-D string tensor, keeping first occurrences in order."""
  return tf.unique(values).y


# ---------------------------------------------------------------------------
# Templates.


def templates(name: str, pairs: Sequence[Tuple[str, str]],
              ) -> Tuple[templates_lib.Template, ...]:
  """Named templates from (inputs, targets) pattern pairs."""
  return templates_lib.name_templates(
      f'{SOURCE}/{name}',
      [templates_lib.Template(inputs=i, targets=t) for i, t in pairs])


@dataclasses.dataclass(frozen=True)
class Entry:
  """One catalog dataset, before it becomes a registry.DatasetSpec.

  Attributes:
    name: catalog name ([a-z0-9_]+).
    cluster: task cluster.
    source: the pinned TFDS builder.
    map_fn: TFDS example -> canonical fields.
    templates: (inputs, targets) templates, at least 10.
    num_examples: published split sizes (after `filter_fn`), by catalog split.
    metric_fns: SeqIO metric functions for generated outputs.
    inversion_templates: templates that generate the input from the output.
    has_options: whether examples have `options`/`label` (declared, so that
      registration never has to read data to find out).
    excluded_variants: variants not registered for this dataset, with the
      reason in a comment where the entry is declared.
    filter_fn: optional TFDS-example predicate (see make_loader).
    filter_reason: what `filter_fn` drops.
    description: one line on the task and any mapping choices.
    url: the TFDS catalog page.
  """
  name: str
  cluster: str
  source: TfdsSource
  map_fn: MapFn
  templates: Tuple[templates_lib.Template, ...]
  num_examples: Mapping[str, int]
  metric_fns: Tuple[Callable, ...]
  inversion_templates: Tuple[templates_lib.Template, ...] = ()
  has_options: bool = True
  excluded_variants: Tuple[str, ...] = ()
  filter_fn: Optional[Callable[..., tf.Tensor]] = None
  filter_reason: str = ''
  description: str = ''

  def spec(self) -> 'registry.DatasetSpec':
    missing = set(self.source.splits) ^ set(self.num_examples)
    if missing:
      raise ValueError(f'flan2021 {self.name}: splits and num_examples '
                       f'disagree on {sorted(missing)}.')
    return registry.DatasetSpec(
        name=self.name,
        source=SOURCE,
        cluster=self.cluster,
        load=make_loader(self.source, self.map_fn, self.name,
                         self.filter_fn, self.filter_reason),
        templates=self.templates,
        splits=tuple(self.source.splits),
        num_examples=dict(self.num_examples),
        metric_fns=tuple(self.metric_fns),
        inversion_templates=self.inversion_templates,
        description=(f'{self.description} TFDS: {self.source.pinned_name}.'
                     ).strip(),
        url=('https://www.tensorflow.org/datasets/catalog/'
             f'{self.source.builder_name}'),
        has_options=self.has_options,
    )


def bind(fn: Callable[..., Features], **kwargs) -> MapFn:
  """Binds keyword arguments of a shared map function."""
  return functools.partial(fn, **kwargs)
