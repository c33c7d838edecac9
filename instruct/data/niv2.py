"""Super-NaturalInstructions (NIv2) from a local copy of its repository.

The directory is the NIv2 repository layout:

  <dir>/tasks/task001_quoref_question_generation.json  (one file per task)
  <dir>/splits/default/train_tasks.txt                  (task names, one a line)
  <dir>/splits/default/test_tasks.txt

A task file holds `Definition` (a list of strings), `Positive Examples` and
`Negative Examples` (lists of {input, output, explanation}), `Instances`
({id, input, output: list of acceptable outputs}), `Categories`, `Source`,
`Input_language`, ...

Each task is formatted the way the NIv2 paper (Tk-Instruct) and Flan do: the
definition, k positive examples with or without explanations, optionally
negative examples, then the instance:

  Definition: <definition>

  Positive Example 1 -
  Input: <input>
  Output: <output>
  Explanation: <explanation>

  Now complete the following example -
  Input: <instance input>
  Output:

The encodings in `ENCODINGS` (definition only; + 2 positive examples; + their
explanations; + 2 negative examples) become a task's templates, so the
registry spreads a task's instances evenly over them. The definition and the
examples are the same for every instance of a task, so they are baked into
the template text; instances only carry `input`, `answer` (the first
acceptable output) and `id`.

Registering reads only each file's header (everything before `Instances`),
so registering the ~1,600 tasks stays cheap; a task's instances are read
when its dataset is first built.
"""

import codecs
import collections
import dataclasses
import functools
import json
import os
import re
from typing import (Any, Dict, Iterator, List, Mapping, Optional,
                    Sequence, Tuple)

import gin
import tensorflow as tf

from instruct import metrics
from instruct.data import registry
from instruct.data import sources
from instruct.data import templates as templates_lib
from instruct.errors import UserError

ENV_VAR = 'INSTRUCT_NIV2_DIR'
SOURCE = 'niv2'
UNCATEGORIZED = 'uncategorized'
_INSTANCES = 'Instances'
_FIRST_CHUNK = 1 << 16
_WS = re.compile(r'\s*')


# ----------------------------------------------------------------------------
# Task files.
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Example:
  """A positive or negative demonstration from a task's definition."""
  input: str
  output: str
  explanation: str = ''


@dataclasses.dataclass(frozen=True)
class NIv2Task:
  """A task's header: everything in its file but the instances."""
  name: str
  path: str
  definition: str
  positive_examples: Tuple[Example, ...]
  negative_examples: Tuple[Example, ...]
  categories: Tuple[str, ...]
  source: Tuple[str, ...] = ()
  input_language: Tuple[str, ...] = ()
  output_language: Tuple[str, ...] = ()

  @property
  def cluster(self) -> str:
    return cluster_name(self.categories[0] if self.categories else '')


def cluster_name(category: str) -> str:
  """'Question Answering' -> 'question_answering' (snake case)."""
  name = re.sub(r'[^a-z0-9]+', '_', category.lower()).strip('_')
  return name or UNCATEGORIZED


def task_name(file_name: str) -> str:
  """'task001_quoref_question_generation.json' -> its registry name."""
  stem = file_name[:-len('.json')] if file_name.endswith('.json') else (
      file_name)
  return re.sub(r'[^a-z0-9]+', '_', stem.lower()).strip('_')


def _malformed(path: str, text: str, pos: int, what: str) -> UserError:
  line = text.count('\n', 0, pos) + 1
  return UserError(f'{path}:{line}: malformed JSON ({what}).')


def _parse_header(path: str, text: str,
                  eof: bool) -> Optional[Dict[str, Any]]:
  """Top-level fields of a task file up to `Instances`; None: need more."""
  decoder = json.JSONDecoder()
  pos = _WS.match(text).end()
  if pos >= len(text):
    if eof:
      raise UserError(f'{path}: empty file; expected a JSON object.')
    return None
  if text[pos] != '{':
    raise _malformed(path, text, pos, 'expected the file to be an object')
  pos = _WS.match(text, pos + 1).end()
  header = {}
  if text[pos:pos + 1] == '}':
    return header
  while True:
    try:
      key, pos = decoder.raw_decode(text, pos)
      pos = _WS.match(text, pos).end()
      if pos >= len(text):
        raise json.JSONDecodeError('Unexpected end of file', text, pos)
      if not isinstance(key, str) or text[pos] != ':':
        raise _malformed(path, text, pos, "expected '\"key\": value'")
      pos = _WS.match(text, pos + 1).end()
      if key == _INSTANCES:
        header[_INSTANCES] = None  # Present; read with the full file.
        return header
      header[key], pos = decoder.raw_decode(text, pos)
      pos = _WS.match(text, pos).end()
      if pos >= len(text):
        raise json.JSONDecodeError('Unexpected end of file', text, pos)
    except json.JSONDecodeError as e:
      if not eof:
        return None  # Probably cut at the chunk's end: read more.
      raise UserError(f'{path}:{e.lineno}: malformed JSON ({e.msg} at column '
                      f'{e.colno}).') from None
    if text[pos] == '}':
      return header
    if text[pos] != ',':
      raise _malformed(path, text, pos, "expected ',' or '}'")
    pos = _WS.match(text, pos + 1).end()


