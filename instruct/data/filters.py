"""Preprocessing filters that report what they changed, and contamination.

Every step is optional and every step counts: a `FilterReport` records how
many examples were seen, kept, modified (per step) and dropped (per reason),
so nothing disappears unaccounted for.

Where each step runs:
  * Stateless, pure-TensorFlow steps also exist as streaming SeqIO
    preprocessors (`normalize_text_preprocessor`, `filter_by_length`): they
    keep a training iterator checkpointable. A streaming step cannot report
    from inside tf.data; measure what it does with the Python twin
    (`NormalizeText`, `LengthFilter`) over a sample or when caching.
  * Stateful or Python-only steps (exact and near duplicates across a whole
    task, the toxicity classifier) run in Python over rows: when a task is
    materialised (`python -m instruct.data cache --filter ...`) or when a file
    source loads its rows (`FilterPipeline.apply`). They are deliberately not
    offered as `tf.py_function` preprocessors, which would break tf.data
    iterator checkpointing and determinism.

Rows are dicts of Python values; text fields (default `inputs`, `targets`)
are `str` (bytes are decoded as UTF-8).
"""

import abc
import collections
import dataclasses
import hashlib
import json
import os
import re
import unicodedata
from typing import (Any, Counter, Dict, Iterable, Iterator, List, Mapping,
                    Optional, Sequence, Tuple)

import gin
import numpy as np
import tensorflow as tf

from instruct.errors import UserError

Row = Dict[str, Any]
TEXT_FIELDS = ('inputs', 'targets')
_SAMPLES_PER_REASON = 3


# ----------------------------------------------------------------------------
# The report.
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class FilterReport:
  """Counts of what a filter pipeline did.

  Invariant: `seen == kept + sum(dropped.values())`.

  Attributes:
    name: what was filtered (a task name, a file).
    seen: rows that entered.
    kept: rows that left.
    dropped: reason -> rows dropped for it (first step to drop wins).
    modified: step -> rows it changed (and kept or dropped later).
    samples: reason -> a few dropped texts, to eyeball the filter.
  """
  name: str = ''
  seen: int = 0
  kept: int = 0
  dropped: Counter[str] = dataclasses.field(
      default_factory=collections.Counter)
  modified: Counter[str] = dataclasses.field(
      default_factory=collections.Counter)
  samples: Dict[str, List[str]] = dataclasses.field(default_factory=dict)

  def drop(self, reason: str, row: Row) -> None:
    self.dropped[reason] += 1
    kept_samples = self.samples.setdefault(reason, [])
    if len(kept_samples) < _SAMPLES_PER_REASON:
      kept_samples.append(_snippet(row))

  def merge(self, other: 'FilterReport') -> 'FilterReport':
    """Adds another report's counts to this one (e.g. per task -> mixture)."""
    self.seen += other.seen
    self.kept += other.kept
    self.dropped.update(other.dropped)
    self.modified.update(other.modified)
    for reason, texts in other.samples.items():
      mine = self.samples.setdefault(reason, [])
      mine.extend(texts[:_SAMPLES_PER_REASON - len(mine)])
    return self

  def to_dict(self) -> Dict[str, Any]:
    return {'name': self.name, 'seen': self.seen, 'kept': self.kept,
            'dropped': dict(self.dropped), 'modified': dict(self.modified),
            'samples': self.samples}

  def format(self) -> str:
    """A Markdown table: one line per count."""
    pct = lambda n: f'{n / self.seen:.1%}' if self.seen else '-'
    title = f'Filter report{": " + self.name if self.name else ""}'
    lines = [title, '', '| | examples | share |', '|---|---:|---:|',
             f'| seen | {self.seen} | |', f'| kept | {self.kept} | '
             f'{pct(self.kept)} |']
    for reason, n in sorted(self.dropped.items()):
      lines.append(f'| dropped: {reason} | {n} | {pct(n)} |')
    for step, n in sorted(self.modified.items()):
      lines.append(f'| modified: {step} | {n} | {pct(n)} |')
    return '\n'.join(lines)


def _text(value: Any) -> str:
  if isinstance(value, bytes):
    return value.decode('utf-8')
  return value if isinstance(value, str) else str(value)


def _snippet(row: Row, width: int = 80) -> str:
  text = ' | '.join(_text(row[f]) for f in TEXT_FIELDS if f in row)
  return text if len(text) <= width else text[:width - 3] + '...'


# ----------------------------------------------------------------------------
# Steps (Python, over lists of rows).
# ----------------------------------------------------------------------------


