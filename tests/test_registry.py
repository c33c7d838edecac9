"""Tests for the collection registry: specs -> SeqIO tasks per variant."""

import collections
import pathlib
import re

import gin
import numpy as np
import pytest
import seqio
import tensorflow as tf

from instruct import metrics
from instruct.data import cot
from instruct.data import registry
from instruct.data import templates
from instruct.data import variants
from instruct.errors import UserError

T = templates.Template
SOURCE = 'regtest'


def _columns(split, n):
  return {
      'premise': [f'{split} premise {i}' for i in range(n)],
      'hypothesis': [f'hyp {i}' for i in range(n)],
      'options': [['yes', 'it is not possible to tell', 'no']] * n,
      'label': [i % 3 for i in range(n)],
      'answer': [['yes', 'it is not possible to tell', 'no'][i % 3]
                 for i in range(n)],
      'rationale': [f'Reason {i}.' for i in range(n)],
  }


def _tensors(columns):
  out = {}
  for k, v in columns.items():
    out[k] = (tf.ragged.constant(v) if isinstance(v[0], list)
              else tf.constant(v))
  return out


SIZES = {'train': 12, 'validation': 9}


def _load(split):
  return tf.data.Dataset.from_tensor_slices(_tensors(_columns(split,
                                                              SIZES[split])))


TEMPLATES = (
    T('Premise: {premise}\nHypothesis: {hypothesis}\nDoes it follow?'),
    T('{premise}\nCan we conclude "{hypothesis}"?', 'Answer: {answer}'),
    T('Read: {premise}\n{options_}\nIs "{hypothesis}" true?'),
)
INVERSION = (T('Write a premise for the answer "{answer}" about {hypothesis}.',
               '{premise}'),)


def _spec(**kwargs):
  defaults = dict(name='nli_toy', source=SOURCE, cluster='nli', load=_load,
                  templates=TEMPLATES, inversion_templates=INVERSION,
                  has_rationale=True, num_examples=dict(SIZES))
  defaults.update(kwargs)
  return registry.DatasetSpec(**defaults)


@pytest.fixture(scope='module')
def names():
  out = registry.register_dataset(_spec())
  yield out
  registry.unregister_dataset(SOURCE, 'nli_toy')


def _examples(name, split='validation', n=None):
  ds = seqio.get_mixture_or_task(name).get_dataset(None, split=split,
                                                   shuffle=False)
  if n is not None:
    ds = ds.take(n)
  return list(ds.as_numpy_iterator())


def _text(ex, key):
  return ex[f'{key}_pretokenized'].decode('utf-8')


def test_names_and_variants(names):
  assert set(names) == set(registry.VARIANTS)
  for variant, name in names.items():
    assert name == registry.task_name(SOURCE, 'nli_toy', variant)
    assert name == f'{SOURCE}_nli_toy_{variant}'
    assert registry.get_spec(name).name == 'nli_toy'
    info = registry.task_info(name)
    assert (info.source, info.cluster, info.dataset, info.variant) == (
        SOURCE, 'nli', 'nli_toy', variant)
    assert info.template_type in registry.TEMPLATE_TYPES
    assert info.num_examples == SIZES
  assert registry.task_info(names['cot']).num_templates == len(
      cot.COT_TEMPLATES)
  assert registry.task_info(names['inv']).num_templates == 1
  assert registry.task_info(names['zs_opt']).num_templates == 3
  assert seqio.get_mixture_or_task(names['zs_opt_rank']).splits == (
      'validation',)
  assert seqio.get_mixture_or_task(names['zs_opt']).num_input_examples(
      'train') == 12
  assert any(s.key == f'{SOURCE}_nli_toy' for s in registry.registered_specs())
  with pytest.raises(UserError, match='Did you mean'):
    registry.get_spec(f'{SOURCE}_nli_toy_zs_opts')


