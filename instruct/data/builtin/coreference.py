"""Coreference.

Tasks: `pronoun_resolution`, `winograd`. The cluster's generators, templates
and catalogue rows, together (see `instruct.data.builtin` for determinism,
splits and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


_PRONOUN_FRAMES = (
    '{a} called {b} because {p} needed advice.',
    '{a} thanked {b} after {p} fixed the sink.',
    '{a} met {b} when {p} arrived in {city}.',
    '{a} waved at {b}, but {p} was too busy to notice.',
    '{a} sent {b} a letter because {p} missed the party.',
    '{a} and {b} talked until {p} had to leave.',
    '{a} lent {b} a book, and {p} read it in a day.',
)


def _generate_pronoun_resolution(rng: random.Random) -> base.Fields:
  female = rng.choice(lexicon.FEMALE_NAMES)
  male = rng.choice(lexicon.MALE_NAMES)
  a, b = (female, male) if rng.random() < 0.5 else (male, female)
  answer = rng.choice((a, b))
  pronoun = 'she' if answer == female else 'he'
  sentence = rng.choice(_PRONOUN_FRAMES).format(
      a=a, b=b, p=pronoun, city=rng.choice(lexicon.CITIES))
  options = [a, b]
  return {'sentence': sentence, 'pronoun': pronoun, 'options': options,
          'label': options.index(answer), 'answer': answer}


# Winograd-style schemas: which noun "it" refers to depends on one word.
# (frame, first noun list, second noun list, word -> index of the referent).
_WINOGRAD_SCHEMAS = (
    ('The {x} did not fit in the {y} because it was too {w}.',
     ('trophy', 'guitar', 'lamp', 'cake', 'ball', 'drum'),
     ('suitcase', 'bag', 'box', 'drawer', 'basket', 'locker'),
     {'big': 0, 'small': 1}),
    ('The {x} could not lift the {y} because it was too {w}.',
     ('boy', 'girl', 'robot', 'crane', 'man', 'woman'),
     ('rock', 'piano', 'table', 'log', 'crate', 'sofa'),
     {'weak': 0, 'heavy': 1}),
    ('The {x} was hidden behind the {y} because it was so {w}.',
     ('coin', 'key', 'ring', 'mouse', 'toy', 'note'),
     ('tree', 'wall', 'sofa', 'fence', 'door', 'curtain'),
     {'small': 0, 'wide': 1}),
)


def _generate_winograd(rng: random.Random) -> base.Fields:
  frame, xs, ys, words = rng.choice(_WINOGRAD_SCHEMAS)
  x, y = rng.choice(xs), rng.choice(ys)
  word = rng.choice(sorted(words))
  options = [x, y]
  label = words[word]
  return {'sentence': frame.format(x=x, y=y, w=word), 'options': options,
          'label': label, 'answer': options[label]}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_PRONOUN_RESOLUTION_TEMPLATES = (
    _T('{sentence}\nWho does "{pronoun}" refer to?'),
    _T('Sentence: {sentence}\nIn this sentence, "{pronoun}" means:'),
    _T('{sentence}\n\nWho is "{pronoun}"?'),
    _T('Resolve the pronoun "{pronoun}" in: {sentence}'),
    _T('Q: In "{sentence}", who is {pronoun}?\nA:'),
    _T('Read: {sentence}\nWhich person is "{pronoun}"?'),
    _T('Find the person the word "{pronoun}" stands for.\n{sentence}'),
    _T('Coreference: {sentence} {pronoun} =', '{answer}'),
    _T('In the sentence below, who does {pronoun} refer to?\n{sentence}'),
    _T('{sentence} Here, "{pronoun}" is'),
    # Held out.
    _T('Who is meant by "{pronoun}" in this sentence? {sentence}'),
    _T('Text: {sentence}\nQuestion: to whom does "{pronoun}" refer?'),
)

_WINOGRAD_TEMPLATES = (
    _T('{sentence}\nWhat does "it" refer to?'),
    _T('Sentence: {sentence}\nIn this sentence, "it" means the'),
    _T('{sentence}\n\nWhat is "it"?'),
    _T('Resolve the pronoun "it" in: {sentence}'),
    _T('Q: In "{sentence}", what is "it"?\nA:'),
    _T('Read: {sentence}\nWhich thing is "it"?'),
    _T('Find the noun that "it" stands for.\n{sentence}'),
    _T('{sentence} Here, "it" is the'),
    _T('In the sentence below, what does "it" refer to?\n{sentence}'),
    _T('Use common sense: {sentence} What was "it"?'),
    # Held out.
    _T('What is meant by "it" in this sentence? {sentence}'),
    _T('Text: {sentence}\nQuestion: to what does "it" refer?'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('pronoun_resolution', 'coreference',
              _generate_pronoun_resolution, base.keyed('sentence'),
              _PRONOUN_RESOLUTION_TEMPLATES,
              'Which of two people a he/she refers to.',
              is_classification=True),
    base.task('winograd', 'coreference', _generate_winograd,
              base.keyed('sentence'), _WINOGRAD_TEMPLATES,
              'Winograd-style: what "it" refers to.', is_classification=True),
)
