"""Tests for `python -m instruct.data` (instruct.data.cli) on built-in tasks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import seqio

from instruct.data import cli
from instruct.errors import UserError
import tasks  # pylint: disable=unused-import  # Registers the built-in tasks.
from tests.conftest import REPO_ROOT, SHARED_DATA, single_process_env

_TASK = 'builtin_sentiment'
_MIXTURE = 'builtin_instructions'
_LENGTHS = {'inputs': 192, 'targets': 32}


def _run(capsys, *argv):
  cli.main(list(argv))
  return capsys.readouterr().out


def _first(name, split, n):
  ds = seqio.get_mixture_or_task(name).get_dataset(
      sequence_length=_LENGTHS, split=split, shuffle=False)
  return list(ds.take(n).as_numpy_iterator())


def test_list(capsys):
  out = _run(capsys, 'list', 'sentiment')
  assert f'| {_TASK} | task |' in out
  assert 'builtin_instructions |' not in out  # filtered by the pattern
  out = _run(capsys, 'list', 'builtin_instructions', '--kind', 'mixtures')
  assert f'| {_MIXTURE} | mixture |' in out and '| task |' not in out
  rows = json.loads(_run(capsys, 'list', '--source', 'builtin', '--json'))
  tasks = [r for r in rows if r['kind'] == 'task']
  # Mixtures of built-in tasks may have any name (e.g. launch's ablations).
  assert tasks and all(r['source'] in ('builtin', '') and
                       r['name'].startswith('builtin_') for r in tasks)
  assert not json.loads(_run(capsys, 'list', '--source', 'nosuchsource',
                             '--json'))


def test_show_renders_examples_and_metadata(capsys):
  out = _run(capsys, 'show', _TASK, '-n', '2')
  assert out.count(f'=== {_TASK} [train] example') == 2
  expected = _first(_TASK, 'train', 2)
  for ex in expected:
    assert ex['inputs_pretokenized'].decode() in out
    assert ex['targets_pretokenized'].decode() in out
  assert '_template_idx=' in out
  rows = json.loads(_run(capsys, 'show', _MIXTURE, '-n', '2', '--split',
                         'validation', '--json'))
  assert len(rows) == 2
  assert all(r['inputs'] and r['targets'] and r['_task_name'] for r in rows)


def test_report_lists_every_leaf_task(capsys):
  out = _run(capsys, 'report', _MIXTURE)
  leaves = [t.name for t in seqio.get_mixture_or_task(_MIXTURE).tasks]
  for name in leaves:
    assert f'| {name} |' in out
  rows = json.loads(_run(capsys, 'report', _MIXTURE, '--json'))
  assert sorted(r['task'] for r in rows) == sorted(leaves)
  assert sum(r['share'] for r in rows) == pytest.approx(1.0)
  assert all(r['examples'] > 0 for r in rows)


def test_lengths(capsys):
  out = json.loads(_run(capsys, 'lengths', _TASK, '-n', '100', '--json'))
  assert out['num_examples'] == 100
  p99 = out['percentiles']['inputs']['99']
  assert out['suggested']['inputs'] >= p99
  assert 0 < out['fill']['best_fit']['inputs'] <= 1
  assert 'suggested' in _run(capsys, 'lengths', _TASK, '-n', '50')


@pytest.fixture
def cache_dir(tmp_path):
  """A cache dir SeqIO searches during the test only."""
  old = list(seqio.utils.get_global_cache_dirs())
  seqio.add_global_cache_dirs([str(tmp_path)])
  yield tmp_path
  seqio.set_global_cache_dirs(old)
  task = seqio.get_mixture_or_task(_TASK)
  task._cache_dir = None  # pylint: disable=protected-access  # SeqIO memo.


def test_cache_is_readable_by_seqio(capsys, cache_dir):
  _run(capsys, 'cache', _TASK, str(cache_dir), '--split', 'train',
       '--max-examples', '20', '--no-progress')
  task_dir = cache_dir / _TASK
  assert sorted(os.listdir(task_dir)) == [
      'COMPLETED', 'info.train.json', 'stats.train.json',
      'train.tfrecord-00000-of-00001']
  stats = json.loads((task_dir / 'stats.train.json').read_text())
  assert stats['examples'] == 20
  task = seqio.get_mixture_or_task(_TASK)
  assert task.cache_dir == str(task_dir)
  cached = list(task.get_dataset(_LENGTHS, split='train', use_cached=True,
                                 shuffle=False).as_numpy_iterator())
  fresh = _first(_TASK, 'train', 20)
  assert len(cached) == 20
  for a, b in zip(cached, fresh):
    assert a.keys() == b.keys()
    for k in b:
      np.testing.assert_array_equal(a[k], b[k])
  assert stats['inputs_tokens'] == sum(len(ex['inputs']) - 1 for ex in fresh)
  # A second run leaves a completed task alone.
  out = _run(capsys, 'cache', _TASK, str(cache_dir), '--split', 'train',
             '--no-progress')
  assert 'already cached' in out


def test_cache_with_filters_reports_and_writes_kept(capsys, cache_dir):
  out = _run(capsys, 'cache', _TASK, str(cache_dir), '--split', 'train',
             '--max-examples', '20', '--no-progress', '--normalize',
             '--dedup', '--max-length', '50')
  report = json.loads(
      (cache_dir / _TASK / 'filter_report.train.json').read_text())
  dropped = sum(report['dropped'].values())
  assert report['seen'] == 20 and report['kept'] == 20 - dropped
  assert report['dropped'].get('too_long:inputs', 0) > 0
  fresh = _first(_TASK, 'train', 20)
  assert report['dropped']['too_long:inputs'] == sum(
      len(ex['inputs_pretokenized'].decode()) > 50 for ex in fresh)
  stats = json.loads((cache_dir / _TASK / 'stats.train.json').read_text())
  assert stats['examples'] == report['kept']
  assert f'| kept | {report["kept"]} |' in out
  cached = list(seqio.get_mixture_or_task(_TASK).get_dataset(
      _LENGTHS, split='train', use_cached=True,
      shuffle=False).as_numpy_iterator())
  assert len(cached) == report['kept']
  assert all(len(ex['inputs_pretokenized'].decode()) <= 50 for ex in cached)


def test_retokenize_after_normalisation():
  vocab = seqio.ByteVocabulary()
  old, new = 'a\u00a0 b', 'a b'
  ex = {'inputs_pretokenized': old.encode(),
        'inputs': np.array(vocab.encode(old) + [1], np.int32)}
  cli._retokenize(ex, 'inputs', old, new, vocab, 't')  # pylint: disable=protected-access
  assert ex['inputs_pretokenized'] == b'a b'
  assert ex['inputs'].tolist() == vocab.encode('a b') + [1]
  ex = {'inputs': np.array([5, 6], np.int32)}
  with pytest.raises(UserError, match="cannot normalise 'inputs'"):
    cli._retokenize(ex, 'inputs', old, new, vocab, 't')  # pylint: disable=protected-access


def test_contamination_finds_a_leaked_example(capsys, tmp_path):
  leaked = _first(_TASK, 'train', 3)[2]
  text = leaked['inputs_pretokenized'].decode()
  folder = tmp_path / 'bbh'
  folder.mkdir()
  (folder / 'leaky.json').write_text(json.dumps({'examples': [
      {'input': 'A question about prime numbers and the digits of large '
                'powers of seven written in base ten', 'target': 'no'},
      {'input': text, 'target': leaked['targets_pretokenized'].decode()}]}))
  out = json.loads(_run(capsys, 'contamination', _TASK, str(folder),
                        '--max-train-examples', '20', '--ngram', '8',
                        '--min-words', '4', '--json'))
  (result,) = out['eval_sets']
  assert result['name'] == 'leaky' and result['examples'] == 2
  assert [o['index'] for o in result['overlaps']] == [1]
  assert result['overlaps'][0]['first_train_example'].startswith(_TASK)
  table = _run(capsys, 'contamination', _TASK, str(folder),
               '--max-train-examples', '20', '--ngram', '8',
               '--min-words', '4')
  assert '| leaky | 2 | 0 | 1 | 50.0% |' in table


def test_contamination_against_task_and_real_bbh(capsys):
  out = _run(capsys, 'contamination', _TASK, _TASK, '--max-train-examples',
             '20', '--max-eval-examples', '10', '--ngram', '6',
             '--min-words', '4')
  assert f'| {_TASK} | 10 |' in out
  path = os.path.join(SHARED_DATA, 'bbh', 'tasks')
  if not os.path.isdir(path):
    pytest.skip(f'shared BBH data not found at {path}')
  out = _run(capsys, 'contamination', _TASK, path, '--max-train-examples',
             '20')
  assert '| boolean_expressions |' in out


@pytest.mark.parametrize('argv, message', [
    (['show', 'builtin_sentimnt'], "Did you mean: builtin_sentiment"),
    (['report', 'builtin_instructons'], 'Did you mean: builtin_instructions'),
    (['show', _TASK, '-n', 'abc'], "argument -n: expected a positive"),
    (['show', _TASK, '--split', 'test'], "has no split 'test'"),
    (['cache', _TASK, '/tmp/x', '--near-dedup', '2'], 'argument --near-dedup'),
    (['frobnicate'], "invalid choice: 'frobnicate'"),
    (['--module', 'no_such_module_xyz', 'list'], '--module no_such_module_xyz'),
])
def test_clear_errors(argv, message):
  with pytest.raises(UserError, match=message):
    cli.main(argv)


@pytest.mark.e2e
def test_entry_point_exit_status():
  proc = subprocess.run(
      [sys.executable, '-m', 'instruct.data', 'show', 'builtin_sentimnt'],
      cwd=REPO_ROOT, env=single_process_env(), capture_output=True,
      text=True, timeout=120)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1].startswith(
      "error: 'builtin_sentimnt' is not a registered task or mixture")
