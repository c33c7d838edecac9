r"""BIG-bench JSON tasks (`task.json`) as SeqIO evaluation tasks.

A BIG-bench JSON task is a folder holding a `task.json`:

    {"name": ..., "description": ..., "keywords": [...],
     "metrics": ["multiple_choice_grade", "exact_str_match", "bleu", ...],
     "preferred_score": ..., "task_prefix": "",
     "example_input_prefix": "\nQ: ", "example_output_prefix": "\nA: ",
     "choice_prefix": "\n  choice: ", "append_choices_to_input": true,
     "few_shot_example_separator": "\n",
     "examples": [{"input": str, "target_scores": {option: score}},
                  {"input": str, "target": str or [str, ...]}, ...]}

(the prefixes, `append_choices_to_input` and the separator are optional, with
the defaults shown; a task with subtasks has one such folder per subtask).

`register_bigbench_dir(path)` registers, for every task (or subtask) folder
`<name>` under `path` and every number of shots k (default 0 and 3):

  * `bigbench_<name>_mc_<zs|kshot>` when `metrics` lists
    `multiple_choice_grade`: rank classification over the `target_scores`
    options (the model's log-likelihood of each option; our rank
    classification preprocessor), metric `multiple_choice_grade` = the
    target score of the highest-ranked option, as a percentage (equal to
    accuracy when scores are 0/1);
  * `bigbench_<name>_gen_<zs|kshot>` when `metrics` lists a generative
    metric: greedy generation scored with `exact_str_match` (the output,
    whitespace-normalised, equals any of the targets), plus `bleu`
    (sacrebleu, all targets as references) and `rouge` (rouge-score,
    ROUGE-1/2/Lsum, best target per example) when listed.

Other BIG-bench metrics (e.g. `log_likelihood`, `bleurt`) are not computed;
registration logs which. A task without `metrics` is scored as multiple
choice when every example has `target_scores`, else by `exact_str_match`.

Prompt, for an example with input x (choices c1..cn for a multiple-choice
task when `append_choices_to_input`):

    task_prefix + separator.join(exemplars + [input_prefix + x +
        choice_prefix + c1 + ... + choice_prefix + cn + output_prefix])

with leading whitespace removed. Exemplars are formatted the same way, each
followed by its answer (the best-scoring option, or the first target). The k
exemplars of example i are drawn from the task's other examples, without
replacement, by `numpy.random.default_rng([seed, i])`: the same for every
run, and never example i itself. Generations are cut where the model starts
a new exemplar (the stripped input prefix, e.g. 'Q:', on a new line) or at
the task's `stop_string`.

The split is 'test' (every example): evaluate with
`--gin.EVAL_SPLIT="'test'"`. Registration parses each `task.json` once to
validate it and read its metrics (so a malformed file fails early, naming the
file and the example); examples are formatted when a dataset is built.
`tasks/bigbench.py` registers $INSTRUCT_BIGBENCH_DIR or the gin binding
`instruct.evals.bigbench.bigbench_dir.path`, with mixtures `bigbench_zs`
and `bigbench_<k>shot`.
"""

import dataclasses
import functools
import json
import math
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from absl import logging
import gin
import numpy as np
import seqio
import tensorflow as tf

from instruct import metrics as metrics_lib
from instruct.data import mixtures
from instruct.data import preprocessors
from instruct.data import registry
from instruct.errors import UserError

ENV_VAR = 'INSTRUCT_BIGBENCH_DIR'
TASK_FILE = 'task.json'
SPLIT = 'test'
DEFAULT_SHOTS = (0, 3)
DEFAULT_SEED = 42
PREFIX = 'bigbench'
MC_METRIC = 'multiple_choice_grade'
GENERATIVE_METRICS = ('exact_str_match', 'bleu', 'rouge')
SUPPORTED_METRICS = (MC_METRIC,) + GENERATIVE_METRICS
KINDS = ('mc', 'gen')
REFERENCES_KEY = 'references'
TARGET_SCORE_KEY = 'target_score'
DEFAULTS = {
    'task_prefix': '',
    'example_input_prefix': '\nQ: ',
    'example_output_prefix': '\nA: ',
    'choice_prefix': '\n  choice: ',
    'few_shot_example_separator': '\n',
}


