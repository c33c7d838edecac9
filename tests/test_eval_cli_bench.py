"""Benchmarks, BBH and BIG-bench tasks end to end through `instruct.eval`.

A tiny T5 (the gin `tiny.gin` model with the byte vocabulary) with random
weights, saved as an Orbax checkpoint in T5X's layout (the session fixture
`tiny_t5_checkpoint` of conftest.py), is evaluated by the CLI's `main`. TFDS data comes from `tfds.testing.mock_data` (offline); BBH and
BIG-bench task folders are written by the tests.
"""

import json
import os

import gin
import pytest
import seqio
import tensorflow_datasets as tfds

from instruct import configurables  # pylint: disable=unused-import
from instruct import eval as eval_lib
from instruct import gin_utils
from instruct.evals import bbh
from instruct.evals import bigbench
import tasks  # pylint: disable=unused-import

MODEL_GIN = ['--gin_file=models/t5_1_1/tiny.gin',
             '--gin_file=models/vocab/byte.gin']
LENGTHS = {'inputs': 256, 'targets': 32}


@pytest.fixture
def checkpoint(tiny_t5_checkpoint):
  return tiny_t5_checkpoint


def run_eval(checkpoint_path, out_dir, task, *extra):
  gin.clear_config()
  try:
    return gin_utils.run_main(eval_lib.main, MODEL_GIN + [
        '--gin_file=runs/eval.gin',
        f"--gin.CHECKPOINT_PATH='{checkpoint_path}'",
        f"--gin.EVAL_OUTPUT_DIR='{out_dir}'",
        f"--gin.MIXTURE_OR_TASK_NAME='{task}'",
        f'--gin.TASK_FEATURE_LENGTHS={LENGTHS}', '--gin.BATCH_SIZE=8',
        '--gin.DecodingConfig.max_decode_length=8', *extra])
  finally:
    gin.clear_config()


def _predictions(out_dir, task, step=3):
  path = os.path.join(out_dir, f'{task}-{step:06d}.jsonl')
  assert os.path.exists(path), sorted(os.listdir(out_dir))
  with open(path) as f:
    return [json.loads(line) for line in f]


@pytest.mark.slow  # About 20 s: two benchmarks, scoring and decoding.
def test_rank_and_generative_benchmarks_through_the_cli(checkpoint, tmp_path):
  mixture = 'test_bench_piqa_squad_zs'
  if mixture in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(mixture)
  seqio.MixtureRegistry.add(mixture, ['bench_piqa_zs', 'bench_squad_v1_zs'],
                            default_rate=1.0)
  out = tmp_path / 'eval'
  with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE,
                              num_examples=4, max_value=2):
    assert run_eval(checkpoint, out, mixture, '--gin.EVAL_STEPS=8') == 0
  metrics = json.load(open(out / 'metrics-3.json'))
  assert metrics['step'] == 3
  assert set(metrics['metrics']['bench_piqa_zs']) == {'accuracy'}
  assert set(metrics['metrics']['bench_squad_v1_zs']) == {'em', 'f1'}
  assert 0 <= metrics['metrics']['bench_piqa_zs']['accuracy'] <= 100
  table = open(out / 'results-3.md').read()
  for row in ('| bench_piqa_zs | accuracy |', '| bench_squad_v1_zs | em |',
              '| bench_squad_v1_zs | f1 |'):
    assert row in table
  # Rank classification logs a score per option; generation a prediction.
  piqa = _predictions(str(out), 'bench_piqa_zs')
  assert len(piqa) == 8 and all('score' in r for r in piqa)
  squad = _predictions(str(out), 'bench_squad_v1_zs')
  assert len(squad) == 4 and all('prediction' in r for r in squad)


BBH_PROMPT = """BBH-style canary line.
-----
Answer the yes/no question.

Q: Is 2 even?
A: Let's think step by step. 2 divides by 2. So the answer is yes.

Q: Is 3 even?
A: Let's think step by step. 3 does not. So the answer is no.

Q: Is 4 even?
A: Let's think step by step. 4 divides by 2. So the answer is yes.
"""


def test_bbh_and_bigbench_tasks_through_the_cli(checkpoint, tmp_path, capsys):
  bbh_dir = tmp_path / 'bbh'
  (bbh_dir / 'tasks').mkdir(parents=True)
  (bbh_dir / 'cot-prompts').mkdir()
  (bbh_dir / 'tasks' / 'evenness.json').write_text(json.dumps(
      {'canary': 'x', 'examples': [
          {'input': f'Is {n} even?', 'target': 'yes' if n % 2 == 0 else 'no'}
          for n in range(5, 10)]}))
  (bbh_dir / 'cot-prompts' / 'evenness.txt').write_text(BBH_PROMPT)
  bbh.register_bbh_dir(str(bbh_dir))
  bb_dir = tmp_path / 'bigbench' / 'odd_one'
  bb_dir.mkdir(parents=True)
  (bb_dir / 'task.json').write_text(json.dumps({
      'name': 'odd_one', 'description': 'd', 'keywords': [],
      'metrics': ['multiple_choice_grade', 'exact_str_match'],
      'preferred_score': 'multiple_choice_grade',
      'examples': [{'input': f'Which is odd: {n}, {n + 1}?',
                    'target_scores': {str(n): n % 2, str(n + 1): 1 - n % 2},
                    'target': str(n if n % 2 else n + 1)}
                   for n in range(4)]}))
  bigbench.register_bigbench_dir(str(bb_dir.parent), shots=(0, 1))
  mixture = 'test_bbh_bigbench'
  if mixture in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(mixture)
  members = ['bbh_evenness_answer_only', 'bigbench_odd_one_mc_1shot',
             'bigbench_odd_one_gen_zs']
  seqio.MixtureRegistry.add(mixture, members, default_rate=1.0)
  out = tmp_path / 'eval'
  # These tasks only have 'test': the default split is refused, clearly.
  assert run_eval(checkpoint, out, mixture) == 2
  err = capsys.readouterr().err.strip().splitlines()[-1]
  assert err.startswith("error: EVAL_SPLIT='validation'") and "'test'" in err
  assert run_eval(checkpoint, out, mixture, "--gin.EVAL_SPLIT='test'") == 0
  metrics = json.load(open(out / 'metrics-3.json'))['metrics']
  assert set(metrics['bbh_evenness_answer_only']) == {'accuracy'}
  assert set(metrics['bigbench_odd_one_mc_1shot']) == {
      'multiple_choice_grade'}
  assert set(metrics['bigbench_odd_one_gen_zs']) == {'exact_str_match'}
  table = open(out / 'results-3.md').read()
  assert '| bigbench_odd_one_mc_1shot | multiple_choice_grade |' in table
  assert len(_predictions(str(out), 'bbh_evenness_answer_only')) == 5
  assert len(_predictions(str(out), 'bigbench_odd_one_mc_1shot')) == 8
