"""Tests of launch/: TPU and GPU dry runs, bad input, a real local run."""

import io
import os
import shlex
import subprocess
import sys

import pytest

from launch import common
from launch import gpu
from launch import local
from launch import tpu
from tests.conftest import REPO_ROOT

TRAIN_ARGS = ['--gin_file=models/t5_1_1/small.gin',
              '--gin_file=runs/finetune.gin',
              "--gin.MIXTURE_OR_TASK_NAME='flan_collection'",
              "--gin.TASK_FEATURE_LENGTHS={'inputs': 2048, 'targets': 512}",
              '--gin.TRAIN_STEPS=10000']


def _plan(argv):
  out = io.StringIO()
  args, steps = tpu.plan(argv)
  common.execute(steps, args.dry_run, out=out)
  return common.command_lines(out.getvalue())


# --- Accelerator types. -----------------------------------------------------


@pytest.mark.parametrize('name,canonical,chips,hosts,version', [
    ('v4-8', 'v4-8', 4, 1, 'tpu-ubuntu2204-base'),
    ('v4-32', 'v4-32', 16, 4, 'tpu-ubuntu2204-base'),
    ('v4-4096', 'v4-4096', 2048, 512, 'tpu-ubuntu2204-base'),
    ('v5e-8', 'v5litepod-8', 8, 1, 'v2-alpha-tpuv5-lite'),
    ('v5litepod-1', 'v5litepod-1', 1, 1, 'v2-alpha-tpuv5-lite'),
    ('v5litepod-16', 'v5litepod-16', 16, 4, 'v2-alpha-tpuv5-lite'),
    ('v5litepod-256', 'v5litepod-256', 256, 64, 'v2-alpha-tpuv5-lite'),
    ('v5p-8', 'v5p-8', 4, 1, 'v2-alpha-tpuv5'),
    ('v5p-128', 'v5p-128', 64, 16, 'v2-alpha-tpuv5'),
    ('v6e-8', 'v6e-8', 8, 1, 'v2-alpha-tpuv6e'),
    ('v6e-64', 'v6e-64', 64, 16, 'v2-alpha-tpuv6e'),
])
def test_accelerator_facts(name, canonical, chips, hosts, version):
  acc = tpu.parse_accelerator(name)
  assert (acc.name, acc.chips, acc.hosts, acc.software_version) == (
      canonical, chips, hosts, version)
  assert acc.chips == acc.hosts * acc.chips_per_host


@pytest.mark.parametrize('bad', ['v3-8', 'v4-12', 'v4-8192', 'v5e-2',
                                 'v5litepod-512', 'tpu', 'v5p-4', 'v6e-3'])
def test_unknown_accelerator_lists_valid_patterns(bad, capsys):
  code = tpu.main(['create', 'x', '--zone=z', f'--accelerator-type={bad}',
                   '--dry-run'])
  err = capsys.readouterr().err
  assert code == 2
  assert err.count('\n') == 1 and err.startswith('error: ')
  assert repr(bad) in err
  for pattern in ('v4-N', 'v5litepod-N', 'v5e-N', 'v5p-N', 'v6e-N'):
    assert pattern in err


# --- TPU dry runs, compared with the expected command lines. ----------------


