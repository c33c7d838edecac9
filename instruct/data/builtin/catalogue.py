"""The catalogue of built-in tasks and the API that generates their examples.

`TASKS` joins the rows of every cluster module in `TASK_ORDER`, the stable
order the rest of the project sees (`TASK_NAMES`); see `instruct.data.builtin`
for how examples are generated and split.
"""

import hashlib
import random
import statistics
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from instruct.data import templates as templates_lib
from instruct.data.builtin import arithmetic
from instruct.data.builtin import base
from instruct.data.builtin import closed_book_qa
from instruct.data.builtin import coreference
from instruct.data.builtin import nli
from instruct.data.builtin import paraphrase
from instruct.data.builtin import reading_comprehension
from instruct.data.builtin import reasoning
from instruct.data.builtin import sentiment
from instruct.data.builtin import sorting
from instruct.data.builtin import strings
from instruct.data.builtin import struct_to_text
from instruct.data.builtin import summarization
from instruct.data.builtin import topic_classification
from instruct.data.builtin import translation

DEFAULT_SEED = base.DEFAULT_SEED
SPLIT_SIZES = base.SPLIT_SIZES
VALIDATION_PERCENT = base.VALIDATION_PERCENT
MAX_INPUTS_BYTES = base.MAX_INPUTS_BYTES
MAX_TARGETS_BYTES = base.MAX_TARGETS_BYTES
MAX_RESAMPLES = base.MAX_RESAMPLES

# The cluster modules, in the order of their first task.
CLUSTER_MODULES = (strings, arithmetic, reasoning, sentiment, nli,
                   reading_comprehension, closed_book_qa, translation,
                   paraphrase, topic_classification, coreference,
                   struct_to_text, summarization, sorting)

TASK_ORDER: Tuple[str, ...] = (
    # The original seven come first, in their original order.
    'uppercase',
    'reverse_word',
    'arithmetic',
    'sentiment',
    'reading_comprehension',
    'translation',
    'parity',
    # String manipulation.
    'acronym',
    # Arithmetic.
    'word_problem',
    'multiplication',
    # Multi-step reasoning.
    'counting',
    'ordering',
    'day_of_week',
    'number_sequence',
    # Sentiment.
    'emotion',
    # NLI.
    'nli',
    'entailment',
    # Reading comprehension.
    'boolean_qa',
    # Closed-book QA: facts are shared, question wordings are split.
    'world_capitals',
    'world_facts',
    # Translation: both directions share one partition.
    'translation_to_english',
    # Paraphrase.
    'paraphrase_detection',
    'paraphrase_generation',
    # Topic classification.
    'topic',
    'intent',
    # Coreference.
    'pronoun_resolution',
    'winograd',
    # Struct to text.
    'data_to_text',
    'date_to_text',
    # Summarisation.
    'headline',
    'compression',
    # Sorting and lists.
    'sort_numbers',
    'sort_words',
)


def _catalogue() -> Dict[str, base.BuiltinTask]:
  rows = {t.name: t for module in CLUSTER_MODULES for t in module.TASKS}
  if sorted(rows) != sorted(TASK_ORDER):
    raise AssertionError('TASK_ORDER and the cluster modules disagree: '
                         f'{sorted(set(rows) ^ set(TASK_ORDER))}')
  return {name: rows[name] for name in TASK_ORDER}


TASKS: Dict[str, base.BuiltinTask] = _catalogue()

# Names of all built-in tasks, in a stable order.
TASK_NAMES: Tuple[str, ...] = tuple(TASKS)
GENERATION_TASK_NAMES = tuple(n for n in TASK_NAMES
                              if not TASKS[n].is_classification)
CLASSIFICATION_TASK_NAMES = tuple(n for n in TASK_NAMES
                                  if TASKS[n].is_classification)
RATIONALE_TASK_NAMES = tuple(n for n in TASK_NAMES if TASKS[n].has_rationale)
# The original seven tasks: the quickstart's evaluation set (see tasks/).
CORE_TASK_NAMES: Tuple[str, ...] = TASK_NAMES[:7]


def clusters() -> Dict[str, Tuple[str, ...]]:
  """Cluster name -> its task names, in catalogue order."""
  out: Dict[str, List[str]] = {}
  for name, task in TASKS.items():
    out.setdefault(task.cluster, []).append(name)
  return {c: tuple(names) for c, names in out.items()}


# --------------------------------------------------------------------------
# Generation API.


def get_task(name: str) -> base.BuiltinTask:
  """Returns the built-in task called `name`."""
  try:
    return TASKS[name]
  except KeyError:
    raise KeyError(
        f'Unknown built-in task {name!r}; known: {list(TASKS)}') from None


