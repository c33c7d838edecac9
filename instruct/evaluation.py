"""Evaluation through `seqio.Evaluator`, fed by our batched model functions.

Predict metrics get greedy (cached) decoding; score metrics (rank
classification over answer options) get per-sequence target
log-likelihoods. Results land in the output directory as SeqIO's JSONL logs
(predictions per task and step, metrics per task), `metrics-<step>.json`
and `results-<step>.md`.
"""

import json
import os
import sys
from typing import Any, Dict, Mapping, Optional, Sequence

from absl import logging
import jax
from jax.experimental import multihost_utils
import numpy as np
import seqio
import tensorflow as tf
import tqdm

from instruct import input_pipeline
from instruct import partitioning as partitioning_lib

TaskMetrics = Dict[str, Dict[str, float]]


def padded_batches(ds: tf.data.Dataset, batch_size: int):
  """Yields (indices, numpy features, num_real) padded to `batch_size`."""
  for index, feats in ds.batch(batch_size).as_numpy_iterator():
    n = len(index)
    if n < batch_size:
      feats = {k: np.concatenate([v, np.repeat(v[-1:], batch_size - n, 0)])
               for k, v in feats.items()}
    yield index, feats, n


class InferenceEvaluator:
  """Runs a task or mixture's metrics for given parameters."""

  def __init__(self,
               model,
               partitioner: partitioning_lib.Partitioner,
               mixture_or_task_name: str,
               task_feature_lengths: Mapping[str, int],
               split: str = 'validation',
               batch_size: int = 32,
               num_examples: Optional[int] = None,
               output_dir: Optional[str] = None,
               seed: int = 42,
               use_cached: bool = False,
               module: Optional[Any] = None,
               show_progress: bool = True):
    input_pipeline.import_task_modules(module)
    input_pipeline.get_mixture_or_task(mixture_or_task_name)
    if batch_size % partitioner.data_size:
      batch_size += partitioner.data_size - batch_size % partitioner.data_size
    self.model = model
    self.partitioner = partitioner
    self.batch_size = batch_size
    self.output_dir = output_dir
    self.show_progress = show_progress
    self.name = mixture_or_task_name
    if output_dir:
      tf.io.gfile.makedirs(output_dir)
    self._seqio = seqio.Evaluator(
        mixture_or_task_name=mixture_or_task_name,
        feature_converter=model.FEATURE_CONVERTER_CLS(pack=False),
        eval_split=split,
        use_cached=use_cached,
        seed=seed,
        sequence_length=dict(task_feature_lengths),
        num_examples=num_examples,
        logger_cls=[seqio.JSONLogger] if output_dir else (),
        log_dir=output_dir,
        async_compute_metrics=False)
    with partitioner.context():
      self._predict = jax.jit(model.predict_batch)
      self._score = jax.jit(model.score_batch)
    self._params = None

  @property
  def task_names(self) -> Sequence[str]:
    return [t.name for t in self._seqio.eval_tasks]

  def _run(self, fn, ds: tf.data.Dataset, what: str):
    local = self.batch_size // jax.process_count()
    lo = jax.process_index() * local
    results = []
    total = int(ds.cardinality().numpy()) if ds.cardinality() >= 0 else None
    bar = tqdm.tqdm(total=total, desc=what, unit='ex', leave=False,
                    disable=(not self.show_progress or jax.process_index() != 0 or
                             not sys.stderr.isatty()))
    for index, feats, n in padded_batches(ds, self.batch_size):
      local_feats = {k: v[lo:lo + local] for k, v in feats.items()}
      with self.partitioner.context():
        out = fn(self._params, self.partitioner.shard_batch(local_feats))
      out = np.asarray(multihost_utils.process_allgather(out, tiled=True))
      for i in range(n):
        results.append((int(index[i]), out[i]))
      bar.update(n)
    bar.close()
    return results

  def _predict_fn(self, ds):
    outs = self._run(self._predict, ds, 'decode')
    return [(i, [int(t) for t in tokens]) for i, tokens in outs]

  def _score_fn(self, ds):
    return [(i, float(s)) for i, s in self._run(self._score, ds, 'score')]

  def evaluate(self, params, step: int) -> TaskMetrics:
    """Metrics per task: {task: {metric: value}}; also written to disk."""
    self._params = params
    try:
      future, _ = self._seqio.evaluate(compute_metrics=True, step=step,
                                       predict_fn=self._predict_fn,
                                       score_fn=self._score_fn)
      raw = future.result()
    finally:
      self._params = None
    metrics = {task: {k: float(np.asarray(getattr(v, 'value', v)))
                      for k, v in m.items()} for task, m in raw.items()}
    if self.output_dir and jax.process_index() == 0:
      write_results(self.output_dir, step, metrics)
    return metrics


def write_results(output_dir: str, step: int, metrics: TaskMetrics) -> None:
  tf.io.gfile.makedirs(output_dir)
  with tf.io.gfile.GFile(os.path.join(output_dir, f'metrics-{step}.json'),
                         'w') as f:
    json.dump({'step': step, 'metrics': metrics}, f, indent=2, sort_keys=True)
  with tf.io.gfile.GFile(os.path.join(output_dir, f'results-{step}.md'),
                         'w') as f:
    f.write(markdown_table(metrics, title=f'Step {step}') + '\n')
  logging.info('Wrote evaluation results for step %d to %s', step, output_dir)


def read_results(output_dir: str, step: int) -> TaskMetrics:
  with tf.io.gfile.GFile(os.path.join(output_dir, f'metrics-{step}.json')) as f:
    return json.load(f)['metrics']


def markdown_table(metrics: TaskMetrics, title: Optional[str] = None) -> str:
  """One row per (task, metric)."""
  lines = [f'### {title}', ''] if title else []
  lines += ['| task | metric | value |', '|---|---|---:|']
  for task in sorted(metrics):
    for name in sorted(metrics[task]):
      lines.append(f'| {task} | {name} | {metrics[task][name]:.2f} |')
  return '\n'.join(lines)
