"""Sentiment and emotion.

Tasks: `sentiment`, `emotion`. The cluster's generators, templates and
catalogue rows, together (see `instruct.data.builtin` for determinism, splits
and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


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


def _generate_sentiment(rng: random.Random) -> base.Fields:
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


def _generate_emotion(rng: random.Random) -> base.Fields:
  label = rng.randrange(len(_EMOTION_OPTIONS))
  sentence = (f'{rng.choice(lexicon.NAMES)} '
              f'{rng.choice(_EMOTION_PHRASES[label])} '
              f'{rng.choice(_EMOTION_TIMES)}.')
  return {'sentence': sentence, 'options': list(_EMOTION_OPTIONS),
          'label': label, 'answer': _EMOTION_OPTIONS[label]}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

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


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('sentiment', 'sentiment', _generate_sentiment,
              base.keyed('review'), _SENTIMENT_TEMPLATES,
              'Positive or negative short review.',
              is_classification=True),
    base.task('emotion', 'sentiment', _generate_emotion, base.keyed('sentence'),
              _EMOTION_TEMPLATES, 'Joy, sadness, anger or fear.',
              is_classification=True),
)
