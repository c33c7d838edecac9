"""`python -m instruct.infer`: prompts from files or tasks, decoding options."""

import json
import subprocess
import sys

import gin
import numpy as np
import pytest

from conftest import REPO_ROOT, single_process_env
from instruct import decoding
from instruct import gin_utils
from instruct import infer
import tiny

MODEL_GIN = ['--gin_file=models/t5_1_1/tiny.gin',
             '--gin_file=models/vocab/byte.gin']
LENGTHS = {'inputs': 32, 'targets': 8}
STEP = 3


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
  """(model, params, checkpoint dir) for the tiny byte-level T5 of the gin."""
  model = tiny.gin_model(tiny.T5_GIN)
  shapes = {'encoder_input_tokens': (2, LENGTHS['inputs']),
            'decoder_input_tokens': (2, LENGTHS['targets'])}
  params = tiny.init_params(model, shapes)
  model_dir = tmp_path_factory.mktemp('run')
  tiny.save_checkpoint(model_dir, params, STEP)
  return model, params, model_dir


def _run(argv, capsys):
  gin.clear_config()
  try:
    status = gin_utils.run_main(infer.main, argv)
  finally:
    gin.clear_config()
  captured = capsys.readouterr()
  return status, captured.out, captured.err.strip().splitlines()


def _argv(ckpt_dir, out_dir, *extra):
  return MODEL_GIN + [
      '--gin_file=runs/infer.gin', f"--gin.CHECKPOINT_PATH='{ckpt_dir}'",
      f"--gin.INFER_OUTPUT_DIR='{out_dir}'",
      f'--gin.TASK_FEATURE_LENGTHS={LENGTHS}', '--gin.BATCH_SIZE=2',
      *extra]


def _rows(path):
  return [json.loads(line) for line in open(path)]


PROMPTS = ['What is 2 + 3?', 'Name a colour.', 'Is 7 odd or even?']


def test_text_file_with_beam_search(ckpt, tmp_path, capsys):
  model, params, ckpt_dir = ckpt
  prompts = tmp_path / 'questions.txt'
  prompts.write_text(PROMPTS[0] + '\n\n' + '\n'.join(PROMPTS[1:]) + '\n')
  status, out, err = _run(_argv(
      ckpt_dir, tmp_path / 'out', f'--input_file={prompts}',
      "--gin.DecodingConfig.method='beam'", '--gin.DecodingConfig.beam_size=3',
      '--gin.DecodingConfig.num_samples=2'), capsys)
  assert status == 0, err
  assert 'skipped 1 blank line' in out
  rows = _rows(tmp_path / 'out' / f'questions-{STEP}.jsonl')
  assert [r['inputs'] for r in rows] == PROMPTS
  assert [r['line'] for r in rows] == [1, 3, 4]
  assert [r['index'] for r in rows] == [0, 1, 2]
  for r in rows:
    assert len(r['predictions']) == len(r['scores']) == 2
    assert r['prediction'] == r['predictions'][0]
    assert r['scores'][0] >= r['scores'][1]

  # The same beams as the model's own predict path on the same prompts.
  vocab = model.input_vocabulary
  enc = np.zeros((3, LENGTHS['inputs']), np.int32)
  for i, text in enumerate(PROMPTS):
    ids = list(vocab.encode(text)) + [1]
    enc[i, :len(ids)] = ids
  config = decoding.plain_config(method='beam', beam_size=3, num_samples=2)
  tokens, aux = model.predict_batch_with_aux(
      params, {'encoder_input_tokens': enc,
               'decoder_target_tokens': np.zeros((3, LENGTHS['targets']),
                                                 np.int32)},
      decoding_config=config)
  for i, r in enumerate(rows):
    assert r['predictions'] == [vocab.decode([int(t) for t in seq])
                                for seq in np.asarray(tokens[i])]
    np.testing.assert_allclose(r['scores'], np.asarray(aux['scores'][i]),
                               rtol=1e-5)


def test_jsonl_with_sampling_is_reproducible(ckpt, tmp_path, capsys):
  _, _, ckpt_dir = ckpt
  prompts = tmp_path / 'prompts.jsonl'
  prompts.write_text(''.join(json.dumps({'inputs': p, 'id': f'q{i}'}) + '\n'
                             for i, p in enumerate(PROMPTS)))
  sample = ["--gin.DecodingConfig.method='sample'",
            '--gin.DecodingConfig.num_samples=3',
            '--gin.DecodingConfig.top_p=0.95',
            '--gin.DecodingConfig.temperature=2.0',
            f"--gin.INFER_INPUT_FILE='{prompts}'"]
  runs = []
  for name in ('a', 'b'):
    status, _, err = _run(_argv(ckpt_dir, tmp_path / name, *sample), capsys)
    assert status == 0, err
    runs.append(_rows(tmp_path / name / f'prompts-{STEP}.jsonl'))
  assert runs[0] == runs[1]
  rows = runs[0]
  assert [r['id'] for r in rows] == ['q0', 'q1', 'q2']  # carried over
  for r in rows:
    assert set(r) >= {'index', 'line', 'inputs', 'prediction', 'predictions',
                      'scores'}
    assert len(r['predictions']) == 3 and len(set(r['predictions'])) > 1
    assert all(isinstance(s, float) and s < 0 for s in r['scores'])


