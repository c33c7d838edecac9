r"""Prompt robustness: how much a task's score depends on the instruction wording.

Score the same examples once per template *and* once per paraphrased
instruction, and summarise each task's scores: mean, worst (the score a user
who picks an unlucky wording gets), best, spread (best - worst) and standard
deviation (population, ddof=0, over wordings). A robust model has a small
spread.

Wordings of a built-in task (`instruct.data.builtin`):

  * its templates (seen and held-out alike): task
    `builtin_<name>_template<i>`;
  * paraphrases of each template's instruction: task
    `builtin_<name>_template<i>_para<j>`. `paraphrase_template` makes them
    deterministically from rewrites per task family (cluster): phrase
    substitutions (`FAMILY_REWRITES`), a family instruction put in front
    (`FAMILY_PREFIXES`) and an answer cue; or they come from a JSONL file of
    the user's (`read_paraphrases`: rows `{"task": ..., "template_idx": i,
    "paraphrase": ...}`, placeholders as in the template).

Only the model input's wording changes: the examples, targets and metric
(exact match) are those of the template.

    # Evaluate a checkpoint: tasks, templates and paraphrases in one run.
    python -m instruct.evals.robustness --tasks=sentiment,nli \
      --gin_file=models/t5_1_1/tiny.gin --gin_file=runs/eval.gin \
      --gin.CHECKPOINT_PATH="'/tmp/run'" --gin.EVAL_OUTPUT_DIR="'/tmp/rob'" \
      --gin.TASK_FEATURE_LENGTHS="{'inputs': 256, 'targets': 32}"
    # Or summarise the metrics file of an earlier run.
    python -m instruct.evals.robustness summarize \
      --metrics=/tmp/rob/metrics-2000.json --out=/tmp/rob/robustness.png

Both write a Markdown table (and print it) and a PNG.
"""

import argparse
import dataclasses
import functools
import json
import os
import re
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from instruct import metrics as metrics_lib
from instruct.data import builtin
from instruct.data import mixtures
from instruct.data import preprocessors
from instruct.data import registry
from instruct.data import templates as templates_lib
from instruct.data.builtin import dataset as builtin_data
from instruct.errors import UserError
from instruct.evals import heldout

TemplateScores = Mapping[str, Mapping[str, float]]  # task -> {wording: score}
TEMPLATE_TASK_RE = re.compile(
    r'^(?P<task>.+)_template(?P<template>\d+)(?:_para(?P<para>\d+))?$')
PARAPHRASE_MARK = '/p'  # Wording key of paraphrase j of template i: 'i/pj'.
ANSWER_CUE = '\nAnswer:'

