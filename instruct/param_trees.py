"""Parameter trees: paths, selecting and splitting leaves, and which train.

A parameter tree is a nested dict of arrays (or `jax.ShapeDtypeStruct`s); a
leaf is named by its path, the tuple of keys leading to it, e.g.
('encoder', 'layers_0', 'attention', 'query', 'kernel').

`ParamPolicy` is what the trainer knows about a model's parameters: which
leaves train (the others are frozen: no gradient, no optimizer state, and
optionally held in a lower precision), and which leaves a base checkpoint
does not hold and so start fresh. Models carry one (`model.param_policy`);
a transformation such as `instruct.peft.apply` returns a model with another.
Nothing here knows about any particular method.
"""

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

Path = Tuple[str, ...]
PathFilter = Callable[[Path], bool]


# -----------------------------------------------------------------------------
# Paths.
# -----------------------------------------------------------------------------
def flatten(tree: Mapping[str, Any], prefix: Path = ()) -> Dict[Path, Any]:
  """{path tuple: leaf} for a nested dict."""
  out = {}
  for k, v in tree.items():
    if isinstance(v, Mapping):
      out.update(flatten(v, prefix + (k,)))
    else:
      out[prefix + (k,)] = v
  return out


def unflatten(flat: Mapping[Path, Any]) -> Dict[str, Any]:
  """Inverse of `flatten` (plain nested dicts)."""
  tree: Dict[str, Any] = {}
  for path, leaf in flat.items():
    node = tree
    for k in path[:-1]:
      node = node.setdefault(k, {})
    node[path[-1]] = leaf
  return tree


def select(tree: Mapping[str, Any], keep: PathFilter) -> Dict[str, Any]:
  """The subtree of the leaves whose path `keep` accepts."""
  return unflatten({p: v for p, v in flatten(tree).items() if keep(p)})


def partition(tree: Mapping[str, Any], keep: PathFilter
              ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
  """(leaves `keep` accepts, the others), each a nested dict of its own."""
  yes, no = {}, {}
  for path, leaf in flatten(tree).items():
    (yes if keep(path) else no)[path] = leaf
  return unflatten(yes), unflatten(no)


def combine(first: Mapping[str, Any], second: Mapping[str, Any]
            ) -> Dict[str, Any]:
  """Merges two disjoint trees (e.g. the halves of `partition`) into one.

  Raises:
    ValueError: naming a path present in both.
  """
  flat = flatten(second)
  for path, leaf in flatten(first).items():
    if path in flat:
      raise ValueError(f'combine: {"/".join(path)} is in both halves.')
    flat[path] = leaf
  return unflatten(flat)


# -----------------------------------------------------------------------------
# Sizes and dtypes.
# -----------------------------------------------------------------------------
def count_parameters(tree: Any) -> int:
  """Number of scalars in a tree of arrays (or ShapeDtypeStructs)."""
  return int(sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree)))


def tree_bytes(tree: Any) -> int:
  """Bytes held by the array leaves of a tree (e.g. an optimizer state)."""
  total = 0
  for x in jax.tree.leaves(tree):
    if hasattr(x, 'shape') and hasattr(x, 'dtype'):
      total += int(np.prod(x.shape)) * jnp.dtype(x.dtype).itemsize
  return total


def cast_floating(tree: Any, dtype: Optional[str]) -> Any:
  """Floating leaves cast to `dtype` (None or 'float32': unchanged).

  Abstract leaves (`jax.ShapeDtypeStruct`) keep their sharding.
  """
  if dtype is None or dtype == 'float32':
    return tree
  dtype = jnp.dtype(dtype)

  def cast(x):
    if jnp.issubdtype(x.dtype, jnp.floating):
      if isinstance(x, jax.ShapeDtypeStruct):
        return jax.ShapeDtypeStruct(x.shape, dtype,
                                    sharding=getattr(x, 'sharding', None))
      return x.astype(dtype)
    return x

  return jax.tree.map(cast, tree)


def global_norm(tree: Any) -> jnp.ndarray:
  """L2 norm of all leaves, summed in float32 (bfloat16 would lose bits)."""
  leaves = [jnp.sum(jnp.square(x.astype(jnp.float32)))
            for x in jax.tree.leaves(tree)]
  return jnp.sqrt(sum(leaves)) if leaves else jnp.zeros((), jnp.float32)


# -----------------------------------------------------------------------------
# Which leaves train.
# -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ParamPolicy:
  """Which parameters train, which are frozen and which start fresh.

  Attributes:
    trainable: path -> whether the leaf trains; None: every leaf trains
      (full fine-tuning; the trainer then does not split the tree at all).
    fresh: path -> whether the leaf is absent from a base checkpoint and so
      initialised fresh when a run starts from one (a PEFT method's own
      leaves, a new reward head); None: nothing is fresh.
    frozen_dtype: dtype the frozen (non-trainable) floating leaves are held
      in, e.g. 'bfloat16'; None keeps the model's dtype.
    validate: called with the (abstract) parameter tree before training, to
      reject a configuration that does not fit the model (a UserError).
    description: a few words for the log line, e.g. 'PEFT lora, frozen base
      in bfloat16' ('' for full fine-tuning).
  """
  trainable: Optional[PathFilter] = None
  fresh: Optional[PathFilter] = None
  frozen_dtype: Optional[str] = None
  validate: Optional[Callable[[Any], None]] = None
  description: str = ''

  @property
  def trains_everything(self) -> bool:
    return self.trainable is None

  def is_trainable(self, path: Path) -> bool:
    return self.trainable is None or bool(self.trainable(path))

  def is_fresh(self, path: Path) -> bool:
    return self.fresh is not None and bool(self.fresh(path))

  def split(self, params: Any) -> Tuple[Any, Any]:
    """(trainable, frozen); without a filter `params` itself and {}."""
    if self.trainable is None:
      return params, {}
    return partition(params, self.trainable)

  def join(self, trainable: Any, frozen: Any) -> Any:
    """Inverse of `split`."""
    if self.trainable is None:
      return trainable
    return combine(trainable, frozen)

  def cast(self, params: Any) -> Any:
    """Frozen leaves in `frozen_dtype` (a no-op when everything trains)."""
    if self.trainable is None or self.frozen_dtype in (None, 'float32'):
      return params
    trainable, frozen = self.split(params)
    return self.join(trainable, cast_floating(frozen, self.frozen_dtype))

  def fresh_params(self, params: Any) -> Any:
    """Only the fresh leaves of a tree ({} when nothing is fresh)."""
    if self.fresh is None:
      return {}
    return select(params, self.fresh)

  def base_params(self, params: Any) -> Any:
    """The leaves a base checkpoint holds (all when nothing is fresh)."""
    if self.fresh is None:
      return params
    return select(params, lambda p: not self.fresh(p))


FULL_TRAINING = ParamPolicy()


def policy_of(model: Any) -> ParamPolicy:
  """`model.param_policy`, or full training for a model without one."""
  return getattr(model, 'param_policy', None) or FULL_TRAINING
