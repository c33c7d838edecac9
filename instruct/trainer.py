"""Train state and the jitted, sharded train step.

The step is a pure function of (state, batch, rng): it resolves the loss
normalization on the whole batch, accumulates gradients over
`num_microbatches`, applies the optax update and returns summed metrics. It
is jitted once with explicit in/out shardings and donates the old state.

With a PEFT method (`model.module.config.peft`), `TrainState.params` still
holds the whole tree, but only its trainable half (`instruct.peft.core`:
`peft_` leaves and `train_patterns`) gets gradients and optimizer state; the
frozen half is closed over by the loss and may be stored in bfloat16.
"""

from typing import Any, Callable, Mapping, Optional, Tuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from instruct import partitioning as partitioning_lib
from instruct.peft import core as peft_core


@flax.struct.dataclass
class TrainState:
  """Step, the whole parameter tree and the optimizer state.

  With PEFT, `opt_state` tracks only the trainable subtree of `params`.
  """
  step: jnp.ndarray
  params: Any
  opt_state: Any


def _split(params, peft_config):
  """(trainable, frozen); without PEFT everything is trainable."""
  if peft_config is None:
    return params, {}
  return peft_core.partition(params, peft_config)


def _join(trainable, frozen, peft_config):
  if peft_config is None:
    return trainable
  return peft_core.combine(trainable, frozen)


def _global_norm(tree) -> jnp.ndarray:
  # float32 sums: a bfloat16 base would lose precision in its own dtype.
  leaves = [jnp.sum(jnp.square(x.astype(jnp.float32)))
            for x in jax.tree.leaves(tree)]
  return jnp.sqrt(sum(leaves)) if leaves else jnp.zeros((), jnp.float32)


class StateFactory:
  """Creates the train state already sharded, and knows its layout.

  `eval_shape` gives the boxed (logically named) parameter shapes, the rules
  turn the names into shardings, and `jit(init, out_shardings=...)` creates
  every array directly where it belongs: no full copy on one device first.

  With PEFT the optimizer state is laid out for the trainable subtree only,
  and the frozen leaves take `PeftConfig.frozen_dtype`.
  """

  def __init__(self, model, optimizer: optax.GradientTransformation,
               partitioner: partitioning_lib.Partitioner,
               input_shapes: Mapping[str, Tuple[int, ...]]):
    self.model = model
    self.optimizer = optimizer
    self.partitioner = partitioner
    self.input_shapes = dict(input_shapes)
    self.peft_config = peft_core.peft_config_of(model)
    rng = jax.random.PRNGKey(0)
    with partitioner.context():
      boxed = jax.eval_shape(
          lambda r: model.get_initial_variables(r, self.input_shapes), rng)
    self.param_shardings = partitioner.boxed_to_shardings(boxed['params'])
    self.param_logical_specs = nn.get_partition_spec(boxed['params'])
    self.abstract_params = self._cast(nn.unbox(boxed['params']))
    peft_core.validate_targets(self.abstract_params, self.peft_config)
    trainable, _ = _split(self.abstract_params, self.peft_config)
    trainable_shardings, _ = _split(self.param_shardings, self.peft_config)
    abstract_opt = jax.eval_shape(optimizer.init, trainable)
    opt_shardings = partitioning_lib.derive_state_shardings(
        abstract_opt, trainable_shardings, trainable, partitioner.replicated)
    self.state_shardings = TrainState(step=partitioner.replicated,
                                      params=self.param_shardings,
                                      opt_state=opt_shardings)
    self.abstract_state = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
        TrainState(step=jax.ShapeDtypeStruct((), jnp.int32),
                   params=self.abstract_params, opt_state=abstract_opt),
        self.state_shardings)

  def _cast(self, params):
    """Frozen leaves in `frozen_dtype` (a no-op without PEFT or in float32)."""
    if self.peft_config is None:
      return params
    trainable, frozen = peft_core.partition(params, self.peft_config)
    return peft_core.combine(
        trainable, peft_core.cast_frozen(frozen, self.peft_config))

  def _opt_init(self, params):
    return self.optimizer.init(_split(params, self.peft_config)[0])

  def init(self, seed: int) -> TrainState:
    """Fresh parameters and optimizer state from `seed`."""

    def init_fn(rng):
      variables = self.model.get_initial_variables(rng, self.input_shapes)
      params = self._cast(nn.unbox(variables['params']))
      return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                        opt_state=self._opt_init(params))

    with self.partitioner.context():
      return jax.jit(init_fn, out_shardings=self.state_shardings)(
          jax.random.PRNGKey(seed))

  def init_peft_params(self, seed: int):
    """Fresh `peft_` leaves only (placed), e.g. next to a restored base.

    The base's initialisers are traced too, but their results are unused,
    so XLA drops them: no second copy of the base is made.
    """
    shardings = peft_core.adapter_params(self.param_shardings)

    def init_fn(rng):
      variables = self.model.get_initial_variables(rng, self.input_shapes)
      return peft_core.adapter_params(nn.unbox(variables['params']))

    with self.partitioner.context():
      return jax.jit(init_fn, out_shardings=shardings)(
          jax.random.PRNGKey(seed))

  @property
  def abstract_base_params(self):
    """The abstract params without `peft_` leaves (what a base checkpoint has)."""
    return peft_core.base_params(self.abstract_state.params)

  def from_params(self, params, step: int) -> TrainState:
    """State around given (already placed) params, with a fresh optimizer."""
    opt_init = jax.jit(self._opt_init,
                       out_shardings=self.state_shardings.opt_state)
    step = jax.device_put(jnp.asarray(step, jnp.int32),
                          self.partitioner.replicated)
    return TrainState(step=step, params=params, opt_state=opt_init(params))

  def parameter_summary(self) -> dict:
    """Trainable and total parameter counts, optimizer-state bytes."""
    trainable, _ = _split(self.abstract_params, self.peft_config)
    return {'trainable_parameters': peft_core.count_parameters(trainable),
            'total_parameters': peft_core.count_parameters(
                self.abstract_params),
            'optimizer_state_bytes': peft_core.tree_bytes(
                self.abstract_state.opt_state)}

  def describe_parameters(self) -> str:
    """One line for the log: trainable/total parameters, optimizer memory."""
    s = self.parameter_summary()
    share = 100.0 * s['trainable_parameters'] / max(s['total_parameters'], 1)
    line = (f'parameters: {s["trainable_parameters"]:,} trainable of '
            f'{s["total_parameters"]:,} ({share:.3g}%); optimizer state '
            f'{s["optimizer_state_bytes"] / 2**20:,.2f} MiB')
    if self.peft_config is not None:
      methods = '+'.join(self.peft_config.methods) or 'train_patterns'
      line += (f'; PEFT {methods}, frozen base in '
               f'{self.peft_config.frozen_dtype}')
    return line

  @property
  def abstract_params_with_shardings(self):
    return self.abstract_state.params


