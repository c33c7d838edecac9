"""Multi-step reasoning, with worked rationales.

Tasks: `counting`, `ordering`, `day_of_week`, `number_sequence`. The cluster's
generators, templates and catalogue rows, together (see `instruct.data.builtin`
for determinism, splits and field conventions).
"""

import random
from typing import Sequence

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


_FRUITS = ('apple', 'pear', 'plum', 'fig', 'lime', 'kiwi', 'peach', 'grape')


def _join_and(items: Sequence[str]) -> str:
  items = list(items)
  if len(items) == 1:
    return items[0]
  return ', '.join(items[:-1]) + ' and ' + items[-1]


def _generate_counting(rng: random.Random) -> base.Fields:
  kinds = rng.sample(_FRUITS, rng.choice((2, 3)))
  items = [rng.choice(kinds) for _ in range(rng.randint(4, 8))]
  item = rng.choice(items)
  positions = [str(i + 1) for i, x in enumerate(items) if x == item]
  count = len(positions)
  where = (f'only at position {positions[0]}' if count == 1 else
           f'at positions {_join_and(positions)}')
  return {
      'items': ', '.join(items),
      'item': item,
      'answer': count,
      'rationale': (f'Going through the list, {item} is {where}. That is '
                    f'{count} in total.'),
  }


_COMPARATIVES = (
    ('taller', 'tallest', 'shortest'),
    ('older', 'oldest', 'youngest'),
    ('faster', 'fastest', 'slowest'),
    ('heavier', 'heaviest', 'lightest'),
)


def _generate_ordering(rng: random.Random) -> base.Fields:
  # ranked[0] has the most of the quality.
  ranked = rng.sample(lexicon.NAMES, 3)
  comparative, top, bottom = rng.choice(_COMPARATIVES)
  facts = [f'{ranked[0]} is {comparative} than {ranked[1]}.',
           f'{ranked[1]} is {comparative} than {ranked[2]}.']
  rng.shuffle(facts)
  superlative, answer = ((top, ranked[0]) if rng.random() < 0.5
                         else (bottom, ranked[2]))
  options = rng.sample(ranked, 3)
  return {
      'facts': ' '.join(facts),
      'query': f'Who is the {superlative}?',
      'options': options,
      'label': options.index(answer),
      'answer': answer,
      'rationale': (f'{ranked[0]} is {comparative} than {ranked[1]}, and '
                    f'{ranked[1]} is {comparative} than {ranked[2]}. So from '
                    f'most to least the order is {", ".join(ranked)}, and the '
                    f'{superlative} is {answer}.'),
  }


def _generate_day_of_week(rng: random.Random) -> base.Fields:
  start = rng.randrange(7)
  days = rng.randint(2, 30)
  answer = lexicon.DAYS[(start + days) % 7]
  weeks, rest = divmod(days, 7)
  steps = []
  if weeks:
    unit = 'week' if weeks == 1 else 'weeks'
    if rest:
      rest_unit = 'day' if rest == 1 else 'days'
      steps.append(f'{days} days is {weeks} {unit} and {rest} {rest_unit}, '
                   f'and whole weeks end on {lexicon.DAYS[start]} again.')
    else:
      steps.append(f'{days} days is exactly {weeks} {unit}, and whole weeks '
                   f'end on {lexicon.DAYS[start]} again.')
  if rest:
    passed = [lexicon.DAYS[(start + i) % 7] for i in range(1, rest + 1)]
    unit = 'day' if rest == 1 else 'days'
    steps.append(f'Counting {rest} {unit} on from {lexicon.DAYS[start]}: '
                 f'{", ".join(passed)}.')
  steps.append(f'So it will be {answer}.')
  return {'day': lexicon.DAYS[start], 'days': days, 'answer': answer,
          'rationale': ' '.join(steps)}


