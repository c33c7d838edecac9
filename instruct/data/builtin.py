"""Built-in, offline, procedurally generated instruction tasks.

A miniature Flan: 33 generated tasks in 14 clusters (string manipulation,
arithmetic, multi-step reasoning, sentiment, NLI, reading comprehension,
closed-book QA, translation, paraphrase, topic classification, coreference,
struct-to-text, summarisation, sorting), each with 12 instruction templates,
so the project can instruction-tune and evaluate a small model anywhere
without downloads. Arithmetic and multi-step tasks carry a worked `rationale`
for chain-of-thought variants. The tasks are deliberately easy enough for a
tiny byte-level T5 to make progress on within minutes on a CPU: zero-shot
inputs fit in 191 bytes and targets in 31 bytes (192 / 32 with EOS).

This module is a catalogue (lexicons, one small generator per task, and the
templates next to it); it is longer than most modules because the data is
the point, and splitting it would scatter each task over several files.

Determinism: example `index` of `split` is generated from a private
`random.Random` seeded with `(seed, task, split, index)`, so any example can be
regenerated on its own, independently of iteration order, process or
PYTHONHASHSEED.

Train/validation disjointness: each example has a *content key* (its
template-independent content, e.g. the word to uppercase). A key belongs to
validation iff a hash of `(partition, key)` falls in the first
`VALIDATION_PERCENT` buckets; the generator resamples until the key lands in
the requested split. The partition does not depend on the seed, so a train
split and a validation split never share content even when generated with
different seeds. Tasks that show the same content in two directions (English
to Toylang and back) share a partition, so neither direction's training data
contains the other's validation sentences.

Closed-book QA is the one cluster whose *facts* are shared by the splits (a
fixed generated world: a model cannot answer a question about a fact it never
saw); its content key is the question's wording, so validation asks about
known facts in phrasings never seen in training.

Held-out templates: the last `NUM_HELD_OUT_TEMPLATES` templates of each task
are never used for training; evaluating on them measures generalisation to
unseen instructions, as in FLAN.

Field conventions (see `instruct.data.templates`): the expected output is in
`answer`; classification tasks also provide `options` (candidate answers) and
`label` (index of the correct one); reasoning tasks provide `rationale`, a
worked solution whose last sentence states the answer.
"""

import dataclasses
import hashlib
import random
import statistics
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional,
                    Sequence, Tuple)

from instruct.data import templates as templates_lib

Template = templates_lib.Template
Fields = Dict[str, Any]

DEFAULT_SEED = 0
# Validation stays small: the demo evaluates 64 examples per eval task.
SPLIT_SIZES = {'train': 20_000, 'validation': 100}
VALIDATION_PERCENT = 10
NUM_HELD_OUT_TEMPLATES = 2
# Lengths the demo trains with; zero-shot inputs/targets fit including EOS.
MAX_INPUTS_BYTES = 191
MAX_TARGETS_BYTES = 31
_MAX_RESAMPLES = 10_000

RATIONALE_FIELD = 'rationale'


@dataclasses.dataclass(frozen=True)
class BuiltinTask:
  """A procedurally generated instruction task.

  Attributes:
    name: short task name, e.g. 'sentiment'.
    cluster: the task cluster, e.g. 'sentiment' or 'nli' (as in FLAN).
    generate: draws one example's fields from a `random.Random`.
    content_key: the template-independent identity of an example's content;
      it decides the example's split.
    templates: all templates; the last `NUM_HELD_OUT_TEMPLATES` are held out.
    is_classification: whether the task has `options`/`label` fields and is
      evaluated by rank classification.
    has_rationale: whether examples carry a worked `rationale` (CoT).
    partition: the name hashed with the content key to pick the split;
      tasks sharing content share a partition.
    description: one line on what the task asks.
  """
  name: str
  cluster: str
  generate: Callable[[random.Random], Fields]
  content_key: Callable[[Fields], str]
  templates: Tuple[Template, ...]
  is_classification: bool = False
  has_rationale: bool = False
  partition: str = ''
  description: str = ''

  @property
  def split_partition(self) -> str:
    return self.partition or self.name

  @property
  def seen_template_ids(self) -> Tuple[int, ...]:
    return tuple(range(len(self.templates) - NUM_HELD_OUT_TEMPLATES))

  @property
  def held_out_template_ids(self) -> Tuple[int, ...]:
    return tuple(range(len(self.templates) - NUM_HELD_OUT_TEMPLATES,
                       len(self.templates)))

  @property
  def seen_templates(self) -> Tuple[Template, ...]:
    return tuple(self.templates[i] for i in self.seen_template_ids)

  @property
  def held_out_templates(self) -> Tuple[Template, ...]:
    return tuple(self.templates[i] for i in self.held_out_template_ids)


# --------------------------------------------------------------------------
# Lexicons. Kept small and ASCII-only: one byte per character keeps lengths
# predictable for the byte-level vocabulary.

_WORDS = (
    'apple', 'river', 'garden', 'window', 'yellow', 'music', 'planet',
    'bridge', 'candle', 'forest', 'silver', 'rabbit', 'pencil', 'orange',
    'castle', 'winter', 'summer', 'spring', 'autumn', 'ocean', 'island',
    'mountain', 'valley', 'desert', 'thunder', 'rain', 'cloud', 'storm',
    'sun', 'moon', 'star', 'light', 'shadow', 'paper', 'stone', 'glass',
    'metal', 'wood', 'water', 'fire', 'earth', 'wind', 'horse', 'tiger',
    'lion', 'eagle', 'whale', 'shark', 'snake', 'mouse', 'zebra', 'camel',
    'bread', 'cheese', 'butter', 'honey', 'sugar', 'lemon', 'cherry', 'grape',
    'melon', 'peach', 'carrot', 'potato', 'tomato', 'onion', 'pepper', 'salad',
    'table', 'chair', 'house', 'door', 'floor', 'roof', 'wall', 'garage',
    'kitchen', 'pillow', 'blanket', 'basket', 'bottle', 'bucket', 'button',
    'camera', 'guitar', 'piano', 'violin', 'drum', 'flute', 'trumpet',
    'doctor', 'teacher', 'farmer', 'artist', 'pilot', 'sailor', 'driver',
    'friend', 'mother', 'father', 'sister', 'brother', 'baby', 'king',
    'queen', 'happy', 'quick', 'quiet', 'brave', 'calm', 'gentle', 'clever',
    'simple', 'bright', 'dark', 'cold', 'warm', 'green', 'blue', 'purple',
    'little', 'giant', 'tiny', 'smooth', 'rough', 'sweet', 'sour', 'bitter',
    'jump', 'run', 'swim', 'climb', 'dance', 'sing', 'read', 'write', 'paint',
    'build', 'cook', 'clean', 'laugh', 'smile', 'dream', 'travel', 'listen',
    'market', 'school', 'library', 'museum', 'station', 'harbor', 'village',
    'city', 'road', 'street', 'path', 'field', 'farm', 'lake', 'beach',
    'ticket', 'letter', 'number', 'circle', 'square', 'corner', 'middle',
    'morning', 'evening', 'night', 'today', 'tomorrow', 'minute', 'hour',
    'robot', 'rocket', 'engine', 'wheel', 'train', 'boat', 'plane', 'bicycle',
)
_SHORT_WORDS = tuple(w for w in _WORDS if 3 <= len(w) <= 6)