def test_zero_shot_exact_strings(names):
  ex = _examples(names['zs_opt'], n=3)
  assert _text(ex[0], 'inputs') == (
      'Premise: validation premise 0\nHypothesis: hyp 0\nDoes it follow?'
      '\n\nOPTIONS:\n- yes\n- it is not possible to tell\n- no')
  assert _text(ex[0], 'targets') == 'yes'
  assert _text(ex[1], 'inputs') == (
      'validation premise 1\nCan we conclude "hyp 1"?'
      '\n\nOPTIONS:\n- yes\n- it is not possible to tell\n- no')
  assert _text(ex[1], 'targets') == 'Answer: it is not possible to tell'
  # {options_} places the options inside the template.
  assert _text(ex[2], 'inputs') == (
      'Read: validation premise 2\nOPTIONS:\n- yes\n- it is not possible '
      'to tell\n- no\nIs "hyp 2" true?')
  noopt = _examples(names['zs_noopt'], n=3)
  assert _text(noopt[0], 'inputs') == (
      'Premise: validation premise 0\nHypothesis: hyp 0\nDoes it follow?')
  assert _text(noopt[2], 'inputs') == (
      'Read: validation premise 2\n\nIs "hyp 2" true?')
  assert _text(noopt[2], 'targets') == 'no'


def test_tokens_match_text_with_eos(names):
  ex = _examples(names['zs_opt'], n=1)[0]
  vocab = registry.VOCABULARY
  assert list(ex['inputs'][:-1]) == list(vocab.encode(_text(ex, 'inputs')))
  assert ex['inputs'][-1] == vocab.eos_id == 1
  assert ex['targets'][-1] == 1


def test_metadata_features(names):
  for variant, name in names.items():
    ex = _examples(name, n=1)[0]
    info = registry.task_info(name)
    assert ex['_task_name'] == b'nli_toy'
    assert ex['_task_source'] == SOURCE.encode()
    assert ex['_template_type'] == info.template_type.encode(), variant
    assert ex['_template_idx'].dtype == np.int32
    assert 0 <= ex['_template_idx'] < info.num_templates


def test_template_use_is_even_and_by_index(names):
  ex = _examples(names['zs_noopt'], split='train')
  counts = collections.Counter(int(e['_template_idx']) for e in ex)
  assert counts == {0: 4, 1: 4, 2: 4}
  assert all(e['_template_idx'] == e['idx'] % 3 for e in ex)
  cot_ex = _examples(names['cot'], split='train')
  assert all(e['_template_idx'] == e['idx'] % len(cot.COT_TEMPLATES)
             for e in cot_ex)


def test_inversion(names):
  ex = _examples(names['inv'], n=2)
  assert _text(ex[0], 'inputs') == (
      'Write a premise for the answer "yes" about hyp 0.')
  assert _text(ex[0], 'targets') == 'validation premise 0'


def test_cot_variant_uses_zero_shot_prompt_as_question(names):
  task = seqio.get_mixture_or_task(names['cot'])
  ex = _examples(names['cot'], n=2)
  assert _text(ex[0], 'inputs') == (
      'Premise: validation premise 0\nHypothesis: hyp 0\nDoes it follow?'
      '\n\nOPTIONS:\n- yes\n- it is not possible to tell\n- no'
      "\nLet's think step by step.")
  assert _text(ex[0], 'targets') == 'Reason 0. So the answer is yes.'
  assert _text(ex[1], 'targets') == (
      'Reason 1.\nTherefore, the answer is it is not possible to tell.')
  for e, want in zip(ex, ['yes', 'it is not possible to tell']):
    assert task.postprocess_fn(_text(e, 'targets'), example=e,
                               is_target=True) == want
  assert task.metric_fns == [metrics.exact_match]


def test_rank_classification_companion(names):
  task = seqio.get_mixture_or_task(names['zs_opt_rank'])
  ex = _examples(names['zs_opt_rank'], n=6)
  assert [_text(e, 'targets') for e in ex[:3]] == [
      'yes', 'it is not possible to tell', 'no']
  assert [_text(e, 'targets') for e in ex[3:6]] == [
      'Answer: yes', 'Answer: it is not possible to tell', 'Answer: no']
  assert [int(e['is_correct']) for e in ex] == [1, 0, 0, 0, 1, 0]
  assert [int(e['idx']) for e in ex] == [0, 0, 0, 1, 1, 1]
  assert len({_text(e, 'inputs') for e in ex[:3]}) == 1
  targets = [task.postprocess_fn(_text(e, 'targets'), example=e,
                                 is_target=True) for e in ex]
  scores = [0.0, -1.0, -2.0, -3.0, -1.0, -2.0]
  assert task.metric_fns[0](targets, scores) == {'accuracy': 100.0}