def test_v4_32_create_install_run_logs_stop_delete():
  where = ['my-tpu', '--zone=us-central2-b', '--dry-run']
  assert _plan(['create', *where, '--accelerator-type=v4-32']) == [
      'gcloud compute tpus tpu-vm create my-tpu --zone=us-central2-b '
      '--accelerator-type=v4-32 --version=tpu-ubuntu2204-base']
  assert _plan(['install', *where,
                '--repo=https://example.com/instruct.git']) == [
      'gcloud compute tpus tpu-vm ssh my-tpu --zone=us-central2-b '
      "--worker=all '--command=sudo apt-get update -qq && sudo apt-get "
      'install -y -qq python3.11 python3.11-venv git && (test -d '
      'instruct/.git && git -C instruct pull --ff-only || git clone --branch '
      'main https://example.com/instruct.git instruct) && cd instruct && '
      'python3.11 -m venv .venv && .venv/bin/pip install -q --upgrade pip && '
      ".venv/bin/pip install -q -e '\"'\"'.[tpu]'\"'\"''"]
  run = _plan(['run', *where, '--model-dir=gs://bucket/flan', '--',
               *TRAIN_ARGS])
  assert run == [
      'gcloud compute tpus tpu-vm ssh my-tpu --zone=us-central2-b '
      "--worker=all '--command=cd instruct && mkdir -p logs && { nohup "
      '.venv/bin/python -m instruct.train '
      '--gin_file=models/t5_1_1/small.gin --gin_file=runs/finetune.gin '
      "'\"'\"'--gin.MIXTURE_OR_TASK_NAME='\"'\"'\"'\"'\"'\"'\"'\"'"
      "flan_collection'\"'\"'\"'\"'\"'\"'\"'\"''\"'\"' "
      "'\"'\"'--gin.TASK_FEATURE_LENGTHS={'\"'\"'\"'\"'\"'\"'\"'\"'inputs"
      "'\"'\"'\"'\"'\"'\"'\"'\"': 2048, '\"'\"'\"'\"'\"'\"'\"'\"'targets"
      "'\"'\"'\"'\"'\"'\"'\"'\"': 512}'\"'\"' --gin.TRAIN_STEPS=10000 "
      "'\"'\"'--gin.MODEL_DIR=\"gs://bucket/flan\"'\"'\"' > logs/train.log "
      "2>&1 < /dev/null & echo $! > logs/train.pid; }'"]
  assert _plan(['logs', *where]) == [
      'gcloud compute tpus tpu-vm ssh my-tpu --zone=us-central2-b '
      "--worker=0 '--command=tail -n 100 -F instruct/logs/train.log'"]
  assert _plan(['stop', *where]) == [
      'gcloud compute tpus tpu-vm ssh my-tpu --zone=us-central2-b '
      "--worker=all '--command=test -f instruct/logs/train.pid && kill "
      "$(cat instruct/logs/train.pid); rm -f instruct/logs/train.pid'"]
  assert _plan(['delete', *where]) == [
      'gcloud compute tpus tpu-vm delete my-tpu --zone=us-central2-b --quiet']


def test_run_command_survives_both_shells():
  """The pasted line gives ssh one --command; the workers' shell then gets
  back exactly the training argv."""
  line, = _plan(['run', 'my-tpu', '--zone=z', '--dry-run',
                 '--model-dir=gs://b/r', '--', *TRAIN_ARGS])
  argv = shlex.split(line)
  remote = argv[-1][len('--command='):]
  subprocess.run(['bash', '-n', '-c', remote], check=True)
  inner = remote[remote.index('nohup ') + len('nohup '):remote.index(' > ')]
  assert shlex.split(inner) == ['.venv/bin/python', '-m', 'instruct.train',
                                *TRAIN_ARGS, '--gin.MODEL_DIR="gs://b/r"']