@gin.configurable
def bigbench_dir(path: Optional[str] = None) -> Optional[str]:
  """The directory `tasks.bigbench` registers (else $INSTRUCT_BIGBENCH_DIR)."""
  return path


def configured_dir() -> Optional[str]:
  return bigbench_dir() or os.environ.get(ENV_VAR) or None


# --- Files. ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Example:
  """One example: its input, answer options (with scores) and/or targets."""
  input: str
  options: Tuple[str, ...] = ()
  scores: Tuple[float, ...] = ()
  targets: Tuple[str, ...] = ()

  @property
  def best_option(self) -> int:
    """Index of the first option with the highest target score."""
    return int(np.argmax(self.scores))


@dataclasses.dataclass(frozen=True)
class JsonTask:
  """A parsed BIG-bench `task.json`."""
  path: str
  name: str
  description: str
  keywords: Tuple[str, ...]
  metrics: Tuple[str, ...]
  preferred_score: Optional[str]
  task_prefix: str
  example_input_prefix: str
  example_output_prefix: str
  choice_prefix: str
  append_choices_to_input: bool
  few_shot_example_separator: str
  stop_string: Optional[str]
  examples: Tuple[Example, ...]

  @property
  def kinds(self) -> Tuple[str, ...]:
    """'mc' and/or 'gen': how the task is scored."""
    out = []
    if MC_METRIC in self.metrics:
      out.append('mc')
    if any(m in self.metrics for m in GENERATIVE_METRICS):
      out.append('gen')
    return tuple(out)


def _string(value: Any, where: str) -> str:
  if not isinstance(value, str):
    raise UserError(f'{where} must be a string, got {type(value).__name__}.')
  return value


def _parse_example(ex: Any, where: str) -> Example:
  if not isinstance(ex, dict):
    raise UserError(f'{where} is not an object.')
  if 'input' not in ex:
    raise UserError(f'{where} has no "input".')
  text = _string(ex['input'], f'{where}.input')
  if 'target' not in ex and 'target_scores' not in ex:
    raise UserError(f'{where} has neither "target" nor "target_scores".')
  options, scores, targets = (), (), ()
  if 'target_scores' in ex:
    ts = ex['target_scores']
    if not isinstance(ts, dict) or not ts:
      raise UserError(f'{where}.target_scores must be a non-empty object '
                      '{option: score}.')
    for option, score in ts.items():
      if isinstance(score, bool) or not isinstance(score, (int, float)) or (
          not math.isfinite(score)):
        raise UserError(f'{where}.target_scores[{option!r}] must be a '
                        f'number, got {score!r}.')
    options = tuple(ts)
    scores = tuple(float(s) for s in ts.values())
  if 'target' in ex:
    target = ex['target']
    if isinstance(target, str):
      targets = (target,)
    elif (isinstance(target, list) and target and
          all(isinstance(t, str) for t in target)):
      targets = tuple(target)
    else:
      raise UserError(f'{where}.target must be a string or a non-empty list '
                      f'of strings, got {target!r}.')
  return Example(text, options, scores, targets)


