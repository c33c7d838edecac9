"""Human evaluation: export a blinded sheet, fill it, import, kappa by hand."""

import csv
import json
import os

import numpy as np
import pytest
import seqio
import tensorflow as tf

from instruct.errors import UserError
from instruct.evals import human

TARGETS = ['blue', 'seven', 'paris', 'dog']
INPUTS = [f'Question {i}: what is it?' for i in range(len(TARGETS))]


def _write_predictions(eval_dir, predictions, task='builtin_qa', step=100):
  """Writes predictions exactly as seqio.JSONLogger does during evaluation."""
  ds = tf.data.Dataset.from_tensor_slices({
      'inputs_pretokenized': INPUTS, 'targets_pretokenized': TARGETS})
  os.makedirs(eval_dir, exist_ok=True)
  logger = seqio.JSONLogger(output_dir=str(eval_dir))
  logger(task_name=task, step=step, metrics={}, dataset=ds,
         inferences={'prediction': list(predictions)}, targets=list(TARGETS))
  return os.path.join(eval_dir, f'{task}-{step:06}.jsonl')


@pytest.fixture(name='systems')
def _systems(tmp_path):
  base, tuned = tmp_path / 'base', tmp_path / 'tuned'
  _write_predictions(base, ['wrong'] * len(TARGETS))
  _write_predictions(tuned, TARGETS)
  return {'base': str(base), 'tuned': str(tuned)}


def _rows(path):
  with open(path, newline='', encoding='utf-8') as f:
    return list(csv.DictReader(f))


def _write_sheet(path, rows):
  with open(path, 'w', newline='', encoding='utf-8') as f:
    w = csv.DictWriter(f, fieldnames=human.SHEET_COLUMNS)
    w.writeheader()
    w.writerows(rows)


def test_reads_seqio_jsonlogger_files(tmp_path):
  path = _write_predictions(tmp_path, ['a', 'b', 'c', 'd'])
  preds = human.read_predictions(path)
  assert [p.input for p in preds] == INPUTS
  assert [p.target for p in preds] == TARGETS
  assert [p.prediction for p in preds] == ['a', 'b', 'c', 'd']
  assert preds[0].task == 'builtin_qa' and preds[0].step == 100


def test_export_is_blinded_seeded_and_self_contained(tmp_path, systems):
  res = human.export_sheet(systems, str(tmp_path / 'out'), num_items=3,
                           seed=1)
  assert (res.num_items, res.num_rows) == (3, 6)
  rows = _rows(res.csv_path)
  assert list(rows[0]) == list(human.SHEET_COLUMNS)
  text = open(res.csv_path).read() + open(res.html_path).read()
  for secret in ('base', 'tuned', 'builtin_qa'):
    assert secret not in text  # Blinded: no system or task names.
  page = open(res.html_path).read()
  assert 'http' not in page and '<link' not in page and 'src=' not in page
  for c in human.CRITERIA:
    assert human.RUBRIC[c].split('?')[0] in page
  key = json.load(open(res.key_path))
  # Each item's responses, unblinded through the key, are the right system's.
  for r in rows:
    system = key['items'][r['item_id']]['slots'][r['slot']]
    assert (r['response'] == 'wrong') == (system == 'base')
  # Same seed, same sheet; the A/B order is randomised per item.
  again = human.export_sheet(systems, str(tmp_path / 'again'), num_items=3,
                             seed=1)
  assert _rows(again.csv_path) == rows
  firsts = set()
  for seed in range(3):
    many = human.export_sheet(systems, str(tmp_path / f'many{seed}'),
                              num_items=4, seed=seed)
    items = json.load(open(many.key_path))['items']
    firsts |= {items[i]['slots']['A'] for i in items}
  assert firsts == {'base', 'tuned'}


def _fill(rows, relevance, harmful):
  """Correctness 5 for a right answer, 1 otherwise; the rest as given."""
  out = []
  for r, rel, harm in zip(rows, relevance, harmful):
    r = dict(r)
    r.update(correctness='5' if r['response'] == r['reference'] else '1',
             relevance=str(rel), fluency='4', harmful=harm)
    out.append(r)
  return out


