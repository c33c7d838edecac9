"""SeqIO preprocessors for instruction templates and rank classification.

Formatting happens inside the tf.data graph (rather than in the Python data
source) so the same preprocessor works on any SeqIO source, e.g. TFDS datasets
whose fields are tensors. `Template.format` in `instruct.data.templates` is the
pure-Python reference; both produce identical text.
"""

from typing import Mapping, Optional, Sequence

import tensorflow as tf

from instruct.data import templates as templates_lib

# Metadata features, as in FLAN: which task and template produced an example.
TASK_NAME_KEY = '_task_name'
TEMPLATE_IDX_KEY = '_template_idx'
INDEX_KEY = 'idx'


def _to_text(value: tf.Tensor, field: str,
             template: templates_lib.Template) -> tf.Tensor:
  """Converts a feature to a string tensor, mirroring `value_to_text`."""
  if value.dtype == tf.string:
    return value
  if value.dtype.is_integer:
    return tf.strings.as_string(value)
  raise templates_lib.TemplateError(
      f'Template {template.display_name}: feature {field!r} has unsupported '
      f'dtype {value.dtype.name}; use string or integer features.')


def _render(segments: templates_lib.Segments,
            values: Mapping[str, tf.Tensor],
            template: templates_lib.Template) -> tf.Tensor:
  """Joins literal text and placeholder values of a parsed pattern."""
  pieces = []
  for literal, field in segments:
    if literal:
      pieces.append(tf.constant(literal))
    if field is not None:
      pieces.append(_to_text(values[field], field, template))
  if not pieces:
    return tf.constant('')
  # tf.strings.join broadcasts scalars against a vector (used when rendering
  # the targets once per answer option).
  return tf.strings.join(pieces)


def _resolve(template: templates_lib.Template,
             features: Mapping[str, tf.Tensor]):
  """Returns (values, options) with a template's own options applied."""
  template.check_fields(features.keys())
  values = dict(features)
  options = features.get(templates_lib.OPTIONS_FIELD)
  if template.options is not None:
    options = tf.constant(template.options)
    label = tf.cast(features[templates_lib.LABEL_FIELD], tf.int32)
    values[templates_lib.ANSWER_FIELD] = tf.gather(options, label)
  return values, options


def resolve_fields(template: templates_lib.Template,
                   features: Mapping[str, tf.Tensor]):
  """Public `_resolve`: `(values, options)` with the template's options applied.

  `values[answer]` is the template's option for `label` when the template has
  its own options; `options` is the option vector in effect (None if none).
  """
  return _resolve(template, features)


def render_segments(segments: templates_lib.Segments,
                    values: Mapping[str, tf.Tensor],
                    template: templates_lib.Template) -> tf.Tensor:
  """Public `_render`: joins a parsed pattern's literals and field values."""
  return _render(segments, values, template)


def format_template(template: templates_lib.Template,
                    features: Mapping[str, tf.Tensor]):
  """Formats one example's features with a template, in TensorFlow.

  Args:
    template: the template.
    features: the example's (scalar or, for `options`, vector) features.

  Returns:
    `(inputs, targets, option_targets)`: scalar string tensors, and a vector of
    the targets pattern rendered once per option (None without options).

  Raises:
    MissingFieldError: when a placeholder's feature is missing (at trace time).
  """
  values, options = _resolve(template, features)
  inputs = _render(template.inputs_segments, values, template)
  targets = _render(template.targets_segments, values, template)
  option_targets = None
  if options is not None:
    option_values = dict(values)
    option_values[templates_lib.ANSWER_FIELD] = options
    option_targets = _render(template.targets_segments, option_values,
                             template)
    # A targets pattern without {answer} renders a scalar; give it one entry
    # per option so rank classification still sees every option.
    option_targets = tf.broadcast_to(option_targets, tf.shape(options))
  return inputs, targets, option_targets


