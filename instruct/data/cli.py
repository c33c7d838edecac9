"""`python -m instruct.data`: inspect, report, cache and check the collection.

    python -m instruct.data list [PATTERN] [--source S] [--kind tasks]
    python -m instruct.data show TASK -n 5 [--split validation]
    python -m instruct.data report MIXTURE [--json]
    python -m instruct.data cache MIXTURE_OR_TASK DIR [--split train]
        [--max-examples N] [--normalize] [--dedup] [--near-dedup 0.8]
        [--min-length 1] [--max-length 4000] [--toxicity 0.9]
    python -m instruct.data lengths TASK [-n 2000] [--percentile 99]
    python -m instruct.data contamination TRAIN EVAL [EVAL ...] [--ngram 13]

Task modules: `tasks` is always imported; `--module M` imports more (the
same as MIXTURE_OR_TASK_MODULE). Each command is also a function here, so a
notebook can call `cache(...)` or `show_examples(...)` directly.

`cache` writes SeqIO's cached-task format, one task and split at a time
(memory stays flat): `DIR/<task>/{split}.tfrecord-0000i-of-0000n`,
`info.{split}.json`, `stats.{split}.json` and `COMPLETED`, plus our
`filter_report.{split}.json`. Read it back in a run with
`USE_CACHED_TASKS = True` and the directory added by
`seqio.add_global_cache_dirs([DIR])`.
"""

import argparse
import difflib
import importlib
import json
import math
import os
import shutil
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import seqio
import tensorflow as tf
import tqdm

from instruct.data import filters as filters_lib
from instruct.data import mixtures
from instruct.data import packing
from instruct.data import registry
from instruct.errors import UserError

DEFAULT_MODULES = ('tasks',)
METADATA_FEATURES = ('_task_name', '_task_source', '_template_type',
                     '_template_idx')
TEXT_KEYS = ('inputs', 'targets')
_EXAMPLES_PER_SHARD = 100_000


# ----------------------------------------------------------------------------
# Lookup.
# ----------------------------------------------------------------------------


def import_modules(modules: Sequence[str]) -> None:
  for name in modules:
    try:
      importlib.import_module(name)
    except ImportError as e:
      raise UserError(f'--module {name}: could not be imported: {e}') from e


def get_provider(name: str):
  """A registered task or mixture, or a UserError with close matches."""
  known = set(seqio.TaskRegistry.names()) | set(seqio.MixtureRegistry.names())
  if name in known:
    return seqio.get_mixture_or_task(name)
  close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.5)
  hint = f' Did you mean: {", ".join(close)}?' if close else ''
  raise UserError(f'{name!r} is not a registered task or mixture '
                  f'({len(known)} registered; add --module for the module '
                  f'that registers it).{hint}')


def leaf_tasks(name: str) -> List[seqio.Task]:
  provider = get_provider(name)
  if isinstance(provider, seqio.Mixture):
    return list(provider.tasks)
  return [provider]


def _check_split(provider, split: str) -> None:
  splits = set(provider.splits)
  if split not in splits:
    raise UserError(f'{provider.name!r} has no split {split!r}; it has '
                    f'{sorted(splits)}.')


def _text(ex: Dict[str, Any], key: str,
          vocabulary: Optional[seqio.Vocabulary]) -> Optional[str]:
  """An example's text for `key`: pretokenized text, else decoded tokens."""
  pre = ex.get(f'{key}_pretokenized')
  if pre is not None:
    return pre.decode('utf-8') if isinstance(pre, bytes) else str(pre)
  value = ex.get(key)
  if value is None:
    return None
  if isinstance(value, bytes):
    return value.decode('utf-8')
  if vocabulary is None:
    return str(value)
  return vocabulary.decode([int(t) for t in value])


def _vocab(provider, key: str) -> Optional[seqio.Vocabulary]:
  feature = provider.output_features.get(key)
  return feature.vocabulary if feature is not None else None


# ----------------------------------------------------------------------------
# list / show / report / lengths.
# ----------------------------------------------------------------------------


def _task_row(name: str) -> Dict[str, Any]:
  if registry.is_registered(name):
    info = registry.task_info(name)
    return {'name': name, 'kind': 'task', 'source': info.source,
            'cluster': info.cluster, 'variant': info.variant}
  return {'name': name, 'kind': 'task', 'source': '', 'cluster': '',
          'variant': ''}


