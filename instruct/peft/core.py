"""Which parameters a PEFT method trains, and splitting the tree accordingly.

Every PEFT parameter lives in the ordinary 'params' tree under a name that
starts with `peft_`. A parameter is trainable when any component of its path
starts with `peft_`, or when its '/'-joined path matches one of
`PeftConfig.train_patterns`; everything else is the frozen base. The trainer
takes gradients and keeps optimizer state only for the trainable subtree.
"""

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from instruct import errors
from instruct import param_trees

PREFIX = 'peft_'
Path = Tuple[str, ...]


def is_peft_path(path: Path) -> bool:
  """Whether a parameter path belongs to a PEFT method (a `peft_` component)."""
  return any(str(p).startswith(PREFIX) for p in path)


def is_trainable(path: Path, peft_config) -> bool:
  """Whether the parameter at `path` is trained under `peft_config`.

  Args:
    path: the parameter's path, e.g. ('encoder', 'layers_0', 'attention',
      'query', 'peft_lora_a').
    peft_config: a `PeftConfig`, or None (full fine-tuning: all trainable).

  Returns:
    True for `peft_` parameters and for paths matching `train_patterns`.
  """
  if peft_config is None:
    return True
  if is_peft_path(path):
    return True
  joined = '/'.join(str(p) for p in path)
  return any(re.search(p, joined) for p in peft_config.train_patterns)


def trainable_filter(peft_config) -> param_trees.PathFilter:
  """`path -> bool`: the parameters `peft_config` trains (cf. `is_trainable`)."""
  return lambda path: is_trainable(path, peft_config)


flatten = param_trees.flatten
unflatten = param_trees.unflatten
combine = param_trees.combine
count_parameters = param_trees.count_parameters
tree_bytes = param_trees.tree_bytes


def partition(params: Mapping[str, Any],
              peft_config=None) -> Tuple[Dict[str, Any], Dict[str, Any]]:
  """Splits params into (trainable, frozen) nested dicts.

  Each half holds only its own leaves, so an optimizer initialised on
  `trainable` keeps no state for the frozen base. With no `peft_config`
  everything is trainable and `frozen` is empty.
  """
  return param_trees.partition(params, trainable_filter(peft_config))


def peft_config_of(model) -> Optional[Any]:
  """The model's `PeftConfig` (`model.module.config.peft`), or None."""
  module = getattr(model, 'module', model)
  config = getattr(module, 'config', None)
  return getattr(config, 'peft', None)


def base_params(params: Mapping[str, Any]) -> Dict[str, Any]:
  """The parameters without any `peft_` leaf (the base model's tree)."""
  return param_trees.select(params, lambda p: not is_peft_path(p))


def adapter_params(params: Mapping[str, Any]) -> Dict[str, Any]:
  """Only the `peft_` leaves of a parameter tree."""
  return param_trees.select(params, is_peft_path)


def cast_frozen(frozen: Any, peft_config) -> Any:
  """Casts floating frozen leaves to `peft_config.frozen_dtype`."""
  if peft_config is None:
    return frozen
  return param_trees.cast_floating(frozen, peft_config.frozen_dtype)


# -----------------------------------------------------------------------------
# Target-module patterns.
# -----------------------------------------------------------------------------
def dense_paths(params: Mapping[str, Any]) -> List[str]:
  """'/'-joined paths of the Dense layers a PEFT method may target.

  A Dense layer is a scope holding a 2-D `kernel`; the output layer
  (`logits_dense`) takes no PEFT method and is left out.
  """
  out = []
  for path, leaf in flatten(params).items():
    if (path[-1] == 'kernel' and len(getattr(leaf, 'shape', ())) == 2 and
        path[-2] != 'logits_dense' and not is_peft_path(path)):
      out.append('/'.join(path[:-1]))
  return sorted(out)


def matches(path: str, patterns: Iterable[str]) -> bool:
  """Whether a Dense path is matched (`re.search`) by any pattern."""
  return any(re.search(p, path) for p in patterns)


def targeted_methods(peft_config) -> Dict[str, Tuple[str, ...]]:
  """{'peft.LoraConfig.target_modules': patterns, ...} of the methods in use."""
  out = {}
  if peft_config is None:
    return out
  for field, cls in (('lora', 'LoraConfig'), ('ia3', 'IA3Config'),
                     ('bitfit', 'BitFitConfig')):
    method = getattr(peft_config, field, None)
    if method is not None:
      out[f'peft.{cls}.target_modules'] = tuple(method.target_modules)
      if field == 'ia3':
        out['peft.IA3Config.feedforward_modules'] = tuple(
            method.feedforward_modules)
  return out


def validate_targets(params: Mapping[str, Any], peft_config) -> None:
  """Every target pattern must match at least one Dense layer.

  Args:
    params: the (possibly abstract) parameter tree of the model.
    peft_config: the model's `PeftConfig` (None: nothing to check).

  Raises:
    UserError: naming the gin field and the pattern that matches nothing,
      and listing the Dense paths that could be targeted.
  """
  if peft_config is None:
    return
  paths = dense_paths(params)
  # Distinct layer names are enough to pick a pattern (layers_0 stands for
  # all layers); the full list would be hundreds of lines.
  for field, patterns in targeted_methods(peft_config).items():
    for pattern in patterns:
      try:
        compiled = re.compile(pattern)
      except re.error as e:
        raise errors.UserError(
            f'{field}: {pattern!r} is not a valid regular expression: {e}.'
        ) from e
      if not any(compiled.search(p) for p in paths):
        examples = sorted({re.sub(r'layers_\d+', 'layers_<i>', p)
                           for p in paths})
        raise errors.UserError(
            f'{field}: pattern {pattern!r} matches no Dense layer of the '
            'model. Patterns are regular expressions searched in the '
            "'/'-joined path; the Dense paths are:\n  " +
            '\n  '.join(examples))


def summary(params: Mapping[str, Any], peft_config) -> Dict[str, int]:
  """Trainable and total parameter counts."""
  trainable, _ = partition(params, peft_config)
  return {'trainable': count_parameters(trainable),
          'total': count_parameters(params)}