# Phrase rewrites per task family (cluster), applied to a template's literal
# text (never to its placeholders), whole words, first match of each.
FAMILY_REWRITES: Dict[str, Tuple[Tuple[str, str], ...]] = {
    'string_manipulation': (
        ('Convert to uppercase', 'Rewrite in capital letters'),
        ('Reverse the word', 'Spell this word backwards'),
        ('Make an acronym', 'Build an acronym'), ('uppercase', 'capitals'),
        ('letters', 'characters'), ('word', 'term')),
    'arithmetic': (
        ('What is', 'Calculate'), ('even or odd', 'odd or even'),
        ('Compute', 'Work out'), ('number', 'integer'), ('result', 'answer')),
    'sentiment': (
        ('sentiment', 'tone'), ('review', 'text'), ('emotion', 'feeling'),
        ('positive or negative', 'negative or positive'), ('show', 'express')),
    'reading_comprehension': (
        ('passage', 'text'), ('Answer', 'Respond to'), ('question', 'query'),
        ('Read', 'Look at')),
    'translation': (
        ('Translate to', 'Render in'), ('Translate', 'Convert'),
        ('English', 'the English language')),
    'multi_step_reasoning': (
        ('How many times', 'How often'),
        ('What number comes next', 'Which number follows'),
        ('What day of the week', 'Which weekday'), ('List', 'Items')),
    'nli': (
        ('Premise', 'Statement'), ('Hypothesis', 'Claim'),
        ('entail', 'imply'), ('imply', 'entail'), ('Does', 'Would')),
    'closed_book_qa': (
        ('What is', 'Name'), ('Which', 'What'), ('capital', 'capital city')),
    'paraphrase': (
        ('Do these mean the same thing', 'Are these two sentences equivalent'),
        ('Rewrite', 'Restate'), ('Sentence', 'Text')),
    'topic_classification': (
        ('Topic', 'Category'), ('Intent', 'Goal'), ('Headline', 'Title'),
        ('User', 'Customer')),
    'coreference': (
        ('refer to', 'point to'), ('Who does', 'To whom does'),
        ('What does', 'To what does')),
    'struct_to_text': (
        ('Write this as a sentence', 'Express this as one sentence'),
        ('in words', 'spelled out'), ('Write', 'Put')),
    'summarization': (
        ('Write a headline', 'Give a title'), ('Shorten', 'Condense'),
        ('story', 'article'), ('sentence', 'line')),
    'sorting': (
        ('Sort', 'Arrange'), ('ascending order', 'increasing order'),
        ('alphabetically', 'in alphabetical order')),
}
# Applied after the family's rewrites, to any template.
GENERIC_REWRITES: Tuple[Tuple[str, str], ...] = (
    ('Output', 'Result'), ('Input', 'Given'), ('Answer', 'Reply'),
    ('Question', 'Query'), ('Task', 'Job'), ('Write', 'Produce'),
    ('What', 'Which'), ('sentence', 'line'), ('text', 'passage'),
    ('Text', 'Passage'), ('version', 'form'), ('Give', 'Provide'),
    ('Tell', 'Say'), ('Find', 'Determine'), ('Q', 'Question'),
    ('A', 'Answer'), ('Data', 'Record'), ('Story', 'Text'),
    ('Words', 'Terms'), ('Numbers', 'Values'), ('List', 'Items'),
    ('Sorted', 'In order'), ('Date', 'Day'), ('Headline', 'Title'),
    ('Article', 'Story'), ('Long', 'Original'), ('Short', 'Shortened'),
    ('Message', 'Text'), ('Request', 'Query'), ('Category', 'Class'),
    ('Sentence', 'Text'), ('Ascending', 'Smallest first'),
    ('Written out', 'In words'))
# Put in front when the rules above give fewer than two paraphrases.
FALLBACK_PREFIX = 'Respond to the following.'
# An instruction put in front of the template, per family.
FAMILY_PREFIXES: Dict[str, str] = {
    'string_manipulation': 'Transform the text as asked.',
    'arithmetic': 'Solve this math question.',
    'sentiment': 'Judge the feeling expressed in the text.',
    'reading_comprehension': 'Answer using the text below.',
    'translation': 'Translate the text as asked.',
    'multi_step_reasoning': 'Think carefully and answer.',
    'nli': 'Decide whether one sentence follows from the other.',
    'closed_book_qa': 'Answer this general-knowledge question.',
    'paraphrase': 'Compare or rewrite the sentences as asked.',
    'topic_classification': 'Classify the text.',
    'coreference': 'Work out who or what is meant.',
    'struct_to_text': 'Turn the data into text.',
    'summarization': 'Summarise as asked.',
    'sorting': 'Put the items in order.',
}
DEFAULT_PREFIX = 'Follow the instruction.'


@dataclasses.dataclass(frozen=True)
class RobustnessSummary:
  """One task's scores across wordings (templates and paraphrases)."""
  num_templates: int
  mean: float
  worst: float
  best: float
  spread: float  # best - worst.
  std: float  # Population standard deviation over wordings.
  worst_template: str  # The wording with the worst score ('i' or 'i/pj').
  num_paraphrases: int = 0

  @property
  def num_wordings(self) -> int:
    return self.num_templates + self.num_paraphrases


