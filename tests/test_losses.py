"""The loss equals a direct NumPy computation of T5X's definition."""

import jax.numpy as jnp
import numpy as np
import pytest

from instruct import losses


def _numpy_loss(logits, targets, weights, label_smoothing, z_loss, factor):
  """T5X's definition, written out plainly in float64."""
  logits = logits.astype(np.float64)
  vocab = logits.shape[-1]
  m = logits.max(-1, keepdims=True)
  log_z = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[..., 0]
  log_p = logits - log_z[..., None]
  conf = 1.0 - label_smoothing
  low = (1.0 - conf) / (vocab - 1)
  soft = np.full(logits.shape, low)
  np.put_along_axis(soft, targets[..., None], conf, axis=-1)
  const = -(conf * np.log(conf) + (vocab - 1) * low * np.log(low + 1e-20))
  per_token = -(soft * log_p).sum(-1) - const + z_loss * log_z**2
  total = (per_token * weights).sum()
  z_total = (z_loss * log_z**2 * weights).sum()
  if factor is not None:
    total, z_total = total / factor, z_total / factor
  return total, z_total


def _numpy_factor_and_weights(mode, targets, weights, segment_ids=None):
  if mode is None:
    return None, weights
  if isinstance(mode, (int, float)):
    return float(mode), weights
  mode = mode.upper()
  if mode == 'NUM_REAL_TARGET_TOKENS':
    return weights.sum(), weights
  if mode == 'NUM_TOTAL_TARGET_TOKENS':
    return float(targets.size), weights
  # AVERAGE_PER_SEQUENCE: each sequence's (segment's) weights sum to 1.
  w = weights.astype(np.float64).copy()
  if segment_ids is None:
    w = w / w.sum(-1, keepdims=True)
  else:
    for b in range(w.shape[0]):
      for s in set(segment_ids[b].tolist()) - {0}:
        sel = segment_ids[b] == s
        w[b, sel] = w[b, sel] / w[b, sel].sum()
      w[b, segment_ids[b] == 0] = 0
  return w.sum(), w


@pytest.mark.parametrize('label_smoothing', [0.0, 0.1])
@pytest.mark.parametrize('z_loss', [0.0, 1e-4])
@pytest.mark.parametrize('mode', [None, 233472.0, 'NUM_REAL_TARGET_TOKENS',
                                  'num_total_target_tokens',
                                  'AVERAGE_PER_SEQUENCE'])
@pytest.mark.parametrize('packed', [False, True])
def test_loss_matches_numpy_definition(label_smoothing, z_loss, mode, packed):
  rng = np.random.default_rng(0)
  b, l, v = 3, 7, 11
  logits = rng.normal(size=(b, l, v)).astype(np.float32) * 3
  targets = rng.integers(1, v, size=(b, l))
  targets[:, -2:] = 0  # padding
  weights = (targets > 0).astype(np.float32)
  weights[0, 1] = 0.5  # non-binary weights must be honoured too
  batch = {'decoder_target_tokens': jnp.asarray(targets),
           'decoder_loss_weights': jnp.asarray(weights)}
  segment_ids = None
  if packed:
    segment_ids = np.array([[1, 1, 1, 2, 2, 0, 0]] * b)
    batch['decoder_segment_ids'] = jnp.asarray(segment_ids)
    batch['decoder_positions'] = jnp.asarray([[0, 1, 2, 0, 1, 0, 0]] * b)
  factor, w = losses.get_loss_normalizing_factor_and_weights(mode, batch)
  want_factor, want_w = _numpy_factor_and_weights(mode, targets, weights,
                                                  segment_ids)
  if want_factor is None:
    assert factor is None
  else:
    np.testing.assert_allclose(float(factor), want_factor, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(w), want_w, rtol=1e-6, atol=1e-7)
  got, got_z, _ = losses.compute_weighted_cross_entropy(
      jnp.asarray(logits), jnp.asarray(targets), w,
      label_smoothing=label_smoothing, z_loss=z_loss,
      loss_normalizing_factor=factor)
  want, want_z = _numpy_loss(logits, targets, want_w, label_smoothing, z_loss,
                             want_factor)
  np.testing.assert_allclose(float(got), want, rtol=2e-5)
  np.testing.assert_allclose(float(got_z), want_z, rtol=2e-5, atol=1e-9)


def test_perfect_prediction_has_zero_smoothed_loss():
  # Label smoothing subtracts the target entropy: predicting exactly the
  # smoothed distribution gives zero loss.
  v, ls = 5, 0.2
  soft = np.full((1, 1, v), ls / (v - 1))
  soft[0, 0, 2] = 1 - ls
  loss, _, _ = losses.compute_weighted_cross_entropy(
      jnp.log(jnp.asarray(soft, jnp.float32)), jnp.asarray([[2]]),
      label_smoothing=ls)
  assert abs(float(loss)) < 1e-5


def test_bad_mode_names_the_flag():
  with pytest.raises(ValueError, match='LOSS_NORMALIZING_FACTOR'):
    losses.get_loss_normalizing_factor_and_weights(
        'PER_TOKEN', {'decoder_target_tokens': jnp.ones((1, 2), jnp.int32)})
