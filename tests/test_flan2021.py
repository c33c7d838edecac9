"""Tests of the Flan 2021-style TFDS collection (instruct.data.flan2021).

Offline: TFDS data comes from `tfds.testing.mock_data` (policy USE_CODE:
random examples shaped by each builder's real feature spec), or, for the
exact-format tests, from hand-written examples with the real feature names.
The default run formats every dataset through SeqIO once and a few datasets
in every template type; `-m slow` iterates every registered task.
"""

import functools
import tempfile

import numpy as np
import pytest
from rouge_score import rouge_scorer
import sacrebleu
from scipy import stats
import seqio
import tensorflow as tf
import tensorflow_datasets as tfds

from instruct.data import flan2021
from instruct.data import registry
from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics
from instruct.data.flan2021 import nli
import tasks.flan2021 as flan2021_tasks

ENTRIES = {e.name: e for e in flan2021.ENTRIES}
SPECS = {s.name: s for s in flan2021.specs()}
METADATA = ('_task_name', '_task_source', '_template_type', '_template_idx')


def _mock(**kwargs):
  kwargs.setdefault('num_examples', 3)
  # Small integers keep plain int features (HellaSwag's label, Sentiment140's
  # polarity) inside their real ranges.
  kwargs.setdefault('max_value', 4)
  return tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE,
                                **kwargs)


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


# --------------------------------------------------------------------------
# The catalog.


def test_catalog_size_and_clusters():
  assert len(flan2021.ENTRIES) >= 40
  clusters = {e.cluster for e in flan2021.ENTRIES}
  assert len(clusters) >= 10
  assert clusters == set(flan2021.CLUSTERS)
  for cluster in flan2021.CLUSTERS:
    assert any(e.cluster == cluster for e in flan2021.ENTRIES), cluster
  assert flan2021_tasks.CLUSTERS == flan2021.CLUSTERS
  assert len(flan2021_tasks.FLAN2021_SPECS) == len(flan2021.ENTRIES)


@pytest.mark.parametrize('name', sorted(ENTRIES))
def test_spec_is_complete(name):
  spec = SPECS[name]
  entry = ENTRIES[name]
  assert spec.source == 'flan2021'
  assert len(spec.templates) >= 10
  assert len({(t.inputs, t.targets) for t in spec.templates}) == len(
      spec.templates), 'duplicate templates'
  assert set(spec.num_examples) == set(spec.splits)
  assert all(n > 0 for n in spec.num_examples.values())
  assert spec.metric_fns
  assert spec.has_options == entry.has_options
  if spec.has_options:
    assert 'train' in spec.splits or name in ('definite_pronoun_resolution',)


def test_tfds_builders_exist_at_pinned_versions_without_manual_steps():
  # pylint: disable-next=g-import-not-at-top
  from tensorflow_datasets.translate import wmt
  available = set(tfds.list_builders())
  data_dir = tempfile.mkdtemp()
  for entry in flan2021.ENTRIES:
    assert entry.source.builder_name in available, entry.source.name
    # Instantiating reads only the builder's code, never data.
    builder = tfds.builder(entry.source.pinned_name, data_dir=data_dir)
    assert str(builder.version) == entry.source.version, entry.name
    if isinstance(builder, wmt.WmtTranslate):
      # WMT builders declare manual instructions for a few corpora only.
      src = builder.builder_config.language_pair[0]
      for subset in set(sum(builder.subsets.values(), [])):
        assert not wmt.DATASET_MAP[subset].get_manual_dl_files(src), (
            entry.name, subset)
    else:
      assert not getattr(builder, 'MANUAL_DOWNLOAD_INSTRUCTIONS', None), (
          entry.name)


def test_registration_reads_no_data(monkeypatch):
  def _no_load(*args, **kwargs):
    raise AssertionError(f'tfds.load called at registration: {args}')

  monkeypatch.setattr(tfds, 'load', _no_load)
  registered = flan2021.register_all(names=['anli_r1', 'squad_v1'])
  assert registered['anli_r1']['zs_opt'] == 'flan2021_anli_r1_zs_opt'
  assert 'zs_opt' not in registered['squad_v1']  # No options.
  assert registered['squad_v1']['inv'] == 'flan2021_squad_v1_inv'