def load_task(path: str) -> JsonTask:
  """Reads and validates one BIG-bench `task.json`.

  Raises:
    UserError: naming the file (and example index) when the file is not JSON,
      lacks `examples`, or an example has neither `target` nor
      `target_scores`, or lacks what the task's metrics need.
  """
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise UserError(f'Cannot read BIG-bench task file {path}: '
                    f'{e.strerror}.') from e
  try:
    obj = json.loads(data.decode('utf-8'))
  except UnicodeDecodeError as e:
    line = data[:e.start].count(b'\n') + 1
    raise UserError(f'{path}:{line}: not valid UTF-8.') from None
  except json.JSONDecodeError as e:
    raise UserError(f'{path}:{e.lineno}: not valid JSON ({e.msg} at column '
                    f'{e.colno}).') from None
  if not isinstance(obj, dict):
    raise UserError(f'{path}: expected a JSON object (BIG-bench task format).')
  if 'examples' not in obj:
    raise UserError(f'{path}: no "examples" list (BIG-bench task format).')
  if not isinstance(obj['examples'], list) or not obj['examples']:
    raise UserError(f'{path}: "examples" must be a non-empty list.')
  examples = tuple(_parse_example(ex, f'{path}: examples[{i}]')
                   for i, ex in enumerate(obj['examples']))
  fields = {}
  for key, default in DEFAULTS.items():
    fields[key] = _string(obj.get(key, default), f'{path}: "{key}"')
  append = obj.get('append_choices_to_input', True)
  if not isinstance(append, bool):
    raise UserError(f'{path}: "append_choices_to_input" must be true or '
                    f'false, got {append!r}.')
  metrics = obj.get('metrics')
  if metrics is None:
    metrics = ([MC_METRIC] if all(e.options for e in examples)
               else ['exact_str_match'])
  if not isinstance(metrics, list) or not all(
      isinstance(m, str) for m in metrics):
    raise UserError(f'{path}: "metrics" must be a list of metric names.')
  ignored = [m for m in metrics if m not in SUPPORTED_METRICS]
  if ignored:
    logging.warning('%s: metric(s) %s are not computed (supported: %s).',
                    path, ignored, ', '.join(SUPPORTED_METRICS))
  task = JsonTask(
      path=path, name=str(obj.get('name', '')),
      description=str(obj.get('description', '')),
      keywords=tuple(str(k) for k in obj.get('keywords', ())),
      metrics=tuple(m for m in metrics if m in SUPPORTED_METRICS),
      preferred_score=obj.get('preferred_score'),
      append_choices_to_input=append,
      stop_string=obj.get('stop_string') or None,
      examples=examples, **fields)
  if not task.kinds:
    raise UserError(f'{path}: "metrics" {metrics} has none of the supported '
                    f'metrics ({", ".join(SUPPORTED_METRICS)}).')
  for i, ex in enumerate(examples):
    if 'mc' in task.kinds and not ex.options:
      raise UserError(f'{path}: examples[{i}] has no "target_scores", which '
                      f'metric {MC_METRIC} needs.')
    if 'gen' in task.kinds and not ex.targets:
      raise UserError(
          f'{path}: examples[{i}] has no "target", which metric(s) '
          f'{[m for m in task.metrics if m in GENERATIVE_METRICS]} need.')
  return task


def task_files(path: str) -> Dict[str, str]:
  """{task name: task.json path} of a BIG-bench directory, sorted by name.

  `path` is a folder of task folders (`<task>/task.json`; a task with
  subtasks contributes `<task>_<subtask>` per `<task>/<subtask>/task.json`)
  or a single task folder.
  """
  if not os.path.isdir(path):
    raise UserError(f'BIG-bench directory {path!r} (from ${ENV_VAR}, '
                    'instruct.evals.bigbench.bigbench_dir or the caller) does '
                    'not exist.')

  def subtasks(folder: str) -> Dict[str, str]:
    return {sub: os.path.join(folder, sub, TASK_FILE)
            for sub in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, sub, TASK_FILE))}

  if os.path.isfile(os.path.join(path, TASK_FILE)):
    name = os.path.basename(os.path.normpath(path))
    subs = subtasks(path)
    if subs:
      return {f'{name}_{s}': p for s, p in subs.items()}
    return {name: os.path.join(path, TASK_FILE)}
  found = {}
  for task in sorted(os.listdir(path)):
    folder = os.path.join(path, task)
    if not os.path.isdir(folder):
      continue
    subs = subtasks(folder)
    if subs:  # The top-level task.json of a task with subtasks has no examples.
      found.update({f'{task}_{s}': p for s, p in subs.items()})
    elif os.path.isfile(os.path.join(folder, TASK_FILE)):
      found[task] = os.path.join(folder, TASK_FILE)
  if not found:
    raise UserError(f'{path}: no BIG-bench tasks (folders with a {TASK_FILE}).')
  return found


