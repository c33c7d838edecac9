"""Prompt robustness: per-template and paraphrase scores summarised per task."""

import json
import os

import pytest
import seqio

from instruct.data import builtin
from instruct.errors import UserError
from instruct.evals import robustness


def test_summary_mean_worst_spread_std_by_hand():
  summary = robustness.summarize({
      'qa': {'0': 40.0, '1': 60.0, '2': 80.0, '3': 60.0},
      'nli': {'0': 50.0}})
  qa = summary['qa']
  assert (qa.num_templates, qa.mean, qa.worst, qa.best, qa.spread) == (
      4, 60.0, 40.0, 80.0, 40.0)
  # Deviations -20, 0, 20, 0: variance (400 + 400) / 4 = 200.
  assert qa.std == pytest.approx(200 ** 0.5)
  assert qa.worst_template == '0'
  assert (summary['nli'].spread, summary['nli'].std) == (0.0, 0.0)
  table = robustness.markdown_table(summary)
  assert '| qa | 4 | 0 | 60.00 | 40.00 | 80.00 | 40.00 | 14.14 | 0 |' in table


def test_scores_from_metrics_and_bad_input():
  results = {'builtin_parity_template0': {'exact_match': 70.0},
             'builtin_parity_template1': {'exact_match': 30.0},
             'builtin_uppercase': {'exact_match': 99.0}}
  scores = robustness.scores_from_metrics(results)
  assert scores == {'builtin_parity': {'0': 70.0, '1': 30.0}}
  with pytest.raises(UserError, match='non-finite score'):
    robustness.summarize({'t': {'0': float('nan'), '1': 1.0}})
  with pytest.raises(UserError, match='no per-template scores'):
    robustness.summarize({'t': {}})
  with pytest.raises(UserError, match='No results of per-template tasks'):
    robustness.scores_from_metrics({'builtin_uppercase': {'accuracy': 1.0}})


def test_per_template_tasks_use_one_template_each():
  names = robustness.register_builtin_template_tasks('uppercase')
  task = builtin.get_task('uppercase')
  assert sorted(names) == list(range(len(task.templates)))
  mixture = seqio.get_mixture_or_task('builtin_uppercase_all_templates')
  assert sorted(t.name for t in mixture.tasks) == sorted(names.values())
  first = {}
  for i in (0, len(task.templates) - 1):  # A seen and a held-out template.
    ds = seqio.get_mixture_or_task(names[i]).get_dataset(
        None, split='validation', shuffle=False)
    ex = [e for _, e in zip(range(3), ds.as_numpy_iterator())]
    assert {int(e['_template_idx']) for e in ex} == {i}
    first[i] = ex[0]
  # Same example, different wording.
  assert first[0]['targets_pretokenized'] == first[
      len(task.templates) - 1]['targets_pretokenized']
  assert first[0]['inputs_pretokenized'] != first[
      len(task.templates) - 1]['inputs_pretokenized']
  with pytest.raises(UserError, match='not a built-in task'):
    robustness.register_builtin_template_tasks('nope')


def test_paraphrase_scores_count_as_wordings():
  results = {'builtin_parity_template0': {'exact_match': 70.0},
             'builtin_parity_template0_para0': {'exact_match': 10.0},
             'builtin_parity_template1_para2': {'exact_match': 40.0},
             'builtin_parity_template1': {'exact_match': 30.0}}
  scores = robustness.scores_from_metrics(results)
  assert scores == {'builtin_parity': {'0': 70.0, '0/p0': 10.0, '1': 30.0,
                                       '1/p2': 40.0}}
  s = robustness.summarize(scores)['builtin_parity']
  assert (s.num_templates, s.num_paraphrases, s.worst, s.best, s.spread,
          s.worst_template) == (2, 2, 10.0, 70.0, 60.0, '0/p0')
  assert s.mean == pytest.approx(37.5)


def test_builtin_paraphrases_keep_placeholders_and_are_deterministic():
  for name in builtin.TASK_NAMES:
    task = builtin.get_task(name)
    paras = robustness.builtin_paraphrases(name)
    assert paras == robustness.builtin_paraphrases(name)
    assert sorted(paras) == list(range(len(task.templates)))
    for i, patterns in paras.items():
      assert 2 <= len(patterns) <= 3, (name, i, patterns)
      want = sorted(robustness._placeholders(task.templates[i].inputs))  # pylint: disable=protected-access
      for p in patterns:
        assert p != task.templates[i].inputs
        assert sorted(robustness._placeholders(p)) == want, (name, i, p)  # pylint: disable=protected-access
  # The family rewrite touches literal text only.
  assert robustness.paraphrase_template(
      'What is {a} {op} {b}?', 'arithmetic') == [
          'Calculate {a} {op} {b}?',
          'Solve this math question.\nWhat is {a} {op} {b}?',
          'What is {a} {op} {b}?\nAnswer:']
  assert robustness.paraphrase_template('Headline: {headline}\nTopic:',
                                        'topic_classification') == [
      'Title: {headline}\nCategory:',
      'Classify the text.\nHeadline: {headline}\nTopic:']


