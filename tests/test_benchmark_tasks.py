"""Tests of the benchmark evaluation tasks (instruct.evals.benchmarks).

Offline: TFDS data comes from `tfds.testing.mock_data` (random examples shaped
by each builder's real feature spec); MMLU from CSV files written here.
"""

import functools
import os

import numpy as np
import pytest
import seqio
import tensorflow_datasets as tfds

from instruct import metrics
from instruct.errors import UserError
from instruct.evals import benchmarks
from instruct.evals import qa_metrics
import tasks.benchmarks as bench_tasks

ALL_TASKS = bench_tasks.TASK_NAMES


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def _mock():
  # Small ints keep HellaSwag's int label inside its 4 endings.
  return tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE,
                                num_examples=8, max_value=2)


def _examples(task_name, n):
  task = seqio.get_mixture_or_task(task_name)
  with _mock():
    ds = task.get_dataset(sequence_length=None, split=task.splits[0],
                          shuffle=False, use_cached=False)
    return list(ds.take(n).as_numpy_iterator())


@functools.lru_cache(maxsize=None)
def _raw(bench_name, split):
  with _mock():
    return list(benchmarks.get_benchmark(bench_name).load(split).take(2)
                .as_numpy_iterator())


def test_registration_reads_no_data_and_names(monkeypatch):
  def _no_load(*args, **kwargs):
    raise AssertionError(f'tfds.load called at registration: {args}')

  monkeypatch.setattr(tfds, 'load', _no_load)
  monkeypatch.delenv(benchmarks.MMLU_ENV_VAR, raising=False)
  registered = benchmarks.register_all()
  expected = {'squad_v1', 'squad_v2', 'trivia_qa', 'arc_easy',
              'arc_challenge', 'piqa', 'hellaswag', 'snli', 'mnli_matched',
              'mnli_mismatched', 'qnli', 'rte', 'anli_r1', 'anli_r2',
              'anli_r3', 'cnn_dailymail', 'wmt16_de_en', 'gsm8k'}
  assert set(registered) == expected
  assert registered['rte'] == {0: 'bench_rte_zs', 5: 'bench_rte_5shot'}
  mixture = seqio.get_mixture_or_task(benchmarks.ALL_ZS_MIXTURE)
  assert sorted(t.name for t in mixture.tasks) == sorted(
      f'bench_{n}_zs' for n in expected)


def test_builders_exist_without_manual_download(tmp_path):
  available = set(tfds.list_builders())
  for name in ('squad', 'trivia_qa', 'ai2_arc', 'piqa', 'hellaswag', 'snli',
               'glue', 'super_glue', 'anli', 'cnn_dailymail', 'gsm8k',
               'wmt16_translate'):
    assert name in available, name
  builder = tfds.builder('gsm8k:1.0.0', data_dir=str(tmp_path))
  assert set(builder.info.features) == {'question', 'answer', 'annotation',
                                        'short_answer'}
  assert not getattr(builder, 'MANUAL_DOWNLOAD_INSTRUCTIONS', None)


@pytest.mark.parametrize('task_name', ALL_TASKS)
def test_every_task_yields_formatted_examples(task_name):
  bench = benchmarks.get_benchmark(task_name)
  shots = 0 if task_name.endswith('_zs') else benchmarks.DEFAULT_SHOTS
  examples = _examples(task_name, 6)
  assert examples
  for ex in examples:
    assert _text(ex['inputs_pretokenized']).strip()
    assert _text(ex['targets_pretokenized']).strip()
    assert ex['inputs'].size > 0 and ex['targets'].size > 0
    assert _text(ex['_task_source']) == 'bench'
    assert _text(ex['_task_name']) == bench.name
    assert int(ex['_num_shots']) == shots
    if shots:
      # The query comes after `shots` exemplars separated by blank lines.
      assert _text(ex['inputs_pretokenized']).count('\n\n') >= shots
  if bench.scoring == 'rank':
    first = [ex for ex in examples if ex['idx'] == examples[0]['idx']]
    num_options = int(first[0]['num_options'])
    assert num_options >= 2
    if len(first) == num_options:
      assert sum(int(ex['is_correct']) for ex in first) == 1
    else:  # Mock ARC can have dozens of options; all rows are example 0's.
      assert len(first) == len(examples) < num_options
    assert len({_text(ex['inputs_pretokenized']) for ex in first}) == 1
  if benchmarks.REFERENCES_KEY in examples[0]:
    refs = benchmarks.qa_postprocessor(
        examples[0]['targets_pretokenized'], example=examples[0],
        is_target=True)
    assert isinstance(refs, list)


