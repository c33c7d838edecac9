"""Orbax checkpoints in T5X's layout.

    MODEL_DIR/checkpoint_<step>/
      _CHECKPOINT_METADATA
      commit_success.txt   (on GCS; locally the directory is renamed
                            into place atomically instead)
      state/      OCDBT PyTree {'target': params,
                                'state': {'step': ..., 'param_states': ...}}
      dataset/    tf.data iterator state, one file per process

Saving is asynchronous (the arrays are copied off the devices, then written in
the background); the step directory only appears under its final name once
every item is written, so a run killed mid-save leaves the previous
checkpoint as the latest.

This module knows only this layout (and T5X's `checkpoint_<step>` naming).
Checkpoints of other tools, and the resolver that tells formats apart, are
in `instruct.checkpoint_formats`, which builds on this module.
"""

import dataclasses
import os
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from absl import logging
from etils import epath
import flax
from flax import traverse_util as flax_traverse_util
import jax
import numpy as np
import orbax.checkpoint as ocp
import tensorflow as tf

from instruct.errors import UserError

STEP_PREFIX = 'checkpoint'
STATE_ITEM = 'state'  # The item holding {'target', 'state'} of each step.
_STEP_DIR = re.compile(rf'^{STEP_PREFIX}_(\d+)$')
Path = Tuple[str, ...]


# -----------------------------------------------------------------------------
# The input pipeline's position, as an Orbax item.
# -----------------------------------------------------------------------------
class DatasetCheckpointHandler(ocp.CheckpointHandler):
  """Saves a `tf.data` iterator with `tf.train.Checkpoint`, per process."""

  def _prefix(self, directory: epath.Path) -> str:
    return os.fspath(directory / (f'train_ds-{jax.process_index():03d}-of-'
                                  f'{jax.process_count():03d}'))

  def save(self, directory: epath.Path, args: 'DatasetArgs'):
    directory.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(ds=args.iterator).write(self._prefix(directory))

  def restore(self, directory: epath.Path, args: 'DatasetArgs'):
    prefix = self._prefix(directory)
    if not tf.io.gfile.exists(prefix + '.index'):
      raise FileNotFoundError(
          f'No input-pipeline state for process {jax.process_index()} at '
          f'{prefix} (was the checkpoint written by a different number of '
          'processes?).')
    tf.train.Checkpoint(ds=args.iterator).read(prefix).assert_consumed()
    return args.iterator

  def metadata(self, directory: epath.Path):
    return None

  def finalize(self, directory: epath.Path):
    pass

  def close(self):
    pass


@ocp.args.register_with_handler(DatasetCheckpointHandler, for_save=True,
                                for_restore=True)
@dataclasses.dataclass
class DatasetArgs(ocp.args.CheckpointArgs):
  iterator: Any


# -----------------------------------------------------------------------------
# Helpers.
# -----------------------------------------------------------------------------
def t5x_state(params, opt_state, step) -> dict:
  """The saved tree, laid out as T5X lays out its train state."""
  return {'target': params, 'state': {'step': step, 'param_states': opt_state}}


def absolute(path: str) -> str:
  """Local paths made absolute (Orbax requires it); URLs such as gs:// kept."""
  return path if '://' in os.fspath(path) else os.path.abspath(path)


def step_dirs(model_dir: str, marker: str = STATE_ITEM
              ) -> List[Tuple[int, epath.Path]]:
  """(step, directory) of each `checkpoint_<step>` holding `marker`, oldest
  first; `marker` is `state` for ours, `checkpoint` for T5X's msgpack."""
  p = epath.Path(absolute(model_dir))
  steps = []
  if p.is_dir():
    for child in p.iterdir():
      m = _STEP_DIR.match(child.name)
      if m and (child / marker).exists():
        steps.append((int(m.group(1)), child))
  return sorted(steps)


def is_checkpoint_dir(path: str) -> bool:
  """Whether `path` is one of our `checkpoint_<step>` directories."""
  return (epath.Path(absolute(path)) / STATE_ITEM).exists()


def find_checkpoint_dir(path: str) -> epath.Path:
  """Resolves a checkpoint path: a `checkpoint_<step>` dir or a model dir.

  Raises:
    UserError: naming the path, when it holds no checkpoint.
  """
  p = epath.Path(absolute(path))
  if not p.exists():
    raise UserError(f'Checkpoint path {path} does not exist.')
  if (p / STATE_ITEM).exists():
    return p
  steps = step_dirs(path)
  if not steps:
    raise UserError(
        f'{path} is not a checkpoint: expected a checkpoint_<step>/ directory '
        'holding state/, or a model directory containing one (Hugging Face, '
        'T5X msgpack and GGUF checkpoints are read by '
        'instruct.checkpoint_formats).')
  return steps[-1][1]


