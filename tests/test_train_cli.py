"""`python -m instruct.train` end to end: resume after SIGKILL, clear errors."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO_ROOT, single_process_env
from instruct import checkpoints
from instruct import gin_utils

TINY = [
    '--gin_file=models/t5_1_1/tiny.gin', '--gin_file=models/vocab/byte.gin',
    '--gin_file=runs/finetune.gin',
    "--gin.MIXTURE_OR_TASK_NAME='builtin_instructions'",
    "--gin.TASK_FEATURE_LENGTHS={'inputs': 96, 'targets': 16}",
    '--gin.BATCH_SIZE=8', '--gin.DROPOUT_RATE=0.1',
    '--gin.train.infer_eval_dataset_cfg=None', '--gin.train.show_progress=False',
    '--gin.train.log_period=2',
]


def _cmd(model_dir, steps, period, extra=()):
  return [sys.executable, '-m', 'instruct.train', *TINY,
          f"--gin.MODEL_DIR='{model_dir}'", f'--gin.TRAIN_STEPS={steps}',
          f'--gin.CHECKPOINT_PERIOD={period}', *extra]


def _final_params(model_dir, step):
  tree = checkpoints.load_numpy_tree(os.path.join(model_dir,
                                                  f'checkpoint_{step}'))
  return tree


@pytest.mark.e2e
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
  steps, period = 40, 5
  env = single_process_env()
  full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
  # The uninterrupted run goes on beside the one that is killed (their
  # imports and compiles overlap); it is awaited before the comparison.
  log = open(tmp_path / 'full.log', 'w+')  # pylint: disable=consider-using-with
  uninterrupted = subprocess.Popen(_cmd(full, steps, period), cwd=REPO_ROOT,
                                   env=env, stdout=log, stderr=log)
  try:
    _kill_and_resume(killed, steps, period, env)
    uninterrupted.wait(timeout=600)
  finally:
    if uninterrupted.poll() is None:
      uninterrupted.kill()
    log.seek(0)
    output = log.read()
    log.close()
  assert uninterrupted.returncode == 0, output[-3000:]

  a, b = _final_params(full, steps), _final_params(killed, steps)
  assert int(a['state']['step']) == int(b['state']['step']) == steps
  flat_a = _flatten(a['target'])
  flat_b = _flatten(b['target'])
  assert flat_a.keys() == flat_b.keys()
  for k in flat_a:
    np.testing.assert_allclose(flat_b[k], flat_a[k], rtol=1e-5, atol=1e-6,
                               err_msg=k)


def _kill_and_resume(killed, steps, period, env):
  """SIGKILLs a run after its first checkpoint, then resumes it to the end."""
  proc = subprocess.Popen(_cmd(killed, steps, period), cwd=REPO_ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 600
  first = os.path.join(killed, f'checkpoint_{period}')
  while not os.path.exists(first) and time.time() < deadline:
    assert proc.poll() is None, 'training ended before its first checkpoint'
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL
  saved = [d for d in os.listdir(killed) if d.startswith('checkpoint_')]
  assert f'checkpoint_{steps}' not in saved, 'killed too late to test resume'

  out = subprocess.run(_cmd(killed, steps, period), cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True, text=True, timeout=600)
  assert 'resuming at step' in out.stdout
  resumed_from = int(out.stdout.split('resuming at step ')[1].split()[0])
  assert 0 < resumed_from < steps


def _flatten(tree, prefix=''):
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f'{prefix}{k}/'))
    else:
      out[prefix + k] = np.asarray(v)
  return out


# -----------------------------------------------------------------------------
# Bad input: one clear message each, exit status 2.
# -----------------------------------------------------------------------------
def _run_main(argv, capsys):
  import gin  # pylint: disable=g-import-not-at-top
  from instruct import train  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  status = gin_utils.run_main(train.main, argv)
  err = capsys.readouterr().err.strip().splitlines()
  gin.clear_config()
  return status, err


def test_unknown_gin_binding(capsys, tmp_path):
  status, err = _run_main(TINY + [f"--gin.MODEL_DIR='{tmp_path}'",
                                  '--gin.TRAIN_STEPS=1',
                                  '--gin.train.learning_rat=0.1'], capsys)
  assert status == 2
  assert err[-1].startswith('error: ') and 'learning_rat' in err[-1]


def test_unknown_configurable_in_flag(capsys, tmp_path):
  status, err = _run_main(TINY + ['--gin.nosuchthing.x=1'], capsys)
  assert status == 2 and 'nosuchthing' in err[-1]


def test_missing_required_macro(capsys):
  status, err = _run_main(TINY + ['--gin.TRAIN_STEPS=1'], capsys)
  assert status == 2
  assert 'MODEL_DIR' in err[-1] and '--gin.MODEL_DIR' in err[-1]


def test_unregistered_task(capsys, tmp_path):
  status, err = _run_main(TINY + [f"--gin.MODEL_DIR='{tmp_path}'",
                                  '--gin.TRAIN_STEPS=1',
                                  "--gin.MIXTURE_OR_TASK_NAME='builtin_instructionz'"],
                          capsys)
  assert status == 2
  assert "'builtin_instructionz'" in err[-1] and 'builtin_instructions' in err[-1]


def test_unreadable_initial_checkpoint(capsys, tmp_path):
  missing = tmp_path / 'no_such_checkpoint'
  status, err = _run_main(TINY + [f"--gin.MODEL_DIR='{tmp_path / 'run'}'",
                                  '--gin.TRAIN_STEPS=1',
                                  f"--gin.INITIAL_CHECKPOINT_PATH='{missing}'"],
                          capsys)
  assert status == 2 and str(missing) in err[-1]


def test_missing_gin_file(capsys):
  status, err = _run_main(['--gin_file=models/t5_1_1/nope.gin'], capsys)
  assert status == 2 and 'nope.gin' in err[-1]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(capsys, tmp_path):
  model_dir = tmp_path / 'run'
  status, err = _run_main(TINY + [
      f"--gin.MODEL_DIR='{model_dir}'", '--gin.TRAIN_STEPS=6',
      '--gin.CHECKPOINT_PERIOD=1', '--gin.OPTIMIZER=@sgd()',
      '--gin.sgd.learning_rate=1e8', '--gin.train.log_period=1'], capsys)
  assert status == 1
  assert 'Loss became' in err[-1] and 'last good checkpoint is step' in err[-1]
  good = int(err[-1].split('last good checkpoint is step ')[1].split()[0])
  saved = sorted(int(d.split('_')[1]) for d in os.listdir(model_dir)
                 if d.startswith('checkpoint_'))
  assert saved and saved[-1] == good
  tree = checkpoints.load_numpy_tree(str(model_dir / f'checkpoint_{good}'))
  assert all(np.isfinite(v).all() for v in _flatten(tree['target']).values())


def test_demo_refuses_to_delete_a_directory_it_did_not_make(capsys, tmp_path):
  import gin  # pylint: disable=g-import-not-at-top
  from instruct import demo  # pylint: disable=g-import-not-at-top
  (tmp_path / 'precious.txt').write_text('keep me')
  gin.clear_config()
  status = gin_utils.run_main(demo.main, [
      '--gin_file=gin_configs/quickstart.gin',
      f"--gin.MODEL_DIR='{tmp_path}'"])
  gin.clear_config()
  assert status == 2 and 'was not made by the demo' in capsys.readouterr().err
  assert (tmp_path / 'precious.txt').read_text() == 'keep me'
