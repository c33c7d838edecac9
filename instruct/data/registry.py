"""The task registry: every SeqIO task of the project is registered here.

There is one way to register a task: describe it as a `TaskSpec` and call
`register_task` (the only `seqio.TaskRegistry.add` in the project). Sources
with templates describe a dataset once, as a `DatasetSpec`, and
`register_dataset` makes one `TaskSpec` per prompt variant; evaluation
sources whose prompts are fixed (benchmarks, BBH, BIG-bench, robustness
probes, the quickstart's held-out-template tasks) build their `TaskSpec`s
directly, flagged `eval_only` (no train split, never in a training mixture).
Mixtures are registered by `instruct.data.mixtures`.

A dataset is declared once, as a `DatasetSpec` (where its examples come from,
which cluster it belongs to, its templates), and `register_dataset` turns it
into one SeqIO task per prompt variant (see `instruct.data.variants`), named
`f'{source}_{name}_{variant}'`:

  spec = DatasetSpec(name='rte', source='flan2021', cluster='nli',
                     load=my_load_fn, templates=RTE_TEMPLATES,
                     num_examples={'train': 2490, 'validation': 277})
  register_dataset(spec)   # flan2021_rte_zs_opt, flan2021_rte_fs_noopt, ...

Registering reads no data (so `tasks/` modules stay cheap to import), except
that a spec with `has_options=None` is inspected once through the
`element_spec` of its first split to see whether its examples have `options`;
declare `has_options` to avoid that.

Every task's source is a `seqio.FunctionDataSource` over `spec.load`, which
adds `idx` (enumeration order) when the data has none; formatting runs in the
tf.data graph, so TFDS sources work and iterator checkpointing keeps working.
Examples carry Flan's metadata features `_task_name` (the dataset name),
`_task_source`, `_template_type` and `_template_idx`, plus `_num_shots`.
"""

import dataclasses
import difflib
import functools
import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import seqio
import tensorflow as tf

from instruct import metrics
from instruct.data import cot_prompts
from instruct.data import features as features_lib
from instruct.data import templates as templates_lib
from instruct.data import variants as variants_lib
from instruct.errors import UserError

Template = templates_lib.Template

# Variant ids, in registration order (see instruct.data.variants).
VARIANTS = tuple(variants_lib.VARIANT_DEFS)
TEMPLATE_TYPES = ('zs_opt', 'zs_noopt', 'fs_opt', 'fs_noopt', 'cot', 'fs_cot',
                  'inv')
# Variants meant for training mixtures (everything but eval-only scoring).
TRAIN_VARIANTS = tuple(v for v in VARIANTS
                       if not variants_lib.VARIANT_DEFS[v].rank)
# Sources whose datasets must have at least this many templates.
MIN_TEMPLATES = {'flan2021': 10, 'builtin': 10}
_NAME_RE = re.compile(r'^[a-z0-9_]+$')


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """A dataset of the collection and how to prompt it.

  Attributes:
    name: unique within its source, [a-z0-9_]+, e.g. 'anli_r1'.
    source: sub-collection: 'flan2021', 'niv2', 'cot', 'builtin', ...
    cluster: task cluster, e.g. 'nli', 'sentiment', 'closed_book_qa'.
    load: `load(split)` -> dataset of canonical feature dicts in a
      deterministic order (scalar string/int features; `options` a 1-D string
      vector).
    templates: the zero-shot / few-shot templates.
    splits: splits `load` accepts; few-shot exemplars come from 'train' when
      present, else from the first split.
    num_examples: known split sizes (mixture rates and reports without
      reading the data); may be a lazy mapping.
    metric_fns: SeqIO metrics for generation variants (default exact match).
    postprocess_fn: SeqIO postprocessor for generation variants.
    inversion_templates: templates that generate the input from the answer.
    has_rationale: examples have `rationale` -> CoT variants.
    cot_templates: dataset-specific CoT templates (else `cot_prompts.COT_TEMPLATES`).
    description: free text.
    url: where the data comes from.
    has_options: whether examples (or templates) have answer options, which
      enables the `_opt` variants; None -> inferred (see module docstring).
  """
  name: str
  source: str
  cluster: str
  load: Callable[[str], tf.data.Dataset]
  templates: Sequence[Template]
  splits: Sequence[str] = ('train', 'validation')
  num_examples: Optional[Mapping[str, int]] = None
  metric_fns: Optional[Sequence[Callable]] = None
  postprocess_fn: Optional[Callable] = None
  inversion_templates: Sequence[Template] = ()
  has_rationale: bool = False
  cot_templates: Sequence[Template] = ()
  description: str = ''
  url: str = ''
  has_options: Optional[bool] = None

  @property
  def key(self) -> str:
    return f'{self.source}_{self.name}'


