"""Closed-book QA over a fixed generated world.

Tasks: `world_capitals`, `world_facts`. The cluster's generators, templates and
catalogue rows, together (see `instruct.data.builtin` for determinism, splits
and field conventions).
"""

import dataclasses
import random
from typing import Tuple

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


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
    stem = lexicon.pseudo_word(rng)
    capital = lexicon.pseudo_word(rng).capitalize()
    if stem in used or capital.lower() in used:
      continue
    used.update((stem, capital.lower()))
    countries.append(Country(
        name=stem.capitalize() + rng.choice(('ria', 'land', 'stan', 'nia')),
        capital=capital,
        language=stem.capitalize() + rng.choice(('ish', 'ese', 'ian')),
        currency=lexicon.pseudo_word(rng),
        animal=rng.choice(_NATIONAL_ANIMALS)))
  return tuple(countries)


WORLD: Tuple[Country, ...] = _build_world()


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


def _generate_world_capitals(rng: random.Random) -> base.Fields:
  country = rng.choice(WORLD)
  question = rng.choice(_CAPITAL_QUESTIONS).format(country=country.name)
  return {'question': question, 'country': country.name,
          'answer': country.capital}


def _generate_world_facts(rng: random.Random) -> base.Fields:
  country = rng.choice(WORLD)
  relation = rng.choice(sorted(_FACT_QUESTIONS))
  question = rng.choice(_FACT_QUESTIONS[relation]).format(
      country=country.name)
  return {'question': question, 'country': country.name,
          'relation': relation, 'answer': getattr(country, relation)}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

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


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('world_capitals', 'closed_book_qa', _generate_world_capitals,
              base.keyed('question'), _WORLD_CAPITALS_TEMPLATES,
              'Capitals of the generated world\'s countries.'),
    base.task('world_facts', 'closed_book_qa', _generate_world_facts,
              base.keyed('question'), _WORLD_FACTS_TEMPLATES,
              'Language, currency and animal of generated countries.'),
)