def _split_microbatches(batch, num_microbatches: int):
  """[B, ...] -> [n, B/n, ...], each microbatch drawn evenly from every shard."""

  def split(x):
    b = x.shape[0]
    if b % num_microbatches:
      raise ValueError(f'Batch size {b} is not divisible by '
                       f'num_microbatches={num_microbatches}.')
    x = x.reshape((b // num_microbatches, num_microbatches) + x.shape[1:])
    return jnp.swapaxes(x, 0, 1)

  return jax.tree.map(split, batch)


def make_train_step(model, optimizer: optax.GradientTransformation,
                    num_microbatches: int = 1,
                    learning_rate_fn: Optional[Callable] = None):
  """Builds `train_step(state, batch, rng) -> (state, metrics)` (not jitted).

  The loss is `model.loss_fn(params, batch, rng, factor)` on the whole tree;
  with PEFT it is differentiated only w.r.t. the trainable half and the
  optimizer updates only that half. `param_norm` is then the trainable
  half's norm (the frozen half does not move).
  """
  peft_config = peft_core.peft_config_of(model)

  def train_step(state: TrainState, batch, rng):
    factor, weights = model.loss_normalization(batch)
    if weights is not None:
      batch = dict(batch, decoder_loss_weights=weights)
    step_rng = jax.random.fold_in(rng, state.step)
    trainable, frozen = _split(state.params, peft_config)

    def loss_of_trainable(t, mb, r, f):
      return model.loss_fn(_join(t, frozen, peft_config), mb, r, f)

    grad_fn = jax.value_and_grad(loss_of_trainable, has_aux=True)

    if num_microbatches <= 1:
      (_, metrics), grads = grad_fn(trainable, batch, step_rng, factor)
    else:
      micro = _split_microbatches(batch, num_microbatches)

      def body(carry, xs):
        grads_acc, metrics_acc = carry
        i, mb = xs
        (_, m), g = grad_fn(trainable, mb, jax.random.fold_in(step_rng, i),
                            factor)
        return (jax.tree.map(jnp.add, grads_acc, g),
                jax.tree.map(jnp.add, metrics_acc, m)), None

      zeros_g = jax.tree.map(jnp.zeros_like, trainable)
      mb0 = jax.tree.map(lambda x: x[0], micro)
      zeros_m = jax.tree.map(
          lambda s: jnp.zeros(s.shape, s.dtype),
          jax.eval_shape(lambda: grad_fn(trainable, mb0, step_rng,
                                         factor)[0][1]))
      (grads, metrics), _ = jax.lax.scan(
          body, (zeros_g, zeros_m),
          (jnp.arange(num_microbatches), micro))

    updates, opt_state = optimizer.update(grads, state.opt_state, trainable)
    trainable = optax.apply_updates(trainable, updates)
    params = _join(trainable, frozen, peft_config)
    metrics = dict(metrics)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics['param_norm'] = _global_norm(trainable)
    if learning_rate_fn is not None:
      metrics['learning_rate'] = jnp.asarray(learning_rate_fn(state.step),
                                             jnp.float32)
    new_state = state.replace(step=state.step + 1, params=params,
                              opt_state=opt_state)
    return new_state, metrics

  return train_step


def jit_train_step(train_step, factory: StateFactory):
  """Jits the step with explicit shardings and donated state."""
  p = factory.partitioner
  jitted = jax.jit(train_step,
                   in_shardings=(factory.state_shardings, p.data_sharding,
                                 p.replicated),
                   out_shardings=(factory.state_shardings, p.replicated),
                   donate_argnums=(0,))

  def run(state, batch, rng):
    with p.context():
      return jitted(state, batch, rng)

  return run
