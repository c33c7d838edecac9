r"""BIG-Bench Hard (BBH): task files, 3-shot prompts, SeqIO tasks and a runner.

BBH (Suzgun et al., 2022) ships, per task, a JSON file of test examples and a
prompt file of three worked exemplars:

  tasks/<task>.json         {"canary": ..., "examples": [{"input": str,
                             "target": str}, ...]}
  cot-prompts/<task>.txt    a canary line, a line of dashes ('-----'), the
                            task description, then exemplars
                            'Q: <question>\nA: Let's think step by step.
                            <rationale> So the answer is <answer>.'

(the JSON files may also sit in `bbh/` or directly in the directory, as in
the original repository). Two prompt modes are built from the same file:

  * 'answer_only': description + exemplars whose answer is only the final
    answer ('A: <answer>'), then 'Q: <input>\nA:';
  * 'cot': description + the full exemplars, then
    "Q: <input>\nA: Let's think step by step.".

Scoring is exact match (`accuracy`) after `extract_answer`: the continuation
is cut where the model starts a new exemplar, the answer is read after the
last 'the answer is' (`instruct.data.cot.extract_answer`), and a
multiple-choice answer such as '(B) 12/25/1937' becomes '(B)', the form of
BBH's targets.

`register_bbh_dir(path)` registers SeqIO tasks `bbh_<task>_answer_only` and
`bbh_<task>_cot` (split 'test') for every task file; `tasks/bbh.py` calls it
for $INSTRUCT_BBH_DIR or the gin binding `bbh_dir.path`.

Runner (`instruct.evals.bbh.runner`: greedy decoding through
`instruct.predict`, per-task accuracy as a Markdown table and JSON):

  python -m instruct.evals.bbh --model=smollm2 --bbh_dir=../shared/data/bbh \
      --max_examples=20 --mode=both --output=/tmp/bbh.json
"""

import dataclasses
import functools
import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import gin
import numpy as np
import seqio
import tensorflow as tf

from instruct import metrics as metrics_lib
from instruct.data import cot
from instruct.data import registry
from instruct.errors import UserError

ENV_VAR = 'INSTRUCT_BBH_DIR'
MODES = ('answer_only', 'cot')
SPLIT = 'test'
COT_CUE = "Let's think step by step."
# JSON task files are looked for in these subdirectories, in order.
_TASK_SUBDIRS = ('tasks', 'bbh', '')
_PROMPT_SUBDIR = 'cot-prompts'
_SEPARATOR_RE = re.compile(r'^-{3,}\s*$')
_QUESTION_RE = re.compile(r'^Q:[ \t]?', re.MULTILINE)
_ANSWER_RE = re.compile(r'^A:[ \t]?', re.MULTILINE)
# Where a continuation starts a new exemplar.
_NEXT_QUESTION_RE = re.compile(r'\n\s*Q:')
_CHOICE_RE = re.compile(r'^\(([A-Z])\)')


@gin.configurable
def bbh_dir(path: Optional[str] = None) -> Optional[str]:
  """The BBH directory `tasks.bbh` registers (else $INSTRUCT_BBH_DIR)."""
  return path


# --- Files. ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Exemplar:
  """One worked example of a prompt file.

  Attributes:
    question: the text after 'Q: ' (may span lines).
    rationale: the text after 'A: ', verbatim (cue, reasoning, answer).
    answer: the final answer read from the rationale.
  """
  question: str
  rationale: str
  answer: str


@dataclasses.dataclass(frozen=True)
class PromptFile:
  """A parsed `cot-prompts/<task>.txt`."""
  path: str
  canary: str
  description: str
  exemplars: Tuple[Exemplar, ...]


def _read_text(path: str, what: str) -> str:
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise UserError(f'Cannot read BBH {what} {path}: {e.strerror}.') from e
  try:
    return data.decode('utf-8').replace('\r\n', '\n')
  except UnicodeDecodeError as e:
    line = data[:e.start].count(b'\n') + 1
    raise UserError(f'{path}:{line}: not valid UTF-8.') from e