def list_names(pattern: str = '', source: Optional[str] = None,
               kind: str = 'all') -> List[Dict[str, Any]]:
  """Registered tasks and mixtures whose name contains `pattern`.

  `source` keeps collection tasks of that source; a task registered
  directly with SeqIO matches when its name starts with `<source>_`.
  Mixtures are kept when any of their tasks match the source.
  """
  def source_ok(name: str) -> bool:
    if source is None:
      return True
    if registry.is_registered(name):
      return registry.task_info(name).source == source
    return name.startswith(source + '_')

  rows = []
  if kind in ('all', 'tasks'):
    for name in sorted(seqio.TaskRegistry.names()):
      if pattern in name and source_ok(name):
        rows.append(_task_row(name))
  if kind in ('all', 'mixtures'):
    for name in sorted(seqio.MixtureRegistry.names()):
      if pattern not in name:
        continue
      tasks = seqio.get_mixture_or_task(name).tasks
      if source is not None and not any(source_ok(t.name) for t in tasks):
        continue
      rows.append({'name': name, 'kind': 'mixture', 'source': '',
                   'cluster': '', 'variant': f'{len(tasks)} tasks'})
  return rows


def format_list(rows: Sequence[Dict[str, Any]]) -> str:
  lines = ['| name | kind | source | cluster | variant / size |',
           '|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["name"]} | {r["kind"]} | {r["source"] or "-"} | '
                 f'{r["cluster"] or "-"} | {r["variant"] or "-"} |')
  n_tasks = sum(r['kind'] == 'task' for r in rows)
  lines += ['', f'{n_tasks} tasks, {len(rows) - n_tasks} mixtures.']
  return '\n'.join(lines)


def show_examples(name: str, n: int = 5, split: str = 'train',
                  seed: int = 0) -> List[Dict[str, Any]]:
  """The first n rendered examples: text and metadata (no token ids)."""
  if n < 1:
    raise UserError(f'-n must be >= 1, got {n}.')
  provider = get_provider(name)
  _check_split(provider, split)
  if isinstance(provider, seqio.Mixture):
    ds = provider.get_dataset(
        sequence_length=None, split=split, shuffle=False, seed=seed,
        passthrough_features=[f'{k}_pretokenized' for k in TEXT_KEYS] +
        list(METADATA_FEATURES))
  else:
    ds = provider.get_dataset(sequence_length=None, split=split,
                              shuffle=False, seed=seed)
  out = []
  for ex in ds.take(n).as_numpy_iterator():
    row = {}
    for key in TEXT_KEYS:
      text = _text(ex, key, _vocab(provider, key))
      if text is not None:
        row[key] = text
    for key, value in sorted(ex.items()):
      if key in TEXT_KEYS or key.endswith('_pretokenized'):
        continue
      if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
      elif isinstance(value, np.ndarray):
        value = [v.decode('utf-8', 'replace') if isinstance(v, bytes) else
                 v.item() for v in value.reshape(-1)]
      elif isinstance(value, np.generic):
        value = value.item()
      row[key] = value
    out.append(row)
  return out


def format_examples(name: str, split: str, rows: Sequence[Dict[str, Any]]
                    ) -> str:
  parts = []
  for i, row in enumerate(rows):
    meta = ', '.join(f'{k}={v}' for k, v in row.items()
                     if k not in TEXT_KEYS)
    parts.append(f'=== {name} [{split}] example {i}' +
                 (f' ({meta})' if meta else '') + ' ===')
    for key in TEXT_KEYS:
      if key in row:
        parts.append(f'--- {key} ---\n{row[key]}')
  return '\n'.join(parts)


# ----------------------------------------------------------------------------
# cache.
# ----------------------------------------------------------------------------


def _tf_feature(key: str, value: Any) -> tf.train.Feature:
  """One feature of a tf.train.Example (bools as ints: see module notes)."""
  if isinstance(value, bytes):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
  arr = np.asarray(value)
  flat = arr.reshape(-1)
  if arr.dtype.kind in 'biu':
    # SeqIO 0.0.20's dict_to_tfexample passes numpy bools to Int64List,
    # which protobuf 7 rejects; plain ints work everywhere.
    return tf.train.Feature(int64_list=tf.train.Int64List(
        value=[int(v) for v in flat]))
  if arr.dtype.kind == 'f':
    return tf.train.Feature(float_list=tf.train.FloatList(
        value=[float(v) for v in flat]))
  if arr.dtype.kind == 'O':
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v if isinstance(v, bytes) else str(v).encode('utf-8')
               for v in flat]))
  raise UserError(f'Cannot cache feature {key!r} of dtype {arr.dtype}.')


