"""Cross-entropy loss as T5X defines it.

The loss is a *sum* of per-token cross-entropies weighted by
`decoder_loss_weights`, optionally divided by a loss normalizing factor. The
factor is a number, `None` (no division) or one of the special modes below,
resolved from the batch. z-loss adds `z_loss * log(Z)**2` per token; label
smoothing subtracts the entropy of the smoothed target distribution so that a
perfect prediction has zero loss.
"""

import enum
from typing import Mapping, Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np


class SpecialLossNormalizingFactor(enum.Enum):
  """Loss normalizing factors computed from the batch (T5X's names)."""
  NUM_REAL_TARGET_TOKENS = 1
  NUM_TOTAL_TARGET_TOKENS = 2
  AVERAGE_PER_SEQUENCE = 3


LossNormalizingFactor = Optional[Union[float, int, str,
                                       SpecialLossNormalizingFactor]]


def _as_special(factor) -> Optional[SpecialLossNormalizingFactor]:
  if isinstance(factor, SpecialLossNormalizingFactor):
    return factor
  if isinstance(factor, str):
    try:
      return SpecialLossNormalizingFactor[factor.upper()]
    except KeyError:
      names = [m.name for m in SpecialLossNormalizingFactor]
      raise ValueError(
          f'LOSS_NORMALIZING_FACTOR={factor!r} is not a number, None or one of '
          f'{names}.') from None
  return None


def _normalize_weights_per_segment(segment_ids, weights):
  """Rescales weights so that each packed segment's weights sum to 1."""
  num_segments = segment_ids.shape[-1] + 1

  def per_row(w, seg):
    sums = jax.ops.segment_sum(w, seg, num_segments=num_segments)
    return sums[seg]

  per_token_sum = jax.vmap(per_row)(weights, segment_ids)
  out = weights / jnp.where(per_token_sum > 0, per_token_sum, 1.0)
  return jnp.where(segment_ids > 0, out, 0.0)


def get_loss_normalizing_factor_and_weights(
    loss_normalizing_factor: LossNormalizingFactor,
    batch: Mapping[str, jnp.ndarray]) -> Tuple[Optional[jnp.ndarray],
                                               Optional[jnp.ndarray]]:
  """Resolves the normalizing factor and loss weights for a batch.

  Args:
    loss_normalizing_factor: a number, None, or a special mode (enum or its
      name, case-insensitive).
    batch: model features; uses `decoder_target_tokens`, and when present
      `decoder_loss_weights`, `decoder_segment_ids`, `decoder_positions`.

  Returns:
    (factor, weights): the factor to divide the summed loss by (None for no
    division) and the per-token weights to use.
  """
  weights = batch.get('decoder_loss_weights')
  special = _as_special(loss_normalizing_factor)
  if special is None:
    if loss_normalizing_factor is None:
      return None, weights
    return jnp.asarray(loss_normalizing_factor, jnp.float32), weights
  if weights is None:
    weights = (batch['decoder_target_tokens'] > 0).astype(jnp.float32)
  weights = weights.astype(jnp.float32)
  if special == SpecialLossNormalizingFactor.NUM_REAL_TARGET_TOKENS:
    return jnp.sum(weights), weights
  if special == SpecialLossNormalizingFactor.NUM_TOTAL_TARGET_TOKENS:
    return jnp.asarray(np.prod(batch['decoder_target_tokens'].shape),
                       jnp.float32), weights
  # AVERAGE_PER_SEQUENCE: every sequence contributes equally.
  if 'decoder_segment_ids' in batch and batch['decoder_segment_ids'] is not None:
    weights = _normalize_weights_per_segment(batch['decoder_segment_ids'],
                                             weights)
  else:
    weights = weights / jnp.sum(weights, axis=-1, keepdims=True)
    weights = jnp.nan_to_num(weights, nan=0.0)
  return jnp.sum(weights), weights


def cross_entropy_with_logits(logits: jnp.ndarray, soft_targets: jnp.ndarray,
                              z_loss: float) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """Per-token cross-entropy plus z-loss.

  Returns:
    (loss, z_loss_term), each shaped like `logits` without the last axis;
    `loss` already includes the z-loss term.
  """
  log_z = jax.nn.logsumexp(logits, axis=-1)
  log_softmax = logits - log_z[..., None]
  loss = -jnp.sum(soft_targets * log_softmax, axis=-1)
  z_term = z_loss * jnp.square(log_z)
  return loss + z_term, z_term


def compute_weighted_cross_entropy(
    logits: jnp.ndarray,
    targets: jnp.ndarray,
    weights: Optional[jnp.ndarray] = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    loss_normalizing_factor: Optional[jnp.ndarray] = None,
) -> Tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
  """Summed (and optionally normalized) weighted cross-entropy.

  Args:
    logits: [batch, length, vocab] float logits.
    targets: [batch, length] int target ids.
    weights: [batch, length] loss weights, or None for all ones.
    label_smoothing: mass moved uniformly to the other vocabulary entries.
    z_loss: coefficient of the log(Z)^2 auxiliary loss.
    loss_normalizing_factor: divide both sums by this when not None.

  Returns:
    (total_loss, total_z_loss, weight_sum); total_loss includes the z-loss.
  """
  if logits.ndim != targets.ndim + 1:
    raise ValueError(f'logits {logits.shape} must have one more axis than '
                     f'targets {targets.shape}.')
  vocab_size = logits.shape[-1]
  confidence = 1.0 - label_smoothing
  low_confidence = (1.0 - confidence) / (vocab_size - 1)
  # Entropy of the smoothed target distribution: the lowest reachable loss.
  normalizing_constant = -(
      confidence * np.log(confidence) +
      (vocab_size - 1) * low_confidence * np.log(low_confidence + 1e-20))
  soft_targets = jax.nn.one_hot(targets, vocab_size, dtype=jnp.float32)
  soft_targets = soft_targets * (confidence - low_confidence) + low_confidence
  loss, z_term = cross_entropy_with_logits(logits.astype(jnp.float32),
                                           soft_targets, z_loss)
  loss = loss - normalizing_constant
  if weights is None:
    weights = jnp.ones_like(loss)
  weights = weights.astype(jnp.float32)
  total_loss = jnp.sum(loss * weights)
  total_z_loss = jnp.sum(z_term * weights)
  if loss_normalizing_factor is not None:
    total_loss = total_loss / loss_normalizing_factor
    total_z_loss = total_z_loss / loss_normalizing_factor
  return total_loss, total_z_loss, jnp.sum(weights)


def sequence_log_likelihood(logits: jnp.ndarray, targets: jnp.ndarray,
                            weights: Optional[jnp.ndarray] = None
                            ) -> jnp.ndarray:
  """Per-sequence sum of target log-likelihoods (no z-loss, no smoothing).

  This is SeqIO's `score`: with `weights` (e.g. `decoder_loss_weights`, which
  is 0 over a prefix-LM prompt) only weighted positions count, else every
  non-padding target.
  """
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  token_ll = jnp.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
  if weights is None:
    weights = (targets > 0).astype(jnp.float32)
  return jnp.sum(token_ll * weights, axis=-1)
