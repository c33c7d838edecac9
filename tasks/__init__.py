"""SeqIO task and mixture registrations. Importing this registers them.

Nothing here reads data at import time. What gets registered:

  * `tasks.builtin`: the offline built-in collection (`builtin_*`).
  * `tasks.flan2021`: the Flan 2021-style collection over TFDS (`flan2021_*`;
    the data must be prepared with `tfds build` before it is read).
  * `tasks.cot`, `tasks.niv2`, `tasks.user`: Flan CoT TSV files,
    Super-NaturalInstructions and a user's own files, each only when
    configured (gin or environment variable; see docs/collection.md and
    docs/custom_data.md).
  * `tasks.bbh`: BIG-Bench Hard evaluation tasks, when configured (never in
    a training mixture).
  * `tasks.bigbench`: BIG-bench JSON tasks (`bigbench_*`), when configured
    (never in a training mixture).
  * `tasks.benchmarks`: standard benchmarks as evaluation tasks (`bench_*`,
    mixture `bench_all_zs`; never in a training mixture).
  * `tasks.flan`: the Flan-style mixtures over all of the above.
"""

import tasks.builtin  # pylint: disable=unused-import
import tasks.flan2021  # pylint: disable=unused-import
import tasks.cot  # pylint: disable=unused-import
import tasks.niv2  # pylint: disable=unused-import
import tasks.user  # pylint: disable=unused-import
import tasks.bbh  # pylint: disable=unused-import
import tasks.bigbench  # pylint: disable=unused-import
import tasks.benchmarks  # pylint: disable=unused-import
import tasks.flan  # pylint: disable=unused-import