def _info_features(spec: Dict[str, tf.TensorSpec]) -> Dict[str, Any]:
  """info.{split}.json's feature table, as SeqIO's cache writer makes it."""
  out = {}
  for key, s in spec.items():
    if isinstance(s, tf.RaggedTensorSpec) or (
        s.shape.rank and not s.shape[1:].is_fully_defined()):
      raise UserError(f'Cannot cache feature {key!r} of shape {s.shape}: '
                      'only scalars and [length, fixed...] are supported.')
    shape = s.shape.as_list()
    out[key] = {'shape': [None] + shape[1:] if shape else [],
                'dtype': s.dtype.name}
  return out


def _retokenize(ex: Dict[str, Any], key: str, old: str, new: str,
                vocab: Optional[seqio.Vocabulary], task: str) -> None:
  """Writes normalised text back, re-tokenizing the token feature."""
  if f'{key}_pretokenized' in ex:
    ex[f'{key}_pretokenized'] = new.encode('utf-8')
  value = ex.get(key)
  if isinstance(value, bytes):
    ex[key] = new.encode('utf-8')
  elif value is not None and vocab is not None:
    tokens = [int(t) for t in value]
    encoded = list(vocab.encode(old))
    suffix = tokens[len(encoded):]
    if tokens[:len(encoded)] != encoded or suffix not in ([], [vocab.eos_id]):
      raise UserError(
          f'{task}: cannot normalise {key!r} when caching: its tokens are not '
          f'the tokenized {key}_pretokenized text; normalise in the task '
          '(filters.normalize_text_preprocessor) instead.')
    ex[key] = np.array(list(vocab.encode(new)) + suffix, value.dtype)


def _filtered(examples: Iterator[Dict[str, Any]], task: seqio.Task,
              pipeline: filters_lib.FilterPipeline
              ) -> Iterator[Dict[str, Any]]:
  """Runs the filter pipeline over examples' texts, rewriting changed text."""
  vocabs = {k: _vocab(task, k) for k in TEXT_KEYS}

  def rows():
    for ex in examples:
      row = {'_example': ex}
      for k in TEXT_KEYS:
        text = _text(ex, k, vocabs[k])
        if text is not None:
          row[k] = text
      row['_original'] = {k: row[k] for k in TEXT_KEYS if k in row}
      yield row

  for row in pipeline.apply(rows()):
    ex = row['_example']
    for k, old in row['_original'].items():
      if row[k] != old:
        _retokenize(ex, k, old, row[k], vocabs[k], task.name)
    yield ex


def _stats(task: seqio.Task) -> Tuple[Dict[str, int], Any]:
  counts: Dict[str, int] = {'examples': 0}

  def add(ex):
    counts['examples'] += 1
    for name, feat in task.output_features.items():
      value = ex.get(name)
      if not isinstance(value, np.ndarray) or value.dtype.kind not in 'iu':
        continue
      vocab = feat.vocabulary
      n = int(np.sum((value != vocab.eos_id) & (value != vocab.pad_id)))
      counts[f'{name}_tokens'] = counts.get(f'{name}_tokens', 0) + n
      counts[f'{name}_max_tokens'] = max(counts.get(f'{name}_max_tokens', 0),
                                         n)
  return counts, add


