"""Instruction templates: turn an example's fields into (inputs, targets).

A `Template` is a pair of patterns written with named `{field}` placeholders,
in the spirit of FLAN's instruction templates:

  Template(inputs='Is {number} even or odd?', targets='{answer}')

Formatting an example (a mapping from field name to value) substitutes each
placeholder with the field's text. Field values may be `str`, `bytes` (UTF-8)
or integers; anything else is rejected rather than silently `str()`-ed, so
that the pure-Python formatter here and the TensorFlow formatter in
`instruct.data.preprocessors` always produce byte-identical text.

Classification conventions (shared by the built-in tasks and the
rank-classification preprocessor):

  * `options`: the candidate answers (a sequence of strings),
  * `label`: the index of the correct option,
  * `answer`: the correct option's text (`options[label]`).

A template may carry its own `options` (e.g. ('yes', 'no') for a question
phrased as "Is it positive?"). Such a template maps the example's `label` onto
its own option texts, so one label can be verbalised differently per template.

Only plain `{name}` placeholders are supported: no positional `{}`, no
attribute/index access and no format specs or conversions, because those have
no TensorFlow equivalent. Literal braces are written `{{` and `}}`.
"""

import dataclasses
import functools
import numbers
import string
from typing import Any, Collection, List, Mapping, Optional, Sequence, Tuple

ANSWER_FIELD = 'answer'
LABEL_FIELD = 'label'
OPTIONS_FIELD = 'options'

# A parsed pattern: (literal_text, field_name or None) pairs, in order.
Segments = Tuple[Tuple[str, Optional[str]], ...]


class MissingFieldError(KeyError):
  """A template references a field that the example does not have."""

  def __init__(self, template_name: str, field: str,
               available: Collection[str]):
    self.template_name = template_name
    self.field = field
    self.available = tuple(sorted(available))
    self.message = (
        f'Template {template_name} references field {field!r}, which is '
        f'missing from the example (available fields: {list(self.available)}).'
    )
    super().__init__(self.message)

  def __str__(self) -> str:
    # KeyError.__str__ would repr() the message, adding quotes and escapes.
    return self.message


class TemplateError(ValueError):
  """A template pattern or template/example combination is invalid."""


@functools.lru_cache(maxsize=None)
def parse_pattern(pattern: str) -> Segments:
  """Splits a pattern into literal text and named placeholders.

  Args:
    pattern: a `str.format`-style pattern using only named placeholders.

  Returns:
    A tuple of `(literal, field)` pairs; `field` is None for trailing text.

  Raises:
    TemplateError: for malformed patterns or unsupported placeholder syntax.
  """
  segments = []
  try:
    parsed = list(string.Formatter().parse(pattern))
  except ValueError as e:
    raise TemplateError(f'Malformed template pattern {pattern!r}: {e}') from e
  for literal, field, format_spec, conversion in parsed:
    if field is not None:
      if not field.isidentifier():
        raise TemplateError(
            f'Placeholder {{{field}}} in {pattern!r} is not a plain field '
            'name; only {name} placeholders are supported.')
      if format_spec or conversion:
        raise TemplateError(
            f'Placeholder {{{field}}} in {pattern!r} uses a format spec or '
            'conversion, which is not supported.')
    segments.append((literal, field))
  return tuple(segments)


def value_to_text(value: Any, field: str = '?',
                  template_name: str = '?') -> str:
  """Converts a field value to the text substituted into a template."""
  if isinstance(value, str):
    return value
  if isinstance(value, bytes):
    return value.decode('utf-8')
  # bool is an Integral, but 'True' is almost surely not what a template
  # author meant to show the model.
  if isinstance(value, numbers.Integral) and not isinstance(value, bool):
    return str(int(value))
  raise TemplateError(
      f'Template {template_name}: field {field!r} has unsupported type '
      f'{type(value).__name__}; use str, bytes or int.')


