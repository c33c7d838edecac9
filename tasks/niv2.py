"""SeqIO registrations of Super-NaturalInstructions (NIv2), when available.

Importing this module registers every task of the NIv2 directory named by
gin (`niv2_directory.directory = '/data/natural-instructions'`) or by the
environment variable INSTRUCT_NIV2_DIR, with the options bound to
`instruct.data.niv2.register_niv2`; when neither is set it registers nothing.
Only each task file's header is read here; instances are read when a task's
dataset is first built. Tasks are named `niv2_<task>_<variant>`, e.g.
`niv2_task001_quoref_question_generation_zs_noopt`; `TRAIN_TASKS` and
`TEST_TASKS` are the dataset names of the split lists (splits/default/...).
"""

from typing import List

from instruct.data import niv2

REGISTRATION = niv2.register_niv2()
TRAIN_TASKS: List[str] = list(REGISTRATION.train_tasks) if REGISTRATION else []
TEST_TASKS: List[str] = list(REGISTRATION.test_tasks) if REGISTRATION else []
