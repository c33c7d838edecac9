"""BIG-Bench Hard: files, prompts, answer extraction, SeqIO tasks, runner."""

import json
import os
import subprocess
import sys

import gin
import pytest
import seqio

from conftest import REPO_ROOT, SHARED_DATA, single_process_env
from instruct.errors import UserError
from instruct.evals import bbh
from instruct.evals.bbh import runner as bbh_runner

BBH_DIR = os.path.join(SHARED_DATA, 'bbh')
needs_bbh = pytest.mark.skipif(
    not os.path.isdir(os.path.join(BBH_DIR, 'cot-prompts')),
    reason=f'BBH files not found at {BBH_DIR}')


def _shared_tasks():
  if not os.path.isdir(os.path.join(BBH_DIR, 'tasks')):
    return []
  return sorted(f[:-5] for f in os.listdir(os.path.join(BBH_DIR, 'tasks'))
                if f.endswith('.json'))


PROMPT_FILE = """CANARY LINE: not for training.
-----
Say whether the number is even.

Q: Is 4 even?
A: Let's think step by step.
4 = 2 * 2. So the answer is yes.

Q: Which is even?
Options:
(A) 3
(B) 8
A: Let's think step by step. 8 = 2 * 4. So the answer is (B).
"""


def _write_dir(root, prompt=PROMPT_FILE, examples=None, name='parity'):
  os.makedirs(root / 'tasks', exist_ok=True)
  os.makedirs(root / 'cot-prompts', exist_ok=True)
  examples = examples if examples is not None else [
      {'input': 'Is 7 even?', 'target': 'no'},
      {'input': 'Which is even?\nOptions:\n(A) 2\n(B) 5', 'target': '(A)'}]
  (root / 'tasks' / f'{name}.json').write_text(
      json.dumps({'canary': 'x', 'examples': examples}))
  (root / 'cot-prompts' / f'{name}.txt').write_text(prompt)
  return str(root)


# --- Answer extraction. ----------------------------------------------------


@pytest.mark.parametrize('text, want', [
    (' yes\n\nQ: Is 9 even?\nA: no', 'yes'),
    (' False', 'False'),
    (' 8 = 2 * 4. So the answer is (B).\n\nQ: next\nA: So the answer is (C).',
     '(B)'),
    (' (B) 12/25/1937\n\nQ: more', '(B)'),
    ('Even. So the answer is arson aspect census.', 'arson aspect census'),
    (' no idea\nreally', 'no idea'),
    ('', ''),
])
def test_extract_answer(text, want):
  assert bbh.extract_answer(text) == want


def test_postprocessor_keeps_targets_and_accuracy_compares_answers():
  post = bbh.answer_postprocessor
  assert post(b' (A) ', is_target=True) == '(A)'
  targets = [post(t, is_target=True) for t in ['(A)', 'no', 'False']]
  answers = [post(p) for p in [' (A) 2\n\nQ: x', ' So the answer is no.',
                               ' True']]
  assert bbh.accuracy(targets, answers) == {
      'accuracy': pytest.approx(200 / 3)}


# --- Files and prompts. ----------------------------------------------------


def test_parse_prompt_file_and_prompts(tmp_path):
  path = _write_dir(tmp_path)
  prompt = bbh.parse_prompt_file(os.path.join(path, 'cot-prompts',
                                              'parity.txt'))
  assert prompt.canary == 'CANARY LINE: not for training.'
  assert prompt.description == 'Say whether the number is even.'
  assert [e.answer for e in prompt.exemplars] == ['yes', '(B)']
  assert prompt.exemplars[1].question == (
      'Which is even?\nOptions:\n(A) 3\n(B) 8')
  assert bbh.build_prompt(prompt, 'Is 7 even?', 'answer_only') == (
      'Say whether the number is even.\n\n'
      'Q: Is 4 even?\nA: yes\n\n'
      'Q: Which is even?\nOptions:\n(A) 3\n(B) 8\nA: (B)\n\n'
      'Q: Is 7 even?\nA:')
  assert bbh.build_prompt(prompt, 'Is 7 even?', 'cot') == (
      'Say whether the number is even.\n\n'
      "Q: Is 4 even?\nA: Let's think step by step.\n"
      '4 = 2 * 2. So the answer is yes.\n\n'
      'Q: Which is even?\nOptions:\n(A) 3\n(B) 8\n'
      "A: Let's think step by step. 8 = 2 * 4. So the answer is (B).\n\n"
      "Q: Is 7 even?\nA: Let's think step by step.")
  with pytest.raises(UserError, match="mode 'zs'"):
    bbh.build_prompt(prompt, 'x', 'zs')


