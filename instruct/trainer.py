"""Train state and the jitted, sharded train step.

The step is a pure function of (state, batch, rng): it resolves the loss
normalization on the whole batch, accumulates gradients over
`num_microbatches`, applies the optax update and returns summed metrics. It
is jitted once with explicit in/out shardings and donates the old state.

The trainer knows a model only through its contract
(`instruct.models.base.BaseModel`). Which parameters train is the model's
`param_policy` (`instruct.param_trees.ParamPolicy`): `TrainState.params`
always holds the whole tree, but when the policy freezes some leaves (a PEFT
method, see `instruct.peft.apply`) only the trainable half gets gradients and
optimizer state; the frozen half is closed over by the loss and may be held
in the policy's `frozen_dtype`.

Metrics: the step returns the model's summed `loss_fn` metrics plus the
trainer's own (`TRAINER_METRICS`); `summarize_metrics` and `check_finite`
turn a window of them into logged figures without naming a model metric.
"""

import math
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from instruct import param_trees
from instruct import partitioning as partitioning_lib

# Metrics the train step adds to the model's; averaged per step here.
TRAINER_METRICS = ('grad_norm', 'param_norm', 'learning_rate')
_LABELS = {'param_norm': 'parameter norm'}


@flax.struct.dataclass
class TrainState:
  """Step, the whole parameter tree and the optimizer state.

  When the model's `param_policy` freezes leaves, `opt_state` tracks only
  the trainable subtree of `params`.
  """
  step: jnp.ndarray
  params: Any
  opt_state: Any