def read_header(path: str) -> Dict[str, Any]:
  """Reads a task file's top-level fields before `Instances`, in chunks.

  NIv2 files put `Instances` last and some are hundreds of MB; the header is
  a few KB, so registration reads a tiny part of each file.
  """
  decoder = codecs.getincrementaldecoder('utf-8')()
  text = ''
  chunk = _FIRST_CHUNK
  try:
    with open(path, 'rb') as f:
      while True:
        data = f.read(chunk)
        eof = not data
        try:
          text += decoder.decode(data, final=eof)
        except UnicodeDecodeError as e:
          line = text.count('\n') + data[:e.start].count(b'\n') + 1
          raise UserError(f'{path}:{line}: not valid UTF-8 ({e.reason}).'
                          ) from None
        header = _parse_header(path, text, eof)
        if header is not None:
          return header
        chunk *= 2
  except OSError as e:
    raise UserError(f'{path}: cannot read it ({e}).') from None


def _strings(path: str, header: Mapping[str, Any], key: str,
             required: bool = False) -> Tuple[str, ...]:
  value = header.get(key)
  if value is None:
    if required:
      raise UserError(f'{path}: field {key!r} is missing.')
    return ()
  if isinstance(value, str):
    value = [value]
  if not isinstance(value, list) or not all(isinstance(v, str)
                                            for v in value):
    raise UserError(f'{path}: field {key!r} must be a list of strings.')
  return tuple(v.strip() for v in value)


def _examples(path: str, header: Mapping[str, Any],
              key: str) -> Tuple[Example, ...]:
  value = header.get(key) or []
  if not isinstance(value, list):
    raise UserError(f'{path}: field {key!r} must be a list of objects.')
  out = []
  for i, ex in enumerate(value):
    if not isinstance(ex, dict):
      raise UserError(f'{path}: field {key!r}[{i}] must be an object.')
    for field in ('input', 'output'):
      if not isinstance(ex.get(field), str):
        raise UserError(f'{path}: field {key!r}[{i}].{field} is missing or '
                        'not a string.')
    out.append(Example(ex['input'].strip(), ex['output'].strip(),
                       str(ex.get('explanation') or '').strip()))
  return tuple(out)


def parse_task_header(path: str, header: Mapping[str, Any]) -> NIv2Task:
  """Validates a task's header fields; errors name the file and field."""
  definition = _strings(path, header, 'Definition', required=True)
  if not any(definition):
    raise UserError(f'{path}: field \'Definition\' is empty.')
  if _INSTANCES not in header:
    raise UserError(f'{path}: field {_INSTANCES!r} is missing.')
  return NIv2Task(
      name=task_name(os.path.basename(path)),
      path=path,
      definition='\n'.join(d for d in definition if d),
      positive_examples=_examples(path, header, 'Positive Examples'),
      negative_examples=_examples(path, header, 'Negative Examples'),
      categories=_strings(path, header, 'Categories'),
      source=_strings(path, header, 'Source'),
      input_language=_strings(path, header, 'Input_language'),
      output_language=_strings(path, header, 'Output_language'))


def load_task(path: str) -> NIv2Task:
  """Reads and validates a task file's header."""
  header = read_header(path)
  if 'Definition' not in header and _INSTANCES in header:
    # Unusual key order (Instances first): parse the whole file.
    header = _read_json(path)
    if not isinstance(header, dict):
      raise UserError(f'{path}: expected the file to be a JSON object.')
  return parse_task_header(path, header)


@dataclasses.dataclass(frozen=True)
class Instance:
  id: str
  input: str
  outputs: Tuple[str, ...]


