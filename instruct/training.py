"""Training: `train()`, the loop behind `python -m instruct.train`.

`train` is gin-configurable under the name `train` (gin files bind
`train.model = ...`, `train.log_period = ...`); `instruct.train` (the
command line) and `instruct.demo` parse gin and call it. It knows a model
only through the model contract (`instruct.models.base.BaseModel`): the
metrics it logs are the model's summary plus the trainer's own, and which
parameters train or start fresh is the model's `param_policy`.
"""

import dataclasses
import os
import sys
import time
from typing import Any, Callable, Optional

from absl import logging
import gin
import jax
import numpy as np
import optax
import tqdm

from instruct import checkpoint_formats
from instruct import checkpoints
from instruct import configurables  # pylint: disable=unused-import
from instruct import errors
from instruct import evaluation
from instruct import input_pipeline
from instruct import metrics_writer
from instruct import partitioning as partitioning_lib
from instruct import trainer as trainer_lib

REQUIRED_MACROS = ('MODEL_DIR', 'MIXTURE_OR_TASK_NAME', 'TASK_FEATURE_LENGTHS',
                   'TRAIN_STEPS', 'BATCH_SIZE')


class NonFiniteLossError(errors.TrainingStopped):
  """Raised when the loss becomes NaN or infinite."""


@dataclasses.dataclass
class TrainResult:
  step: int
  state: Any
  eval_metrics: dict


def _to_numpy(batch):
  return {k: v._numpy() if hasattr(v, '_numpy') else np.asarray(v)  # pylint: disable=protected-access
          for k, v in batch.items()}


