"""Tests of launch/sweep.py: grid expansion, validation, the combined table."""

import csv
import io
import json
import os

import pytest

from instruct import evaluation
from launch import common
from launch import sweep
from tests.conftest import REPO_ROOT

QUICKSTART = os.path.join(REPO_ROOT, 'gin_configs', 'quickstart.gin')
TINY = os.path.join(REPO_ROOT, 'gin_configs', 'ablations', 'tiny.gin')


def test_grid_flags_expand_to_the_cartesian_product():
  _, s = sweep.build(['--sweep-dir=/tmp/s', f'--gin_file={QUICKSTART}',
                      '--grid=TRAIN_STEPS=[10, 20]',
                      "--grid=MIXTURE_OR_TASK_NAME=['a', 'b']",
                      '--gin.BATCH_SIZE=8'])
  assert [r.name for r in s.runs] == ['r00_10_a', 'r01_10_b', 'r02_20_a',
                                      'r03_20_b']
  assert s.train_args(s.runs[1]) == [
      f'--gin_file={QUICKSTART}', '--gin.BATCH_SIZE=8',
      '--gin.TRAIN_STEPS=10', "--gin.MIXTURE_OR_TASK_NAME='b'"]
  assert s.model_dir(s.runs[3]) == '/tmp/s/r03_20_b'


def test_grid_file_linked_axis(tmp_path):
  path = tmp_path / 'g.yaml'
  path.write_text(
      'gin_file: [gin_configs/quickstart.gin]\n'
      'overrides: {TRAIN_STEPS: 5}\n'
      'grid:\n'
      '  held_out:\n'
      '    - {_label: nli, MIXTURE_OR_TASK_NAME: x_no_nli,'
      ' EVAL_MIXTURE_OR_TASK_NAME: x_nli_eval}\n'
      '    - {MIXTURE_OR_TASK_NAME: x_no_qa, EVAL_MIXTURE_OR_TASK_NAME: y}\n')
  _, s = sweep.build(['--sweep-dir=/tmp/s', f'--grid-file={path}'])
  assert s.gin_files == ['gin_configs/quickstart.gin']  # For TPU workers.
  assert s.local_args(s.runs[0])[0] == f'--gin_file={QUICKSTART}'
  assert [r.name for r in s.runs] == ['r00_nli', 'r01_held_out1']
  assert s.local_args(s.runs[0])[1:] == [
      '--gin.TRAIN_STEPS=5', "--gin.MIXTURE_OR_TASK_NAME='x_no_nli'",
      "--gin.EVAL_MIXTURE_OR_TASK_NAME='x_nli_eval'"]


@pytest.mark.parametrize('flag,message', [
    ('TRAIN_STEPS', r'expected NAME=\[value'),
    ('TRAIN_STEPS=[]', 'non-empty list'),
    ('TRAIN_STEPS=[a, b]', 'not a Python list literal'),
    ('2x=[1]', 'not a gin binding name'),
])
def test_bad_grid_flags(flag, message):
  with pytest.raises(common.UserError, match=message):
    sweep.build(['--sweep-dir=/tmp/s', f'--gin_file={QUICKSTART}',
                 f'--grid={flag}'])


@pytest.mark.parametrize('override,message', [
    # A macro no gin file defines: gin itself would accept it silently.
    ('TRAIN_STEPZ=[5]', 'names nothing.*TRAIN_STEPZ.*did you mean TRAIN_STEPS'),
    # A parameter the configurable does not have: gin's error, one line.
    ('train.total_stepz=[5]', "train.total_stepz"),
    ("MIXTURE_OR_TASK_NAME=['builtin_instructionz']",
     'builtin_instructionz'),
])
def test_override_that_names_nothing_stops_before_launching(
    override, message, tmp_path, capsys):
  code = sweep.main([f'--sweep-dir={tmp_path}/s', f'--gin_file={QUICKSTART}',
                     f'--grid={override}'])
  err = capsys.readouterr().err
  assert code == 2
  assert err.startswith('error: run r00_')
  import re  # pylint: disable=g-import-not-at-top
  assert re.search(message, err), err
  assert not os.path.exists(tmp_path / 's')  # Nothing was launched.