@dataclasses.dataclass(frozen=True)
class TaskInfo:
  """What a registered collection task is."""
  task: str
  source: str
  cluster: str
  dataset: str
  variant: str
  template_type: str
  num_templates: int
  num_examples: Optional[Mapping[str, int]]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One SeqIO task: what `register_task` needs, whoever the source is.

  Attributes:
    name: the SeqIO task name, [a-z0-9_]+.
    dataset_fn: SeqIO's `dataset_fn(split, shuffle_files, seed)` -> raw
      examples (a `tf.data.Dataset`); reads data only when called.
    splits: the splits the task has.
    preprocessors: the steps before tokenization (formatting, rank
      classification expansion); `register_task` appends tokenization,
      SeqIO's cache placeholder and EOS.
    output_features: SeqIO features; None -> `OUTPUT_FEATURES`.
    postprocess_fn: SeqIO postprocessor.
    metric_fns: SeqIO metrics (default exact match).
    num_input_examples: known split sizes, or None.
    eval_only: an evaluation task: no 'train' split, and training mixtures
      (`instruct.data.mixtures.register_capped_mixture`) refuse it.
  """
  name: str
  dataset_fn: Callable[..., tf.data.Dataset]
  splits: Sequence[str]
  preprocessors: Sequence[Callable] = ()
  output_features: Optional[Mapping[str, seqio.Feature]] = None
  postprocess_fn: Optional[Callable] = None
  metric_fns: Optional[Sequence[Callable]] = None
  num_input_examples: Optional[Mapping[str, int]] = None
  eval_only: bool = False


# key -> spec; task name -> (key, variant); task name -> its TaskSpec (every
# task registered through `register_task`).
_SPECS: Dict[str, DatasetSpec] = {}
_TASKS: Dict[str, tuple] = {}
_TASK_SPECS: Dict[str, TaskSpec] = {}

# --- Vocabulary and features (see `instruct.data.features`). ---------------

default_vocabulary = features_lib.default_vocabulary
DelegatingVocabulary = features_lib.DelegatingVocabulary
VOCABULARY = features_lib.VOCABULARY
output_features = features_lib.output_features
OUTPUT_FEATURES = features_lib.OUTPUT_FEATURES

# --- Names and lookup. -----------------------------------------------------


def task_name(source: str, name: str, variant: str) -> str:
  return f'{source}_{name}_{variant}'


def _unknown(what: str, name: str, known) -> UserError:
  close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
  hint = f' Did you mean: {", ".join(close)}?' if close else ''
  return UserError(f'{name!r} is not a registered collection {what} '
                   f'({len(known)} registered).{hint}')


def get_spec(name: str) -> DatasetSpec:
  """The spec of a registered task name (or of a spec key 'source_name')."""
  if name in _TASKS:
    return _SPECS[_TASKS[name][0]]
  if name in _SPECS:
    return _SPECS[name]
  raise _unknown('task', name, _TASKS)


def task_variant(name: str) -> str:
  if name not in _TASKS:
    raise _unknown('task', name, _TASKS)
  return _TASKS[name][1]


def task_info(name: str) -> TaskInfo:
  """Source, cluster, dataset, variant and sizes of a registered task."""
  spec = get_spec(name)
  variant = variants_lib.get_variant(task_variant(name))
  return TaskInfo(
      task=name, source=spec.source, cluster=spec.cluster, dataset=spec.name,
      variant=variant.name, template_type=variant.template_type,
      num_templates=len(_templates_for(spec, variant)),
      num_examples=(dict(spec.num_examples) if spec.num_examples is not None
                    else None))


def is_registered(name: str) -> bool:
  """Whether `name` is a task registered through `register_dataset`."""
  return name in _TASKS


def registered_specs() -> List[DatasetSpec]:
  return list(_SPECS.values())


def registered_tasks(source: Optional[str] = None,
                     variants: Optional[Sequence[str]] = None,
                     cluster: Optional[str] = None) -> List[str]:
  """Registered collection task names, filtered, in registration order."""
  out = []
  for name, (key, variant) in _TASKS.items():
    spec = _SPECS[key]
    if source is not None and spec.source != source:
      continue
    if cluster is not None and spec.cluster != cluster:
      continue
    if variants is not None and variant not in variants:
      continue
    out.append(name)
  return out


@functools.lru_cache(maxsize=None)
def _counted_examples(key: str, split: str) -> int:
  spec = _SPECS[key]
  return int(spec.load(split).reduce(tf.constant(0, tf.int64),
                                     lambda n, _: n + 1).numpy())


def num_examples(name: str, split: str = 'train') -> Optional[int]:
  """Examples in a task's split: declared, else counted (once, cached).

  Returns None when the task does not have the split.
  """
  spec = get_spec(name)
  variant = variants_lib.get_variant(task_variant(name))
  if split not in _task_splits(spec, variant):
    return None
  if spec.num_examples is not None and split in spec.num_examples:
    return int(spec.num_examples[split])
  return _counted_examples(spec.key, split)


# --- Registration. ---------------------------------------------------------


def _tokenize_steps() -> List:
  """Appended to every task's preprocessors."""
  return [seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(),
          seqio.preprocessors.append_eos_after_trim]


