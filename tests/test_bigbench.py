"""BIG-bench JSON tasks: parsing, prompts, SeqIO tasks, metrics, bad files."""

import json

import numpy as np
import pytest
from rouge_score import rouge_scorer
import sacrebleu
import seqio

from instruct.errors import UserError
from instruct.evals import bigbench

MC_TASK = {
    'name': 'tiny_colors', 'description': 'Pick the colour.',
    'keywords': ['multiple choice'], 'metrics': ['multiple_choice_grade'],
    'preferred_score': 'multiple_choice_grade',
    'task_prefix': 'Colours.\n',
    'examples': [
        {'input': f'What colour is thing {i}?',
         'target_scores': {'red': int(i % 3 == 0), 'green': int(i % 3 == 1),
                           'blue': int(i % 3 == 2)}}
        for i in range(6)],
}
GEN_TASK = {
    'name': 'tiny_echo', 'description': 'Repeat the word.',
    'keywords': [], 'metrics': ['exact_str_match', 'bleu', 'rouge'],
    'preferred_score': 'exact_str_match',
    'example_input_prefix': '\nInput: ', 'example_output_prefix': '\nOutput: ',
    'few_shot_example_separator': '\n\n',
    'examples': [{'input': f'word{i}', 'target': [f'word{i}', f'w{i}']}
                 if i % 2 else {'input': f'word{i}', 'target': f'word{i}'}
                 for i in range(5)],
}


def _write(root, name, task):
  folder = root / name
  folder.mkdir(parents=True)
  (folder / 'task.json').write_text(json.dumps(task))
  return str(folder / 'task.json')


@pytest.fixture
def bb_dir(tmp_path):
  _write(tmp_path, 'tiny_colors', MC_TASK)
  _write(tmp_path, 'tiny_echo', GEN_TASK)
  # A task with subtasks: the top-level task.json has no examples.
  _write(tmp_path, 'parts', {'name': 'parts', 'description': 'x',
                             'keywords': [], 'metrics': []})
  _write(tmp_path / 'parts', 'one', dict(MC_TASK, name='parts:one'))
  return tmp_path


def test_prompts_follow_the_task_json_fields(bb_dir):
  task = bigbench.load_task(str(bb_dir / 'tiny_colors' / 'task.json'))
  assert task.kinds == ('mc',)
  assert bigbench.build_prompt(task, 0, 'mc') == (
      'Colours.\n\nQ: What colour is thing 0?\n  choice: red\n  choice: green'
      '\n  choice: blue\nA: ')
  gen = bigbench.load_task(str(bb_dir / 'tiny_echo' / 'task.json'))
  assert gen.kinds == ('gen',) and gen.examples[1].targets == ('word1', 'w1')
  prompt = bigbench.build_prompt(gen, 2, 'gen', shots=2, seed=7)
  ids = bigbench.exemplar_ids(5, 2, 2, seed=7)
  assert prompt == '\n\n'.join(
      [f'Input: word{ids[0]}\nOutput: word{ids[0]}',
       f'\nInput: word{ids[1]}\nOutput: word{ids[1]}',
       '\nInput: word2\nOutput: '])


def test_exemplars_are_fixed_and_never_the_example_itself():
  for index in range(6):
    ids = bigbench.exemplar_ids(6, index, 5, seed=1)
    assert sorted(ids) == [j for j in range(6) if j != index]
  assert bigbench.exemplar_ids(50, 3, 3) == bigbench.exemplar_ids(50, 3, 3)
  draws = {tuple(bigbench.exemplar_ids(50, 3, 3, seed=s)) for s in range(5)}
  assert len(draws) > 1  # The seed matters.
  with pytest.raises(UserError, match='3-shot needs at least 4 examples'):
    bigbench.exemplar_ids(3, 0, 3)


def test_registered_tasks_and_their_datasets(bb_dir):
  names = bigbench.register_bigbench_dir(str(bb_dir), shots=(0, 2))
  assert sorted(names) == sorted([
      'bigbench_tiny_colors_mc_zs', 'bigbench_tiny_colors_mc_2shot',
      'bigbench_tiny_echo_gen_zs', 'bigbench_tiny_echo_gen_2shot',
      'bigbench_parts_one_mc_zs', 'bigbench_parts_one_mc_2shot'])
  mixture = seqio.get_mixture_or_task('bigbench_2shot')
  assert len(mixture.tasks) == 3
  mc = seqio.get_mixture_or_task('bigbench_tiny_colors_mc_zs')
  rows = list(mc.get_dataset(None, split='test', shuffle=False)
              .as_numpy_iterator())
  assert len(rows) == 18  # 6 examples x 3 options.
  assert [r['targets_pretokenized'].decode() for r in rows[:3]] == [
      'red', 'green', 'blue']
  assert [float(r['target_score']) for r in rows[:6]] == [1, 0, 0, 0, 1, 0]
  assert {int(r['idx']) for r in rows} == set(range(6))
  assert [f.__name__ for f in mc.score_metric_fns] == ['multiple_choice_grade']
  gen = seqio.get_mixture_or_task('bigbench_tiny_echo_gen_2shot')
  rows = list(gen.get_dataset(None, split='test', shuffle=False)
              .as_numpy_iterator())
  assert len(rows) == 5
  for i, row in enumerate(rows):
    inputs = row['inputs_pretokenized'].decode()
    assert inputs.endswith(f'Input: word{i}\nOutput: ')
    # Two exemplars, none of them the example itself.
    assert inputs.count('Input: ') == 3 and inputs.count(f'word{i}\n') == 1
  assert [list(r['references']) for r in rows[:2]] == [
      [b'word0'], [b'word1', b'w1']]
  assert sorted(f.__name__ for f in gen.predict_metric_fns) == [
      'bleu', 'exact_str_match', 'rouge']
  with pytest.raises(UserError, match="only the 'test' split"):
    list(gen.get_dataset(None, split='validation', shuffle=False))


