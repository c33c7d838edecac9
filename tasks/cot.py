"""SeqIO registrations of Flan-format chain-of-thought TSV files.

Every `*.tsv` file in a directory becomes a `cot` dataset named after the file
(`gsm8k_train.tsv` -> `cot_gsm8k_*` tasks; a `_train` suffix is dropped), with
the zero-shot, few-shot and CoT variants (`cot_gsm8k_cot`,
`cot_gsm8k_fs_cot`, `cot_gsm8k_zs_noopt`, ...). The directory is, in order:

  1. the gin binding `instruct.data.cot.flan_cot_dir.path` (bind it before
     this module is imported, e.g. in a gin file with
     `import instruct.data.cot`; MIXTURE_OR_TASK_MODULE is imported after
     the gin files are parsed);
  2. the environment variable `INSTRUCT_FLAN_COT_DIR`;
  3. nothing: no CoT datasets are registered.

Only the directory is listed at import; files are read when a dataset is
first built. `register_cot_dir(path)` registers another directory by hand.
"""

import logging
import os
import re
from typing import Dict, List, Optional

from instruct.data import cot
from instruct.data import registry
from instruct.errors import UserError

ENV_VAR = 'INSTRUCT_FLAN_COT_DIR'
# Dataset name -> {variant: task name}, filled by register_cot_dir.
REGISTERED: Dict[str, Dict[str, str]] = {}


def dataset_name(filename: str) -> str:
  """'GSM8K_train.tsv' -> 'gsm8k'; other characters become '_'."""
  stem = os.path.splitext(os.path.basename(filename))[0].lower()
  stem = re.sub(r'[^a-z0-9_]+', '_', stem).strip('_')
  if stem.endswith('_train') and len(stem) > len('_train'):
    stem = stem[:-len('_train')]
  return stem


def register_cot_dir(path: str, skip_bad_rows: bool = False,
                     num_validation: int = 0) -> List[str]:
  """Registers every `*.tsv` file of a directory as a CoT dataset.

  Args:
    path: the directory.
    skip_bad_rows: count and skip malformed rows instead of raising.
    num_validation: rows held out per file as a 'validation' split.

  Returns:
    The dataset names registered, sorted.
  """
  if not os.path.isdir(path):
    raise UserError(f'Flan CoT directory {path!r} (from {ENV_VAR} or '
                    'instruct.data.cot.flan_cot_dir) does not exist.')
  names = []
  for filename in sorted(os.listdir(path)):
    if not filename.endswith('.tsv'):
      continue
    name = dataset_name(filename)
    if not name:
      raise UserError(f'{os.path.join(path, filename)}: cannot derive a '
                      'dataset name from the file name.')
    if name in names:
      raise UserError(f'{path}: two files map to the CoT dataset {name!r}.')
    spec = cot.cot_tsv_spec(name, os.path.join(path, filename),
                            skip_bad_rows=skip_bad_rows,
                            num_validation=num_validation,
                            url='https://github.com/google-research/FLAN/'
                                'tree/main/flan/v2/cot_data')
    REGISTERED[name] = registry.register_dataset(spec)
    names.append(name)
  if not names:
    logging.warning('Flan CoT directory %s has no .tsv files.', path)
  return names


def configured_dir() -> Optional[str]:
  return cot.flan_cot_dir() or os.environ.get(ENV_VAR) or None


_dir = configured_dir()
if _dir:
  register_cot_dir(_dir)