def _validate_task(spec: TaskSpec) -> None:
  if not isinstance(spec.name, str) or not _NAME_RE.match(spec.name):
    raise UserError(f'TaskSpec.name={spec.name!r} must match [a-z0-9_]+.')
  if not callable(spec.dataset_fn):
    raise UserError(f'Task {spec.name}: `dataset_fn` must be callable.')
  if isinstance(spec.splits, str) or not spec.splits:
    raise UserError(f'Task {spec.name}: `splits` must be a non-empty '
                    'sequence of split names.')
  if spec.eval_only and 'train' in spec.splits:
    raise UserError(f'Task {spec.name}: an eval_only task cannot have a '
                    "'train' split.")


def register_task(spec: TaskSpec) -> str:
  """Registers one SeqIO task; the project's only `TaskRegistry.add`.

  Idempotent: a task of the same name is replaced. Reads no data.

  Returns:
    The task name.
  """
  _validate_task(spec)
  if spec.name in seqio.TaskRegistry.names():
    seqio.TaskRegistry.remove(spec.name)
  seqio.TaskRegistry.add(
      spec.name,
      source=seqio.FunctionDataSource(
          dataset_fn=spec.dataset_fn, splits=tuple(spec.splits),
          num_input_examples=spec.num_input_examples),
      preprocessors=list(spec.preprocessors) + _tokenize_steps(),
      output_features=(spec.output_features
                       if spec.output_features is not None
                       else OUTPUT_FEATURES),
      postprocess_fn=spec.postprocess_fn,
      metric_fns=list(spec.metric_fns or [metrics.exact_match]))
  _TASK_SPECS[spec.name] = spec
  return spec.name


def unregister_task(name: str) -> None:
  """Removes a task registered by `register_task` (no error if absent)."""
  _TASK_SPECS.pop(name, None)
  _TASKS.pop(name, None)
  if name in seqio.TaskRegistry.names():
    seqio.TaskRegistry.remove(name)


def task_spec(name: str) -> TaskSpec:
  """The `TaskSpec` a task was registered with."""
  if name not in _TASK_SPECS:
    raise _unknown('task', name, _TASK_SPECS)
  return _TASK_SPECS[name]


def is_eval_only(name: str) -> bool:
  """Whether `name` was registered as an evaluation-only task."""
  spec = _TASK_SPECS.get(name)
  return spec is not None and spec.eval_only



def _templates_for(spec: DatasetSpec, variant: variants_lib.Variant):
  if variant.cot:
    return tuple(spec.cot_templates) or cot_prompts.COT_TEMPLATES
  if variant.inversion:
    return tuple(spec.inversion_templates)
  return tuple(spec.templates)


def _task_splits(spec: DatasetSpec, variant: variants_lib.Variant):
  if variant.rank:
    return tuple(s for s in spec.splits if s != 'train')
  return tuple(spec.splits)


def _with_idx(dataset: tf.data.Dataset) -> tf.data.Dataset:
  if variants_lib.INDEX_KEY in dataset.element_spec:
    return dataset.map(lambda f: dict(f, idx=tf.cast(f['idx'], tf.int64)))
  return dataset.enumerate().map(lambda i, f: dict(f, idx=i))