def test_v5e_8_queued_spot_and_resume():
  where = ['my-v5e', '--zone=us-west4-a', '--project=proj', '--dry-run']
  create = ['gcloud compute tpus queued-resources create my-v5e '
            '--node-id=my-v5e --zone=us-west4-a --project=proj '
            '--accelerator-type=v5litepod-8 '
            '--runtime-version=v2-alpha-tpuv5-lite --spot',
            'gcloud compute tpus queued-resources describe my-v5e '
            "--zone=us-west4-a --project=proj '--format=value(state.state)'"]
  assert _plan(['create', *where, '--accelerator-type=v5e-8', '--queued',
                '--spot']) == create
  assert _plan(['create', *where, '--accelerator-type=v5litepod-8',
                '--preemptible']) == [
      'gcloud compute tpus tpu-vm create my-v5e --zone=us-west4-a '
      '--project=proj --accelerator-type=v5litepod-8 '
      '--version=v2-alpha-tpuv5-lite --preemptible']
  resume = _plan(['resume', *where, '--accelerator-type=v5e-8', '--copy',
                  '--model-dir=gs://b/r', '--', '--gin_file=a.gin'])
  assert resume[0] == ('gcloud compute tpus queued-resources delete my-v5e '
                       '--zone=us-west4-a --project=proj --force --quiet')
  assert resume[1:3] == create
  assert resume[3] == (f'git -C {REPO_ROOT} archive --format=tar.gz '
                       '--output=/tmp/instruct-src.tar.gz HEAD')
  assert resume[4] == ('gcloud compute tpus tpu-vm scp '
                       '/tmp/instruct-src.tar.gz my-v5e:instruct-src.tar.gz '
                       '--zone=us-west4-a --project=proj --worker=all')
  assert 'tar -xzf instruct-src.tar.gz -C instruct' in resume[5]
  assert resume[6] == _plan(['run', *where, '--model-dir=gs://b/r', '--',
                             '--gin_file=a.gin'])[0]
  assert len(resume) == 7


def test_tpu_bad_input_is_one_clear_error(capsys):
  cases = [
      (['run', 'x', '--zone=z', '--model-dir=/tmp/local', '--dry-run', '--',
        '--gin_file=a.gin'], 'not a gs:// path'),
      (['run', 'x', '--zone=z', '--model-dir=gs://b/r', '--dry-run'],
       'training arguments after --'),
      (['run', 'x', '--zone=z', '--model-dir=gs://b/r', '--dry-run', '--',
        "--gin.MODEL_DIR='gs://c'"], 'once, with --model-dir'),
      (['create', 'x', '--zone=z', '--accelerator-type=v4-8', '--queued',
        '--preemptible', '--dry-run'], 'use --spot'),
  ]
  for argv, expected in cases:
    assert tpu.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith('error: '), (argv, err)


def test_missing_gcloud_is_one_clear_message(tmp_path, monkeypatch, capsys):
  monkeypatch.setenv('PATH', str(tmp_path))  # An empty directory.
  code = tpu.main(['stop', 'x', '--zone=z'])
  err = capsys.readouterr().err
  assert code == 2
  assert 'gcloud (the Google Cloud CLI) is not on PATH' in err
  assert 'https://cloud.google.com/sdk/docs/install' in err
  assert '--dry-run' in err


def test_execute_runs_each_command_and_stops_at_a_failure():
  calls = []

  def fake_run(argv, env=None, **kwargs):
    calls.append(argv)
    return subprocess.CompletedProcess(argv, 1 if len(calls) == 2 else 0)

  steps = [common.Step(['a', 'b c']), common.Step(['d']), common.Step(['e'])]
  with pytest.raises(common.UserError, match="exit status 1: d"):
    common.execute(steps, dry_run=False, out=io.StringIO(), run=fake_run)
  assert calls == [['a', 'b c'], ['d']]


@pytest.mark.e2e
def test_script_form_runs_from_anywhere(tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, 'launch', 'tpu.py'), 'delete',
       'x', '--zone=z', '--queued', '--dry-run'],
      cwd=tmp_path, capture_output=True, text=True, check=True).stdout
  assert common.command_lines(out) == [
      'gcloud compute tpus queued-resources delete x --zone=z --force '
      '--quiet']


# --- GPU. -------------------------------------------------------------------


