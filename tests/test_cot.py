"""Tests for chain-of-thought templates, answer extraction and Flan CoT TSVs."""

import os

import pytest
import seqio

from instruct.data import cot
from instruct.data import registry
from instruct.errors import UserError
from tests.conftest import SHARED_DATA

COT_DIR = os.path.join(SHARED_DATA, 'flan_cot')
_FILES = sorted(f for f in os.listdir(COT_DIR) if f.endswith('.tsv')) if (
    os.path.isdir(COT_DIR)) else []
needs_data = pytest.mark.skipif(
    not _FILES, reason=f'Flan CoT files not found in {COT_DIR} (shared data '
    'is not part of the repository).')


def _write(tmp_path, name, text, mode='w'):
  path = tmp_path / name
  if mode == 'wb':
    path.write_bytes(text)
  else:
    path.write_text(text, encoding='utf-8')
  return str(path)


# --- Templates and extraction. ---------------------------------------------


def test_at_least_ten_distinct_templates():
  assert len(cot.COT_TEMPLATES) >= 10
  assert len({t.inputs for t in cot.COT_TEMPLATES}) == len(cot.COT_TEMPLATES)
  assert len({t.targets for t in cot.COT_TEMPLATES}) == len(cot.COT_TEMPLATES)
  for t in cot.COT_TEMPLATES:
    assert set(t.fields) == {'question', 'rationale', 'answer'}
    assert t.targets.startswith('{rationale}')
    assert t.targets.endswith('{answer}.')


@pytest.mark.parametrize('text,answer', [
    ('48 / 2 = 24. 48 + 24 = 72. So the answer is 72.', '72'),
    ('Reasons.\nTherefore, the answer is Washington D.C..', 'Washington D.C.'),
    ('x The final answer: bloody mess.', 'bloody mess'),
    ('The answer is no. Wait. Actually the answer is yes.', 'yes'),
    ('ANSWER: (B) no', '(B) no'),
    ('just 12', 'just 12'),
    (b'So the answer is caf\xc3\xa9.', 'caf\u00e9'),
    ('My final answer is 3.5.', '3.5'),
])
def test_extract_answer(text, answer):
  assert cot.extract_answer(text) == answer
  assert cot.cot_answer_postprocessor(text, example={}, is_target=True) == (
      answer)


def test_extraction_round_trips_every_template():
  fields = {'question': 'Q?', 'rationale': 'The answer is not obvious. '
            'Answer: maybe.', 'answer': 'answer questions'}
  for t in cot.COT_TEMPLATES:
    _, target = t.format(fields)
    assert cot.extract_answer(target) == 'answer questions', t.name


# --- TSV loading and bad input. ---------------------------------------------


def test_load_unescapes_newlines(tmp_path):
  path = _write(tmp_path, 'x_train.tsv',
                'Q1\\nOptions:\\n- a\\n- b\ta\tR1 \\n more\n'
                'Q2\tb\tR2\n')
  rows, report = cot.load_cot_tsv(path)
  assert rows == [
      {'question': 'Q1\nOptions:\n- a\n- b', 'answer': 'a',
       'rationale': 'R1 \n more'},
      {'question': 'Q2', 'answer': 'b', 'rationale': 'R2'}]
  assert report.rows == 2 and not report.bad_rows


@pytest.mark.parametrize('line,match', [
    ('only\ttwo', r'bad\.tsv:2: expected 3 tab-separated columns .* found 2'),
    ('a\tb\tc\td', r'bad\.tsv:2: expected 3 .* found 4'),
    ('question\t \trationale', r"bad\.tsv:2: field 'answer' is empty"),
    ('\tanswer\trationale', r"bad\.tsv:2: field 'question' is empty"),
])
def test_bad_rows_raise_with_file_and_line(tmp_path, line, match):
  path = _write(tmp_path, 'bad.tsv', f'Q\tA\tR\n{line}\nQ3\tA3\tR3\n')
  with pytest.raises(UserError, match=match):
    cot.load_cot_tsv(path)


def test_skip_bad_rows_counts_them(tmp_path):
  path = _write(tmp_path, 'bad.tsv',
                'Q\tA\tR\nonly\ttwo\n\nQ\t\tR\nQ3\tA3\tR3\n')
  rows, report = cot.load_cot_tsv(path, skip_bad_rows=True)
  assert [r['answer'] for r in rows] == ['A', 'A3']
  assert report.rows == 2 and report.blank_lines == 1
  assert [n for n, _ in report.bad_rows] == [2, 4]
  assert 'found 2' in report.bad_rows[0][1]
  assert "'answer' is empty" in report.bad_rows[1][1]
  text = str(report)
  assert '2 rows loaded' in text and '2 bad rows skipped' in text
  assert 'line 4' in text


def test_non_utf8_names_file_and_line(tmp_path):
  path = _write(tmp_path, 'latin.tsv', b'Q\tA\tR\nQ\t\xe9t\xe9\tR\n',
                mode='wb')
  with pytest.raises(UserError, match=r'latin\.tsv:2: not valid UTF-8'):
    cot.load_cot_tsv(path)


