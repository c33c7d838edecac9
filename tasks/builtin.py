"""SeqIO registrations of the built-in, offline instruction tasks.

Importing this module only declares tasks; no data is generated until a
dataset is requested. There are two families of tasks over the same data,
both read through `instruct.data.builtin.dataset.load` and registered through
`instruct.data.registry.register_task`.

The quickstart's tasks (held-out-template protocol). For each built-in task
`<name>` (see `instruct.data.builtin.TASK_NAMES`):

  * `builtin_<name>`: train/validation, seen templates only, zero-shot without
    options. Targets are the answer text, scored with `exact_match`.
  * `builtin_<name>_unseen_templates`: validation only, held-out templates.
  * classification tasks additionally get `builtin_<name>_options` and
    `builtin_<name>_unseen_templates_options`: validation only, one example per
    answer option, scored by rank classification (`score` metric).

Flan-style variants, through `instruct.data.registry` (source 'builtin'),
named `builtin_<name>_<variant>` with `<variant>` in `VARIANTS`: zero-shot
with options (`zs_opt`, randomised `zs_ropt`), without (`zs_noopt`),
few-shot (`fs_opt`, `fs_noopt`, same-template `xs_*`), chain of thought
(`cot`, `fs_cot`, tasks with worked rationales only) and `zs_opt_rank`
(rank-classification eval). They use only the *seen* templates, so every
mixture here leaves the held-out templates unseen.

Mixtures:

  * `builtin_instructions`: all `builtin_<name>` tasks at equal rates (train).
  * `builtin_instructions_eval_seen`: validation tasks with seen templates
    (generation tasks plus the `_options` tasks) of the quickstart's core
    tasks (`CORE_EVAL_TASK_NAMES`), kept small so evaluation stays quick.
  * `builtin_instructions_eval_unseen`: the same with held-out templates.
  * `builtin_instructions_eval`: both.
  * `builtin_instructions_eval_full` (`_full_seen`, `_full_unseen`): the same
    for every built-in task.
  * `builtin_instructions_zs`, `_fs`, `_cot`: the zero-shot (with and without
    options), few-shot and chain-of-thought variants; `_all_variants`: all of
    them (the miniature Flan mixture).
  * `builtin_instructions_no_<cluster>` / `builtin_instructions_<cluster>_eval`
    for every cluster: train on every other cluster (all variants), evaluate
    zero-shot on the held-out one (the FLAN paper's protocol).

Every quickstart example carries `_task_name` (string) and `_template_idx`
(int32, index into the task's full template list) metadata; feature
converters ignore them and mixtures drop them unless passed
`passthrough_features`.

Lengths (bytes = tokens with the byte vocabulary): zero-shot tasks fit
`DEFAULT_SEQUENCE_LENGTH` (192 / 32); options, few-shot and CoT prompts are
longer, see `OPTIONS_SEQUENCE_LENGTH`, `FEW_SHOT_SEQUENCE_LENGTH`,
`COT_SEQUENCE_LENGTH` and `FEW_SHOT_COT_SEQUENCE_LENGTH` (measured in
tests/test_builtin_tasks.py).
"""

import functools
from typing import Dict, List

from instruct import metrics
from instruct.data import builtin
from instruct.data.builtin import dataset as builtin_data
from instruct.data import mixtures
from instruct.data import preprocessors
from instruct.data import registry

