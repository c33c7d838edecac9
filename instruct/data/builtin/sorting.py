"""Sorting and lists.

Tasks: `sort_numbers`, `sort_words`. The cluster's generators, templates and
catalogue rows, together (see `instruct.data.builtin` for determinism, splits
and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


def _generate_sort_numbers(rng: random.Random) -> base.Fields:
  numbers = rng.sample(range(100), rng.randint(3, 5))
  return {'numbers': ', '.join(str(n) for n in numbers),
          'answer': ', '.join(str(n) for n in sorted(numbers))}


def _generate_sort_words(rng: random.Random) -> base.Fields:
  words = rng.sample(lexicon.SHORT_WORDS, rng.randint(3, 4))
  return {'words': ', '.join(words), 'answer': ', '.join(sorted(words))}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_SORT_NUMBERS_TEMPLATES = (
    _T('Sort in ascending order: {numbers}'),
    _T('Numbers: {numbers}\nSorted from smallest to largest:'),
    _T('Put these numbers in increasing order: {numbers}'),
    _T('{numbers}\n\nArrange the numbers above from low to high.'),
    _T('Q: What is {numbers} in sorted order?\nA:'),
    _T('Order from smallest to biggest: {numbers}'),
    _T('Sort the list [{numbers}].'),
    _T('Rewrite the numbers {numbers} in ascending order.'),
    _T('List: {numbers}\nAscending:'),
    _T('Rank these numbers, smallest first: {numbers}'),
    # Held out.
    _T('Arrange {numbers} in order of size, starting with the smallest.'),
    _T('Input: {numbers}\nOutput the same numbers sorted.'),
)

_SORT_WORDS_TEMPLATES = (
    _T('Sort alphabetically: {words}'),
    _T('Words: {words}\nIn alphabetical order:'),
    _T('Put these words in dictionary order: {words}'),
    _T('{words}\n\nArrange the words above from A to Z.'),
    _T('Q: What is {words} in alphabetical order?\nA:'),
    _T('Order these words alphabetically: {words}'),
    _T('Sort the list [{words}] by spelling.'),
    _T('Rewrite the words {words} in A-Z order.'),
    _T('List: {words}\nSorted:'),
    _T('Alphabetise: {words}'),
    # Held out.
    _T('Arrange {words} as they would appear in a dictionary.'),
    _T('Input: {words}\nOutput the same words sorted from A to Z.'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('sort_numbers', 'sorting', _generate_sort_numbers,
              base.keyed('numbers'), _SORT_NUMBERS_TEMPLATES,
              'Sort 3-5 numbers ascending.'),
    base.task('sort_words', 'sorting', _generate_sort_words,
              base.keyed('words'), _SORT_WORDS_TEMPLATES,
              'Sort 3-4 words alphabetically.'),
)