def test_gpu_node_dry_run(capsys):
  assert gpu.main(['--gpus-per-node=2', '--python=python',
                   '--model-dir=/shared/run', '--dry-run', '--',
                   '--gin_file=runs/finetune.gin', '--gin.TRAIN_STEPS=10']) == 0
  assert capsys.readouterr().out.splitlines() == [
      'mkdir -p logs',
      '# Process 0 of 2 (GPU 0 of node 0).',
      'env JAX_COORDINATOR_ADDRESS=localhost:8476 JAX_NUM_PROCESSES=2 '
      'JAX_PROCESS_ID=0 CUDA_VISIBLE_DEVICES=0 python -m instruct.train '
      '--gin_file=runs/finetune.gin --gin.TRAIN_STEPS=10 '
      '\'--gin.MODEL_DIR="/shared/run"\' > logs/process_0.log 2>&1 &',
      '# Process 1 of 2 (GPU 1 of node 0).',
      'env JAX_COORDINATOR_ADDRESS=localhost:8476 JAX_NUM_PROCESSES=2 '
      'JAX_PROCESS_ID=1 CUDA_VISIBLE_DEVICES=1 python -m instruct.train '
      '--gin_file=runs/finetune.gin --gin.TRAIN_STEPS=10 '
      '\'--gin.MODEL_DIR="/shared/run"\' > logs/process_1.log 2>&1 &',
      'wait']


def test_gpu_second_node_and_slurm(capsys):
  steps = gpu.node_commands(['--gin_file=a.gin'], gpus_per_node=4,
                            num_nodes=2, node_rank=1, coordinator='n0:1234')
  assert [dict(s.env)['JAX_PROCESS_ID'] for s in steps] == ['4', '5', '6', '7']
  assert {dict(s.env)['JAX_NUM_PROCESSES'] for s in steps} == {'8'}
  assert [dict(s.env)['CUDA_VISIBLE_DEVICES'] for s in steps] == [
      '0', '1', '2', '3']
  # What maybe_initialize_distributed looks for to start jax.distributed.
  assert all('JAX_COORDINATOR_ADDRESS' in dict(s.env) for s in steps)
  with pytest.raises(common.UserError, match='--coordinator'):
    gpu.node_commands(['x'], gpus_per_node=4, num_nodes=2)
  assert gpu.main(['--slurm', '--num-nodes=2', '--gpus-per-node=8',
                   '--python=python', '--dry-run', '--',
                   '--gin_file=a.gin']) == 0
  assert common.command_lines(capsys.readouterr().out) == [
      'srun --nodes=2 --ntasks-per-node=8 --gpus-per-node=8 python -m '
      'instruct.train --gin_file=a.gin']


# --- Local: a real (tiny) job. ----------------------------------------------

TINY = ['--gin_file=gin_configs/quickstart.gin',
        '--gin_file=gin_configs/ablations/tiny.gin',
        "--gin.MIXTURE_OR_TASK_NAME='builtin_uppercase'",
        "--gin.EVAL_MIXTURE_OR_TASK_NAME='builtin_uppercase'",
        '--gin.TRAIN_STEPS=1',
        "--gin.TASK_FEATURE_LENGTHS={'inputs': 64, 'targets': 16}"]


def test_local_dry_run_prints_train_and_eval(capsys):
  assert local.main(['--model-dir=/tmp/r', '--dry-run',
                     '--eval_gin_file=runs/eval.gin', '--', *TINY[:2]]) == 0
  lines = common.command_lines(capsys.readouterr().out)
  assert lines == [
      shlex.join([sys.executable, '-m', 'instruct.train', *TINY[:2],
                  '--gin.MODEL_DIR="/tmp/r"']),
      shlex.join([sys.executable, '-m', 'instruct.eval',
                  '--gin_file=runs/eval.gin', '--gin.CHECKPOINT_PATH="/tmp/r"',
                  '--gin.EVAL_OUTPUT_DIR="/tmp/r/eval"'])]


def test_local_mode_really_trains_and_evaluates(tmp_path, monkeypatch):
  monkeypatch.chdir(REPO_ROOT)
  model_dir = str(tmp_path / 'run')
  result = local.run(local.LocalJob(model_dir, TINY), in_process=True)
  assert os.path.isdir(os.path.join(model_dir, 'checkpoint_1', 'state'))
  assert result['step'] == 1
  assert result['path'] == os.path.join(model_dir, 'inference_eval',
                                        'metrics-1.json')
  assert set(result['metrics']) == {'builtin_uppercase'}
  assert 0.0 <= result['metrics']['builtin_uppercase']['exact_match'] <= 100.0
