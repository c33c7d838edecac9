"""Translation between English and the toy language Toylang.

Tasks: `translation`, `translation_to_english`. The cluster's generators,
templates and catalogue rows, together (see `instruct.data.builtin` for
determinism, splits and field conventions).
"""

import random
from typing import List

from instruct.data import templates as templates_lib
from instruct.data.builtin import base

# Lexicons and generators: each generator returns the fields of one
# example.


# English -> Toylang, word for word (30 words).
TOYLANG_LEXICON = {
    'the': 'ka', 'a': 'na',
    'cat': 'miro', 'dog': 'tavo', 'bird': 'pisu', 'fish': 'nolo',
    'man': 'kesh', 'woman': 'lira', 'child': 'bibi', 'tree': 'damu',
    'boy': 'tam', 'girl': 'sufi', 'horse': 'gala', 'apple': 'umpa',
    'sees': 'vek', 'eats': 'mun', 'likes': 'zal', 'finds': 'pod',
    'runs': 'dashi', 'sleeps': 'nemo', 'sings': 'lalu', 'jumps': 'hopi',
    'big': 'gro', 'small': 'tik', 'red': 'ruda', 'happy': 'joki',
    'old': 'vani', 'fast': 'zumi', 'green': 'vesa', 'sad': 'poru',
}


_TOY_NOUNS = ('cat', 'dog', 'bird', 'fish', 'man', 'woman', 'child', 'tree',
              'boy', 'girl', 'horse', 'apple')


_TOY_ANIMATE = ('cat', 'dog', 'bird', 'fish', 'man', 'woman', 'child', 'boy',
                'girl', 'horse')


_TOY_FOOD = ('fish', 'apple')


_TOY_TRANSITIVE = ('sees', 'eats', 'likes', 'finds')


_TOY_INTRANSITIVE = ('runs', 'sleeps', 'sings', 'jumps')


_TOY_ADJECTIVES = ('big', 'small', 'red', 'happy', 'old', 'fast', 'green',
                   'sad')


# Sentence shapes of 2-4 words; S = animate noun, O = any noun.
_TOY_SHAPES = (
    ('S', 'VI'),
    ('the', 'S', 'VI'),
    ('ADJ', 'S', 'VI'),
    ('S', 'VT', 'O'),
    ('the', 'ADJ', 'S', 'VI'),
    ('S', 'VT', 'the', 'O'),
    ('S', 'VT', 'a', 'O'),
    ('a', 'ADJ', 'S', 'VI'),
)


def _toy_sentence(rng: random.Random) -> List[str]:
  words = []
  for slot in rng.choice(_TOY_SHAPES):
    if slot == 'S':
      words.append(rng.choice(_TOY_ANIMATE))
    elif slot == 'O':
      # Keep the toy sentences sensible: only food gets eaten.
      eaten = 'eats' in words
      words.append(rng.choice(_TOY_FOOD if eaten else _TOY_NOUNS))
    elif slot == 'VT':
      words.append(rng.choice(_TOY_TRANSITIVE))
    elif slot == 'VI':
      words.append(rng.choice(_TOY_INTRANSITIVE))
    elif slot == 'ADJ':
      words.append(rng.choice(_TOY_ADJECTIVES))
    else:
      words.append(slot)
  return words


def _generate_translation(rng: random.Random) -> base.Fields:
  words = _toy_sentence(rng)
  return {'english': ' '.join(words),
          'answer': ' '.join(TOYLANG_LEXICON[w] for w in words)}


def _generate_translation_to_english(rng: random.Random) -> base.Fields:
  words = _toy_sentence(rng)
  return {'toylang': ' '.join(TOYLANG_LEXICON[w] for w in words),
          'answer': ' '.join(words)}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_TRANSLATION_TEMPLATES = (
    _T('Translate to Toylang: {english}'),
    _T('English: {english}\nToylang:'),
    _T('How do you say "{english}" in Toylang?'),
    _T('Translate the following English sentence into Toylang.\n{english}'),
    _T('{english}\n\nTranslate the sentence above from English to Toylang.'),
    _T('Give the Toylang version of: {english}'),
    _T('Write "{english}" in Toylang.'),
    _T('Q: What is "{english}" in Toylang?\nA:'),
    _T('Translate from English into Toylang: {english}'),
    _T('English sentence: {english}\nIts Toylang translation:'),
    # Held out.
    _T('Render this English text in Toylang: {english}'),
    _T('Sentence in English: {english}\nThe same sentence in Toylang:'),
)

_TRANSLATION_TO_ENGLISH_TEMPLATES = (
    _T('Translate to English: {toylang}'),
    _T('Toylang: {toylang}\nEnglish:'),
    _T('What does "{toylang}" mean in English?'),
    _T('Translate the following Toylang sentence into English.\n{toylang}'),
    _T('{toylang}\n\nTranslate the sentence above from Toylang to English.'),
    _T('Give the English version of this Toylang text: {toylang}'),
    _T('Write the Toylang sentence "{toylang}" in English.'),
    _T('Q: What is "{toylang}" in English?\nA:'),
    _T('Translate from Toylang into English: {toylang}'),
    _T('Toylang sentence: {toylang}\nIts English translation:'),
    # Held out.
    _T('Render this Toylang text in English: {toylang}'),
    _T('Sentence in Toylang: {toylang}\nThe same sentence in English:'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('translation', 'translation', _generate_translation,
              base.keyed('english'), _TRANSLATION_TEMPLATES,
              'Translate a short English sentence into Toylang.'),
    base.task('translation_to_english', 'translation',
              _generate_translation_to_english, base.keyed('answer'),
              _TRANSLATION_TO_ENGLISH_TEMPLATES,
              'Translate a short Toylang sentence into English.',
              partition='translation'),
)