_CONSONANTS = 'bcdfghklmnprstvz'
_VOWELS = 'aeiou'

_POSITIVE_ADJECTIVES = (
    'good', 'great', 'excellent', 'wonderful', 'lovely', 'amazing',
    'delightful', 'fantastic', 'pleasant', 'superb', 'charming', 'brilliant',
)
_NEGATIVE_ADJECTIVES = (
    'bad', 'terrible', 'awful', 'horrible', 'boring', 'dreadful', 'poor',
    'disappointing', 'nasty', 'dull', 'annoying', 'mediocre',
)
_POSITIVE_VERBS = ('loved', 'enjoyed', 'liked', 'adored', 'praised')
_NEGATIVE_VERBS = ('hated', 'disliked', 'regretted', 'detested', 'avoided')
_REVIEW_NOUNS = (
    'movie', 'meal', 'hotel', 'book', 'concert', 'service', 'game', 'show',
    'trip', 'room', 'song', 'cafe', 'phone', 'class', 'album', 'pizza',
)
# Frames use {adj}, {adj2} (same polarity) and {verb}, {noun}.
_REVIEW_FRAMES = (
    'The {noun} was {adj}.',
    'The {noun} was {adj} and {adj2}.',
    'What a {adj} {noun}!',
    'I {verb} the {noun}.',
    'I {verb} this {noun}. It was {adj}.',
    'Honestly, the {noun} felt {adj}.',
    'Our {noun} was {adj}, truly {adj2}.',
    'A {adj} {noun}, I must say.',
)

_NAMES = (
    'Mia', 'Tom', 'Ana', 'Leo', 'Sam', 'Eva', 'Max', 'Zoe', 'Ben', 'Ivy',
    'Noah', 'Lily', 'Omar', 'Nina', 'Liam', 'Ella', 'Hugo', 'Ruth', 'Kai',
    'Emma',
)
# For tasks whose text uses pronouns (coreference, word problems).
_FEMALE_NAMES = ('Mia', 'Ana', 'Eva', 'Zoe', 'Ivy', 'Lily', 'Nina', 'Ella',
                 'Ruth', 'Emma')
_MALE_NAMES = ('Tom', 'Leo', 'Sam', 'Max', 'Ben', 'Noah', 'Omar', 'Liam',
               'Hugo', 'Kai')
_CITIES = (
    'Paris', 'Rome', 'Oslo', 'Lima', 'Cairo', 'Tokyo', 'Delhi', 'Seoul',
    'Quito', 'Dublin', 'Madrid', 'Berlin', 'Vienna', 'Prague', 'Sydney',
    'Boston', 'Lagos', 'Hanoi', 'Nairobi', 'Lisbon',
)
_PETS = (
    'dog', 'cat', 'parrot', 'rabbit', 'hamster', 'turtle', 'goldfish', 'pony',
    'lizard', 'snake', 'ferret', 'canary',
)
_JOBS = (
    'baker', 'doctor', 'pilot', 'teacher', 'farmer', 'nurse', 'painter',
    'chef', 'lawyer', 'singer', 'dentist', 'plumber',
)
_DAYS = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday',
         'Sunday')
_MONTHS = ('January', 'February', 'March', 'April', 'May', 'June', 'July',
           'August', 'September', 'October', 'November', 'December')
# relation -> (fact pattern, question pattern, yes/no question, values).
_RELATIONS = {
    'city': ('{name} lives in {value}.', 'Where does {name} live?',
             'Does {name} live in {value}?', _CITIES),
    'pet': ('{name} has a {value}.', 'What pet does {name} have?',
            'Does {name} have a {value}?', _PETS),
    'job': ('{name} works as a {value}.', "What is {name}'s job?",
            'Does {name} work as a {value}?', _JOBS),
}

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


def _pseudo_word(rng: random.Random) -> str:
  """A pronounceable non-word of 4 or 6 letters (CV syllables)."""
  return ''.join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS)
                 for _ in range(rng.choice((2, 3))))


@dataclasses.dataclass(frozen=True)
class Country:
  """A country of the generated world used by the closed-book QA tasks."""
  name: str
  capital: str
  language: str
  currency: str
  animal: str


_NATIONAL_ANIMALS = ('owl', 'bear', 'fox', 'deer', 'wolf', 'hawk', 'lynx',
                     'crane', 'otter', 'seal', 'bison', 'heron')


def _build_world(num_countries: int = 30) -> Tuple[Country, ...]:
  """The fixed generated world (independent of the data seed)."""
  rng = random.Random('instruct-builtin-world-v1')
  countries, used = [], set()
  while len(countries) < num_countries:
    stem = _pseudo_word(rng)
    capital = _pseudo_word(rng).capitalize()
    if stem in used or capital.lower() in used:
      continue
    used.update((stem, capital.lower()))
    countries.append(Country(
        name=stem.capitalize() + rng.choice(('ria', 'land', 'stan', 'nia')),
        capital=capital,
        language=stem.capitalize() + rng.choice(('ish', 'ese', 'ian')),
        currency=_pseudo_word(rng),
        animal=rng.choice(_NATIONAL_ANIMALS)))
  return tuple(countries)


WORLD: Tuple[Country, ...] = _build_world()


# --------------------------------------------------------------------------
# Generators: each returns the fields of one example.

# ---- String manipulation.


def _generate_uppercase(rng: random.Random) -> Fields:
  text = ' '.join(rng.choice(_WORDS) for _ in range(rng.choice((1, 2, 2, 3))))
  return {'text': text, 'answer': text.upper()}


def _generate_reverse_word(rng: random.Random) -> Fields:
  # Half real words, half pseudo-words: the real ones are more natural, the
  # pseudo-words make the content space large enough that validation words are
  # not a handful of repeats.
  if rng.random() < 0.5:
    word = rng.choice(_SHORT_WORDS)
  else:
    word = _pseudo_word(rng)
  return {'word': word, 'answer': word[::-1]}


def _generate_acronym(rng: random.Random) -> Fields:
  words = rng.sample(_WORDS, rng.choice((2, 3, 3, 4)))
  return {'phrase': ' '.join(words),
          'answer': ''.join(w[0] for w in words).upper()}


# ---- Arithmetic, with worked rationales.


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


def _generate_arithmetic(rng: random.Random) -> Fields:
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


def _generate_word_problem(rng: random.Random) -> Fields:
  female = rng.random() < 0.5
  name = rng.choice(_FEMALE_NAMES if female else _MALE_NAMES)
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


