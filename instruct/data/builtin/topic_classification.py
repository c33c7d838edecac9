"""Topic and intent classification.

Tasks: `topic`, `intent`. The cluster's generators, templates and catalogue
rows, together (see `instruct.data.builtin` for determinism, splits and field
conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


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


def _generate_topic(rng: random.Random) -> base.Fields:
  label = rng.randrange(len(_TOPIC_OPTIONS))
  w1, w2 = rng.sample(_TOPICS[_TOPIC_OPTIONS[label]], 2)
  headline = rng.choice(_HEADLINE_FRAMES).format(
      city=rng.choice(lexicon.CITIES), name=rng.choice(lexicon.NAMES), w1=w1,
      w2=w2)
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


def _generate_intent(rng: random.Random) -> base.Fields:
  label = rng.randrange(len(_INTENT_OPTIONS))
  utterance = rng.choice(_INTENTS[_INTENT_OPTIONS[label]]).format(
      genre=rng.choice(_GENRES), when=rng.choice(_WHENS),
      city=rng.choice(lexicon.CITIES), time=rng.choice(_TIMES),
      n=rng.randint(2, 8), name=rng.choice(lexicon.NAMES))
  return {'utterance': utterance, 'options': list(_INTENT_OPTIONS),
          'label': label, 'answer': _INTENT_OPTIONS[label]}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

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


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('topic', 'topic_classification', _generate_topic,
              base.keyed('headline'), _TOPIC_TEMPLATES,
              'Topic of a generated news headline (5 classes).',
              is_classification=True),
    base.task('intent', 'topic_classification', _generate_intent,
              base.keyed('utterance'), _INTENT_TEMPLATES,
              'Intent of a voice-assistant request (5 classes).',
              is_classification=True),
)