def cache_task_split(task: seqio.Task, task_dir: str, split: str,
                     max_examples: Optional[int] = None,
                     pipeline: Optional[filters_lib.FilterPipeline] = None,
                     num_shards: Optional[int] = None, seed: int = 0,
                     show_progress: bool = True) -> Dict[str, Any]:
  """Writes one split of one task in SeqIO's cached format; returns stats."""
  ds = task.source.get_dataset(split=split, shuffle=False, seed=seed)
  ds = task.preprocess_precache(ds, seed=seed)
  if max_examples is not None:
    ds = ds.take(max_examples)
  expected = task.num_input_examples(split)
  if max_examples is not None:
    expected = min(expected, max_examples) if expected else max_examples
  if num_shards is None:
    num_shards = max(1, math.ceil((expected or 1) / _EXAMPLES_PER_SHARD))
  prefix = seqio.utils.get_cached_tfrecord_prefix(task_dir, split)
  paths = [f'{prefix}-{i:05d}-of-{num_shards:05d}' for i in range(num_shards)]
  examples = ds.as_numpy_iterator()
  if pipeline:
    examples = _filtered(examples, task, pipeline)
  counts, add = _stats(task)
  bar = tqdm.tqdm(total=expected, desc=f'{task.name} [{split}]',
                  unit='ex', file=sys.stderr, dynamic_ncols=True,
                  mininterval=0.1 if sys.stderr.isatty() else 30,
                  disable=not show_progress)
  writers = [tf.io.TFRecordWriter(p) for p in paths]
  try:
    for i, ex in enumerate(examples):
      # Round robin keeps shards even without knowing the count up front.
      writers[i % num_shards].write(tf.train.Example(
          features=tf.train.Features(feature={
              k: _tf_feature(k, v) for k, v in ex.items()})
      ).SerializeToString())
      add(ex)
      bar.update(1)
  finally:
    for w in writers:
      w.close()
    bar.close()
  info = {'num_shards': num_shards,
          'features': _info_features(ds.element_spec),
          'seqio_version': seqio.__version__}
  with tf.io.gfile.GFile(seqio.utils.get_cached_info_path(task_dir, split),
                         'w') as f:
    json.dump(info, f, indent=2)
  with tf.io.gfile.GFile(seqio.utils.get_cached_stats_path(task_dir, split),
                         'w') as f:
    json.dump(counts, f, indent=2)
  if pipeline:
    with tf.io.gfile.GFile(
        os.path.join(task_dir, f'filter_report.{split}.json'), 'w') as f:
      json.dump(pipeline.report.to_dict(), f, indent=2)
  return counts


def cache(name: str, out_dir: str, splits: Optional[Sequence[str]] = None,
          max_examples: Optional[int] = None,
          make_filters=None, num_shards: Optional[int] = None,
          overwrite: bool = False, seed: int = 0,
          show_progress: bool = True, log=print) -> Dict[str, Any]:
  """Materialises a task or every leaf task of a mixture, one at a time.

  Args:
    name: a task or mixture.
    out_dir: the cache directory (give it to `seqio.add_global_cache_dirs`).
    splits: splits to write (default: every split of each task).
    max_examples: cap per task and split (for trials).
    make_filters: () -> FilterPipeline, called per task and split (dedup
      state is per task); None writes everything.
    num_shards: tfrecord shards per split (default one per 100k examples).
    overwrite: rewrite tasks already cached in `out_dir`.
    seed: preprocessing seed.
    show_progress: progress bars on stderr.
    log: where one line per task goes.

  Returns:
    {'tasks': {task: {split: stats}}, 'skipped': {task: reason},
     'filter_report': merged FilterReport dict or None}.
  """
  tasks = leaf_tasks(name)
  if splits:
    for split in splits:
      if not any(split in t.splits for t in tasks):
        raise UserError(f'--split {split}: no task of {name!r} has it.')
  merged = filters_lib.FilterReport(name=name)
  result = {'tasks': {}, 'skipped': {}, 'filter_report': None}
  for task in tasks:
    task_dir = os.path.join(out_dir, seqio.utils.get_task_dir_from_name(
        task.name))
    if not task.supports_caching:
      result['skipped'][task.name] = ('no seqio.CacheDatasetPlaceholder in '
                                      'its preprocessors')
      log(f'skip {task.name}: {result["skipped"][task.name]}')
      continue
    if tf.io.gfile.exists(os.path.join(task_dir, 'COMPLETED')):
      if not overwrite:
        result['skipped'][task.name] = 'already cached (use --overwrite)'
        log(f'skip {task.name}: {result["skipped"][task.name]}')
        continue
    if tf.io.gfile.exists(task_dir):
      shutil.rmtree(task_dir)  # A partial or overwritten cache.
    tf.io.gfile.makedirs(task_dir)
    per_split = {}
    for split in (s for s in task.splits if not splits or s in splits):
      pipeline = make_filters() if make_filters else None
      if pipeline is not None:
        pipeline.report.name = f'{task.name} [{split}]'
      per_split[split] = cache_task_split(
          task, task_dir, split, max_examples, pipeline, num_shards, seed,
          show_progress)
      if pipeline:
        merged.merge(pipeline.report)
      log(f'cached {task.name} [{split}]: {per_split[split]["examples"]} '
          'examples')
    with tf.io.gfile.GFile(os.path.join(task_dir, 'COMPLETED'), 'w') as f:
      f.write('')
    result['tasks'][task.name] = per_split
  if make_filters:
    result['filter_report'] = merged.to_dict()
    log(merged.format())
  return result