def test_every_dataset_is_registered_with_its_variants():
  names = set(registry.registered_tasks(source='flan2021'))
  for name, variants in flan2021_tasks.REGISTERED.items():
    spec = SPECS[name]
    assert set(variants.values()) <= names
    assert 'zs_noopt' in variants and 'fs_noopt' in variants
    assert ('zs_opt' in variants) == spec.has_options
    assert ('inv' in variants) == bool(spec.inversion_templates)
    info = registry.task_info(variants['zs_noopt'])
    assert (info.source, info.cluster, info.dataset) == (
        'flan2021', spec.cluster, name)
    assert info.num_templates == len(spec.templates)
  assert 'zs_ropt' not in flan2021_tasks.REGISTERED['record']


def test_unknown_split_is_a_clear_error():
  from instruct import errors  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.UserError, match="mnli.*no split 'validation'"):
    SPECS['mnli'].load('validation')


# --------------------------------------------------------------------------
# Every dataset's canonical fields, on mock data.


@functools.lru_cache(maxsize=None)
def _mock_examples(name):
  spec = SPECS[name]
  with _mock():
    for split in spec.splits[1:]:
      spec.load(split)  # Every split name maps onto a TFDS split.
    ds = spec.load(spec.splits[0])
    element_spec = ds.element_spec
    examples = list(ds.take(2).as_numpy_iterator())
  return element_spec, examples


@pytest.mark.parametrize('name', sorted(ENTRIES))
def test_load_yields_canonical_fields(name):
  spec = SPECS[name]
  element_spec, examples = _mock_examples(name)
  assert len(examples) == 2
  for key, ts in element_spec.items():
    if key == 'options':
      assert ts.dtype == tf.string and ts.shape.rank == 1, key
    else:
      assert ts.shape.rank == 0, key
      assert ts.dtype in (tf.string, tf.int64), (key, ts.dtype)
  assert 'answer' in element_spec
  assert ('options' in element_spec) == spec.has_options
  for ex in examples:
    assert _text(ex['answer']).strip()
    if spec.has_options:
      options = [_text(o) for o in ex['options']]
      assert _text(ex['answer']) in options
      assert options[ex['label']] == _text(ex['answer'])
    for template in tuple(spec.templates) + tuple(spec.inversion_templates):
      inputs, targets = template.format(ex)
      assert inputs.strip() and targets.strip(), template.name


# --------------------------------------------------------------------------
# SeqIO tasks.


def _check_task_examples(task_name, examples, dataset_name):
  assert examples, task_name
  variant = registry.task_variant(task_name)
  for ex in examples:
    assert _text(ex['inputs_pretokenized']).strip(), task_name
    assert _text(ex['targets_pretokenized']).strip(), task_name
    assert ex['inputs'].size > 0 and ex['targets'].size > 0
    for key in METADATA:
      assert key in ex, (task_name, key)
    assert _text(ex['_task_name']) == dataset_name
    assert _text(ex['_task_source']) == 'flan2021'
    assert _text(ex['_template_type']) == (
        registry.task_info(task_name).template_type)
    if variant in ('zs_opt', 'fs_opt'):
      inputs = _text(ex['inputs_pretokenized'])
      options_block = inputs.rsplit('OPTIONS:\n', 1)[1]
      listed = [line[2:] for line in options_block.split('\n')
                if line.startswith('- ')]
      assert _text(ex['targets_pretokenized']) in listed, task_name


def _task_examples(task_name, n=2):
  task = seqio.get_mixture_or_task(task_name)
  split = task.splits[-1]
  ds = task.get_dataset(sequence_length=None, split=split, shuffle=False,
                        use_cached=False)
  return list(ds.take(n).as_numpy_iterator())


