"""A gin model's parameters from a checkpoint, for evaluation and inference.

The library behind `instruct.eval`, `instruct.infer`, the LM Evaluation
Harness adapter and the robustness runner: which checkpoints a path names
(`checkpoint_dirs`), the sharded parameter shapes a model expects
(`abstract_params`), and the latest checkpoint's parameters restored into
them (`restore_latest`).
"""

import os
from typing import Any, Callable, Optional, Sequence, Tuple

from etils import epath
import optax

from instruct import checkpoint_formats
from instruct import partitioning as partitioning_lib
from instruct import trainer as trainer_lib


def checkpoint_dirs(path: str) -> Sequence[epath.Path]:
  """One checkpoint, or every `checkpoint_<step>` in a model dir.

  A Hugging Face directory, a T5X msgpack checkpoint or a GGUF file is one
  checkpoint (converted on load, see `instruct.checkpoint_formats`).
  """
  return [epath.Path(c.path)
          for c in checkpoint_formats.list_checkpoints(path)]


def abstract_params(model, partitioner, dataset_cfg):
  """Sharded parameter shapes for `model` (input shapes from the dataset)."""
  converter = model.FEATURE_CONVERTER_CLS(pack=False)
  shapes = {k: (dataset_cfg.batch_size, v) for k, v in
            converter.get_model_feature_lengths(
                dataset_cfg.task_feature_lengths).items()}
  return trainer_lib.StateFactory(model, optax.identity(), partitioner,
                                  shapes).abstract_state.params


def restore_latest(model, partitioner: partitioning_lib.Partitioner,
                   dataset_cfg, checkpoint_path: str,
                   only: Optional[Callable[[Tuple[str, ...]], bool]] = None
                   ) -> Tuple[Any, int, str]:
  """(params, step, checkpoint dir) of the latest checkpoint at a path.

  Args:
    model: the gin model the parameters are for.
    partitioner: where they go.
    dataset_cfg: its lengths and batch size give the model's input shapes.
    checkpoint_path: anything `checkpoint_dirs` reads; its last is used.
    only: restore only the parameters whose path it accepts (see
      `checkpoint_formats.restore_params_and_step`).

  Raises:
    UserError: naming the path or the first parameter that does not fit.
  """
  ckpt = os.fspath(checkpoint_dirs(checkpoint_path)[-1])
  params, step = checkpoint_formats.restore_params_and_step(
      ckpt, abstract_params(model, partitioner, dataset_cfg), only=only)
  return params, step, ckpt