def summarize(scores: TemplateScores) -> Dict[str, RobustnessSummary]:
  """Mean, worst, best, spread and std per task, over all its wordings.

  Raises UserError for a task with no scores or a non-finite score (a
  missing wording must not silently shrink the spread).
  """
  out = {}
  for task in sorted(scores):
    per = dict(scores[task])
    if not per:
      raise UserError(f'Task {task}: no per-template scores.')
    bad = [t for t, v in per.items() if not np.isfinite(v)]
    if bad:
      raise UserError(f'Task {task}: non-finite score for template(s) {bad}.')
    values = np.array([per[t] for t in per], dtype=np.float64)
    worst_template = min(per, key=lambda t: (per[t], str(t)))
    paraphrases = sum(PARAPHRASE_MARK in str(t) for t in per)
    out[task] = RobustnessSummary(
        num_templates=len(values) - paraphrases, mean=float(values.mean()),
        worst=float(values.min()), best=float(values.max()),
        spread=float(values.max() - values.min()), std=float(values.std()),
        worst_template=str(worst_template), num_paraphrases=paraphrases)
  return out


def markdown_table(summary: Mapping[str, RobustnessSummary]) -> str:
  lines = ['| task | templates | paraphrases | mean | worst | best | spread | '
           'std | worst wording |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---|']
  for task, s in summary.items():
    lines.append(f'| {task} | {s.num_templates} | {s.num_paraphrases} | '
                 f'{s.mean:.2f} | {s.worst:.2f} | {s.best:.2f} | '
                 f'{s.spread:.2f} | {s.std:.2f} | {s.worst_template} |')
  return '\n'.join(lines)


def wording_key(template: int, paraphrase: Optional[int] = None) -> str:
  return str(template) if paraphrase is None else (
      f'{template}{PARAPHRASE_MARK}{paraphrase}')


def scores_from_metrics(results: Mapping[str, Mapping[str, float]],
                        metric: Optional[str] = None,
                        pattern: re.Pattern = TEMPLATE_TASK_RE
                        ) -> Dict[str, Dict[str, float]]:
  """{task: {wording: score}} from results of per-wording tasks.

  Task names are matched with `pattern` (groups `task`, `template` and,
  optionally, `para`); results of other tasks are ignored. A template's
  wording key is 'i', its j-th paraphrase's 'i/pj'.
  """
  out: Dict[str, Dict[str, float]] = {}
  for name, m in results.items():
    match = pattern.match(name)
    if match:
      para = match.groupdict().get('para')
      key = wording_key(int(match['template']),
                        int(para) if para is not None else None)
      out.setdefault(match['task'], {})[key] = heldout.headline(m, metric)
  if not out:
    raise UserError(f'No results of per-template tasks (names matching '
                    f'{pattern.pattern!r}) among {sorted(results)[:5]}...')
  return out


# --- Paraphrases. -----------------------------------------------------------


def _escape(literal: str) -> str:
  return literal.replace('{', '{{').replace('}', '}}')


def _placeholders(pattern: str) -> List[str]:
  return [field for _, field in templates_lib.parse_pattern(pattern) if field]


def _rewrite_literals(pattern: str, rewrites: Sequence[Tuple[str, str]]
                      ) -> str:
  """Rewrites phrases in a pattern's literal text in one pass.

  Each rule applies at most once; text a rule wrote is not rewritten again.
  Where rules overlap, the one listed first wins.
  """
  table = {}
  for old, new in rewrites:
    table.setdefault(old, new)
  if not table:
    return pattern
  regex = re.compile(r'\b(?:' + '|'.join(re.escape(o) for o in table) +
                     r')\b')
  used = set()

  def replace(match):
    old = match.group(0)
    if old in used:
      return old
    used.add(old)
    return table[old]

  segments = templates_lib.parse_pattern(pattern)
  return ''.join(_escape(regex.sub(replace, literal)) +
                 ('{' + field + '}' if field else '')
                 for literal, field in segments)