# --- Prompts. ----------------------------------------------------------------


def format_query(task: JsonTask, ex: Example, kind: str) -> str:
  """An example's input part: prefix, input, choices, output prefix."""
  text = task.example_input_prefix + ex.input
  if kind == 'mc' and task.append_choices_to_input:
    text += ''.join(task.choice_prefix + o for o in ex.options)
  return text + task.example_output_prefix


def answer_of(ex: Example, kind: str) -> str:
  """The answer an exemplar shows: the best option, or the first target."""
  return ex.options[ex.best_option] if kind == 'mc' else ex.targets[0]


def exemplar_ids(num_examples: int, index: int, shots: int,
                 seed: int = DEFAULT_SEED) -> List[int]:
  """The `shots` exemplars of example `index`: others, fixed by the seed."""
  if shots == 0:
    return []
  if shots >= num_examples:
    raise UserError(f'{shots}-shot needs at least {shots + 1} examples; the '
                    f'task has {num_examples}.')
  rng = np.random.default_rng([seed, index])
  drawn = rng.choice(num_examples - 1, size=shots, replace=False)
  return [int(j) + int(j >= index) for j in drawn]


def build_prompt(task: JsonTask, index: int, kind: str, shots: int = 0,
                 seed: int = DEFAULT_SEED) -> str:
  """The model input for example `index` with `shots` exemplars."""
  ex = task.examples[index]
  try:
    ids = exemplar_ids(len(task.examples), index, shots, seed)
  except UserError as e:
    raise UserError(f'{task.path}: {e}') from None
  parts = [format_query(task, task.examples[j], kind) +
           answer_of(task.examples[j], kind) for j in ids]
  parts.append(format_query(task, ex, kind))
  return (task.task_prefix + task.few_shot_example_separator.join(parts)
          ).lstrip()


def stop_strings(task: JsonTask) -> Tuple[str, ...]:
  """Where a generation is cut: a new exemplar's input prefix, stop_string."""
  out = []
  marker = task.example_input_prefix.strip()
  if marker:
    out.append('\n' + marker)
  if task.stop_string:
    out.append(task.stop_string)
  return tuple(out)


# --- Metrics. ----------------------------------------------------------------


def exact_str_match(targets: Sequence[Any],
                    predictions: Sequence[Any]) -> Dict[str, float]:
  """Percent of predictions equal to any of their targets (whitespace-
  normalised, `instruct.metrics.normalize_text`)."""
  if len(targets) != len(predictions):
    raise ValueError(f'exact_str_match: {len(targets)} targets but '
                     f'{len(predictions)} predictions.')
  if not targets:
    return {'exact_str_match': float('nan')}
  hits = [any(metrics_lib.normalize_text(r) == metrics_lib.normalize_text(p)
              for r in metrics_lib.references(t))
          for t, p in zip(targets, predictions)]
  return {'exact_str_match': 100.0 * float(np.mean(hits))}


# Every target of an example is a reference (see `instruct.metrics.text`):
# BLEU over reference streams; ROUGE-1/2/Lsum of the best target per example.
bleu = metrics_lib.bleu
rouge = metrics_lib.rouge