def _load(spec: DatasetSpec, split: str) -> tf.data.Dataset:
  if split not in spec.splits:
    raise UserError(f'Dataset {spec.key}: split {split!r} is not one of '
                    f'{list(spec.splits)}.')
  dataset = spec.load(split)
  if not isinstance(dataset, tf.data.Dataset):
    raise UserError(f'Dataset {spec.key}: load({split!r}) returned '
                    f'{type(dataset).__name__}, expected a tf.data.Dataset.')
  return _with_idx(dataset)


def _dataset_fn(split: str, shuffle_files: bool = False,
                seed: Optional[int] = None, *, key: str) -> tf.data.Dataset:
  """SeqIO dataset_fn: the spec's examples with `idx` and `_split`.

  The order is the spec's deterministic order; SeqIO's shuffle buffer does
  the shuffling for training, so `shuffle_files` and `seed` are unused.
  """
  del shuffle_files, seed
  dataset = _load(_SPECS[key], split)
  return dataset.map(lambda f: dict(f, **{variants_lib.SPLIT_KEY: split}))


def _pool_split(spec: DatasetSpec) -> str:
  return 'train' if 'train' in spec.splits else spec.splits[0]


# spec key -> (spec, whether its examples have `options`).
_OPTIONS_SEEN: Dict[str, tuple] = {}


def _inferred_has_options(spec: DatasetSpec) -> bool:
  """Peeks at the element_spec of the first split (no examples are read)."""
  cached = _OPTIONS_SEEN.get(spec.key)
  if cached is not None and cached[0] is spec:
    return cached[1]
  element = spec.load(spec.splits[0]).element_spec
  value = templates_lib.OPTIONS_FIELD in element
  _OPTIONS_SEEN[spec.key] = (spec, value)
  return value


def has_options(spec: DatasetSpec) -> bool:
  """Whether `_opt` variants apply: declared, from templates, or peeked."""
  if spec.has_options is not None:
    return spec.has_options
  if any(t.options is not None for t in spec.templates):
    return True
  return _inferred_has_options(spec)


def applicable_variants(spec: DatasetSpec) -> List[str]:
  """The variants that apply to a spec (see VARIANTS)."""
  out = []
  with_options = None
  for name in VARIANTS:
    v = variants_lib.VARIANT_DEFS[name]
    if v.cot and not spec.has_rationale:
      continue
    if v.inversion and not spec.inversion_templates:
      continue
    if v.rank and not _task_splits(spec, v):
      continue
    if v.needs_options:
      if with_options is None:
        with_options = has_options(spec)
      if not with_options:
        continue
    out.append(name)
  return out


def _validate(spec: DatasetSpec) -> None:
  for field in ('name', 'source', 'cluster'):
    value = getattr(spec, field)
    if not isinstance(value, str) or not _NAME_RE.match(value):
      raise UserError(f'DatasetSpec.{field}={value!r} must match [a-z0-9_]+.')
  if not callable(spec.load):
    raise UserError(f'Dataset {spec.key}: `load` must be callable.')
  if not spec.templates:
    raise UserError(f'Dataset {spec.key}: no templates.')
  minimum = MIN_TEMPLATES.get(spec.source, 1)
  if len(spec.templates) < minimum:
    raise UserError(f'Dataset {spec.key}: {len(spec.templates)} templates; '
                    f'{spec.source} datasets need at least {minimum}.')
  if isinstance(spec.splits, str) or not spec.splits:
    raise UserError(f'Dataset {spec.key}: `splits` must be a non-empty '
                    'sequence of split names.')
  for group in (spec.templates, spec.inversion_templates, spec.cot_templates):
    for t in group:
      if not isinstance(t, Template):
        raise UserError(f'Dataset {spec.key}: {t!r} is not a Template.')


def _compose(*fns):
  fns = [f for f in fns if f is not None]
  if not fns:
    return None
  if len(fns) == 1:
    return fns[0]

  def _postprocess(text, example=None, is_target=False):
    for fn in fns:
      text = fn(text, example=example, is_target=is_target)
    return text
  return _postprocess


