"""Paraphrase detection and generation.

Tasks: `paraphrase_detection`, `paraphrase_generation`. The cluster's
generators, templates and catalogue rows, together (see `instruct.data.builtin`
for determinism, splits and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


# adjective -> (synonym, antonym); verb -> (synonym, past participle).
_PARA_ADJECTIVES = {'big': ('large', 'small'), 'happy': ('glad', 'sad'),
                    'quick': ('fast', 'slow'), 'old': ('aged', 'young'),
                    'angry': ('mad', 'calm'), 'tiny': ('small', 'huge')}


_PARA_VERBS = {'sees': ('spots', 'seen'), 'helps': ('assists', 'helped'),
               'finds': ('discovers', 'found'),
               'chases': ('pursues', 'chased'),
               'watches': ('observes', 'watched')}


_PARA_NOUNS = ('dog', 'cat', 'boy', 'girl', 'bird', 'horse', 'man', 'fox')


def _generate_paraphrase_detection(rng: random.Random) -> base.Fields:
  adj = rng.choice(sorted(_PARA_ADJECTIVES))
  verb = rng.choice(sorted(_PARA_VERBS))
  noun, obj = rng.sample(_PARA_NOUNS, 2)
  sentence1 = f'The {adj} {noun} {verb} the {obj}.'
  synonym, antonym = _PARA_ADJECTIVES[adj]
  verb_synonym, participle = _PARA_VERBS[verb]
  label = rng.randint(0, 1)  # 0: paraphrase, 1: not.
  kind = rng.randrange(3)
  if label == 0:
    sentence2 = (f'The {synonym} {noun} {verb} the {obj}.',
                 f'The {adj} {noun} {verb_synonym} the {obj}.',
                 f'The {obj} is {participle} by the {adj} {noun}.')[kind]
  else:
    other_verb = rng.choice([v for v in sorted(_PARA_VERBS) if v != verb])
    sentence2 = (f'The {antonym} {noun} {verb} the {obj}.',
                 f'The {adj} {obj} {verb} the {noun}.',
                 f'The {adj} {noun} {other_verb} the {obj}.')[kind]
  options = ['yes', 'no']
  return {'sentence1': sentence1, 'sentence2': sentence2, 'options': options,
          'label': label, 'answer': options[label]}


# past tense -> past participle (the same for these regular verbs).
_PASSIVE_VERBS = ('painted', 'cleaned', 'fixed', 'washed', 'moved', 'sold',
                  'built', 'found')


_PASSIVE_OBJECTS = ('fence', 'car', 'door', 'boat', 'bike', 'table', 'chair',
                    'box', 'wall', 'roof')


def _generate_paraphrase_generation(rng: random.Random) -> base.Fields:
  name = rng.choice(lexicon.NAMES)
  verb, obj = rng.choice(_PASSIVE_VERBS), rng.choice(_PASSIVE_OBJECTS)
  return {'sentence': f'{name} {verb} the {obj}.',
          'answer': f'The {obj} was {verb} by {name}.'}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_PARAPHRASE_DETECTION_TEMPLATES = (
    _T('Sentence 1: {sentence1}\nSentence 2: {sentence2}\nDo these mean the '
       'same thing?'),
    _T('"{sentence1}" and "{sentence2}"\nAre these two sentences '
       'paraphrases?'),
    _T('Do the following sentences say the same thing?\n{sentence1}\n'
       '{sentence2}'),
    _T('{sentence1}\n{sentence2}\nSame meaning?'),
    _T('Is "{sentence2}" a paraphrase of "{sentence1}"?'),
    _T('Q: Does "{sentence1}" mean the same as "{sentence2}"?\nA:'),
    _T('First: {sentence1}\nSecond: {sentence2}\nAre they equivalent?'),
    # Verbalises the same label differently: paraphrase -> same.
    _T('Compare: {sentence1} / {sentence2}\nSame or different meaning?',
       options=('same', 'different')),
    _T('Can "{sentence1}" be rewritten as "{sentence2}" without changing its '
       'meaning?'),
    _T('Check whether these two sentences express the same idea.\n'
       '{sentence1}\n{sentence2}'),
    # Held out.
    _T('Here are two sentences: {sentence1} {sentence2}\nDo they have the '
       'same meaning?'),
    _T('A: {sentence1}\nB: {sentence2}\nIs B a paraphrase of A?'),
)

_PARAPHRASE_GENERATION_TEMPLATES = (
    _T('Rewrite in the passive voice: {sentence}'),
    _T('Sentence: {sentence}\nPassive voice:'),
    _T('Paraphrase "{sentence}" so that it starts with "The".'),
    _T('Change the sentence to the passive: {sentence}'),
    _T('{sentence}\n\nSay the same thing in the passive voice.'),
    _T('Turn this active sentence into a passive one: {sentence}'),
    _T('Q: How do you say "{sentence}" in the passive voice?\nA:'),
    _T('Active: {sentence}\nPassive:'),
    _T('Rephrase, putting the object first: {sentence}'),
    _T('Write a paraphrase of "{sentence}" using "was ... by".'),
    # Held out.
    _T('Restate the following sentence in the passive voice.\n{sentence}'),
    _T('Input: {sentence}\nThe same meaning, in passive form:'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('paraphrase_detection', 'paraphrase',
              _generate_paraphrase_detection,
              base.keyed('sentence1', 'sentence2'),
              _PARAPHRASE_DETECTION_TEMPLATES,
              'Do two sentences mean the same?', is_classification=True),
    base.task('paraphrase_generation', 'paraphrase',
              _generate_paraphrase_generation, base.keyed('sentence'),
              _PARAPHRASE_GENERATION_TEMPLATES,
              'Rewrite an active sentence in the passive voice.'),
)