class StateFactory:
  """Creates the train state already sharded, and knows its layout.

  `eval_shape` gives the boxed (logically named) parameter shapes, the rules
  turn the names into shardings, and `jit(init, out_shardings=...)` creates
  every array directly where it belongs: no full copy on one device first.

  With a policy that freezes leaves (`model.param_policy`) the optimizer
  state is laid out for the trainable subtree only, and the frozen leaves
  take the policy's `frozen_dtype`.
  """

  def __init__(self, model, optimizer: optax.GradientTransformation,
               partitioner: partitioning_lib.Partitioner,
               input_shapes: Mapping[str, Tuple[int, ...]]):
    self.model = model
    self.optimizer = optimizer
    self.partitioner = partitioner
    self.input_shapes = dict(input_shapes)
    self.policy = param_trees.policy_of(model)
    rng = jax.random.PRNGKey(0)
    with partitioner.context():
      boxed = jax.eval_shape(
          lambda r: model.get_initial_variables(r, self.input_shapes), rng)
    self.param_shardings = partitioner.boxed_to_shardings(boxed['params'])
    self.param_logical_specs = nn.get_partition_spec(boxed['params'])
    self.abstract_params = self.policy.cast(nn.unbox(boxed['params']))
    if self.policy.validate is not None:
      self.policy.validate(self.abstract_params)
    trainable, _ = self.policy.split(self.abstract_params)
    trainable_shardings, _ = self.policy.split(self.param_shardings)
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

  def _opt_init(self, params):
    return self.optimizer.init(self.policy.split(params)[0])

  def init(self, seed: int) -> TrainState:
    """Fresh parameters and optimizer state from `seed`."""

    def init_fn(rng):
      variables = self.model.get_initial_variables(rng, self.input_shapes)
      params = self.policy.cast(nn.unbox(variables['params']))
      return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                        opt_state=self._opt_init(params))

    with self.partitioner.context():
      return jax.jit(init_fn, out_shardings=self.state_shardings)(
          jax.random.PRNGKey(seed))

  def init_fresh_params(self, seed: int):
    """Only the leaves the policy calls fresh (placed), e.g. a PEFT method's
    next to a restored base; {} when there are none.

    The base's initialisers are traced too, but their results are unused,
    so XLA drops them: no second copy of the base is made.
    """
    shardings = self.policy.fresh_params(self.param_shardings)
    if not shardings:
      return {}

    def init_fn(rng):
      variables = self.model.get_initial_variables(rng, self.input_shapes)
      return self.policy.fresh_params(nn.unbox(variables['params']))

    with self.partitioner.context():
      return jax.jit(init_fn, out_shardings=shardings)(
          jax.random.PRNGKey(seed))

  @property
  def abstract_base_params(self):
    """The abstract params a base checkpoint holds (no fresh leaves)."""
    return self.policy.base_params(self.abstract_state.params)

  def from_base_params(self, base_params, step: int, seed: int) -> TrainState:
    """State around restored base params: fresh leaves from `seed` are
    added (see `init_fresh_params`), the optimizer starts fresh."""
    fresh = self.init_fresh_params(seed)
    params = param_trees.combine(fresh, base_params) if fresh else base_params
    return self.from_params(params, step)

  def from_params(self, params, step: int) -> TrainState:
    """State around given (already placed) params, with a fresh optimizer."""
    opt_init = jax.jit(self._opt_init,
                       out_shardings=self.state_shardings.opt_state)
    step = jax.device_put(jnp.asarray(step, jnp.int32),
                          self.partitioner.replicated)
    return TrainState(step=step, params=params, opt_state=opt_init(params))

  def parameter_summary(self) -> dict:
    """Trainable and total parameter counts, optimizer-state bytes."""
    trainable, _ = self.policy.split(self.abstract_params)
    return {'trainable_parameters': param_trees.count_parameters(trainable),
            'total_parameters': param_trees.count_parameters(
                self.abstract_params),
            'optimizer_state_bytes': param_trees.tree_bytes(
                self.abstract_state.opt_state)}

  def describe_parameters(self) -> str:
    """One line for the log: trainable/total parameters, optimizer memory."""
    s = self.parameter_summary()
    share = 100.0 * s['trainable_parameters'] / max(s['total_parameters'], 1)
    line = (f'parameters: {s["trainable_parameters"]:,} trainable of '
            f'{s["total_parameters"]:,} ({share:.3g}%); optimizer state '
            f'{s["optimizer_state_bytes"] / 2**20:,.2f} MiB')
    if self.policy.description:
      line += f'; {self.policy.description}'
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
  when `model.param_policy` freezes leaves it is differentiated only w.r.t.
  the trainable half and the optimizer updates only that half.
  `param_norm` is then the trainable half's norm (the frozen half does not
  move). The metrics are the model's summed ones plus `TRAINER_METRICS`.
  """
  policy = param_trees.policy_of(model)

  def train_step(state: TrainState, batch, rng):
    factor, weights = model.loss_normalization(batch)
    if weights is not None:
      batch = dict(batch, decoder_loss_weights=weights)
    step_rng = jax.random.fold_in(rng, state.step)
    trainable, frozen = policy.split(state.params)

    def loss_of_trainable(t, mb, r, f):
      return model.loss_fn(policy.join(t, frozen), mb, r, f)

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
    params = policy.join(trainable, frozen)
    metrics = dict(metrics)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics['param_norm'] = param_trees.global_norm(trainable)
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


# -----------------------------------------------------------------------------
# Host side: summaries and the finiteness check.
# -----------------------------------------------------------------------------
def summarize_metrics(model, summed: Mapping[str, float], steps: int,
                      seconds: float) -> Dict[str, float]:
  """Logged figures of `steps` steps' summed metrics that took `seconds`.

  The model summarises its own metrics (`model.summarize_metrics`); the
  trainer's (`TRAINER_METRICS`) are averaged per step here, and
  `steps_per_second` added.
  """
  own = {k: v for k, v in summed.items() if k in TRAINER_METRICS}
  out = dict(model.summarize_metrics(
      {k: v for k, v in summed.items() if k not in TRAINER_METRICS}, steps,
      seconds))
  for k in TRAINER_METRICS:
    if k in own:
      out[k] = own[k] / steps
  out['steps_per_second'] = steps / seconds
  return out


def check_finite(model, metrics: Mapping[str, float]) -> Optional[str]:
  """None if the model's `finite_metrics` and the parameter norm of one
  step's host metrics are finite, else what became non-finite.

  The loss is of the parameters before the update, `param_norm` of those
  after it: both must be finite before a checkpoint may be written.
  """
  watched = [k for k in tuple(model.finite_metrics) + ('param_norm',)
             if k in metrics]
  if all(math.isfinite(metrics[k]) for k in watched):
    return None
  loss_key = model.finite_metrics[0]
  others = ', '.join(f'{_LABELS.get(k, k)} {metrics[k]}' for k in watched
                     if k != loss_key)
  return (f'Loss became {metrics.get(loss_key)}' +
          (f' ({others})' if others else ''))