def _read_json(path: str) -> Any:
  """A whole task file; errors name the file and line."""
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except OSError as e:
    raise UserError(f'{path}: cannot read it ({e}).') from None
  try:
    return json.loads(raw.decode('utf-8'))
  except UnicodeDecodeError as e:
    line = raw[:e.start].count(b'\n') + 1
    raise UserError(f'{path}:{line}: not valid UTF-8 ({e.reason}).') from None
  except json.JSONDecodeError as e:
    raise UserError(f'{path}:{e.lineno}: malformed JSON ({e.msg} at column '
                    f'{e.colno}).') from None


def read_instances(path: str) -> Iterator[Tuple[Instance, Optional[str]]]:
  """A task file's instances, each with None or why it is bad.

  Raises:
    UserError: when the file is not valid JSON/UTF-8 or has no instance list.
  """
  data = _read_json(path)
  if not isinstance(data, dict):
    raise UserError(f'{path}: expected the file to be a JSON object.')
  instances = data.get(_INSTANCES)
  if not isinstance(instances, list):
    raise UserError(f'{path}: field {_INSTANCES!r} is missing or not a list.')
  for i, inst in enumerate(instances):
    if not isinstance(inst, dict):
      yield Instance(f'#{i}', '', ()), (
          f'{path}: instance #{i} is not an object')
      continue
    iid = str(inst.get('id', f'#{i}'))
    where = f'{path}: instance {iid!r}'
    inp, outputs = inst.get('input'), inst.get('output')
    if isinstance(outputs, str):
      outputs = [outputs]
    if not isinstance(inp, str):
      yield Instance(iid, '', ()), (
          f"{where}: field 'input' is missing or not a string")
    elif not isinstance(outputs, list) or not all(isinstance(o, str)
                                                  for o in outputs):
      yield Instance(iid, inp, ()), (
          f"{where}: field 'output' is missing or not a list of strings")
    elif not outputs or not outputs[0].strip():
      yield Instance(iid, inp, tuple(outputs)), (
          f"{where}: field 'output' is empty")
    else:
      yield Instance(iid, inp, tuple(outputs)), None


# ----------------------------------------------------------------------------
# Prompt encodings.
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Encoding:
  """How much of a task's instruction goes into the prompt."""
  name: str
  definition: bool = True
  num_positive: int = 0
  num_negative: int = 0
  explanations: bool = False


ENCODINGS = {
    e.name: e for e in (
        Encoding('def'),
        Encoding('def_pos2', num_positive=2),
        Encoding('def_pos2_expl', num_positive=2, explanations=True),
        Encoding('def_pos2_neg2_expl', num_positive=2, num_negative=2,
                 explanations=True),
        Encoding('pos2', definition=False, num_positive=2),
    )
}
DEFAULT_ENCODINGS = ('def', 'def_pos2', 'def_pos2_expl',
                     'def_pos2_neg2_expl')
COMPLETE_HEADER = 'Now complete the following example -'


def _example_block(kind: str, number: int, example: Example,
                   explanations: bool) -> str:
  lines = [f'{kind} Example {number} -', f'Input: {example.input}',
           f'Output: {example.output}']
  if explanations and example.explanation:
    lines.append(f'Explanation: {example.explanation}')
  return '\n'.join(lines)


def instruction_prefix(task: NIv2Task, encoding: Encoding) -> str:
  """The prompt up to and including 'Input: ' of the instance."""
  blocks = []
  if encoding.definition:
    blocks.append(f'Definition: {task.definition}')
  for i, ex in enumerate(task.positive_examples[:encoding.num_positive], 1):
    blocks.append(_example_block('Positive', i, ex, encoding.explanations))
  for i, ex in enumerate(task.negative_examples[:encoding.num_negative], 1):
    blocks.append(_example_block('Negative', i, ex, encoding.explanations))
  blocks.append(f'{COMPLETE_HEADER}\nInput: ')
  return '\n\n'.join(blocks)


def format_prompt(task: NIv2Task, encoding: Encoding, instance_input: str
                  ) -> str:
  """The full prompt for one instance (the pure-Python reference)."""
  return f'{instruction_prefix(task, encoding)}{instance_input}\nOutput:'


def _escape(text: str) -> str:
  return text.replace('{', '{{').replace('}', '}}')


def task_templates(task: NIv2Task, encodings: Sequence[str]
                   ) -> Tuple[templates_lib.Template, ...]:
  """One template per encoding, the task's instruction baked in."""
  out = []
  for name in encodings:
    if name not in ENCODINGS:
      raise UserError(f'Unknown NIv2 encoding {name!r}; known: '
                      f'{sorted(ENCODINGS)}.')
    prefix = instruction_prefix(task, ENCODINGS[name])
    out.append(templates_lib.Template(
        inputs=_escape(prefix) + '{input}\nOutput:', targets='{answer}',
        name=f'{SOURCE}_{task.name}:{name}'))
  return tuple(out)


