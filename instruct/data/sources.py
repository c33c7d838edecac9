"""A user's own instruction data: Alpaca / Self-Instruct JSON, JSONL, CSV, TSV.

How a user adds a domain task (finance, legal, medical...) in a few lines:

  sources.register_user_task(
      'finance_qa', path='data/fin.jsonl',
      fields={'question': 'q', 'answer': 'a'},   # canonical name -> column
      templates=[Template('Answer the finance question: {question}'), ...],
      cluster='finance')

or the same from gin through `register_user_tasks` (see docs/custom_data.md).
Each task is registered with `instruct.data.registry` as a `DatasetSpec`, so
it gets the collection's zero-shot/few-shot variants and metadata features.

Files are read in Python once, at registration, validated row by row, and kept
in memory as columns; `load(split)` turns them into a
`tf.data.Dataset.from_tensor_slices` dataset (not `from_generator`), whose
iterator can be checkpointed with the model. Rows go to 'train' or
'validation' by a hash of their content (deterministic across processes and
machines; identical rows land in the same split) unless separate files are
given.

Bad rows: a malformed JSON line, a missing or null field, text that is not
UTF-8, an empty target... raise `UserError` naming the file, the line and the
field. With `skip_bad_rows=True` they are skipped instead and counted per
reason in a `LoadReport` (`load_report(name)`); nothing is dropped uncounted.
"""

import collections
import csv
import dataclasses
import hashlib
import inspect
import io
import json
import numbers
import os
import re
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Union)

import gin
import tensorflow as tf

from instruct.data import registry
from instruct.data import templates as templates_lib
from instruct.errors import UserError

Template = templates_lib.Template
TemplateLike = Union[Template, str, Sequence[str], Mapping[str, Any]]

FORMATS = ('json', 'jsonl', 'csv', 'tsv')
_EXTENSIONS = {'.json': 'json', '.jsonl': 'jsonl', '.ndjson': 'jsonl',
               '.csv': 'csv', '.tsv': 'tsv', '.tab': 'tsv'}
_NAME_RE = re.compile(r'^[a-z0-9_]+$')
# Lone surrogates are what `errors='surrogateescape'` decodes bad bytes to.
_SURROGATE_RE = re.compile('[\ud800-\udfff]')
_MAX_MESSAGES_PER_REASON = 3

# Reasons a row can be bad (the keys of `LoadReport.skipped`).
MALFORMED_JSON = 'malformed_json'
NOT_UTF8 = 'not_utf8'
MISSING_FIELD = 'missing_field'
EMPTY_FIELD = 'empty_field'
EMPTY_TARGET = 'empty_target'
BAD_TYPE = 'bad_type'
WRONG_COLUMN_COUNT = 'wrong_column_count'
MALFORMED_CSV = 'malformed_csv'
ANSWER_NOT_IN_OPTIONS = 'answer_not_in_options'


# ----------------------------------------------------------------------------
# Load reports.
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class LoadReport:
  """What loading one task's files did: rows read, kept, skipped and why.

  Attributes:
    name: the task (dataset) name.
    paths: the files read.
    rows_read: data rows seen (a header and blank lines are not rows).
    rows_kept: rows that became examples.
    skipped: reason -> number of rows skipped for it.
    examples: split -> number of examples.
    messages: reason -> the first few error messages (file, line, field), so a
      user can find the bad rows.
  """
  name: str
  paths: List[str] = dataclasses.field(default_factory=list)
  rows_read: int = 0
  rows_kept: int = 0
  skipped: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  examples: Dict[str, int] = dataclasses.field(default_factory=dict)
  messages: Dict[str, List[str]] = dataclasses.field(default_factory=dict)

  @property
  def rows_skipped(self) -> int:
    return sum(self.skipped.values())

  def add_skip(self, reason: str, message: str) -> None:
    self.skipped[reason] += 1
    kept = self.messages.setdefault(reason, [])
    if len(kept) < _MAX_MESSAGES_PER_REASON:
      kept.append(message)

  def format(self) -> str:
    """A few human-readable lines, for the command line."""
    splits = ', '.join(f'{k} {v}' for k, v in self.examples.items())
    lines = [f'{self.name}: read {self.rows_read} rows from '
             f'{", ".join(self.paths)}; kept {self.rows_kept} ({splits}); '
             f'skipped {self.rows_skipped}']
    for reason, count in sorted(self.skipped.items()):
      lines.append(f'  skipped {count} ({reason}), e.g. '
                   f'{self.messages.get(reason, ["?"])[0]}')
    return '\n'.join(lines)


