"""Tests for instruct.data.templates (and its TensorFlow twin)."""

import collections

import pytest
import tensorflow as tf

from instruct.data import preprocessors
from instruct.data import templates


def test_format_substitutes_named_fields():
  t = templates.Template('Add {a} and {b}.', '{a} + {b} = {answer}')
  assert t.format({'a': 2, 'b': 3, 'answer': 5}) == ('Add 2 and 3.',
                                                       '2 + 3 = 5')


def test_default_targets_is_answer_and_unused_fields_are_ignored():
  t = templates.Template('Q: {question}')
  assert t.format({'question': 'Why?', 'answer': 'Because.', 'extra': 1}) == (
      'Q: Why?', 'Because.')


def test_literal_braces_and_bytes():
  t = templates.Template('{{literal}} {word}')
  assert t.format({'word': b'caf\xc3\xa9', 'answer': 'x'}) == (
      '{literal} caf\u00e9', 'x')


def test_fields_and_required_fields():
  t = templates.Template('{b} {a} {b}', '{answer}', options=('yes', 'no'))
  assert t.fields == ('b', 'a', 'answer')
  # Template options derive the answer from the label.
  assert t.required_fields() == ('b', 'a', 'label')


def test_missing_field_error_names_field_and_template():
  t = templates.Template('Translate: {english}', name='translation:0')
  with pytest.raises(templates.MissingFieldError) as info:
    t.format({'answer': 'ka miro'})
  message = str(info.value)
  assert "'english'" in message
  assert 'translation:0' in message
  assert isinstance(info.value, KeyError)  # Still catchable as a KeyError.


def test_missing_field_error_without_name_shows_pattern():
  t = templates.Template('Is {number} odd?')
  with pytest.raises(templates.MissingFieldError, match='Is {number} odd?'):
    t.format({'answer': 'yes'})


def test_missing_field_error_in_tensorflow_formatter():
  t = templates.Template('Review: {review}', name='sentiment:1')
  with pytest.raises(templates.MissingFieldError,
                     match="sentiment:1.*'review'"):
    preprocessors.format_template(t, {'answer': tf.constant('positive')})


@pytest.mark.parametrize('pattern', [
    'positional {}',
    'index {x[0]}',
    'attribute {x.y}',
    'format spec {x:>5}',
    'conversion {x!r}',
    'unbalanced {x',
])
def test_unsupported_patterns_are_rejected(pattern):
  with pytest.raises(templates.TemplateError):
    templates.Template(pattern)


def test_unsupported_value_types_are_rejected():
  t = templates.Template('{x}', name='t')
  for bad in (1.5, True, None):
    with pytest.raises(templates.TemplateError, match="'x'"):
      t.format({'x': bad, 'answer': 'a'})


def test_template_options_verbalise_label():
  t = templates.Template('Is it good? {text}', 'Answer: {answer}',
                         options=['yes', 'no'])
  assert t.options == ('yes', 'no')  # Normalised to a tuple.
  fields = {'text': 'Great.', 'label': 0, 'answer': 'positive',
            'options': ['positive', 'negative']}
  assert t.format(fields) == ('Is it good? Great.', 'Answer: yes')
  assert t.format_options(fields) == ['Answer: yes', 'Answer: no']
  with pytest.raises(templates.TemplateError, match='label'):
    t.format(dict(fields, label=2))


def test_example_options():
  t = templates.Template('Pick: {text}')
  fields = {'text': 'x', 'options': ['a', 'b', 'c'], 'label': 2,
            'answer': 'c'}
  assert t.format(fields) == ('Pick: x', 'c')
  assert t.format_options(fields) == ['a', 'b', 'c']
  assert t.format_options({'text': 'x', 'answer': 'c'}) is None


def test_options_validation():
  with pytest.raises(templates.TemplateError):
    templates.Template('{x}', options='yes')
  with pytest.raises(templates.TemplateError):
    templates.Template('{x}', options=('only',))


def test_template_assignment_is_round_robin_and_even():
  ts = [templates.Template(f'{i}: {{x}}') for i in range(3)]
  chosen = [templates.select_template(ts, i)[0] for i in range(30)]
  assert chosen[:6] == [0, 1, 2, 0, 1, 2]
  assert collections.Counter(chosen) == {0: 10, 1: 10, 2: 10}
  with pytest.raises(ValueError):
    templates.template_index(3, 0)


def test_name_templates_keeps_explicit_names():
  ts = templates.name_templates(
      'task', [templates.Template('{a}'), templates.Template('{b}', name='x')])
  assert [t.name for t in ts] == ['task:0', 'x']


def test_tensorflow_formatting_matches_python():
  template_list = [
      templates.Template('Is {number} even? {{ok}}', 'It is {answer}.',
                         options=('yes', 'no')),
      templates.Template('{number}\n', '{answer}'),
      templates.Template('No answer placeholder: {number}', 'constant'),
  ]
  fields = {'number': 17, 'label': 1, 'answer': 'odd',
            'options': ['even', 'odd']}
  features = {
      'number': tf.constant(17, tf.int64),
      'label': tf.constant(1, tf.int64),
      'answer': tf.constant('odd'),
      'options': tf.constant(['even', 'odd']),
  }
  for t in template_list:
    inputs, targets, options = preprocessors.format_template(t, features)
    assert (inputs.numpy().decode(), targets.numpy().decode()) == t.format(
        fields)
    assert [o.decode() for o in options.numpy()] == t.format_options(fields)


def test_apply_templates_uses_index_modulo_selected_templates():
  ts = [templates.Template(f'T{i} {{x}}', name=f't:{i}') for i in range(4)]
  ds = tf.data.Dataset.from_tensor_slices({
      'x': [f'x{i}' for i in range(6)],
      'answer': [f'a{i}' for i in range(6)],
      'idx': list(range(6)),
  })
  out = list(preprocessors.apply_templates(
      ds, ts, template_ids=(1, 3), task_name='toy').as_numpy_iterator())
  assert [o['_template_idx'] for o in out] == [1, 3, 1, 3, 1, 3]
  assert [o['inputs'].decode() for o in out] == [
      'T1 x0', 'T3 x1', 'T1 x2', 'T3 x3', 'T1 x4', 'T3 x5']
  assert [o['targets'].decode() for o in out] == [f'a{i}' for i in range(6)]
  assert all(o['_task_name'] == b'toy' for o in out)
  assert out[0]['idx'].dtype == 'int32'
  assert out[0]['_template_idx'].dtype == 'int32'
