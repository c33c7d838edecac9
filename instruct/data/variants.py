"""Prompt variants of a dataset, formatted inside the tf.data graph.

One dataset (an `instruct.data.registry.DatasetSpec`) becomes several SeqIO
tasks, one per *variant*, as in the Flan 2022 collection:

  * zero-shot with options (`zs_opt`), with randomised options (`zs_ropt`)
    and without options (`zs_noopt`);
  * few-shot (`fs_*`): k exemplars from the train split before the query,
    k drawn per example from (1, 2, 3, 5) or fixed (`fs1_*`, `fs2_*`...), or
    only exemplars formatted with the query's own template (`xs_*`, Flan's
    'x-shot'), pruned oldest-first to fit a token budget;
  * chain of thought (`cot`, `fs_cot`), see `instruct.data.cot`;
  * input inversion (`inv`): generate the input from the answer;
  * `zs_opt_rank`: the zero-shot-with-options prompt scored by rank
    classification (eval only).

Everything here is TensorFlow ops on feature dicts (no `py_function`, no
`from_generator`), so any source works, TFDS included, and tf.data iterator
checkpointing keeps working. Every template is rendered for every example and
the assigned one gathered (`idx % num_templates`), which keeps the graph
branch-free. Random choices (option style, number of shots, exemplars) are
stateless draws seeded by the example's `idx` and the task, so the same
example is always formatted the same way, whatever the iteration order.

Options formatting:

  * 'flan': the inputs, then a blank line, then `OPTIONS:` and one `- option`
    line per option (the Flan collection's deterministic style);
  * 'random': a header from `RANDOM_HEADERS`, item markers from
    `MARKER_STYLES` and a closing line from `RANDOM_CLOSINGS`, drawn per
    example. With lettered, numbered or roman markers the target answer is
    relabelled to the marker plus the text (e.g. '(B) no'), and
    `strip_option_marker` maps both back to the option text for scoring.

A template may place the options itself with an `{options_}` placeholder; then
nothing is appended, and `{options_}` is empty in variants without options.
"""

import dataclasses
import re
import zlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import gin
import seqio
import tensorflow as tf

from instruct.data import preprocessors
from instruct.data import templates as templates_lib
from instruct.errors import UserError

Template = templates_lib.Template

# Where a template wants its options block; '' in variants without options.
OPTIONS_PLACEHOLDER = 'options_'
FLAN_OPTIONS_HEADER = 'OPTIONS:'
OPTIONS_SEPARATOR = '\n\n'  # Between the rendered inputs and the options.

# Metadata features (Flan's names) and a few of our own.
TASK_NAME_KEY = preprocessors.TASK_NAME_KEY
TASK_SOURCE_KEY = '_task_source'
TEMPLATE_TYPE_KEY = '_template_type'
TEMPLATE_IDX_KEY = preprocessors.TEMPLATE_IDX_KEY
NUM_SHOTS_KEY = '_num_shots'
SPLIT_KEY = '_split'  # Added by the registry's source; consumed here.
INDEX_KEY = preprocessors.INDEX_KEY
METADATA_KEYS = (TASK_NAME_KEY, TASK_SOURCE_KEY, TEMPLATE_TYPE_KEY,
                 TEMPLATE_IDX_KEY, NUM_SHOTS_KEY)

FEW_SHOT_CHOICES = (1, 2, 3, 5)
DEFAULT_TOKEN_BUDGET = 1920

# --- Randomised options style. ---------------------------------------------

RANDOM_HEADERS = (
    'OPTIONS:',
    'Choose your answer from:',
    'Pick from:',
    'Available choices:',
    'Possible answers:',
    'Select one of the following.',
    'Answer options:',
    'Which of these is it?',
)
# '' appears twice so that about a third of the prompts have no closing line.
RANDOM_CLOSINGS = (
    '',
    '',
    'Answer:',
    'Your answer:',
    'Reply with one of the options above.',
    'The answer is one of the above.',
)


@dataclasses.dataclass(frozen=True)
class MarkerStyle:
  """How options are itemised: `pattern` with `{}` replaced by the label.

  kind: 'bullet' (the pattern is the marker itself, no relabelling) or the
  label alphabet: 'upper' (A, B, ...), 'lower' (a, b, ...), 'number'
  (1, 2, ...) or 'roman' (i, ii, ...).
  """
  kind: str
  pattern: str

  @property
  def relabels(self) -> bool:
    return self.kind != 'bullet'


