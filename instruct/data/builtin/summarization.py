"""Summarisation-like compression.

Tasks: `headline`, `compression`. The cluster's generators, templates and
catalogue rows, together (see `instruct.data.builtin` for determinism, splits
and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


# (story, headline); {p}/{P}: subject pronoun, {poss}: possessive.
_STORIES = (
    ('{name} won the {contest} in {city} on {day}. The crowd cheered as '
     '{p} held up the prize.', '{name} wins {contest}'),
    ('On {day}, {name} opened a new {shop} in {city}. Many neighbours came '
     'by to take a look.', '{name} opens {shop} in {city}'),
    ('{name} lost {poss} {thing} in {city} on {day}. {P} asks anyone who '
     'finds it to call.', '{name} loses {thing} in {city}'),
    ('After ten years in {city}, {name} moved to {city2} on {day}. {P} says '
     '{p} will miss old friends.', '{name} moves to {city2}'),
    ('On {day}, {name} found a {thing} in a park in {city}. {P} gave it to '
     'the police.', '{name} finds {thing} in {city}'),
)


_CONTESTS = ('chess match', 'spelling bee', 'art prize', 'piano contest',
             'bike race', 'baking contest')


_SHOPS = ('bakery', 'cafe', 'bookshop', 'toy shop', 'barber')


_THINGS = ('wallet', 'phone', 'ring', 'watch', 'camera', 'bag')


def _generate_headline(rng: random.Random) -> base.Fields:
  female = rng.random() < 0.5
  city, city2 = rng.sample(lexicon.CITIES, 2)
  values = dict(
      name=rng.choice(lexicon.FEMALE_NAMES if female else lexicon.MALE_NAMES),
      p='she' if female else 'he', P='She' if female else 'He',
      poss='her' if female else 'his', city=city, city2=city2,
      day=rng.choice(lexicon.DAYS), contest=rng.choice(_CONTESTS),
      shop=rng.choice(_SHOPS), thing=rng.choice(_THINGS))
  story, headline = rng.choice(_STORIES)
  return {'story': story.format(**values),
          'answer': headline.format(**values)}


_COMPRESS_NOUNS = ('dog', 'cat', 'boy', 'girl', 'man', 'horse', 'bird')


_COMPRESS_ADJECTIVES = ('old', 'tiny', 'happy', 'tired', 'young', 'small')


_COMPRESS_ADVERBS = ('slowly', 'quickly', 'quietly', 'happily', 'finally')


_COMPRESS_VERBS = ('walked', 'ran', 'went', 'rushed')


_COMPRESS_PLACES = ('park', 'river', 'shop', 'beach', 'lake', 'school',
                    'farm')


_COMPRESS_PLACE_ADJECTIVES = ('quiet', 'busy', 'sunny', 'empty', 'windy')


_COMPRESS_TIMES = ('yesterday', 'after lunch', 'in the rain', 'at noon',
                   'on Sunday morning')


def _generate_compression(rng: random.Random) -> base.Fields:
  noun, verb, place = (rng.choice(_COMPRESS_NOUNS),
                       rng.choice(_COMPRESS_VERBS),
                       rng.choice(_COMPRESS_PLACES))
  # Every sentence has at least two of the four optional modifiers.
  keep = rng.sample(range(4), rng.choice((2, 3, 4)))
  adj = f'{rng.choice(_COMPRESS_ADJECTIVES)} ' if 0 in keep else ''
  adv = f'{rng.choice(_COMPRESS_ADVERBS)} ' if 1 in keep else ''
  place_adj = f'{rng.choice(_COMPRESS_PLACE_ADJECTIVES)} ' if 2 in keep else ''
  when = f' {rng.choice(_COMPRESS_TIMES)}' if 3 in keep else ''
  return {
      'sentence': f'The {adj}{noun} {adv}{verb} to the {place_adj}{place}'
                  f'{when}.',
      'answer': f'The {noun} {verb} to the {place}.',
  }


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

_HEADLINE_TEMPLATES = (
    _T('{story}\n\nWrite a headline for this story.'),
    _T('Story: {story}\nHeadline:'),
    _T('Summarise in a few words: {story}'),
    _T('Give this news item a short title.\n{story}'),
    _T('{story}\nTL;DR:'),
    _T('Q: What is a good headline for "{story}"\nA:'),
    _T('Article: {story}\nTitle:'),
    _T('Write a newspaper headline.\n{story}'),
    _T('Compress this into a headline: {story}'),
    _T('{story}\nSum it up in one line.'),
    # Held out.
    _T('Read the story and write its headline.\n{story}'),
    _T('News text: {story}\nA short summary title:'),
)

_COMPRESSION_TEMPLATES = (
    _T('Shorten this sentence: {sentence}'),
    _T('Sentence: {sentence}\nShort version:'),
    _T('Remove the extra words from "{sentence}"'),
    _T('{sentence}\n\nCompress the sentence above to its core.'),
    _T('Keep only who did what and where: {sentence}'),
    _T('Q: What is the short form of "{sentence}"?\nA:'),
    _T('Make this sentence more concise.\n{sentence}'),
    _T('Drop the adjectives, adverbs and time phrases: {sentence}'),
    _T('Long: {sentence}\nShort:'),
    _T('Simplify the sentence "{sentence}".'),
    # Held out.
    _T('Write a shorter sentence with the same main event: {sentence}'),
    _T('Input: {sentence}\nCompressed:'),
)


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('headline', 'summarization', _generate_headline,
              base.keyed('story'), _HEADLINE_TEMPLATES,
              'A two-sentence news story compressed into a headline.'),
    base.task('compression', 'summarization', _generate_compression,
              base.keyed('sentence'), _COMPRESSION_TEMPLATES,
              'Drop a sentence\'s modifiers, keeping its core.'),
)
