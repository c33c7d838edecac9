r"""Evaluate checkpoints: `python -m instruct.eval --gin_file=... `.

    python -m instruct.eval \
      --gin_file=models/t5_1_1/tiny.gin --gin_file=models/vocab/byte.gin \
      --gin_file=runs/eval.gin \
      --gin.CHECKPOINT_PATH="'/tmp/run'" --gin.EVAL_OUTPUT_DIR="'/tmp/run/eval'" \
      --gin.MIXTURE_OR_TASK_NAME="'builtin_instructions_eval'" \
      --gin.TASK_FEATURE_LENGTHS="{'inputs': 192, 'targets': 32}"

CHECKPOINT_PATH may be one `checkpoint_<step>` directory or a model directory,
in which case every checkpoint in it is evaluated (oldest first).

BIG-Bench Hard and BIG-bench JSON tasks (split 'test') need their directory
and the split, e.g.
`--gin.instruct.evals.bbh.bbh_dir.path="'../shared/data/bbh'"
--gin.MIXTURE_OR_TASK_NAME="'bbh_date_understanding_cot'"
--gin.EVAL_SPLIT="'test'"` (or `bigbench_dir.path` and `bigbench_zs`).

Mistakes are one `error:` line and exit status 2: an unknown task (with the
closest names), a split the tasks lack, a checkpoint whose parameters do not
match the gin model (the first parameter that differs, both shapes, the
checkpoint).
"""

import os
import sys
from typing import Optional, Sequence

from absl import logging
from etils import epath
import gin
import optax

from instruct import checkpoint_formats
from instruct import checkpoints
from instruct import configurables  # pylint: disable=unused-import
from instruct import evaluation
from instruct import gin_utils
from instruct import input_pipeline
from instruct import partitioning as partitioning_lib
from instruct import trainer as trainer_lib
# Their gin configurables (`bbh_dir.path`, `bigbench_dir.path`) must exist
# before the flags are parsed; the task module registers those directories.
from instruct.evals import bbh  # pylint: disable=unused-import
from instruct.evals import bigbench  # pylint: disable=unused-import
from instruct.evals import heldout
from instruct.evals import plots

REQUIRED_MACROS = ('CHECKPOINT_PATH', 'EVAL_OUTPUT_DIR', 'MIXTURE_OR_TASK_NAME',
                   'TASK_FEATURE_LENGTHS')


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
  dirs = checkpoint_dirs(checkpoint_path)
  abstract = abstract_params(model, partitioner, dataset_cfg)
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
    params, step = checkpoint_formats.restore_params_and_step(os.fspath(d),
                                                              abstract)
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


def main(argv: Sequence[str]) -> None:
  args, bindings = gin_utils.parse_flags(argv, description=__doc__)
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  gin_utils.call_configured(evaluate, REQUIRED_MACROS)  # pylint: disable=no-value-for-parameter


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
