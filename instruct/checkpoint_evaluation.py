"""Evaluate every checkpoint of a run: the library behind `instruct.eval`.

`evaluate` (gin: `evaluate.model = %MODEL`, ... in runs/eval.gin) checks the
task, split and checkpoints first, then runs an `InferenceEvaluator` over
each checkpoint and writes metrics, tables and plots. The command line
(`python -m instruct.eval`) and the robustness runner
(`python -m instruct.evals.robustness`) call it.
"""

import os
from typing import Optional

import gin

from instruct import checkpoint_formats
from instruct import checkpoints
from instruct import evaluation
from instruct import input_pipeline
from instruct import model_loading
from instruct import partitioning as partitioning_lib
from instruct.evals import heldout
from instruct.evals import plots


@gin.configurable
def evaluate(*, model, checkpoint_path: str, output_dir: str,
             dataset_cfg: input_pipeline.DatasetConfig,
             partitioner: Optional[partitioning_lib.Partitioner] = None,
             num_examples: Optional[int] = None,
             train_mixture: Optional[str] = None):
  """Evaluates each checkpoint; returns {step: {task: {metric: value}}}.

  With several checkpoints it also plots score vs step
  (`output_dir/score_vs_step.png`) and the score per cluster of the first
  checkpoint next to the last (`output_dir/score_per_cluster.png`). With
  `train_mixture` (the mixture the model was tuned on) it prints seen vs
  unseen clusters and templates, the FLAN paper's held-out protocol, for the
  last checkpoint against the first.
  """
  partitioner = partitioner or partitioning_lib.Partitioner()
  # Cheap checks first, before any data is read or code compiled: the task
  # name, the checkpoint paths and the checkpoints' parameter shapes.
  input_pipeline.import_task_modules(dataset_cfg.module)
  evaluation.check_split(dataset_cfg.mixture_or_task_name, dataset_cfg.split)
  dirs = model_loading.checkpoint_dirs(checkpoint_path)
  abstract = model_loading.abstract_params(model, partitioner, dataset_cfg)
  for d in dirs:
    checkpoints.check_orbax_matches(d, abstract)
  evaluator = evaluation.InferenceEvaluator(
      model, partitioner, dataset_cfg.mixture_or_task_name,
      dataset_cfg.task_feature_lengths, split=dataset_cfg.split,
      batch_size=dataset_cfg.batch_size, num_examples=num_examples,
      output_dir=output_dir, seed=dataset_cfg.seed or 42,
      use_cached=dataset_cfg.use_cached, module=dataset_cfg.module)
  results = {}
  for d in dirs:
    params, step = checkpoint_formats.restore_params_and_step(
        os.fspath(d), abstract)
    metrics = evaluator.evaluate(params, step)
    print(evaluation.markdown_table(metrics, title=f'{d} (step {step})'),
          flush=True)
    results[step] = metrics
  if len(results) > 1 and output_dir:
    png = os.path.join(output_dir, 'score_vs_step.png')
    plots.plot_score_vs_step(results, png)
    print(f'Wrote {png}', flush=True)
    first, last = min(results), max(results)
    png = plots.plot_base_vs_tuned(
        results[first], results[last],
        os.path.join(output_dir, 'score_per_cluster.png'), by='cluster',
        labels=(f'step {first}', f'step {last}'))
    print(f'Wrote {png}', flush=True)
  if train_mixture:
    first, last = min(results), max(results)
    print(heldout.seen_unseen_table(
        train_mixture, results[last],
        base=results[first] if first != last else None), flush=True)
  return results