def test_round_trip_scores_unblinded_and_kappa_by_hand(tmp_path, systems):
  res = human.export_sheet(systems, str(tmp_path / 'out'), num_items=2,
                           seed=3)
  rows = sorted(_rows(res.csv_path), key=lambda r: (r['item_id'], r['slot']))
  assert len(rows) == 4
  # Relevance: rater 1 = 5,4,3,5; rater 2 = 5,4,2,5. Observed agreement
  # 3/4; chance: 5 -> (2/4)(2/4), 4 -> (1/4)(1/4), others 0 = 5/16;
  # kappa = (3/4 - 5/16) / (1 - 5/16) = 7/11.
  _write_sheet(tmp_path / 'ann.csv', _fill(rows, [5, 4, 3, 5],
                                           ['yes', 'no', 'yes', 'no']))
  _write_sheet(tmp_path / 'bob.csv', _fill(rows, [5, 4, 2, 5],
                                           ['yes', 'no', 'yes', 'yes']))
  report = human.import_ratings(res.key_path, [str(tmp_path / 'ann.csv'),
                                               str(tmp_path / 'bob.csv')])
  assert report.agreement_method == "Cohen's kappa"
  assert report.agreement['relevance'] == pytest.approx(7 / 11)
  assert report.agreement['correctness'] == pytest.approx(1.0)
  assert np.isnan(report.agreement['fluency'])  # One category only.
  assert report.scores[('tuned', 'builtin_qa')]['correctness'] == 5.0
  assert report.scores[('base', 'builtin_qa')]['correctness'] == 1.0
  assert report.counts == {('tuned', 'builtin_qa'): 2,
                           ('base', 'builtin_qa'): 2}
  # Three raters: harmful counts per row (yes, no) = (3,0), (0,3), (2,1),
  # (1,2). p_yes = p_no = 1/2, P_e = 1/2; P_i = 1, 1, 1/3, 1/3, mean 2/3;
  # Fleiss' kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
  _write_sheet(tmp_path / 'cat.csv', _fill(rows, [5, 4, 3, 5],
                                           ['yes', 'no', 'no', 'no']))
  report = human.import_ratings(res.key_path, [
      str(tmp_path / f'{n}.csv') for n in ('ann', 'bob', 'cat')])
  assert report.agreement_method == "Fleiss' kappa"
  assert report.agreement['harmful'] == pytest.approx(1 / 3)
  md = report.markdown()
  assert '| tuned | builtin_qa | 2 | 5.00 |' in md and 'Fleiss' in md


def test_fleiss_kappa_hand_example_and_perfect_agreement():
  assert human.fleiss_kappa([[3, 0], [0, 3], [2, 1], [1, 2]]) == (
      pytest.approx(1 / 3))
  assert human.fleiss_kappa([[0, 2, 0], [2, 0, 0], [0, 0, 2]]) == (
      pytest.approx(1.0))
  with pytest.raises(ValueError, match='same number'):
    human.fleiss_kappa([[2, 0], [1, 0]])


def test_bad_sheets_name_file_row_and_column(tmp_path, systems):
  res = human.export_sheet(systems, str(tmp_path / 'out'), num_items=2)
  rows = _fill(_rows(res.csv_path), [5, 4, 3, 5], ['no'] * 4)
  bad = [dict(r) for r in rows]
  bad[1]['fluency'] = '7'
  _write_sheet(tmp_path / 'r1.csv', bad)
  with pytest.raises(UserError, match=r"r1\.csv, row 3, column 'fluency': "
                     r"'7' is out of range"):
    human.import_ratings(res.key_path, [str(tmp_path / 'r1.csv')])
  bad = [dict(r) for r in rows]
  bad[2]['correctness'] = ''
  _write_sheet(tmp_path / 'r2.csv', bad)
  with pytest.raises(UserError, match=r"r2\.csv, row 4, column "
                     r"'correctness': missing value"):
    human.import_ratings(res.key_path, [str(tmp_path / 'r2.csv')])
  _write_sheet(tmp_path / 'r3.csv', rows[:3])
  with pytest.raises(UserError, match=r'r3\.csv: 1 response\(s\) not rated'):
    human.import_ratings(res.key_path, [str(tmp_path / 'r3.csv')])


def test_empty_prediction_file_is_one_clear_message(tmp_path, capsys):
  eval_dir = tmp_path / 'eval'
  eval_dir.mkdir()
  (eval_dir / 'builtin_qa-000100.jsonl').write_text('')
  code = human.main(['export', f'--system=tuned={eval_dir}',
                     f'--out={tmp_path / "out"}'])
  err = capsys.readouterr().err
  assert code == 2
  assert err.startswith('error: ') and 'builtin_qa-000100.jsonl: empty ' \
      'predictions file' in err
  assert human.main(['export', f'--system=tuned={tmp_path / "nope"}',
                     f'--out={tmp_path / "out"}']) == 2
  assert 'no such evaluation directory' in capsys.readouterr().err


def test_cli_round_trip(tmp_path, systems, capsys):
  out = tmp_path / 'out'
  assert human.main(['export', f'--system=base={systems["base"]}',
                     f'--system=tuned={systems["tuned"]}', f'--out={out}',
                     '--num_items=4', '--seed=0']) == 0
  rows = _rows(out / 'sheet.csv')
  _write_sheet(tmp_path / 'solo.csv', _fill(rows, [3] * 8, ['no'] * 8))
  capsys.readouterr()
  assert human.main(['import', f'--key={out / "key.json"}',
                     str(tmp_path / 'solo.csv')]) == 0
  printed = capsys.readouterr().out
  assert '| base | builtin_qa | 4 | 1.00 | 3.00 | 4.00 | 0.0 |' in printed
  assert '| tuned | builtin_qa | 4 | 5.00 |' in printed
