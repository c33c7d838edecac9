"""Adapter checkpoints, merging, and several adapters over one base.

An adapter checkpoint is a directory holding

    adapter/        Orbax PyTree of the `peft_` leaves only
    adapter.json    {"peft_config": ..., "base": {...}, "format_version": 1}

where "base" records the checkpoint the base came from and a fingerprint of
it: a hash of its parameter names and shapes and a per-parameter value
checksum (mean absolute value, compared loosely so a bfloat16 copy of the
same base still matches). Loading onto any other base is a `UserError`
naming both.

`merge` folds LoRA and (IA)^3 into the base kernels for deployment: the
result has no `peft_` leaves and runs with `peft=None`. `with_adapter` gives
the (model, params) pair for one adapter over a shared base, which is how
`instruct.infer --adapters=...` serves several adapters side by side.
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Dict, Mapping, Optional, Tuple

from etils import epath
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from instruct import checkpoints
from instruct.errors import UserError
from instruct.peft import config as peft_config_lib
from instruct.peft import core
from instruct.peft import transform

FORMAT_VERSION = 1
ADAPTER_JSON = 'adapter.json'
_METHOD_CLASSES = {
    'lora': peft_config_lib.LoraConfig,
    'ia3': peft_config_lib.IA3Config,
    'bitfit': peft_config_lib.BitFitConfig,
    'adapter': peft_config_lib.AdapterConfig,
    'prompt_tuning': peft_config_lib.PromptTuningConfig,
    'prefix_tuning': peft_config_lib.PrefixTuningConfig,
}
# Relative tolerance of the per-parameter value checksum: loose enough for a
# bfloat16 copy of the base (3 significant digits), tight enough to tell two
# trained bases apart.
_CHECKSUM_RTOL = 2e-2


# -----------------------------------------------------------------------------
# PeftConfig <-> JSON.
# -----------------------------------------------------------------------------
def config_to_dict(peft_config) -> Dict[str, Any]:
  """A JSON-ready dict of a `PeftConfig` (tuples become lists)."""
  return json.loads(json.dumps(dataclasses.asdict(peft_config)))


def config_from_dict(d: Mapping[str, Any], source: str = 'adapter.json'):
  """Inverse of `config_to_dict`; unknown fields are a UserError."""
  kwargs = {}
  fields = {f.name for f in dataclasses.fields(peft_config_lib.PeftConfig)}
  for key, value in d.items():
    if key not in fields:
      raise UserError(f'{source}: unknown PeftConfig field {key!r}; expected '
                      f'one of {sorted(fields)}.')
    if key in _METHOD_CLASSES and value is not None:
      cls = _METHOD_CLASSES[key]
      known = {f.name for f in dataclasses.fields(cls)}
      bad = sorted(set(value) - known)
      if bad:
        raise UserError(f'{source}: unknown {cls.__name__} field(s) {bad}.')
      value = cls(**value)
    kwargs[key] = value
  return peft_config_lib.PeftConfig(**kwargs)


# -----------------------------------------------------------------------------
# The base record.
# -----------------------------------------------------------------------------
def base_record(params: Mapping[str, Any],
                checkpoint_path: Optional[str] = None) -> Dict[str, Any]:
  """What identifies a base: its path, names+shapes hash, value checksums.

  Args:
    params: the model parameters (any `peft_` leaves are ignored).
    checkpoint_path: where the base was read from, for messages.

  Returns:
    {'checkpoint_path', 'structure_sha256', 'num_parameters', 'checksum'}
    where 'checksum' maps each '/'-joined name to its mean absolute value.
  """
  flat = core.flatten(core.base_params(params))
  names = sorted(flat)
  h = hashlib.sha256()
  for name in names:
    h.update(('/'.join(name) + str(tuple(flat[name].shape)) + ';').encode())
  mean_abs = jax.jit(lambda xs: [jnp.mean(jnp.abs(x.astype(jnp.float32)))
                                 for x in xs])([flat[n] for n in names])
  return {
      'checkpoint_path': checkpoint_path,
      'structure_sha256': h.hexdigest(),
      'num_parameters': core.count_parameters(list(flat.values())),
      'checksum': {'/'.join(n): float(v) for n, v in zip(names, mean_abs)},
  }


def _compare_bases(saved: Mapping[str, Any], given: Mapping[str, Any],
                   adapter_path: str, base_path: Optional[str]) -> None:
  what = (f'the adapter at {adapter_path} was trained on the base '
          f'{saved.get("checkpoint_path") or "(path not recorded)"}, but is '
          f'being loaded onto {base_path or "a base given in memory"}')
  if saved['structure_sha256'] != given['structure_sha256']:
    raise UserError(
        f'Wrong base: {what}, whose parameter names or shapes differ '
        f'({given["num_parameters"]:,} parameters vs '
        f'{saved["num_parameters"]:,} recorded). Load the adapter onto the '
        'base it was trained on.')
  for name, value in saved['checksum'].items():
    other = given['checksum'].get(name)
    if other is None or abs(other - value) > _CHECKSUM_RTOL * max(
        abs(value), 1e-6):
      raise UserError(
          f'Wrong base: {what}, whose weights differ (parameter {name}: mean '
          f'|w| {other} vs {value} recorded). Same architecture, different '
          'checkpoint: load the adapter onto the base it was trained on.')


# -----------------------------------------------------------------------------
# Save / load.
# -----------------------------------------------------------------------------
def save_adapter(path: str, params: Mapping[str, Any], peft_config,
                 base: Optional[Mapping[str, Any]] = None,
                 base_checkpoint_path: Optional[str] = None) -> str:
  """Writes the `peft_` leaves of `params` and adapter.json to `path`.

  Args:
    path: a new directory (an existing adapter there is replaced).
    params: the full parameter tree (base + adapter) after training.
    peft_config: the `PeftConfig` the adapter was trained with.
    base: the base record (`base_record`); None computes it from `params`.
    base_checkpoint_path: recorded when `base` is None.

  Returns:
    The directory written.
  """
  adapter = core.adapter_params(params)
  if not adapter:
    raise UserError(f'save_adapter({path}): the parameters hold no peft_ '
                    'leaves (was the model built with a PeftConfig?).')
  if base is None:
    base = base_record(params, base_checkpoint_path)
  directory = epath.Path(checkpoints.absolute(path))
  directory.mkdir(parents=True, exist_ok=True)
  target = directory / 'adapter'
  if target.exists():
    target.rmtree()
  ocp.PyTreeCheckpointer().save(target, jax.tree.map(np.asarray, adapter))
  meta = {'format_version': FORMAT_VERSION,
          'peft_config': config_to_dict(peft_config),
          'base': dict(base)}
  (directory / ADAPTER_JSON).write_text(json.dumps(meta, indent=1))
  return os.fspath(directory)


def read_adapter_json(path: str) -> Dict[str, Any]:
  """adapter.json of an adapter directory, checked."""
  meta_path = epath.Path(checkpoints.absolute(path)) / ADAPTER_JSON
  if not meta_path.exists():
    raise UserError(f'{path} is not an adapter checkpoint: no {ADAPTER_JSON} '
                    '(written by instruct.peft.checkpoint.save_adapter).')
  try:
    meta = json.loads(meta_path.read_text())
  except json.JSONDecodeError as e:
    raise UserError(f'{meta_path}: not valid JSON ({e.msg}).') from None
  for key in ('peft_config', 'base'):
    if key not in meta:
      raise UserError(f'{meta_path}: field {key!r} is missing.')
  return meta


def load_peft_config(path: str):
  """The `PeftConfig` an adapter checkpoint was trained with."""
  return config_from_dict(read_adapter_json(path)['peft_config'],
                          f'{path}/{ADAPTER_JSON}')


def load_adapter(path: str, base_params: Mapping[str, Any],
                 base_path: Optional[str] = None,
                 check_base: bool = True) -> Dict[str, Any]:
  """The base parameters with the adapter at `path` added.

  Args:
    path: a directory written by `save_adapter`.
    base_params: the base parameters (any `peft_` leaves are replaced).
    base_path: where the base came from, for the error message.
    check_base: compare the base with the recorded one (default).

  Returns:
    A parameter tree: the base's leaves (shared, not copied) plus the
    adapter's `peft_` leaves.

  Raises:
    UserError: when `base_params` is not the base the adapter was trained on.
  """
  meta = read_adapter_json(path)
  base = core.base_params(base_params)
  if check_base:
    _compare_bases(meta['base'], base_record(base, base_path), path,
                   base_path)
  directory = epath.Path(checkpoints.absolute(path)) / 'adapter'
  checkpointer = ocp.PyTreeCheckpointer()
  tree = checkpointer.metadata(directory)
  tree = getattr(tree, 'item_metadata', None) or tree
  tree = getattr(tree, 'tree', tree)
  restore_args = jax.tree.map(
      lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
  adapter = checkpointer.restore(
      directory, args=ocp.args.PyTreeRestore(restore_args=restore_args))
  adapter = jax.tree.map(jnp.asarray, adapter)
  return core.combine(adapter, base)


# -----------------------------------------------------------------------------
# Merge.
# -----------------------------------------------------------------------------
MERGEABLE = ('lora', 'ia3')


def merge(params: Mapping[str, Any], peft_config) -> Dict[str, Any]:
  """Folds LoRA and (IA)^3 into the base kernels; returns the base tree.

  For a Dense with both: W' = diag(l_in) W diag(l_out) + s * A @ B, which is
  what the unmerged layer computes, (x * l_in) @ W * l_out + s * x @ A @ B.
  The result has no `peft_` leaves and the kernels keep their dtype, so it
  runs with the model config's `peft=None`.

  Raises:
    UserError: for methods that cannot be folded into a bias-free kernel.
  """
  others = [m for m in peft_config.methods if m not in MERGEABLE]
  if others:
    raise UserError(
        f'merge: {", ".join(others)} cannot be merged into the base weights '
        f'(only {" and ".join(MERGEABLE)} can: the others add parameters the '
        'base network has no place for). Keep the adapter separate.')
  flat = core.flatten(params)
  scaling = peft_config.lora.scaling if peft_config.lora else None
  out = {}
  for path, leaf in flat.items():
    if core.is_peft_path(path):
      continue
    if path[-1] != 'kernel':
      out[path] = leaf
      continue
    scope = path[:-1]
    a = flat.get(scope + ('peft_lora_a',))
    b = flat.get(scope + ('peft_lora_b',))
    ia3 = flat.get(scope + ('peft_ia3',))
    if a is None and ia3 is None:
      out[path] = leaf
      continue
    w = jnp.asarray(leaf, jnp.float32)
    if ia3 is not None:
      ia3 = jnp.asarray(ia3, jnp.float32)
      # The rule of `layers.dense`: feedforward modules scale their input.
      if core.matches('/'.join(scope), peft_config.ia3.feedforward_modules):
        w = w * ia3[:, None]
      else:
        w = w * ia3[None, :]
    if a is not None:
      w = w + scaling * (jnp.asarray(a, jnp.float32) @
                         jnp.asarray(b, jnp.float32))
    out[path] = w.astype(leaf.dtype)
  return core.unflatten(out)


# -----------------------------------------------------------------------------
# Several adapters over one base.
# -----------------------------------------------------------------------------
def with_peft(model, peft_config):
  """A copy of `model` with `peft_config` applied (`instruct.peft.apply`)."""
  return transform.apply(model, peft_config)


def with_adapter(model, base_params: Mapping[str, Any], path: str,
                 base_path: Optional[str] = None) -> Tuple[Any, Dict[str, Any]]:
  """(model for the adapter's method, base + adapter params) for `path`.

  The base arrays are shared between adapters, so serving N adapters costs
  one base plus N small adapter trees.
  """
  params = load_adapter(path, base_params, base_path)
  return with_peft(model, load_peft_config(path)), params


def parse_adapters(spec: Optional[str]) -> Dict[str, str]:
  """'name=path,name2=path2' -> {name: path}; names must be unique."""
  out: Dict[str, str] = {}
  if not spec:
    return out
  for item in spec.split(','):
    if not item.strip():
      continue
    name, sep, path = item.partition('=')
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
      raise UserError(f'--adapters: {item!r} is not NAME=PATH (expected e.g. '
                      '--adapters=summarise=/ckpt/a,translate=/ckpt/b).')
    if name in out:
      raise UserError(f'--adapters: adapter name {name!r} is given twice.')
    out[name] = path
  return out


# -----------------------------------------------------------------------------
# Command line: adapter (or merged model) out of a training checkpoint.
# -----------------------------------------------------------------------------
def peft_config_from_run(model_dir: str):
  """The `PeftConfig` of a training run, read from its saved config.gin."""
  import gin  # pylint: disable=g-import-not-at-top
  from instruct import configurables  # pylint: disable=g-import-not-at-top,unused-import
  path = epath.Path(checkpoints.absolute(model_dir)) / 'config.gin'
  if not path.exists():
    raise UserError(f'{model_dir}: no config.gin (written by instruct.train '
                    'next to its checkpoints); pass the model directory.')
  with gin.unlock_config():
    gin.clear_config()
    try:
      gin.parse_config(path.read_text(), skip_unknown=True)
      if 'peft.PeftConfig' not in gin.config_str():
        raise UserError(f'{path}: the run used no PEFT method (no '
                        'peft.PeftConfig bindings).')
      return peft_config_lib.PeftConfig()
    finally:
      gin.clear_config()


def main(argv=None) -> None:
  r"""`python -m instruct.peft.checkpoint --model_dir=RUN --output=DIR`.

  Writes the adapter of the run's latest (or `--step`) checkpoint with its
  base record; `--merge` instead writes a merged Orbax checkpoint (LoRA and
  (IA)^3 only) that loads with the model gin file alone.
  """
  import argparse  # pylint: disable=g-import-not-at-top
  from instruct import checkpoint_formats  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=main.__doc__.split('\n')[0])
  parser.add_argument('--model_dir', required=True)
  parser.add_argument('--output', required=True)
  parser.add_argument('--step', type=int)
  parser.add_argument('--base_checkpoint',
                      help='recorded as the base path (default: the '
                      "run's INITIAL_CHECKPOINT_PATH is not known here)")
  parser.add_argument('--merge', action='store_true')
  args = parser.parse_args(argv)
  peft_config = peft_config_from_run(args.model_dir)
  ckpt = (epath.Path(checkpoints.absolute(args.model_dir)) /
          f'checkpoint_{args.step}' if args.step is not None else
          checkpoints.find_checkpoint_dir(args.model_dir))
  tree = checkpoints.load_numpy_tree(os.fspath(ckpt))
  params = tree['target']
  if args.merge:
    merged = jax.tree.map(np.asarray, merge(params, peft_config))
    out = checkpoint_formats.save_orbax(
        {'target': merged, 'state': {'step': tree['state']['step']}},
        args.output, int(np.asarray(tree['state']['step'])))
    print(f'[instruct.peft] merged {"+".join(peft_config.methods)} into the '
          f'base: {out}')
  else:
    out = save_adapter(args.output, params, peft_config,
                       base_checkpoint_path=args.base_checkpoint)
    print(f'[instruct.peft] adapter ({"+".join(peft_config.methods)}, '
          f'{core.count_parameters(core.adapter_params(params)):,} '
          f'parameters) written to {out}')


if __name__ == '__main__':
  main()