def step_of(checkpoint_dir: epath.Path) -> Optional[int]:
  m = _STEP_DIR.match(checkpoint_dir.name)
  return int(m.group(1)) if m else None


def select(tree: Any, only: Callable[[Tuple[str, ...]], bool],
           prefix: Tuple[str, ...] = ()) -> Any:
  """The nested-dict subtree of leaves whose path `only` accepts."""
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      sub = select(v, only, prefix + (k,))
      if sub:
        out[k] = sub
    elif only(prefix + (k,)):
      out[k] = v
  return out


def flatten(tree: Mapping[str, Any]) -> Dict[Path, Any]:
  """{path tuple: leaf} of a nested parameter tree."""
  return flax_traverse_util.flatten_dict(flax.core.unfreeze(tree))


def check_params(params: Mapping[str, Any],
                 expected: Mapping[Path, Tuple[int, ...]], source: str,
                 what: str = 'the model') -> None:
  """Refuses missing, unknown or misshapen parameters, naming the first."""
  got = flatten(params)
  missing = [p for p in expected if p not in got]
  if missing:
    p = missing[0]
    raise UserError(f'{source}: parameter {"/".join(p)} is missing (expected '
                    f'shape {tuple(expected[p])} for {what}); {len(missing)} '
                    'missing in all. Is it a checkpoint of another '
                    'architecture?')
  unknown = [p for p in got if p not in expected]
  if unknown:
    p = unknown[0]
    raise UserError(f'{source}: unknown parameter {"/".join(p)} (shape '
                    f'{np.shape(got[p])}) for {what}; {len(unknown)} unknown '
                    'in all. Is it a checkpoint of another architecture?')
  for p, shape in expected.items():
    if tuple(np.shape(got[p])) != tuple(shape):
      raise UserError(f'{source}: parameter {"/".join(p)} has shape '
                      f'{tuple(np.shape(got[p]))}; {what} expects '
                      f'{tuple(shape)}. Is it a checkpoint of another size?')


def check_orbax_matches(checkpoint_dir: epath.Path, abstract_params: Any,
                        only: Optional[Callable[[Tuple[str, ...]], bool]] = None
                        ) -> None:
  """Compares an Orbax checkpoint's parameter shapes with the model's.

  Reads only the checkpoint's metadata. A missing, unknown or misshapen
  parameter is a UserError naming the first one, its expected and stored
  shapes and the checkpoint (a T5 checkpoint read with a Llama gin file, or
  with another `emb_dim`). Orbax's partial restore would otherwise leave a
  missing parameter as a placeholder and fail later, far from the cause.
  With `only`, just the leaves it accepts are compared (e.g. the base of a
  PEFT run). Other formats are checked when converted.
  """
  state = epath.Path(checkpoint_dir) / STATE_ITEM
  if not state.exists():
    return
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)  # Orbax warns about optional files.
  try:
    meta = ocp.PyTreeCheckpointer().metadata(state)
  except Exception:  # pylint: disable=broad-except
    return  # Unreadable metadata: the restore says what is wrong.
  finally:
    logging.set_verbosity(verbosity)
  tree = getattr(meta, 'item_metadata', None) or meta
  tree = getattr(tree, 'tree', tree)
  target = tree.get('target') if isinstance(tree, dict) else None
  if not isinstance(target, dict):
    return
  if only is not None:
    target = select(target, only)
    abstract_params = select(abstract_params, only)
  expected = {path: leaf.shape for path, leaf in
              flatten(abstract_params).items()}
  check_params(target, expected, f'checkpoint {state}', 'the model gin file')


def restore_params_and_step(
    path: str, abstract_params: Any,
    only: Optional[Callable[[Tuple[str, ...]], bool]] = None
) -> Tuple[Any, int]:
  """Reads the model parameters (`target`) and step of one of our checkpoints.

  The optimizer state is not read: a fine-tuning run starts its own. Other
  tools' checkpoints (T5X msgpack, Hugging Face, GGUF) are read by
  `instruct.checkpoint_formats.restore_params_and_step`, which takes any
  path and calls this one for ours.

  Args:
    path: a `checkpoint_<step>` directory or a model directory (latest used).
    abstract_params: tree of `jax.ShapeDtypeStruct` with shardings (and the
      dtypes to restore in: a float32 checkpoint can be read as bfloat16).
    only: restore just the leaves whose path (a tuple of names) this accepts,
      e.g. the base without a PEFT method's `peft_` leaves; the others are
      neither read nor required in the checkpoint, and absent from the result.

  Returns:
    (params placed as `abstract_params` says, step).
  """
  if only is not None:
    abstract_params = select(abstract_params, only)
  ckpt = find_checkpoint_dir(path)
  check_orbax_matches(ckpt, abstract_params, only)
  checkpointer = ocp.PyTreeCheckpointer()
  step_struct = jax.ShapeDtypeStruct((), np.int32)
  item = {'target': abstract_params, 'state': {'step': step_struct}}
  try:
    restored = checkpointer.restore(
        ckpt / STATE_ITEM,
        args=ocp.args.PyTreeRestore(
            item=item,
            restore_args=ocp.checkpoint_utils.construct_restore_args(item),
            partial_restore=True))
  except Exception as e:  # Orbax raises several types for a bad tree.
    raise UserError(f'Could not read model parameters from {ckpt}/state '
                    f'(does the model gin file match the checkpoint?): '
                    f'{str(e).splitlines()[0] if str(e) else type(e).__name__}'
                    ) from e
  step = restored.get('state', {}).get('step')
  step = int(np.asarray(step)) if step is not None else (step_of(ckpt) or 0)
  return restored['target'], step