def parse_prompt_file(path: str) -> PromptFile:
  """Reads a BBH prompt file (canary, '-----', description, Q:/A: exemplars).

  Raises:
    UserError: naming the file and line when the separator, the description,
      an exemplar's 'A:' line or its 'the answer is' sentence is missing.
  """
  text = _read_text(path, 'prompt file')
  lines = text.split('\n')
  sep = next((i for i, l in enumerate(lines) if _SEPARATOR_RE.match(l)), None)
  if sep is None:
    raise UserError(f'{path}: no separator line of dashes ("-----") after the '
                    'canary; expected a BBH cot-prompts file.')
  canary = '\n'.join(lines[:sep]).strip()
  body_start = sep + 1
  body = '\n'.join(lines[body_start:])
  starts = [m.start() for m in _QUESTION_RE.finditer(body)]
  if not starts:
    raise UserError(f'{path}: no exemplar (a line starting with "Q:") after '
                    f'line {body_start}.')
  description = body[:starts[0]].strip()
  if not description:
    raise UserError(f'{path}:{body_start + 1}: the task description before '
                    'the first "Q:" is empty.')
  exemplars = []
  for n, start in enumerate(starts):
    end = starts[n + 1] if n + 1 < len(starts) else len(body)
    block = body[start:end].strip()
    line = body_start + 1 + body[:start].count('\n')
    answer_match = _ANSWER_RE.search(block)
    if answer_match is None:
      raise UserError(f'{path}:{line}: exemplar {n + 1} has no line starting '
                      'with "A:".')
    question = _QUESTION_RE.sub('', block[:answer_match.start()], count=1)
    rationale = block[answer_match.end():].strip()
    answer = extract_answer(rationale)
    if not re.search(r'answer is', rationale, re.IGNORECASE) or not answer:
      raise UserError(f'{path}:{line}: exemplar {n + 1} does not end with '
                      '"So the answer is <answer>."')
    exemplars.append(Exemplar(question.strip(), rationale, answer))
  return PromptFile(path, canary, description, tuple(exemplars))


def load_examples(path: str) -> List[Dict[str, str]]:
  """The `{"input", "target"}` examples of a BBH task JSON file."""
  text = _read_text(path, 'task file')
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise UserError(f'{path}:{e.lineno}: not valid JSON ({e.msg} at column '
                    f'{e.colno}).') from e
  if not isinstance(data, dict) or not isinstance(data.get('examples'), list):
    raise UserError(f'{path}: expected a JSON object with an "examples" list '
                    '(BBH task format).')
  examples = []
  for i, ex in enumerate(data['examples']):
    if not isinstance(ex, dict):
      raise UserError(f'{path}: examples[{i}] is not an object.')
    for field in ('input', 'target'):
      if not isinstance(ex.get(field), str):
        raise UserError(f'{path}: examples[{i}].{field} is missing or not a '
                        'string.')
    examples.append({'input': ex['input'], 'target': ex['target']})
  if not examples:
    raise UserError(f'{path}: "examples" is empty.')
  return examples


def task_files(path: str) -> Dict[str, Tuple[str, str]]:
  """{task: (json path, prompt path)} of a BBH directory, sorted by task.

  Raises:
    UserError: if the directory, its task files or a task's prompt file is
      missing.
  """
  if not os.path.isdir(path):
    raise UserError(f'BBH directory {path!r} (from --bbh_dir, ${ENV_VAR} or '
                    'instruct.evals.bbh.bbh_dir) does not exist.')
  for sub in _TASK_SUBDIRS:
    json_dir = os.path.join(path, sub)
    if os.path.isdir(json_dir) and any(f.endswith('.json')
                                       for f in os.listdir(json_dir)):
      break
  else:
    raise UserError(f'{path}: no BBH task files (*.json in tasks/, bbh/ or the '
                    'directory itself).')
  found = {}
  for filename in sorted(os.listdir(json_dir)):
    if not filename.endswith('.json'):
      continue
    task = filename[:-len('.json')]
    prompt = os.path.join(path, _PROMPT_SUBDIR, task + '.txt')
    if not os.path.exists(prompt):
      raise UserError(f'{os.path.join(json_dir, filename)}: no prompt file '
                      f'{prompt} for this task.')
    found[task] = (os.path.join(json_dir, filename), prompt)
  return found


# --- Prompts and answers. --------------------------------------------------


def build_prefix(prompt: PromptFile, mode: str) -> str:
  """The few-shot part of a prompt: description and the three exemplars."""
  if mode == 'answer_only':
    shots = [f'Q: {e.question}\nA: {e.answer}' for e in prompt.exemplars]
  elif mode == 'cot':
    shots = [f'Q: {e.question}\nA: {e.rationale}' for e in prompt.exemplars]
  else:
    raise UserError(f'BBH mode {mode!r}: expected one of {", ".join(MODES)}.')
  return '\n\n'.join([prompt.description] + shots)


