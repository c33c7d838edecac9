"""Train state and the jitted, sharded train step.

The step is a pure function of (state, batch, rng): it resolves the loss
normalization on the whole batch, accumulates gradients over
`num_microbatches`, applies the optax update and returns summed metrics. It
is jitted once with explicit in/out shardings and donates the old state.
"""

from typing import Any, Callable, Mapping, Optional, Tuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from instruct import partitioning as partitioning_lib


@flax.struct.dataclass
class TrainState:
  step: jnp.ndarray
  params: Any
  opt_state: Any


class StateFactory:
  """Creates the train state already sharded, and knows its layout.

  `eval_shape` gives the boxed (logically named) parameter shapes, the rules
  turn the names into shardings, and `jit(init, out_shardings=...)` creates
  every array directly where it belongs: no full copy on one device first.
  """

  def __init__(self, model, optimizer: optax.GradientTransformation,
               partitioner: partitioning_lib.Partitioner,
               input_shapes: Mapping[str, Tuple[int, ...]]):
    self.model = model
    self.optimizer = optimizer
    self.partitioner = partitioner
    self.input_shapes = dict(input_shapes)
    rng = jax.random.PRNGKey(0)
    with partitioner.context():
      boxed = jax.eval_shape(
          lambda r: model.get_initial_variables(r, self.input_shapes), rng)
    self.param_shardings = partitioner.boxed_to_shardings(boxed['params'])
    self.param_logical_specs = nn.get_partition_spec(boxed['params'])
    self.abstract_params = nn.unbox(boxed['params'])
    abstract_opt = jax.eval_shape(optimizer.init, self.abstract_params)
    opt_shardings = partitioning_lib.derive_state_shardings(
        abstract_opt, self.param_shardings, self.abstract_params,
        partitioner.replicated)
    self.state_shardings = TrainState(step=partitioner.replicated,
                                      params=self.param_shardings,
                                      opt_state=opt_shardings)
    self.abstract_state = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
        TrainState(step=jax.ShapeDtypeStruct((), jnp.int32),
                   params=self.abstract_params, opt_state=abstract_opt),
        self.state_shardings)

  def init(self, seed: int) -> TrainState:
    """Fresh parameters and optimizer state from `seed`."""

    def init_fn(rng):
      variables = self.model.get_initial_variables(rng, self.input_shapes)
      params = nn.unbox(variables['params'])
      return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                        opt_state=self.optimizer.init(params))

    with self.partitioner.context():
      return jax.jit(init_fn, out_shardings=self.state_shardings)(
          jax.random.PRNGKey(seed))

  def from_params(self, params, step: int) -> TrainState:
    """State around given (already placed) params, with a fresh optimizer."""
    opt_init = jax.jit(self.optimizer.init,
                       out_shardings=self.state_shardings.opt_state)
    step = jax.device_put(jnp.asarray(step, jnp.int32),
                          self.partitioner.replicated)
    return TrainState(step=step, params=params, opt_state=opt_init(params))

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
  """Builds `train_step(state, batch, rng) -> (state, metrics)` (not jitted)."""

  def train_step(state: TrainState, batch, rng):
    factor, weights = model.loss_normalization(batch)
    if weights is not None:
      batch = dict(batch, decoder_loss_weights=weights)
    step_rng = jax.random.fold_in(rng, state.step)
    grad_fn = jax.value_and_grad(model.loss_fn, has_aux=True)

    if num_microbatches <= 1:
      (_, metrics), grads = grad_fn(state.params, batch, step_rng, factor)
    else:
      micro = _split_microbatches(batch, num_microbatches)

      def body(carry, xs):
        grads_acc, metrics_acc = carry
        i, mb = xs
        (_, m), g = grad_fn(state.params, mb, jax.random.fold_in(step_rng, i),
                            factor)
        return (jax.tree.map(jnp.add, grads_acc, g),
                jax.tree.map(jnp.add, metrics_acc, m)), None

      zeros_g = jax.tree.map(jnp.zeros_like, state.params)
      mb0 = jax.tree.map(lambda x: x[0], micro)
      zeros_m = jax.tree.map(
          lambda s: jnp.zeros(s.shape, s.dtype),
          jax.eval_shape(lambda: grad_fn(state.params, mb0, step_rng,
                                         factor)[0][1]))
      (grads, metrics), _ = jax.lax.scan(
          body, (zeros_g, zeros_m),
          (jnp.arange(num_microbatches), micro))

    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = dict(metrics)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics['param_norm'] = optax.global_norm(params)
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