def apply_templates(
    dataset: tf.data.Dataset,
    templates: Sequence[templates_lib.Template],
    template_ids: Optional[Sequence[int]] = None,
    task_name: str = '',
    with_options: bool = False,
    index_key: str = INDEX_KEY,
) -> tf.data.Dataset:
  """Formats each example with the template assigned to its index.

  Example `i` (its `index_key` feature) uses template
  `template_ids[i % len(template_ids)]`, so templates are used evenly and the
  assignment is reproducible.

  Args:
    dataset: examples with the fields the templates reference and an integer
      `index_key` feature.
    templates: the task's full template list.
    template_ids: which templates to use (e.g. only the seen ones); defaults
      to all of them.
    task_name: recorded in the `_task_name` feature.
    with_options: also output `options` (the targets rendered for every answer
      option) and `label`, as consumed by `rank_classification`.
    index_key: the feature holding the example index.

  Returns:
    A dataset of `inputs`, `targets` (strings), `idx` (int32), `_task_name`
    (string), `_template_idx` (int32, an index into `templates`), and with
    `with_options` also `options` (string vector) and `label` (int32).
  """
  templates = tuple(templates)
  ids = (tuple(range(len(templates))) if template_ids is None
         else tuple(template_ids))
  if not ids:
    raise ValueError(f'Task {task_name!r}: no templates selected.')
  chosen = [templates[i] for i in ids]

  def _format(features):
    position = tf.math.floormod(tf.cast(features[index_key], tf.int32),
                                len(ids))
    formatted = [format_template(t, features) for t in chosen]
    # Every template is rendered and the assigned one gathered: with a handful
    # of short templates this is cheap and keeps the graph branch-free.
    out = {
        'inputs': tf.gather(tf.stack([f[0] for f in formatted]), position),
        'targets': tf.gather(tf.stack([f[1] for f in formatted]), position),
        INDEX_KEY: tf.cast(features[index_key], tf.int32),
        TASK_NAME_KEY: tf.constant(task_name),
        TEMPLATE_IDX_KEY: tf.gather(tf.constant(ids, tf.int32), position),
    }
    if with_options:
      if any(f[2] is None for f in formatted):
        raise templates_lib.TemplateError(
            f'Task {task_name!r}: with_options=True needs an `options` '
            'feature or templates with their own options.')
      # All templates of a task must have the same number of options, since
      # they verbalise the same labels.
      out[templates_lib.OPTIONS_FIELD] = tf.gather(
          tf.stack([f[2] for f in formatted]), position)
      out[templates_lib.LABEL_FIELD] = tf.cast(
          features[templates_lib.LABEL_FIELD], tf.int32)
    return out

  return dataset.map(_format, num_parallel_calls=tf.data.AUTOTUNE)


def rank_classification(
    dataset: tf.data.Dataset,
    inputs_key: str = 'inputs',
    options_key: str = templates_lib.OPTIONS_FIELD,
    label_key: str = templates_lib.LABEL_FIELD,
    index_key: str = INDEX_KEY,
    passthrough_keys: Sequence[str] = (TASK_NAME_KEY, TEMPLATE_IDX_KEY),
) -> tf.data.Dataset:
  """Expands each example into one example per answer option.

  The model then scores every (inputs, option) pair, and the predicted class
  is the option with the highest log-likelihood (see
  `instruct.metrics.rank_classification_accuracy`).

  Args:
    dataset: examples with `inputs`, `options` (string vector), `label` (index
      of the correct option) and an integer example index.
    inputs_key: feature with the model input.
    options_key: feature with the candidate targets.
    label_key: feature with the index of the correct option.
    index_key: feature identifying the original example; it groups the
      expanded examples for the metric, so it must be unique per example.
    passthrough_keys: scalar features copied to every expanded example when
      present.

  Returns:
    A dataset with, per option: `inputs`, `targets` (the option text), `idx`
    (int32 id of the original example), `num_options` (int32), `is_correct`
    (int32 0/1; not bool,
    which SeqIO cannot serialise to tf.Example under recent protobuf), plus
    the passthrough features.
  """

  def _expand(features):
    options = features[options_key]
    num_options = tf.size(options)
    label = tf.cast(features[label_key], tf.int32)
    checks = [
        tf.debugging.assert_greater_equal(
            label, 0, message='rank_classification: negative label'),
        tf.debugging.assert_less(
            label, num_options,
            message='rank_classification: label >= number of options'),
    ]
    with tf.control_dependencies(checks):
      is_correct = tf.cast(tf.equal(tf.range(num_options), label), tf.int32)

    def _repeat(value):
      return tf.repeat(tf.expand_dims(value, 0), num_options, axis=0)

    out = {
        'inputs': _repeat(features[inputs_key]),
        'targets': options,
        'idx': _repeat(tf.cast(features[index_key], tf.int32)),
        'is_correct': is_correct,
        # Lets the metric tell a complete example from one cut short by an
        # evaluation cap (SeqIO caps expanded rows, not examples).
        'num_options': _repeat(num_options),
    }
    for key in passthrough_keys:
      if key in features:
        out[key] = _repeat(features[key])
    return out

  return dataset.map(_expand, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