_REPORTS: Dict[str, LoadReport] = {}


def load_report(name: str) -> LoadReport:
  """The report of the last load of a user/Alpaca dataset.

  Args:
    name: the dataset's key 'source_name' (e.g. 'user_finance_qa') or, when
      unambiguous, its name ('finance_qa').
  """
  if name in _REPORTS:
    return _REPORTS[name]
  matches = [r for r in _REPORTS.values() if r.name == name]
  if len(matches) == 1:
    return matches[0]
  raise KeyError(f'No single user dataset {name!r} was loaded; loaded: '
                 f'{sorted(_REPORTS)}')


def load_reports() -> Dict[str, LoadReport]:
  """'source_name' -> report, for every user/Alpaca dataset loaded here."""
  return dict(_REPORTS)


# ----------------------------------------------------------------------------
# Reading rows from files.
# ----------------------------------------------------------------------------


class RowError(Exception):
  """One bad row: a reason (a `LoadReport` key) and a message for people."""

  def __init__(self, reason: str, message: str):
    super().__init__(message)
    self.reason = reason
    self.message = message


@dataclasses.dataclass
class Row:
  """A raw record read from a file, or the reason it could not be read."""
  path: str
  line: int
  record: Optional[Dict[str, Any]] = None
  error: Optional[RowError] = None


def detect_format(path: str, text: Optional[str] = None) -> str:
  """Guesses a file's format from its extension (and first character)."""
  ext = os.path.splitext(path)[1].lower()
  fmt = _EXTENSIONS.get(ext)
  if fmt is None:
    raise UserError(f'{path}: cannot tell the format from the extension '
                    f'{ext!r}; pass format= one of {FORMATS}.')
  if fmt == 'json' and text is not None and text.lstrip()[:1] == '{':
    # One object per line saved as .json is common; the first character
    # tells the two apart.
    fmt = 'jsonl'
  return fmt


def _read_text(path: str) -> str:
  """Reads a file as UTF-8; undecodable bytes become lone surrogates.

  Bad bytes are not an error here: the row holding them is reported (or
  skipped) with its line and field by `_row_values`.
  """
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except FileNotFoundError:
    raise UserError(f'{path}: no such file (working directory: '
                    f'{os.getcwd()}).') from None
  except OSError as e:
    raise UserError(f'{path}: cannot read it ({e}).') from None
  text = data.decode('utf-8', errors='surrogateescape')
  return text[1:] if text.startswith('\ufeff') else text


def _line_of(text: str, pos: int) -> int:
  return text.count('\n', 0, pos) + 1


def _json_error_message(e: json.JSONDecodeError) -> str:
  return f'malformed JSON ({e.msg} at column {e.colno})'


