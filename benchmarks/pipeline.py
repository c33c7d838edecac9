"""Input pipeline head-room: examples/s delivered vs consumed by the trainer.

The pipeline is the trainer's own (`benchmarks.train.packed_iterator`: the
built-in mixture through SeqIO, packing and batching), read alone as fast as
it goes after a warm-up. Examples are counted from the packed segment ids.
The trainer's consumption is `benchmarks.train`'s examples/s measured in the
same run; head-room is the ratio. On this machine both share the same CPU
cores, so the ratio is what the pipeline can spare, not a separate device's.
"""

from typing import Any, Dict

from benchmarks import common
from benchmarks import train


def benchmark(family: str = 't5', batches: int = 60,
              repeats: int = 3) -> Dict[str, Any]:
  model = common.t5_model() if family == 't5' else common.llama_model()
  it = train.packed_iterator(model)
  for _ in range(5):
    next(it)
  rates = []
  for _ in range(repeats):
    n = 0

    def read():
      nonlocal n
      for _ in range(batches):
        n += train.num_examples(next(it))

    seconds = common.timed(read)
    rates.append({'examples_per_s': n / seconds,
                  'batches_per_s': batches / seconds})
  return {'family': family, 'batches_per_repeat': batches,
          'examples_per_s': common.median([r['examples_per_s']
                                           for r in rates]),
          'batches_per_s': common.median([r['batches_per_s'] for r in rates]),
          'repeats': rates}