class Step(abc.ABC):
  """One filtering or rewriting step over a batch of rows."""

  name: str = 'step'

  @abc.abstractmethod
  def apply(self, rows: List[Row], report: FilterReport) -> List[Row]:
    """Returns the rows to keep (possibly rewritten), counting in `report`."""


def _fields(row: Row, fields: Sequence[str]) -> List[str]:
  return [f for f in fields if f in row]


_HSPACE = re.compile(r'[ \t\f\v]+')
_LINE_EDGES = re.compile(r' ?\n ?')
_BLANK_LINES = re.compile(r'\n{3,}')


def normalize_text(text: str, form: Optional[str] = 'NFKC',
                   whitespace: bool = True) -> str:
  """Unicode normal form and whitespace clean-up (Python reference).

  Whitespace: CR LF and CR become LF; runs of spaces and tabs become one
  space; spaces around a line break go; at most one blank line in a row;
  no leading or trailing whitespace. Line breaks are kept: instruction
  prompts use them ("OPTIONS:\\n- yes").
  """
  if form:
    text = unicodedata.normalize(form, text)
  if whitespace:
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    text = _HSPACE.sub(' ', text)
    text = _LINE_EDGES.sub('\n', text)
    text = _BLANK_LINES.sub('\n\n', text)
    text = text.strip(' \n')
  return text


@gin.configurable
@dataclasses.dataclass
class NormalizeText(Step):
  """Unicode (NFKC by default) and whitespace normalisation; counts changes."""
  form: Optional[str] = 'NFKC'
  whitespace: bool = True
  fields: Sequence[str] = TEXT_FIELDS
  name: str = 'normalize'

  def apply(self, rows, report):
    for row in rows:
      changed = False
      for f in _fields(row, self.fields):
        old = _text(row[f])
        new = normalize_text(old, self.form, self.whitespace)
        if new != old:
          row[f] = new
          changed = True
      report.modified[self.name] += changed
    return rows


_UNITS = ('chars', 'words', 'tokens')


@gin.configurable
@dataclasses.dataclass
class LengthFilter(Step):
  """Drops rows whose fields are shorter or longer than allowed.

  Attributes:
    min_length: minimum per field (e.g. 1 drops empty targets), or None.
    max_length: maximum per field, or None.
    unit: 'chars', 'words' (whitespace-separated) or 'tokens' (needs
      `vocabulary`, a seqio.Vocabulary).
    fields: the fields to measure.
  """
  min_length: Optional[int] = None
  max_length: Optional[int] = None
  unit: str = 'chars'
  fields: Sequence[str] = TEXT_FIELDS
  vocabulary: Any = None
  name: str = 'length'

  def __post_init__(self):
    if self.unit not in _UNITS:
      raise UserError(f'LengthFilter.unit must be one of {_UNITS}, got '
                      f'{self.unit!r}.')
    if self.unit == 'tokens' and self.vocabulary is None:
      raise UserError("LengthFilter.unit='tokens' needs a vocabulary.")

  def measure(self, text: str) -> int:
    if self.unit == 'chars':
      return len(text)
    if self.unit == 'words':
      return len(text.split())
    return len(self.vocabulary.encode(text))

  def apply(self, rows, report):
    kept = []
    for row in rows:
      reason = None
      for f in _fields(row, self.fields):
        n = self.measure(_text(row[f]))
        if self.min_length is not None and n < self.min_length:
          reason = f'too_short:{f}'
        elif self.max_length is not None and n > self.max_length:
          reason = f'too_long:{f}'
        if reason:
          break
      if reason:
        report.drop(reason, row)
      else:
        kept.append(row)
    return kept


def _dedup_key(row: Row, fields: Sequence[str]) -> str:
  text = '\x00'.join(' '.join(_text(row[f]).casefold().split())
                     for f in _fields(row, fields))
  return hashlib.sha1(text.encode('utf-8')).hexdigest()


@gin.configurable
@dataclasses.dataclass
class ExactDedup(Step):
  """Drops rows whose fields equal an earlier row's (case and spacing aside)."""
  fields: Sequence[str] = TEXT_FIELDS
  name: str = 'duplicate'

  def __post_init__(self):
    self._seen = set()

  def apply(self, rows, report):
    kept = []
    for row in rows:
      key = _dedup_key(row, self.fields)
      if key in self._seen:
        report.drop(self.name, row)
      else:
        self._seen.add(key)
        kept.append(row)
    return kept