# The collection's vocabulary: ByteVocabulary unless gin binds
# `instruct.data.registry.default_vocabulary.vocabulary`; shared with the
# variant tasks so that all built-in tasks mix.
VOCABULARY = registry.VOCABULARY
OUTPUT_FEATURES = registry.OUTPUT_FEATURES
# The lengths the demo uses; every zero-shot example fits (with EOS).
DEFAULT_SEQUENCE_LENGTH = {'inputs': 192, 'targets': 32}
# Suggested lengths of the other variants, measured over 64 examples per
# split of every variant task (tests/test_builtin_tasks.py, slow test).
# Zero-shot with options: the options block follows the prompt.
OPTIONS_SEQUENCE_LENGTH = {'inputs': 320, 'targets': 32}
# Few-shot: up to 5 exemplars before the query.
FEW_SHOT_SEQUENCE_LENGTH = {'inputs': 1280, 'targets': 32}
# CoT: the zero-shot question (with its options) plus a reasoning cue; the
# rationale and a sentence stating the answer in the targets.
COT_SEQUENCE_LENGTH = {'inputs': 320, 'targets': 256}
# Few-shot CoT: worked exemplars; never longer than the registry's few-shot
# token budget (1,920).
FEW_SHOT_COT_SEQUENCE_LENGTH = {'inputs': 1920, 'targets': 256}

PREFIX = 'builtin_'
SOURCE = builtin_data.SOURCE
TRAIN_MIXTURE = 'builtin_instructions'
EVAL_SEEN_MIXTURE = 'builtin_instructions_eval_seen'
EVAL_UNSEEN_MIXTURE = 'builtin_instructions_eval_unseen'
EVAL_MIXTURE = 'builtin_instructions_eval'
EVAL_FULL_SEEN_MIXTURE = 'builtin_instructions_eval_full_seen'
EVAL_FULL_UNSEEN_MIXTURE = 'builtin_instructions_eval_full_unseen'
EVAL_FULL_MIXTURE = 'builtin_instructions_eval_full'
ZERO_SHOT_MIXTURE = 'builtin_instructions_zs'
FEW_SHOT_MIXTURE = 'builtin_instructions_fs'
COT_MIXTURE = 'builtin_instructions_cot'
ALL_VARIANTS_MIXTURE = 'builtin_instructions_all_variants'

# The quickstart evaluates these (the original seven plus one topic and one
# struct-to-text task): 24 eval tasks, so evaluation stays quick.
CORE_EVAL_TASK_NAMES = builtin.CORE_TASK_NAMES + ('topic', 'data_to_text')

# Variants registered for every built-in dataset (those that apply).
ZERO_SHOT_VARIANTS = ('zs_opt', 'zs_ropt', 'zs_noopt')
FEW_SHOT_VARIANTS = ('fs_opt', 'fs_noopt', 'xs_opt', 'xs_noopt')
COT_VARIANTS = ('cot', 'fs_cot')
EVAL_VARIANTS = ('zs_opt_rank',)
VARIANTS = ZERO_SHOT_VARIANTS + FEW_SHOT_VARIANTS + COT_VARIANTS + (
    EVAL_VARIANTS)

# Registered names, filled in below.
TRAIN_TASKS: List[str] = []  # builtin_<name>, seen templates, train+valid.
EVAL_SEEN_TASKS: List[str] = []  # Core tasks, validation, seen templates.
EVAL_UNSEEN_TASKS: List[str] = []  # Core tasks, validation, held-out ones.
EVAL_FULL_SEEN_TASKS: List[str] = []  # Every task, seen templates.
EVAL_FULL_UNSEEN_TASKS: List[str] = []  # Every task, held-out templates.
ALL_TASKS: List[str] = []  # The quickstart-protocol tasks.
VARIANT_TASKS: Dict[str, Dict[str, str]] = {}  # name -> {variant: task}.
MIXTURES: List[str] = []
HELD_OUT_CLUSTER_MIXTURES: Dict[str, tuple] = {}  # cluster -> (train, eval).


def _register_task(name: str, task_name: str, splits, template_ids,
                   options: bool) -> None:
  """Registers one quickstart-protocol SeqIO task over a built-in task."""
  task = builtin.get_task(task_name)
  pipeline = [
      functools.partial(
          preprocessors.apply_templates,
          templates=task.templates,
          template_ids=template_ids,
          task_name=task_name,
          with_options=options),
  ]
  if options:
    pipeline.append(preprocessors.rank_classification)
  registry.register_task(builtin_data.task_spec(
      name, task_name, splits, pipeline,
      output_features=OUTPUT_FEATURES,
      postprocess_fn=metrics.rank_classification_target if options else None,
      metric_fns=([metrics.rank_classification_accuracy] if options
                  else [metrics.exact_match]),
      eval_only='train' not in splits))
  ALL_TASKS.append(name)


