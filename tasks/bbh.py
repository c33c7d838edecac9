"""SeqIO registrations of BIG-Bench Hard (see `instruct.evals.bbh`).

Every task file of the BBH directory becomes `bbh_<task>_answer_only` and
`bbh_<task>_cot` (split 'test'). The directory is, in order:

  1. the gin binding `instruct.evals.bbh.bbh_dir.path` (bound before this
     module is imported);
  2. the environment variable `INSTRUCT_BBH_DIR`;
  3. nothing: no BBH tasks are registered.

Only the directory is listed at import; files are read when a dataset is
first built.
"""

from instruct.evals import bbh

REGISTERED = bbh.REGISTERED

_dir = bbh.configured_dir()
if _dir:
  bbh.register_bbh_dir(_dir)