def _generate_multiplication(rng: random.Random) -> Fields:
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


def _generate_parity(rng: random.Random) -> Fields:
  number = rng.randint(0, 9999)
  options = ['even', 'odd']
  label = number % 2
  return {'number': number, 'options': options, 'label': label,
          'answer': options[label]}


# ---- Multi-step reasoning, with worked rationales.


_FRUITS = ('apple', 'pear', 'plum', 'fig', 'lime', 'kiwi', 'peach', 'grape')


def _join_and(items: Sequence[str]) -> str:
  items = list(items)
  if len(items) == 1:
    return items[0]
  return ', '.join(items[:-1]) + ' and ' + items[-1]


def _generate_counting(rng: random.Random) -> Fields:
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


def _generate_ordering(rng: random.Random) -> Fields:
  ranked = rng.sample(_NAMES, 3)  # ranked[0] has the most of the quality.
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


def _generate_day_of_week(rng: random.Random) -> Fields:
  start = rng.randrange(7)
  days = rng.randint(2, 30)
  answer = _DAYS[(start + days) % 7]
  weeks, rest = divmod(days, 7)
  steps = []
  if weeks:
    unit = 'week' if weeks == 1 else 'weeks'
    if rest:
      rest_unit = 'day' if rest == 1 else 'days'
      steps.append(f'{days} days is {weeks} {unit} and {rest} {rest_unit}, '
                   f'and whole weeks end on {_DAYS[start]} again.')
    else:
      steps.append(f'{days} days is exactly {weeks} {unit}, and whole weeks '
                   f'end on {_DAYS[start]} again.')
  if rest:
    passed = [_DAYS[(start + i) % 7] for i in range(1, rest + 1)]
    unit = 'day' if rest == 1 else 'days'
    steps.append(f'Counting {rest} {unit} on from {_DAYS[start]}: '
                 f'{", ".join(passed)}.')
  steps.append(f'So it will be {answer}.')
  return {'day': _DAYS[start], 'days': days, 'answer': answer,
          'rationale': ' '.join(steps)}


def _generate_number_sequence(rng: random.Random) -> Fields:
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


# ---- Sentiment.


def _generate_sentiment(rng: random.Random) -> Fields:
  label = rng.randint(0, 1)  # 0: positive, 1: negative.
  adjectives = _POSITIVE_ADJECTIVES if label == 0 else _NEGATIVE_ADJECTIVES
  verbs = _POSITIVE_VERBS if label == 0 else _NEGATIVE_VERBS
  adj, adj2 = rng.sample(adjectives, 2)
  review = rng.choice(_REVIEW_FRAMES).format(
      noun=rng.choice(_REVIEW_NOUNS), adj=adj, adj2=adj2,
      verb=rng.choice(verbs))
  # 'A ...' frames need 'An' before a vowel to read naturally.
  if review.startswith('A ') and review[2] in 'aeiou':
    review = 'An' + review[1:]
  options = ['positive', 'negative']
  return {'review': review, 'options': options, 'label': label,
          'answer': options[label]}


_EMOTION_OPTIONS = ['joy', 'sadness', 'anger', 'fear']
_EMOTION_PHRASES = (
    ('laughed out loud', 'cheered', 'smiled from ear to ear',
     'danced with joy'),
    ('cried quietly', 'sighed sadly', 'wept for hours', 'felt gloomy'),
    ('shouted angrily', 'slammed the door', 'was furious', 'stormed off'),
    ('trembled', 'hid under the bed', 'screamed in fright',
     'froze in terror'),
)
_EMOTION_TIMES = ('after the phone call', 'when the letter arrived',
                  'at the end of the day', 'after the meeting',
                  'when the news came')


def _generate_emotion(rng: random.Random) -> Fields:
  label = rng.randrange(len(_EMOTION_OPTIONS))
  sentence = (f'{rng.choice(_NAMES)} {rng.choice(_EMOTION_PHRASES[label])} '
              f'{rng.choice(_EMOTION_TIMES)}.')
  return {'sentence': sentence, 'options': list(_EMOTION_OPTIONS),
          'label': label, 'answer': _EMOTION_OPTIONS[label]}


# ---- Natural language inference over generated facts.

_NLI_OPTIONS = ['yes', 'it is not possible to tell', 'no']
_NLI_PREMISES = ('{name} lives in {city} and works as a {job}.',
                 '{name} is a {job} who lives in {city}.',
                 'Living in {city}, {name} works as a {job}.')
_NLI_HYPOTHESES = (
    ('{name} lives in {city}.', '{name} works as a {job}.',
     '{name} has a job.', 'Someone lives in {city}.', '{name} is a {job}.'),
    ('{name} has a {pet}.', '{name} was born in {city2}.',
     '{name} has visited {city2}.', '{name} is married.',
     '{name} enjoys being a {job}.'),
    ('{name} lives in {city2}.', '{name} works as a {job2}.',
     '{name} does not live in {city}.', '{name} has no job.',
     'Nobody lives in {city}.'),
)


def _generate_nli(rng: random.Random) -> Fields:
  label = rng.randrange(3)
  city, city2 = rng.sample(_CITIES, 2)
  job, job2 = rng.sample(_JOBS, 2)
  values = dict(name=rng.choice(_NAMES), city=city, city2=city2, job=job,
                job2=job2, pet=rng.choice(_PETS))
  return {
      'premise': rng.choice(_NLI_PREMISES).format(**values),
      'hypothesis': rng.choice(_NLI_HYPOTHESES[label]).format(**values),
      'options': list(_NLI_OPTIONS), 'label': label,
      'answer': _NLI_OPTIONS[label],
  }


_GROCERIES = ('bread', 'milk', 'eggs', 'rice', 'tea', 'jam', 'soap', 'salt',
              'flour', 'honey')
_FARM_ANIMALS = ('cow', 'goat', 'sheep', 'hen', 'pig', 'duck')
_PLACES = ('barn', 'field', 'yard', 'shed')


def _generate_entailment(rng: random.Random) -> Fields:
  label = rng.randint(0, 1)  # 0: entailed, 1: not entailed.
  if rng.random() < 0.5:
    name = rng.choice(_NAMES)
    first, second, other = rng.sample(_GROCERIES, 3)
    premise = f'{name} bought {first} and {second} at the market.'
    bought = rng.choice((first, second)) if label == 0 else other
    hypothesis = f'{name} bought {bought}.'
  else:
    animal, place = rng.choice(_FARM_ANIMALS), rng.choice(_PLACES)
    n = rng.randint(2, 12)
    premise = f'There are {n} {animal}s in the {place}.'
    if rng.random() < 0.5:  # "more than m" holds iff m < n.
      m = rng.randint(0, n - 1) if label == 0 else rng.randint(n, n + 5)
      hypothesis = f'There are more than {m} {animal}s in the {place}.'
    else:  # "fewer than m" holds iff m > n.
      m = rng.randint(n + 1, n + 6) if label == 0 else rng.randint(1, n)
      hypothesis = f'There are fewer than {m} {animal}s in the {place}.'
  options = ['yes', 'no']
  return {'premise': premise, 'hypothesis': hypothesis, 'options': options,
          'label': label, 'answer': options[label]}


