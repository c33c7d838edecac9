"""SeqIO registrations of BIG-bench JSON tasks (see `instruct.evals.bigbench`).

Every task folder (`<task>/task.json`) of the BIG-bench directory becomes
`bigbench_<task>_mc_<zs|kshot>` (multiple choice, rank classification) and/or
`bigbench_<task>_gen_<zs|kshot>` (generation), split 'test', with mixtures
`bigbench_zs` and `bigbench_<k>shot`. The directory is, in order:

  1. the gin binding `instruct.evals.bigbench.bigbench_dir.path` (bound
     before this module is imported);
  2. the environment variable `INSTRUCT_BIGBENCH_DIR`;
  3. nothing: no BIG-bench tasks are registered.

Nothing is read unless a directory is configured; then each task.json is
parsed once, to validate it and learn how it is scored.
"""

from instruct.evals import bigbench

REGISTERED = bigbench.REGISTERED

_dir = bigbench.configured_dir()
if _dir:
  bigbench.register_bigbench_dir(_dir)
