"""Tests for best-fit packing (instruct.data.packing)."""

import collections

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import seqio
import tensorflow as tf

from instruct import input_pipeline
from instruct.data import packing
from instruct.errors import UserError
from instruct.models import t5
import tasks  # pylint: disable=unused-import  # Registers the built-in tasks.
import tiny

_LENGTHS = {'inputs': 24, 'targets': 8}


def _examples(n, max_inputs, max_targets, seed=0):
  """Examples whose tokens say which example and position they are.

  Token = 1000 * (example + 1) + position, so any token's origin is known and
  a lost, duplicated or misplaced token is detectable.
  """
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    li = int(rng.integers(1, max_inputs + 1))
    lt = int(rng.integers(1, max_targets + 1))
    out.append({'inputs': 1000 * (i + 1) + np.arange(li, dtype=np.int32),
                'targets': 1000 * (i + 1) + 500 + np.arange(lt,
                                                            dtype=np.int32),
                'idx': np.int64(i)})
  return out


def _dataset(examples):
  return tf.data.Dataset.from_tensor_slices({
      'inputs': tf.ragged.constant([e['inputs'] for e in examples]),
      'targets': tf.ragged.constant([e['targets'] for e in examples]),
      'idx': [e['idx'] for e in examples],
  })


def _check_valid(rows, lengths):
  """Asserts the SeqIO packed format; returns {(row, seg): {stream: tokens}}."""
  segments = {}
  for r, row in enumerate(rows):
    segs_per_stream = []
    for k, length in lengths.items():
      tokens = row[k]
      seg = row[k + '_segment_ids']
      pos = row[k + '_positions']
      assert tokens.shape == seg.shape == pos.shape == (length,)
      assert tokens.dtype == seg.dtype == pos.dtype == np.int32
      real = seg > 0
      # Padding only at the end, and zero everywhere.
      n = int(real.sum())
      assert real[:n].all() and not real[n:].any()
      assert not tokens[n:].any() and not pos[n:].any()
      # Segment ids run 1, 1, 2, 2, 2, 3, ...: from 1, contiguous, ascending.
      ids = seg[:n]
      assert ids[0] == 1
      assert set(np.diff(ids)) <= {0, 1}
      # Positions restart at 0 with every segment and count up by one.
      for s in np.unique(ids):
        np.testing.assert_array_equal(pos[:n][ids == s],
                                      np.arange((ids == s).sum()))
        segments.setdefault((r, int(s)), {})[k] = tokens[:n][ids == s]
      segs_per_stream.append(set(ids.tolist()))
    # An example occupies the same segment id in every stream.
    assert all(s == segs_per_stream[0] for s in segs_per_stream)
  return segments


def test_packed_output_is_valid_and_nothing_is_lost_or_split():
  # Some examples are longer than the packed lengths: truncated, as SeqIO.
  examples = _examples(200, max_inputs=30, max_targets=10)
  rows = list(packing.best_fit_pack_dataset(
      _dataset(examples), _LENGTHS, buffer_size=64).as_numpy_iterator())
  segments = _check_valid(rows, _LENGTHS)
  # Every example appears exactly once, whole (its prefix up to the length),
  # in one row; truncation is exactly the tokens beyond the lengths.
  found = collections.Counter()
  truncated = 0
  for seg in segments.values():
    i = seg['inputs'][0] // 1000 - 1
    found[i] += 1
    ex = examples[i]
    np.testing.assert_array_equal(seg['inputs'],
                                  ex['inputs'][:_LENGTHS['inputs']])
    np.testing.assert_array_equal(seg['targets'],
                                  ex['targets'][:_LENGTHS['targets']])
  for ex in examples:
    truncated += max(0, len(ex['inputs']) - _LENGTHS['inputs'])
    truncated += max(0, len(ex['targets']) - _LENGTHS['targets'])
  assert sorted(found) == list(range(len(examples)))
  assert set(found.values()) == {1}
  total = sum(len(e['inputs']) + len(e['targets']) for e in examples)
  packed = sum(int((r[k + '_segment_ids'] > 0).sum()) for r in rows
               for k in _LENGTHS)
  assert truncated > 0 and packed == total - truncated


def test_same_features_as_seqio_packer():
  ds = _dataset(_examples(20, 10, 5))
  ours = packing.best_fit_pack_dataset(ds, _LENGTHS).element_spec
  seqios = seqio.utils.trim_and_pack_dataset(ds, _LENGTHS).element_spec
  assert ours == seqios