MARKER_STYLES = (
    MarkerStyle('bullet', '-'),
    MarkerStyle('bullet', '*'),
    MarkerStyle('upper', '({})'),
    MarkerStyle('upper', '{}.'),
    MarkerStyle('lower', '{})'),
    MarkerStyle('number', '{}.'),
    MarkerStyle('number', '({})'),
    MarkerStyle('roman', '{}.'),
)

_ROMAN = ('i', 'ii', 'iii', 'iv', 'v', 'vi', 'vii', 'viii', 'ix', 'x', 'xi',
          'xii', 'xiii', 'xiv', 'xv', 'xvi', 'xvii', 'xviii', 'xix', 'xx',
          'xxi', 'xxii', 'xxiii', 'xxiv', 'xxv', 'xxvi')
LABEL_ALPHABETS = {
    'upper': tuple('ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
    'lower': tuple('abcdefghijklmnopqrstuvwxyz'),
    'number': tuple(str(i) for i in range(1, 27)),
    'roman': _ROMAN,
}
MAX_OPTIONS = 26


def _marker_regex() -> 're.Pattern':
  """Matches a leading marker of any relabelling style, plus its space."""
  alternatives = []
  for style in MARKER_STYLES:
    if not style.relabels:
      continue
    prefix, suffix = style.pattern.split('{}')
    labels = '|'.join(re.escape(x) for x in
                      sorted(LABEL_ALPHABETS[style.kind], key=len,
                             reverse=True))
    alternatives.append(f'{re.escape(prefix)}(?:{labels}){re.escape(suffix)}')
  return re.compile(r'^\s*(?:' + '|'.join(alternatives) + r')\s+')


_MARKER_RE = _marker_regex()


def strip_option_marker(text: Any, example: Optional[Mapping[str, Any]] = None,
                        is_target: bool = False) -> str:
  """SeqIO postprocessor: '(B) no' -> 'no'; text without a marker unchanged.

  Used by the randomised-options variant so that a prediction of the option
  text, with or without its marker, matches the relabelled target. Only the
  marker styles of `MARKER_STYLES` are recognised; an option that itself
  starts with such a marker (e.g. 'A. Lincoln') loses it on both sides, so
  targets and predictions still compare equal.
  """
  del example, is_target
  if isinstance(text, bytes):
    text = text.decode('utf-8')
  return _MARKER_RE.sub('', str(text), count=1)


# --- Variant definitions. --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variant:
  """How one SeqIO task formats a dataset.

  Attributes:
    name: the variant id, the last part of the task name.
    template_type: the Flan `_template_type` recorded on examples.
    options: 'none', 'flan' or 'random' (see module docstring).
    shots: () for zero-shot; else the k choices, drawn per example.
    same_template: exemplars use the query's template (Flan's 'x-shot').
    cot: chain of thought (needs `rationale`).
    inversion: uses the spec's inversion templates.
    rank: rank-classification scoring (eval only, needs options).
  """
  name: str
  template_type: str
  options: str = 'none'
  shots: Tuple[int, ...] = ()
  same_template: bool = False
  cot: bool = False
  inversion: bool = False
  rank: bool = False

  @property
  def few_shot(self) -> bool:
    return bool(self.shots)

  @property
  def needs_options(self) -> bool:
    return self.options != 'none' or self.rank


def _variants() -> Dict[str, Variant]:
  out = [
      Variant('zs_opt', 'zs_opt', options='flan'),
      Variant('zs_ropt', 'zs_opt', options='random'),
      Variant('zs_noopt', 'zs_noopt'),
      Variant('fs_opt', 'fs_opt', options='flan', shots=FEW_SHOT_CHOICES),
      Variant('fs_noopt', 'fs_noopt', shots=FEW_SHOT_CHOICES),
  ]
  for k in FEW_SHOT_CHOICES:
    out.append(Variant(f'fs{k}_opt', 'fs_opt', options='flan', shots=(k,)))
    out.append(Variant(f'fs{k}_noopt', 'fs_noopt', shots=(k,)))
  out += [
      Variant('xs_opt', 'fs_opt', options='flan', shots=FEW_SHOT_CHOICES,
              same_template=True),
      Variant('xs_noopt', 'fs_noopt', shots=FEW_SHOT_CHOICES,
              same_template=True),
      Variant('cot', 'cot', cot=True),
      Variant('fs_cot', 'fs_cot', cot=True, shots=FEW_SHOT_CHOICES),
      Variant('inv', 'inv', inversion=True),
      Variant('zs_opt_rank', 'zs_opt', options='flan', rank=True),
  ]
  return {v.name: v for v in out}


VARIANT_DEFS: Dict[str, Variant] = _variants()


def get_variant(name: str) -> Variant:
  if name not in VARIANT_DEFS:
    raise UserError(f'Unknown variant {name!r}; expected one of '
                    f'{sorted(VARIANT_DEFS)}.')
  return VARIANT_DEFS[name]


# --- Few-shot configuration. -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class FewShotConfig:
  """Few-shot prompt layout and exemplar pool.

  Attributes:
    separator: between exemplars, and between the last exemplar and the query.
    exemplar_separator: between an exemplar's inputs and its targets.
    token_budget: the inputs (exemplars + query) must fit in this many tokens
      of the task's vocabulary; exemplars are dropped oldest first until they
      do. The query itself is never cut (SeqIO trims it later if needed).
    pool_size: exemplars are drawn from this many train examples...
    shuffle_buffer: ...taken after a fixed-seed shuffle with this buffer.
    seed: the pool shuffle seed.
  """
  separator: str = '\n\n'
  exemplar_separator: str = '\n'
  token_budget: int = DEFAULT_TOKEN_BUDGET
  pool_size: int = 256
  shuffle_buffer: int = 4096
  seed: int = 1234


@gin.configurable
def few_shot_config(separator: str = '\n\n', exemplar_separator: str = '\n',
                    token_budget: int = DEFAULT_TOKEN_BUDGET,
                    pool_size: int = 256, shuffle_buffer: int = 4096,
                    seed: int = 1234) -> FewShotConfig:
  """The few-shot settings in effect (bind in gin to change them)."""
  if token_budget <= 0 or pool_size <= 0 or shuffle_buffer <= 0:
    raise UserError('few_shot_config: token_budget, pool_size and '
                    'shuffle_buffer must be positive.')
  return FewShotConfig(separator, exemplar_separator, token_budget, pool_size,
                       shuffle_buffer, seed)


# --- In-graph rendering. ---------------------------------------------------


def salt_for(task_name: str) -> int:
  """A stable per-task seed component (crc32, independent of PYTHONHASHSEED)."""
  return zlib.crc32(task_name.encode('utf-8')) & 0x7FFFFFFF


def _seed(idx: tf.Tensor, salt: int, stream: int) -> tf.Tensor:
  return tf.stack([tf.cast(idx, tf.int64),
                   tf.constant(salt * 64 + stream, tf.int64)])


def draw_index(idx: tf.Tensor, salt: int, stream: int, n) -> tf.Tensor:
  """A deterministic uniform int in [0, n) for example `idx`."""
  return tf.random.stateless_uniform([], seed=_seed(idx, salt, stream),
                                     minval=0, maxval=n, dtype=tf.int32)


def _markers(style: MarkerStyle, n: tf.Tensor) -> tf.Tensor:
  if not style.relabels:
    return tf.fill([n], style.pattern)
  # Wraps past the alphabet; such blocks are never chosen (see
  # random_options_block), but every style must be computable.
  labels = tf.gather(tf.constant(LABEL_ALPHABETS[style.kind]),
                     tf.math.floormod(tf.range(n), MAX_OPTIONS))
  prefix, suffix = style.pattern.split('{}')
  return tf.strings.join([prefix, labels, suffix])


def flan_options_block(options: tf.Tensor) -> tf.Tensor:
  """'OPTIONS:\\n- a\\n- b' for options ['a', 'b']."""
  items = tf.strings.reduce_join(tf.strings.join(['- ', options]),
                                 separator='\n')
  return tf.strings.join([FLAN_OPTIONS_HEADER, '\n', items])


def random_options_block(options: tf.Tensor, label: tf.Tensor,
                         idx: tf.Tensor, salt: int):
  """Options in a style drawn for this example.

  Returns:
    `(block, answer)`: the options text, and the answer as the target should
    state it ('(B) no' for lettered markers, the option text for bullets).
  """
  n = tf.size(options)
  header = tf.gather(tf.constant(RANDOM_HEADERS),
                     draw_index(idx, salt, 1, len(RANDOM_HEADERS)))
  closing = tf.gather(tf.constant(RANDOM_CLOSINGS),
                      draw_index(idx, salt, 2, len(RANDOM_CLOSINGS)))
  style = draw_index(idx, salt, 3, len(MARKER_STYLES))
  # More options than any label alphabet has letters (e.g. ReCoRD's entity
  # lists): fall back to the first style, a plain bullet that relabels nothing.
  style = tf.where(n > MAX_OPTIONS, 0, style)
  blocks, answers = [], []
  answer_text = tf.gather(options, label)
  for s in MARKER_STYLES:
    markers = _markers(s, n)
    items = tf.strings.reduce_join(
        tf.strings.join([markers, options], separator=' '), separator='\n')
    blocks.append(items)
    if s.relabels:
      answers.append(tf.strings.join([tf.gather(markers, label), answer_text],
                                     separator=' '))
    else:
      answers.append(answer_text)
  items = tf.gather(tf.stack(blocks), style)
  block = tf.strings.join([header, '\n', items])
  block = tf.cond(tf.equal(tf.strings.length(closing), 0),
                  lambda: block,
                  lambda: tf.strings.join([block, '\n', closing]))
  return block, tf.gather(tf.stack(answers), style)


def _label_of(features: Mapping[str, tf.Tensor], options: tf.Tensor,
              answer: tf.Tensor, where: str) -> tf.Tensor:
  """The `label` feature, or the position of `answer` among the options."""
  if templates_lib.LABEL_FIELD in features:
    return tf.cast(features[templates_lib.LABEL_FIELD], tf.int32)
  hits = tf.cast(tf.equal(options, answer), tf.int32)
  check = tf.debugging.assert_equal(
      tf.reduce_sum(hits) > 0, True,
      message=f'{where}: the answer is not one of the options and there is '
      'no `label` feature')
  with tf.control_dependencies([check]):
    return tf.cast(tf.argmax(hits), tf.int32)


@dataclasses.dataclass
class Rendered:
  """Per-template renderings of one example (leading axis: templates)."""
  inputs: tf.Tensor  # [T] strings
  targets: tf.Tensor  # [T] strings
  option_targets: Optional[List[tf.Tensor]] = None  # T vectors, [n] each
  label: Optional[tf.Tensor] = None


class Renderer:
  """Renders an example with every template of a variant, in TensorFlow.

  Args:
    templates: the templates this variant uses (regular, CoT or inversion).
    options: 'none', 'flan' or 'random'.
    salt: per-task seed component for random draws.
    where: the task name, for error messages.
    question_templates: CoT only: regular templates used to write the
      `question` field when the example has none (the zero-shot prompt of the
      template assigned to the example, with options when it has them).
    question_with_options: whether that question lists the options.
  """

  def __init__(self, templates: Sequence[Template], options: str, salt: int,
               where: str,
               question_templates: Optional[Sequence[Template]] = None,
               question_with_options: bool = False):
    if not templates:
      raise UserError(f'{where}: no templates to format with.')
    if options not in ('none', 'flan', 'random'):
      raise ValueError(f'Unknown options style {options!r}.')
    self.templates = tuple(templates)
    self.options = options
    self.salt = salt
    self.where = where
    self.question = None
    if question_templates:
      self.question = Renderer(question_templates,
                               'flan' if question_with_options else 'none',
                               salt, where)

  @property
  def num_templates(self) -> int:
    return len(self.templates)

  def _one(self, template: Template, features: Mapping[str, tf.Tensor],
           want_option_targets: bool):
    idx = features[INDEX_KEY]
    values, options = preprocessors.resolve_fields(template, features)
    values = dict(values)
    uses_placeholder = OPTIONS_PLACEHOLDER in template.fields
    block = None
    label = None
    if self.options != 'none' or want_option_targets:
      if options is None:
        raise templates_lib.TemplateError(
            f'{self.where}: template {template.display_name} has no options '
            'and the example has no `options` feature; this variant needs '
            'them.')
      label = _label_of(features, options, values[templates_lib.ANSWER_FIELD],
                        self.where)
      if self.options == 'flan':
        block = flan_options_block(options)
      elif self.options == 'random':
        block, answer = random_options_block(options, label, idx, self.salt)
        values[templates_lib.ANSWER_FIELD] = answer
    values[OPTIONS_PLACEHOLDER] = block if (
        block is not None and uses_placeholder) else tf.constant('')
    inputs = preprocessors.render_segments(template.inputs_segments, values,
                                           template)
    if block is not None and not uses_placeholder:
      inputs = tf.strings.join([inputs, OPTIONS_SEPARATOR, block])
    targets = preprocessors.render_segments(template.targets_segments, values,
                                            template)
    option_targets = None
    if want_option_targets:
      option_values = dict(values)
      option_values[templates_lib.ANSWER_FIELD] = options
      option_targets = tf.broadcast_to(
          preprocessors.render_segments(template.targets_segments,
                                        option_values, template),
          tf.shape(options))
    return inputs, targets, option_targets, label

  def with_question(self, features: Mapping[str, tf.Tensor]):
    """Adds a `question` field (CoT) when the example lacks one."""
    if self.question is None or 'question' in features:
      return features
    q = self.question.render(features)
    position = self.position(features, self.question.num_templates)
    features = dict(features)
    features['question'] = tf.gather(q.inputs, position)
    return features

  def check_fields(self, available) -> None:
    """Raises MissingFieldError (naming template and field) before tracing."""
    available = set(available) | {OPTIONS_PLACEHOLDER}
    if self.question is not None and 'question' not in available:
      self.question.check_fields(available)
      available.add('question')
    for template in self.templates:
      template.check_fields(available)

  @staticmethod
  def position(features: Mapping[str, tf.Tensor], num: int) -> tf.Tensor:
    return tf.math.floormod(tf.cast(features[INDEX_KEY], tf.int32), num)

  def render(self, features: Mapping[str, tf.Tensor],
             want_option_targets: bool = False) -> Rendered:
    features = self.with_question(features)
    features = dict(features)
    # Templates may reference {options_}; the renderer supplies it.
    features.setdefault(OPTIONS_PLACEHOLDER, tf.constant(''))
    outs = [self._one(t, features, want_option_targets)
            for t in self.templates]
    return Rendered(
        inputs=tf.stack([o[0] for o in outs]),
        targets=tf.stack([o[1] for o in outs]),
        option_targets=([o[2] for o in outs] if want_option_targets
                        else None),
        label=outs[0][3])


# --- Few-shot. -------------------------------------------------------------


@dataclasses.dataclass
class ExemplarPool:
  """Formatted train examples: idx [P], inputs/targets [P, T], assigned [P]."""
  idx: tf.Tensor
  inputs: tf.Tensor
  targets: tf.Tensor
  assigned: tf.Tensor

  @property
  def size(self) -> int:
    return int(self.idx.shape[0])


def build_exemplar_pool(pool_dataset: tf.data.Dataset, renderer: Renderer,
                        config: FewShotConfig, where: str) -> ExemplarPool:
  """Formats up to `pool_size` shuffled train examples with every template.

  The pool is read once, when the task's dataset is built (not at import),
  and becomes constants of the formatting graph.
  """
  def _fmt(features):
    r = renderer.render(features)
    return {
        'idx': tf.cast(features[INDEX_KEY], tf.int32),
        'inputs': r.inputs,
        'targets': r.targets,
        'assigned': Renderer.position(features, renderer.num_templates),
    }

  ds = pool_dataset.shuffle(config.shuffle_buffer, seed=config.seed,
                            reshuffle_each_iteration=False)
  ds = ds.take(config.pool_size).map(_fmt).batch(config.pool_size)
  for batch in ds.take(1):
    return ExemplarPool(**batch)
  raise UserError(f'{where}: few-shot needs exemplars, but the split they are '
                  'drawn from is empty.')


def count_tokens(vocabulary: seqio.Vocabulary, text: tf.Tensor) -> tf.Tensor:
  return tf.size(vocabulary.encode_tf(text))


def few_shot_prompt(query_inputs: tf.Tensor, query_position: tf.Tensor,
                    idx: tf.Tensor, exclude_self: tf.Tensor,
                    pool: ExemplarPool, variant: Variant,
                    config: FewShotConfig, vocabulary: seqio.Vocabulary,
                    salt: int):
  """Prepends exemplars to a query, pruned oldest-first to the token budget.

  Args:
    query_inputs: the query's formatted inputs (scalar string).
    query_position: the query's template position (for same-template mode).
    idx: the query's example index.
    exclude_self: whether the query comes from the pool's split, so the pool
      example with the same idx must not be its own exemplar.
    pool: formatted exemplars.
    variant: gives the k choices and same-template mode.
    config: separators and budget.
    vocabulary: counts tokens for the budget.
    salt: per-task seed component.

  Returns:
    `(inputs, num_shots)`.
  """
  shots = tf.constant(variant.shots, tf.int32)
  k = tf.gather(shots, draw_index(idx, salt, 4, len(variant.shots)))
  order = tf.argsort(tf.random.stateless_uniform(
      [pool.size], seed=_seed(idx, salt, 5)))
  keep = tf.logical_or(tf.logical_not(exclude_self),
                       tf.not_equal(tf.gather(pool.idx, order),
                                    tf.cast(idx, tf.int32)))
  order = tf.boolean_mask(order, keep)
  chosen = order[:k]
  if variant.same_template:
    positions = tf.fill(tf.shape(chosen), query_position)
  else:
    positions = tf.gather(pool.assigned, chosen)
  at = tf.stack([chosen, positions], axis=1)
  blocks = tf.strings.join(
      [tf.gather_nd(pool.inputs, at), tf.gather_nd(pool.targets, at)],
      separator=config.exemplar_separator)
  n = tf.size(blocks)

  def _text(start):
    parts = tf.concat([blocks[start:], tf.expand_dims(query_inputs, 0)], 0)
    return tf.strings.reduce_join(parts, separator=config.separator)

  def _too_long(start):
    return tf.logical_and(
        start < n,
        count_tokens(vocabulary, _text(start)) > config.token_budget)

  start, = tf.while_loop(_too_long, lambda s: (s + 1,), (tf.constant(0),))
  return _text(start), n - start


# --- The SeqIO preprocessor. -----------------------------------------------


def format_variant(
    dataset: tf.data.Dataset,
    *,
    renderer: Renderer,
    variant: Variant,
    task_name: str,
    dataset_name: str,
    source: str,
    pool_loader: Optional[Callable[[], tf.data.Dataset]] = None,
    pool_split: str = 'train',
    vocabulary: Optional[seqio.Vocabulary] = None,
    few_shot: Optional[FewShotConfig] = None,
) -> tf.data.Dataset:
  """Formats raw examples into one variant's prompts (a SeqIO preprocessor).

  Args:
    dataset: raw examples with `idx` (and `_split` for few-shot).
    renderer: renders the variant's templates.
    variant: what to build.
    task_name: the SeqIO task name (error messages, seeds).
    dataset_name: recorded in `_task_name`.
    source: recorded in `_task_source`.
    pool_loader: few-shot only: returns the raw exemplar split with `idx`.
    pool_split: the split `pool_loader` reads (self-exclusion).
    vocabulary: few-shot only: counts tokens for the budget.
    few_shot: few-shot settings (default: `few_shot_config()`).

  Returns:
    `inputs`, `targets`, `idx` and the metadata features; for rank variants
    also `options` (one target per option) and `label`.
  """
  salt = salt_for(task_name)
  renderer.check_fields(dataset.element_spec.keys())
  pool = None
  if variant.few_shot:
    few_shot = few_shot or few_shot_config()
    if pool_loader is None or vocabulary is None:
      raise ValueError(f'{task_name}: few-shot needs pool_loader and '
                       'vocabulary.')
    pool = build_exemplar_pool(pool_loader(), renderer, few_shot, task_name)

  def _format(features):
    idx = features[INDEX_KEY]
    r = renderer.render(features, want_option_targets=variant.rank)
    position = Renderer.position(features, renderer.num_templates)
    inputs = tf.gather(r.inputs, position)
    num_shots = tf.constant(0, tf.int32)
    if pool is not None:
      exclude_self = tf.equal(features[SPLIT_KEY], pool_split)
      inputs, num_shots = few_shot_prompt(
          inputs, position, idx, exclude_self, pool, variant, few_shot,
          vocabulary, salt)
    out = {
        'inputs': inputs,
        'targets': tf.gather(r.targets, position),
        INDEX_KEY: tf.cast(idx, tf.int32),
        TASK_NAME_KEY: tf.constant(dataset_name),
        TASK_SOURCE_KEY: tf.constant(source),
        TEMPLATE_TYPE_KEY: tf.constant(variant.template_type),
        TEMPLATE_IDX_KEY: position,
        NUM_SHOTS_KEY: num_shots,
    }
    if variant.rank:
      # Templates of one dataset verbalise the same labels, so they have the
      # same number of options and the renderings stack.
      out[templates_lib.OPTIONS_FIELD] = tf.gather(
          tf.stack(r.option_targets), position)
      out[templates_lib.LABEL_FIELD] = r.label
    return out

  return dataset.map(_format, num_parallel_calls=tf.data.AUTOTUNE)


def rank_classification(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """`preprocessors.rank_classification` keeping all metadata features."""
  return preprocessors.rank_classification(
      dataset, passthrough_keys=METADATA_KEYS)