@pytest.mark.parametrize('text, match', [
    ('canary\nDescription.\n\nQ: a\nA: So the answer is b.', 'separator'),
    ('canary\n-----\n\nQ: a\nA: So the answer is b.',
     r'\.txt:3: .*description'),
    ('canary\n-----\nD.\n\nQ: a\nA: b.\n', r'\.txt:5: exemplar 1 .*answer is'),
    ('canary\n-----\nD.\n\nQ: a\nA: So the answer is b.\n\nQ: c\nno answer\n',
     r'\.txt:8: exemplar 2 has no line starting with "A:"'),
    ('canary\n-----\nD.\n', 'no exemplar'),
])
def test_bad_prompt_files(tmp_path, text, match):
  path = tmp_path / 'p.txt'
  path.write_text(text)
  with pytest.raises(UserError, match=match):
    bbh.parse_prompt_file(str(path))


@pytest.mark.parametrize('content, match', [
    ('{"examples": [', r'\.json:1: not valid JSON'),
    ('{"canary": "x"}', '"examples" list'),
    ('{"examples": [{"input": "a"}]}', r'examples\[0\]\.target'),
    ('{"examples": []}', 'empty'),
])
def test_bad_task_files(tmp_path, content, match):
  path = tmp_path / 't.json'
  path.write_text(content)
  with pytest.raises(UserError, match=match):
    bbh.load_examples(str(path))


def test_directory_errors(tmp_path):
  with pytest.raises(UserError, match='does not exist'):
    bbh.task_files(str(tmp_path / 'missing'))
  with pytest.raises(UserError, match='no BBH task files'):
    bbh.task_files(str(tmp_path))
  path = _write_dir(tmp_path)
  os.remove(os.path.join(path, 'cot-prompts', 'parity.txt'))
  with pytest.raises(UserError, match=r'parity\.json: no prompt file'):
    bbh.task_files(path)


@needs_bbh
@pytest.mark.parametrize('task', _shared_tasks())
def test_shared_files_prompts_and_extraction(task):
  json_path, prompt_path = bbh.task_files(BBH_DIR)[task]
  prompt = bbh.parse_prompt_file(prompt_path)
  examples = bbh.load_examples(json_path)
  assert len(prompt.exemplars) == 3 and len(examples) > 0
  assert prompt.canary.startswith('BENCHMARK DATA SHOULD NEVER APPEAR')
  first = examples[0]
  answer_only = bbh.build_prompt(prompt, first['input'], 'answer_only')
  cot = bbh.build_prompt(prompt, first['input'], 'cot')
  assert answer_only.startswith(prompt.description + '\n\nQ: ')
  assert answer_only.endswith(f'\n\nQ: {first["input"]}\nA:')
  assert cot.endswith(f"\n\nQ: {first['input']}\nA: Let's think step by step.")
  assert answer_only.count('\nA: ') == 3 and cot.count('\nA: ') == 4
  assert "Let's think" not in answer_only and cot.count(bbh.COT_CUE) == 4
  for exemplar in prompt.exemplars:
    # Each answer-only shot is the final answer of the CoT shot, and reading
    # a CoT shot back as a model output gives that answer.
    assert f'Q: {exemplar.question}\nA: {exemplar.answer}\n' in answer_only
    assert bbh.extract_answer(' ' + exemplar.rationale + '\n\nQ: x') == (
        exemplar.answer)
    # Answers have the targets' form (multiple choice as '(X)').
    if first['target'].startswith('('):
      assert exemplar.answer in ('(A)', '(B)', '(C)', '(D)', '(E)', '(F)',
                                 '(G)')
  assert bbh.answer_postprocessor(first['target'], is_target=True) == (
      first['target'])
  assert bbh.extract_answer(f' So the answer is {first["target"]}.') == (
      first['target'])


@needs_bbh
def test_one_shared_prompt_exactly():
  prompt = bbh.parse_prompt_file(
      os.path.join(BBH_DIR, 'cot-prompts', 'sports_understanding.txt'))
  question = ('Is the following sentence plausible? "Elias Lindholm beat the '
              'buzzer."')
  assert bbh.build_prompt(prompt, question, 'answer_only') == (
      'Determine whether an artificially constructed sentence relating to '
      'sports is plausible or not.\n\n'
      'Q: Is the following sentence plausible? "Bam Adebayo scored a reverse '
      'layup in the Western Conference Finals."\nA: yes\n\n'
      'Q: Is the following sentence plausible? "Santi Cazorla scored a '
      'touchdown."\nA: no\n\n'
      'Q: Is the following sentence plausible? "DeMar DeRozan was called for '
      'the goal tend."\nA: yes\n\n'
      f'Q: {question}\nA:')


# --- SeqIO tasks. ----------------------------------------------------------