def _register_mixture(name: str, task_names: List[str]) -> None:
  mixtures.register_equal_mixture(name, task_names)
  MIXTURES.append(name)


def _register_protocol_tasks(task_name: str) -> None:
  task = builtin.get_task(task_name)
  seen = f'{PREFIX}{task_name}'
  unseen = f'{seen}_unseen_templates'
  _register_task(seen, task_name, ('train', 'validation'),
                 task.seen_template_ids, options=False)
  _register_task(unseen, task_name, ('validation',),
                 task.held_out_template_ids, options=False)
  TRAIN_TASKS.append(seen)
  seen_eval, unseen_eval = [seen], [unseen]
  if task.is_classification:
    _register_task(f'{seen}_options', task_name, ('validation',),
                   task.seen_template_ids, options=True)
    _register_task(f'{unseen}_options', task_name, ('validation',),
                   task.held_out_template_ids, options=True)
    seen_eval.append(f'{seen}_options')
    unseen_eval.append(f'{unseen}_options')
  EVAL_FULL_SEEN_TASKS.extend(seen_eval)
  EVAL_FULL_UNSEEN_TASKS.extend(unseen_eval)
  if task_name in CORE_EVAL_TASK_NAMES:
    EVAL_SEEN_TASKS.extend(seen_eval)
    EVAL_UNSEEN_TASKS.extend(unseen_eval)


def _variant_tasks(variants) -> List[str]:
  return [VARIANT_TASKS[n][v] for n in builtin.TASK_NAMES
          for v in variants if v in VARIANT_TASKS[n]]


def _register_all() -> None:
  for task_name in builtin.TASK_NAMES:
    _register_protocol_tasks(task_name)
    spec = builtin_data.dataset_spec(task_name)
    applicable = registry.applicable_variants(spec)
    VARIANT_TASKS[task_name] = registry.register_dataset(
        spec, variants=[v for v in VARIANTS if v in applicable])
  _register_mixture(TRAIN_MIXTURE, TRAIN_TASKS)
  _register_mixture(EVAL_SEEN_MIXTURE, EVAL_SEEN_TASKS)
  _register_mixture(EVAL_UNSEEN_MIXTURE, EVAL_UNSEEN_TASKS)
  _register_mixture(EVAL_MIXTURE, EVAL_SEEN_TASKS + EVAL_UNSEEN_TASKS)
  _register_mixture(EVAL_FULL_SEEN_MIXTURE, EVAL_FULL_SEEN_TASKS)
  _register_mixture(EVAL_FULL_UNSEEN_MIXTURE, EVAL_FULL_UNSEEN_TASKS)
  _register_mixture(EVAL_FULL_MIXTURE,
                    EVAL_FULL_SEEN_TASKS + EVAL_FULL_UNSEEN_TASKS)
  # Every built-in split has the same size, so capped rates are equal rates.
  train_variants = ZERO_SHOT_VARIANTS + FEW_SHOT_VARIANTS + COT_VARIANTS
  for name, variants in ((ZERO_SHOT_MIXTURE, ZERO_SHOT_VARIANTS),
                         (FEW_SHOT_MIXTURE, FEW_SHOT_VARIANTS),
                         (COT_MIXTURE, COT_VARIANTS),
                         (ALL_VARIANTS_MIXTURE, train_variants)):
    mixtures.register_capped_mixture(name, _variant_tasks(variants))
    MIXTURES.append(name)
  for cluster in builtin.clusters():
    pair = mixtures.held_out_cluster_mixtures(
        _variant_tasks(train_variants), cluster,
        prefix=TRAIN_MIXTURE, cap=builtin.SPLIT_SIZES['train'])
    HELD_OUT_CLUSTER_MIXTURES[cluster] = pair
    MIXTURES.extend(pair)


_register_all()
