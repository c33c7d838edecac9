"""Chain-of-thought prompts: templates and answer extraction.

A CoT prompt is the question followed by a reasoning cue ("Let's think step by
step."); its target is the rationale followed by one sentence that states the
answer ("So the answer is 72."). `extract_answer` reads the answer back from
such a text (a target or a model's output), and `cot_answer_postprocessor`
wraps it for SeqIO, so exact match compares answers, not rationales.

Every final-answer sentence of `COT_TEMPLATES` contains "answer is" or
"answer:" followed by the answer and a full stop; extraction takes the text
after the *last* such cue and removes one trailing full stop. An answer that
itself contains "answer is" / "answer:" cannot be recovered (none of the Flan
CoT files has one; see tests/test_cot.py).

This module is below `instruct.data.registry` (which uses these templates for
every dataset's CoT variants); `instruct.data.cot` re-exports everything here
and adds Flan's CoT TSV files on top of the registry.
"""

import re
from typing import Any, Mapping, Optional, Tuple

from instruct.data import templates as templates_lib

Template = templates_lib.Template

QUESTION_FIELD = 'question'
ANSWER_FIELD = templates_lib.ANSWER_FIELD
RATIONALE_FIELD = 'rationale'
COT_FIELDS = (QUESTION_FIELD, ANSWER_FIELD, RATIONALE_FIELD)

# Reasoning cues (inputs) and answer sentences (targets). Paired by position
# in COT_TEMPLATES, so each template has its own cue and closing sentence.
_COT_PATTERNS = (
    ("{question}\nLet's think step by step.",
     '{rationale} So the answer is {answer}.'),
    ('{question}\nThink it through step by step, then answer.',
     '{rationale}\nTherefore, the answer is {answer}.'),
    ("Q: {question}\nA: Let's work this out carefully.",
     '{rationale} The final answer: {answer}.'),
    ('{question}\nExplain your reasoning before giving the answer.',
     '{rationale}\nSo the final answer is {answer}.'),
    ('Answer the question below and show your thinking.\n\n{question}',
     '{rationale} Thus, the answer is {answer}.'),
    ('Question: {question}\nReason about it one step at a time.',
     '{rationale}\nAnswer: {answer}.'),
    ('{question}\nBefore answering, lay out the steps that lead to it.',
     '{rationale} Hence, the answer is {answer}.'),
    ('Here is a problem: {question}\nWork through it and state your '
     'conclusion.',
     '{rationale} That means the answer is {answer}.'),
    ("{question}\nLet's break this down.",
     '{rationale}\nThe answer is {answer}.'),
    ('Consider the following question carefully. {question}\nGive your '
     'reasoning, then the answer.',
     '{rationale} In conclusion, the answer is {answer}.'),
    ('{question}\nFirst reason, then respond.',
     '{rationale} My final answer is {answer}.'),
    ("Solve this: {question}\nLet's go through it slowly.",
     '{rationale}\nSo, the answer is {answer}.'),
)

COT_TEMPLATES: Tuple[Template, ...] = tuple(
    Template(inputs=i, targets=t, name=f'cot:{n}')
    for n, (i, t) in enumerate(_COT_PATTERNS))

# The last "answer is" / "answer:" (any case) starts the answer.
_ANSWER_CUE_RE = re.compile(r'\banswer\s*(?:is\b\s*:?|:)', re.IGNORECASE)


def extract_answer(text: Any) -> str:
  """The answer stated at the end of a CoT text.

  Args:
    text: a CoT target or prediction (str or UTF-8 bytes).

  Returns:
    The text after the last 'answer is' / 'answer:' cue, stripped of
    surrounding whitespace and one trailing full stop. Without a cue, the
    whole text, stripped the same way (a model that skipped the rationale).
  """
  if isinstance(text, bytes):
    text = text.decode('utf-8', errors='replace')
  text = str(text)
  last = None
  for last in _ANSWER_CUE_RE.finditer(text):
    pass
  answer = text[last.end():] if last is not None else text
  answer = answer.strip()
  if answer.endswith('.'):
    answer = answer[:-1].rstrip()
  return answer


def cot_answer_postprocessor(text: Any,
                             example: Optional[Mapping[str, Any]] = None,
                             is_target: bool = False) -> str:
  """SeqIO postprocessor: the extracted answer, for targets and predictions."""
  del example, is_target
  return extract_answer(text)


def format_cot(fields: Mapping[str, Any],
               template: Template = COT_TEMPLATES[0]) -> Tuple[str, str]:
  """Pure-Python reference formatting of one CoT example."""
  return template.format(fields)