def test_randomised_options_relabel(names):
  task = seqio.get_mixture_or_task(names['zs_ropt'])
  ex = _examples(names['zs_ropt'], split='train') + _examples(
      names['zs_ropt'])
  headers, relabelled = set(), 0
  for e in ex:
    inputs, target = _text(e, 'inputs'), _text(e, 'targets')
    answer = ['yes', 'it is not possible to tell', 'no'][e['idx'] % 3]
    lines = inputs.split('\n')
    header = next(h for h in variants.RANDOM_HEADERS if h in lines)
    headers.add(header)
    items = lines[lines.index(header) + 1:][:3]
    marker_of = {i.split(' ', 1)[1]: i.split(' ', 1)[0] for i in items}
    assert set(marker_of) == {'yes', 'it is not possible to tell', 'no'}
    marker = marker_of[answer]
    if marker in ('-', '*'):
      assert target.endswith(answer) and not target.endswith(
          f'{marker} {answer}')
    else:
      relabelled += 1
      assert target.endswith(f'{marker} {answer}'), (target, marker)
    stripped = task.postprocess_fn(target, example=e, is_target=True)
    prefix = 'Answer: ' if e['_template_idx'] == 1 else ''
    if prefix:
      assert stripped in (f'Answer: {answer}', f'Answer: {marker} {answer}')
    else:
      assert stripped == answer
  assert len(headers) >= 4 and 0 < relabelled < len(ex)
  # Deterministic: the same example is formatted the same way every time.
  again = _examples(names['zs_ropt'], split='train')
  assert [_text(e, 'inputs') for e in again] == [
      _text(e, 'inputs') for e in ex[:len(again)]]


def _query_and_exemplars(inputs, separator='\n\n'):
  return inputs.split(separator)


def test_few_shot_exact_string_and_self_exclusion():
  """With two train examples, a train query's only exemplar is the other."""
  def load(split):
    return tf.data.Dataset.from_tensor_slices(_tensors(_columns(split, 2)))
  spec = _spec(name='fs_toy', load=load, num_examples={'train': 2,
                                                       'validation': 2})
  names = registry.register_dataset(spec, variants=['fs1_noopt', 'fs5_opt'])
  try:
    ex = _examples(names['fs1_noopt'], split='train')
    assert _text(ex[0], 'inputs') == (
        'train premise 1\nCan we conclude "hyp 1"?\nAnswer: it is not '
        'possible to tell\n\n'
        'Premise: train premise 0\nHypothesis: hyp 0\nDoes it follow?')
    assert _text(ex[0], 'targets') == 'yes'
    assert _text(ex[1], 'inputs') == (
        'Premise: train premise 0\nHypothesis: hyp 0\nDoes it follow?\nyes'
        '\n\ntrain premise 1\nCan we conclude "hyp 1"?')
    assert [int(e['_num_shots']) for e in ex] == [1, 1]
    # Five shots asked, one available (the query itself is excluded).
    ex5 = _examples(names['fs5_opt'], split='train')
    assert [int(e['_num_shots']) for e in ex5] == [1, 1]
    # Validation queries may use both train examples.
    ex5 = _examples(names['fs5_opt'])
    assert [int(e['_num_shots']) for e in ex5] == [2, 2]
  finally:
    registry.unregister_dataset(SOURCE, 'fs_toy')