def _read_json_array(path: str, text: str) -> Iterator[Row]:
  """Rows of a JSON array of objects (Alpaca's format), with their lines."""
  decoder = json.JSONDecoder()
  ws = re.compile(r'\s*')
  pos = ws.match(text, 0).end()
  if text[pos:pos + 1] != '[':
    raise UserError(f'{path}:{_line_of(text, pos)}: expected a JSON array '
                    '`[{...}, ...]` of objects (or use a .jsonl file with one '
                    'object per line).')
  pos = ws.match(text, pos + 1).end()
  if text[pos:pos + 1] == ']':
    return
  while True:
    line = _line_of(text, pos)
    try:
      record, pos = decoder.raw_decode(text, pos)
    except json.JSONDecodeError as e:
      # The rest of an array cannot be resynchronised reliably, so this is
      # an error even with skip_bad_rows.
      raise UserError(f'{path}:{e.lineno}: {_json_error_message(e)}; the '
                      'file is not a valid JSON array.') from None
    if isinstance(record, dict):
      yield Row(path, line, record)
    else:
      yield Row(path, line, error=RowError(
          BAD_TYPE, f'{path}:{line}: expected a JSON object, got '
          f'{type(record).__name__}'))
    pos = ws.match(text, pos).end()
    sep = text[pos:pos + 1]
    if sep == ']':
      rest = text[pos + 1:].strip()
      if rest:
        raise UserError(f'{path}:{_line_of(text, pos + 1)}: unexpected text '
                        'after the end of the JSON array.')
      return
    if sep != ',':
      raise UserError(f'{path}:{_line_of(text, pos)}: malformed JSON '
                      "(expected ',' or ']' between array elements).")
    pos = ws.match(text, pos + 1).end()


def _read_jsonl(path: str, text: str) -> Iterator[Row]:
  # split('\n'), not splitlines(): the latter also splits on U+2028 and other
  # separators that may legitimately appear inside JSON strings.
  for i, line_text in enumerate(text.split('\n'), start=1):
    if not line_text.strip():
      continue  # Blank lines (e.g. a trailing one) are not rows.
    try:
      record = json.loads(line_text)
    except json.JSONDecodeError as e:
      yield Row(path, i, error=RowError(
          MALFORMED_JSON, f'{path}:{i}: {_json_error_message(e)}'))
      continue
    if not isinstance(record, dict):
      yield Row(path, i, error=RowError(
          BAD_TYPE, f'{path}:{i}: expected a JSON object, got '
          f'{type(record).__name__}'))
      continue
    yield Row(path, i, record)


def _read_delimited(path: str, text: str, delimiter: str) -> Iterator[Row]:
  """Rows of a CSV/TSV file whose first row names the fields."""
  # The default limit (128 KiB per field) is too small for long documents
  # such as contracts or clinical notes.
  csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
  reader = csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)
  header = None
  while header is None:
    try:
      row = next(reader)
    except StopIteration:
      return
    except csv.Error as e:
      raise UserError(f'{path}:{reader.line_num}: malformed header ({e}).'
                      ) from None
    if row:
      header = [h.strip() for h in row]
  if len(set(header)) != len(header):
    dupes = sorted({h for h in header if header.count(h) > 1})
    raise UserError(f'{path}:{reader.line_num}: duplicate column name(s) '
                    f'{dupes} in the header.')
  while True:
    # A quoted field may span lines; the record starts after the last one.
    start = reader.line_num + 1
    try:
      values = next(reader)
    except StopIteration:
      return
    except csv.Error as e:
      yield Row(path, start, error=RowError(
          MALFORMED_CSV, f'{path}:{start}: malformed row ({e})'))
      continue
    if not values or (len(values) == 1 and not values[0].strip()):
      continue  # Blank line.
    if len(values) != len(header):
      yield Row(path, start, error=RowError(
          WRONG_COLUMN_COUNT,
          f'{path}:{start}: {len(values)} columns, but the header has '
          f'{len(header)}'))
      continue
    yield Row(path, start, dict(zip(header, values)))


def read_rows(path: str,
              format: Optional[str] = None,  # pylint: disable=redefined-builtin
              ) -> Iterator[Row]:
  """Reads the raw records of a JSON/JSONL/CSV/TSV file.

  Args:
    path: the file.
    format: one of FORMATS; None guesses from the extension ('.json' files
      starting with '{' are read as JSONL).

  Yields:
    `Row`s in file order, each with its 1-based line (where the record
    starts) and either the record (field -> value) or a `RowError`.

  Raises:
    UserError: for a missing file or an unusable file (e.g. a JSON array that
      does not parse), naming the file and line.
  """
  text = _read_text(path)
  fmt = format or detect_format(path, text)
  if fmt == 'json':
    return _read_json_array(path, text)
  if fmt == 'jsonl':
    return _read_jsonl(path, text)
  if fmt in ('csv', 'tsv'):
    return _read_delimited(path, text, ',' if fmt == 'csv' else '\t')
  raise UserError(f'{path}: unknown format {fmt!r}; expected one of '
                  f'{FORMATS}.')


