"""Tests for collection mixtures: caps, temperature, weights, held-out."""

import collections
import os
import subprocess
import sys

import pytest
import seqio
import tensorflow as tf

from instruct.data import mixtures
from instruct.data import registry
from instruct.data import templates
from instruct.errors import UserError
from tests.conftest import REPO_ROOT, SHARED_DATA, single_process_env

T = templates.Template

# (source, name, cluster, train size)
DATASETS = (
    ('mixa', 'big', 'nli', 400),
    ('mixa', 'small', 'sentiment', 40),
    ('mixa', 'mid', 'qa', 120),
    ('mixb', 'one', 'nli', 60),
    ('mixb', 'two', 'qa', 30),
)


def _spec(source, name, cluster, n):
  def load(split):
    size = n if split == 'train' else 5
    return tf.data.Dataset.from_tensor_slices({
        'text': [f'{name} {split} {i}' for i in range(size)],
        'answer': [name] * size})
  return registry.DatasetSpec(
      name=name, source=source, cluster=cluster, load=load,
      templates=[T('{text}?'), T('Say: {text}')],
      num_examples={'train': n, 'validation': 5})


@pytest.fixture(scope='module')
def tasks():
  out = {}
  for source, name, cluster, n in DATASETS:
    out[name] = registry.register_dataset(
        _spec(source, name, cluster, n), variants=['zs_noopt', 'fs_noopt'])
  yield out
  for source, name, _, _ in DATASETS:
    registry.unregister_dataset(source, name)


def _rates(name):
  mix = seqio.get_mixture_or_task(name)
  return {t.name: mix.get_rate(t) for t in mix.tasks}


def test_capped_rates(tasks):
  names = [tasks[n]['zs_noopt'] for n in ('big', 'small', 'mid')]
  mixtures.register_capped_mixture('mixtest_capped', names, cap=100)
  assert _rates('mixtest_capped') == {
      'mixa_big_zs_noopt': 100.0, 'mixa_small_zs_noopt': 40.0,
      'mixa_mid_zs_noopt': 100.0}
  mixtures.register_capped_mixture('mixtest_uncapped', names)
  assert _rates('mixtest_uncapped')['mixa_big_zs_noopt'] == 400.0


def test_temperature(tasks):
  names = [tasks[n]['zs_noopt'] for n in ('big', 'small')]
  mixtures.register_capped_mixture('mixtest_temp', names, temperature=2.0)
  rates = _rates('mixtest_temp')
  assert rates['mixa_big_zs_noopt'] == pytest.approx(20.0)
  assert rates['mixa_small_zs_noopt'] == pytest.approx(40 ** 0.5)
  with pytest.raises(UserError, match='temperature'):
    mixtures.register_capped_mixture('mixtest_bad', names, temperature=0)


def test_caps_by_source(tasks):
  names = [tasks['big']['zs_noopt'], tasks['one']['zs_noopt']]
  mixtures.register_capped_mixture('mixtest_bysource', names,
                                   caps_by_source={'mixa': 50, 'mixb': 10})
  assert _rates('mixtest_bysource') == {'mixa_big_zs_noopt': 50.0,
                                        'mixb_one_zs_noopt': 10.0}
  rows = {r.task: r for r in mixtures.mixture_report('mixtest_bysource')}
  assert rows['mixa_big_zs_noopt'].cap == 50
  assert rows['mixb_one_zs_noopt'].cap == 10


def _weighted(tasks):
  a = mixtures.register_capped_mixture(
      'mixtest_a', [tasks[n][v] for n in ('big', 'small', 'mid')
                    for v in ('zs_noopt', 'fs_noopt')], cap=200)
  b = mixtures.register_capped_mixture(
      'mixtest_b', [tasks[n]['zs_noopt'] for n in ('one', 'two')], cap=200)
  return mixtures.register_weighted_mixture('mixtest_weighted',
                                            {a: 0.3, b: 0.1})


def test_weighted_report_shares(tasks):
  name = _weighted(tasks)
  rows = mixtures.mixture_report(name)
  assert len(rows) == 8
  by_source = mixtures.shares_by(rows)
  assert by_source['mixa'] == pytest.approx(0.75, abs=0.01)
  assert by_source['mixb'] == pytest.approx(0.25, abs=0.01)
  row = {r.task: r for r in rows}
  # Inside mixa: rates 200, 40, 120 per variant -> 200 / 720 of 0.75.
  assert row['mixa_big_fs_noopt'].share == pytest.approx(0.75 * 200 / 720)
  assert row['mixb_two_zs_noopt'].share == pytest.approx(0.25 * 30 / 90)
  assert row['mixa_big_fs_noopt'].examples == 400
  assert row['mixa_big_fs_noopt'].cap == 200
  assert row['mixa_big_fs_noopt'].cluster == 'nli'
  assert row['mixa_big_fs_noopt'].num_templates == 2
  assert sum(r.share for r in rows) == pytest.approx(1.0)
  text = mixtures.format_report(rows)
  assert text.startswith('| task | source | cluster |')
  assert '| mixa | 3 | 6 | 75.00% |' in text
  assert '8 tasks, 5 datasets, 3 clusters.' in text


