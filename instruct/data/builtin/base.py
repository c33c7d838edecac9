"""What a built-in task is: `BuiltinTask`, the split sizes and row helpers."""

import dataclasses
import random
from typing import Any, Callable, Dict, Tuple

from instruct.data import templates as templates_lib

Template = templates_lib.Template
Fields = Dict[str, Any]

DEFAULT_SEED = 0
# Validation stays small: the demo evaluates 64 examples per eval task.
SPLIT_SIZES = {'train': 20_000, 'validation': 100}
VALIDATION_PERCENT = 10
NUM_HELD_OUT_TEMPLATES = 2
# Lengths the demo trains with; zero-shot inputs/targets fit including EOS.
MAX_INPUTS_BYTES = 191
MAX_TARGETS_BYTES = 31
MAX_RESAMPLES = 10_000

RATIONALE_FIELD = 'rationale'


@dataclasses.dataclass(frozen=True)
class BuiltinTask:
  """A procedurally generated instruction task.

  Attributes:
    name: short task name, e.g. 'sentiment'.
    cluster: the task cluster, e.g. 'sentiment' or 'nli' (as in FLAN).
    generate: draws one example's fields from a `random.Random`.
    content_key: the template-independent identity of an example's content;
      it decides the example's split.
    templates: all templates; the last `NUM_HELD_OUT_TEMPLATES` are held out.
    is_classification: whether the task has `options`/`label` fields and is
      evaluated by rank classification.
    has_rationale: whether examples carry a worked `rationale` (CoT).
    partition: the name hashed with the content key to pick the split;
      tasks sharing content share a partition.
    description: one line on what the task asks.
  """
  name: str
  cluster: str
  generate: Callable[[random.Random], Fields]
  content_key: Callable[[Fields], str]
  templates: Tuple[Template, ...]
  is_classification: bool = False
  has_rationale: bool = False
  partition: str = ''
  description: str = ''

  @property
  def split_partition(self) -> str:
    return self.partition or self.name

  @property
  def seen_template_ids(self) -> Tuple[int, ...]:
    return tuple(range(len(self.templates) - NUM_HELD_OUT_TEMPLATES))

  @property
  def held_out_template_ids(self) -> Tuple[int, ...]:
    return tuple(range(len(self.templates) - NUM_HELD_OUT_TEMPLATES,
                       len(self.templates)))

  @property
  def seen_templates(self) -> Tuple[Template, ...]:
    return tuple(self.templates[i] for i in self.seen_template_ids)

  @property
  def held_out_templates(self) -> Tuple[Template, ...]:
    return tuple(self.templates[i] for i in self.held_out_template_ids)


# --------------------------------------------------------------------------
# Catalogue rows: each cluster module declares its tasks with these.


def keyed(*fields: str) -> Callable[[Fields], str]:
  """A content key joining the given fields (the example's content)."""
  return lambda f: '\x1f'.join(str(f[k]) for k in fields)


def task(name, cluster, generate, key, templates, description,
         is_classification=False, has_rationale=False, partition=''):
  """One catalogue row: a `BuiltinTask` with its templates named."""
  return BuiltinTask(
      name=name,
      cluster=cluster,
      generate=generate,
      content_key=key,
      templates=templates_lib.name_templates(name, templates),
      is_classification=is_classification,
      has_rationale=has_rationale,
      partition=partition,
      description=description)