def multiple_choice_grade(targets: Sequence[Tuple[int, float, int]],
                          scores: Sequence[float]) -> Dict[str, float]:
  """Mean target score (percent) of each example's highest-ranked option.

  Args:
    targets: `(idx, target_score, num_options)` per expanded option (see
      `mc_target`).
    scores: the model's log-likelihood of each option, aligned.

  Returns:
    {'multiple_choice_grade': percent}. An example cut short by an
    evaluation cap (fewer options than `num_options`) is left out, with a
    warning; ties go to the first option.
  """
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  if len(targets) != len(scores):
    raise ValueError(f'multiple_choice_grade: {len(targets)} targets but '
                     f'{len(scores)} scores.')
  groups: Dict[int, List[Tuple[float, float]]] = {}
  expected = {}
  for (idx, target_score, num_options), score in zip(targets, scores):
    groups.setdefault(int(idx), []).append((float(score), float(target_score)))
    expected[int(idx)] = int(num_options)
  incomplete = [i for i, g in groups.items() if len(g) < expected[i]]
  if incomplete:
    logging.warning('multiple_choice_grade: left out %d example(s) cut short '
                    'by the evaluation cap (ids %s).', len(incomplete),
                    incomplete[:10])
  # max() returns the first maximal element: ties go to the first option.
  grades = [max(g, key=lambda x: x[0])[1]
            for i, g in groups.items() if i not in incomplete]
  if not grades:
    return {MC_METRIC: float('nan')}
  return {MC_METRIC: 100.0 * float(np.mean(grades))}


def mc_target(text: Any, example: Optional[Mapping[str, Any]] = None,
              is_target: bool = False) -> Any:
  """Postprocessor: a target option -> (idx, target_score, num_options)."""
  if not is_target:
    return text
  if example is None:
    raise ValueError('mc_target needs the example (idx, target_score).')
  return (int(example['idx']), float(example[TARGET_SCORE_KEY]),
          int(example['num_options']))


def generation_postprocessor(text: Any,
                             example: Optional[Mapping[str, Any]] = None,
                             is_target: bool = False,
                             stops: Sequence[str] = ()) -> Any:
  """Targets -> all targets of the example; predictions cut at `stops`."""
  if is_target:
    if example is not None and REFERENCES_KEY in example:
      return [metrics_lib.as_text(r)
              for r in np.asarray(example[REFERENCES_KEY]).reshape(-1)]
    return [metrics_lib.as_text(text)]
  text = metrics_lib.as_text(text)
  for stop in stops:
    text = text.split(stop, 1)[0]
  return text.strip()


# --- SeqIO tasks. -----------------------------------------------------------

# SeqIO task name -> (BIG-bench task, kind, shots), filled on registration.
REGISTERED: Dict[str, Tuple[str, str, int]] = {}


def task_name(task: str, kind: str, shots: int) -> str:
  stem = re.sub(r'[^a-z0-9_]+', '_', task.lower()).strip('_')
  return f'{PREFIX}_{stem}_{kind}_' + ('zs' if shots == 0 else f'{shots}shot')


@functools.lru_cache(maxsize=8)
def _cached_task(path: str, mtime: float) -> JsonTask:
  del mtime  # Part of the key: an edited file is read again.
  return load_task(path)


def _rows(task: JsonTask, kind: str, shots: int, seed: int):
  for i, ex in enumerate(task.examples):
    row = {'inputs': build_prompt(task, i, kind, shots, seed),
           'targets': answer_of(ex, kind), 'idx': i}
    if kind == 'mc':
      row.update(options=list(ex.options), label=ex.best_option,
                 **{TARGET_SCORE_KEY: list(ex.scores)})
    else:
      row[REFERENCES_KEY] = list(ex.targets)
    yield row


def _dataset_fn(split: str, shuffle_files: bool = False, seed=None, *,
                path: str, kind: str, shots: int,
                exemplar_seed: int) -> tf.data.Dataset:
  del shuffle_files, seed
  if split != SPLIT:
    raise UserError(f'BIG-bench JSON tasks have only the {SPLIT!r} split, '
                    f'not {split!r} (set --gin.EVAL_SPLIT="\'{SPLIT}\'").')
  task = _cached_task(path, os.path.getmtime(path))
  # Build every prompt now so that a too-small task fails here, clearly.
  rows = list(_rows(task, kind, shots, exemplar_seed))
  signature = {'inputs': tf.TensorSpec((), tf.string),
               'targets': tf.TensorSpec((), tf.string),
               'idx': tf.TensorSpec((), tf.int64)}
  if kind == 'mc':
    signature.update(options=tf.TensorSpec((None,), tf.string),
                     label=tf.TensorSpec((), tf.int64),
                     **{TARGET_SCORE_KEY: tf.TensorSpec((None,), tf.float32)})
  else:
    signature[REFERENCES_KEY] = tf.TensorSpec((None,), tf.string)
  return tf.data.Dataset.from_generator(lambda: iter(rows),
                                        output_signature=signature)