# ----------------------------------------------------------------------------
# Field mapping and validation.
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldMapping:
  """Which file column feeds which canonical field, and what must hold.

  Attributes:
    columns: canonical field -> column (key) in the file.
    target: the canonical field holding the target text; it must be
      non-empty.
    optional: canonical fields that may be missing or empty (they become '').
    options_separator: how an `options` column in CSV/TSV (a string) is
      split into options; JSON rows give a list of strings.
  """
  columns: Tuple[Tuple[str, str], ...]
  target: str = templates_lib.ANSWER_FIELD
  optional: Tuple[str, ...] = ()
  options_separator: str = '|'

  def values(self, row: Row) -> Dict[str, Any]:
    """The canonical fields of one row; raises RowError if it is bad."""
    out = {}
    where = f'{row.path}:{row.line}'
    for field, column in self.columns:
      named = (f'field {column!r}' if field == column else
               f'field {column!r} (for {field!r})')
      value = row.record.get(column)
      if value is None:
        if field in self.optional:
          out[field] = ''
          continue
        what = 'is null' if column in row.record else 'is missing'
        raise RowError(MISSING_FIELD, f'{where}: {named} {what} (row has '
                       f'{sorted(row.record)})')
      if field == templates_lib.OPTIONS_FIELD:
        out[field] = self._options(value, where, named)
        continue
      if isinstance(value, bool) or not isinstance(value,
                                                   (str, numbers.Number)):
        raise RowError(BAD_TYPE, f'{where}: {named} is a '
                       f'{type(value).__name__}; expected text')
      text = value if isinstance(value, str) else str(value)
      if _SURROGATE_RE.search(text):
        raise RowError(NOT_UTF8, f'{where}: {named} is not valid UTF-8 text '
                       '(re-save the file as UTF-8)')
      if not text.strip() and field not in self.optional:
        if field == self.target:
          raise RowError(EMPTY_TARGET, f'{where}: {named} (the target) is '
                         'empty')
        raise RowError(EMPTY_FIELD, f'{where}: {named} is empty')
      out[field] = text
    options = out.get(templates_lib.OPTIONS_FIELD)
    if options is not None and self.target in out:
      answer = out[self.target]
      if answer not in options:
        raise RowError(ANSWER_NOT_IN_OPTIONS, f'{where}: {self.target!r} '
                       f'value {answer!r} is not one of the options {options}')
      out[templates_lib.LABEL_FIELD] = options.index(answer)
    return out

  def _options(self, value: Any, where: str, named: str) -> List[str]:
    if isinstance(value, str):
      value = [v.strip() for v in value.split(self.options_separator)]
    if (not isinstance(value, list) or len(value) < 2 or
        not all(isinstance(v, str) and v.strip() for v in value)):
      raise RowError(BAD_TYPE, f'{where}: {named} must be at least 2 '
                     'non-empty options (a JSON list of strings, or text '
                     f'separated by {self.options_separator!r})')
    if any(_SURROGATE_RE.search(v) for v in value):
      raise RowError(NOT_UTF8, f'{where}: {named} is not valid UTF-8 text '
                     '(re-save the file as UTF-8)')
    return value


def make_field_mapping(templates: Sequence[Template],
                       fields: Optional[Mapping[str, str]] = None,
                       target: str = templates_lib.ANSWER_FIELD,
                       optional: Sequence[str] = (),
                       options_separator: str = '|') -> FieldMapping:
  """Builds the mapping for a task: its templates' fields plus `fields`.

  A field a template uses but `fields` does not map is read from the column
  of the same name. `label` is derived from `answer` and `options`, so it is
  never read from the file.
  """
  fields = dict(fields or {})
  if templates_lib.LABEL_FIELD in fields:
    raise UserError('`label` is derived from the answer and the options; map '
                    '`answer` and `options` instead of `label`.')
  needed = [target]
  for t in templates:
    needed.extend(t.required_fields())
  for name in needed:
    if name == templates_lib.LABEL_FIELD:
      name = templates_lib.OPTIONS_FIELD
    fields.setdefault(name, name)
  return FieldMapping(columns=tuple(fields.items()), target=target,
                      optional=tuple(optional),
                      options_separator=options_separator)