# ---- Reading comprehension over generated passages.


def _relation_passage(rng: random.Random):
  # All facts in a passage share one relation, so answering requires finding
  # the right person, not just the only city in the text.
  relation = rng.choice(sorted(_RELATIONS))
  fact, question, yes_no, values = _RELATIONS[relation]
  num_people = rng.choice((2, 3))
  names = rng.sample(_NAMES, num_people)
  chosen_values = rng.sample(values, num_people + 1)
  passage = ' '.join(fact.format(name=n, value=v)
                     for n, v in zip(names, chosen_values))
  return names, chosen_values, passage, question, yes_no


def _generate_reading_comprehension(rng: random.Random) -> Fields:
  names, values, passage, question, _ = _relation_passage(rng)
  target = rng.randrange(len(names))
  return {
      'passage': passage,
      'question': question.format(name=names[target]),
      'answer': values[target],
  }


def _generate_boolean_qa(rng: random.Random) -> Fields:
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


# ---- Closed-book QA over the generated world.

_CAPITAL_QUESTIONS = (
    'What is the capital of {country}?',
    'Which city is the capital of {country}?',
    'Name the capital city of {country}.',
    '{country} has which city as its capital?',
    "What city is {country}'s capital?",
    'The capital of {country} is which city?',
)
_FACT_QUESTIONS = {
    'language': ('What language is spoken in {country}?',
                 'Which language do people in {country} speak?',
                 'What do people in {country} speak?',
                 'Name the language of {country}.'),
    'currency': ('What is the currency of {country}?',
                 'What money is used in {country}?',
                 'Which currency does {country} use?',
                 'Name the currency of {country}.'),
    'animal': ('What is the national animal of {country}?',
               'Which animal is the symbol of {country}?',
               'Name the national animal of {country}.',
               '{country} has which national animal?'),
}


def _generate_world_capitals(rng: random.Random) -> Fields:
  country = rng.choice(WORLD)
  question = rng.choice(_CAPITAL_QUESTIONS).format(country=country.name)
  return {'question': question, 'country': country.name,
          'answer': country.capital}


def _generate_world_facts(rng: random.Random) -> Fields:
  country = rng.choice(WORLD)
  relation = rng.choice(sorted(_FACT_QUESTIONS))
  question = rng.choice(_FACT_QUESTIONS[relation]).format(
      country=country.name)
  return {'question': question, 'country': country.name,
          'relation': relation, 'answer': getattr(country, relation)}


# ---- Translation into the toy language.


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


def _generate_translation(rng: random.Random) -> Fields:
  words = _toy_sentence(rng)
  return {'english': ' '.join(words),
          'answer': ' '.join(TOYLANG_LEXICON[w] for w in words)}


def _generate_translation_to_english(rng: random.Random) -> Fields:
  words = _toy_sentence(rng)
  return {'toylang': ' '.join(TOYLANG_LEXICON[w] for w in words),
          'answer': ' '.join(words)}


# ---- Paraphrase.

# adjective -> (synonym, antonym); verb -> (synonym, past participle).
_PARA_ADJECTIVES = {'big': ('large', 'small'), 'happy': ('glad', 'sad'),
                    'quick': ('fast', 'slow'), 'old': ('aged', 'young'),
                    'angry': ('mad', 'calm'), 'tiny': ('small', 'huge')}
_PARA_VERBS = {'sees': ('spots', 'seen'), 'helps': ('assists', 'helped'),
               'finds': ('discovers', 'found'),
               'chases': ('pursues', 'chased'),
               'watches': ('observes', 'watched')}
_PARA_NOUNS = ('dog', 'cat', 'boy', 'girl', 'bird', 'horse', 'man', 'fox')


def _generate_paraphrase_detection(rng: random.Random) -> Fields:
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


def _generate_paraphrase_generation(rng: random.Random) -> Fields:
  name = rng.choice(_NAMES)
  verb, obj = rng.choice(_PASSIVE_VERBS), rng.choice(_PASSIVE_OBJECTS)
  return {'sentence': f'{name} {verb} the {obj}.',
          'answer': f'The {obj} was {verb} by {name}.'}


# ---- Topic and intent classification.

_TOPICS = {
    'sports': ('match', 'goal', 'team', 'coach', 'league', 'race', 'stadium',
               'player'),
    'weather': ('rain', 'storm', 'snow', 'wind', 'sunshine', 'forecast',
                'fog', 'heat wave'),
    'food': ('recipe', 'bakery', 'soup', 'chef', 'dessert', 'menu', 'pasta',
             'cheese'),
    'music': ('concert', 'album', 'band', 'song', 'guitar', 'singer',
              'choir', 'drummer'),
    'science': ('lab', 'planet', 'study', 'telescope', 'robot', 'experiment',
                'fossil', 'comet'),
}
_TOPIC_OPTIONS = list(_TOPICS)
_HEADLINE_FRAMES = (
    '{city} gets ready for the {w1}',
    'New {w1} surprises {city}',
    '{name} talks about the {w1} and the {w2}',
    'Big {w1} expected in {city} this week',
    'Why the {w1} matters to {city}',
    'The {w1} and the {w2}: a short guide',
    '{name} and the {w1}: what happened',
    'A {w1} like no other in {city}',
)


def _generate_topic(rng: random.Random) -> Fields:
  label = rng.randrange(len(_TOPIC_OPTIONS))
  w1, w2 = rng.sample(_TOPICS[_TOPIC_OPTIONS[label]], 2)
  headline = rng.choice(_HEADLINE_FRAMES).format(
      city=rng.choice(_CITIES), name=rng.choice(_NAMES), w1=w1, w2=w2)
  return {'headline': headline, 'options': list(_TOPIC_OPTIONS),
          'label': label, 'answer': _TOPIC_OPTIONS[label]}


_INTENTS = {
    'music': ('Play some {genre} music.', 'Put on a {genre} song, please.',
              'Can you play {genre} {when}?', 'I want to hear {genre} now.'),
    'weather': ('Will it rain in {city} {when}?',
                'What is the weather in {city} {when}?',
                'Is it cold in {city} {when}?',
                'Do I need an umbrella in {city} {when}?'),
    'alarm': ('Wake me up at {time}.', 'Set an alarm for {time}.',
              'Please set my alarm to {time} {when}.',
              'I need an alarm at {time}.'),
    'restaurant': ('Book a table for {n} at {time}.',
                   'Reserve dinner for {n} people at {time}.',
                   'Find me a table for {n} {when}.',
                   'Can I get a table for {n} at {time}?'),
    'call': ('Call {name}, please.', 'Phone {name} {when}.',
             'Ring {name} for me.', 'Dial {name} now.'),
}
_INTENT_OPTIONS = list(_INTENTS)
_GENRES = ('jazz', 'rock', 'pop', 'folk', 'blues', 'reggae')
_WHENS = ('today', 'tomorrow', 'tonight', 'this weekend', 'on Friday')
_TIMES = ('7 am', '6:30 am', '8 pm', '9:15 pm', 'noon', '5 am', '7:45 pm')


