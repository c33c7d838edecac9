"""Evaluation: scores, predictions, seqio.Evaluator outputs, the eval CLI."""

import json
import os
import re

import gin
import numpy as np
import pytest

from instruct import evaluation
from instruct import gin_utils
import tasks  # pylint: disable=unused-import
import tiny

LENGTHS = {'inputs': 160, 'targets': 32}


def tiny_model(z_loss=1e-4):
  return tiny.t5_model(z_loss=z_loss,
                       loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')


def _params(model, batch_size=8):
  shapes = {'encoder_input_tokens': (batch_size, LENGTHS['inputs']),
            'decoder_input_tokens': (batch_size, LENGTHS['targets'])}
  return tiny.one_device(), tiny.init_params(model, shapes)


def test_score_is_sum_of_target_log_likelihoods():
  model = tiny_model(z_loss=0.5)  # z-loss must not leak into scores
  batch = tiny.encdec_batch()
  _, params = _params(model)
  scores = np.asarray(model.score_batch(params, batch))
  logits = np.asarray(model._compute_logits(params, batch), np.float64)  # pylint: disable=protected-access
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  tgt = batch['decoder_target_tokens']
  want = (np.take_along_axis(logp, tgt[..., None], -1)[..., 0] *
          (tgt > 0)).sum(-1)
  np.testing.assert_allclose(scores, want, rtol=1e-5)


def test_evaluator_runs_every_builtin_task_and_writes_results(tmp_path):
  model = tiny_model()
  p, params = _params(model)
  ev = evaluation.InferenceEvaluator(
      model, p, 'builtin_instructions_eval', LENGTHS, batch_size=8,
      num_examples=6, output_dir=str(tmp_path), show_progress=False)
  metrics = ev.evaluate(params, step=0)
  assert len(metrics) == 24
  for task, m in metrics.items():
    key = 'accuracy' if task.endswith('_options') else 'exact_match'
    assert 0.0 <= m[key] <= 100.0, task
  assert json.load(open(tmp_path / 'metrics-0.json'))['metrics'] == metrics
  assert '| builtin_parity_options | accuracy |' in open(
      tmp_path / 'results-0.md').read()
  preds = [f for f in os.listdir(tmp_path) if f.endswith('.jsonl')]
  assert any('builtin_arithmetic' in f for f in preds)


def test_eval_cli_evaluates_every_checkpoint_of_a_model_dir(tmp_path, capsys):
  from instruct import eval as eval_lib  # pylint: disable=g-import-not-at-top
  from instruct import train  # pylint: disable=g-import-not-at-top
  common = ['--gin_file=models/t5_1_1/tiny.gin',
            '--gin_file=models/vocab/byte.gin']
  model_dir = tmp_path / 'run'
  gin.clear_config()
  assert gin_utils.run_main(train.main, common + [
      '--gin_file=runs/finetune.gin', f"--gin.MODEL_DIR='{model_dir}'",
      "--gin.MIXTURE_OR_TASK_NAME='builtin_instructions'",
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 160, 'targets': 32}",
      '--gin.TRAIN_STEPS=2', '--gin.CHECKPOINT_PERIOD=1', '--gin.BATCH_SIZE=8',
      '--gin.train.infer_eval_dataset_cfg=None',
      '--gin.train.show_progress=False']) == 0
  gin.clear_config()
  # Training metrics went to TensorBoard events and JSONL.
  assert list((model_dir / 'train').glob('events.out.tfevents.*'))
  rows = [json.loads(l) for l in open(model_dir / 'train' / 'metrics.jsonl')]
  assert rows[-1]['step'] == 2 and 'cross_ent_loss_per_token' in rows[-1]
  out_dir = tmp_path / 'eval'
  assert gin_utils.run_main(eval_lib.main, common + [
      '--gin_file=runs/eval.gin', f"--gin.CHECKPOINT_PATH='{model_dir}'",
      f"--gin.EVAL_OUTPUT_DIR='{out_dir}'",
      "--gin.MIXTURE_OR_TASK_NAME='builtin_parity_options'",
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 160, 'targets': 32}",
      "--gin.TRAIN_MIXTURE='builtin_instructions'",
      '--gin.EVAL_STEPS=8', '--gin.BATCH_SIZE=8']) == 0
  gin.clear_config()
  assert (out_dir / 'metrics-1.json').exists()
  assert (out_dir / 'metrics-2.json').exists()
  # Two checkpoints: a score-vs-step plot, and the held-out protocol table.
  for png in ('score_vs_step.png', 'score_per_cluster.png'):
    with open(out_dir / png, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert 'builtin_parity_options' in capsys.readouterr().out
  from instruct import infer  # pylint: disable=g-import-not-at-top
  infer_dir = tmp_path / 'infer'
  assert gin_utils.run_main(infer.main, common + [
      '--gin_file=runs/infer.gin', f"--gin.CHECKPOINT_PATH='{model_dir}'",
      f"--gin.INFER_OUTPUT_DIR='{infer_dir}'",
      "--gin.MIXTURE_OR_TASK_NAME='builtin_parity'",
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 160, 'targets': 32}",
      '--gin.INFER_NUM_EXAMPLES=5', '--gin.BATCH_SIZE=8']) == 0
  gin.clear_config()
  rows = [json.loads(l) for l in open(infer_dir / 'builtin_parity-2.jsonl')]
  assert len(rows) == 5 and {'inputs', 'prediction', 'target'} <= set(rows[0])
  missing = tmp_path / 'nothing_here'
  assert gin_utils.run_main(eval_lib.main, common + [
      '--gin_file=runs/eval.gin', f"--gin.CHECKPOINT_PATH='{missing}'",
      f"--gin.EVAL_OUTPUT_DIR='{out_dir}'",
      "--gin.MIXTURE_OR_TASK_NAME='builtin_parity_options'",
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 160, 'targets': 32}"]) == 2
  assert str(missing) in capsys.readouterr().err
  gin.clear_config()


def test_evaluator_decodes_with_the_gin_decoding_config(tmp_path):
  from instruct import decoding  # pylint: disable=g-import-not-at-top
  model = tiny_model()
  p, params = _params(model)
  seen = []
  predict = model.predict_batch_with_aux

  def spy(params, batch, rng=None, decoding_config=None):
    seen.append((decoding_config, rng is not None))
    return predict(params, batch, rng, decoding_config)

  model.predict_batch_with_aux = spy
  gin.clear_config()
  gin.parse_config(['InferenceEvaluator.decoding_config = @DecodingConfig()',
                    "DecodingConfig.method = 'beam'",
                    'DecodingConfig.beam_size = 2'])
  try:
    ev = evaluation.InferenceEvaluator(
        model, p, 'builtin_arithmetic', LENGTHS, batch_size=8, num_examples=4,
        output_dir=str(tmp_path), show_progress=False)
  finally:
    gin.clear_config()
  metrics = ev.evaluate(params, step=0)
  assert 0.0 <= metrics['builtin_arithmetic']['exact_match'] <= 100.0
  # One batch, decoded with the configured beams and a per-batch rng.
  assert seen == [(decoding.plain_config(method='beam', beam_size=2), True)]


# --- Bad input: one clear line each, exit status 2. --------------------------


@pytest.fixture
def tiny_checkpoint(tiny_t5_checkpoint):
  return tiny_t5_checkpoint


def _eval_cli(model_gin, checkpoint, out_dir, task='builtin_parity_options',
              extra=()):
  from instruct import eval as eval_lib  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  try:
    return gin_utils.run_main(eval_lib.main, list(model_gin) + [
        '--gin_file=models/vocab/byte.gin', '--gin_file=runs/eval.gin',
        f"--gin.CHECKPOINT_PATH='{checkpoint}'",
        f"--gin.EVAL_OUTPUT_DIR='{out_dir}'",
        f"--gin.MIXTURE_OR_TASK_NAME='{task}'",
        "--gin.TASK_FEATURE_LENGTHS={'inputs': 160, 'targets': 32}",
        *extra])
  finally:
    gin.clear_config()


def _one_error_line(capsys) -> str:
  err = [l for l in capsys.readouterr().err.splitlines()
         if l.startswith('error:')]
  assert len(err) == 1, err
  return err[0]


def test_eval_cli_unknown_task_suggests_the_closest(tiny_checkpoint, tmp_path,
                                                    capsys):
  assert _eval_cli(['--gin_file=models/t5_1_1/tiny.gin'], tiny_checkpoint,
                   tmp_path, task='builtin_party_options') == 2
  line = _one_error_line(capsys)
  assert "MIXTURE_OR_TASK_NAME='builtin_party_options'" in line
  assert 'Did you mean: builtin_parity_options' in line


def test_eval_cli_checkpoint_of_another_size_or_architecture(
    tiny_checkpoint, tmp_path, capsys):
  state = os.path.join(tiny_checkpoint, 'state')
  # The gin model is narrower than the checkpoint's (tiny.gin: emb_dim 64).
  assert _eval_cli(['--gin_file=models/t5_1_1/tiny.gin'], tiny_checkpoint,
                   tmp_path, extra=['--gin.network.T5Config.emb_dim=32']) == 2
  line = _one_error_line(capsys)
  assert state in line
  assert re.search(r'parameter [\w/]+ has shape \(([\d, ]*)64[\d, ]*\); the '
                   r'model gin file expects \(([\d, ]*)32[\d, ]*\)', line), line
  # A T5 checkpoint evaluated with a Llama gin file.
  assert _eval_cli(['--gin_file=models/llama/tiny.gin'], tiny_checkpoint,
                   tmp_path) == 2
  line = _one_error_line(capsys)
  assert state in line and re.search(r'parameter [\w/]+', line), line
  assert 'another architecture' in line


def test_empty_prediction_and_metrics_files(tmp_path, capsys):
  from instruct.evals import human  # pylint: disable=g-import-not-at-top
  from instruct.evals import plots  # pylint: disable=g-import-not-at-top
  eval_dir = tmp_path / 'eval'
  eval_dir.mkdir()
  empty = eval_dir / 'builtin_parity-000003.jsonl'
  empty.write_text('')
  assert human.main(['export', f'--system=a={eval_dir}',
                     f'--out={tmp_path / "sheet"}']) == 2
  line = _one_error_line(capsys)
  assert str(empty) in line and 'empty predictions file' in line
  metrics = eval_dir / 'metrics-3.json'
  metrics.write_text('\n')
  assert plots.main(['bars', f'--base={metrics}', f'--tuned={metrics}',
                     f'--out={tmp_path / "bars.png"}']) == 2
  line = _one_error_line(capsys)
  assert str(metrics) in line and 'empty metrics file' in line
  assert plots.main(['steps', f'--eval_dir={eval_dir}',
                     f'--out={tmp_path / "steps.png"}']) == 2
  assert 'empty metrics file' in _one_error_line(capsys)