def _register_task(spec: DatasetSpec, variant: variants_lib.Variant,
                   features: Mapping[str, seqio.Feature]) -> str:
  name = task_name(spec.source, spec.name, variant.name)
  prefix = f'{spec.key}:{variant.name}'
  templates = templates_lib.name_templates(prefix,
                                           _templates_for(spec, variant))
  renderer = variants_lib.Renderer(
      templates, variant.options, variants_lib.salt_for(name), name,
      question_templates=(
          templates_lib.name_templates(f'{spec.key}:q', spec.templates)
          if variant.cot else None),
      question_with_options=variant.cot and has_options(spec))
  vocabulary = features['inputs'].vocabulary if 'inputs' in features else (
      features['targets'].vocabulary)
  pool_split = _pool_split(spec)
  pipeline = [functools.partial(
      variants_lib.format_variant,
      renderer=renderer, variant=variant, task_name=name,
      dataset_name=spec.name, source=spec.source,
      pool_loader=functools.partial(_load, spec, pool_split),
      pool_split=pool_split, vocabulary=vocabulary)]
  if variant.rank:
    pipeline.append(variants_lib.rank_classification)
    postprocess_fn = metrics.rank_classification_target
    metric_fns = [metrics.rank_classification_accuracy]
  else:
    metric_fns = list(spec.metric_fns or [metrics.exact_match])
    extra = None
    if variant.cot:
      extra = cot_prompts.cot_answer_postprocessor
    elif variant.options == 'random':
      extra = variants_lib.strip_option_marker
    postprocess_fn = _compose(extra, spec.postprocess_fn)
  splits = _task_splits(spec, variant)
  num_input_examples = None
  if spec.num_examples is not None and all(s in spec.num_examples
                                           for s in splits):
    num_input_examples = _SplitCounts(spec.num_examples, splits)
  register_task(TaskSpec(
      name=name,
      dataset_fn=functools.partial(_dataset_fn, key=spec.key),
      splits=splits,
      preprocessors=pipeline,
      output_features=features,
      postprocess_fn=postprocess_fn,
      metric_fns=metric_fns,
      num_input_examples=num_input_examples,
      eval_only=variant.rank))
  _TASKS[name] = (spec.key, variant.name)
  return name


class _SplitCounts(Mapping):
  """A view of a spec's (possibly lazy) split sizes, limited to some splits."""

  def __init__(self, counts: Mapping[str, int], splits: Sequence[str]):
    self._counts = counts
    self._splits = tuple(splits)

  def __getitem__(self, split):
    if split not in self._splits:
      raise KeyError(split)
    return int(self._counts[split])

  def __iter__(self):
    return iter(self._splits)

  def __len__(self):
    return len(self._splits)

  def __repr__(self):
    return f'_SplitCounts(splits={self._splits})'


def register_dataset(spec: DatasetSpec,
                     variants: Optional[Sequence[str]] = None,
                     output_features: Optional[Mapping[str, seqio.Feature]]
                     = None) -> Dict[str, str]:
  """Registers one SeqIO task per variant of a dataset.

  Idempotent: registering a spec with the same source and name again replaces
  its tasks (tasks of variants no longer requested are removed).

  Args:
    spec: the dataset.
    variants: variant ids (see VARIANTS); None -> every variant that applies.
      A requested variant that does not apply is an error.
    output_features: SeqIO features (default `OUTPUT_FEATURES`, the
      delegating vocabulary).

  Returns:
    {variant: task name}.
  """
  _validate(spec)
  previous = _SPECS.get(spec.key)
  _SPECS[spec.key] = spec
  _counted_examples.cache_clear()
  try:
    applicable = applicable_variants(spec)
    if variants is None:
      chosen = applicable
    else:
      chosen = list(variants)
      for v in chosen:
        variants_lib.get_variant(v)
        if v not in applicable:
          raise UserError(
              f'Dataset {spec.key}: variant {v!r} does not apply (it needs '
              'options, a rationale, inversion templates or an eval split); '
              f'applicable: {applicable}.')
  except Exception:
    if previous is None:
      del _SPECS[spec.key]
    else:
      _SPECS[spec.key] = previous
    raise
  for name in [n for n, (k, _) in _TASKS.items() if k == spec.key]:
    unregister_task(name)
  features = output_features if output_features is not None else (
      OUTPUT_FEATURES)
  return {v: _register_task(spec, variants_lib.VARIANT_DEFS[v], features)
          for v in chosen}


def unregister_dataset(source: str, name: str) -> None:
  """Removes a dataset's spec and tasks (tests, notebooks)."""
  key = f'{source}_{name}'
  for task in [n for n, (k, _) in _TASKS.items() if k == key]:
    unregister_task(task)
  _SPECS.pop(key, None)
