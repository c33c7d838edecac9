"""Adapter fusion: a weighted combination of several trained LoRA adapters.

For weights w_i, the fused update of a projection is sum_i w_i s_i A_i B_i
(s_i each adapter's scaling). That is itself a LoRA of rank sum_i r_i:

    A = [A_1 | A_2 | ...]            [in, sum r]
    B = [w_1 s_1 B_1; w_2 s_2 B_2]   [sum r, out],   scaling 1

so a fused adapter runs, saves, merges and exports like any LoRA adapter.
The weights are given, or learned on a small set with `learn_weights`: the
base and every adapter stay frozen, only the K fusion weights are trained.
"""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from instruct.errors import UserError
from instruct.peft import checkpoint as peft_checkpoint
from instruct.peft import config as peft_config_lib
from instruct.peft import core

Adapter = Tuple[Mapping[str, Any], Any]  # (adapter `peft_` leaves, PeftConfig)


def load_adapters(paths: Sequence[str], base_params: Mapping[str, Any],
                  base_path: Optional[str] = None) -> List[Adapter]:
  """(adapter leaves, PeftConfig) of each adapter directory, base checked."""
  out = []
  for path in paths:
    params = peft_checkpoint.load_adapter(path, base_params, base_path)
    out.append((core.adapter_params(params),
                peft_checkpoint.load_peft_config(path)))
  return out


def _check(adapters: Sequence[Adapter]) -> List[Tuple[str, ...]]:
  """The LoRA scopes shared by every adapter; refuses anything else."""
  if len(adapters) < 2:
    raise UserError(f'Adapter fusion needs at least 2 adapters, got '
                    f'{len(adapters)}.')
  scopes = None
  for i, (leaves, cfg) in enumerate(adapters):
    if cfg.methods != ('lora',):
      raise UserError(
          f'Adapter fusion combines LoRA adapters; adapter {i} uses '
          f'{"+".join(cfg.methods) or "no method"}.')
    mine = sorted(p[:-1] for p in core.flatten(leaves)
                  if p[-1] == 'peft_lora_a')
    if scopes is None:
      scopes = mine
    elif mine != scopes:
      raise UserError(
          f'Adapter fusion: adapter {i} adapts other projections than adapter'
          f' 0 ({len(mine)} vs {len(scopes)}; first difference '
          f'{"/".join(sorted(set(mine) ^ set(scopes))[0])}). Fuse adapters '
          'trained with the same target_modules.')
  return scopes


def fused_config(adapters: Sequence[Adapter]):
  """The `PeftConfig` of the fused adapter (rank sum r_i, scaling 1)."""
  _check(adapters)
  rank = sum(cfg.lora.rank for _, cfg in adapters)
  first = adapters[0][1]
  return peft_config_lib.PeftConfig(
      lora=peft_config_lib.LoraConfig(
          rank=rank, alpha=float(rank), dropout=0.0,
          target_modules=first.lora.target_modules, use_rslora=False),
      frozen_dtype=first.frozen_dtype)


def fuse(adapters: Sequence[Adapter], weights) -> Dict[str, Any]:
  """The fused adapter's `peft_` leaves for `weights` [K] (differentiable).

  Args:
    adapters: K (leaves, PeftConfig) pairs, e.g. from `load_adapters`.
    weights: K fusion weights (an array, so `learn_weights` can
      differentiate through this).

  Returns:
    `peft_lora_a` / `peft_lora_b` leaves to combine with the base; use them
    with `fused_config(adapters)`.
  """
  scopes = _check(adapters)
  weights = jnp.asarray(weights, jnp.float32)
  if weights.shape != (len(adapters),):
    raise UserError(f'Adapter fusion: {len(adapters)} adapters need '
                    f'{len(adapters)} weights, got shape {weights.shape}.')
  flats = [core.flatten(leaves) for leaves, _ in adapters]
  out = {}
  for scope in scopes:
    a = jnp.concatenate([jnp.asarray(f[scope + ('peft_lora_a',)], jnp.float32)
                         for f in flats], axis=1)
    b = jnp.concatenate(
        [weights[i] * cfg.lora.scaling *
         jnp.asarray(f[scope + ('peft_lora_b',)], jnp.float32)
         for i, (f, (_, cfg)) in enumerate(zip(flats, adapters))], axis=0)
    out[scope + ('peft_lora_a',)] = a
    out[scope + ('peft_lora_b',)] = b
  return core.unflatten(out)


def fused_model_and_params(model, base_params: Mapping[str, Any],
                           adapters: Sequence[Adapter], weights):
  """(model with the fused config, base + fused adapter params)."""
  fused = fuse(adapters, weights)
  return (peft_checkpoint.with_peft(model, fused_config(adapters)),
          core.combine(fused, core.base_params(base_params)))


def learn_weights(model, base_params: Mapping[str, Any],
                  adapters: Sequence[Adapter],
                  batches: Iterable[Mapping[str, np.ndarray]],
                  steps: int = 50, learning_rate: float = 0.05,
                  init: Optional[Sequence[float]] = None) -> np.ndarray:
  """Fusion weights that minimise the model's loss on `batches`.

  Only the K weights are trained (Adam); the base and the adapters are
  constants. `batches` are model features (as the feature converter gives
  them) and are cycled through for `steps` steps.

  Args:
    model: the model (any PEFT config; it is replaced by the fused one).
    base_params: the shared base.
    adapters: K (leaves, PeftConfig) pairs.
    batches: a small set of feature batches.
    steps: optimisation steps.
    learning_rate: Adam's learning rate.
    init: starting weights (default: 1/K each).

  Returns:
    The learned weights [K] (float32).
  """
  batches = [dict(b) for b in batches]
  if not batches:
    raise UserError('learn_weights: no batches to learn the fusion weights '
                    'on.')
  k = len(adapters)
  fused_model = peft_checkpoint.with_peft(model, fused_config(adapters))
  base = core.base_params(base_params)
  tx = optax.adam(learning_rate)

  configs = [cfg for _, cfg in adapters]

  def loss(w, batch, base, leaves):
    factor, weights = fused_model.loss_normalization(batch)
    if weights is not None:
      batch = dict(batch, decoder_loss_weights=weights)
    params = core.combine(fuse(list(zip(leaves, configs)), w), base)
    return fused_model.loss_fn(params, batch, None, factor)[0]

  # Base and adapters are arguments, not closed-over constants, so they are
  # not baked into the compiled program.
  @jax.jit
  def step(w, opt_state, batch, base, leaves):
    value, grad = jax.value_and_grad(loss)(w, batch, base, leaves)
    updates, opt_state = tx.update(grad, opt_state, w)
    return optax.apply_updates(w, updates), opt_state, value

  w = jnp.asarray(init if init is not None else np.full(k, 1.0 / k),
                  jnp.float32)
  opt_state = tx.init(w)
  leaves = [leaves for leaves, _ in adapters]
  for i in range(steps):
    w, opt_state, _ = step(w, opt_state, batches[i % len(batches)], base,
                           leaves)
  return np.asarray(w)