def rank_classification(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Our rank-classification expansion, plus each option's target score."""
  expanded = preprocessors.rank_classification(dataset, passthrough_keys=())
  # Both are order-preserving expansions of `dataset`: zipping realigns them.
  scores = dataset.map(lambda f: f[TARGET_SCORE_KEY]).unbatch()
  return tf.data.Dataset.zip((expanded, scores)).map(
      lambda f, s: dict(f, **{TARGET_SCORE_KEY: s}))


def _register(name: str, path: str, task: JsonTask, kind: str, shots: int,
              seed: int, features: Mapping[str, seqio.Feature]) -> None:
  pipeline = []
  if kind == 'mc':
    pipeline.append(rank_classification)
    postprocess_fn = mc_target
    metric_fns = [multiple_choice_grade]
  else:
    postprocess_fn = functools.partial(generation_postprocessor,
                                       stops=stop_strings(task))
    metric_fns = [exact_str_match]
    if 'bleu' in task.metrics:
      metric_fns.append(bleu)
    if 'rouge' in task.metrics:
      metric_fns.append(rouge)
  registry.register_task(registry.TaskSpec(
      name=name,
      dataset_fn=functools.partial(_dataset_fn, path=path, kind=kind,
                                   shots=shots, exemplar_seed=seed),
      splits=(SPLIT,), preprocessors=pipeline, output_features=features,
      postprocess_fn=postprocess_fn, metric_fns=metric_fns, eval_only=True))


@gin.configurable
def register_bigbench_dir(path: str,
                          shots: Sequence[int] = DEFAULT_SHOTS,
                          seed: int = DEFAULT_SEED,
                          tasks: Optional[Sequence[str]] = None,
                          output_features: Optional[
                              Mapping[str, seqio.Feature]] = None
                         ) -> List[str]:
  """Registers every BIG-bench JSON task of `path` (see the module doc).

  Args:
    path: a folder of task folders, or one task folder.
    shots: numbers of exemplars (0 = zero-shot), one task each.
    seed: seed of the exemplar draw.
    tasks: only these task names (folder names; default all).
    output_features: SeqIO features (default: the collection's, whose
      vocabulary follows the gin-bound VOCABULARY).

  Returns:
    The SeqIO task names registered. Mixtures `bigbench_zs` and
    `bigbench_<k>shot` hold them by number of shots.
  """
  if any(int(k) < 0 for k in shots):
    raise UserError(f'BIG-bench shots must be >= 0, got {list(shots)}.')
  found = task_files(path)
  if tasks:
    unknown = [t for t in tasks if t not in found]
    if unknown:
      raise UserError(f'BIG-bench tasks {unknown} not in {path} (available: '
                      f'{", ".join(found)}).')
    found = {t: found[t] for t in tasks}
  features = output_features or registry.OUTPUT_FEATURES
  by_shots: Dict[int, List[str]] = {}
  names = []
  for task_dir_name, json_path in found.items():
    task = load_task(json_path)
    for kind in task.kinds:
      for k in shots:
        name = task_name(task_dir_name, kind, int(k))
        _register(name, json_path, task, kind, int(k), seed, features)
        REGISTERED[name] = (task_dir_name, kind, int(k))
        by_shots.setdefault(int(k), []).append(name)
        names.append(name)
  for k, members in by_shots.items():
    mixtures.register_eval_mixture(
        f'{PREFIX}_' + ('zs' if k == 0 else f'{k}shot'), members)
  logging.info('Registered %d BIG-bench tasks from %s.', len(names), path)
  return names