# ----------------------------------------------------------------------------
# contamination.
# ----------------------------------------------------------------------------


def _task_texts(name: str, split: str, max_examples: Optional[int]
                ) -> Iterator[Tuple[str, str]]:
  """(task#index, inputs + targets text) of every leaf task, one at a time."""
  for task in leaf_tasks(name):
    if split not in task.splits:
      continue
    ds = task.get_dataset(sequence_length=None, split=split, shuffle=False)
    if max_examples is not None:
      ds = ds.take(max_examples)
    vocabs = {k: _vocab(task, k) for k in TEXT_KEYS}
    for i, ex in enumerate(ds.as_numpy_iterator()):
      text = ' '.join(t for t in (_text(ex, k, vocabs[k]) for k in TEXT_KEYS)
                      if t)
      yield f'{task.name}#{i}', text


def load_eval_sets(specs: Sequence[str], split: str = 'validation',
                   max_examples: Optional[int] = None
                   ) -> Dict[str, List[str]]:
  """Eval sets from BBH-style JSON folders/files or SeqIO tasks/mixtures."""
  out: Dict[str, List[str]] = {}
  for spec in specs:
    if os.path.exists(spec):
      sets = filters_lib.load_bbh_dir(spec)
      if max_examples is not None:
        sets = {k: v[:max_examples] for k, v in sets.items()}
      out.update(sets)
      continue
    for task in leaf_tasks(spec):
      if split not in task.splits:
        continue
      out[task.name] = [t for _, t in _task_texts(task.name, split,
                                                   max_examples)]
    if not any(split in t.splits for t in leaf_tasks(spec)):
      raise UserError(f'eval set {spec!r} has no {split!r} split '
                      '(see --eval-split).')
  return out


def contamination(train: str, evals: Sequence[str], n: int = 13,
                  train_split: str = 'train', eval_split: str = 'validation',
                  max_train_examples: Optional[int] = None,
                  max_eval_examples: Optional[int] = None,
                  min_words: int = 8) -> filters_lib.ContaminationReport:
  """n-gram overlap of a training task/mixture with evaluation sets."""
  get_provider(train)
  eval_sets = load_eval_sets(evals, eval_split, max_eval_examples)
  return filters_lib.contamination_report(
      _task_texts(train, train_split, max_train_examples), eval_sets, n=n,
      min_words=min_words, train_name=train)


# ----------------------------------------------------------------------------
# Command line.
# ----------------------------------------------------------------------------


def _positive(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a positive integer, got '
                                     f'{text!r}')
  if value < 1:
    raise argparse.ArgumentTypeError(f'expected a positive integer, got '
                                     f'{value}')
  return value


def _fraction(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a number in [0, 1], got '
                                     f'{text!r}')
  if not 0.0 <= value <= 1.0:
    raise argparse.ArgumentTypeError(f'expected a number in [0, 1], got '
                                     f'{value}')
  return value