@gin.configurable
@dataclasses.dataclass
class NearDedup(Step):
  """Drops rows whose estimated Jaccard similarity to a kept row >= threshold.

  MinHash signatures over character shingles, indexed with datasketch's LSH,
  so the cost per row is constant rather than linear in rows kept.

  Attributes:
    threshold: Jaccard similarity at which two rows count as near duplicates.
    num_perm: MinHash permutations (accuracy vs speed).
    shingle_size: characters per shingle (of the lower-cased, space-collapsed
      text of `fields`).
  """
  threshold: float = 0.8
  num_perm: int = 128
  shingle_size: int = 5
  fields: Sequence[str] = TEXT_FIELDS
  name: str = 'near_duplicate'

  def __post_init__(self):
    if not 0.0 < self.threshold <= 1.0:
      raise UserError(f'NearDedup.threshold must be in (0, 1], got '
                      f'{self.threshold}.')
    import datasketch  # pylint: disable=g-import-not-at-top
    self._datasketch = datasketch
    self._lsh = datasketch.MinHashLSH(threshold=self.threshold,
                                      num_perm=self.num_perm)
    self._count = 0

  def _minhash(self, row: Row):
    text = ' '.join(' '.join(_text(row[f]).casefold().split())
                    for f in _fields(row, self.fields))
    k = self.shingle_size
    shingles = {text[i:i + k] for i in range(max(1, len(text) - k + 1))}
    m = self._datasketch.MinHash(num_perm=self.num_perm)
    m.update_batch([s.encode('utf-8') for s in shingles])
    return m

  def apply(self, rows, report):
    kept = []
    for row in rows:
      m = self._minhash(row)
      if self._lsh.query(m):
        report.drop(self.name, row)
        continue
      self._lsh.insert(str(self._count), m)
      self._count += 1
      kept.append(row)
    return kept


@gin.configurable
@dataclasses.dataclass
class ToxicityFilter(Step):
  """Drops rows any of whose fields the `alt-profanity-check` classifier
  scores at or above `threshold` (a maintained linear model trained on
  labelled offensive text, not a hand-typed word list)."""
  threshold: float = 0.8
  fields: Sequence[str] = TEXT_FIELDS
  name: str = 'toxic'

  def __post_init__(self):
    if not 0.0 <= self.threshold <= 1.0:
      raise UserError(f'ToxicityFilter.threshold must be in [0, 1], got '
                      f'{self.threshold}.')

  def scores(self, rows: List[Row]) -> np.ndarray:
    """Per-row maximum toxicity probability over the fields."""
    from profanity_check import predict_prob  # pylint: disable=g-import-not-at-top
    texts, owner = [], []
    for i, row in enumerate(rows):
      for f in _fields(row, self.fields):
        texts.append(_text(row[f]))
        owner.append(i)
    out = np.zeros(len(rows))
    if texts:
      np.maximum.at(out, np.array(owner), predict_prob(texts))
    return out

  def apply(self, rows, report):
    kept = []
    for row, score in zip(rows, self.scores(rows)):
      if score >= self.threshold:
        report.drop(self.name, row)
      else:
        kept.append(row)
    return kept


class FilterPipeline:
  """Runs steps in order over a stream of rows, in batches, with a report."""

  def __init__(self, steps: Sequence[Step] = (), name: str = '',
               batch_size: int = 512):
    self.steps = list(steps)
    self.batch_size = batch_size
    self.report = FilterReport(name=name)

  def __bool__(self) -> bool:
    return bool(self.steps)

  def _run(self, rows: List[Row]) -> List[Row]:
    self.report.seen += len(rows)
    for step in self.steps:
      rows = step.apply(rows, self.report)
    self.report.kept += len(rows)
    return rows

  def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
    """Yields the kept (possibly rewritten) rows; counts go to `report`."""
    batch = []
    for row in rows:
      batch.append(dict(row))
      if len(batch) >= self.batch_size:
        yield from self._run(batch)
        batch = []
    if batch:
      yield from self._run(batch)


@gin.configurable
def build_filters(normalize: bool = False,
                  dedup: bool = False,
                  near_dedup_threshold: Optional[float] = None,
                  min_length: Optional[int] = None,
                  max_length: Optional[int] = None,
                  length_unit: str = 'chars',
                  toxicity_threshold: Optional[float] = None,
                  fields: Sequence[str] = TEXT_FIELDS,
                  name: str = '') -> FilterPipeline:
  """A pipeline of the enabled steps, in a sensible order.

  Normalise first (so duplicates differing only in spacing or Unicode form
  are caught), then drop by length, exact then near duplicates, then
  toxicity (the most expensive check runs on the fewest rows). Everything
  defaults to off; enable steps in gin, e.g.
  `build_filters.dedup = True` or `build_filters.toxicity_threshold = 0.9`.
  """
  steps: List[Step] = []
  if normalize:
    steps.append(NormalizeText(fields=fields))
  if min_length is not None or max_length is not None:
    steps.append(LengthFilter(min_length, max_length, length_unit, fields))
  if dedup:
    steps.append(ExactDedup(fields=fields))
  if near_dedup_threshold is not None:
    steps.append(NearDedup(threshold=near_dedup_threshold, fields=fields))
  if toxicity_threshold is not None:
    steps.append(ToxicityFilter(threshold=toxicity_threshold, fields=fields))
  return FilterPipeline(steps, name=name)


