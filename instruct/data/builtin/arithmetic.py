"""Arithmetic, with worked rationales.

Tasks: `arithmetic`, `parity`, `word_problem`, `multiplication`. The cluster's
generators, templates and catalogue rows, together (see `instruct.data.builtin`
for determinism, splits and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


def _arithmetic_rationale(a: int, b: int, op: str, result: int) -> str:
  ones, tens = a % 10, a // 10
  if tens == 0:
    step = (f'Adding {b} to {a} gives {result}.' if op == '+' else
            f'Taking {b} away from {a} leaves {result}.')
  elif op == '+' and ones + b < 10:
    step = (f'The ones digits give {ones} + {b} = {ones + b}, and the tens '
            f'digit stays {tens}.')
  elif op == '+':
    step = (f'The ones digits give {ones} + {b} = {ones + b}, so write '
            f'{ones + b - 10} and carry 1; the tens digit becomes {tens} + 1 '
            f'= {tens + 1}.')
  elif ones >= b:
    step = (f'The ones digits give {ones} - {b} = {ones - b}, and the tens '
            f'digit stays {tens}.')
  else:
    step = (f'{ones} is less than {b}, so borrow 10: {ones + 10} - {b} = '
            f'{ones + 10 - b}; the tens digit becomes {tens} - 1 = '
            f'{tens - 1}.')
  return f'{step} Altogether, {a} {op} {b} = {result}.'


def _generate_arithmetic(rng: random.Random) -> base.Fields:
  # A number below 40 plus or minus a single digit: small enough for a tiny
  # model, while still requiring carries and borrows.
  op = rng.choice(('+', '-'))
  a = rng.randint(0, 39)
  b = rng.randint(0, 9)
  if op == '-' and b > a:
    a, b = b, a
  result = a + b if op == '+' else a - b
  return {
      'a': a,
      'b': b,
      'op': op,
      'op_word': 'plus' if op == '+' else 'minus',
      'answer': result,
      'rationale': _arithmetic_rationale(a, b, op, result),
  }


_COUNTABLE_ITEMS = ('apples', 'pens', 'books', 'coins', 'stickers', 'cards',
                    'shells', 'marbles', 'stamps', 'cookies')


def _generate_word_problem(rng: random.Random) -> base.Fields:
  female = rng.random() < 0.5
  name = rng.choice(lexicon.FEMALE_NAMES if female else lexicon.MALE_NAMES)
  pronoun = 'She' if female else 'He'
  item = rng.choice(_COUNTABLE_ITEMS)
  count = rng.randint(2, 15)
  problem = [f'{name} has {count} {item}.']
  steps = [f'{name} starts with {count} {item}.']
  for _ in range(rng.choice((1, 2))):
    if count < 2 or rng.random() < 0.5:
      n = rng.randint(1, 9)
      verb = rng.choice(('buys', 'finds', 'gets'))
      problem.append(f'{pronoun} {verb} {n} more.')
      steps.append(f'{pronoun} {verb} {n} more: {count} + {n} = {count + n}.')
      count += n
    else:
      n = rng.randint(1, count - 1)
      verb = rng.choice(('gives away', 'loses', 'sells'))
      problem.append(f'{pronoun} {verb} {n}.')
      steps.append(f'{pronoun} {verb} {n}: {count} - {n} = {count - n}.')
      count -= n
  problem.append(f'How many {item} does {name} have now?')
  steps.append(f'{name} has {count} {item} now.')
  return {'problem': ' '.join(problem), 'answer': count,
          'rationale': ' '.join(steps)}


def _generate_multiplication(rng: random.Random) -> base.Fields:
  a = rng.randint(2, 9) if rng.random() < 0.4 else rng.randint(11, 39)
  b = rng.randint(2, 9)
  result = a * b
  if a < 10:
    rationale = (f'{a} * {b} is {b - 1} groups of {a} plus one more: '
                 f'{a * (b - 1)} + {a} = {result}.')
  else:
    tens, ones = a - a % 10, a % 10
    rationale = (f'Split {a} into {tens} + {ones}. {tens} * {b} = {tens * b} '
                 f'and {ones} * {b} = {ones * b}.')
    rationale += f' {tens * b} + {ones * b} = {result}.'
  rationale += f' Altogether, {a} * {b} = {result}.'
  return {'a': a, 'b': b, 'answer': result, 'rationale': rationale}


def _generate_parity(rng: random.Random) -> base.Fields:
  number = rng.randint(0, 9999)
  options = ['even', 'odd']
  label = number % 2
  return {'number': number, 'options': options, 'label': label,
          'answer': options[label]}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

# The target restates the problem before the result: a one-step worked
# solution that also tells the reader which computation was done.
_EQUATION = '{a} {op} {b} = {answer}'

_ARITHMETIC_TEMPLATES = (
    _T('What is {a} {op} {b}?', _EQUATION),
    _T('Calculate {a} {op_word} {b}.', _EQUATION),
    _T('Solve: {a} {op} {b}', _EQUATION),
    _T('Compute the value of {a} {op_word} {b}. Show the equation.',
       _EQUATION),
    _T('Q: {a} {op_word} {b} equals what?\nA:', _EQUATION),
    _T('Work out {a} {op} {b} and write the full equation.', _EQUATION),
    _T('{a} {op} {b} = ?', _EQUATION),
    _T('Evaluate the expression {a} {op} {b}.', _EQUATION),
    _T('What do you get from {a} {op_word} {b}?', _EQUATION),
    _T('Arithmetic: {a} {op_word} {b}. Write the answer as an equation.',
       _EQUATION),
    # Held out.
    _T('Find the result of {a} {op_word} {b}.', _EQUATION),
    _T('Math problem: {a} {op} {b} = ?', _EQUATION),
)

_WORD_PROBLEM_TEMPLATES = (
    _T('{problem}'),
    _T('Solve this word problem.\n{problem}'),
    _T('Q: {problem}\nA:'),
    _T('{problem}\nAnswer with a number.'),
    _T('Problem: {problem}\nAnswer:'),
    _T('Read the story and answer the question.\n\n{problem}'),
    _T('Math question: {problem}'),
    _T('{problem}\nWhat is the final count?'),
    _T('Here is a counting problem. {problem}'),
    _T('Work out the answer to this question: {problem}'),
    # Held out.
    _T('Answer the following arithmetic word problem.\n{problem}'),
    _T('Question: {problem}\nGive just the number.'),
)

_MULTIPLICATION_TEMPLATES = (
    _T('What is {a} * {b}?'),
    _T('Multiply {a} by {b}.'),
    _T('Calculate {a} times {b}.'),
    _T('{a} * {b} = ?'),
    _T('Q: What is the product of {a} and {b}?\nA:'),
    _T('Compute {a} x {b}.'),
    _T('How much is {b} times {a}?'),
    _T('Find {a} multiplied by {b}.'),
    _T('Product of {a} and {b}:'),
    _T('If you have {b} groups of {a}, how many is that in total?'),
    # Held out.
    _T('Work out the multiplication {a} * {b}.'),
    _T('Question: {a} multiplied by {b} equals what?\nAnswer:'),
)

_PARITY_TEMPLATES = (
    _T('Is {number} even or odd?'),
    _T('Number: {number}\nEven or odd?'),
    # Verbalises the same label differently: even -> yes.
    _T('Is {number} divisible by 2? Answer yes or no.', options=('yes', 'no')),
    _T('Tell me whether {number} is an even or an odd number.'),
    _T('{number}\nClassify the number above as even or odd.'),
    _T('Parity of {number} (even/odd):'),
    _T('Is the number {number} odd or even?'),
    # Verbalises the same label differently: odd -> yes.
    _T('Does {number} leave a remainder when divided by 2? Answer yes or '
       'no.', options=('no', 'yes')),
    _T('Q: {number} is even or odd?\nA:'),
    _T('Look at the last digit of {number}. Is the number even or odd?'),
    # Held out.
    _T('Decide if the number {number} is odd or even.'),
    _T('Q: Is the integer {number} even, or is it odd?\nA:'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('arithmetic', 'arithmetic', _generate_arithmetic,
              base.keyed('a', 'op', 'b'), _ARITHMETIC_TEMPLATES,
              'Add or subtract a digit; the target is the full equation.',
              has_rationale=True),
    base.task('parity', 'arithmetic', _generate_parity, base.keyed('number'),
              _PARITY_TEMPLATES, 'Is a number even or odd?',
              is_classification=True),
    base.task('word_problem', 'arithmetic', _generate_word_problem,
              base.keyed('problem'), _WORD_PROBLEM_TEMPLATES,
              'One- or two-step add/subtract word problem.',
              has_rationale=True),
    base.task('multiplication', 'arithmetic', _generate_multiplication,
              base.keyed('a', 'b'), _MULTIPLICATION_TEMPLATES,
              'Multiply a number below 40 by a digit.', has_rationale=True),
)
