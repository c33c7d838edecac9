"""Natural language inference over generated facts.

Tasks: `nli`, `entailment`. The cluster's generators, templates and catalogue
rows, together (see `instruct.data.builtin` for determinism, splits and field
conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


NLI_OPTIONS = ['yes', 'it is not possible to tell', 'no']


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


def _generate_nli(rng: random.Random) -> base.Fields:
  label = rng.randrange(3)
  city, city2 = rng.sample(lexicon.CITIES, 2)
  job, job2 = rng.sample(lexicon.JOBS, 2)
  values = dict(name=rng.choice(lexicon.NAMES), city=city, city2=city2, job=job,
                job2=job2, pet=rng.choice(lexicon.PETS))
  return {
      'premise': rng.choice(_NLI_PREMISES).format(**values),
      'hypothesis': rng.choice(_NLI_HYPOTHESES[label]).format(**values),
      'options': list(NLI_OPTIONS), 'label': label,
      'answer': NLI_OPTIONS[label],
  }


_GROCERIES = ('bread', 'milk', 'eggs', 'rice', 'tea', 'jam', 'soap', 'salt',
              'flour', 'honey')


_FARM_ANIMALS = ('cow', 'goat', 'sheep', 'hen', 'pig', 'duck')


_PLACES = ('barn', 'field', 'yard', 'shed')


def _generate_entailment(rng: random.Random) -> base.Fields:
  label = rng.randint(0, 1)  # 0: entailed, 1: not entailed.
  if rng.random() < 0.5:
    name = rng.choice(lexicon.NAMES)
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


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

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


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('nli', 'nli', _generate_nli, base.keyed('premise', 'hypothesis'),
              _NLI_TEMPLATES,
              'Three-way entailment over generated facts about a person.',
              is_classification=True),
    base.task('entailment', 'nli', _generate_entailment,
              base.keyed('premise', 'hypothesis'), _ENTAILMENT_TEMPLATES,
              'Two-way entailment with lists and quantities.',
              is_classification=True),
)