@pytest.mark.parametrize('name', sorted(ENTRIES))
def test_seqio_zero_shot_task_of_every_dataset(name):
  variant = 'zs_opt' if SPECS[name].has_options else 'zs_noopt'
  task_name = flan2021_tasks.REGISTERED[name][variant]
  with _mock():
    examples = _task_examples(task_name)
  _check_task_examples(task_name, examples, name)


@pytest.mark.parametrize('name,variant', [
    ('anli_r1', 'zs_ropt'), ('anli_r1', 'fs_opt'), ('anli_r1', 'inv'),
    ('anli_r1', 'zs_opt_rank'), ('squad_v1', 'fs_noopt'),
    ('squad_v1', 'inv'), ('wmt16_de_en', 'inv'), ('record', 'zs_opt'),
])
def test_seqio_other_template_types(name, variant):
  task_name = flan2021_tasks.REGISTERED[name][variant]
  with _mock():
    examples = _task_examples(task_name)
  _check_task_examples(task_name, examples, name)


@pytest.mark.slow
def test_every_registered_task_yields_examples():
  with _mock():
    for name, variants in flan2021_tasks.REGISTERED.items():
      for task_name in variants.values():
        _check_task_examples(task_name, _task_examples(task_name, n=1), name)


# --------------------------------------------------------------------------
# Exact formats, from hand-written examples with the real TFDS features.


def _fake(examples_by_builder):
  """A mock `as_dataset` that returns given examples per builder name."""

  def as_dataset(builder, split, **kwargs):
    del split, kwargs
    examples = examples_by_builder[builder.name]
    ds = tf.data.Dataset.from_tensors(examples[0])
    for ex in examples[1:]:
      ds = ds.concatenate(tf.data.Dataset.from_tensors(ex))
    return ds

  return _mock(as_dataset_fn=as_dataset)


def _load_all(name, split=None):
  spec = SPECS[name]
  return list(spec.load(split or spec.splits[0]).as_numpy_iterator())


def _i64(x):
  return tf.constant(x, tf.int64)


def test_anli_and_cb_labels_map_to_the_same_options():
  anli = [{'uid': 'a', 'context': 'The sky  is blue.', 'hypothesis': 'It is '
           'night.', 'label': _i64(2)}]
  # SuperGLUE CB: 0 entailment, 1 contradiction, 2 neutral.
  cb = [{'premise': 'p', 'hypothesis': 'h', 'idx': tf.constant(0),
         'label': _i64(1)},
        {'premise': 'p', 'hypothesis': 'h', 'idx': tf.constant(1),
         'label': _i64(2)}]
  with _fake({'anli': anli, 'super_glue': cb}):
    (ex,) = _load_all('anli_r1')
    cb_examples = _load_all('cb')
    task = seqio.get_mixture_or_task('flan2021_anli_r1_zs_noopt')
    (formatted,) = list(task.get_dataset(
        None, split='validation', shuffle=False,
        use_cached=False).as_numpy_iterator())
  assert _text(ex['premise']) == 'The sky is blue.'
  assert ex['label'] == 2 and _text(ex['answer']) == 'no'
  assert _text(ex['relation']) == 'contradicts'
  assert [_text(e['answer']) for e in cb_examples] == [
      'no', 'it is not possible to tell']
  # Example 0 gets template 0.
  assert formatted['_template_idx'] == 0
  assert _text(formatted['inputs_pretokenized']) == (
      'The sky is blue.\n\nBased on the passage above, is it true that '
      '"It is night."?')
  assert _text(formatted['targets_pretokenized']) == 'no'
  assert nli.NLI3_TEMPLATES[0].format(
      {k: v for k, v in ex.items()}) == (
          _text(formatted['inputs_pretokenized']), 'no')


def test_snli_drops_pairs_without_gold_label():
  snli = [{'premise': 'a', 'hypothesis': 'b', 'label': _i64(-1)},
          {'premise': 'c', 'hypothesis': 'd', 'label': _i64(1)}]
  with _fake({'snli': snli}):
    examples = _load_all('snli')
  assert [_text(e['premise']) for e in examples] == ['c']
  assert _text(examples[0]['answer']) == 'it is not possible to tell'