def _generate_number_sequence(rng: random.Random) -> base.Fields:
  step = rng.choice((-1, 1)) * rng.randint(1, 9)
  start = rng.randint(1, 30) if step > 0 else rng.randint(-5 * step, 80)
  terms = [start + i * step for i in range(4)]
  answer = terms[-1] + step
  size, op = abs(step), '+' if step > 0 else '-'
  direction = 'more' if step > 0 else 'less'
  return {
      'sequence': ', '.join(str(t) for t in terms),
      'answer': answer,
      'rationale': (f'Each number is {size} {direction} than the one before, '
                    f'as in {terms[0]} {op} {size} = {terms[1]}. The next '
                    f'number is {terms[-1]} {op} {size} = {answer}.'),
  }


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_COUNTING_TEMPLATES = (
    _T('List: {items}\nHow many times does {item} appear?'),
    _T('Count the {item}s in this list: {items}'),
    _T('{items}\n\nHow many of the words above are "{item}"?'),
    _T('How often is {item} in the list {items}?'),
    _T('Here is a basket of fruit: {items}. How many {item}s are there?'),
    _T('Q: In "{items}", how many times is {item} mentioned?\nA:'),
    _T('Count the occurrences of "{item}".\nList: {items}\nCount:'),
    _T('{items}\nNumber of {item}s:'),
    _T('Tell me how many times the word {item} occurs in: {items}'),
    _T('Given the list {items}, count every {item}.'),
    # Held out.
    _T('Items: {items}\nQuestion: how many {item}s are in the list?'),
    _T('Find the number of times {item} shows up in this list: {items}'),
)

_ORDERING_TEMPLATES = (
    _T('{facts} {query}'),
    _T('Facts: {facts}\nQuestion: {query}\nAnswer:'),
    _T('Read the facts and answer.\n{facts}\n{query}'),
    _T('{facts}\n\nBased on the sentences above, answer: {query}'),
    _T('Q: {facts} {query}\nA:'),
    _T('Use logic to answer. {facts} {query}'),
    _T('Given that: {facts}\n{query}'),
    _T('{query} We know this: {facts}'),
    _T('Puzzle: {facts} {query}'),
    _T('Here are two comparisons. {facts}\n{query}'),
    # Held out.
    _T('Consider these statements: {facts}\nNow answer: {query}'),
    _T('Statements: {facts}\nFrom them, work out: {query}'),
)

_DAY_OF_WEEK_TEMPLATES = (
    _T('Today is {day}. What day of the week will it be in {days} days?'),
    _T('If today is {day}, what day is it {days} days from now?'),
    _T('Q: It is {day}. Which weekday comes {days} days later?\nA:'),
    _T('Start: {day}\nDays to add: {days}\nDay of the week:'),
    _T('What weekday is {days} days after {day}?'),
    _T('It is {day} today. In {days} days, what day will it be?'),
    _T('Count {days} days forward from {day}. Which day do you reach?'),
    _T('{day} plus {days} days is which day of the week?'),
    _T('A trip starts on a {day} and ends {days} days later. On which day '
       'does it end?'),
    _T('Calendar question: {days} days after a {day}, what day is it?'),
    # Held out.
    _T('Suppose today is {day}. Name the day of the week {days} days from '
       'today.'),
    _T('Day: {day}\nQuestion: which weekday is it after {days} more days?'),
)

_NUMBER_SEQUENCE_TEMPLATES = (
    _T('What number comes next: {sequence}, ?'),
    _T('Continue the sequence: {sequence}'),
    _T('Sequence: {sequence}\nNext number:'),
    _T('Find the next term of {sequence}.'),
    _T('Q: {sequence}, ... What is the next number?\nA:'),
    _T('{sequence}\n\nWhat number should follow?'),
    _T('Complete the pattern: {sequence}, ___'),
    _T('The numbers {sequence} follow a rule. What comes after them?'),
    _T('Give the next number in the list {sequence}.'),
    _T('Here is a number pattern: {sequence}. Continue it by one number.'),
    # Held out.
    _T('Predict the following term in the arithmetic sequence {sequence}.'),
    _T('Numbers: {sequence}\nWhich number is next?'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('counting', 'multi_step_reasoning', _generate_counting,
              base.keyed('items', 'item'), _COUNTING_TEMPLATES,
              'Count how often a word occurs in a list.', has_rationale=True),
    base.task('ordering', 'multi_step_reasoning', _generate_ordering,
              base.keyed('facts', 'query'), _ORDERING_TEMPLATES,
              'Chain two comparisons to find the extreme one.',
              is_classification=True, has_rationale=True),
    base.task('day_of_week', 'multi_step_reasoning', _generate_day_of_week,
              base.keyed('day', 'days'), _DAY_OF_WEEK_TEMPLATES,
              'Which weekday is it n days later?', has_rationale=True),
    base.task('number_sequence', 'multi_step_reasoning',
              _generate_number_sequence, base.keyed('sequence'),
              _NUMBER_SEQUENCE_TEMPLATES,
              'Next term of an arithmetic sequence.', has_rationale=True),
)
