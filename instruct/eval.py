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

The work is `instruct.checkpoint_evaluation.evaluate` (gin: `evaluate.*`).
"""

import sys
from typing import Sequence

from absl import logging

from instruct import checkpoint_evaluation
from instruct import configurables  # pylint: disable=unused-import
from instruct import gin_utils
# Their gin configurables (`bbh_dir.path`, `bigbench_dir.path`) must exist
# before the flags are parsed; the task module registers those directories.
from instruct.evals import bbh  # pylint: disable=unused-import
from instruct.evals import bigbench  # pylint: disable=unused-import

REQUIRED_MACROS = ('CHECKPOINT_PATH', 'EVAL_OUTPUT_DIR', 'MIXTURE_OR_TASK_NAME',
                   'TASK_FEATURE_LENGTHS')


def main(argv: Sequence[str]) -> None:
  args, bindings = gin_utils.parse_flags(argv, description=__doc__)
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  gin_utils.call_configured(checkpoint_evaluation.evaluate,
                            REQUIRED_MACROS)  # pylint: disable=no-value-for-parameter


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