def test_multiple_choice_grade_by_hand():
  # Example 0: option 1 scores best and has target score 1 -> 1.
  # Example 1: option 0 best, target score 0.5 -> 0.5 (partial credit).
  # Example 2: a tie goes to the first option (target score 0) -> 0.
  # Example 3: cut short by a cap (2 of 3 options) -> left out.
  targets = [(0, 0.0, 2), (0, 1.0, 2), (1, 0.5, 2), (1, 1.0, 2),
             (2, 0.0, 2), (2, 1.0, 2), (3, 1.0, 3), (3, 0.0, 3)]
  scores = [-3.0, -1.0, -0.5, -2.0, -1.0, -1.0, -0.1, -9.0]
  got = bigbench.multiple_choice_grade(targets, scores)
  assert got == {'multiple_choice_grade': pytest.approx(100 * 1.5 / 3)}


def test_generative_metrics_against_the_reference_libraries():
  targets = [['the cat sat on the mat', 'a cat was on the mat'],
             ['dogs bark at night']]
  predictions = ['a cat was on the mat', 'the dogs bark at night loudly']
  assert bigbench.exact_str_match(targets, predictions) == {
      'exact_str_match': 50.0}
  assert bigbench.exact_str_match([['x']], ['  x ']) == {
      'exact_str_match': 100.0}
  want = sacrebleu.corpus_bleu(predictions, [
      ['the cat sat on the mat', 'dogs bark at night'],
      ['a cat was on the mat', None]]).score
  assert bigbench.bleu(targets, predictions)['bleu'] == pytest.approx(want)
  scorer = rouge_scorer.RougeScorer(['rouge1'], use_stemmer=True)
  want = np.mean([max(scorer.score(r, p)['rouge1'].fmeasure for r in t)
                  for t, p in zip(targets, predictions)]) * 100
  assert bigbench.rouge(targets, predictions)['rouge1'] == pytest.approx(want)


def test_generation_postprocessor_cuts_at_the_next_exemplar(tmp_path):
  task = bigbench.load_task(_write(tmp_path, 'echo', GEN_TASK))
  stops = bigbench.stop_strings(task)
  assert bigbench.generation_postprocessor(
      ' word3 \nInput: word4\nOutput: word4', stops=stops) == 'word3'
  assert bigbench.generation_postprocessor(
      b'x', example={'references': np.array([b'a', b'b'])},
      is_target=True) == ['a', 'b']


@pytest.mark.parametrize('task, message', [
    ({'name': 'x', 'metrics': ['exact_str_match']}, r'no "examples" list'),
    ({'examples': []}, 'must be a non-empty list'),
    ({'examples': [{'input': 'a', 'target': 'b'}, {'input': 'c'}]},
     r'examples\[1\] has neither "target" nor "target_scores"'),
    ({'examples': [{'target': 'b'}]}, r'examples\[0\] has no "input"'),
    ({'examples': [{'input': 'a', 'target': 3}]},
     r'examples\[0\]\.target must be a string or a non-empty list'),
    ({'examples': [{'input': 'a', 'target_scores': {'y': 'high'}}]},
     r"examples\[0\]\.target_scores\['y'\] must be a number"),
    ({'metrics': ['multiple_choice_grade'],
      'examples': [{'input': 'a', 'target_scores': {'y': 1}},
                   {'input': 'b', 'target': 'z'}]},
     r'examples\[1\] has no "target_scores"'),
    ({'metrics': ['bleurt'], 'examples': [{'input': 'a', 'target': 'b'}]},
     'none of the supported metrics'),
])
def test_malformed_task_files_name_the_file_and_example(tmp_path, task,
                                                         message):
  path = _write(tmp_path, 'bad', task)
  with pytest.raises(UserError, match=message) as e:
    bigbench.load_task(path)
  assert path in str(e.value)


def test_invalid_json_and_missing_dir(tmp_path):
  bad = tmp_path / 'broken'
  bad.mkdir()
  (bad / 'task.json').write_text('{"examples": [\n  {"input": "a",}\n]}')
  with pytest.raises(UserError, match=r'task.json:2: not valid JSON'):
    bigbench.register_bigbench_dir(str(tmp_path))
  with pytest.raises(UserError, match='does not exist'):
    bigbench.register_bigbench_dir(str(tmp_path / 'nope'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(UserError, match='no BIG-bench tasks'):
    bigbench.register_bigbench_dir(str(tmp_path / 'empty'))


def test_configured_dir_from_gin_or_environment(monkeypatch):
  import gin  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv(bigbench.ENV_VAR, '/from/env')
  assert bigbench.configured_dir() == '/from/env'
  with gin.unlock_config():
    gin.bind_parameter('instruct.evals.bigbench.bigbench_dir.path', '/gin')
  try:
    assert bigbench.configured_dir() == '/gin'
  finally:
    gin.clear_config()
  monkeypatch.delenv(bigbench.ENV_VAR)
  assert bigbench.configured_dir() is None