class _Parser(argparse.ArgumentParser):
  """Bad flags raise a UserError (one line, exit status 2) with the usage."""

  def error(self, message):
    raise UserError(f'{self.prog}: {message} (usage: '
                    f'{" ".join(self.format_usage().split()[1:])})')


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog='python -m instruct.data',
                   description='Inspect, report, cache and check the '
                   'instruction collection.')
  parser.add_argument('--module', action='append', default=[],
                      help='extra module(s) registering tasks (repeatable); '
                      '`tasks` is always imported.')
  sub = parser.add_subparsers(dest='command', required=True,
                              parser_class=_Parser)

  p = sub.add_parser('list', help='tasks and mixtures')
  p.add_argument('pattern', nargs='?', default='',
                 help='keep names containing this')
  p.add_argument('--source', help='keep tasks of this source (e.g. flan2021)')
  p.add_argument('--kind', choices=('all', 'tasks', 'mixtures'),
                 default='all')
  p.add_argument('--json', action='store_true')

  p = sub.add_parser('show', help='rendered examples of a task or mixture')
  p.add_argument('name')
  p.add_argument('-n', type=_positive, default=5)
  p.add_argument('--split', default='train')
  p.add_argument('--json', action='store_true')

  p = sub.add_parser('report', help='leaf tasks of a mixture: rate, cap, '
                     'examples, share, templates, cluster')
  p.add_argument('name')
  p.add_argument('--json', action='store_true')

  p = sub.add_parser('cache', help="materialise to disk in SeqIO's cached "
                     'format')
  p.add_argument('name')
  p.add_argument('dir')
  p.add_argument('--split', action='append', default=[],
                 help='split(s) to write (repeatable; default all)')
  p.add_argument('--max-examples', type=_positive)
  p.add_argument('--num-shards', type=_positive)
  p.add_argument('--overwrite', action='store_true')
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--no-progress', action='store_true')
  g = p.add_argument_group('filters (each reports what it changed)')
  g.add_argument('--normalize', action='store_true',
                 help='NFKC and whitespace normalisation')
  g.add_argument('--dedup', action='store_true',
                 help='drop exact duplicates (per task)')
  g.add_argument('--near-dedup', type=_fraction, metavar='JACCARD',
                 help='drop near duplicates (MinHash LSH) at this similarity')
  g.add_argument('--min-length', type=int)
  g.add_argument('--max-length', type=int)
  g.add_argument('--length-unit', choices=('chars', 'words'),
                 default='chars')
  g.add_argument('--toxicity', type=_fraction, metavar='PROB',
                 help='drop examples the profanity classifier scores >= this')

  p = sub.add_parser('lengths', help='sequence lengths suggested by the data')
  p.add_argument('name')
  p.add_argument('--split', default='train')
  p.add_argument('-n', type=_positive, default=2000)
  p.add_argument('--percentile', type=float, default=99.0)
  p.add_argument('--multiple-of', type=_positive, default=8)
  p.add_argument('--json', action='store_true')

  p = sub.add_parser('contamination', help='n-gram overlap of a training '
                     'task/mixture with eval sets')
  p.add_argument('train')
  p.add_argument('evals', nargs='+', metavar='EVAL',
                 help='a task/mixture, or a folder/file of BBH-style JSON')
  p.add_argument('--ngram', type=_positive, default=13)
  p.add_argument('--min-words', type=_positive, default=8)
  p.add_argument('--train-split', default='train')
  p.add_argument('--eval-split', default='validation')
  p.add_argument('--max-train-examples', type=_positive)
  p.add_argument('--max-eval-examples', type=_positive)
  p.add_argument('--max-listed', type=_positive, default=10)
  p.add_argument('--json', action='store_true')
  return parser


def _filters_from_args(args):
  if not (args.normalize or args.dedup or args.near_dedup is not None or
          args.min_length is not None or args.max_length is not None or
          args.toxicity is not None):
    return None
  return lambda: filters_lib.build_filters(
      normalize=args.normalize, dedup=args.dedup,
      near_dedup_threshold=args.near_dedup, min_length=args.min_length,
      max_length=args.max_length, length_unit=args.length_unit,
      toxicity_threshold=args.toxicity)


def _print_json(value) -> None:
  print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def main(argv: Sequence[str]) -> None:
  args = build_parser().parse_args(argv)
  import_modules(list(DEFAULT_MODULES) + args.module)
  if args.command == 'list':
    rows = list_names(args.pattern, args.source, args.kind)
    _print_json(rows) if args.json else print(format_list(rows))
  elif args.command == 'show':
    rows = show_examples(args.name, args.n, args.split)
    if args.json:
      _print_json(rows)
    else:
      print(format_examples(args.name, args.split, rows))
  elif args.command == 'report':
    get_provider(args.name)
    rows = mixtures.mixture_report(args.name)
    if args.json:
      _print_json([dict(r.__dict__) for r in rows])
    else:
      print(f'# {args.name}\n')
      print(mixtures.format_report(rows))
  elif args.command == 'cache':
    result = cache(args.name, args.dir, args.split or None,
                   args.max_examples, _filters_from_args(args),
                   args.num_shards, args.overwrite, args.seed,
                   show_progress=not args.no_progress)
    print(f'Wrote {len(result["tasks"])} task(s) to {args.dir} '
          f'({len(result["skipped"])} skipped). Read with '
          f'seqio.add_global_cache_dirs([{args.dir!r}]) and use_cached=True '
          '(gin: USE_CACHED_TASKS = True).')
  elif args.command == 'lengths':
    get_provider(args.name)
    report = packing.suggest_lengths(args.name, args.split, args.n,
                                     args.percentile, args.multiple_of)
    _print_json(report.__dict__) if args.json else print(report.format())
  elif args.command == 'contamination':
    report = contamination(args.train, args.evals, args.ngram,
                           args.train_split, args.eval_split,
                           args.max_train_examples, args.max_eval_examples,
                           args.min_words)
    if args.json:
      _print_json(report.to_dict())
    else:
      print(report.format(args.max_listed))