def test_missing_file(tmp_path):
  with pytest.raises(UserError, match='Cannot read CoT file'):
    cot.load_cot_tsv(str(tmp_path / 'nope.tsv'))


def test_spec_is_lazy_and_registers(tmp_path):
  path = _write(tmp_path, 'toy_train.tsv',
                ''.join(f'What is {i} + {i}?\t{2 * i}\t{i} + {i} = {2 * i}.\n'
                        for i in range(8)))
  spec = cot.cot_tsv_spec('toy_cot_test', path, num_validation=2)
  assert dict(spec.num_examples) == {'train': 6, 'validation': 2}
  names = registry.register_dataset(spec)
  try:
    assert set(names) == {'zs_noopt', 'fs_noopt', 'fs1_noopt', 'fs2_noopt',
                          'fs3_noopt', 'fs5_noopt', 'xs_noopt', 'cot',
                          'fs_cot'}
    task = seqio.get_mixture_or_task(names['cot'])
    examples = list(task.get_dataset(None, split='validation',
                                     shuffle=False).as_numpy_iterator())
    assert [e['inputs_pretokenized'].decode() for e in examples] == [
        "What is 6 + 6?\nLet's think step by step.",
        'What is 7 + 7?\nThink it through step by step, then answer.']
    assert [e['targets_pretokenized'].decode() for e in examples] == [
        '6 + 6 = 12. So the answer is 12.',
        '7 + 7 = 14.\nTherefore, the answer is 14.']
    for e in examples:
      assert task.postprocess_fn(e['targets_pretokenized'], example=e,
                                 is_target=True) in ('12', '14')
    # Few-shot CoT: exemplars are CoT-formatted train rows.
    fs = seqio.get_mixture_or_task(names['fs_cot'])
    ex = next(fs.get_dataset(None, split='validation',
                             shuffle=False).as_numpy_iterator())
    inputs = ex['inputs_pretokenized'].decode()
    assert inputs.endswith("What is 6 + 6?\nLet's think step by step.")
    assert inputs.count('the answer is') + inputs.count('answer:') >= 1
    assert ex['_num_shots'] >= 1
  finally:
    registry.unregister_dataset('cot', 'toy_cot_test')


def test_register_cot_dir(tmp_path, monkeypatch):
  from tasks import cot as cot_tasks  # pylint: disable=g-import-not-at-top
  _write(tmp_path, 'My-Data_train.tsv', 'Q\tA\tR\n')
  _write(tmp_path, 'notes.txt', 'ignored')
  assert cot_tasks.dataset_name('GSM8K_train.tsv') == 'gsm8k'
  try:
    assert cot_tasks.register_cot_dir(str(tmp_path)) == ['my_data']
    assert 'cot_my_data_cot' in seqio.TaskRegistry.names()
  finally:
    registry.unregister_dataset('cot', 'my_data')
  with pytest.raises(UserError, match='does not exist'):
    cot_tasks.register_cot_dir(str(tmp_path / 'missing'))


# --- Acceptance: the real Flan CoT files. ------------------------------------

# Rows whose answer cannot be read back, with the reason. Empty: every row of
# every file round-trips through every template.
KNOWN_MISSES = {}


@needs_data
@pytest.mark.parametrize('filename', _FILES)
def test_real_files_every_row_round_trips(filename):
  path = os.path.join(COT_DIR, filename)
  rows, report = cot.load_cot_tsv(path)
  with open(path, 'rb') as f:
    lines = sum(1 for line in f if line.strip())
  assert report.rows == len(rows) == lines and not report.bad_rows
  misses = []
  for number, row in enumerate(rows, start=1):
    assert row['question'] and row['answer'] and row['rationale']
    for template in cot.COT_TEMPLATES:
      _, target = template.format(row)
      if cot.cot_answer_postprocessor(target, is_target=True) != row['answer']:
        misses.append((filename, number, template.name))
  assert misses == [m for m in misses if m[:2] in KNOWN_MISSES], misses[:10]


@needs_data
@pytest.mark.parametrize('filename', _FILES)
def test_real_files_through_seqio(filename):
  """The TF-formatted targets of the registered task extract to the answer."""
  from tasks import cot as cot_tasks  # pylint: disable=g-import-not-at-top
  name = 'real_' + cot_tasks.dataset_name(filename)
  path = os.path.join(COT_DIR, filename)
  rows, _ = cot.load_cot_tsv(path)
  names = registry.register_dataset(cot.cot_tsv_spec(name, path),
                                    variants=['cot'])
  try:
    task = seqio.get_mixture_or_task(names['cot'])
    ds = task.get_dataset(None, split='train', shuffle=False)
    for ex in ds.take(60).as_numpy_iterator():
      row = rows[ex['idx']]
      assert row['question'] in ex['inputs_pretokenized'].decode()
      assert task.postprocess_fn(ex['targets_pretokenized'], example=ex,
                                 is_target=True) == row['answer']
  finally:
    registry.unregister_dataset('cot', name)