# ----------------------------------------------------------------------------
# Streaming SeqIO preprocessors (pure TensorFlow, stateless).
# ----------------------------------------------------------------------------


def _tf_normalize(text: tf.Tensor, form: Optional[str],
                  whitespace: bool) -> tf.Tensor:
  """TensorFlow twin of `normalize_text` (RE2 with explicit classes)."""
  if form:
    import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
    text = tf_text.normalize_utf8(text, form)
  if whitespace:
    text = tf.strings.regex_replace(text, '\r\n?', '\n')
    text = tf.strings.regex_replace(text, '[ \t\f\v]+', ' ')
    text = tf.strings.regex_replace(text, ' ?\n ?', '\n')
    text = tf.strings.regex_replace(text, '\n{3,}', '\n\n')
    text = tf.strings.regex_replace(text, '^[ \n]+|[ \n]+$', '')
  return text


def normalize_text_preprocessor(dataset: tf.data.Dataset,
                                features: Sequence[str] = TEXT_FIELDS,
                                form: Optional[str] = 'NFKC',
                                whitespace: bool = True) -> tf.data.Dataset:
  """SeqIO preprocessor: `normalize_text` on string features, in the graph.

  Place it before `seqio.preprocessors.tokenize`, e.g.
  `functools.partial(filters.normalize_text_preprocessor, form='NFKC')`.
  """
  def fn(ex):
    ex = dict(ex)
    for f in features:
      if f in ex and ex[f].dtype == tf.string:
        ex[f] = _tf_normalize(ex[f], form, whitespace)
    return ex
  return dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE)


def filter_by_length(dataset: tf.data.Dataset,
                     min_length: Optional[int] = None,
                     max_length: Optional[int] = None,
                     features: Sequence[str] = TEXT_FIELDS) -> tf.data.Dataset:
  """SeqIO preprocessor: keeps examples whose features fit the bounds.

  String features are measured in Unicode characters (place it before
  tokenization), integer features in tokens (after). Counts of what it drops
  come from `LengthFilter` with the same bounds (see module docstring).
  """
  def keep(ex):
    ok = tf.constant(True)
    for f in features:
      if f not in ex:
        continue
      v = ex[f]
      n = (tf.strings.length(v, unit='UTF8_CHAR') if v.dtype == tf.string
           else tf.size(v))
      if min_length is not None:
        ok = tf.logical_and(ok, n >= min_length)
      if max_length is not None:
        ok = tf.logical_and(ok, n <= max_length)
    return ok
  return dataset.filter(keep)


# ----------------------------------------------------------------------------
# Contamination: n-gram overlap between training data and evaluation sets.
# ----------------------------------------------------------------------------

_WORD = re.compile(r'\w+')


def words(text: str) -> List[str]:
  """Lower-cased word tokens (punctuation and spacing ignored)."""
  return _WORD.findall(unicodedata.normalize('NFKC', text).casefold())


@dataclasses.dataclass
class Overlap:
  """An evaluation example that shares n-grams with training data."""
  index: int
  text: str
  matched: int  # distinct n-grams of the eval example found in training.
  total: int  # distinct n-grams of the eval example.
  first_train_example: str  # 'task#index' of the first training hit.

  @property
  def fraction(self) -> float:
    return self.matched / self.total if self.total else 0.0


@dataclasses.dataclass
class EvalSetContamination:
  name: str
  examples: int
  too_short: int  # examples with fewer than `min_words` words: not checked.
  overlaps: List[Overlap]


