"""PEFT as a transformation of a model: `apply(model, peft_config)`.

    model = peft.apply(model, PeftConfig(lora=LoraConfig(rank=8)))
    model.param_policy.is_trainable(path)   # the `peft_` leaves (and
                                            # `train_patterns`) only

`apply` returns a copy of the model whose network carries the method (the
network config's `peft` field, which the layers read) and whose
`param_policy` (`instruct.param_trees.ParamPolicy`) says which leaves train,
which start fresh next to a base checkpoint (the `peft_` leaves) and which
dtype the frozen base takes. The trainer reads only that policy: it knows
nothing about PEFT.

The gin includes `gin_configs/peft/*.gin` bind `EncoderDecoderModel.peft` /
`DecoderOnlyModel.peft` (any family); the model applies the method itself (see `instruct.models.base.BaseTransformerModel`), so both
routes give the same model.

This module is PEFT core: it imports the PEFT configuration and layers and
foundation modules only, never `instruct.models`; the model is used through
its attributes (`module`, `input_vocabulary`, `param_policy`).
"""

import copy
import dataclasses
from typing import Any, Optional

from instruct import param_trees
from instruct.peft import core
from instruct.peft import prompts


def trainable_filter(peft_config) -> param_trees.PathFilter:
  """`path -> bool`: the leaves the method trains (cf. Levanter's
  `lora_trainable_params_filter`); everything with None."""
  return core.trainable_filter(peft_config)


def param_policy(peft_config) -> param_trees.ParamPolicy:
  """The trainer's view of a PEFT method (full training for None)."""
  if peft_config is None:
    return param_trees.FULL_TRAINING
  methods = '+'.join(peft_config.methods) or 'train_patterns'
  return param_trees.ParamPolicy(
      trainable=core.trainable_filter(peft_config),
      fresh=core.is_peft_path,
      frozen_dtype=peft_config.frozen_dtype,
      validate=lambda params: core.validate_targets(params, peft_config),
      description=(f'PEFT {methods}, frozen base in '
                   f'{peft_config.frozen_dtype}'))


def with_network_peft(module, peft_config, vocabulary=None):
  """`module` whose config carries `peft_config` (init text tokenised)."""
  config = getattr(module, 'config', None)
  if config is None or not hasattr(config, 'peft'):
    if peft_config is None:
      return module
    raise TypeError(f'{type(module).__name__} has no config with a `peft` '
                    'field: PEFT cannot be applied to it.')
  if config.peft != peft_config:
    module = module.clone(config=dataclasses.replace(config, peft=peft_config))
  if vocabulary is not None:
    # Prompt tuning from a text needs the model vocabulary's token ids.
    module = prompts.with_init_text(module, vocabulary)
  return module


def apply(model: Any, peft_config: Optional[Any]) -> Any:
  """A copy of `model` with `peft_config` applied (None: PEFT removed).

  Args:
    model: a model wrapping a network (`model.module`) whose config has a
      `peft` field, e.g. `EncoderDecoderModel` or `DecoderOnlyModel`.
    peft_config: an `instruct.peft.config.PeftConfig`, or None.

  Returns:
    The model with the method in its network and a `param_policy` that
    trains the method's parameters only. `model` itself is unchanged.
  """
  out = copy.copy(model)
  out.module = with_network_peft(model.module, peft_config,
                                 getattr(model, 'input_vocabulary', None))
  out.param_policy = param_policy(peft_config)
  return out