def test_matches_numpy_reference_and_beats_greedy():
  examples = _examples(300, max_inputs=20, max_targets=8, seed=1)
  ds = _dataset(examples)
  ours = list(packing.best_fit_pack_dataset(ds, _LENGTHS,
                                            buffer_size=128)
              .as_numpy_iterator())
  greedy = list(packing.greedy_pack_dataset(ds, _LENGTHS)
                .as_numpy_iterator())
  lengths = np.array([[min(len(e['inputs']), 24), min(len(e['targets']), 8)]
                      for e in examples])
  assert len(ours) == packing.simulate_best_fit(lengths, (24, 8), 128)
  assert len(greedy) == packing.simulate_greedy(lengths, (24, 8))
  fill_ours = packing.fill_fractions(ours, list(_LENGTHS))
  fill_greedy = packing.fill_fractions(greedy, list(_LENGTHS))
  assert fill_ours['inputs'] > fill_greedy['inputs'] + 0.05
  assert fill_ours['targets'] > fill_greedy['targets']


def test_decreasing_order_beats_arrival_order():
  ds = _dataset(_examples(300, max_inputs=20, max_targets=8, seed=2))
  rows = {sort: len(list(packing.best_fit_pack_dataset(
      ds, _LENGTHS, buffer_size=300, sort=sort).as_numpy_iterator()))
          for sort in (True, False)}
  assert rows[True] < rows[False]


def test_targets_only_decoder_converter():
  examples = _examples(50, 10, 12)
  ds = tf.data.Dataset.from_tensor_slices(
      {'targets': tf.ragged.constant([e['targets'] for e in examples])})
  conv = packing.BestFitDecoderFeatureConverter(pack=True)
  rows = list(conv(ds, {'targets': 16}).as_numpy_iterator())
  tokens = sorted(t for r in rows for t in r['decoder_target_tokens'] if t)
  assert tokens == sorted(
      t for e in examples for t in e['targets'][:16].tolist())


def _tiny_model():
  cfg = tiny.t5_config(vocab_size=64, emb_dim=16, num_heads=2, head_dim=4,
                       mlp_dim=24, num_encoder_layers=1, num_decoder_layers=1)
  module = t5.Transformer(cfg)
  ones = jnp.ones((1, 4), jnp.int32)
  params = nn.unbox(module.init(jax.random.PRNGKey(0), ones, ones, ones,
                                enable_dropout=False)['params'])
  return module, params


def test_encdec_converter_output_is_what_the_model_expects():
  rng = np.random.default_rng(3)
  examples = [{'inputs': rng.integers(2, 64, rng.integers(2, 12)).astype(
      np.int32), 'targets': rng.integers(2, 64, rng.integers(2, 6)).astype(
          np.int32)} for _ in range(12)]
  for e in examples:
    e['inputs'][-1] = e['targets'][-1] = 1  # EOS
  ds = tf.data.Dataset.from_tensor_slices(
      {k: tf.ragged.constant([e[k] for e in examples]) for k in _LENGTHS})
  greedy = seqio.EncDecFeatureConverter(pack=True)(ds, _LENGTHS)
  conv = packing.with_packer(seqio.EncDecFeatureConverter(pack=True),
                             'best_fit')
  assert isinstance(conv, seqio.EncDecFeatureConverter)
  packed = conv(ds, _LENGTHS)
  assert packed.element_spec == greedy.element_spec
  batch = next(packed.batch(64).as_numpy_iterator())
  # Decoder inputs: targets shifted right, restarting (with 0) per segment.
  for row in range(len(batch['decoder_target_tokens'])):
    seg = batch['decoder_segment_ids'][row]
    tgt = batch['decoder_target_tokens'][row]
    dec_in = batch['decoder_input_tokens'][row]
    for s in set(seg[seg > 0].tolist()):
      np.testing.assert_array_equal(dec_in[seg == s],
                                    np.concatenate([[0], tgt[seg == s][:-1]]))
    np.testing.assert_array_equal(batch['decoder_loss_weights'][row],
                                  (tgt > 0).astype(np.int32))
  # The model scores each packed segment exactly as it scores it alone.
  module, params = _tiny_model()
  feats = {k: batch[k] for k in ('encoder_segment_ids', 'encoder_positions',
                                 'decoder_segment_ids', 'decoder_positions')}
  logits = module.apply({'params': params}, batch['encoder_input_tokens'],
                        batch['decoder_input_tokens'],
                        batch['decoder_target_tokens'], **feats,
                        enable_dropout=False)
  checked = 0
  for row in range(len(batch['decoder_target_tokens'])):
    for s in set(batch['decoder_segment_ids'][row].tolist()) - {0}:
      enc = batch['encoder_input_tokens'][row][
          batch['encoder_segment_ids'][row] == s]
      mask = batch['decoder_segment_ids'][row] == s
      tgt = batch['decoder_target_tokens'][row][mask]
      alone = module.apply({'params': params}, enc[None],
                           np.concatenate([[0], tgt[:-1]])[None].astype(
                               np.int32), tgt[None], enable_dropout=False)
      np.testing.assert_allclose(logits[row][mask], alone[0], atol=1e-5)
      checked += 1
  assert checked == len(examples)


