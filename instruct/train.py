r"""Instruction-tune a model: `python -m instruct.train --gin_file=...`.

    python -m instruct.train \
      --gin_file=gin_configs/models/t5_1_1/tiny.gin \
      --gin_file=gin_configs/runs/finetune.gin \
      --gin.MODEL_DIR="'/tmp/finetune'" \
      --gin.MIXTURE_OR_TASK_NAME="'builtin_instructions'" \
      --gin.TRAIN_STEPS=200

The same command runs on a laptop CPU and, with a bigger model gin file and
`--gin.partitioning.Partitioner.num_partitions=...`, on every host of a TPU
pod slice (`jax.distributed` is initialised from the environment).

This module only parses flags and gin; the loop is `instruct.training.train`
(gin name `train`).
"""

import sys
from typing import Sequence

from absl import logging
import gin

from instruct import gin_utils
from instruct import partitioning as partitioning_lib
from instruct import training


def main(argv: Sequence[str]) -> None:
  args, bindings = gin_utils.parse_flags(argv, description=__doc__)
  partitioning_lib.maybe_initialize_distributed()
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  gin_utils.call_configured(
      lambda: training.train(gin_config_str=gin.config_str()),  # pylint: disable=no-value-for-parameter
      training.REQUIRED_MACROS)


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