@gin.configurable('train', denylist=['gin_config_str'])
def train(*,
          model,
          optimizer: optax.GradientTransformation,
          train_dataset_cfg: input_pipeline.DatasetConfig,
          model_dir: str,
          total_steps: int,
          partitioner: Optional[partitioning_lib.Partitioner] = None,
          learning_rate_fn: Optional[Callable] = None,
          initial_checkpoint_path: Optional[str] = None,
          checkpoint_period: int = 1000,
          keep_checkpoints: Optional[int] = None,
          async_checkpointing: bool = True,
          num_microbatches: int = 1,
          random_seed: int = 0,
          log_period: int = 10,
          infer_eval_dataset_cfg: Optional[input_pipeline.DatasetConfig] = None,
          eval_period: int = 0,
          eval_at_start: bool = False,
          eval_num_examples: Optional[int] = None,
          show_progress: bool = True,
          gin_config_str: Optional[str] = None) -> TrainResult:
  """Trains `model` on `train_dataset_cfg` until step `total_steps`.

  Args:
    model: an `instruct.models.base.BaseModel`, e.g. `EncoderDecoderModel`
      (loss, metric summaries, scoring, prediction, parameter policy).
    optimizer: an optax transformation (see `instruct.optimizers`).
    train_dataset_cfg: the SeqIO mixture or task to train on (packed).
    model_dir: checkpoints, metrics and eval results go here (may be gs://).
    total_steps: absolute step to stop at (T5X's TRAIN_STEPS).
    partitioner: mesh and logical axis rules (default: all devices on data).
    learning_rate_fn: the schedule, only to log the learning rate.
    initial_checkpoint_path: parameters (and step) to start from when
      model_dir has no checkpoint yet; in any format `checkpoints` reads.
      Leaves the model's `param_policy` calls fresh (a PEFT method's) are
      not read but initialised from random_seed.
    checkpoint_period: save every this many steps (and at the end).
    keep_checkpoints: keep the newest N checkpoints (None keeps all).
    async_checkpointing: write checkpoints in the background.
    num_microbatches: gradient accumulation steps per batch.
    random_seed: seed for initialisation and dropout.
    log_period: write metrics every this many steps.
    infer_eval_dataset_cfg: SeqIO task/mixture to evaluate on (optional).
    eval_period: evaluate every this many steps (0: only at the end).
    eval_at_start: also evaluate the starting parameters.
    eval_num_examples: cap on examples per eval task.
    show_progress: draw a progress bar.
    gin_config_str: the operative config, saved next to the checkpoints.

  Returns:
    The final step, state and last evaluation metrics.
  """
  partitioner = partitioner or partitioning_lib.Partitioner()
  if total_steps <= 0:
    raise errors.UserError(f'TRAIN_STEPS must be positive, got {total_steps}.')
  if jax.process_index() == 0 and gin_config_str:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.io.gfile.makedirs(model_dir)
    with tf.io.gfile.GFile(os.path.join(model_dir, 'config.gin'), 'w') as f:
      f.write(gin_config_str)

  # ---------------------------------------------------------------------------
  # Data.
  # ---------------------------------------------------------------------------
  converter = model.FEATURE_CONVERTER_CLS(pack=train_dataset_cfg.pack)
  train_ds = input_pipeline.get_dataset(
      train_dataset_cfg, converter, shard_id=jax.process_index(),
      num_shards=jax.process_count())
  train_iter = iter(train_ds)
  local_bs = train_dataset_cfg.batch_size // jax.process_count()
  input_shapes = {k: (train_dataset_cfg.batch_size,) + tuple(s.shape[1:])
                  for k, s in train_ds.element_spec.items()}

  # ---------------------------------------------------------------------------
  # State. Restored in this order:
  #   1. the latest checkpoint in model_dir (params, optimizer, step, data
  #      position): a restarted or pre-empted run continues exactly;
  #   2. else initial_checkpoint_path (params and step only; fresh optimizer
  #      and data), the usual fine-tuning start; leaves the model's
  #      param_policy calls fresh (a PEFT method's) are initialised instead;
  #   3. else a fresh initialisation from random_seed.
  # ---------------------------------------------------------------------------
  factory = trainer_lib.StateFactory(model, optimizer, partitioner,
                                     input_shapes)
  manager = checkpoints.CheckpointManager(model_dir, keep=keep_checkpoints,
                                          async_save=async_checkpointing)
  latest = manager.latest_step()
  if latest is not None:
    logging.info('Resuming from %s/checkpoint_%d', model_dir, latest)
    state = manager.restore_state(latest, factory.abstract_state,
                                  iterator=train_iter)
  elif initial_checkpoint_path:
    # The checkpoint gives what a base model holds (in any format); leaves
    # the model's policy calls fresh (a PEFT method's) start from the seed.
    policy = factory.policy
    params, step = checkpoint_formats.restore_params_and_step(
        initial_checkpoint_path, factory.abstract_state.params,
        only=(None if policy.fresh is None else
              lambda p: not policy.is_fresh(p)))
    logging.info('Starting from %s (step %d)', initial_checkpoint_path, step)
    state = factory.from_base_params(params, step, random_seed)
  else:
    state = factory.init(random_seed)
  start_step = int(state.step)
  print(f'[instruct.train] {"resuming" if latest is not None else "starting"}'
        f' at step {start_step} of {total_steps}; mesh '
        f'{dict(partitioner.mesh.shape)}; model_dir {model_dir}', flush=True)
  print(f'[instruct.train] {factory.describe_parameters()}', flush=True)

  evaluator = None
  eval_metrics = {}
  if infer_eval_dataset_cfg is not None:
    evaluator = evaluation.InferenceEvaluator(
        model, partitioner,
        infer_eval_dataset_cfg.mixture_or_task_name,
        infer_eval_dataset_cfg.task_feature_lengths,
        split=infer_eval_dataset_cfg.split,
        batch_size=infer_eval_dataset_cfg.batch_size,
        num_examples=eval_num_examples,
        output_dir=os.path.join(model_dir, 'inference_eval'),
        seed=infer_eval_dataset_cfg.seed or 42,
        use_cached=infer_eval_dataset_cfg.use_cached,
        module=infer_eval_dataset_cfg.module,
        show_progress=show_progress)

  def run_eval(step):
    metrics = evaluator.evaluate(state.params, step)
    flat = {f'eval/{t}/{k}': v for t, m in metrics.items() for k, v in m.items()}
    writer.write_scalars(step, flat)
    print(evaluation.markdown_table(metrics, title=f'Evaluation, step {step}'),
          flush=True)
    return metrics

  writer = metrics_writer.MetricsWriter(os.path.join(model_dir, 'train'))
  if evaluator is not None and eval_at_start and start_step == 0:
    eval_metrics = run_eval(0)

  # ---------------------------------------------------------------------------
  # Loop. Steps are dispatched back to back; their metrics are pulled to the
  # host once per log window (and before every checkpoint), so the device
  # never waits on logging.
  # ---------------------------------------------------------------------------
  step_fn = trainer_lib.jit_train_step(
      trainer_lib.make_train_step(model, optimizer, num_microbatches,
                                  learning_rate_fn), factory)
  rng = jax.random.PRNGKey(random_seed + 1)
  bar = tqdm.tqdm(total=total_steps, initial=start_step, unit='step',
                  dynamic_ncols=True,
                  # In a log file, a line every 30 s instead of every step.
                  mininterval=0.1 if sys.stderr.isatty() else 30,
                  disable=not show_progress or jax.process_index() != 0)
  window = {'sums': None, 'steps': 0, 'start': time.time()}
  pending = []  # (step, device metrics) dispatched but not yet checked.
  last_saved = start_step if latest is not None else None

  def drain():
    """Pulls pending metrics to the host, checks them, adds them to the window."""
    # One transfer for the whole window instead of one per metric and step.
    fetched = jax.device_get([m for _, m in pending])
    done = [s for s, _ in pending]
    pending.clear()
    for step_done, host in zip(done, fetched):
      host = {k: float(v) for k, v in host.items()}
      problem = trainer_lib.check_finite(model, host)
      if problem is not None:
        raise NonFiniteLossError(
            f'{problem} at step {step_done}. Stopped without '
            'saving; the last good checkpoint is '
            f'{"step %d" % last_saved if last_saved is not None else "none"} '
            f'in {model_dir}. Try a lower learning rate or enable gradient '
            'clipping.')
      sums = window['sums']
      window['sums'] = host if sums is None else {
          k: sums[k] + host[k] for k in sums}
      window['steps'] += 1

  try:
    step = start_step
    while step < total_steps:
      batch = partitioner.shard_batch(_to_numpy(next(train_iter)))
      state, device_metrics = step_fn(state, batch, rng)
      step += 1
      # Metrics stay on the device until the window is logged or a
      # checkpoint is due: no host round-trip per step. A non-finite loss is
      # still caught before any checkpoint is written, and named by its step.
      pending.append((step, device_metrics))
      if step % log_period == 0 or step == total_steps:
        drain()
        seconds = max(time.time() - window['start'], 1e-9)
        summary = trainer_lib.summarize_metrics(model, window['sums'],
                                                window['steps'], seconds)
        writer.write_scalars(step, summary)
        bar.set_postfix(model.progress_metrics(summary))
        window.update(sums=None, steps=0, start=time.time())
      bar.update(1)
      if step % checkpoint_period == 0 or step == total_steps:
        drain()  # never save parameters whose step has not been checked
        manager.save_state(step, state, train_iter)
        last_saved = step
      if evaluator is not None and ((eval_period and step % eval_period == 0)
                                    or step == total_steps):
        eval_metrics = run_eval(step)
  finally:
    bar.close()
    manager.wait_until_finished()
    manager.close()
    writer.close()
  return TrainResult(step=int(state.step), state=state,
                     eval_metrics=eval_metrics)