def test_iterator_checkpoint_restores_position(tmp_path):
  ds = packing.best_fit_pack_dataset(_dataset(_examples(120, 20, 8)),
                                     _LENGTHS, buffer_size=32)
  it = iter(ds)
  for _ in range(5):
    next(it)
  ckpt = tf.train.Checkpoint(iterator=it)
  path = ckpt.save(str(tmp_path / 'it'))
  expected = [next(it)['inputs'].numpy() for _ in range(10)]
  it2 = iter(ds)
  tf.train.Checkpoint(iterator=it2).restore(path)
  got = [next(it2)['inputs'].numpy() for _ in range(10)]
  np.testing.assert_array_equal(np.stack(expected), np.stack(got))


def test_with_packer_choices():
  greedy = seqio.EncDecFeatureConverter(pack=True)
  assert packing.with_packer(greedy, 'greedy') is greedy
  unpacked = seqio.EncDecFeatureConverter(pack=False)
  assert packing.with_packer(unpacked, 'best_fit') is unpacked
  with pytest.raises(UserError, match="Unknown packer 'first_fit'"):
    packing.with_packer(greedy, 'first_fit')
  with pytest.raises(UserError, match='buffer_size'):
    packing.best_fit_pack_dataset(_dataset(_examples(3, 3, 3)), _LENGTHS, 0)
  with pytest.raises(UserError, match="feature 'inputs'"):
    packing.best_fit_pack_dataset(
        tf.data.Dataset.from_tensors({'targets': [1, 2]}), _LENGTHS)


def test_dataset_config_packer_from_gin():
  gin.clear_config()
  try:
    gin.parse_config("""
        DatasetConfig.packer = 'best_fit'
        BestFitPacking.buffer_size = 256
    """)
    cfg = input_pipeline.DatasetConfig(
        'builtin_sentiment', {'inputs': 192, 'targets': 32}, 'train',
        batch_size=4, shuffle=False, seed=0)
    assert cfg.packer == 'best_fit'
    ds = input_pipeline.get_dataset(cfg,
                                    seqio.EncDecFeatureConverter(pack=True))
    batch = next(iter(ds))
    assert batch['encoder_segment_ids'].shape == (4, 192)
    fill = float(np.mean(batch['encoder_segment_ids'].numpy() > 0))
    assert fill > 0.9
  finally:
    gin.clear_config()


def test_suggest_lengths_from_builtin_task():
  report = packing.suggest_lengths('builtin_sentiment', num_examples=200,
                                   multiple_of=16)
  assert report.num_examples == 200
  for k in ('inputs', 'targets'):
    pct = report.percentiles[k]
    assert 1 < pct[50] <= pct[90] <= pct[99] <= pct[100]
    assert report.suggested[k] % 16 == 0
    assert report.suggested[k] >= pct[99]
    assert report.truncated[k] <= 0.01
  # Suggested lengths balance the streams: both fill well with best fit.
  best = report.fill['best_fit']
  assert min(best.values()) > 0.5
  assert best['inputs'] >= report.fill['greedy (SeqIO)']['inputs']
  text = report.format()
  assert 'suggested' in text and 'best_fit' in text


def test_suggest_from_lengths_balances_streams():
  lengths = {'inputs': np.full(100, 100), 'targets': np.full(100, 10)}
  s = packing.suggest_from_lengths(lengths, multiple_of=8)
  # Inputs p99 = 100 -> 104; targets get 104 * 10 / 100 -> 16 (>= 10).
  assert s['suggested'] == {'inputs': 104, 'targets': 16}
  lengths = {'inputs': np.full(100, 10), 'targets': np.full(100, 100)}
  s = packing.suggest_from_lengths(lengths, multiple_of=8)
  assert s['suggested'] == {'inputs': 16, 'targets': 104}


def test_best_fit_reaches_the_inner_converters_of_decoder_feature_converter():
  converter = packing.with_packer(
      seqio.DecoderFeatureConverter(pack=True), 'best_fit')
  assert isinstance(converter, seqio.DecoderFeatureConverter)
  for inner in (converter.prefixlm_feature_converter,
                converter.strictlm_feature_converter):
    assert isinstance(inner, packing._PackerMixin)  # pylint: disable=protected-access