def test_registered_tasks_build_prompts_and_score(tmp_path):
  path = _write_dir(tmp_path, name='Parity-Test')
  names = bbh.register_bbh_dir(path)
  assert names == ['bbh_parity_test_answer_only', 'bbh_parity_test_cot']
  try:
    prompt = bbh.parse_prompt_file(os.path.join(path, 'cot-prompts',
                                                'Parity-Test.txt'))
    for name, mode in zip(names, bbh.MODES):
      task = seqio.get_mixture_or_task(name)
      examples = list(task.get_dataset(None, split='test', shuffle=False)
                      .as_numpy_iterator())
      assert [e['idx'] for e in examples] == [0, 1]
      assert examples[1]['inputs_pretokenized'].decode() == bbh.build_prompt(
          prompt, 'Which is even?\nOptions:\n(A) 2\n(B) 5', mode)
      # Prompts are continued: no EOS after them (the byte vocabulary's
      # EOS is 1).
      assert examples[0]['inputs'][-1] != 1
      assert examples[0]['targets'][-1] == 1
      targets = [task.postprocess_fn(e['targets_pretokenized'], example=e,
                                     is_target=True) for e in examples]
      answers = [task.postprocess_fn(p, example=e) for p, e in zip(
          [' So the answer is no.\n\nQ: x', ' (B) 5'], examples)]
      assert targets == ['no', '(A)'] and answers == ['no', '(B)']
      scores = {}
      for fn in task.metric_fns:
        scores.update(fn(targets, answers))
      assert scores == {'accuracy': 50.0}
    with pytest.raises(UserError, match="only the 'test' split"):
      seqio.get_mixture_or_task(names[0]).get_dataset(None, split='train')
  finally:
    for name in names:
      seqio.TaskRegistry.remove(name)


@needs_bbh
@pytest.mark.e2e
@pytest.mark.parametrize('env, want', [({}, 0), ({'INSTRUCT_BBH_DIR': BBH_DIR},
                                                 2 * len(_shared_tasks()))])
def test_tasks_module_registers_only_when_configured(env, want):
  environ = single_process_env()
  environ.pop('INSTRUCT_BBH_DIR', None)
  environ.update(env)
  out = subprocess.run(
      [sys.executable, '-c',
       'import seqio, tasks.bbh; '
       'print(len([n for n in seqio.TaskRegistry.names() '
       'if n.startswith("bbh_")]))'],
      cwd=REPO_ROOT, env=environ, capture_output=True, text=True, check=True)
  assert int(out.stdout.strip().splitlines()[-1]) == want


# --- Runner. ---------------------------------------------------------------


def test_runner_bad_flags(tmp_path, capsys):
  path = _write_dir(tmp_path)
  assert bbh_runner.main([f'--bbh_dir={path}', '--tasks=nope']) == 2
  assert "--tasks: nope not in" in capsys.readouterr().err
  assert bbh_runner.main([f'--bbh_dir={path}', '--model=gpt9']) == 2
  assert "--model='gpt9'" in capsys.readouterr().err
  assert bbh_runner.main([f'--bbh_dir={tmp_path / "none"}']) == 2
  assert 'does not exist' in capsys.readouterr().err


def test_markdown_table():
  results = [{'task': 't1', 'mode': 'answer_only', 'num_examples': 4,
              'accuracy': 25.0},
             {'task': 't1', 'mode': 'cot', 'num_examples': 4,
              'accuracy': 50.0},
             {'task': 't2', 'mode': 'answer_only', 'num_examples': 2,
              'accuracy': 100.0}]
  assert bbh_runner.markdown_table(results, bbh.MODES).splitlines() == [
      '| task | examples | answer_only accuracy (%) | cot accuracy (%) |',
      '|---|---|---|---|',
      '| t1 | 4 | 25.0 | 50.0 |',
      '| t2 | 2 | 100.0 | - |',
      '| **mean** | | 62.5 | 50.0 |']


@needs_bbh
@pytest.mark.slow
@pytest.mark.e2e
def test_runner_on_smollm2(tmp_path):
  from instruct.models import gguf
  try:
    gguf.smollm2_gguf_path()
  except UserError as e:
    pytest.skip(str(e))
  output = tmp_path / 'bbh.json'
  proc = subprocess.run(
      [sys.executable, '-m', 'instruct.evals.bbh', '--model=smollm2',
       f'--bbh_dir={BBH_DIR}',
       '--tasks=sports_understanding,date_understanding',
       '--max_examples=3', '--batch_size=3', '--mode=both',
       '--max_cot_tokens=96', f'--output={output}'],
      cwd=REPO_ROOT, env=single_process_env(), capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-3000:]
  print(proc.stdout)
  result = json.loads(output.read_text())
  got = {(r['task'], r['mode']): r for r in result['results']}
  assert set(got) == {(t, m) for t in ('sports_understanding',
                                       'date_understanding')
                      for m in bbh.MODES}
  for r in got.values():
    assert r['num_examples'] == 3 and len(r['predictions']) == 3
    assert 0.0 <= r['accuracy'] <= 100.0
    # The accuracy is the share of predictions whose answer is the target.
    assert r['accuracy'] == pytest.approx(
        100 * sum(p['answer'] == p['target'] for p in r['predictions']) / 3)
    assert all(p['output'] for p in r['predictions'])
  assert '| sports_understanding | 3 |' in proc.stdout
  assert result['table'] in proc.stdout