def paraphrase_template(pattern: str, cluster: str,
                        avoid: Sequence[str] = ()) -> List[str]:
  """Deterministic paraphrases of a template's inputs pattern.

  In order, the distinct ones that differ from `pattern`: the family's
  phrase rewrites (`FAMILY_REWRITES`, then `GENERIC_REWRITES`), the family
  instruction in front (`FAMILY_PREFIXES`), and an answer cue ('Answer:')
  after a pattern that does not end with a colon; with fewer than two, `FALLBACK_PREFIX` in
  front. Placeholders are kept as they are; a candidate equal to one in
  `avoid` (the task's other templates) is skipped.
  """
  candidates = [
      _rewrite_literals(pattern, FAMILY_REWRITES.get(cluster, ()) +
                        GENERIC_REWRITES),
      _escape(FAMILY_PREFIXES.get(cluster, DEFAULT_PREFIX)) + '\n' + pattern,
  ]
  if not pattern.rstrip().endswith(':'):
    candidates.append(pattern + _escape(ANSWER_CUE))
  out = []
  for c in candidates:
    if c != pattern and c not in out and c not in avoid:
      out.append(c)
  if len(out) < 2:
    out.append(_escape(FALLBACK_PREFIX) + '\n' + pattern)
  return out


def builtin_paraphrases(task_name: str) -> Dict[int, List[str]]:
  """{template index: paraphrased inputs patterns} of a built-in task."""
  task = _builtin_task(task_name)
  others = [t.inputs for t in task.templates]
  return {i: paraphrase_template(t.inputs, task.cluster, others)
          for i, t in enumerate(task.templates)}


def read_paraphrases(path: str) -> Dict[str, Dict[int, List[str]]]:
  """{task: {template index: [paraphrase, ...]}} from a JSONL file.

  Each line: `{"task": "<built-in task>", "template_idx": i,
  "paraphrase": "... {field} ..."}`; the paraphrase must use the same
  placeholders as template i's inputs.

  Raises:
    UserError: naming the file and line for an empty file, bad JSON, an
      unknown task, a template index out of range or different placeholders.
  """
  try:
    with open(path, encoding='utf-8') as f:
      lines = f.read().splitlines()
  except OSError as e:
    raise UserError(f'{path}: cannot read the paraphrases file '
                    f'({e.strerror}).') from None
  out: Dict[str, Dict[int, List[str]]] = {}
  for line_no, line in enumerate(lines, 1):
    if not line.strip():
      continue
    where = f'{path}, line {line_no}'
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      raise UserError(f'{where}: not valid JSON ({e.msg}).') from None
    if not isinstance(row, dict) or not {'task', 'template_idx',
                                         'paraphrase'} <= set(row):
      raise UserError(f'{where}: expected an object with "task", '
                      '"template_idx" and "paraphrase".')
    task = _builtin_task(str(row['task']), where)
    idx = row['template_idx']
    if (isinstance(idx, bool) or not isinstance(idx, int) or
        not 0 <= idx < len(task.templates)):
      raise UserError(f'{where}: template_idx {idx!r} is not in 0..'
                      f'{len(task.templates) - 1} for task {task.name}.')
    text = row['paraphrase']
    if not isinstance(text, str) or not text.strip():
      raise UserError(f'{where}: "paraphrase" must be a non-empty string.')
    try:
      got = sorted(_placeholders(text))
    except templates_lib.TemplateError as e:
      raise UserError(f'{where}: {e}') from None
    want = sorted(_placeholders(task.templates[idx].inputs))
    if got != want:
      raise UserError(f'{where}: the paraphrase has placeholders {got}; '
                      f'template {idx} of {task.name} has {want}.')
    out.setdefault(task.name, {}).setdefault(idx, []).append(text)
  if not out:
    raise UserError(f'{path}: empty paraphrases file (expected JSONL rows '
                    '{"task", "template_idx", "paraphrase"}).')
  return out


