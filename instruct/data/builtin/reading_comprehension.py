"""Reading comprehension over generated passages.

Tasks: `reading_comprehension`, `boolean_qa`. The cluster's generators,
templates and catalogue rows, together (see `instruct.data.builtin` for
determinism, splits and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


# relation -> (fact pattern, question pattern, yes/no question, values).
_RELATIONS = {
    'city': ('{name} lives in {value}.', 'Where does {name} live?',
             'Does {name} live in {value}?', lexicon.CITIES),
    'pet': ('{name} has a {value}.', 'What pet does {name} have?',
            'Does {name} have a {value}?', lexicon.PETS),
    'job': ('{name} works as a {value}.', "What is {name}'s job?",
            'Does {name} work as a {value}?', lexicon.JOBS),
}


def _relation_passage(rng: random.Random):
  # All facts in a passage share one relation, so answering requires finding
  # the right person, not just the only city in the text.
  relation = rng.choice(sorted(_RELATIONS))
  fact, question, yes_no, values = _RELATIONS[relation]
  num_people = rng.choice((2, 3))
  names = rng.sample(lexicon.NAMES, num_people)
  chosen_values = rng.sample(values, num_people + 1)
  passage = ' '.join(fact.format(name=n, value=v)
                     for n, v in zip(names, chosen_values))
  return names, chosen_values, passage, question, yes_no


def _generate_reading_comprehension(rng: random.Random) -> base.Fields:
  names, values, passage, question, _ = _relation_passage(rng)
  target = rng.randrange(len(names))
  return {
      'passage': passage,
      'question': question.format(name=names[target]),
      'answer': values[target],
  }


def _generate_boolean_qa(rng: random.Random) -> base.Fields:
  names, values, passage, _, yes_no = _relation_passage(rng)
  target = rng.randrange(len(names))
  label = rng.randint(0, 1)  # 0: yes, 1: no.
  if label == 0:
    value = values[target]
  else:  # Another person's value, or one not in the passage.
    value = rng.choice([v for i, v in enumerate(values) if i != target])
  options = ['yes', 'no']
  return {'passage': passage,
          'question': yes_no.format(name=names[target], value=value),
          'options': options, 'label': label, 'answer': options[label]}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_READING_COMPREHENSION_TEMPLATES = (
    _T('{passage}\n\n{question}'),
    _T('Read the text and answer the question.\n\nText: {passage}\n'
       'Question: {question}\nAnswer:'),
    _T('Context: {passage}\nQ: {question}\nA:'),
    _T('Answer the question using the passage.\nPassage: {passage}\n'
       'Question: {question}'),
    _T('{passage}\nQuestion: {question}\nAnswer with one word.'),
    _T('Question: {question}\nFind the answer in this text: {passage}'),
    _T('{question}\nUse this information: {passage}'),
    _T('Text: {passage}\nBased on the text, answer: {question}'),
    _T('Look at the passage and answer.\n{passage}\n{question}'),
    _T('Article: {passage}\nAnswer this: {question}'),
    # Held out.
    _T('Here is a short story: {passage}\nNow answer: {question}'),
    _T('Passage:\n{passage}\n\nUsing only the passage, reply to: {question}'),
)

_BOOLEAN_QA_TEMPLATES = (
    _T('{passage}\n\n{question}'),
    _T('Passage: {passage}\nQuestion: {question}\nAnswer yes or no.'),
    _T('Read the text and answer yes or no.\n{passage}\n{question}'),
    _T('Context: {passage}\nQ: {question}\nA:'),
    _T('{question} Use the text: {passage}'),
    _T('Text: {passage}\nBased on the text, answer: {question}'),
    _T('According to this passage: {question}\n{passage}'),
    _T('{passage}\nTrue or false question: {question}'),
    _T('Article: {passage}\nYes/no question: {question}'),
    _T('Is the answer yes or no? {passage} {question}'),
    # Held out.
    _T('Here is some information: {passage}\nAnswer the question: '
       '{question}'),
    _T('Story: {passage}\nQuestion: {question}\nReply with yes or no:'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('reading_comprehension', 'reading_comprehension',
              _generate_reading_comprehension,
              base.keyed('passage', 'question'),
              _READING_COMPREHENSION_TEMPLATES,
              'Extract one person\'s city, pet or job from a passage.'),
    base.task('boolean_qa', 'reading_comprehension', _generate_boolean_qa,
              base.keyed('passage', 'question'), _BOOLEAN_QA_TEMPLATES,
              'Yes/no question about a generated passage.',
              is_classification=True),
)