def test_squad_answers_and_unanswerable():
  def _ex(title, answers, impossible):
    return {'id': 'x', 'title': title, 'context': 'ctx', 'question': 'q?',
            'answers': {'text': tf.constant(answers, tf.string),
                        'answer_start': tf.zeros([len(answers)], tf.int32)},
            'plausible_answers': {'text': tf.constant([], tf.string),
                                  'answer_start': tf.zeros([0], tf.int32)},
            'is_impossible': tf.constant(impossible)}
  examples = [_ex('Super_Bowl_50', ['Denver Broncos', 'Broncos'], False),
              _ex('Normans', [], True)]
  with _fake({'squad': examples}):
    v2 = _load_all('squad_v2')
  assert [_text(e['answer']) for e in v2] == ['Denver Broncos',
                                              'unanswerable']
  assert _text(v2[0]['title']) == 'Super Bowl 50'


def test_arc_label_follows_answer_key():
  arc = [{'id': 'q1', 'question': 'Which is a gas?',
          'choices': {'text': tf.constant(['rock', 'water', 'steam', 'ice']),
                      'label': _i64([0, 1, 2, 3])},
          'answerKey': _i64(2)}]
  with _fake({'ai2_arc': arc}):
    (ex,) = _load_all('arc_easy')
  assert ex['label'] == 2 and _text(ex['answer']) == 'steam'


def test_record_options_and_passage():
  record = [{'passage': 'Storm hits Paris.\n@highlight\nRain in France',
             'query': '@placeholder was flooded.',
             'entities': tf.constant(['Paris', 'France', 'Paris']),
             'answers': tf.constant(['France']),
             'idx': {'passage': tf.constant(0), 'query': tf.constant(0)}}]
  with _fake({'super_glue': record}):
    (ex,) = _load_all('record')
  assert [_text(o) for o in ex['options']] == ['Paris', 'France']
  assert ex['label'] == 1 and _text(ex['answer']) == 'France'
  assert _text(ex['query']) == '___ was flooded.'
  assert _text(ex['passage']) == 'Storm hits Paris.. Rain in France'


def test_coqa_numbers_questions_and_answers():
  coqa = [{'source': 'wiki', 'story': 'Ann had a cat.',
           'questions': tf.constant(['Who had a cat?', 'What did she have?']),
           'answers': {'input_text': tf.constant(['Ann', 'a cat']),
                       'answer_start': tf.constant([0, 8]),
                       'answer_end': tf.constant([3, 13])}}]
  with _fake({'coqa': coqa}):
    (ex,) = _load_all('coqa')
  assert _text(ex['questions']) == '1. Who had a cat?\n2. What did she have?'
  assert _text(ex['answer']) == '1. Ann\n2. a cat'


def test_sentiment140_polarity_and_translation_fields():
  tweets = [{'polarity': tf.constant(4), 'date': 'd', 'query': 'q',
             'user': 'u', 'text': 'love it'},
            {'polarity': tf.constant(0), 'date': 'd', 'query': 'q',
             'user': 'u', 'text': 'hate it'}]
  wmt = [{'de': 'Guten Morgen', 'en': 'Good morning'}]
  with _fake({'sentiment140': tweets, 'wmt16_translate': wmt}):
    sentiment = _load_all('sentiment140')
    (translation,) = _load_all('wmt16_de_en')
  assert [_text(e['answer']) for e in sentiment] == ['positive', 'negative']
  assert _text(translation['foreign']) == 'Guten Morgen'
  assert _text(translation['answer']) == 'Good morning'
  assert _text(translation['language']) == 'German'
  inv = SPECS['wmt16_de_en'].inversion_templates[0]
  assert inv.format(translation) == ('Translate to German:\n\nGood morning',
                                     'Guten Morgen')