def test_squad_v1_zero_shot_exact_format():
  raw = _raw('squad_v1', 'validation')[0]
  ex = _examples('bench_squad_v1_zs', 1)[0]
  assert _text(ex['inputs_pretokenized']) == (
      f'Title: {_text(raw["title"])}\nBackground: {_text(raw["context"])}\n'
      f'Question: {_text(raw["question"])}\nAnswer:')
  assert _text(ex['targets_pretokenized']) == _text(raw['answer'])
  refs = [_text(r) for r in ex['references']]
  assert refs[0] == _text(raw['answer']) and refs == [
      _text(r) for r in raw['references']]


def test_snli_zero_shot_exact_format_and_rank_rows():
  raw = _raw('snli', 'test')[0]
  rows = _examples('bench_snli_zs', 3)
  expected = (f'Premise: {_text(raw["premise"])}\nHypothesis: '
              f'{_text(raw["hypothesis"])}\nDoes the premise entail the '
              'hypothesis?\n\nOPTIONS:\n- yes\n- it is not possible to tell'
              '\n- no')
  assert [_text(r['inputs_pretokenized']) for r in rows] == [expected] * 3
  assert [_text(r['targets_pretokenized']) for r in rows] == [
      'yes', 'it is not possible to tell', 'no']
  assert [int(r['is_correct']) for r in rows] == [
      int(i == raw['label']) for i in range(3)]


def test_gsm8k_five_shot_exact_format():
  pool = {_text(r['question']): _text(r['answer'])
          for r in _raw('gsm8k', 'train')}
  ex = _examples('bench_gsm8k_5shot', 1)[0]
  cue = "Answer: Let's think step by step."
  blocks = _text(ex['inputs_pretokenized']).split('\n\n')
  assert len(blocks) == 6
  for block in blocks[:5]:
    question, rest = block.split('\n', 1)
    assert question.startswith('Question: ')
    assert rest.startswith(cue + '\n')
  assert blocks[5].startswith('Question: ') and blocks[5].endswith(cue)
  assert pool  # The pool is the train split.


def _write_mmlu(root, rows_by_split):
  for split, rows in rows_by_split.items():
    os.makedirs(root / split, exist_ok=True)
    (root / split / f'high_school_physics_{split}.csv').write_text(
        '\n'.join(rows) + '\n')


def test_mmlu_from_csv_exact_format(tmp_path):
  _write_mmlu(tmp_path, {
      'dev': ['"What is 1+1, in total?",1,2,3,4,B'] * 6,
      'test': ['Which is heaviest?,a feather,a brick,a coin,a pin,B'],
  })
  names = benchmarks.register_benchmark(
      benchmarks.mmlu_benchmark(str(tmp_path)))
  rows = _examples(names[0], 10)
  assert len(rows) == 4
  assert _text(rows[0]['inputs_pretokenized']) == (
      'The following is a multiple choice question about high school '
      'physics.\n\nWhich is heaviest?\nA. a feather\nB. a brick\nC. a coin\n'
      'D. a pin\nAnswer:')
  assert [_text(r['targets_pretokenized']) for r in rows] == list('ABCD')
  assert [int(r['is_correct']) for r in rows] == [0, 1, 0, 0]
  shot = _examples(names[5], 1)[0]
  assert _text(shot['inputs_pretokenized']).count(
      'What is 1+1, in total?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:\nB') == 5


def test_mmlu_bad_row_names_file_and_line(tmp_path):
  _write_mmlu(tmp_path, {'test': ['q,a,b,c,d,A', 'q,a,b,c,d,E']})
  with pytest.raises(UserError, match=r'high_school_physics_test.csv, line 2'):
    benchmarks.read_mmlu_rows(str(tmp_path), 'test')
  with pytest.raises(UserError, match='no files match'):
    benchmarks.read_mmlu_rows(str(tmp_path / 'missing'), 'test')


# --- Metrics and postprocessors on fixed inputs. -----------------------------