# ----------------------------------------------------------------------------
# Loading a task's files into columns.
# ----------------------------------------------------------------------------


def validation_bucket(values: Mapping[str, Any]) -> float:
  """A row's position in [0, 1), from a hash of its canonical fields."""
  key = json.dumps(values, sort_keys=True, ensure_ascii=False)
  digest = hashlib.sha256(key.encode('utf-8', 'surrogatepass')).digest()
  return int.from_bytes(digest[:8], 'big') / 2.0**64


Columns = Dict[str, list]


def _append(columns: Columns, values: Mapping[str, Any]) -> None:
  for k, v in values.items():
    columns.setdefault(k, []).append(v)


def load_rows(name: str, paths: Mapping[str, str], mapping: FieldMapping,
              validation_fraction: float = 0.1,
              skip_bad_rows: bool = False,
              format: Optional[str] = None,  # pylint: disable=redefined-builtin
              derive: Optional[Callable[[Dict[str, Any]], None]] = None,
              max_rows: Optional[int] = None,
              ) -> Tuple[Dict[str, Columns], LoadReport]:
  """Reads, validates and splits a task's rows.

  Args:
    name: the task name (for the report).
    paths: {'all': path} to split by hash, or split -> path.
    mapping: canonical fields and their checks.
    validation_fraction: share of rows hashed into 'validation' (when
      `paths` has 'all').
    skip_bad_rows: skip and count bad rows instead of raising.
    format: file format, or None to guess from each file's extension.
    derive: adds derived fields to a row's values in place.
    max_rows: stop after this many kept rows per file (None: all).

  Returns:
    (split -> field -> values, the LoadReport).

  Raises:
    UserError: on the first bad row (unless skip_bad_rows), naming the file,
      line and field.
  """
  report = LoadReport(name=name, paths=list(paths.values()))
  splits = (['train', 'validation'] if 'all' in paths else list(paths))
  if 'all' in paths and validation_fraction <= 0:
    splits = ['train']
  data = {s: {} for s in splits}
  for key, path in paths.items():
    kept_here = 0
    for row in read_rows(path, format):
      if max_rows is not None and kept_here >= max_rows:
        break
      report.rows_read += 1
      try:
        if row.error is not None:
          raise row.error
        values = mapping.values(row)
      except RowError as e:
        if not skip_bad_rows:
          raise UserError(f'{e.message}. (Pass skip_bad_rows=True to skip '
                          'and count bad rows instead.)') from None
        report.add_skip(e.reason, e.message)
        continue
      if derive is not None:
        derive(values)
      split = key
      if key == 'all':
        split = ('validation' if validation_bucket(values) <
                 validation_fraction else 'train')
      _append(data[split], values)
      report.rows_kept += 1
      kept_here += 1
  report.examples = {s: len(next(iter(c.values()), [])) for s, c in
                     data.items()}
  if report.rows_kept == 0:
    raise UserError(f'{name}: no usable rows in {report.paths} (read '
                    f'{report.rows_read}; skipped {dict(report.skipped)}).')
  return data, report


def columns_to_dataset(columns: Columns,
                       fields: Sequence[str]) -> tf.data.Dataset:
  """An in-memory dataset of one split's columns (strings, ints, options)."""
  tensors = {}
  for field in fields:
    values = columns.get(field, [])
    if field == templates_lib.OPTIONS_FIELD:
      tensors[field] = tf.RaggedTensor.from_row_lengths(
          tf.constant([o for opts in values for o in opts], tf.string,
                      shape=[sum(len(opts) for opts in values)]),
          tf.constant([len(opts) for opts in values], tf.int64,
                      shape=[len(values)]))
    elif field == templates_lib.LABEL_FIELD:
      tensors[field] = tf.constant(values, dtype=tf.int64, shape=[len(values)])
    else:
      tensors[field] = tf.constant(values, dtype=tf.string,
                                   shape=[len(values)])
  return tf.data.Dataset.from_tensor_slices(tensors)