@dataclasses.dataclass(frozen=True)
class Template:
  """An instruction template.

  Attributes:
    inputs: pattern for the model input (instruction plus example text).
    targets: pattern for the expected output; defaults to the answer.
    options: optional template-specific answer options. When set, the answer
      is `options[example['label']]` instead of `example['answer']`, and the
      candidates for rank classification are these options.
    name: identifier used in error messages, e.g. 'sentiment:3'.
  """
  inputs: str
  targets: str = '{' + ANSWER_FIELD + '}'
  options: Optional[Tuple[str, ...]] = None
  name: str = ''

  def __post_init__(self):
    # Fail at definition time rather than when the first example arrives.
    parse_pattern(self.inputs)
    parse_pattern(self.targets)
    if self.options is not None:
      if isinstance(self.options, str):
        raise TemplateError(
            f'Template {self.display_name}: options must be a sequence of '
            'strings, not a single string.')
      # Frozen dataclass: normalise a list to a (hashable) tuple.
      object.__setattr__(self, 'options', tuple(self.options))
      if len(self.options) < 2:
        raise TemplateError(
            f'Template {self.display_name}: needs at least 2 options.')

  @property
  def display_name(self) -> str:
    """The name used in messages: `name`, or the inputs pattern."""
    return repr(self.name) if self.name else f'with inputs {self.inputs!r}'

  @property
  def inputs_segments(self) -> Segments:
    return parse_pattern(self.inputs)

  @property
  def targets_segments(self) -> Segments:
    return parse_pattern(self.targets)

  @property
  def fields(self) -> Tuple[str, ...]:
    """Names of all placeholders in `inputs` and `targets`, in order."""
    names = []
    for _, field in self.inputs_segments + self.targets_segments:
      if field is not None and field not in names:
        names.append(field)
    return tuple(names)

  def required_fields(self) -> Tuple[str, ...]:
    """Fields an example must provide for this template to format it.

    A template with its own options derives `answer` from `label`, so it
    requires `label` instead of `answer`.
    """
    required = []
    for field in self.fields:
      if field == ANSWER_FIELD and self.options is not None:
        field = LABEL_FIELD
      if field not in required:
        required.append(field)
    return tuple(required)

  def check_fields(self, available: Collection[str]) -> None:
    """Raises MissingFieldError if an example lacking fields would fail."""
    for field in self.required_fields():
      if field not in available:
        raise MissingFieldError(self.display_name, field, available)

  def _values(self, fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """Returns the example's fields with `answer`/`options` resolved."""
    self.check_fields(fields.keys())
    if self.options is None:
      return fields
    label = fields[LABEL_FIELD]
    if (not isinstance(label, numbers.Integral) or isinstance(label, bool) or
        not 0 <= label < len(self.options)):
      raise TemplateError(
          f'Template {self.display_name}: label {label!r} is not a valid '
          f'index into its options {self.options}.')
    values = dict(fields)
    values[ANSWER_FIELD] = self.options[label]
    values[OPTIONS_FIELD] = self.options
    return values

  def _render(self, segments: Segments, values: Mapping[str, Any]) -> str:
    pieces = []
    for literal, field in segments:
      pieces.append(literal)
      if field is not None:
        pieces.append(value_to_text(values[field], field, self.display_name))
    return ''.join(pieces)

  def format(self, fields: Mapping[str, Any]) -> Tuple[str, str]:
    """Formats an example.

    Args:
      fields: the example's fields.

    Returns:
      The `(inputs, targets)` strings.

    Raises:
      MissingFieldError: if a placeholder's field is missing; the message names
        the template and the field.
      TemplateError: if a value has an unsupported type or the label is not a
        valid index into the template's options.
    """
    values = self._values(fields)
    return (self._render(self.inputs_segments, values),
            self._render(self.targets_segments, values))

  def answer_options(self, fields: Mapping[str, Any]) -> Optional[List[str]]:
    """Returns the answer options in effect for `fields`, or None."""
    if self.options is not None:
      return list(self.options)
    if OPTIONS_FIELD not in fields:
      return None
    return [value_to_text(o, OPTIONS_FIELD, self.display_name)
            for o in fields[OPTIONS_FIELD]]

  def format_options(self,
                     fields: Mapping[str, Any]) -> Optional[List[str]]:
    """Formats the targets pattern once per answer option.

    These are the candidate targets for rank classification: for a targets
    pattern 'Answer: {answer}' and options ('yes', 'no') they are
    ['Answer: yes', 'Answer: no'], in label order.

    Args:
      fields: the example's fields.

    Returns:
      One formatted target per option, or None if neither the template nor the
      example has options.
    """
    options = self.answer_options(fields)
    if options is None:
      return None
    values = dict(self._values(fields))
    formatted = []
    for option in options:
      values[ANSWER_FIELD] = option
      formatted.append(self._render(self.targets_segments, values))
    return formatted


def template_index(example_index: int, num_templates: int) -> int:
  """Deterministic, evenly balanced template assignment: `index % num`."""
  if num_templates <= 0:
    raise ValueError('num_templates must be positive.')
  return example_index % num_templates


def select_template(templates: Sequence[Template],
                    example_index: int) -> Tuple[int, Template]:
  """Returns `(position, template)` assigned to the example at an index."""
  position = template_index(example_index, len(templates))
  return position, templates[position]


def name_templates(prefix: str,
                   templates: Sequence[Template]) -> Tuple[Template, ...]:
  """Names unnamed templates '<prefix>:<position>' for error messages."""
  return tuple(
      t if t.name else dataclasses.replace(t, name=f'{prefix}:{i}')
      for i, t in enumerate(templates))