def test_task_prompts_with_beams(ckpt, tmp_path, capsys):
  _, _, ckpt_dir = ckpt
  status, _, err = _run(_argv(
      ckpt_dir, tmp_path, "--gin.MIXTURE_OR_TASK_NAME='builtin_parity'",
      "--gin.TASK_FEATURE_LENGTHS={'inputs': 160, 'targets': 8}",
      '--gin.INFER_NUM_EXAMPLES=3', "--gin.DecodingConfig.method='beam'",
      '--gin.DecodingConfig.beam_size=2', '--gin.DecodingConfig.num_samples=2'),
                        capsys)
  assert status == 0, err
  rows = _rows(tmp_path / f'builtin_parity-{STEP}.jsonl')
  assert len(rows) == 3
  assert all(r['target'] and len(r['predictions']) == 2 for r in rows)


# -----------------------------------------------------------------------------
# Bad input: one line naming the file (and line), exit status 2.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('name,content,expected', [
    ('empty.txt', '', 'empty.txt: no prompts in it'),
    ('blank.jsonl', '\n  \n', 'blank.jsonl: no prompts in it'),
    ('bad.jsonl', '{"inputs": "a"}\n{"inputs": "b",}\n',
     'bad.jsonl:2: not valid JSON'),
    ('noinputs.jsonl', '{"inputs": "a"}\n\n{"prompt": "b"}\n',
     "noinputs.jsonl:3: expected a JSON object with a string \"inputs\" field, "
     "got an object with fields ['prompt']"),
    ('number.jsonl', '{"inputs": 7}\n', 'number.jsonl:1: expected a JSON'),
    ('long.txt', 'short\n' + 'x' * 40 + '\n',
     "long.txt:2: the prompt is 41 tokens, longer than "
     "TASK_FEATURE_LENGTHS['inputs'] = 32"),
])
def test_bad_prompt_files(ckpt, tmp_path, capsys, name, content, expected):
  path = tmp_path / name
  path.write_text(content)
  status, _, err = _run(_argv(ckpt[2], tmp_path / 'out',
                              f'--input_file={path}'), capsys)
  assert status == 2
  assert err[-1].startswith('error: ') and expected in err[-1], err
  assert not (tmp_path / 'out').exists()


def test_task_and_file_are_exclusive(ckpt, tmp_path, capsys):
  path = tmp_path / 'p.txt'
  path.write_text('hi\n')
  status, _, err = _run(_argv(ckpt[2], tmp_path, f'--input_file={path}',
                              "--gin.MIXTURE_OR_TASK_NAME='builtin_parity'"),
                        capsys)
  assert status == 2 and 'not both' in err[-1]
  status, _, err = _run(_argv(ckpt[2], tmp_path), capsys)
  assert status == 2 and '--input_file' in err[-1]
  assert 'MIXTURE_OR_TASK_NAME' in err[-1]


def test_bad_decoding_option(ckpt, tmp_path, capsys):
  path = tmp_path / 'p.txt'
  path.write_text('hi\n')
  status, _, err = _run(_argv(ckpt[2], tmp_path, f'--input_file={path}',
                              "--gin.DecodingConfig.method='nucleus'"), capsys)
  assert status == 2 and "DecodingConfig.method = 'nucleus'" in err[-1]


@pytest.mark.slow  # A fresh interpreter: about 15 s of imports.
@pytest.mark.e2e
def test_missing_file_from_the_command_line(ckpt, tmp_path):
  missing = tmp_path / 'nowhere.txt'
  proc = subprocess.run(
      [sys.executable, '-m', 'instruct.infer',
       *_argv(ckpt[2], tmp_path / 'out', f'--input_file={missing}')],
      cwd=REPO_ROOT, env=single_process_env(), capture_output=True, text=True,
      timeout=300)
  assert proc.returncode == 2
  last = proc.stderr.strip().splitlines()[-1]
  assert last == (f'error: Prompt file {missing} does not exist '
                  '(INFER_INPUT_FILE / --input_file).')
