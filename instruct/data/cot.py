"""Chain-of-thought (CoT): Flan's CoT TSV files as datasets, and the prompts.

The prompts themselves (`COT_TEMPLATES`, the reasoning cues, `extract_answer`
and `cot_answer_postprocessor`) live in `instruct.data.cot_prompts`, below the
registry, and are re-exported here; its docstring says how answers are
extracted.

Flan's CoT data (google-research/FLAN, flan/v2/cot_data/*.tsv) has no header
and three tab-separated columns: question, answer, rationale; a newline inside
a field is written as the two characters `\\n`. `load_cot_tsv` reads any file
of that format and `cot_tsv_spec` makes it a `DatasetSpec`.

The templates and answer extraction live in `instruct.data.cot_prompts` (below
the registry, which uses them) and are re-exported here.
"""

import collections
import dataclasses
import functools
import logging
import os
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import gin
import tensorflow as tf

from instruct.data import cot_prompts
from instruct.data import registry
from instruct.data import templates as templates_lib
from instruct.errors import UserError

Template = templates_lib.Template

# The prompts and answer extraction (see `instruct.data.cot_prompts`).
QUESTION_FIELD = cot_prompts.QUESTION_FIELD
ANSWER_FIELD = cot_prompts.ANSWER_FIELD
RATIONALE_FIELD = cot_prompts.RATIONALE_FIELD
COT_FIELDS = cot_prompts.COT_FIELDS
COT_TEMPLATES = cot_prompts.COT_TEMPLATES
extract_answer = cot_prompts.extract_answer
cot_answer_postprocessor = cot_prompts.cot_answer_postprocessor
format_cot = cot_prompts.format_cot


# --- Flan CoT TSV files. ---------------------------------------------------


@gin.configurable
def flan_cot_dir(path: Optional[str] = None) -> Optional[str]:
  """The directory of Flan CoT TSV files `tasks.cot` registers (gin-bound).

  Unbound, `tasks.cot` falls back to $INSTRUCT_FLAN_COT_DIR.
  """
  return path


@dataclasses.dataclass
class LoadReport:
  """What reading a CoT TSV file kept and skipped."""
  path: str
  rows: int = 0
  blank_lines: int = 0
  bad_rows: List[Tuple[int, str]] = dataclasses.field(default_factory=list)

  def __str__(self) -> str:
    text = (f'{self.path}: {self.rows} rows loaded, {len(self.bad_rows)} bad '
            f'rows skipped, {self.blank_lines} blank lines ignored')
    if self.bad_rows:
      shown = '; '.join(f'line {n}: {why}' for n, why in self.bad_rows[:5])
      more = (f' (and {len(self.bad_rows) - 5} more)'
              if len(self.bad_rows) > 5 else '')
      text += f' [{shown}{more}]'
    return text


def _unescape(field: str) -> str:
  return field.replace('\\n', '\n').strip()


def _parse_line(raw: bytes, path: str, line: int) -> Dict[str, str]:
  """Parses one TSV line; raises UserError naming the file and line."""
  try:
    text = raw.decode('utf-8')
  except UnicodeDecodeError as e:
    raise UserError(f'{path}:{line}: not valid UTF-8 ({e.reason} at byte '
                    f'{e.start} of the line).') from e
  columns = text.split('\t')
  if len(columns) != 3:
    raise UserError(
        f'{path}:{line}: expected 3 tab-separated columns (question, answer, '
        f'rationale), found {len(columns)}.')
  row = dict(zip(COT_FIELDS, (_unescape(c) for c in columns)))
  for field in COT_FIELDS:
    if not row[field]:
      raise UserError(f'{path}:{line}: field {field!r} is empty.')
  return row


def iter_cot_tsv(path: str,
                 report: Optional[LoadReport] = None,
                 skip_bad_rows: bool = False) -> Iterator[Dict[str, str]]:
  """Yields `{question, answer, rationale}` rows of a Flan CoT TSV file."""
  report = report if report is not None else LoadReport(path)
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise UserError(f'Cannot read CoT file {path}: {e.strerror}.') from e
  lines = data.split(b'\n')
  if lines and lines[-1] == b'':
    lines.pop()  # The file's final newline.
  for number, raw in enumerate(lines, start=1):
    raw = raw[:-1] if raw.endswith(b'\r') else raw
    if not raw.strip():
      report.blank_lines += 1
      continue
    try:
      row = _parse_line(raw, path, number)
    except UserError as e:
      if not skip_bad_rows:
        raise
      report.bad_rows.append((number, str(e).split(': ', 1)[-1]))
      continue
    report.rows += 1
    yield row


