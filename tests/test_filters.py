"""Tests for preprocessing filters and the contamination report."""

import json
import os

import gin
import pytest
import seqio
import tensorflow as tf

from instruct.data import filters
from instruct.errors import UserError
from tests.conftest import SHARED_DATA

_MESSY = [
    'ﬁne　work①',  # ligature, ideographic space, circled digit (NFKC)
    '  two   spaces\tand tab  ',
    'line one  \r\n\r\n\r\n\n  line two',
    'OPTIONS:\n- yes\n- no',  # already clean: must stay as is
    'Ｆｕｌｌ width',
    '',
]


def _rows(pairs):
  return [{'inputs': i, 'targets': t, 'idx': n}
          for n, (i, t) in enumerate(pairs)]


def test_normalize_text_python():
  assert filters.normalize_text(_MESSY[0]) == 'fine work1'
  assert filters.normalize_text(_MESSY[1]) == 'two spaces and tab'
  assert filters.normalize_text(_MESSY[2]) == 'line one\n\nline two'
  assert filters.normalize_text(_MESSY[3]) == _MESSY[3]
  assert filters.normalize_text(_MESSY[4]) == 'Full width'
  assert filters.normalize_text('a  b', form=None, whitespace=False) == 'a  b'


def test_tf_normalization_matches_python():
  ds = tf.data.Dataset.from_tensor_slices({'inputs': _MESSY,
                                           'targets': _MESSY[::-1]})
  out = list(filters.normalize_text_preprocessor(ds).as_numpy_iterator())
  for ex, i, t in zip(out, _MESSY, _MESSY[::-1]):
    assert ex['inputs'].decode() == filters.normalize_text(i)
    assert ex['targets'].decode() == filters.normalize_text(t)


def test_normalize_step_counts_changed_examples():
  pipe = filters.FilterPipeline([filters.NormalizeText()])
  rows = _rows([(m, 'x') for m in _MESSY])
  out = list(pipe.apply(rows))
  assert len(out) == len(_MESSY)
  # All but the clean OPTIONS row and the empty row change.
  assert pipe.report.modified['normalize'] == 4
  assert out[0]['inputs'] == 'fine work1'
  assert rows[0]['inputs'] == _MESSY[0]  # The caller's rows are not mutated.


def test_length_filter_reports_reasons():
  rows = _rows([('short', 'a'), ('a long enough input', ''),
                ('x' * 50, 'b'), ('fine input here', 'c')])
  pipe = filters.FilterPipeline(
      [filters.LengthFilter(min_length=1, max_length=30)])
  out = list(pipe.apply(rows))
  assert [r['idx'] for r in out] == [0, 3]
  assert pipe.report.dropped == {'too_short:targets': 1, 'too_long:inputs': 1}
  assert pipe.report.seen == 4 and pipe.report.kept == 2
  words = filters.LengthFilter(min_length=3, unit='words',
                               fields=('inputs',))
  pipe = filters.FilterPipeline([words])
  assert [r['idx'] for r in pipe.apply(rows)] == [1, 3]
  tokens = filters.LengthFilter(max_length=6, unit='tokens',
                                vocabulary=seqio.ByteVocabulary())
  assert tokens.measure('héllo') == 6  # bytes: é is two
  with pytest.raises(UserError, match='vocabulary'):
    filters.LengthFilter(unit='tokens')
  with pytest.raises(UserError, match='unit'):
    filters.LengthFilter(unit='lines')


def test_tf_length_filter_matches_python():
  texts = ['', 'é', 'abc', 'abcdef', 'abcdefghij']
  ds = tf.data.Dataset.from_tensor_slices({'inputs': texts})
  kept = [x['inputs'].decode() for x in filters.filter_by_length(
      ds, 1, 6, features=('inputs',)).as_numpy_iterator()]
  pipe = filters.FilterPipeline([filters.LengthFilter(1, 6,
                                                      fields=('inputs',))])
  assert kept == [r['inputs'] for r in pipe.apply({'inputs': t}
                                                  for t in texts)]
  assert kept == ['é', 'abc', 'abcdef']


def test_exact_and_near_dedup():
  base = ('Translate to French: the small cat sleeps on the warm red '
          'carpet near the window every afternoon.')
  rows = _rows([
      (base, 'x'),
      (base.upper().replace(' ', '  '), 'x'),  # exact dup up to case/space
      (base.replace('afternoon', 'afternoons'), 'x'),  # near dup
      ('Completely different question about planets and stars?', 'y'),
      (base, 'another target'),  # same input, other target
  ])
  pipe = filters.build_filters(dedup=True)
  assert [r['idx'] for r in pipe.apply(rows)] == [0, 2, 3, 4]
  assert pipe.report.dropped == {'duplicate': 1}
  pipe = filters.build_filters(dedup=True, near_dedup_threshold=0.7)
  out = list(pipe.apply(rows))
  assert [r['idx'] for r in out] == [0, 3]
  assert pipe.report.dropped == {'duplicate': 1, 'near_duplicate': 2}
  assert pipe.report.seen == pipe.report.kept + sum(
      pipe.report.dropped.values())
  # Dedup state spans batches.
  pipe = filters.FilterPipeline([filters.ExactDedup()], batch_size=1)
  assert len(list(pipe.apply(rows[:2]))) == 1
  with pytest.raises(UserError, match='threshold'):
    filters.NearDedup(threshold=1.5)


