"""Built-in, offline, procedurally generated instruction tasks.

Every task is a generator of field dicts plus a list of instruction templates,
so the project can instruction-tune and evaluate a small model anywhere without
downloads. The tasks are deliberately easy enough for a tiny byte-level T5 to
make progress on within a few minutes on a CPU: inputs are short (well under
192 bytes once templated) and targets are at most a few words.

Determinism: example `index` of `split` is generated from a private
`random.Random` seeded with `(seed, task, split, index)`, so any example can be
regenerated on its own, independently of iteration order, process or
PYTHONHASHSEED.

Train/validation disjointness: each example has a *content key* (its
template-independent content, e.g. the word to uppercase). A key belongs to
validation iff a hash of it falls in the first `VALIDATION_PERCENT` buckets;
the generator resamples until the key lands in the requested split. The
partition does not depend on the seed, so a train split and a validation split
never share content even when generated with different seeds.

Held-out templates: the last `NUM_HELD_OUT_TEMPLATES` templates of each task
are never used for training; evaluating on them measures generalisation to
unseen instructions, as in FLAN.

Field conventions (see `instruct.data.templates`): the expected output is in
`answer`; classification tasks also provide `options` (candidate answers) and
`label` (index of the correct one).
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
SPLIT_SIZES = {'train': 20_000, 'validation': 200}
VALIDATION_PERCENT = 10
NUM_HELD_OUT_TEMPLATES = 2
# Lengths the demo trains with; inputs/targets must fit including EOS.
MAX_INPUTS_BYTES = 191
MAX_TARGETS_BYTES = 31
_MAX_RESAMPLES = 10_000


@dataclasses.dataclass(frozen=True)
class BuiltinTask:
  """A procedurally generated instruction task.

  Attributes:
    name: short task name, e.g. 'sentiment'.
    generate: draws one example's fields from a `random.Random`.
    content_key: the template-independent identity of an example's content;
      it decides the example's split.
    templates: all templates; the last `NUM_HELD_OUT_TEMPLATES` are held out.
    is_classification: whether the task has `options`/`label` fields and is
      evaluated by rank classification.
  """
  name: str
  generate: Callable[[random.Random], Fields]
  content_key: Callable[[Fields], str]
  templates: Tuple[Template, ...]
  is_classification: bool = False

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
# relation -> (fact pattern, question pattern, values).
_RELATIONS = {
    'city': ('{name} lives in {value}.', 'Where does {name} live?', _CITIES),
    'pet': ('{name} has a {value}.', 'What pet does {name} have?', _PETS),
    'job': ('{name} works as a {value}.', "What is {name}'s job?", _JOBS),
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


# --------------------------------------------------------------------------
# Generators: each returns the fields of one example.


def _pseudo_word(rng: random.Random) -> str:
  """A pronounceable non-word of 4 or 6 letters (CV syllables)."""
  return ''.join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS)
                 for _ in range(rng.choice((2, 3))))


def _generate_uppercase(rng: random.Random) -> Fields:
  text = ' '.join(rng.choice(_WORDS) for _ in range(rng.choice((1, 2, 2, 3))))
  return {'text': text, 'answer': text.upper()}


def _generate_reverse_word(rng: random.Random) -> Fields:
  # Half real words, half pseudo-words: the real ones are more natural, the
  # pseudo-words make the content space large enough that validation words are
  # not a handful of repeats.
  if rng.random() < 0.5:
    word = rng.choice([w for w in _WORDS if 3 <= len(w) <= 6])
  else:
    word = _pseudo_word(rng)
  return {'word': word, 'answer': word[::-1]}


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
  }


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


def _generate_reading_comprehension(rng: random.Random) -> Fields:
  # All facts in a passage share one relation, so answering requires finding
  # the right person, not just the only city in the text.
  relation = rng.choice(sorted(_RELATIONS))
  fact, question, values = _RELATIONS[relation]
  num_people = rng.choice((2, 3))
  names = rng.sample(_NAMES, num_people)
  chosen_values = rng.sample(values, num_people)
  target = rng.randrange(num_people)
  passage = ' '.join(fact.format(name=n, value=v)
                     for n, v in zip(names, chosen_values))
  return {
      'passage': passage,
      'question': question.format(name=names[target]),
      'answer': chosen_values[target],
  }


def _generate_translation(rng: random.Random) -> Fields:
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
  return {
      'english': ' '.join(words),
      'answer': ' '.join(TOYLANG_LEXICON[w] for w in words),
  }


def _generate_parity(rng: random.Random) -> Fields:
  number = rng.randint(0, 9999)
  options = ['even', 'odd']
  label = number % 2
  return {'number': number, 'options': options, 'label': label,
          'answer': options[label]}


# --------------------------------------------------------------------------
# Templates. In each list the last two are held out of training.

_T = Template

_UPPERCASE_TEMPLATES = (
    _T('Convert to uppercase: {text}'),
    _T('Write "{text}" in capital letters.'),
    _T('{text}\n\nRewrite the text above in all caps.'),
    _T('Make this uppercase: {text}'),
    _T('Input: {text}\nTask: change every letter to upper case.\nOutput:'),
    _T('Capitalize all letters of the following: {text}'),
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
    # Held out.
    _T('Flip the order of the letters in "{word}".'),
    _T('Input word: {word}\nThe same word backwards:'),
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
    # Held out.
    _T('Find the result of {a} {op_word} {b}.', _EQUATION),
    _T('Math problem: {a} {op} {b} = ?', _EQUATION),
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
    # Held out.
    _T('Read the review below and say whether it is positive or '
       'negative.\n{review}'),
    _T('Text: {review}\nQuestion: Is this opinion positive or negative?\n'
       'Answer:'),
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
    # Held out.
    _T('Here is a short story: {passage}\nNow answer: {question}'),
    _T('Passage:\n{passage}\n\nUsing only the passage, reply to: {question}'),
)

_TRANSLATION_TEMPLATES = (
    _T('Translate to Toylang: {english}'),
    _T('English: {english}\nToylang:'),
    _T('How do you say "{english}" in Toylang?'),
    _T('Translate the following English sentence into Toylang.\n{english}'),
    _T('{english}\n\nTranslate the sentence above from English to Toylang.'),
    _T('Give the Toylang version of: {english}'),
    # Held out.
    _T('Render this English text in Toylang: {english}'),
    _T('Sentence in English: {english}\nThe same sentence in Toylang:'),
)

_PARITY_TEMPLATES = (
    _T('Is {number} even or odd?'),
    _T('Number: {number}\nEven or odd?'),
    # Verbalises the same label differently: even -> yes.
    _T('Is {number} divisible by 2? Answer yes or no.', options=('yes', 'no')),
    _T('Tell me whether {number} is an even or an odd number.'),
    _T('{number}\nClassify the number above as even or odd.'),
    _T('Parity of {number} (even/odd):'),
    # Held out.
    _T('Decide if the number {number} is odd or even.'),
    _T('Q: Is the integer {number} even, or is it odd?\nA:'),
)


def _task(name, generate, content_key, templates, is_classification=False):
  return BuiltinTask(
      name=name,
      generate=generate,
      content_key=content_key,
      templates=templates_lib.name_templates(name, templates),
      is_classification=is_classification)


TASKS: Dict[str, BuiltinTask] = {
    t.name: t for t in (
        _task('uppercase', _generate_uppercase, lambda f: f['text'],
              _UPPERCASE_TEMPLATES),
        _task('reverse_word', _generate_reverse_word, lambda f: f['word'],
              _REVERSE_WORD_TEMPLATES),
        _task('arithmetic', _generate_arithmetic,
              lambda f: f'{f["a"]} {f["op"]} {f["b"]}',
              _ARITHMETIC_TEMPLATES),
        _task('sentiment', _generate_sentiment, lambda f: f['review'],
              _SENTIMENT_TEMPLATES, is_classification=True),
        _task('reading_comprehension', _generate_reading_comprehension,
              lambda f: f'{f["passage"]} {f["question"]}',
              _READING_COMPREHENSION_TEMPLATES),
        _task('translation', _generate_translation, lambda f: f['english'],
              _TRANSLATION_TEMPLATES),
        _task('parity', _generate_parity, lambda f: str(f['number']),
              _PARITY_TEMPLATES, is_classification=True),
    )
}

# Names of all built-in tasks, in a stable order.
TASK_NAMES: Tuple[str, ...] = tuple(TASKS)
GENERATION_TASK_NAMES = tuple(n for n in TASK_NAMES
                              if not TASKS[n].is_classification)
CLASSIFICATION_TASK_NAMES = tuple(n for n in TASK_NAMES
                                  if TASKS[n].is_classification)


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
  """Whether content `key` of a task belongs to the validation split."""
  digest = hashlib.sha256(f'{task_name}\x00{key}'.encode('utf-8')).digest()
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
  """UTF-8 byte-length statistics of formatted examples.

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