def load_cot_tsv(path: str, skip_bad_rows: bool = False
                ) -> Tuple[List[Dict[str, str]], LoadReport]:
  """Reads a Flan CoT TSV file.

  Args:
    path: the file (no header; question, answer, rationale; `\\n` escapes).
    skip_bad_rows: skip rows without 3 columns or with an empty field, and
      count them in the report, instead of raising.

  Returns:
    `(rows, report)`: rows as dicts with `question`, `answer`, `rationale`.

  Raises:
    UserError: naming the file and line, for a malformed row (unless
      skipped), a line that is not UTF-8, or an unreadable file.
  """
  report = LoadReport(path)
  rows = list(iter_cot_tsv(path, report, skip_bad_rows))
  if report.bad_rows:
    logging.warning('%s', report)
  return rows, report


@functools.lru_cache(maxsize=32)
def _cached_rows(path: str, mtime: float, skip_bad_rows: bool):
  del mtime  # Part of the cache key only: a changed file is re-read.
  return load_cot_tsv(path, skip_bad_rows)


def cached_load(path: str, skip_bad_rows: bool = False):
  """`load_cot_tsv`, cached per (path, modification time)."""
  try:
    mtime = os.path.getmtime(path)
  except OSError as e:
    raise UserError(f'Cannot read CoT file {path}: {e.strerror}.') from e
  return _cached_rows(os.path.abspath(path), mtime, skip_bad_rows)


def _split_rows(rows, split: str, num_validation: int, path: str):
  if split == 'train':
    return rows[:len(rows) - num_validation] if num_validation else rows
  if split == 'validation' and num_validation:
    return rows[len(rows) - num_validation:]
  raise UserError(f'{path}: no split {split!r}.')


def _rows_dataset(rows: Sequence[Mapping[str, str]]) -> tf.data.Dataset:
  columns = {f: tf.constant([r[f] for r in rows], dtype=tf.string)
             for f in COT_FIELDS}
  return tf.data.Dataset.from_tensor_slices(columns)


class _LazyCounts(collections.abc.Mapping):
  """Split sizes of a TSV file, counted on first use (not at registration)."""

  def __init__(self, path: str, splits: Sequence[str], num_validation: int,
               skip_bad_rows: bool):
    self._path = path
    self._splits = tuple(splits)
    self._num_validation = num_validation
    self._skip = skip_bad_rows

  def __getitem__(self, split: str) -> int:
    if split not in self._splits:
      raise KeyError(split)
    rows, _ = cached_load(self._path, self._skip)
    return len(_split_rows(rows, split, self._num_validation, self._path))

  def __iter__(self):
    return iter(self._splits)

  def __len__(self) -> int:
    return len(self._splits)


def cot_tsv_spec(name: str, path: str, cluster: str = 'cot',
                 source: str = 'cot', skip_bad_rows: bool = False,
                 num_validation: int = 0,
                 templates: Optional[Sequence[Template]] = None,
                 description: str = '', url: str = ''):
  """A `DatasetSpec` over a Flan CoT TSV file (read when first used).

  Args:
    name: dataset name, [a-z0-9_]+.
    path: the TSV file.
    cluster: task cluster.
    source: sub-collection.
    skip_bad_rows: skip and count malformed rows instead of raising.
    num_validation: hold out the file's last rows as a 'validation' split.
    templates: zero-shot templates (default: the question as is).
    description: free text.
    url: where the data comes from.

  Returns:
    A DatasetSpec with `has_rationale=True` and the generic CoT templates.
  """
  if num_validation < 0:
    raise UserError(f'{path}: num_validation must be >= 0.')
  splits = ('train', 'validation') if num_validation else ('train',)

  def load(split: str) -> tf.data.Dataset:
    rows, _ = cached_load(path, skip_bad_rows)
    if num_validation >= len(rows):
      raise UserError(f'{path}: num_validation={num_validation} leaves no '
                      f'training rows ({len(rows)} rows).')
    return _rows_dataset(_split_rows(rows, split, num_validation, path))

  return registry.DatasetSpec(
      name=name,
      source=source,
      cluster=cluster,
      load=load,
      templates=tuple(templates) if templates else DEFAULT_QA_TEMPLATES,
      splits=splits,
      num_examples=_LazyCounts(path, splits, num_validation, skip_bad_rows),
      has_rationale=True,
      has_options=False,
      description=description or f'Flan CoT file {os.path.basename(path)}',
      url=url)


# Zero-shot prompts for CoT datasets (answer only, no rationale). The options
# of multiple-choice CoT questions are already inline in the question.
DEFAULT_QA_TEMPLATES: Tuple[Template, ...] = tuple(
    Template(inputs=i, targets='{answer}', name=f'cot_qa:{n}')
    for n, i in enumerate((
        '{question}',
        'Q: {question}\nA:',
        'Question: {question}\nAnswer:',
        'Answer this question.\n\n{question}',
        '{question}\nGive only the answer.',
        'Please answer: {question}',
        '{question}\nWhat is the answer?',
        'Respond with the answer. {question}',
        'Here is a question: {question}\nThe answer:',
        'Reply briefly.\n{question}',
    )))