def test_few_shot_structure(names):
  zs = {int(e['idx']): _text(e, 'inputs')
        for e in _examples(names['zs_opt'], split='train')}
  zs_targets = {int(e['idx']): _text(e, 'targets')
                for e in _examples(names['zs_opt'], split='train')}
  exemplar_blocks = {f'{zs[i]}\n{zs_targets[i]}' for i in zs}
  shots = collections.Counter()
  for e in _examples(names['fs_opt'], split='train'):
    inputs = _text(e, 'inputs')
    idx = int(e['idx'])
    assert inputs.endswith(zs[idx])
    head = inputs[:-len(zs[idx])]
    k = int(e['_num_shots'])
    shots[k] += 1
    assert k in variants.FEW_SHOT_CHOICES
    # Every exemplar is a formatted train example (inputs, newline, target),
    # never the query itself.
    found = [b for b in exemplar_blocks if b + '\n\n' in head]
    assert len(found) == k, (inputs, k)
    assert f'{zs[idx]}\n{zs_targets[idx]}' not in found
    assert _text(e, 'targets') == zs_targets[idx]
  assert len(shots) >= 2  # k is drawn per example.


def test_same_template_few_shot(names):
  for e in _examples(names['xs_noopt'], split='train'):
    position = int(e['_template_idx'])
    inputs = _text(e, 'inputs')
    marks = ('Hypothesis:', 'Can we conclude', 'Read: ')
    for i, mark in enumerate(marks):
      want = int(e['_num_shots']) + 1 if i == position else 0
      assert inputs.count(mark) == want, (position, inputs)


def test_few_shot_budget(names):
  vocab = registry.VOCABULARY
  with gin.unlock_config():
    gin.bind_parameter('few_shot_config.token_budget', 200)
  try:
    ex = _examples(names['fs5_noopt'], split='train')
  finally:
    gin.clear_config()
  pruned = 0
  for e in ex:
    inputs = _text(e, 'inputs')
    k = int(e['_num_shots'])
    if k:
      assert len(vocab.encode(inputs)) <= 200
    pruned += k < 5
  assert pruned == len(ex)  # 5 exemplars never fit in 200 bytes here.
  assert any(int(e['_num_shots']) > 0 for e in ex)


def test_idempotent_and_restricted_registration(names):
  del names
  out = registry.register_dataset(_spec(name='again'), variants=['zs_noopt'])
  assert out == {'zs_noopt': f'{SOURCE}_again_zs_noopt'}
  out = registry.register_dataset(_spec(name='again'), variants=['cot'])
  assert f'{SOURCE}_again_zs_noopt' not in seqio.TaskRegistry.names()
  assert out == {'cot': f'{SOURCE}_again_cot'}
  registry.unregister_dataset(SOURCE, 'again')
  assert f'{SOURCE}_again_cot' not in seqio.TaskRegistry.names()


def test_applicable_variants_without_options_or_rationale():
  def load(split):
    del split
    return tf.data.Dataset.from_tensor_slices({'q': ['a', 'b'],
                                               'answer': ['x', 'y']})
  spec = registry.DatasetSpec(name='plain', source=SOURCE, cluster='qa',
                              load=load, templates=[T('{q}')])
  assert registry.applicable_variants(spec) == [
      v for v in registry.VARIANTS if v.endswith('noopt')]
  with pytest.raises(UserError, match="variant 'zs_opt' does not apply"):
    registry.register_dataset(spec, variants=['zs_opt'])
  assert f'{SOURCE}_plain' not in [s.key for s in registry.registered_specs()]


@pytest.mark.parametrize('kwargs,match', [
    (dict(name='Bad-Name'), r'name=.*\[a-z0-9_\]'),
    (dict(source='flan2021'), 'need at least 10'),
    (dict(templates=()), 'no templates'),
    (dict(splits='train'), 'splits'),
])
def test_invalid_specs(kwargs, match):
  with pytest.raises(UserError, match=match):
    registry.register_dataset(_spec(**kwargs))


def test_missing_field_is_named():
  spec = _spec(name='broken', templates=(T('{premise} {nope}'),),
               has_rationale=False, inversion_templates=())
  names = registry.register_dataset(spec, variants=['zs_noopt'])
  try:
    with pytest.raises(templates.MissingFieldError, match="'nope'"):
      _examples(names['zs_noopt'])
  finally:
    registry.unregister_dataset(SOURCE, 'broken')