# --- SeqIO tasks. -----------------------------------------------------------


def _builtin_task(task_name: str, where: str = ''):
  if task_name not in builtin.TASK_NAMES:
    raise UserError(f'{where + ": " if where else ""}{task_name!r} is not a '
                    f'built-in task (known: {", ".join(builtin.TASK_NAMES)}).')
  return builtin.get_task(task_name)


def _add_task(name: str, task_name: str, templates, template_idx: int) -> None:
  registry.register_task(builtin_data.task_spec(
      name, task_name, ('validation',),
      [functools.partial(preprocessors.apply_templates,
                         templates=tuple(templates),
                         template_ids=[template_idx], task_name=task_name)],
      output_features=registry.OUTPUT_FEATURES,
      metric_fns=[metrics_lib.exact_match], eval_only=True))


def _add_mixture(name: str, members: Sequence[str]) -> None:
  mixtures.register_eval_mixture(name, members)


def register_builtin_template_tasks(task_name: str) -> Dict[int, str]:
  """One validation task per template of a built-in task, and a mixture.

  Tasks are `builtin_<task_name>_template<i>` for every template index i
  (held-out templates included), each scored with the task's usual
  exact-match metric over the same validation examples; the mixture is
  `builtin_<task_name>_all_templates`. Re-registering replaces them.
  Returns {template index: task name}.
  """
  task = _builtin_task(task_name)
  names = {}
  for i in range(len(task.templates)):
    names[i] = f'builtin_{task_name}_template{i}'
    _add_task(names[i], task_name, task.templates, i)
  _add_mixture(f'builtin_{task_name}_all_templates', list(names.values()))
  return names


def register_paraphrase_tasks(
    task_name: str,
    paraphrases: Optional[Mapping[int, Sequence[str]]] = None
) -> Dict[Tuple[int, int], str]:
  """One validation task per paraphrase of each template, and a mixture.

  Args:
    task_name: a built-in task.
    paraphrases: {template index: inputs patterns}; default
      `builtin_paraphrases(task_name)`.

  Returns:
    {(template index, paraphrase index): task name}; tasks are
    `builtin_<task>_template<i>_para<j>` (same examples, targets and metric
    as template i), the mixture `builtin_<task>_all_paraphrases`.
  """
  task = _builtin_task(task_name)
  if paraphrases is None:
    paraphrases = builtin_paraphrases(task_name)
  names = {}
  for i, patterns in sorted(paraphrases.items()):
    original = task.templates[i]
    for j, pattern in enumerate(patterns):
      templates = list(task.templates)
      # At position i, so that `_template_idx` still says which template.
      templates[i] = dataclasses.replace(original, inputs=pattern,
                                         name=f'{original.name}~p{j}')
      names[(i, j)] = f'builtin_{task_name}_template{i}_para{j}'
      _add_task(names[(i, j)], task_name, templates, i)
  if names:
    _add_mixture(f'builtin_{task_name}_all_paraphrases', list(names.values()))
  return names


ROBUSTNESS_MIXTURE = 'robustness_wordings'


def register_robustness_mixture(
    task_names: Sequence[str],
    paraphrases: Optional[Mapping[str, Mapping[int, Sequence[str]]]] = None,
    mixture: str = ROBUSTNESS_MIXTURE) -> List[str]:
  """Every template and paraphrase task of `task_names`, as one mixture.

  `paraphrases` ({task: {template index: patterns}}, e.g. from
  `read_paraphrases`) replaces the built-in paraphrases of the tasks it
  names; the others get the built-in ones. Returns the task names.
  """
  if not task_names:
    raise UserError('No tasks given for the robustness evaluation (--tasks).')
  members = []
  for name in task_names:
    members += register_builtin_template_tasks(name).values()
    own = (paraphrases or {}).get(name)
    members += register_paraphrase_tasks(name, own).values()
  _add_mixture(mixture, members)
  return members


# --- Reports and the command line. ------------------------------------------