def test_sampled_proportions_follow_weights(tasks):
  name = _weighted(tasks)
  ds = seqio.get_mixture_or_task(name).get_dataset(
      None, split='train', shuffle=True, seed=0,
      passthrough_features=['_task_source'])
  counts = collections.Counter(
      ex['_task_source'].decode() for ex in ds.take(800).as_numpy_iterator())
  assert counts['mixa'] / 800 == pytest.approx(0.75, abs=0.06)


def test_held_out_cluster(tasks):
  names = [tasks[n][v] for n in tasks for v in ('zs_noopt', 'fs_noopt')]
  train, evaluation = mixtures.held_out_cluster_mixtures(names, 'nli',
                                                         'mixtest_ho')
  assert (train, evaluation) == ('mixtest_ho_no_nli', 'mixtest_ho_nli_eval')
  train_tasks = {t.name for t in seqio.get_mixture_or_task(train).tasks}
  eval_tasks = {t.name for t in seqio.get_mixture_or_task(evaluation).tasks}
  assert train_tasks == {n for n in names if 'big' not in n
                         and 'one' not in n}
  assert eval_tasks == {'mixa_big_zs_noopt', 'mixb_one_zs_noopt'}
  assert not train_tasks & eval_tasks
  with pytest.raises(UserError, match="'nope' has no tasks"):
    mixtures.held_out_cluster_mixtures(names, 'nope', 'mixtest_ho')


def test_unknown_task():
  with pytest.raises(UserError, match='not registered'):
    mixtures.register_capped_mixture('mixtest_x', ['no_such_task'])


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, 'flan_cot')),
                    reason='shared Flan CoT data not found')
@pytest.mark.e2e
def test_flan_collection_report_matches_weights():
  """tasks.flan in a fresh process: shares per source match the weights."""
  code = '''
import os
from instruct.data import mixtures
import tasks.flan as flan
rows = mixtures.mixture_report('flan_collection')
shares = mixtures.shares_by(rows)
weights = {s: mixtures.FLAN_WEIGHTS[s] for s in shares}
total = sum(weights.values())
for s in shares:
  assert abs(shares[s] - weights[s] / total) < 0.01, (s, shares, weights)
assert 'cot' in shares
cot_rows = [r for r in rows if r.source == 'cot']
assert {r.cap for r in cot_rows} == {100000}
assert {r.variant for r in cot_rows} == {'cot', 'fs_cot'}
flan_rows = [r for r in rows if r.source == 'flan2021']
assert len({r.dataset for r in flan_rows}) >= 40
assert len({r.cluster for r in flan_rows}) >= 10
assert {r.cap for r in flan_rows} == {30000}
# Every leaf's rate is min(examples, cap) before the sub-mixture weighting.
assert all(r.examples is not None for r in flan_rows)
print('OK', sorted(shares.items()), len(rows))
'''
  env = single_process_env()
  env['INSTRUCT_FLAN_COT_DIR'] = os.path.join(SHARED_DATA, 'flan_cot')
  out = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  assert 'OK' in out.stdout


def test_training_mixture_refuses_eval_only_tasks():
  spec = registry.DatasetSpec(
      name='rank_only', source='mixtest', cluster='c',
      load=lambda split: tf.data.Dataset.from_tensor_slices(
          {'text': ['a'], 'options': [['a', 'b']], 'label': [0],
           'answer': ['a']}),
      templates=[T('{text}?')], num_examples={'train': 1, 'validation': 1})
  names = registry.register_dataset(spec, variants=['zs_opt', 'zs_opt_rank'])
  try:
    with pytest.raises(UserError, match='evaluation-only'):
      mixtures.register_capped_mixture('mixtest_with_rank',
                                       list(names.values()))
    assert mixtures.register_eval_mixture(
        'mixtest_rank_eval', [names['zs_opt_rank']]) == 'mixtest_rank_eval'
  finally:
    if 'mixtest_rank_eval' in seqio.MixtureRegistry.names():
      seqio.MixtureRegistry.remove('mixtest_rank_eval')
    registry.unregister_dataset('mixtest', 'rank_only')