def is_validation_key(task_name: str, key: str) -> bool:
  """Whether content `key` of a task belongs to the validation split.

  Args:
    task_name: a task name, or the partition shared by several tasks (a
      task's `split_partition`, which is its name unless set).
    key: the content key.
  """
  partition = TASKS[task_name].split_partition if task_name in TASKS else (
      task_name)
  digest = hashlib.sha256(f'{partition}\x00{key}'.encode('utf-8')).digest()
  return int.from_bytes(digest[:8], 'big') % 100 < VALIDATION_PERCENT


def _check_split(split: str) -> None:
  if split not in SPLIT_SIZES:
    raise ValueError(
        f'Unknown split {split!r}; expected one of {list(SPLIT_SIZES)}.')


def generate_example(task_name: str, split: str, index: int,
                     seed: int = DEFAULT_SEED) -> base.Fields:
  """Generates the fields of one example.

  Args:
    task_name: a name from `TASK_NAMES`.
    split: 'train' or 'validation'.
    index: the example's index within the split.
    seed: data seed; the same (seed, split, index) gives the same example.

  Returns:
    The example's fields, plus `idx` (= index).
  """
  _check_split(split)
  task = get_task(task_name)
  # Seeding with a string hashes it with SHA-512: stable across processes,
  # unlike hash().
  rng = random.Random(f'{seed}/{task_name}/{split}/{index}')
  want_validation = split == 'validation'
  for _ in range(MAX_RESAMPLES):
    fields = task.generate(rng)
    if is_validation_key(task_name, task.content_key(fields)) == (
        want_validation):
      fields['idx'] = index
      return fields
  raise RuntimeError(
      f'Task {task_name!r}: no {split} example found after {MAX_RESAMPLES} '
      'draws; its content space is too small for the split.')


def generate_examples(task_name: str, split: str, seed: int = DEFAULT_SEED,
                      num_examples: Optional[int] = None,
                      start: int = 0) -> Iterator[base.Fields]:
  """Lazily yields examples `start, start + 1, ...` of a split.

  Args:
    task_name: a name from `TASK_NAMES`.
    split: 'train' or 'validation'.
    seed: data seed.
    num_examples: how many to yield; defaults to the rest of the split.
    start: index of the first example.

  Yields:
    Field dicts, each including `idx`.
  """
  _check_split(split)
  stop = SPLIT_SIZES[split] if num_examples is None else start + num_examples
  for index in range(start, stop):
    yield generate_example(task_name, split, index, seed)


def format_example(task_name: str, fields: Mapping[str, Any],
                   template_ids: Optional[Sequence[int]] = None
                   ) -> Tuple[int, str, str]:
  """Formats an example with the template assigned to its `idx`.

  This is the pure-Python reference for what the SeqIO tasks produce.

  Args:
    task_name: a name from `TASK_NAMES`.
    fields: an example from `generate_example`.
    template_ids: the template indices in use (e.g. the seen ones); defaults
      to all of the task's templates.

  Returns:
    `(template_idx, inputs, targets)`, with `template_idx` indexing the task's
    full template list.
  """
  task = get_task(task_name)
  ids = (tuple(range(len(task.templates))) if template_ids is None
         else tuple(template_ids))
  template_idx = ids[templates_lib.template_index(fields['idx'], len(ids))]
  inputs, targets = task.templates[template_idx].format(fields)
  return template_idx, inputs, targets


def length_stats(task_name: str, split: str, num_examples: int,
                 template_ids: Optional[Sequence[int]] = None,
                 seed: int = DEFAULT_SEED) -> Mapping[str, float]:
  """UTF-8 byte-length statistics of zero-shot formatted examples.

  Args:
    task_name: a name from `TASK_NAMES`.
    split: 'train' or 'validation'.
    num_examples: number of examples to measure (from index 0).
    template_ids: templates to use; defaults to all.
    seed: data seed.

  Returns:
    Mean/max of inputs and targets lengths (without EOS) and the fractions
    longer than `MAX_INPUTS_BYTES` / `MAX_TARGETS_BYTES`, i.e. those that would
    be truncated at feature lengths 192 / 32 once EOS is appended.
  """
  inputs_lengths: List[int] = []
  targets_lengths: List[int] = []
  for fields in generate_examples(task_name, split, seed, num_examples):
    _, inputs, targets = format_example(task_name, fields, template_ids)
    inputs_lengths.append(len(inputs.encode('utf-8')))
    targets_lengths.append(len(targets.encode('utf-8')))
  n = len(inputs_lengths)
  return {
      'num_examples': n,
      'inputs_mean': statistics.fmean(inputs_lengths),
      'inputs_max': max(inputs_lengths),
      'targets_mean': statistics.fmean(targets_lengths),
      'targets_max': max(targets_lengths),
      'inputs_over_fraction':
          sum(l > MAX_INPUTS_BYTES for l in inputs_lengths) / n,
      'targets_over_fraction':
          sum(l > MAX_TARGETS_BYTES for l in targets_lengths) / n,
  }
