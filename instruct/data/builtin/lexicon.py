"""Lexicons shared by several clusters of built-in tasks.

Kept small and ASCII-only: one byte per character keeps lengths predictable
for the byte-level vocabulary. A word list used by one cluster only lives in
that cluster's module.
"""

import random

WORDS = (
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

SHORT_WORDS = tuple(w for w in WORDS if 3 <= len(w) <= 6)

CONSONANTS = 'bcdfghklmnprstvz'

VOWELS = 'aeiou'

NAMES = (
    'Mia', 'Tom', 'Ana', 'Leo', 'Sam', 'Eva', 'Max', 'Zoe', 'Ben', 'Ivy',
    'Noah', 'Lily', 'Omar', 'Nina', 'Liam', 'Ella', 'Hugo', 'Ruth', 'Kai',
    'Emma',
)

# For tasks whose text uses pronouns (coreference, word problems).
FEMALE_NAMES = ('Mia', 'Ana', 'Eva', 'Zoe', 'Ivy', 'Lily', 'Nina', 'Ella',
                'Ruth', 'Emma')

MALE_NAMES = ('Tom', 'Leo', 'Sam', 'Max', 'Ben', 'Noah', 'Omar', 'Liam',
              'Hugo', 'Kai')

CITIES = (
    'Paris', 'Rome', 'Oslo', 'Lima', 'Cairo', 'Tokyo', 'Delhi', 'Seoul',
    'Quito', 'Dublin', 'Madrid', 'Berlin', 'Vienna', 'Prague', 'Sydney',
    'Boston', 'Lagos', 'Hanoi', 'Nairobi', 'Lisbon',
)

PETS = (
    'dog', 'cat', 'parrot', 'rabbit', 'hamster', 'turtle', 'goldfish', 'pony',
    'lizard', 'snake', 'ferret', 'canary',
)

JOBS = (
    'baker', 'doctor', 'pilot', 'teacher', 'farmer', 'nurse', 'painter',
    'chef', 'lawyer', 'singer', 'dentist', 'plumber',
)

DAYS = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday',
        'Sunday')


def pseudo_word(rng: random.Random) -> str:
  """A pronounceable non-word of 4 or 6 letters (CV syllables)."""
  return ''.join(rng.choice(CONSONANTS) + rng.choice(VOWELS)
                 for _ in range(rng.choice((2, 3))))