def build_prompt(prompt: PromptFile, question: str, mode: str) -> str:
  """The full model input for one test question."""
  cue = ' ' + COT_CUE if mode == 'cot' else ''
  return f'{build_prefix(prompt, mode)}\n\nQ: {question}\nA:{cue}'


def extract_answer(text: Any) -> str:
  """The answer a BBH continuation (or exemplar rationale) states.

  The text is cut where a new exemplar starts ('Q:' on a new line); the
  answer is what follows the last 'the answer is' (else the first line, for
  answer-only outputs), without a final full stop; a multiple-choice answer
  '(X) ...' becomes '(X)'.
  """
  if isinstance(text, bytes):
    text = text.decode('utf-8', errors='replace')
  text = _NEXT_QUESTION_RE.split(str(text), maxsplit=1)[0]
  if re.search(r'\banswer\s*(?:is\b|:)', text, re.IGNORECASE):
    answer = cot.extract_answer(text)
  else:
    answer = cot.extract_answer(text.strip().split('\n', 1)[0])
  choice = _CHOICE_RE.match(answer)
  return f'({choice.group(1)})' if choice else answer


def answer_postprocessor(text: Any, example: Optional[Mapping[str, Any]] = None,
                         is_target: bool = False) -> str:
  """SeqIO postprocessor: targets are stripped, predictions extracted."""
  del example
  if is_target:
    return (text.decode('utf-8') if isinstance(text, bytes) else
            str(text)).strip()
  return extract_answer(text)


def accuracy(targets: Sequence[Any],
             predictions: Sequence[Any]) -> Dict[str, float]:
  """Exact-match accuracy (percent) of extracted answers."""
  return {'accuracy': metrics_lib.exact_match(targets, predictions)[
      'exact_match']}


# --- SeqIO tasks. ----------------------------------------------------------

# Model inputs are raw prompts: no EOS after them (the model continues them).
OUTPUT_FEATURES = {
    'inputs': seqio.Feature(vocabulary=registry.VOCABULARY, add_eos=False,
                            required=False),
    'targets': seqio.Feature(vocabulary=registry.VOCABULARY, add_eos=True),
}
# Task name -> (BBH task, mode), filled by register_bbh_dir.
REGISTERED: Dict[str, Tuple[str, str]] = {}


def task_name(task: str, mode: str) -> str:
  stem = re.sub(r'[^a-z0-9_]+', '_', task.lower()).strip('_')
  return f'bbh_{stem}_{mode}'


@functools.lru_cache(maxsize=None)
def _prompted(json_path: str, prompt_path: str, mode: str):
  prompt = parse_prompt_file(prompt_path)
  examples = load_examples(json_path)
  return ([build_prompt(prompt, e['input'], mode) for e in examples],
          [e['target'] for e in examples])


def _dataset_fn(split: str, shuffle_files: bool = False, seed=None, *,
                json_path: str, prompt_path: str, mode: str):
  del shuffle_files, seed
  if split != SPLIT:
    raise UserError(f'BBH has only the {SPLIT!r} split, not {split!r}.')
  inputs, targets = _prompted(json_path, prompt_path, mode)
  return tf.data.Dataset.from_tensor_slices({
      'inputs': inputs, 'targets': targets,
      'idx': np.arange(len(inputs), dtype=np.int64)})


def register_bbh_dir(path: str) -> List[str]:
  """Registers `bbh_<task>_{answer_only,cot}` for every task of a directory.

  Only the directory is listed here; files are read when a dataset is built.

  Returns:
    The SeqIO task names registered.
  """
  names = []
  for task, (json_path, prompt_path) in task_files(path).items():
    for mode in MODES:
      name = task_name(task, mode)
      registry.register_task(registry.TaskSpec(
          name=name,
          dataset_fn=functools.partial(
              _dataset_fn, json_path=json_path, prompt_path=prompt_path,
              mode=mode),
          splits=(SPLIT,),
          output_features=OUTPUT_FEATURES,
          postprocess_fn=answer_postprocessor,
          metric_fns=[accuracy],
          eval_only=True))
      REGISTERED[name] = (task, mode)
      names.append(name)
  return names


def configured_dir() -> Optional[str]:
  return bbh_dir() or os.environ.get(ENV_VAR) or None
