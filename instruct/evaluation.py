"""Evaluation through `seqio.Evaluator`, fed by our batched model functions.

Predict metrics get the model's decoding (`predict.Predictor`: jitted,
cached per decoding config; greedy
unless `InferenceEvaluator.decoding_config` or the model's default says
otherwise: sampling, beam search); predict-with-aux metrics also get the
output's score (`aux_values['scores']`); score metrics (rank classification
over answer options) get per-sequence target log-likelihoods. Results land
in the output directory as SeqIO's JSONL logs (predictions per task and
step, metrics per task), `metrics-<step>.json` and `results-<step>.md`.
"""

import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence

from absl import logging
import gin
import jax
import numpy as np
import seqio
import tensorflow as tf

from instruct import decoding
from instruct import input_pipeline
from instruct import partitioning as partitioning_lib
from instruct import predict
from instruct.errors import UserError

TaskMetrics = Dict[str, Dict[str, float]]


def check_split(mixture_or_task_name: str, split: str) -> None:
  """Fails when no task of the mixture has `split`; warns when some lack it.

  SeqIO's evaluator would skip such tasks quietly (and end with no results
  at all when none has the split), e.g. BBH and BIG-bench tasks, which only
  have 'test', under the default EVAL_SPLIT 'validation'.
  """
  obj = input_pipeline.get_mixture_or_task(mixture_or_task_name)
  tasks = list(getattr(obj, 'tasks', None) or [obj])
  splits = {}
  for task in tasks:
    try:
      splits[task.name] = tuple(task.splits)
    except Exception:  # pylint: disable=broad-except
      continue  # Splits unknown until the data is read (e.g. TFDS info).
  missing = sorted(name for name, s in splits.items() if split not in s)
  if splits and len(missing) == len(splits):
    have = sorted({s for task_splits in splits.values() for s in task_splits})
    raise UserError(
        f'EVAL_SPLIT={split!r}: {mixture_or_task_name} has no such split '
        f'(it has: {", ".join(have)}); set e.g. '
        f'--gin.EVAL_SPLIT="\'{have[0]}\'".')
  if missing:
    logging.warning('Split %r is missing from %d of %d tasks of %s; they are '
                    'not evaluated: %s', split, len(missing), len(tasks),
                    mixture_or_task_name, ', '.join(missing))


@gin.configurable
class InferenceEvaluator:
  """Runs a task or mixture's metrics for given parameters.

  `decoding_config` (gin: `InferenceEvaluator.decoding_config =
  @DecodingConfig()`) overrides the model's default decoding; sampling draws
  from `seed`, folded with the batch number, so a run is reproducible.
  """

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
               show_progress: bool = True,
               decoding_config: Optional[decoding.DecodingConfig] = None):
    input_pipeline.import_task_modules(module)
    check_split(mixture_or_task_name, split)
    self._predictor = predict.Predictor(model, partitioner,
                                        show_progress=show_progress)
    self.model = model
    self.partitioner = partitioner
    self.batch_size = self._predictor.rows(batch_size)
    self.output_dir = output_dir
    self.show_progress = show_progress
    self.name = mixture_or_task_name
    self.seed = seed
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
    self.decoding_config = decoding_config
    self._params = None

  @property
  def task_names(self) -> Sequence[str]:
    return [t.name for t in self._seqio.eval_tasks]

  def _decode(self, ds):
    """[(index, best tokens [L], its score)]."""
    outs = self._predictor.predict_dataset(
        self._params, ds, self.batch_size, config=self.decoding_config,
        seed=self.seed)
    return [(i, [int(t) for t in tokens[0]], float(aux['scores'][0]))
            for i, tokens, aux in outs]

  def _predict_fn(self, ds):
    return [(i, tokens) for i, tokens, _ in self._decode(ds)]

  def _predict_with_aux_fn(self, ds):
    outs = self._decode(ds)
    return ([(i, tokens) for i, tokens, _ in outs],
            {'scores': [score for _, _, score in outs]})

  def _score_fn(self, ds):
    return [(i, float(s)) for i, s in self._predictor.score_dataset(
        self._params, ds, self.batch_size)]

  def evaluate(self, params, step: int) -> TaskMetrics:
    """Metrics per task: {task: {metric: value}}; also written to disk."""
    self._params = params
    try:
      future, _ = self._seqio.evaluate(compute_metrics=True, step=step,
                                       predict_fn=self._predict_fn,
                                       score_fn=self._score_fn,
                                       predict_with_aux_fn=(
                                           self._predict_with_aux_fn))
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