def test_paraphrase_tasks_change_only_the_instruction(tmp_path):
  task = builtin.get_task('parity')
  names = robustness.register_paraphrase_tasks('parity')
  assert (0, 0) in names and names[(0, 0)] == 'builtin_parity_template0_para0'
  template_task = robustness.register_builtin_template_tasks('parity')[0]

  def first(name):
    ds = seqio.get_mixture_or_task(name).get_dataset(
        None, split='validation', shuffle=False)
    return next(ds.as_numpy_iterator())

  base, para = first(template_task), first(names[(0, 0)])
  assert int(para['_template_idx']) == 0
  assert para['targets_pretokenized'] == base['targets_pretokenized']
  assert para['inputs_pretokenized'] != base['inputs_pretokenized']
  want = robustness.builtin_paraphrases('parity')[0][0]
  number = base['inputs_pretokenized'].decode().split()[1]
  assert para['inputs_pretokenized'].decode() == want.format(number=number)
  # The user's own paraphrases replace the built-in ones.
  path = tmp_path / 'paras.jsonl'
  path.write_text(json.dumps({'task': 'parity', 'template_idx': 0,
                              'paraphrase': 'Odd or even: {number}?'}) + '\n')
  own = robustness.read_paraphrases(str(path))
  assert own == {'parity': {0: ['Odd or even: {number}?']}}
  members = robustness.register_robustness_mixture(['parity'], own)
  assert len(members) == len(task.templates) + 1
  assert first('builtin_parity_template0_para0')[
      'inputs_pretokenized'].decode() == f'Odd or even: {number}?'


@pytest.mark.parametrize('content, message', [
    ('', 'empty paraphrases file'),
    ('{"task": "parity"}\n', 'line 1: expected an object with'),
    ('\n{bad\n', 'line 2: not valid JSON'),
    ('{"task": "nope", "template_idx": 0, "paraphrase": "x"}',
     "line 1: 'nope' is not a built-in task"),
    ('{"task": "parity", "template_idx": 99, "paraphrase": "{number}"}',
     'template_idx 99 is not in 0..11'),
    ('{"task": "parity", "template_idx": 0, "paraphrase": "Odd or even?"}',
     r"placeholders \[\]; template 0 of parity has \['number'\]"),
])
def test_bad_paraphrase_files(tmp_path, content, message):
  path = tmp_path / 'p.jsonl'
  path.write_text(content)
  with pytest.raises(UserError, match=message) as e:
    robustness.read_paraphrases(str(path))
  assert str(path) in str(e.value)


def test_summarize_cli_writes_table_json_and_png(tmp_path, capsys):
  metrics = {'builtin_parity_template0': {'exact_match': 70.0},
             'builtin_parity_template0_para0': {'exact_match': 10.0},
             'builtin_nli_template3': {'exact_match': 50.0}}
  path = tmp_path / 'metrics-7.json'
  path.write_text(json.dumps({'step': 7, 'metrics': metrics}))
  assert robustness.main(['summarize', f'--metrics={path}',
                          f'--out_dir={tmp_path / "out"}']) == 0
  out = capsys.readouterr().out
  assert '| builtin_parity | 1 | 1 | 40.00 | 10.00 | 70.00 | 60.00 |' in out
  assert os.path.exists(tmp_path / 'out' / 'robustness-7.md')
  saved = json.load(open(tmp_path / 'out' / 'robustness-7.json'))
  assert saved['summary']['builtin_nli']['spread'] == 0.0
  with open(tmp_path / 'out' / 'robustness-7.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  # An empty metrics file: one clear line, exit 2.
  empty = tmp_path / 'metrics-8.json'
  empty.write_text('')
  assert robustness.main(['summarize', f'--metrics={empty}',
                          f'--out_dir={tmp_path}']) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: ') and (
      'empty metrics file' in err[0] and str(empty) in err[0])


@pytest.mark.slow  # Evaluates 13 wordings of a task with a tiny checkpoint.
def test_robustness_cli_evaluates_templates_and_paraphrases(
    tiny_t5_checkpoint, tmp_path, capsys):
  import gin  # pylint: disable=g-import-not-at-top
  checkpoint = tiny_t5_checkpoint
  paras = tmp_path / 'paras.jsonl'
  paras.write_text(json.dumps({'task': 'parity', 'template_idx': 2,
                               'paraphrase': 'Even or odd? {number}'}))
  out = tmp_path / 'out'
  gin.clear_config()
  try:
    assert robustness.main([
        '--tasks=parity', f'--paraphrases={paras}',
        '--gin_file=models/t5_1_1/tiny.gin',
        '--gin_file=models/vocab/byte.gin', '--gin_file=runs/eval.gin',
        f"--gin.CHECKPOINT_PATH='{checkpoint}'",
        f"--gin.EVAL_OUTPUT_DIR='{out}'",
        "--gin.TASK_FEATURE_LENGTHS={'inputs': 192, 'targets': 8}",
        '--gin.EVAL_STEPS=2', '--gin.BATCH_SIZE=4',
        '--gin.DecodingConfig.max_decode_length=4']) == 0
  finally:
    gin.clear_config()
  table = capsys.readouterr().out
  assert '| builtin_parity | 12 | 1 |' in table
  saved = json.load(open(out / 'robustness-3.json'))
  assert set(saved['scores']['builtin_parity']) == {
      str(i) for i in range(12)} | {'2/p0'}
  assert (out / 'robustness-3.png').exists()
  assert (out / 'robustness-3.md').exists()