@dataclasses.dataclass
class ContaminationReport:
  """Which evaluation examples share an n-gram with the training data."""
  train: str
  n: int
  train_examples: int
  eval_sets: List[EvalSetContamination]

  def to_dict(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)

  def format(self, max_listed: int = 10) -> str:
    lines = [f'Contamination of eval sets by {self.train} '
             f'({self.train_examples} training examples, {self.n}-grams of '
             'words)', '',
             '| eval set | examples | not checked (short) | overlapping '
             '| share |', '|---|---:|---:|---:|---:|']
    for s in self.eval_sets:
      checked = s.examples - s.too_short
      share = f'{len(s.overlaps) / checked:.1%}' if checked else '-'
      lines.append(f'| {s.name} | {s.examples} | {s.too_short} | '
                   f'{len(s.overlaps)} | {share} |')
    for s in self.eval_sets:
      if not s.overlaps:
        continue
      lines += ['', f'{s.name}: overlapping examples'
                f'{f" (first {max_listed})" if len(s.overlaps) > max_listed else ""}',
                '', '| # | matched n-grams | first training hit | text |',
                '|---:|---:|---|---|']
      for o in s.overlaps[:max_listed]:
        text = o.text.replace('\n', ' ').replace('|', '\\|')[:100]
        lines.append(f'| {o.index} | {o.matched}/{o.total} '
                     f'({o.fraction:.0%}) | {o.first_train_example} | '
                     f'{text} |')
    return '\n'.join(lines)


def contamination_report(train: Iterable[Tuple[str, str]],
                         eval_sets: Mapping[str, Sequence[str]],
                         n: int = 13,
                         min_words: int = 8,
                         train_name: str = 'train') -> ContaminationReport:
  """Finds evaluation examples sharing a word n-gram with training examples.

  Args:
    train: (id, text) pairs of training examples (streamed once).
    eval_sets: eval set name -> example texts (input and target together).
    n: n-gram size in words (13, as in the GPT-3 and FLAN analyses).
    min_words: eval examples shorter than `n` words but at least this long
      are checked as a whole (their full word sequence must occur in a
      training example); shorter ones are counted as not checked.
    train_name: shown in the report.

  Returns:
    A `ContaminationReport`, eval examples listed in their original order.
  """
  if n < 1 or min_words < 1:
    raise UserError(f'n-gram size and min_words must be >= 1, got n={n}, '
                    f'min_words={min_words}.')
  index: Dict[Tuple[str, ...], List[Tuple[str, int]]] = (
      collections.defaultdict(list))
  totals: Dict[Tuple[str, int], int] = {}
  sizes = set()  # n-gram sizes to extract from training text.
  too_short = collections.Counter()
  for name, texts in eval_sets.items():
    for i, text in enumerate(texts):
      w = words(text)
      size = min(n, len(w))
      if size < min_words:
        too_short[name] += 1
        continue
      grams = {tuple(w[j:j + size]) for j in range(len(w) - size + 1)}
      totals[(name, i)] = len(grams)
      sizes.add(size)
      for g in grams:
        index[g].append((name, i))
  matched: Dict[Tuple[str, int], set] = collections.defaultdict(set)
  first_hit: Dict[Tuple[str, int], str] = {}
  count = 0
  for train_id, text in train:
    count += 1
    w = words(text)
    for size in sizes:
      for j in range(len(w) - size + 1):
        g = tuple(w[j:j + size])
        for key in index.get(g, ()):
          matched[key].add(g)
          first_hit.setdefault(key, train_id)
  results = []
  for name, texts in eval_sets.items():
    overlaps = [Overlap(i, texts[i], len(matched[(name, i)]),
                        totals[(name, i)], first_hit[(name, i)])
                for i in range(len(texts)) if (name, i) in first_hit]
    results.append(EvalSetContamination(name, len(texts), too_short[name],
                                        overlaps))
  return ContaminationReport(train_name, n, count, results)


def load_bbh_dir(path: str) -> Dict[str, List[str]]:
  """Eval sets from BIG-Bench-Hard-style JSON files (a folder or one file).

  Each file is one eval set named after the file, holding
  {"examples": [{"input": ..., "target": ...}, ...]}.
  """
  if os.path.isdir(path):
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.endswith('.json'))
    if not files:
      raise UserError(f'{path}: no *.json eval files in this folder.')
  else:
    files = [path]
  out = {}
  for file in files:
    try:
      with open(file, encoding='utf-8') as f:
        data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      raise UserError(f'{file}: not a UTF-8 JSON file: {e}') from e
    examples = data.get('examples') if isinstance(data, dict) else None
    if not isinstance(examples, list):
      raise UserError(f'{file}: expected a JSON object with an "examples" '
                      'list of {"input", "target"} objects.')
    texts = []
    for i, ex in enumerate(examples):
      if not isinstance(ex, dict) or 'input' not in ex:
        raise UserError(f'{file}: examples[{i}] has no "input" field.')
      texts.append(f'{ex["input"]} {ex.get("target", "")}'.strip())
    out[os.path.splitext(os.path.basename(file))[0]] = texts
  return out