# ----------------------------------------------------------------------------
# Instances -> datasets.
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InstanceOptions:
  """How a task's instances become its 'train' and 'validation' splits.

  Attributes:
    validation_fraction: share of instances (by a hash of their id) held out
      for 'validation'.
    max_num_instances_per_task: cap on 'train' instances (None: all).
    max_num_eval_instances_per_task: cap on 'validation' instances (the NIv2
      paper evaluates on 100 per task).
    skip_bad_instances: skip and count instances with an empty/missing
      output instead of raising.
  """
  validation_fraction: float = 0.1
  max_num_instances_per_task: Optional[int] = None
  max_num_eval_instances_per_task: Optional[int] = 100
  skip_bad_instances: bool = False


_FIELDS = ('id', 'input', 'answer')


@functools.lru_cache(maxsize=16)
def _load_columns(path: str, mtime: float, options: InstanceOptions
                  ) -> Tuple[Dict[str, Dict[str, list]], sources.LoadReport]:
  """Reads a task's instances into split -> field -> values (cached)."""
  del mtime  # Part of the cache key only: an edited file is re-read.
  report = sources.LoadReport(name=task_name(os.path.basename(path)),
                              paths=[path])
  data = {s: {f: [] for f in _FIELDS} for s in ('train', 'validation')}
  caps = {'train': options.max_num_instances_per_task,
          'validation': options.max_num_eval_instances_per_task}
  for instance, problem in read_instances(path):
    report.rows_read += 1
    if problem is not None:
      if not options.skip_bad_instances:
        raise UserError(f'{problem}. (Set skip_bad_instances=True to skip '
                        'and count such instances.)')
      report.add_skip('bad_instance', problem)
      continue
    bucket = sources.validation_bucket({'id': instance.id})
    split = ('validation' if bucket < options.validation_fraction
             else 'train')
    columns = data[split]
    if caps[split] is not None and len(columns['id']) >= caps[split]:
      report.add_skip(f'over_{split}_cap', f'{path}: instance '
                      f'{instance.id!r} beyond the {split} cap {caps[split]}')
      continue
    columns['id'].append(instance.id)
    columns['input'].append(instance.input)
    columns['answer'].append(instance.outputs[0])
    report.rows_kept += 1
  report.examples = {s: len(c['id']) for s, c in data.items()}
  return data, report


def load_instances(path: str, options: InstanceOptions
                   ) -> Tuple[Dict[str, Dict[str, list]], sources.LoadReport]:
  return _load_columns(path, os.path.getmtime(path), options)


# NIv2's main metric; the one ROUGE-L of `instruct.metrics` (normalised text,
# 0 for no examples).
rouge_l = metrics.rouge_l


def make_spec(task: NIv2Task, encodings: Sequence[str] = DEFAULT_ENCODINGS,
              options: InstanceOptions = InstanceOptions()
              ) -> registry.DatasetSpec:
  """The DatasetSpec of one NIv2 task (reads nothing beyond the header)."""

  def load(split: str) -> tf.data.Dataset:
    data, _ = load_instances(task.path, options)
    if split not in data:
      raise UserError(f'{SOURCE}/{task.name} has no split {split!r}; it has '
                      f'{sorted(data)}.')
    return sources.columns_to_dataset(data[split], _FIELDS)

  return registry.DatasetSpec(
      name=task.name, source=SOURCE, cluster=task.cluster, load=load,
      templates=task_templates(task, encodings),
      splits=('train', 'validation'),
      # Unknown until the instances are read; declaring sizes would read every
      # task file at registration (SeqIO's FunctionDataSource dict()s them).
      # The registry counts a split on demand (registry.num_examples).
      num_examples=None,
      metric_fns=(metrics.exact_match, rouge_l),
      description=(f'NIv2 {os.path.basename(task.path)} '
                   f'({", ".join(task.categories) or UNCATEGORIZED})'),
      url='https://github.com/allenai/natural-instructions',
      has_options=False)


# ----------------------------------------------------------------------------
# Directory -> registrations.
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class Registration:
  """What `register_niv2` registered and what it left out (and why)."""
  directory: str
  train_tasks: List[str] = dataclasses.field(default_factory=list)
  test_tasks: List[str] = dataclasses.field(default_factory=list)
  seqio_tasks: Dict[str, Dict[str, str]] = dataclasses.field(
      default_factory=dict)
  skipped: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)

  def format(self) -> str:
    skipped = ', '.join(f'{v} {k}' for k, v in sorted(self.skipped.items()))
    return (f'NIv2 at {self.directory}: {len(self.train_tasks)} train tasks, '
            f'{len(self.test_tasks)} test tasks registered; skipped: '
            f'{skipped or "none"}')