@pytest.mark.parametrize('text, expected', [
    ('She has 3 + 4 = 7 apples.\n#### 7', '7'),
    ('Total is $1,250.00 so the answer is 1,250.', '1250'),
    ('5 boxes of 12 eggs give 60 eggs, minus 2.5 -> 57.5', '57.5'),
    ('#### -3\n\nQuestion: 10 more', '-3'),
    ('no number here', ''),
])
def test_gsm8k_answer_extraction(text, expected):
  assert benchmarks.extract_final_number(text) == expected


def test_gsm8k_metric_through_postprocessor():
  targets = ['2 + 2 = 4\n#### 4', 'So 10 * 3 = 30\n#### 30']
  predictions = ['2 and 2 make 4. The answer is 4.', 'It is 31.']
  post = benchmarks.gsm8k_postprocessor
  result = metrics.exact_match(
      [post(t, is_target=True) for t in targets], [post(p) for p in predictions])
  assert result == {'exact_match': 50.0}


def test_trivia_qa_aliases():
  example = {'references': np.array([b'Barack Obama', b'Obama',
                                     b'President Obama'], dtype=object)}
  target = benchmarks.qa_postprocessor(b'Barack Obama', example=example,
                                       is_target=True)
  assert target == ['Barack Obama', 'Obama', 'President Obama']
  prediction = benchmarks.qa_postprocessor(' obama.\nQuestion: next')
  assert prediction == 'obama.'
  scores = qa_metrics.squad([target, target], [prediction, 'Michelle Obama'])
  assert scores['em'] == pytest.approx(50.0)
  # F1 of 'Michelle Obama' is best against 'Obama' (2pr/(p+r), p=.5, r=1).
  assert scores['f1'] == pytest.approx(100.0 * (1.0 + 2 / 3) / 2)


def test_squad_v2_unanswerable():
  no_answer = {'references': np.array([], dtype=object)}
  target = benchmarks.qa_postprocessor(b'unanswerable', example=no_answer,
                                       is_target=True)
  assert target == []
  prediction = benchmarks.qa_postprocessor('Unanswerable.')
  assert prediction == ''
  scores = qa_metrics.squad_v2([target, ['Paris']], [prediction, 'paris'])
  assert scores['em'] == 100.0 and scores['no_ans_em'] == 100.0


def test_rank_classification_grouping():
  # Two examples, expanded to 3 and 2 rows, interleaved out of order.
  rows = [
      {'idx': 1, 'is_correct': 0, 'num_options': 2},
      {'idx': 0, 'is_correct': 0, 'num_options': 3},
      {'idx': 0, 'is_correct': 1, 'num_options': 3},
      {'idx': 1, 'is_correct': 1, 'num_options': 2},
      {'idx': 0, 'is_correct': 0, 'num_options': 3},
  ]
  targets = [metrics.rank_classification_target('x', example=r,
                                                is_target=True) for r in rows]
  assert targets[0] == (1, 0, 2)
  # Example 0: best is the correct row; example 1: best is the wrong row.
  scores = [-0.5, -3.0, -1.0, -2.0, -4.0]
  assert metrics.rank_classification_accuracy(targets, scores) == {
      'accuracy': 50.0}
  task = seqio.get_mixture_or_task('bench_arc_easy_zs')
  assert task.postprocessor is metrics.rank_classification_target
  assert [f.__name__ for f in task.score_metric_fns] == [
      'rank_classification_accuracy']


def test_generation_metrics_are_wired():
  names = {t: [f.__name__ for f in seqio.get_mixture_or_task(t).metric_fns]
           for t in ('bench_squad_v2_zs', 'bench_cnn_dailymail_zs',
                     'bench_wmt16_de_en_5shot', 'bench_gsm8k_zs')}
  assert names == {'bench_squad_v2_zs': ['squad_v2'],
                   'bench_cnn_dailymail_zs': ['rouge', 'rouge_l'],
                   'bench_wmt16_de_en_5shot': ['bleu_chrf'],
                   'bench_gsm8k_zs': ['exact_match']}
  result = benchmarks.rouge_l(['the cat sat on the mat'],
                              ['the cat sat on a mat'])
  assert result['rougeL'] == pytest.approx(100.0 * 5 / 6)
