"""Model FLOPs from the matmuls a function actually performs.

`count_matmul_flops` traces a function to a jaxpr (no computation, abstract
shapes are enough) and adds up 2 * M * N * K for every `dot_general`,
descending into nested jaxprs (jit, custom_jvp/vjp, remat; a `scan` body
counts once per iteration). Traced through `jax.value_and_grad(loss_fn)`,
this is the forward and backward matmul work over every token slot the step
processes, padding included: the numerator of model-FLOP utilisation (MFU).
Element-wise work (softmax, norms, the optimizer) is left out on purpose,
as in the usual 6 * N * tokens estimate; attention's two batched matmuls are
counted because they are matmuls.

`analytic_t5_flops` is the closed form for the T5 layout, used to cross-check
the tracer.
"""

from typing import Any, Callable, Mapping, Tuple

import jax
from jax.extend import core as jax_core
import jax.numpy as jnp
import numpy as np


def _dot_flops(eqn) -> int:
  (lhs_contract, _), _ = eqn.params['dimension_numbers']
  lhs = eqn.invars[0].aval
  out = eqn.outvars[0].aval
  k = int(np.prod([lhs.shape[d] for d in lhs_contract])) if lhs_contract else 1
  return 2 * int(np.prod(out.shape)) * k


def _sub_jaxprs(value):
  """Jaxprs held by an equation parameter (a jaxpr, a closed one, or a list)."""
  if isinstance(value, jax_core.ClosedJaxpr):
    yield value.jaxpr
  elif isinstance(value, jax_core.Jaxpr):
    yield value
  elif isinstance(value, (tuple, list)):
    for v in value:
      yield from _sub_jaxprs(v)


def jaxpr_matmul_flops(jaxpr) -> int:
  """Sum of dot_general FLOPs in a jaxpr and the jaxprs nested in it."""
  total = 0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == 'dot_general':
      total += _dot_flops(eqn)
      continue
    if name == 'cond':
      # Only one branch runs; count the most expensive.
      total += max((jaxpr_matmul_flops(b.jaxpr)
                    for b in eqn.params['branches']), default=0)
      continue
    repeat = int(eqn.params.get('length', 1)) if name == 'scan' else 1
    for value in eqn.params.values():
      for sub in _sub_jaxprs(value):
        total += repeat * jaxpr_matmul_flops(sub)
  return total


def count_matmul_flops(fn: Callable[..., Any], *args, **kwargs) -> int:
  """Matmul FLOPs of one call of `fn` on these (possibly abstract) arguments.

  Args:
    fn: any JAX-traceable function.
    *args: arrays or `jax.ShapeDtypeStruct`s.
    **kwargs: passed through to `fn`.

  Returns:
    2 * M * N * K summed over every matmul the call performs.
  """
  closed = jax.make_jaxpr(lambda *a: fn(*a, **kwargs))(*args)
  return jaxpr_matmul_flops(closed.jaxpr)


def train_step_flops(model, params: Any,
                     batch_shapes: Mapping[str, Tuple[int, ...]]) -> int:
  """Forward + backward matmul FLOPs of `model.loss_fn` on one batch.

  Args:
    model: an `EncoderDecoderModel` or `DecoderOnlyModel`.
    params: parameters, or their `ShapeDtypeStruct`s.
    batch_shapes: feature name -> shape (int32 features).

  Returns:
    FLOPs of the gradient computation (what the optimizer update is fed).
  """
  batch = {k: jax.ShapeDtypeStruct(s, jnp.int32)
           for k, s in batch_shapes.items()}
  if 'decoder_loss_weights' in batch:
    batch['decoder_loss_weights'] = jax.ShapeDtypeStruct(
        batch_shapes['decoder_loss_weights'], jnp.float32)
  grad_fn = jax.value_and_grad(
      lambda p, b: model.loss_fn(p, b, None)[0])
  return count_matmul_flops(grad_fn, params, batch)


def analytic_t5_flops(cfg, batch: int, inputs_length: int,
                      targets_length: int, backward: bool = True) -> int:
  """Closed-form matmul FLOPs of a T5 (`t5.T5Config`) train step.

  Args:
    cfg: the network's config.
    batch: sequences per step.
    inputs_length: encoder token slots per sequence.
    targets_length: decoder token slots per sequence.
    backward: include the backward pass (twice the forward matmuls).

  Returns:
    2 * params-in-matmuls * tokens + attention's QK^T and AV, times 3 with
    the backward pass.
  """
  e, h, d = cfg.emb_dim, cfg.num_heads, cfg.head_dim
  hd = h * d
  mlp = len(cfg.mlp_activations) * e * cfg.mlp_dim + cfg.mlp_dim * e
  attn = 4 * e * hd
  b, li, lt = batch, inputs_length, targets_length
  enc = 2 * b * li * cfg.num_encoder_layers * (attn + mlp)
  enc += cfg.num_encoder_layers * 2 * (2 * b * h * li * li * d)
  # Decoder: self-attention (4 projections) and the cross-attention's query
  # and output on the targets; its keys and values project the encoder output.
  dec = 2 * b * cfg.num_decoder_layers * (lt * (6 * e * hd + mlp) +
                                          li * 2 * e * hd)
  dec += cfg.num_decoder_layers * 2 * (2 * b * h * lt * lt * d)  # self
  dec += cfg.num_decoder_layers * 2 * (2 * b * h * lt * li * d)  # cross
  logits = 2 * b * lt * e * cfg.vocab_size
  forward = enc + dec + logits
  return 3 * forward if backward else forward