def test_combined_table_csv_and_png_from_runs_metrics(tmp_path):
  _, s = sweep.build([f'--sweep-dir={tmp_path}', f'--gin_file={QUICKSTART}',
                      "--grid=MIXTURE_OR_TASK_NAME=['a', 'b', 'c']"])
  evaluation.write_results(str(tmp_path / 'r00_a' / 'inference_eval'), 10,
                           {'t1': {'exact_match': 20.0},
                            't2': {'accuracy': 60.0, 'exact_match': 1.0}})
  evaluation.write_results(str(tmp_path / 'r00_a' / 'inference_eval'), 5,
                           {'t1': {'exact_match': 99.0}})  # Older: ignored.
  # An explicit instruct.eval result is preferred over the trainer's own.
  evaluation.write_results(str(tmp_path / 'r01_b' / 'eval'), 20,
                           {'t1': {'exact_match': 40.0}})
  evaluation.write_results(str(tmp_path / 'r01_b' / 'inference_eval'), 20,
                           {'t1': {'exact_match': 0.0}})
  out = sweep.gather(str(tmp_path), s.runs)  # r02_c has no results.
  md = out['markdown']
  assert '| r00_a | a | 10 |' in md and '| r02_c | c | no results |' in md
  assert '| t1 | exact_match | 20.00 | 40.00 | n/a |' in md
  assert '| t2 | accuracy | 60.00 | n/a | n/a |' in md
  # Mean of headline scores: (20 + 60) / 2 for r00_a.
  assert '| **mean** | headline | 40.00 | 40.00 | n/a |' in md
  rows = list(csv.DictReader(io.StringIO(out['csv'])))
  assert {(r['run'], r['task'], r['metric'], float(r['value']))
          for r in rows} == {('r00_a', 't1', 'exact_match', 20.0),
                             ('r00_a', 't2', 'accuracy', 60.0),
                             ('r00_a', 't2', 'exact_match', 1.0),
                             ('r01_b', 't1', 'exact_match', 40.0)}
  for path in out['paths'].values():
    assert os.path.getsize(path) > 0
  with open(out['paths']['png'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_tpu_backend_prints_one_job_per_run(capsys):
  assert sweep.main(['--backend=tpu', '--dry-run', '--no-validate',
                     '--sweep-dir=gs://b/sw', f'--gin_file={QUICKSTART}',
                     '--grid=TRAIN_STEPS=[10, 20]', '--tpu-zone=z',
                     '--tpu-accelerator-type=v5e-8']) == 0
  lines = common.command_lines(capsys.readouterr().out)
  creates = [l for l in lines if 'queued-resources create' in l]
  runs = [l for l in lines if 'nohup' in l]
  assert len(creates) == 2 and 'sweep-00' in creates[0]
  assert 'sweep-01' in creates[1]
  assert 'gin.MODEL_DIR="gs://b/sw/r00_10"' in runs[0]
  assert '--gin.TRAIN_STEPS=20' in runs[1]


@pytest.mark.slow
def test_two_run_sweep_runs_locally_and_makes_one_table(tmp_path,
                                                        monkeypatch, capsys):
  monkeypatch.chdir(REPO_ROOT)
  sweep_dir = str(tmp_path / 'sweep')
  code = sweep.main([
      f'--sweep-dir={sweep_dir}', f'--gin_file={QUICKSTART}',
      f'--gin_file={TINY}', '--in-process',
      "--gin.MIXTURE_OR_TASK_NAME='builtin_uppercase'",
      "--gin.EVAL_MIXTURE_OR_TASK_NAME='builtin_uppercase'",
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 64, 'targets': 16}",
      '--grid=TRAIN_STEPS=[1, 2]'])
  out = capsys.readouterr().out
  assert code == 0
  for run, step in (('r00_1', 1), ('r01_2', 2)):
    assert os.path.exists(os.path.join(sweep_dir, run, 'inference_eval',
                                       f'metrics-{step}.json'))
  with open(os.path.join(sweep_dir, 'results.md')) as f:
    md = f.read()
  assert md in out
  assert '| r00_1 | 1 | 1 |' in md and '| r01_2 | 2 | 2 |' in md
  assert md.count('| builtin_uppercase | exact_match |') == 1
  with open(os.path.join(sweep_dir, 'sweep.json')) as f:
    assert [r['name'] for r in json.load(f)['runs']] == ['r00_1', 'r01_2']
