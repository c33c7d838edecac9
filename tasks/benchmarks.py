"""SeqIO registrations of the standard benchmarks (see instruct.evals.benchmarks).

Importing this registers `bench_<name>_zs` and `bench_<name>_5shot` for every
benchmark (SQuAD v1.1/v2, TriviaQA, ARC, PIQA, HellaSwag, SNLI, MNLI, QNLI,
RTE, ANLI, CNN/DailyMail, WMT16 de-en, GSM8K; MMLU when $INSTRUCT_MMLU_DIR is
set) and the evaluation mixture `bench_all_zs`. They are evaluation tasks
only: no training mixture includes source 'bench'. No data is read at
import; the TFDS data must be prepared with `tfds build`.
"""

from typing import Dict, Tuple

from instruct.evals import benchmarks

# Benchmark name -> {shots: task name}.
REGISTERED: Dict[str, Dict[int, str]] = benchmarks.register_all()
TASK_NAMES: Tuple[str, ...] = tuple(
    task for by_shots in REGISTERED.values() for task in by_shots.values())
ALL_ZS_MIXTURE = benchmarks.ALL_ZS_MIXTURE