def _generate_intent(rng: random.Random) -> Fields:
  label = rng.randrange(len(_INTENT_OPTIONS))
  utterance = rng.choice(_INTENTS[_INTENT_OPTIONS[label]]).format(
      genre=rng.choice(_GENRES), when=rng.choice(_WHENS),
      city=rng.choice(_CITIES), time=rng.choice(_TIMES),
      n=rng.randint(2, 8), name=rng.choice(_NAMES))
  return {'utterance': utterance, 'options': list(_INTENT_OPTIONS),
          'label': label, 'answer': _INTENT_OPTIONS[label]}


# ---- Coreference.

_PRONOUN_FRAMES = (
    '{a} called {b} because {p} needed advice.',
    '{a} thanked {b} after {p} fixed the sink.',
    '{a} met {b} when {p} arrived in {city}.',
    '{a} waved at {b}, but {p} was too busy to notice.',
    '{a} sent {b} a letter because {p} missed the party.',
    '{a} and {b} talked until {p} had to leave.',
    '{a} lent {b} a book, and {p} read it in a day.',
)


def _generate_pronoun_resolution(rng: random.Random) -> Fields:
  female, male = rng.choice(_FEMALE_NAMES), rng.choice(_MALE_NAMES)
  a, b = (female, male) if rng.random() < 0.5 else (male, female)
  answer = rng.choice((a, b))
  pronoun = 'she' if answer == female else 'he'
  sentence = rng.choice(_PRONOUN_FRAMES).format(
      a=a, b=b, p=pronoun, city=rng.choice(_CITIES))
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


def _generate_winograd(rng: random.Random) -> Fields:
  frame, xs, ys, words = rng.choice(_WINOGRAD_SCHEMAS)
  x, y = rng.choice(xs), rng.choice(ys)
  word = rng.choice(sorted(words))
  options = [x, y]
  label = words[word]
  return {'sentence': frame.format(x=x, y=y, w=word), 'options': options,
          'label': label, 'answer': options[label]}


# ---- Struct to text.


def _generate_data_to_text(rng: random.Random) -> Fields:
  name, job, city = (rng.choice(_NAMES), rng.choice(_JOBS),
                     rng.choice(_CITIES))
  return {'name': name, 'job': job, 'city': city,
          'answer': f'{name} is a {job} in {city}.'}


def _generate_date_to_text(rng: random.Random) -> Fields:
  year, month, day = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(
      1, 28)
  return {'year': year, 'month': month, 'day': day,
          'iso': f'{year:04d}-{month:02d}-{day:02d}',
          'answer': f'{_MONTHS[month - 1]} {day}, {year}'}


# ---- Summarisation-like compression.

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


