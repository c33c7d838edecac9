"""Device mesh, logical axis rules and shardings (JAX SPMD, no custom comms).

Models name the axes of every parameter and activation ('embed', 'mlp',
'heads', ...). The rules here, set from gin, map those logical names onto the
mesh axes ('data', 'model'), exactly as T5X's default rules do. State is
created already sharded: `eval_shape` -> shardings -> `jit(init,
out_shardings=...)`.
"""

import contextlib
import os
from typing import Any, Optional, Sequence, Tuple

from absl import logging
import flax.linen as nn
import gin
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

LogicalAxisRules = Sequence[Tuple[str, Optional[str]]]


@gin.configurable
def standard_logical_axis_rules(
    activation_partitioning_dims: int = 1,
    parameter_partitioning_dims: int = 1) -> LogicalAxisRules:
  """T5X's default logical-to-mesh rules.

  Args:
    activation_partitioning_dims: 2 also shards the activations' `embed`
      axis over `data` (FSDP-like activations).
    parameter_partitioning_dims: 2 also shards the parameters' `embed` axis
      over `data` (FSDP-like parameters).

  Returns:
    A list of (logical axis, mesh axis or None) pairs; the first rule whose
    mesh axis is still free wins.
  """
  if activation_partitioning_dims not in (1, 2):
    raise ValueError('activation_partitioning_dims must be 1 or 2, got '
                     f'{activation_partitioning_dims}.')
  if parameter_partitioning_dims not in (1, 2):
    raise ValueError('parameter_partitioning_dims must be 1 or 2, got '
                     f'{parameter_partitioning_dims}.')
  rules = [
      ('batch', 'data'),
      ('vocab', 'model'),
      ('mlp', 'model'),
      ('heads', 'model'),
      ('joined_kv', 'model'),
  ]
  if parameter_partitioning_dims == 2 or activation_partitioning_dims == 2:
    rules.append(('embed', 'data'))
  rules += [
      ('embed', None),
      ('kv', None),
      ('length', None),
      ('layers', None),
      ('stack', None),
      ('relpos_buckets', None),
      ('abspos_buckets', None),
      ('mlp_activations', None),
      # PEFT parameters (instruct.peft) are small: replicated.
      ('lora_rank', None),
      ('adapter', None),
      ('prefix_length', None),
  ]
  return rules


def maybe_initialize_distributed() -> None:
  """Calls `jax.distributed.initialize()` when launched as several processes.

  TPU pod slices, SLURM and explicit coordinator settings are detected by the
  environment they set; a single process needs nothing.
  """
  env = os.environ
  multi_host = (
      'JAX_COORDINATOR_ADDRESS' in env or
      int(env.get('JAX_NUM_PROCESSES', '1')) > 1 or
      int(env.get('SLURM_NTASKS', '1')) > 1 or
      len([h for h in env.get('TPU_WORKER_HOSTNAMES', '').split(',') if h]) > 1 or
      'MEGASCALE_COORDINATOR_ADDRESS' in env)
  if multi_host and not jax.distributed.is_initialized():
    logging.info('Initialising jax.distributed for a multi-process run.')
    # TPU and SLURM are detected by JAX itself; a plain multi-process launch
    # (launch/gpu.py) names the process count and id explicitly.
    kwargs = {}
    if 'JAX_NUM_PROCESSES' in env:
      kwargs['num_processes'] = int(env['JAX_NUM_PROCESSES'])
    if 'JAX_PROCESS_ID' in env:
      kwargs['process_id'] = int(env['JAX_PROCESS_ID'])
    jax.distributed.initialize(**kwargs)


@gin.configurable
class Partitioner:
  """Owns the mesh and turns logical axis names into shardings.

  Attributes:
    num_partitions: size of the `model` mesh axis (tensor parallelism); the
      `data` axis takes the remaining devices.
    logical_axis_rules: logical-to-mesh rules (default: T5X's).
  """

  def __init__(self,
               num_partitions: int = 1,
               logical_axis_rules: Optional[LogicalAxisRules] = None,
               devices: Optional[Sequence[jax.Device]] = None):
    devices = list(devices if devices is not None else jax.devices())
    if num_partitions < 1 or len(devices) % num_partitions:
      raise ValueError(
          f'Partitioner.num_partitions={num_partitions} must divide the '
          f'number of devices ({len(devices)}).')
    self.num_partitions = num_partitions
    self.logical_axis_rules = tuple(
        logical_axis_rules if logical_axis_rules is not None else
        standard_logical_axis_rules())
    data = len(devices) // num_partitions
    self.mesh = Mesh(np.asarray(devices).reshape(data, num_partitions),
                     ('data', 'model'))

  @property
  def data_size(self) -> int:
    return self.mesh.shape['data']

  def logical_to_sharding(self, logical_spec: Any) -> Any:
    """Maps a tree of logical PartitionSpecs to NamedShardings."""
    return nn.logical_to_mesh_sharding(logical_spec, self.mesh,
                                       self.logical_axis_rules)

  def boxed_to_shardings(self, boxed_tree: Any) -> Any:
    """Shardings for a tree whose leaves may be `nn.LogicallyPartitioned`."""
    return self.logical_to_sharding(nn.get_partition_spec(boxed_tree))

  @property
  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())

  @property
  def data_sharding(self) -> NamedSharding:
    """Arrays whose leading axis is the batch, split over `data`."""
    return NamedSharding(self.mesh, P('data'))

  def shard_batch(self, local_batch: Any) -> Any:
    """Turns this process's slice of the batch into global sharded arrays."""
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(
            self.data_sharding, np.asarray(x)), local_batch)

  @contextlib.contextmanager
  def context(self):
    """Mesh and rules in scope, so activation constraints resolve when traced."""
    with jax.set_mesh(self.mesh), nn.logical_axis_rules(self.logical_axis_rules):
      yield


def _dict_path(path) -> Tuple[str, ...]:
  return tuple(str(k.key) for k in path if isinstance(k, jax.tree_util.DictKey))


def derive_state_shardings(abstract_tree: Any, param_shardings: Any,
                           abstract_params: Any,
                           replicated: NamedSharding) -> Any:
  """Shardings for optimizer state, matched to the parameters they track.

  Optax states mirror the parameter tree inside tuples and namedtuples, so a
  state leaf is matched to the parameter with the same dictionary path. A leaf
  shaped like its parameter gets the parameter's sharding; a factored leaf
  (Adafactor's row/column statistics drop one axis) keeps the spec of the
  remaining axes; anything else (counts, scalars) is replicated.
  """
  by_path = {}
  for (path, sharding), leaf in zip(
      jax.tree_util.tree_flatten_with_path(param_shardings)[0],
      jax.tree.leaves(abstract_params)):
    by_path[_dict_path(path)] = (tuple(leaf.shape), sharding)

  def pick(path, leaf):
    found = by_path.get(_dict_path(path))
    shape = tuple(getattr(leaf, 'shape', ()))
    if found is None or not shape:
      return replicated
    param_shape, sharding = found
    if shape == param_shape:
      return sharding
    spec = tuple(sharding.spec) + (None,) * (len(param_shape) -
                                             len(sharding.spec))
    if len(shape) == len(param_shape) - 1:
      for drop in range(len(param_shape)):
        if param_shape[:drop] + param_shape[drop + 1:] == shape:
          return NamedSharding(sharding.mesh, P(*(spec[:drop] + spec[drop + 1:])))
    return replicated

  return jax.tree_util.tree_map_with_path(pick, abstract_tree)
