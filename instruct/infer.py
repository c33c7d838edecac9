r"""Decode prompts with a checkpoint: `python -m instruct.infer --gin_file=...`.

Prompts come from a SeqIO task or mixture (MIXTURE_OR_TASK_NAME: its inputs
in split INFER_SPLIT) or from a file (INFER_INPUT_FILE, or the flag
`--input_file=PATH`): plain text with one prompt per line, or JSON Lines
(`.jsonl` / `.json`, or `infer.input_format = 'jsonl'`) with a string
"inputs" field per line. Decoding follows `DecodingConfig` (greedy unless,
e.g., `--gin.DecodingConfig.method="'beam'"`).

    python -m instruct.infer --gin_file=models/t5_1_1/small.gin \
      --gin_file=runs/infer.gin --gin.CHECKPOINT_PATH="'/tmp/ft'" \
      --gin.INFER_OUTPUT_DIR="'/tmp/ft/infer'" --input_file=prompts.txt \
      --gin.TASK_FEATURE_LENGTHS="{'inputs': 512, 'targets': 128}" \
      --gin.DecodingConfig.method="'sample'" --gin.DecodingConfig.top_p=0.9 \
      --gin.DecodingConfig.num_samples=4

Writes `INFER_OUTPUT_DIR/<task or file stem>-<step>.jsonl`, one line per
prompt: `index`, `inputs`, `prediction` (the best beam or first sample),
`predictions` (all N outputs), `scores` (theirs; see `instruct.decoding`),
`target` when the task has targets; a JSONL prompt file's other fields and
its `line` number are carried over.

Several adapters over one base (`instruct.peft`): `--adapters=a=PATH,b=PATH`
with CHECKPOINT_PATH the base; a JSONL prompt's "adapter" field picks one
(none: the base). Prompts are grouped by adapter and each group is decoded
with its adapter over the shared base parameters.
"""

import argparse
import sys
from typing import Sequence

from absl import logging

from instruct import configurables  # pylint: disable=unused-import
from instruct import gin_utils
from instruct import inference

REQUIRED_MACROS = ('CHECKPOINT_PATH', 'INFER_OUTPUT_DIR',
                   'TASK_FEATURE_LENGTHS')


# -----------------------------------------------------------------------------
# Command line.
# -----------------------------------------------------------------------------
def main(argv: Sequence[str]) -> None:
  parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
  parser.add_argument('--input_file')
  parser.add_argument('--adapters')
  flags, rest = parser.parse_known_args(list(argv))
  args, bindings = gin_utils.parse_flags(rest, description=__doc__)
  if flags.input_file is not None:
    bindings.append(f'INFER_INPUT_FILE = {flags.input_file!r}')
  if flags.adapters is not None:
    bindings.append(f'infer.adapters = {flags.adapters!r}')
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  gin_utils.call_configured(inference.infer, REQUIRED_MACROS)  # pylint: disable=no-value-for-parameter


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
