"""The weight-level PEFT methods inside the networks' layers.

`dense` replaces a `models.layers.Dense` layer's product when the model has
a `PeftConfig`: LoRA, (IA)^3 and BitFit act on the projections whose '/'-joined
module path (`encoder/layers_0/attention/query`, ...) a method's
`target_modules` patterns match. `adapter` adds a bottleneck adapter after a
layer's attention or MLP block. Both model families call these, so the
parameter names (`peft_lora_a`, `peft_ia3`, `peft_bias`,
`peft_adapter_{attention,mlp}`) are the same in T5 and Llama.

Dropout of LoRA inputs happens only when the module is applied with a
'dropout' rng (training); scoring, decoding and initialisation are
deterministic, so no `enable_dropout` flag has to reach every Dense.
"""

import math
import re
from typing import Any, Tuple

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

Array = jax.Array


def _matches(path: str, patterns) -> bool:
  return any(re.search(p, path) for p in patterns)


def _vec(v: Array, ndim: int, dtype: Any) -> Array:
  """A [n] vector shaped to broadcast over an [..., n] array (no rank promotion)."""
  return jnp.asarray(v, dtype).reshape((1,) * (ndim - 1) + v.shape)


def lora_a_init(key, shape, dtype=jnp.float32):
  """Hugging Face peft's A: kaiming_uniform(a=sqrt(5)) on the [r, in] weight.

  That bound is gain * sqrt(3 / fan_in) with gain sqrt(2 / (1 + 5)), i.e.
  U(-1/sqrt(in), 1/sqrt(in)); ours is stored transposed as [in, r].
  """
  bound = 1.0 / math.sqrt(shape[0])
  return jax.random.uniform(key, shape, dtype, -bound, bound)


def dense(module: nn.Module, x: Array, kernel: Array,
          kernel_axes: Tuple[str, str], dtype: Any) -> Array:
  """y = x @ kernel with the PEFT methods that target `module`.

  Called from `models.layers.Dense.__call__` (inside its compact scope, so
  the `peft_` parameters are created in the Dense scope).

  Args:
    module: the Dense module; its `peft` field is the `PeftConfig`.
    x: inputs [..., in], already in the compute dtype.
    kernel: [in, out] in the compute dtype.
    kernel_axes: the kernel's logical axis names (in, out).
    dtype: the compute dtype.

  Returns:
    [..., out] outputs.
  """
  cfg = module.peft
  path = '/'.join(module.path)
  in_axis, out_axis = kernel_axes
  d_in, d_out = kernel.shape
  lora = cfg.lora if cfg.lora and _matches(path, cfg.lora.target_modules) \
      else None
  ia3 = cfg.ia3 if cfg.ia3 and _matches(path, cfg.ia3.target_modules) else None
  bitfit = cfg.bitfit is not None and _matches(path, cfg.bitfit.target_modules)

  x_in = x
  ia3_input = ia3 is not None and _matches(path, ia3.feedforward_modules)
  if ia3_input:
    scale = module.param('peft_ia3', nn.with_logical_partitioning(
        nn.initializers.ones, (in_axis,)), (d_in,), jnp.float32)
    x = x * _vec(scale, x.ndim, dtype)
  y = lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))
  if ia3 is not None and not ia3_input:
    scale = module.param('peft_ia3', nn.with_logical_partitioning(
        nn.initializers.ones, (out_axis,)), (d_out,), jnp.float32)
    y = y * _vec(scale, y.ndim, dtype)
  if lora is not None:
    a = module.param('peft_lora_a', nn.with_logical_partitioning(
        lora_a_init, (in_axis, 'lora_rank')), (d_in, lora.rank), jnp.float32)
    b = module.param('peft_lora_b', nn.with_logical_partitioning(
        nn.initializers.zeros, ('lora_rank', out_axis)), (lora.rank, d_out),
                     jnp.float32)
    h = x_in
    if lora.dropout > 0:
      training = module.has_rng('dropout') and not module.is_initializing()
      h = nn.Dropout(rate=lora.dropout, name='peft_lora_dropout')(
          h, deterministic=not training)
    h = lax.dot_general(h, jnp.asarray(a, dtype),
                        (((h.ndim - 1,), (0,)), ((), ())))
    h = lax.dot_general(h, jnp.asarray(b, dtype),
                        (((h.ndim - 1,), (0,)), ((), ())))
    y = y + h * jnp.asarray(lora.scaling, dtype)
  if bitfit:
    bias = module.param('peft_bias', nn.with_logical_partitioning(
        nn.initializers.zeros, (out_axis,)), (d_out,), jnp.float32)
    y = y + _vec(bias, y.ndim, dtype)
  return y


_ACTIVATIONS = {'relu': nn.relu, 'gelu': nn.gelu, 'silu': nn.silu,
                'swish': nn.silu, 'tanh': jnp.tanh}


class Adapter(nn.Module):
  """Bottleneck adapter h + up(act(down(h))) (Houlsby et al.).

  `up` starts at zero, so the model starts unchanged. Parameters:
  `down/kernel` [E, d], `down_bias` [d], `up/kernel` [d, E], `up_bias` [E].
  """
  bottleneck_dim: int
  activation: str = 'relu'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, h_BLE: Array) -> Array:
    emb = h_BLE.shape[-1]
    if self.activation not in _ACTIVATIONS:
      raise ValueError(f'peft.AdapterConfig.activation={self.activation!r};'
                       f' expected one of {sorted(_ACTIVATIONS)}.')
    down = self.param('down_kernel', nn.with_logical_partitioning(
        nn.initializers.variance_scaling(1.0, 'fan_in', 'truncated_normal'),
        ('embed', 'adapter')), (emb, self.bottleneck_dim), jnp.float32)
    down_bias = self.param('down_bias', nn.with_logical_partitioning(
        nn.initializers.zeros, ('adapter',)), (self.bottleneck_dim,),
                           jnp.float32)
    up = self.param('up_kernel', nn.with_logical_partitioning(
        nn.initializers.zeros, ('adapter', 'embed')),
                    (self.bottleneck_dim, emb), jnp.float32)
    up_bias = self.param('up_bias', nn.with_logical_partitioning(
        nn.initializers.zeros, ('embed',)), (emb,), jnp.float32)
    x = jnp.asarray(h_BLE, self.dtype)
    z = jnp.einsum('ble,ed->bld', x, jnp.asarray(down, self.dtype))
    z = _ACTIVATIONS[self.activation](z + _vec(down_bias, 3, self.dtype))
    z = jnp.einsum('bld,de->ble', z, jnp.asarray(up, self.dtype))
    return h_BLE + (z + _vec(up_bias, 3, self.dtype)).astype(h_BLE.dtype)


def adapter(peft_config, h_BLE: Array, where: str, dtype: Any) -> Array:
  """Applies the layer's adapter after block `where` ('attention' or 'mlp').

  Houlsby places one after the (self-)attention block and one after the MLP
  block, Pfeiffer only after the MLP block; a layer without adapters gets
  `h_BLE` back. Call from a layer's compact `__call__`.
  """
  cfg = None if peft_config is None else peft_config.adapter
  if cfg is None or (where == 'attention' and cfg.placement != 'houlsby'):
    return h_BLE
  return Adapter(cfg.bottleneck_dim, cfg.activation, dtype,
                 name=f'peft_adapter_{where}')(h_BLE)