# ----------------------------------------------------------------------------
# Templates.
# ----------------------------------------------------------------------------


def as_template(value: TemplateLike, name: str = '') -> Template:
  """A Template from a Template, 'inputs', (inputs, targets) or a dict.

  The plain forms let gin files list templates without constructing objects.
  """
  if isinstance(value, Template):
    return value
  if isinstance(value, str):
    return Template(inputs=value, name=name)
  if isinstance(value, Mapping):
    return Template(**{'name': name, **dict(value)})
  if isinstance(value, Sequence) and len(value) == 2:
    return Template(inputs=value[0], targets=value[1], name=name)
  raise UserError(f'Template {name or value!r}: expected a Template, an '
                  'inputs pattern, an (inputs, targets) pair or a dict with '
                  f'inputs/targets; got {value!r}.')


# Alpaca / Self-Instruct: every template is written around the instruction and
# works with and without an input, through derived fields that are '' when the
# row's input is empty (so there is never a dangling "Input:" header).
ALPACA_INPUT_BLOCKS = {
    'input_block': '\n\n{}',
    'input_labeled': '\n\nInput: {}',
    'input_context': '\n\nContext:\n{}',
    'input_here': '\n\nHere is the input:\n{}',
    'input_inline': ' {}',
}

ALPACA_TEMPLATES = (
    Template('{instruction}{input_block}', '{answer}'),
    Template('Instruction: {instruction}{input_labeled}\n\nResponse:',
             '{answer}'),
    Template('Follow the instruction below.\n\n{instruction}'
             '{input_context}', '{answer}'),
    Template('Task: {instruction}{input_here}\n\nYour answer:', '{answer}'),
    Template('Please do the following. {instruction}{input_block}',
             '{answer}'),
    Template('Read the request and respond to it.\n\nRequest: {instruction}'
             '{input_labeled}', '{answer}'),
    Template('{instruction}{input_inline}\n\nAnswer:', '{answer}'),
    Template('Here is something to do: {instruction}{input_context}\n\n'
             'Write a helpful response.', '{answer}'),
    Template('Complete this task carefully.\n{instruction}{input_labeled}\n'
             'Output:', '{answer}'),
    Template('You are given a task. {instruction}{input_here}', '{answer}'),
    Template('Q: {instruction}{input_inline}\nA:', '{answer}'),
    Template('Respond to the instruction.\n\n### Instruction\n{instruction}'
             '{input_block}\n\n### Response', '{answer}'),
)
ALPACA_FIELDS = {'instruction': 'instruction', 'input': 'input',
                 'answer': 'output'}


def _derive_alpaca(values: Dict[str, Any]) -> None:
  text = values.get('input', '').strip()
  for field, pattern in ALPACA_INPUT_BLOCKS.items():
    values[field] = pattern.format(text) if text else ''


# ----------------------------------------------------------------------------
# Registration.
# ----------------------------------------------------------------------------


def _check_name(kind: str, value: str) -> None:
  if not isinstance(value, str) or not _NAME_RE.match(value):
    raise UserError(f'{kind} {value!r} must match [a-z0-9_]+ (it becomes '
                    'part of the SeqIO task name).')


def _paths(path: Optional[str], train_path: Optional[str],
           validation_path: Optional[str], name: str) -> Dict[str, str]:
  if path and train_path:
    raise UserError(f'{name}: give path= (split by hash) or train_path= '
                    '(with validation_path=), not both.')
  train = path or train_path
  if not train:
    raise UserError(f'{name}: no data file; pass path= (or train_path=).')
  if validation_path:
    return {'train': train, 'validation': validation_path}
  if train_path:
    return {'train': train_path}
  return {'all': path}