def _generate_headline(rng: random.Random) -> Fields:
  female = rng.random() < 0.5
  city, city2 = rng.sample(_CITIES, 2)
  values = dict(
      name=rng.choice(_FEMALE_NAMES if female else _MALE_NAMES),
      p='she' if female else 'he', P='She' if female else 'He',
      poss='her' if female else 'his', city=city, city2=city2,
      day=rng.choice(_DAYS), contest=rng.choice(_CONTESTS),
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


def _generate_compression(rng: random.Random) -> Fields:
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


# ---- Sorting and lists.


def _generate_sort_numbers(rng: random.Random) -> Fields:
  numbers = rng.sample(range(100), rng.randint(3, 5))
  return {'numbers': ', '.join(str(n) for n in numbers),
          'answer': ', '.join(str(n) for n in sorted(numbers))}


def _generate_sort_words(rng: random.Random) -> Fields:
  words = rng.sample(_SHORT_WORDS, rng.randint(3, 4))
  return {'words': ', '.join(words), 'answer': ', '.join(sorted(words))}


# --------------------------------------------------------------------------
# Templates: 12 per task. In each list the last two are held out of training.

_T = Template

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

_SENTIMENT_TEMPLATES = (
    _T('{review}\nIs the sentiment of this review positive or negative?'),
    _T('Review: {review}\nSentiment:'),
    _T('Classify the sentiment of the following text as positive or '
       'negative.\n\n{review}'),
    # Verbalises the same label differently: positive -> yes.
    _T('Did the reviewer like it? Answer yes or no.\n{review}',
       options=('yes', 'no')),
    _T('What is the tone of this review, positive or negative?\n{review}'),
    _T('"{review}"\nHow does the writer feel: positive or negative?'),
    _T('Is this a positive or a negative review?\n{review}'),
    # Verbalises the same label differently: negative -> yes.
    _T('{review}\nWas the customer unhappy? Answer yes or no.',
       options=('no', 'yes')),
    _T('Review text: {review}\nOpinion (positive/negative):'),
    _T('Q: "{review}" Is this opinion positive or negative?\nA:'),
    # Held out.
    _T('Read the review below and say whether it is positive or '
       'negative.\n{review}'),
    _T('Text: {review}\nQuestion: Is this opinion positive or negative?\n'
       'Answer:'),
)

_EMOTION_TEMPLATES = (
    _T('{sentence}\nWhich emotion does this show: joy, sadness, anger or '
       'fear?'),
    _T('Sentence: {sentence}\nEmotion:'),
    _T('What feeling is described in "{sentence}"?'),
    _T('Classify the emotion in this sentence.\n{sentence}'),
    _T('{sentence}\n\nHow does the person feel?'),
    _T('Q: {sentence} What is the emotion?\nA:'),
    _T('Label the emotion (joy, sadness, anger, fear): {sentence}'),
    _T('Read this and name the emotion: {sentence}'),
    _T('Text: {sentence}\nThe main emotion here is'),
    _T('Identify the emotion expressed: {sentence}'),
    # Held out.
    _T('Which of joy, sadness, anger and fear best fits this sentence?\n'
       '{sentence}'),
    _T('"{sentence}"\nWhat emotion is the character feeling?'),
)

_NLI_TEMPLATES = (
    _T('Premise: {premise}\nHypothesis: {hypothesis}\nDoes the premise '
       'entail the hypothesis?'),
    _T('{premise}\nBased on that, is it true that "{hypothesis}"?'),
    _T('Read: {premise}\nCan we conclude this: {hypothesis}'),
    _T('Sentence 1: {premise}\nSentence 2: {hypothesis}\nIs sentence 2 '
       'implied by sentence 1?'),
    _T('{premise}\n\nQuestion: Does it follow that "{hypothesis}"?'),
    _T('Given "{premise}", is "{hypothesis}" true?'),
    _T('Context: {premise}\nClaim: {hypothesis}\nIs the claim supported?'),
    _T('Assume this: {premise} Then is this true? {hypothesis}'),
    _T('{premise}\nDoes this mean: {hypothesis}'),
    _T('Suppose we know: {premise} Can we infer "{hypothesis}"?'),
    # Held out.
    _T('Here is a fact: {premise}\nIs the following then true: '
       '{hypothesis}'),
    _T('Statement: {premise}\nHypothesis: {hypothesis}\nIs the hypothesis '
       'entailed?'),
)

_ENTAILMENT_TEMPLATES = (
    _T('{premise}\nDoes this imply that "{hypothesis}"?'),
    _T('Premise: {premise}\nHypothesis: {hypothesis}\nEntailed?'),
    _T('If "{premise}" is true, must "{hypothesis}" be true?'),
    _T('{premise}\n\nQuestion: {hypothesis} Yes or no?'),
    _T('Text: {premise}\nIs this certain: {hypothesis}'),
    _T('Given: {premise}\nConclusion: {hypothesis}\nDoes the conclusion '
       'follow?'),
    _T('Read "{premise}" Is "{hypothesis}" then true?'),
    _T('{premise}\nConclusion: {hypothesis} Is that right?'),
    _T('Fact: {premise}\nClaim: {hypothesis}\nDoes the fact prove the '
       'claim?'),
    _T('Does "{premise}" entail "{hypothesis}"?'),
    # Held out.
    _T('Knowing this: {premise} Can we say: {hypothesis}'),
    _T('Sentence A: {premise}\nSentence B: {hypothesis}\nDoes A guarantee '
       'B?'),
)

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

_WORLD_CAPITALS_TEMPLATES = (
    _T('{question}'),
    _T('Q: {question}\nA:'),
    _T('Answer this question about the world: {question}'),
    _T('Question: {question}\nAnswer:'),
    _T('Geography quiz. {question}'),
    _T('{question} Reply with the name of the city.'),
    _T('Trivia: {question}'),
    _T('From memory, answer: {question}'),
    _T('Here is a question about {country}. {question}'),
    _T('Answer briefly.\n{question}'),
    # Held out.
    _T('Use your knowledge of geography to answer: {question}'),
    _T('Quiz question: {question}\nYour answer:'),
)

_WORLD_FACTS_TEMPLATES = (
    _T('{question}'),
    _T('Q: {question}\nA:'),
    _T('Answer this question about the world: {question}'),
    _T('Question: {question}\nAnswer:'),
    _T('World facts quiz. {question}'),
    _T('{question} Answer in one word.'),
    _T('Trivia: {question}'),
    _T('From memory, answer: {question}'),
    _T('Here is a question about {country}. {question}'),
    _T('Answer briefly.\n{question}'),
    # Held out.
    _T('Use what you know about {country} to answer: {question}'),
    _T('Quiz question: {question}\nYour answer:'),
)

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

_TOPIC_TEMPLATES = (
    _T('Headline: {headline}\nTopic:'),
    _T('What is this headline about?\n{headline}'),
    _T('{headline}\n\nWhich section of the newspaper does this belong to?'),
    _T('Classify the topic of the headline "{headline}".'),
    _T('Q: "{headline}" Is this about sports, weather, food, music or '
       'science?\nA:'),
    _T('Pick the topic of this news title: {headline}'),
    _T('{headline}\nTopic of the article:'),
    _T('Which subject does "{headline}" cover?'),
    _T('News headline: {headline}\nCategory:'),
    _T('Sort this headline into a topic: {headline}'),
    # Held out.
    _T('Read the headline and name its topic.\n{headline}'),
    _T('Title: {headline}\nWhat is the article mainly about?'),
)

_INTENT_TEMPLATES = (
    _T('User: {utterance}\nIntent:'),
    _T('What does the user want?\n{utterance}'),
    _T('Classify the intent of this request: {utterance}'),
    _T('"{utterance}"\nWhich assistant skill should handle this?'),
    _T('Q: A user says "{utterance}" What is the intent?\nA:'),
    _T('{utterance}\n\nIntent of the message above:'),
    _T('Request: {utterance}\nCategory (music, weather, alarm, restaurant, '
       'call):'),
    _T('Route this request to the right skill: {utterance}'),
    _T('Someone asked a voice assistant: {utterance} What is the intent?'),
    _T('Identify the user intent.\n{utterance}'),
    # Held out.
    _T('Which kind of task is this request? {utterance}'),
    _T('Message: {utterance}\nThe user wants help with:'),
)

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

_DATA_TO_TEXT_TEMPLATES = (
    _T('name: {name} | job: {job} | city: {city}\nWrite this as a sentence.'),
    _T('Turn the record into a sentence.\nName = {name}, Job = {job}, City '
       '= {city}'),
    _T('Data: [{name}, {job}, {city}]\nSentence:'),
    _T('Describe this person in one sentence: name {name}, job {job}, lives '
       'in {city}.'),
    _T('{{"name": "{name}", "job": "{job}", "city": "{city}"}}\nExpress '
       'this as text.'),
    _T('Write a sentence using these facts. Person: {name}. Work: {job}. '
       'Place: {city}.'),
    _T('Table row: {name} | {job} | {city}\nColumns: name | job | city\n'
       'Sentence:'),
    _T('Convert to a sentence:\nname: {name}\njob: {job}\ncity: {city}'),
    _T('Q: How would you describe {name} ({job}, {city}) in one sentence?\n'
       'A:'),
    _T('Verbalise the triple ({name}, {job}, {city}).'),
    # Held out.
    _T('Generate a sentence from this data: {name}; {job}; {city}'),
    _T('Record -> name: {name}, job: {job}, city: {city}\nText:'),
)

_DATE_TO_TEXT_TEMPLATES = (
    _T('Write the date {iso} in words.'),
    _T('Date: {iso}\nWritten out:'),
    _T('year: {year}, month: {month}, day: {day}\nWrite this date as text.'),
    _T('Convert {iso} to the format "Month day, year".'),
    _T('How do you write the date {iso} in a letter?'),
    _T('day={day} month={month} year={year}\nDate in words:'),
    _T('Q: What date is {iso}?\nA:'),
    _T('Turn the ISO date {iso} into a readable date.'),
    _T('Spell out the month of this date: {iso}'),
    _T('Express the date with year {year}, month {month} and day {day}.'),
    # Held out.
    _T('Rewrite {iso} as a date with the month name.'),
    _T('Numeric date: {iso}\nThe same date in words:'),
)

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


# --------------------------------------------------------------------------
# The catalogue.


def _keyed(*fields: str) -> Callable[[Fields], str]:
  """A content key joining the given fields (the example's content)."""
  return lambda f: '\x1f'.join(str(f[k]) for k in fields)


def _task(name, cluster, generate, key, templates, description,
          is_classification=False, has_rationale=False, partition=''):
  return BuiltinTask(
      name=name,
      cluster=cluster,
      generate=generate,
      content_key=key,
      templates=templates_lib.name_templates(name, templates),
      is_classification=is_classification,
      has_rationale=has_rationale,
      partition=partition,
      description=description)


TASKS: Dict[str, BuiltinTask] = {
    t.name: t for t in (
        # The original seven come first, in their original order.
        _task('uppercase', 'string_manipulation', _generate_uppercase,
              _keyed('text'), _UPPERCASE_TEMPLATES,
              'Rewrite 1-3 words in capital letters.'),
        _task('reverse_word', 'string_manipulation', _generate_reverse_word,
              _keyed('word'), _REVERSE_WORD_TEMPLATES,
              'Spell a (pseudo-)word backwards.'),
        _task('arithmetic', 'arithmetic', _generate_arithmetic,
              _keyed('a', 'op', 'b'), _ARITHMETIC_TEMPLATES,
              'Add or subtract a digit; the target is the full equation.',
              has_rationale=True),
        _task('sentiment', 'sentiment', _generate_sentiment, _keyed('review'),
              _SENTIMENT_TEMPLATES, 'Positive or negative short review.',
              is_classification=True),
        _task('reading_comprehension', 'reading_comprehension',
              _generate_reading_comprehension, _keyed('passage', 'question'),
              _READING_COMPREHENSION_TEMPLATES,
              'Extract one person\'s city, pet or job from a passage.'),
        _task('translation', 'translation', _generate_translation,
              _keyed('english'), _TRANSLATION_TEMPLATES,
              'Translate a short English sentence into Toylang.'),
        _task('parity', 'arithmetic', _generate_parity, _keyed('number'),
              _PARITY_TEMPLATES, 'Is a number even or odd?',
              is_classification=True),
        # String manipulation.
        _task('acronym', 'string_manipulation', _generate_acronym,
              _keyed('phrase'), _ACRONYM_TEMPLATES,
              'Upper-case initials of 2-4 words.'),
        # Arithmetic.
        _task('word_problem', 'arithmetic', _generate_word_problem,
              _keyed('problem'), _WORD_PROBLEM_TEMPLATES,
              'One- or two-step add/subtract word problem.',
              has_rationale=True),
        _task('multiplication', 'arithmetic', _generate_multiplication,
              _keyed('a', 'b'), _MULTIPLICATION_TEMPLATES,
              'Multiply a number below 40 by a digit.', has_rationale=True),
        # Multi-step reasoning.
        _task('counting', 'multi_step_reasoning', _generate_counting,
              _keyed('items', 'item'), _COUNTING_TEMPLATES,
              'Count how often a word occurs in a list.', has_rationale=True),
        _task('ordering', 'multi_step_reasoning', _generate_ordering,
              _keyed('facts', 'query'), _ORDERING_TEMPLATES,
              'Chain two comparisons to find the extreme one.',
              is_classification=True, has_rationale=True),
        _task('day_of_week', 'multi_step_reasoning', _generate_day_of_week,
              _keyed('day', 'days'), _DAY_OF_WEEK_TEMPLATES,
              'Which weekday is it n days later?', has_rationale=True),
        _task('number_sequence', 'multi_step_reasoning',
              _generate_number_sequence, _keyed('sequence'),
              _NUMBER_SEQUENCE_TEMPLATES,
              'Next term of an arithmetic sequence.', has_rationale=True),
        # Sentiment.
        _task('emotion', 'sentiment', _generate_emotion, _keyed('sentence'),
              _EMOTION_TEMPLATES, 'Joy, sadness, anger or fear.',
              is_classification=True),
        # NLI.
        _task('nli', 'nli', _generate_nli, _keyed('premise', 'hypothesis'),
              _NLI_TEMPLATES,
              'Three-way entailment over generated facts about a person.',
              is_classification=True),
        _task('entailment', 'nli', _generate_entailment,
              _keyed('premise', 'hypothesis'), _ENTAILMENT_TEMPLATES,
              'Two-way entailment with lists and quantities.',
              is_classification=True),
        # Reading comprehension.
        _task('boolean_qa', 'reading_comprehension', _generate_boolean_qa,
              _keyed('passage', 'question'), _BOOLEAN_QA_TEMPLATES,
              'Yes/no question about a generated passage.',
              is_classification=True),
        # Closed-book QA: facts are shared, question wordings are split.
        _task('world_capitals', 'closed_book_qa', _generate_world_capitals,
              _keyed('question'), _WORLD_CAPITALS_TEMPLATES,
              'Capitals of the generated world\'s countries.'),
        _task('world_facts', 'closed_book_qa', _generate_world_facts,
              _keyed('question'), _WORLD_FACTS_TEMPLATES,
              'Language, currency and animal of generated countries.'),
        # Translation: both directions share one partition.
        _task('translation_to_english', 'translation',
              _generate_translation_to_english, _keyed('answer'),
              _TRANSLATION_TO_ENGLISH_TEMPLATES,
              'Translate a short Toylang sentence into English.',
              partition='translation'),
        # Paraphrase.
        _task('paraphrase_detection', 'paraphrase',
              _generate_paraphrase_detection,
              _keyed('sentence1', 'sentence2'),
              _PARAPHRASE_DETECTION_TEMPLATES,
              'Do two sentences mean the same?', is_classification=True),
        _task('paraphrase_generation', 'paraphrase',
              _generate_paraphrase_generation, _keyed('sentence'),
              _PARAPHRASE_GENERATION_TEMPLATES,
              'Rewrite an active sentence in the passive voice.'),
        # Topic classification.
        _task('topic', 'topic_classification', _generate_topic,
              _keyed('headline'), _TOPIC_TEMPLATES,
              'Topic of a generated news headline (5 classes).',
              is_classification=True),
        _task('intent', 'topic_classification', _generate_intent,
              _keyed('utterance'), _INTENT_TEMPLATES,
              'Intent of a voice-assistant request (5 classes).',
              is_classification=True),
        # Coreference.
        _task('pronoun_resolution', 'coreference',
              _generate_pronoun_resolution, _keyed('sentence'),
              _PRONOUN_RESOLUTION_TEMPLATES,
              'Which of two people a he/she refers to.',
              is_classification=True),
        _task('winograd', 'coreference', _generate_winograd,
              _keyed('sentence'), _WINOGRAD_TEMPLATES,
              'Winograd-style: what "it" refers to.', is_classification=True),
        # Struct to text.
        _task('data_to_text', 'struct_to_text', _generate_data_to_text,
              _keyed('name', 'job', 'city'), _DATA_TO_TEXT_TEMPLATES,
              'A name/job/city record as a sentence.'),
        _task('date_to_text', 'struct_to_text', _generate_date_to_text,
              _keyed('iso'), _DATE_TO_TEXT_TEMPLATES,
              'A numeric date written out in words.'),
        # Summarisation.
        _task('headline', 'summarization', _generate_headline,
              _keyed('story'), _HEADLINE_TEMPLATES,
              'A two-sentence news story compressed into a headline.'),
        _task('compression', 'summarization', _generate_compression,
              _keyed('sentence'), _COMPRESSION_TEMPLATES,
              'Drop a sentence\'s modifiers, keeping its core.'),
        # Sorting and lists.
        _task('sort_numbers', 'sorting', _generate_sort_numbers,
              _keyed('numbers'), _SORT_NUMBERS_TEMPLATES,
              'Sort 3-5 numbers ascending.'),
        _task('sort_words', 'sorting', _generate_sort_words, _keyed('words'),
              _SORT_WORDS_TEMPLATES, 'Sort 3-4 words alphabetically.'),
    )
}

# Names of all built-in tasks, in a stable order.
TASK_NAMES: Tuple[str, ...] = tuple(TASKS)
GENERATION_TASK_NAMES = tuple(n for n in TASK_NAMES
                              if not TASKS[n].is_classification)
CLASSIFICATION_TASK_NAMES = tuple(n for n in TASK_NAMES
                                  if TASKS[n].is_classification)
RATIONALE_TASK_NAMES = tuple(n for n in TASK_NAMES if TASKS[n].has_rationale)
# The original seven tasks: the quickstart's evaluation set (see tasks/).
CORE_TASK_NAMES: Tuple[str, ...] = TASK_NAMES[:7]


def clusters() -> Dict[str, Tuple[str, ...]]:
  """Cluster name -> its task names, in catalogue order."""
  out: Dict[str, List[str]] = {}
  for name, task in TASKS.items():
    out.setdefault(task.cluster, []).append(name)
  return {c: tuple(names) for c, names in out.items()}


# --------------------------------------------------------------------------
# Generation API.


def get_task(name: str) -> BuiltinTask:
  """Returns the built-in task called `name`."""
  try:
    return TASKS[name]
  except KeyError:
    raise KeyError(
        f'Unknown built-in task {name!r}; known: {list(TASKS)}') from None


def is_validation_key(task_name: str, key: str) -> bool:
  """Whether content `key` of a task belongs to the validation split.

  Args:
    task_name: a task name, or the partition shared by several tasks (a
      task's `split_partition`, which is its name unless set).
    key: the content key.
  """
  partition = TASKS[task_name].split_partition if task_name in TASKS else (
      task_name)
  digest = hashlib.sha256(f'{partition}\x00{key}'.encode('utf-8')).digest()
  return int.from_bytes(digest[:8], 'big') % 100 < VALIDATION_PERCENT


def _check_split(split: str) -> None:
  if split not in SPLIT_SIZES:
    raise ValueError(
        f'Unknown split {split!r}; expected one of {list(SPLIT_SIZES)}.')


def generate_example(task_name: str, split: str, index: int,
                     seed: int = DEFAULT_SEED) -> Fields:
  """Generates the fields of one example.

  Args:
    task_name: a name from `TASK_NAMES`.
    split: 'train' or 'validation'.
    index: the example's index within the split.
    seed: data seed; the same (seed, split, index) gives the same example.

  Returns:
    The example's fields, plus `idx` (= index).
  """
  _check_split(split)
  task = get_task(task_name)
  # Seeding with a string hashes it with SHA-512: stable across processes,
  # unlike hash().
  rng = random.Random(f'{seed}/{task_name}/{split}/{index}')
  want_validation = split == 'validation'
  for _ in range(_MAX_RESAMPLES):
    fields = task.generate(rng)
    if is_validation_key(task_name, task.content_key(fields)) == (
        want_validation):
      fields['idx'] = index
      return fields
  raise RuntimeError(
      f'Task {task_name!r}: no {split} example found after {_MAX_RESAMPLES} '
      'draws; its content space is too small for the split.')


def generate_examples(task_name: str, split: str, seed: int = DEFAULT_SEED,
                      num_examples: Optional[int] = None,
                      start: int = 0) -> Iterator[Fields]:
  """Lazily yields examples `start, start + 1, ...` of a split.

  Args:
    task_name: a name from `TASK_NAMES`.
    split: 'train' or 'validation'.
    seed: data seed.
    num_examples: how many to yield; defaults to the rest of the split.
    start: index of the first example.

  Yields:
    Field dicts, each including `idx`.
  """
  _check_split(split)
  stop = SPLIT_SIZES[split] if num_examples is None else start + num_examples
  for index in range(start, stop):
    yield generate_example(task_name, split, index, seed)


def format_example(task_name: str, fields: Mapping[str, Any],
                   template_ids: Optional[Sequence[int]] = None
                   ) -> Tuple[int, str, str]:
  """Formats an example with the template assigned to its `idx`.

  This is the pure-Python reference for what the SeqIO tasks produce.

  Args:
    task_name: a name from `TASK_NAMES`.
    fields: an example from `generate_example`.
    template_ids: the template indices in use (e.g. the seen ones); defaults
      to all of the task's templates.

  Returns:
    `(template_idx, inputs, targets)`, with `template_idx` indexing the task's
    full template list.
  """
  task = get_task(task_name)
  ids = (tuple(range(len(task.templates))) if template_ids is None
         else tuple(template_ids))
  template_idx = ids[templates_lib.template_index(fields['idx'], len(ids))]
  inputs, targets = task.templates[template_idx].format(fields)
  return template_idx, inputs, targets


def length_stats(task_name: str, split: str, num_examples: int,
                 template_ids: Optional[Sequence[int]] = None,
                 seed: int = DEFAULT_SEED) -> Mapping[str, float]:
  """UTF-8 byte-length statistics of zero-shot formatted examples.

  Args:
    task_name: a name from `TASK_NAMES`.
    split: 'train' or 'validation'.
    num_examples: number of examples to measure (from index 0).
    template_ids: templates to use; defaults to all.
    seed: data seed.

  Returns:
    Mean/max of inputs and targets lengths (without EOS) and the fractions
    longer than `MAX_INPUTS_BYTES` / `MAX_TARGETS_BYTES`, i.e. those that would
    be truncated at feature lengths 192 / 32 once EOS is appended.
  """
  inputs_lengths: List[int] = []
  targets_lengths: List[int] = []
  for fields in generate_examples(task_name, split, seed, num_examples):
    _, inputs, targets = format_example(task_name, fields, template_ids)
    inputs_lengths.append(len(inputs.encode('utf-8')))
    targets_lengths.append(len(targets.encode('utf-8')))
  n = len(inputs_lengths)
  return {
      'num_examples': n,
      'inputs_mean': statistics.fmean(inputs_lengths),
      'inputs_max': max(inputs_lengths),
      'targets_mean': statistics.fmean(targets_lengths),
      'targets_max': max(targets_lengths),
      'inputs_over_fraction':
          sum(l > MAX_INPUTS_BYTES for l in inputs_lengths) / n,
      'targets_over_fraction':
          sum(l > MAX_TARGETS_BYTES for l in targets_lengths) / n,
  }
