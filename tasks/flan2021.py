"""SeqIO registrations of the Flan 2021-style TFDS collection.

Importing this module registers, for each of the catalog's datasets (see
`instruct.data.flan2021`), one task per applicable prompt variant, named
`flan2021_<dataset>_<variant>` (e.g. `flan2021_anli_r1_zs_opt`,
`flan2021_squad_v1_inv`). No data is read at import: every spec declares
whether it has options, and TFDS is opened only when a task's dataset is
requested. The data must be prepared with `tfds build` (or bind
`tfds_read_options.download = True`).
"""

from typing import Dict, Tuple

from instruct.data import flan2021
from instruct.data import registry

FLAN2021_SPECS: Tuple[registry.DatasetSpec, ...] = flan2021.specs()
CLUSTERS: Tuple[str, ...] = flan2021.CLUSTERS
# Dataset name -> {variant: task name}.
REGISTERED: Dict[str, Dict[str, str]] = flan2021.register_all()
TASK_NAMES: Tuple[str, ...] = tuple(
    task for variants in REGISTERED.values() for task in variants.values())
