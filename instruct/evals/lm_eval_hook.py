"""Registers the `instruct` model when the `lm_eval` command starts.

lm-eval 0.4.13 finds models only in its own registry and has no plugin entry
point, so plain `lm_eval --model instruct ...` needs the name registered
before the command line is parsed. `install_pth` (or
`python -m instruct.lm_eval --install-hook`) writes `instruct_lm_eval.pth`
into site-packages; Python runs its one line,

    import instruct.evals.lm_eval_hook as h; h.at_startup()

at every start-up. Unless the program is `lm_eval` / `lm-eval`, it does
nothing (and imports nothing else). For the harness it registers a
lazy placeholder, so JAX and the model code load only when `--model
instruct` is used.
"""

import os
import sys
import sysconfig
from typing import Optional

MODEL_NAME = 'instruct'
TARGET = 'instruct.evals.lm_eval_adapter:InstructLM'
PTH_NAME = 'instruct_lm_eval.pth'
PTH_LINE = 'import instruct.evals.lm_eval_hook as h; h.at_startup()\n'
_PROGRAMS = ('lm_eval', 'lm-eval')


def register() -> None:
  """Adds the `instruct` placeholder to lm-eval's model registry."""
  # The built-in models first: `get_model` loads them only into an empty
  # registry, and `_register_all_models` leaves names it does not own alone.
  import lm_eval.models  # pylint: disable=g-import-not-at-top,unused-import
  from lm_eval.api import registry  # pylint: disable=g-import-not-at-top
  if MODEL_NAME not in registry.model_registry:
    registry.model_registry.register(MODEL_NAME, target=TARGET)


def install_pth(site_dir: Optional[str] = None) -> str:
  """Writes `instruct_lm_eval.pth` into `site_dir` (default: site-packages).

  Returns:
    The path written.
  """
  site_dir = site_dir or sysconfig.get_paths()['purelib']
  path = os.path.join(site_dir, PTH_NAME)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(PTH_LINE)
  return path


def _started_as_harness() -> bool:
  argv = getattr(sys, 'argv', None) or ['']
  name = os.path.basename(argv[0])
  return name.removesuffix('.exe') in _PROGRAMS


def at_startup() -> None:
  """What the .pth line runs: registers the model for the harness only.

  A function rather than import-time code: the module may already have been
  imported (by an earlier .pth or `site.addsitedir`) and must still act.
  """
  if not _started_as_harness():
    return
  try:
    register()
  except Exception as e:  # pylint: disable=broad-except
    # A .pth line must never stop Python from starting.
    print(f'[instruct] could not register the lm_eval model '
          f'{MODEL_NAME!r}: {type(e).__name__}: {e}', file=sys.stderr)