# -----------------------------------------------------------------------------
# The manager.
# -----------------------------------------------------------------------------
class CheckpointManager:
  """`MODEL_DIR/checkpoint_<step>` with a `state` and a `dataset` item.

  Train code saves and restores a train state (anything with `step`,
  `params` and `opt_state`, e.g. `instruct.trainer.TrainState`) with
  `save_state` / `restore_state`; how it is laid out on disk (T5X's
  `t5x_state` tree) is this class's business. `save` / `restore` take the
  raw tree, for tools that write or read the layout itself.
  """

  def __init__(self, model_dir: str, keep: Optional[int] = None,
               save_dataset: bool = True, async_save: bool = True):
    self.model_dir = epath.Path(absolute(model_dir))
    self.save_dataset = save_dataset
    options = ocp.CheckpointManagerOptions(
        step_prefix=STEP_PREFIX,
        max_to_keep=keep,
        create=True,
        enable_async_checkpointing=async_save)
    item_names = ('state', 'dataset') if save_dataset else ('state',)
    self._manager = ocp.CheckpointManager(self.model_dir, options=options,
                                          item_names=item_names)

  def latest_step(self) -> Optional[int]:
    return self._manager.latest_step()

  def all_steps(self):
    return self._manager.all_steps()

  def save(self, step: int, state_tree: Any, iterator=None,
           force: bool = True) -> bool:
    items = {'state': ocp.args.StandardSave(state_tree)}
    if self.save_dataset and iterator is not None:
      items['dataset'] = DatasetArgs(iterator)
    saved = self._manager.save(step, args=ocp.args.Composite(**items),
                               force=force)
    if saved:
      logging.info('Saving checkpoint for step %d to %s', step, self.model_dir)
    return saved

  def restore(self, step: int, abstract_state: Any, iterator=None) -> Any:
    items = {'state': ocp.args.StandardRestore(abstract_state)}
    if self.save_dataset and iterator is not None:
      items['dataset'] = DatasetArgs(iterator)
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    return restored['state']

  def save_state(self, step: int, state: Any, iterator=None,
                 force: bool = True) -> bool:
    """Saves a train state (and the input position) as `checkpoint_<step>`."""
    return self.save(step, t5x_state(state.params, state.opt_state,
                                     state.step), iterator, force=force)

  def restore_state(self, step: int, abstract_state: Any,
                    iterator=None) -> Any:
    """The train state saved at `step`, placed as `abstract_state` says.

    Args:
      step: the checkpoint's step.
      abstract_state: a train state of `jax.ShapeDtypeStruct`s with
        shardings (a flax struct with `replace`, e.g. `TrainState`).
      iterator: the input iterator, moved to the saved position.

    Returns:
      `abstract_state` with its step, params and opt_state read back.
    """
    tree = self.restore(
        step, t5x_state(abstract_state.params, abstract_state.opt_state,
                        abstract_state.step), iterator=iterator)
    return abstract_state.replace(step=tree['state']['step'],
                                  params=tree['target'],
                                  opt_state=tree['state']['param_states'])

  def wait_until_finished(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()


def load_numpy_tree(checkpoint_dir: str) -> Any:
  """The whole saved `state` tree as host numpy arrays (for tools and tests)."""
  path = epath.Path(absolute(checkpoint_dir)) / STATE_ITEM
  checkpointer = ocp.PyTreeCheckpointer()
  meta = checkpointer.metadata(path)
  tree = getattr(meta, 'item_metadata', None) or meta
  tree = getattr(tree, 'tree', tree)
  restore_args = jax.tree.map(
      lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
  return checkpointer.restore(
      path, args=ocp.args.PyTreeRestore(restore_args=restore_args))