def _register(name: str, source: str, cluster: str,
              templates: Sequence[Template], data: Dict[str, Columns],
              report: LoadReport, fields: Sequence[str],
              variants: Optional[Sequence[str]],
              metric_fns: Optional[Sequence[Callable]], description: str,
              url: str) -> Dict[str, str]:
  """Registers loaded columns as a DatasetSpec; returns variant -> task."""

  def load(split: str) -> tf.data.Dataset:
    if split not in data:
      raise UserError(f'{source}/{name} has no split {split!r}; it has '
                      f'{sorted(data)}.')
    return columns_to_dataset(data[split], fields)

  spec = registry.DatasetSpec(
      name=name, source=source, cluster=cluster, load=load,
      templates=tuple(templates_lib.name_templates(f'{source}_{name}',
                                                   templates)),
      splits=tuple(data), num_examples=dict(report.examples),
      metric_fns=metric_fns, description=description, url=url,
      has_options=templates_lib.OPTIONS_FIELD in fields)
  _REPORTS[f'{source}_{name}'] = report
  return registry.register_dataset(spec, variants=variants)


def register_user_task(
    name: str,
    path: Optional[str] = None,
    *,
    templates: Sequence[TemplateLike],
    fields: Optional[Mapping[str, str]] = None,
    cluster: str = 'user',
    source: str = 'user',
    train_path: Optional[str] = None,
    validation_path: Optional[str] = None,
    format: Optional[str] = None,  # pylint: disable=redefined-builtin
    target_field: str = templates_lib.ANSWER_FIELD,
    optional_fields: Sequence[str] = (),
    skip_bad_rows: bool = False,
    validation_fraction: float = 0.1,
    options_separator: str = '|',
    max_rows: Optional[int] = None,
    variants: Optional[Sequence[str]] = None,
    metric_fns: Optional[Sequence[Callable]] = None,
    description: str = '',
) -> Dict[str, str]:
  """Registers a user's JSON/JSONL/CSV/TSV data as a collection task.

  Args:
    name: dataset name, [a-z0-9_]+; SeqIO tasks are named
      `{source}_{name}_{variant}`.
    path: the data file, split into train/validation by a hash of each row.
    templates: the task's templates (Template objects, inputs patterns with
      target '{answer}', (inputs, targets) pairs, or dicts). Patterns use
      canonical field names.
    fields: canonical field -> column in the file, e.g. {'question': 'q'};
      fields the templates use that are not listed are read from the column
      of the same name. An `options` field (JSON list, or text separated by
      `options_separator`) plus the answer give `label` and the `_opt`
      variants.
    cluster: task cluster, e.g. 'finance'.
    source: sub-collection name ('user' unless you group tasks otherwise).
    train_path: instead of `path`: the training file ...
    validation_path: ... and an optional separate validation file.
    format: 'json', 'jsonl', 'csv' or 'tsv'; None guesses from extensions.
    target_field: the canonical field with the target text (must be
      non-empty in every row).
    optional_fields: canonical fields that may be missing or empty.
    skip_bad_rows: skip bad rows and count them in `load_report(name)`
      instead of raising.
    validation_fraction: share of rows hashed into 'validation' (0: train
      only). Ignored with separate files.
    options_separator: separator of options given as text.
    max_rows: read at most this many usable rows per file.
    variants: which registry variants to register (None: all that apply).
    metric_fns: SeqIO metric functions (None: the registry's default).
    description: a line for reports.

  Returns:
    variant -> registered SeqIO task name.

  Raises:
    UserError: for bad arguments, unreadable files, or (without
      skip_bad_rows) the first bad row, naming file, line and field.
  """
  _check_name('Dataset name', name)
  _check_name('Source', source)
  _check_name('Cluster', cluster)
  if not templates:
    raise UserError(f'{name}: at least one template is needed.')
  if not 0 <= validation_fraction < 1:
    raise UserError(f'{name}: validation_fraction={validation_fraction} '
                    'must be in [0, 1).')
  templates = [as_template(t, f'{source}_{name}:{i}')
               for i, t in enumerate(templates)]
  mapping = make_field_mapping(templates, fields, target_field,
                               optional_fields, options_separator)
  paths = _paths(path, train_path, validation_path, name)
  data, report = load_rows(name, paths, mapping, validation_fraction,
                           skip_bad_rows, format, max_rows=max_rows)
  out_fields = [f for f, _ in mapping.columns]
  if templates_lib.OPTIONS_FIELD in out_fields:
    out_fields.append(templates_lib.LABEL_FIELD)
  return _register(name, source, cluster, templates, data, report,
                   out_fields, variants, metric_fns, description, url='')


