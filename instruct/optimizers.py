"""Optimizers and learning-rate schedules, selected in gin.

Everything here is a thin, named layer over optax so that gin files read like
T5X's: `OPTIMIZER = @optimizers.adafactor()` with
`optimizers.adafactor.learning_rate = @optimizers.learning_rate_schedule()`.
"""

from typing import Callable, Optional, Union

import gin
import jax
import jax.numpy as jnp
import optax

Schedule = Union[float, Callable[[jnp.ndarray], jnp.ndarray]]

_DECAYS = ('constant', 'linear', 'cosine', 'rsqrt')


@gin.configurable
def learning_rate_schedule(base_learning_rate: float = 1e-3,
                           warmup_steps: int = 0,
                           decay: str = 'constant',
                           total_steps: Optional[int] = None,
                           final_learning_rate: float = 0.0,
                           step_offset: int = 0) -> optax.Schedule:
  """Linear warm-up, then constant / linear / cosine / inverse-sqrt decay.

  Args:
    base_learning_rate: the peak learning rate, reached after warm-up.
    warmup_steps: steps of linear warm-up from 0 (0 = none).
    decay: 'constant', 'linear', 'cosine' or 'rsqrt' (base * sqrt(warmup /
      step) after warm-up, as T5's inverse-square-root schedule).
    total_steps: last step of the linear/cosine decay (required for those).
    final_learning_rate: the value linear/cosine decay ends at.
    step_offset: subtract this from the step first (e.g. the pre-training
      steps of a fine-tuning run, since TRAIN_STEPS is absolute in T5X).

  Returns:
    An optax schedule (step -> learning rate).
  """
  if decay not in _DECAYS:
    raise ValueError(f'learning_rate_schedule.decay={decay!r}; expected one '
                     f'of {_DECAYS}.')
  if decay in ('linear', 'cosine') and not total_steps:
    raise ValueError(f'learning_rate_schedule.decay={decay!r} needs '
                     'total_steps (e.g. %TRAIN_STEPS).')
  warmup = max(int(warmup_steps), 0)

  def schedule(step):
    step = jnp.maximum(jnp.asarray(step, jnp.float32) - step_offset, 0.0)
    warm = base_learning_rate * jnp.minimum(1.0, (step + 1.0) / max(warmup, 1))
    if decay == 'constant':
      after = base_learning_rate
    elif decay == 'rsqrt':
      after = base_learning_rate * jnp.sqrt(max(warmup, 1) /
                                            jnp.maximum(step, max(warmup, 1)))
    else:
      span = max(total_steps - step_offset - warmup, 1)
      frac = jnp.clip((step - warmup) / span, 0.0, 1.0)
      if decay == 'linear':
        shape = 1.0 - frac
      else:
        shape = 0.5 * (1.0 + jnp.cos(jnp.pi * frac))
      after = final_learning_rate + (base_learning_rate -
                                     final_learning_rate) * shape
    return jnp.where(step < warmup, warm, after)

  return schedule


def _decay_mask(params):
  # Norm scales (and any other vector) are not decayed; matrices are.
  return jax.tree.map(lambda p: jnp.ndim(p) > 1, params)


def _with_clipping(tx: optax.GradientTransformation,
                   clip_gradient_norm: Optional[float]):
  if clip_gradient_norm:
    return optax.chain(optax.clip_by_global_norm(clip_gradient_norm), tx)
  return tx


@gin.configurable
def adamw(learning_rate: Schedule = 1e-4,
          b1: float = 0.9,
          b2: float = 0.999,
          eps: float = 1e-8,
          weight_decay: float = 0.0,
          clip_gradient_norm: Optional[float] = 1.0) -> optax.GradientTransformation:
  """AdamW with decoupled weight decay on matrices and global-norm clipping."""
  return _with_clipping(
      optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps,
                  weight_decay=weight_decay, mask=_decay_mask),
      clip_gradient_norm)


@gin.configurable
def adafactor(learning_rate: Schedule = 1e-3,
              decay_rate: float = 0.8,
              multiply_by_parameter_scale: bool = True,
              clipping_threshold: Optional[float] = 1.0,
              factored: bool = True,
              min_dim_size_to_factor: int = 128,
              momentum: Optional[float] = None,
              weight_decay_rate: Optional[float] = None,
              clip_gradient_norm: Optional[float] = None) -> optax.GradientTransformation:
  """Adafactor as T5X fine-tunes with it (factored second moments, no momentum)."""
  return _with_clipping(
      optax.adafactor(learning_rate=learning_rate,
                      min_dim_size_to_factor=min_dim_size_to_factor,
                      decay_rate=decay_rate,
                      multiply_by_parameter_scale=multiply_by_parameter_scale,
                      clipping_threshold=clipping_threshold,
                      momentum=momentum,
                      weight_decay_rate=weight_decay_rate,
                      factored=factored),
      clip_gradient_norm)


@gin.configurable
def sgd(learning_rate: Schedule = 1e-2, momentum: Optional[float] = None,
        clip_gradient_norm: Optional[float] = None) -> optax.GradientTransformation:
  """Plain SGD (handy for exact-arithmetic tests)."""
  return _with_clipping(optax.sgd(learning_rate, momentum=momentum),
                        clip_gradient_norm)