_LAST: Dict[str, Registration] = {}


def last_registration() -> Optional[Registration]:
  """The result of the last `register_niv2` call in this process."""
  return _LAST.get('last')


def read_split_list(path: str) -> List[Tuple[int, str]]:
  """(line, task name) pairs of a split file; '#' starts a comment."""
  try:
    with open(path, encoding='utf-8') as f:
      lines = f.read().split('\n')
  except OSError as e:
    raise UserError(f'{path}: cannot read the NIv2 split list ({e}).'
                    ) from None
  out = []
  for i, line in enumerate(lines, 1):
    name = line.split('#', 1)[0].strip()
    if name:
      out.append((i, name[:-len('.json')] if name.endswith('.json')
                  else name))
  return out


@gin.configurable
def niv2_directory(directory: Optional[str] = None) -> Optional[str]:
  """The NIv2 directory: the gin binding, else $INSTRUCT_NIV2_DIR, else None."""
  return directory or os.environ.get(ENV_VAR) or None


@gin.configurable
def register_niv2(
    directory: Optional[str] = None,
    *,
    split: str = 'default',
    task_lists: Sequence[str] = ('train', 'test'),
    encodings: Sequence[str] = DEFAULT_ENCODINGS,
    validation_fraction: float = 0.1,
    max_num_instances_per_task: Optional[int] = None,
    max_num_eval_instances_per_task: Optional[int] = 100,
    skip_bad_instances: bool = False,
    languages: Optional[Sequence[str]] = None,
    variants: Optional[Sequence[str]] = None,
) -> Optional[Registration]:
  """Registers the NIv2 tasks of a directory (nothing if there is none).

  Args:
    directory: the NIv2 repository copy; None uses `niv2_directory()` (gin
      or $INSTRUCT_NIV2_DIR); if that is unset too, nothing is registered.
    split: the sub-directory of `splits/` with `<list>_tasks.txt` files.
    task_lists: which lists to register ('train', 'test').
    encodings: prompt encodings (keys of ENCODINGS), one template each.
    validation_fraction: share of each task's instances held out by hash.
    max_num_instances_per_task: cap on a task's train instances.
    max_num_eval_instances_per_task: cap on a task's validation instances.
    skip_bad_instances: skip and count bad instances instead of raising.
    languages: keep only tasks whose input and output languages are all in
      this list (e.g. ['English']); None keeps all.
    variants: registry variants to register (None: all that apply).

  Returns:
    The Registration, or None when no directory is configured.

  Raises:
    UserError: for a missing directory, split list or listed task file, or a
      task file whose header is malformed (naming the file and field).
  """
  directory = directory or niv2_directory()
  if not directory:
    return None
  tasks_dir = os.path.join(directory, 'tasks')
  if not os.path.isdir(tasks_dir):
    raise UserError(f'NIv2 directory {directory!r} has no tasks/ folder '
                    f'(set {ENV_VAR} or niv2_directory.directory to a copy '
                    'of the natural-instructions repository).')
  options = InstanceOptions(validation_fraction, max_num_instances_per_task,
                            max_num_eval_instances_per_task,
                            skip_bad_instances)
  result = Registration(directory=directory)
  listed = set()
  for list_name in task_lists:
    list_path = os.path.join(directory, 'splits', split,
                             f'{list_name}_tasks.txt')
    target = {'train': result.train_tasks, 'test': result.test_tasks}.get(
        list_name)
    if target is None:
      raise UserError(f'NIv2 task list {list_name!r}: expected train or '
                      'test.')
    for line, name in read_split_list(list_path):
      path = os.path.join(tasks_dir, f'{name}.json')
      if not os.path.exists(path):
        raise UserError(f'{list_path}:{line}: task {name!r} has no file '
                        f'{path}.')
      listed.add(f'{name}.json')
      task = load_task(path)
      if languages is not None and not set(
          task.input_language + task.output_language) <= set(languages):
        result.skipped['language'] += 1
        continue
      spec = make_spec(task, encodings, options)
      result.seqio_tasks[task.name] = registry.register_dataset(
          spec, variants=variants)
      target.append(task.name)
  result.skipped['not_in_task_lists'] += sum(
      1 for f in os.listdir(tasks_dir)
      if f.endswith('.json') and f not in listed)
  _LAST['last'] = result
  return result