def test_delegating_vocabulary_follows_gin():
  features = registry.output_features()
  assert features['inputs'].vocabulary == registry.VOCABULARY
  assert not features['inputs'].required and features['targets'].add_eos
  assert registry.VOCABULARY.vocab_size == seqio.ByteVocabulary().vocab_size
  big = seqio.ByteVocabulary(extra_ids=100)
  with gin.unlock_config():
    gin.bind_parameter('default_vocabulary.vocabulary', big)
  try:
    assert registry.VOCABULARY.vocab_size == big.vocab_size
    assert list(registry.VOCABULARY.encode('hi')) == list(big.encode('hi'))
    ids = registry.VOCABULARY.encode_tf(tf.constant('hi'))
    assert registry.VOCABULARY.decode_tf(ids).numpy() == b'hi'
  finally:
    gin.clear_config()
  assert registry.VOCABULARY.vocab_size == seqio.ByteVocabulary().vocab_size


def test_source_is_tf_data_without_python_generators(names):
  """Formatting is graph-only: the dataset's iterator can be checkpointed."""
  ds = seqio.get_mixture_or_task(names['fs_opt']).get_dataset(
      {'inputs': 512, 'targets': 32}, split='train', shuffle=False)
  iterator = iter(ds)
  next(iterator)
  ckpt = tf.train.Checkpoint(iterator=iterator)
  path = ckpt.write('/tmp/h1_registry_iter_ckpt')  # Fails with py_function.
  want = next(iterator)
  iterator2 = iter(ds)
  tf.train.Checkpoint(iterator=iterator2).read(path).assert_consumed()
  got = next(iterator2)
  assert re.sub('', '', str(want['inputs'].numpy())) == str(
      got['inputs'].numpy())


def _task_spec(name, **kwargs):
  def dataset_fn(split, shuffle_files=False, seed=None):
    del shuffle_files, seed
    return tf.data.Dataset.from_tensor_slices(
        {'inputs': [f'{split} q'], 'targets': ['a']})
  return registry.TaskSpec(name=name, dataset_fn=dataset_fn, **kwargs)


def test_register_task_is_the_one_way_to_add_a_task():
  name = registry.register_task(_task_spec('regtest_plain_task',
                                           splits=('validation',),
                                           eval_only=True))
  try:
    task = seqio.get_mixture_or_task(name)
    assert task.splits == ('validation',)
    assert task.metric_fns == [metrics.exact_match]
    assert registry.is_eval_only(name)
    assert registry.task_spec(name).eval_only
    ex = next(task.get_dataset({'inputs': 16, 'targets': 4},
                               split='validation', shuffle=False,
                               use_cached=False).as_numpy_iterator())
    assert ex['inputs_pretokenized'] == b'validation q'
    assert ex['inputs'][-1] == 1  # EOS appended by the shared tail.
  finally:
    registry.unregister_task(name)
  assert name not in seqio.TaskRegistry.names()
  assert not registry.is_eval_only(name)


def test_eval_only_task_has_no_train_split():
  with pytest.raises(UserError, match="eval_only.*'train'"):
    registry.register_task(_task_spec('regtest_eval_train',
                                      splits=('train', 'validation'),
                                      eval_only=True))
  with pytest.raises(UserError, match='must match'):
    registry.register_task(_task_spec('Bad-Name', splits=('validation',)))


def test_rank_variants_are_eval_only(names):
  assert registry.is_eval_only(names['zs_opt_rank'])
  assert not registry.is_eval_only(names['zs_opt'])


def test_one_registration_site_for_tasks_and_mixtures():
  """Every task goes through register_task, every mixture through mixtures."""
  root = pathlib.Path(__file__).resolve().parent.parent
  calls = collections.Counter()
  for path in list((root / 'instruct').rglob('*.py')) + list(
      (root / 'tasks').rglob('*.py')):
    text = path.read_text()
    for what in ('TaskRegistry.add(', 'MixtureRegistry.add('):
      calls[what, path.relative_to(root).as_posix()] += text.count(what)
  sites = {k: v for k, v in calls.items() if v}
  assert sites == {('TaskRegistry.add(', 'instruct/data/registry.py'): 1,
                   ('MixtureRegistry.add(', 'instruct/data/mixtures.py'): 1}
