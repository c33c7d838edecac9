"""Struct to text.

Tasks: `data_to_text`, `date_to_text`. The cluster's generators, templates and
catalogue rows, together (see `instruct.data.builtin` for determinism, splits
and field conventions).
"""

import random

from instruct.data import templates as templates_lib
from instruct.data.builtin import base
from instruct.data.builtin import lexicon

# Lexicons and generators: each generator returns the fields of one
# example.


_MONTHS = ('January', 'February', 'March', 'April', 'May', 'June', 'July',
           'August', 'September', 'October', 'November', 'December')


def _generate_data_to_text(rng: random.Random) -> base.Fields:
  name, job, city = (rng.choice(lexicon.NAMES), rng.choice(lexicon.JOBS),
                     rng.choice(lexicon.CITIES))
  return {'name': name, 'job': job, 'city': city,
          'answer': f'{name} is a {job} in {city}.'}


def _generate_date_to_text(rng: random.Random) -> base.Fields:
  year, month, day = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(
      1, 28)
  return {'year': year, 'month': month, 'day': day,
          'iso': f'{year:04d}-{month:02d}-{day:02d}',
          'answer': f'{_MONTHS[month - 1]} {day}, {year}'}


# Templates: 12 per task; in each list the last two are held out of
# training.

_T = templates_lib.Template

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


# Catalogue rows (ordered in `catalogue.TASK_ORDER`).
TASKS = (
    base.task('data_to_text', 'struct_to_text', _generate_data_to_text,
              base.keyed('name', 'job', 'city'), _DATA_TO_TEXT_TEMPLATES,
              'A name/job/city record as a sentence.'),
    base.task('date_to_text', 'struct_to_text', _generate_date_to_text,
              base.keyed('iso'), _DATE_TO_TEXT_TEMPLATES,
              'A numeric date written out in words.'),
)