def test_dart_triples_are_joined():
  dart = [{'gem_id': 'g', 'gem_parent_id': 'g', 'dart_id': tf.constant(1),
           'tripleset': tf.constant(['Mars | orbits | Sun',
                                     'Mars | color | red']),
           'subtree_was_extended': tf.constant(False),
           'target_sources': tf.constant(['webnlg']),
           'target': 'Mars, which is red, orbits the Sun.',
           'references': tf.constant(['Mars, which is red, orbits the Sun.'])}]
  with _fake({'gem': dart}):
    (ex,) = _load_all('dart')
  assert _text(ex['data']) == 'Mars | orbits | Sun; Mars | color | red'


def test_read_tfds_reports_missing_data(tmp_path):
  from instruct import errors  # pylint: disable=g-import-not-at-top
  import gin  # pylint: disable=g-import-not-at-top
  with gin.unlock_config():
    gin.bind_parameter('tfds_read_options.data_dir', str(tmp_path))
  try:
    with pytest.raises(errors.UserError, match='tfds build glue/rte|'
                       'tfds build super_glue/rte'):
      SPECS['rte'].load('train')
  finally:
    gin.clear_config()


# --------------------------------------------------------------------------
# Metrics.


def test_accuracy_and_squad():
  assert metrics.accuracy(['yes', 'no'], [' yes', 'No']) == {'accuracy': 50.0}
  result = metrics.squad(['The Denver Broncos', ['Paris', 'in Paris']],
                         ['denver broncos!', 'Paris, France'])
  # EM: 1 (articles/punctuation ignored) and 0; F1: 1 and 2/3 (P=1/2, R=1).
  assert result['em'] == pytest.approx(50.0)
  assert result['f1'] == pytest.approx(100 * (1 + 2 / 3) / 2)
  with pytest.raises(ValueError, match='2 targets but 1'):
    metrics.squad(['a', 'b'], ['a'])


def test_rouge_matches_rouge_score():
  targets = ['The cat sat on the mat. It was happy.', 'Stocks fell sharply.']
  predictions = ['A cat sat on a mat. It was glad.', 'Stocks rose.']
  result = metrics.rouge(targets, predictions)
  scorer = rouge_scorer.RougeScorer(['rouge1', 'rouge2', 'rougeLsum'],
                                    use_stemmer=True)
  expected = {k: [] for k in ('rouge1', 'rouge2', 'rougeLsum')}
  for t, p in zip(targets, predictions):
    t = t.replace('. ', '.\n')
    p = p.replace('. ', '.\n')
    scores = scorer.score(t, p)
    for k in expected:
      expected[k].append(scores[k].fmeasure)
  for k, values in expected.items():
    assert result[k] == pytest.approx(100 * np.mean(values))
  assert 0 < result['rouge2'] < result['rouge1'] < 100


def test_bleu_matches_sacrebleu():
  targets = ['the cat is on the mat', 'there is a dog in the garden']
  predictions = ['the cat is on a mat', 'a dog is in the garden']
  expected = sacrebleu.corpus_bleu(predictions, [targets]).score
  assert metrics.bleu(targets, predictions)['bleu'] == pytest.approx(expected)
  assert metrics.bleu(targets, targets)['bleu'] == pytest.approx(100.0)


def test_pearson_spearman():
  targets = ['0', '1', '3', '5']
  predictions = ['0.5', '1', '2', 'five']  # 'five' is unparsable -> -1.
  result = metrics.pearson_spearman(targets, predictions)
  gold, pred = [0, 1, 3, 5], [0.5, 1, 2, -1]
  assert result['pearson'] == pytest.approx(
      100 * stats.pearsonr(gold, pred)[0])
  assert result['spearman'] == pytest.approx(
      100 * stats.spearmanr(gold, pred)[0])


def test_helpers_first_and_unique():
  assert common.first(tf.constant([], tf.string), 'x').numpy() == b'x'
  assert common.first(tf.constant(['a', 'b'])).numpy() == b'a'
  np.testing.assert_array_equal(
      common.unique(tf.constant(['b', 'a', 'b'])).numpy(), [b'b', b'a'])
  assert common.index_of(tf.constant(['a', 'b']), 'b').numpy() == 1