def write_report(summary: Mapping[str, RobustnessSummary],
                 scores: TemplateScores, out_dir: str,
                 stem: str = 'robustness') -> Tuple[str, str, str]:
  """Writes `<stem>.md`, `<stem>.json` and `<stem>.png`; returns the paths."""
  from instruct.evals import plots  # pylint: disable=g-import-not-at-top
  os.makedirs(out_dir, exist_ok=True)
  md = os.path.join(out_dir, f'{stem}.md')
  with open(md, 'w', encoding='utf-8') as f:
    f.write(markdown_table(summary) + '\n')
  js = os.path.join(out_dir, f'{stem}.json')
  with open(js, 'w', encoding='utf-8') as f:
    json.dump({'summary': {t: dataclasses.asdict(s)
                           for t, s in summary.items()},
               'scores': scores}, f, indent=1, sort_keys=True)
  png = plots.plot_robustness(summary, scores, os.path.join(out_dir,
                                                            f'{stem}.png'))
  return md, js, png


def _summarize_main(argv: Sequence[str]) -> int:
  from instruct.evals import plots  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(
      prog='python -m instruct.evals.robustness summarize',
      description='Robustness report from a metrics-<step>.json file.')
  parser.add_argument('--metrics', required=True,
                      help='metrics-<step>.json written by instruct.eval')
  parser.add_argument('--out_dir', required=True)
  parser.add_argument('--metric', help='metric (default: headline)')
  args = parser.parse_args(argv)
  step, results = plots.read_metrics_file(args.metrics)
  scores = scores_from_metrics(results, args.metric)
  summary = summarize(scores)
  paths = write_report(summary, scores, args.out_dir, f'robustness-{step}')
  print(markdown_table(summary))
  print('Wrote ' + ', '.join(paths), file=sys.stderr)
  return 0


def _evaluate_main(argv: Sequence[str]) -> int:
  """Registers the wordings, runs `checkpoint_evaluation.evaluate`, reports."""
  # Imported here, so that `summarize` needs no model code.
  # pylint: disable=g-import-not-at-top
  import gin
  from instruct import checkpoint_evaluation
  from instruct import gin_utils
  # pylint: enable=g-import-not-at-top
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument('--tasks', required=True,
                      help='comma-separated built-in tasks')
  parser.add_argument('--paraphrases',
                      help='JSONL file of your own paraphrases')
  ours, rest = parser.parse_known_args(argv)
  names = [t for t in ours.tasks.split(',') if t]
  own = read_paraphrases(ours.paraphrases) if ours.paraphrases else None
  unknown = sorted(set(own or {}) - set(names))
  if unknown:
    raise UserError(f'--paraphrases {ours.paraphrases}: task(s) {unknown} are '
                    f'not in --tasks ({", ".join(names)}).')
  register_robustness_mixture(names, own)
  args, bindings = gin_utils.parse_flags(rest, description=__doc__)
  bindings.append(f'MIXTURE_OR_TASK_NAME = {ROBUSTNESS_MIXTURE!r}')
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  results = gin_utils.call_configured(
      checkpoint_evaluation.evaluate,  # pylint: disable=no-value-for-parameter
      ('CHECKPOINT_PATH', 'EVAL_OUTPUT_DIR', 'TASK_FEATURE_LENGTHS'))
  out_dir = gin.query_parameter('EVAL_OUTPUT_DIR/macro.value')
  step = max(results)
  scores = scores_from_metrics(results[step])
  summary = summarize(scores)
  paths = write_report(summary, scores, out_dir, f'robustness-{step}')
  print(markdown_table(summary), flush=True)
  print('Wrote ' + ', '.join(paths), file=sys.stderr)
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`summarize --metrics=...` or an evaluation run (gin flags)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    if argv and argv[0] == 'summarize':
      return _summarize_main(argv[1:])
    return _evaluate_main(argv)
  except UserError as e:
    print(f'error: {str(e).splitlines()[0]}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  sys.exit(main())
