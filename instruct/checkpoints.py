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
"""

import dataclasses
import os
import re
from typing import Any, Callable, Optional, Tuple

from absl import logging
from etils import epath
from flax import traverse_util as flax_traverse_util
import jax
import numpy as np
import orbax.checkpoint as ocp
import tensorflow as tf

from instruct.errors import UserError

STEP_PREFIX = 'checkpoint'
_STEP_DIR = re.compile(rf'^{STEP_PREFIX}_(\d+)$')


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


def find_checkpoint_dir(path: str) -> epath.Path:
  """Resolves a checkpoint path: a `checkpoint_<step>` dir or a model dir.

  Raises:
    FileNotFoundError: naming the path, when it holds no checkpoint.
  """
  p = epath.Path(absolute(path))
  if not p.exists():
    raise UserError(f'Checkpoint path {path} does not exist.')
  if (p / 'state').exists():
    return p
  steps = []
  if p.is_dir():
    for child in p.iterdir():
      m = _STEP_DIR.match(child.name)
      if m and (child / 'state').exists():
        steps.append((int(m.group(1)), child))
  if not steps:
    raise UserError(
        f'{path} is not a checkpoint: expected a checkpoint_<step>/ directory '
        'holding state/, or a model directory containing one.')
  return max(steps)[1]


def step_of(checkpoint_dir: epath.Path) -> Optional[int]:
  m = _STEP_DIR.match(checkpoint_dir.name)
  return int(m.group(1)) if m else None


def _select(tree: Any, only: Callable[[Tuple[str, ...]], bool],
            prefix: Tuple[str, ...] = ()) -> Any:
  """The nested-dict subtree of leaves whose path `only` accepts."""
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      sub = _select(v, only, prefix + (k,))
      if sub:
        out[k] = sub
    elif only(prefix + (k,)):
      out[k] = v
  return out


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
  from instruct import checkpoint_formats  # pylint: disable=g-import-not-at-top
  state = epath.Path(checkpoint_dir) / 'state'
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
    target = _select(target, only)
    abstract_params = _select(abstract_params, only)
  expected = {path: leaf.shape for path, leaf in
              checkpoint_formats.flatten(abstract_params).items()}
  checkpoint_formats.check_params(target, expected, f'checkpoint {state}',
                                  'the model gin file')


def restore_params_and_step(
    path: str, abstract_params: Any,
    only: Optional[Callable[[Tuple[str, ...]], bool]] = None
) -> Tuple[Any, int]:
  """Reads the model parameters (`target`) and step of a checkpoint.

  The optimizer state is not read: a fine-tuning run starts its own. Besides
  our Orbax checkpoints, `path` may name any format `instruct.convert` reads
  (see instruct/checkpoint_formats.py): a T5X msgpack + TensorStore
  checkpoint, a Hugging Face directory (config.json + safetensors) or a .gguf
  file; those are converted on the host and checked against
  `abstract_params` (a missing, unknown or misshapen parameter is a
  UserError naming it). Their step is the one they record (0 for HF/GGUF).

  Args:
    path: a `checkpoint_<step>` directory, a model directory (latest used),
      a HF directory or a .gguf file.
    abstract_params: tree of `jax.ShapeDtypeStruct` with shardings (and the
      dtypes to restore in: a float32 checkpoint can be read as bfloat16).
    only: restore just the leaves whose path (a tuple of names) this accepts,
      e.g. the base without a PEFT method's `peft_` leaves; the others are
      neither read nor required in the checkpoint, and absent from the result.

  Returns:
    (params placed as `abstract_params` says, step).
  """
  if only is not None:
    abstract_params = _select(abstract_params, only)
  if '://' not in os.fspath(path) and os.path.exists(path):
    from instruct import checkpoint_formats  # pylint: disable=g-import-not-at-top
    try:
      fmt, _ = checkpoint_formats.detect_format(path)
    except UserError:
      fmt = 'orbax'  # find_checkpoint_dir below says what is wrong.
    if fmt != 'orbax':
      return _restore_foreign(path, abstract_params)
  ckpt = find_checkpoint_dir(path)
  check_orbax_matches(ckpt, abstract_params, only)
  checkpointer = ocp.PyTreeCheckpointer()
  step_struct = jax.ShapeDtypeStruct((), np.int32)
  item = {'target': abstract_params, 'state': {'step': step_struct}}
  try:
    restored = checkpointer.restore(
        ckpt / 'state',
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


def _restore_foreign(path: str, abstract_params: Any) -> Tuple[Any, int]:
  """Params of a T5X-legacy, HF or GGUF checkpoint, placed as asked."""
  from instruct import checkpoint_formats  # pylint: disable=g-import-not-at-top
  imported = checkpoint_formats.load(path)
  flat_abstract = checkpoint_formats.flatten(abstract_params)
  checkpoint_formats.check_params(
      imported.params, {p: a.shape for p, a in flat_abstract.items()},
      f'{path} ({imported.format})', 'the model gin file')
  flat = checkpoint_formats.flatten(imported.params)
  placed = {p: jax.device_put(np.asarray(flat[p]).astype(a.dtype),
                              getattr(a, 'sharding', None))
            for p, a in flat_abstract.items()}
  logging.info('Imported %d parameters from %s (%s).', len(placed), path,
               imported.format)
  return flax_traverse_util.unflatten_dict(placed), imported.step


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
  path = epath.Path(absolute(checkpoint_dir)) / 'state'
  checkpointer = ocp.PyTreeCheckpointer()
  meta = checkpointer.metadata(path)
  tree = getattr(meta, 'item_metadata', None) or meta
  tree = getattr(tree, 'tree', tree)
  restore_args = jax.tree.map(
      lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
  return checkpointer.restore(
      path, args=ocp.args.PyTreeRestore(restore_args=restore_args))
