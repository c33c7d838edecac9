"""String manipulation.

Tasks: `uppercase`, `reverse_word`, `acronym`. The cluster's generators,
templates and catalogue rows, together (see `instruct.data.builtin` for
determinism, splits and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


def _generate_uppercase(rng: random.Random) -> base.Fields:
  text = ' '.join(rng.choice(lexicon.WORDS)
                  for _ in range(rng.choice((1, 2, 2, 3))))
  return {'text': text, 'answer': text.upper()}


def _generate_reverse_word(rng: random.Random) -> base.Fields:
  # Half real words, half pseudo-words: the real ones are more natural, the
  # pseudo-words make the content space large enough that validation words are
  # not a handful of repeats.
  if rng.random() < 0.5:
    word = rng.choice(lexicon.SHORT_WORDS)
  else:
    word = lexicon.pseudo_word(rng)
  return {'word': word, 'answer': word[::-1]}


def _generate_acronym(rng: random.Random) -> base.Fields:
  words = rng.sample(lexicon.WORDS, rng.choice((2, 3, 3, 4)))
  return {'phrase': ' '.join(words),
          'answer': ''.join(w[0] for w in words).upper()}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_UPPERCASE_TEMPLATES = (
    _T('Convert to uppercase: {text}'),
    _T('Write "{text}" in capital letters.'),
    _T('{text}\n\nRewrite the text above in all caps.'),
    _T('Make this uppercase: {text}'),
    _T('Input: {text}\nTask: change every letter to upper case.\nOutput:'),
    _T('Capitalize all letters of the following: {text}'),
    _T('Shout this text by writing it in capitals: {text}'),
    _T('Text: {text}\nUppercase version:'),
    _T('Please change "{text}" so that every letter is a capital.'),
    _T('Write the following in block capitals.\n{text}'),
    # Held out.
    _T('Turn "{text}" into upper-case letters.'),
    _T('Text: {text}\nThe same text in CAPITAL letters:'),
)

_REVERSE_WORD_TEMPLATES = (
    _T('Reverse the word: {word}'),
    _T('Spell "{word}" backwards.'),
    _T('{word}\n\nWrite the word above in reverse order.'),
    _T('What is {word} spelled backwards?'),
    _T('Word: {word}\nReversed:'),
    _T('Write the letters of {word} from last to first.'),
    _T('Read "{word}" from right to left and write what you get.'),
    _T('Reverse the letters.\nInput: {word}\nOutput:'),
    _T('If you spell {word} starting from its last letter, what do you get?'),
    _T('Mirror the word {word}.'),
    # Held out.
    _T('Flip the order of the letters in "{word}".'),
    _T('Input word: {word}\nThe same word backwards:'),
)

_ACRONYM_TEMPLATES = (
    _T('Make an acronym from the first letters of: {phrase}'),
    _T('Phrase: {phrase}\nAcronym:'),
    _T('Take the first letter of each word in "{phrase}" and write them in '
       'capitals.'),
    _T('What are the initials of "{phrase}"?'),
    _T('{phrase}\n\nAbbreviate the words above to their capitalised first '
       'letters.'),
    _T('Write the acronym for the phrase "{phrase}".'),
    _T('Join the first letters of these words, in upper case: {phrase}'),
    _T('Words: {phrase}\nTheir initials, capitalised:'),
    _T('Shorten "{phrase}" to an acronym.'),
    _T('Q: What acronym do the words {phrase} make?\nA:'),
    # Held out.
    _T('Form an abbreviation from the initial letters of: {phrase}'),
    _T('Input: {phrase}\nOutput the upper-case initials of each word.'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('uppercase', 'string_manipulation', _generate_uppercase,
              base.keyed('text'), _UPPERCASE_TEMPLATES,
              'Rewrite 1-3 words in capital letters.'),
    base.task('reverse_word', 'string_manipulation', _generate_reverse_word,
              base.keyed('word'), _REVERSE_WORD_TEMPLATES,
              'Spell a (pseudo-)word backwards.'),
    base.task('acronym', 'string_manipulation', _generate_acronym,
              base.keyed('phrase'), _ACRONYM_TEMPLATES,
              'Upper-case initials of 2-4 words.'),
)