def test_toxicity_filter_uses_classifier():
  rows = _rows([('What is the capital of France?', 'Paris'),
                ('Reply to this message.', 'you are a fucking idiot'),
                ('Describe the weather today.', 'Sunny and warm.')])
  pipe = filters.build_filters(toxicity_threshold=0.8)
  out = list(pipe.apply(rows))
  assert [r['idx'] for r in out] == [0, 2]
  assert pipe.report.dropped == {'toxic': 1}
  assert 'idiot' in pipe.report.samples['toxic'][0]
  scores = filters.ToxicityFilter().scores(rows)
  assert scores[1] > 0.8 > scores[0]


def test_build_filters_from_gin_and_report_table():
  gin.clear_config()
  try:
    gin.parse_config("""
        build_filters.normalize = True
        build_filters.min_length = 1
    """)
    pipe = filters.build_filters(name='demo')
  finally:
    gin.clear_config()
  assert [type(s).__name__ for s in pipe.steps] == ['NormalizeText',
                                                    'LengthFilter']
  list(pipe.apply(_rows([('  a ', 'b'), ('c', '   ')])))
  table = pipe.report.format()
  assert 'Filter report: demo' in table
  assert '| kept | 1 | 50.0% |' in table
  assert '| dropped: too_short:targets | 1 | 50.0% |' in table
  assert '| modified: normalize | 2 | 100.0% |' in table
  merged = filters.FilterReport().merge(pipe.report).merge(pipe.report)
  assert merged.seen == 4 and merged.dropped['too_short:targets'] == 2
  assert not filters.build_filters()  # Everything off by default.


def test_contamination_report_finds_overlaps():
  leaked = ('the quick brown fox jumps over the lazy dog while the farmer '
            'watches from the old wooden fence')
  eval_sets = {
      'set_a': [leaked + ' answer: yes',
                'an entirely unrelated question about prime numbers and '
                'the sum of their digits in base ten arithmetic',
                'too short'],
      'set_b': ['Jumps over the LAZY dog, while the farmer watches!'],
  }
  train = [('task#0', 'Intro. ' + leaked.upper() + ' more words after'),
           ('task#1', 'nothing in common here at all')]
  report = filters.contamination_report(train, eval_sets, n=13,
                                        min_words=8)
  a, b = report.eval_sets
  assert report.train_examples == 2
  assert [o.index for o in a.overlaps] == [0]
  assert a.overlaps[0].first_train_example == 'task#0'
  assert 0 < a.overlaps[0].fraction < 1  # 'answer: yes' n-grams unmatched
  assert a.too_short == 1
  # 9 words < 13: checked as a whole sequence, found despite case/punct.
  assert [o.index for o in b.overlaps] == [0]
  text = report.format()
  assert '| set_a | 3 | 1 | 1 | 50.0% |' in text
  assert 'task#0' in text


def test_load_bbh_dir(tmp_path):
  good = tmp_path / 'good.json'
  good.write_text(json.dumps({'examples': [{'input': 'Q?', 'target': 'A'}]}))
  assert filters.load_bbh_dir(str(tmp_path)) == {'good': ['Q? A']}
  (tmp_path / 'bad.json').write_text('{"examples": [{"target": "A"}]}')
  with pytest.raises(UserError, match=r'bad.json: examples\[0\] has no "input"'):
    filters.load_bbh_dir(str(tmp_path))
  (tmp_path / 'bad.json').write_bytes(b'\xff\xfe not json')
  with pytest.raises(UserError, match='bad.json: not a UTF-8 JSON'):
    filters.load_bbh_dir(str(tmp_path))


def test_real_bbh_files_load():
  path = os.path.join(SHARED_DATA, 'bbh', 'tasks')
  if not os.path.isdir(path):
    pytest.skip(f'shared BBH data not found at {path}')
  sets = filters.load_bbh_dir(path)
  assert 'boolean_expressions' in sets
  assert all(len(v) > 0 for v in sets.values())
  # A training stream containing one BBH example verbatim is caught.
  name, texts = 'date_understanding', sets['date_understanding']
  report = filters.contamination_report([('leak#0', texts[3])],
                                        {name: texts})
  assert 3 in [o.index for o in report.eval_sets[0].overlaps]