def register_alpaca(
    name: str = 'alpaca',
    path: Optional[str] = None,
    *,
    train_path: Optional[str] = None,
    validation_path: Optional[str] = None,
    source: str = 'alpaca',
    cluster: str = 'general_instructions',
    templates: Optional[Sequence[TemplateLike]] = None,
    format: Optional[str] = None,  # pylint: disable=redefined-builtin
    skip_bad_rows: bool = False,
    validation_fraction: float = 0.02,
    max_rows: Optional[int] = None,
    variants: Optional[Sequence[str]] = None,
    metric_fns: Optional[Sequence[Callable]] = None,
    description: str = 'Alpaca / Self-Instruct instruction data',
) -> Dict[str, str]:
  """Registers Alpaca / Self-Instruct data (`instruction`, `input`, `output`).

  A JSON array (Alpaca's `alpaca_data.json`) or JSONL. `input` may be empty
  or missing; `output` must not be empty. The default templates
  (`ALPACA_TEMPLATES`) read the instruction, the input (through derived
  fields that vanish when it is empty) and target `{answer}` (the output).

  Args and returns are as for `register_user_task`.
  """
  _check_name('Dataset name', name)
  _check_name('Source', source)
  templates = [as_template(t, f'{source}_{name}:{i}')
               for i, t in enumerate(templates or ALPACA_TEMPLATES)]
  mapping = FieldMapping(columns=tuple(ALPACA_FIELDS.items()),
                         target=templates_lib.ANSWER_FIELD,
                         optional=('input',))
  paths = _paths(path, train_path, validation_path, name)
  data, report = load_rows(name, paths, mapping, validation_fraction,
                           skip_bad_rows, format, derive=_derive_alpaca,
                           max_rows=max_rows)
  out_fields = list(ALPACA_FIELDS) + list(ALPACA_INPUT_BLOCKS)
  return _register(name, source, cluster, templates, data, report,
                   out_fields, variants, metric_fns, description, url='')


@gin.configurable
def register_user_tasks(
    tasks: Sequence[Mapping[str, Any]] = (),
    alpaca: Sequence[Mapping[str, Any]] = (),
) -> Dict[str, Dict[str, str]]:
  """Registers the user tasks configured in gin (see docs/custom_data.md).

  Args:
    tasks: keyword-argument dicts for `register_user_task`, e.g.
      {'name': 'finance_qa', 'path': 'fin.jsonl', 'fields': {'question': 'q',
      'answer': 'a'}, 'templates': ['Answer: {question}'], 'cluster':
      'finance'}.
    alpaca: keyword-argument dicts for `register_alpaca`.

  Returns:
    dataset name -> (variant -> SeqIO task name).
  """
  out = {}
  for kind, fn, configs in (('tasks', register_user_task, tasks),
                            ('alpaca', register_alpaca, alpaca)):
    for i, config in enumerate(configs):
      if not isinstance(config, Mapping) or 'name' not in config:
        raise UserError(f'register_user_tasks.{kind}[{i}] must be a dict '
                        f'with at least a "name"; got {config!r}.')
      try:
        inspect.signature(fn).bind(**config)
      except TypeError as e:
        raise UserError(f'register_user_tasks.{kind}[{i}] '
                        f'({config["name"]!r}): {e}') from None
      out[config['name']] = fn(**config)
  return out
