r"""The LM Evaluation Harness with our models: `python -m instruct.lm_eval`.

Takes exactly the arguments of the `lm_eval` command (lm-eval 0.4.13) and
makes `--model instruct` available (see instruct/evals/lm_eval_adapter.py):

    python -m instruct.lm_eval run --model instruct \
      --model_args checkpoint=/tmp/run,gin_file=models/llama/tiny.gin \
      --tasks arc_easy --batch_size 16

    python -m instruct.lm_eval --install-hook

The second form writes `instruct_lm_eval.pth` into this environment's
site-packages, after which the plain `lm_eval` / `lm-eval` command knows
`--model instruct` too (instruct/evals/lm_eval_hook.py).
"""

import sys
from typing import Optional, Sequence

from instruct import gin_utils
from instruct.evals import lm_eval_hook

INSTALL_FLAG = '--install-hook'


def main(argv: Sequence[str]) -> None:
  """Runs the harness command line (or installs the hook)."""
  argv = list(argv)
  if INSTALL_FLAG in argv:
    others = [a for a in argv if a != INSTALL_FLAG]
    if others:
      raise gin_utils.UserError(f'{INSTALL_FLAG} takes no other arguments; '
                                f'got {" ".join(others)}.')
    path = lm_eval_hook.install_pth()
    print(f'[instruct.lm_eval] wrote {path}: `lm_eval --model instruct ...` '
          'now works in this environment.')
    return
  from instruct.evals import lm_eval_adapter  # pylint: disable=g-import-not-at-top,unused-import
  from lm_eval import __main__ as harness_main  # pylint: disable=g-import-not-at-top
  # The harness reads sys.argv itself.
  saved = sys.argv
  sys.argv = [saved[0] if saved else 'lm_eval', *argv]
  try:
    harness_main.cli_evaluate()
  finally:
    sys.argv = saved


def run(argv: Optional[Sequence[str]] = None) -> int:
  """`main` with our exit codes: a UserError prints one line, status 2."""
  return gin_utils.run_main(main, argv)


if __name__ == '__main__':
  sys.exit(run())
