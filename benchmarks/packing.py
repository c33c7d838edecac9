"""`python -m benchmarks.packing`: slot fill of SeqIO's greedy packer vs ours.

Reads the same examples of the built-in mixture (`builtin_instructions`,
train) once, then feeds them through SeqIO's `EncDecFeatureConverter` with
its own greedy packing and with best-fit packing
(`instruct.data.packing.BestFitEncDecFeatureConverter`) at lengths 512/128,
and counts the token slots holding a real token in each stream. Prints a
Markdown table and writes benchmarks/results/packing.json. Acceptance: best
fit fills at least 90% of the slots of the stream the data fills first.
Figures are measured in this run; nothing is hard-coded.
"""

import argparse
import json
import os
import time
from typing import Dict, List, Mapping

import numpy as np
import seqio
import tensorflow as tf

from instruct.data import packing
import tasks  # pylint: disable=unused-import  # Registers the mixture.

MIXTURE = 'builtin_instructions'
LENGTHS = {'inputs': 512, 'targets': 128}
TARGET_FILL = 0.90


def read_examples(name: str, n: int, lengths: Mapping[str, int]
                  ) -> Dict[str, tf.RaggedTensor]:
  """The first n examples of a task/mixture (tokenized, trimmed, with EOS)."""
  ds = seqio.get_mixture_or_task(name).get_dataset(
      sequence_length=dict(lengths), split='train', shuffle=False, seed=0)
  rows = list(ds.take(n).as_numpy_iterator())
  return {k: tf.ragged.constant([r[k] for r in rows], dtype=tf.int32)
          for k in lengths}


def measure(converter: seqio.FeatureConverter,
            examples: Mapping[str, tf.RaggedTensor],
            lengths: Mapping[str, int]) -> Dict[str, float]:
  """Packs the examples with a converter; fill per stream and time."""
  ds = tf.data.Dataset.from_tensor_slices(dict(examples))
  t = time.time()
  rows: List[Dict[str, np.ndarray]] = list(
      converter(ds, dict(lengths)).as_numpy_iterator())
  seconds = time.time() - t
  real_in = sum(int((r['encoder_segment_ids'] > 0).sum()) for r in rows)
  real_tg = sum(int((r['decoder_segment_ids'] > 0).sum()) for r in rows)
  return {
      'rows': len(rows),
      'inputs': real_in / (len(rows) * lengths['inputs']),
      'targets': real_tg / (len(rows) * lengths['targets']),
      'real_input_tokens': real_in,
      'real_target_tokens': real_tg,
      'seconds': seconds,
  }


def run(mixture: str, num_examples: int, lengths: Mapping[str, int],
        buffer_size: int) -> Dict[str, object]:
  """Greedy vs best fit on the same examples at one pair of lengths."""
  examples = read_examples(mixture, num_examples, lengths)
  tokens = {k: int(tf.size(v.flat_values)) for k, v in examples.items()}
  greedy = measure(seqio.EncDecFeatureConverter(pack=True), examples,
                   lengths)
  ours = packing.with_packer(seqio.EncDecFeatureConverter(pack=True),
                             packing.BestFitPacking(buffer_size=buffer_size))
  best = measure(ours, examples, lengths)
  for r in (greedy, best):  # Nothing lost: all tokens are in the rows.
    assert r['real_input_tokens'] == tokens['inputs'], r
    assert r['real_target_tokens'] == tokens['targets'], r
  # The stream that fills first bounds the rows; it is the one to fill.
  binding = max(lengths, key=lambda k: tokens[k] / lengths[k])
  return {
      'lengths': dict(lengths), 'examples': int(examples['inputs'].nrows()),
      'tokens': tokens, 'binding_stream': binding,
      'greedy_seqio': greedy, 'best_fit': best,
      'accepted': best[binding] >= TARGET_FILL,
  }


def _parse_lengths(text: str) -> Dict[str, int]:
  try:
    inputs, targets = (int(x) for x in text.split('/'))
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected INPUTS/TARGETS lengths such as 512/128, got {text!r}')
  return {'inputs': inputs, 'targets': targets}


def main(argv=None) -> Dict[str, object]:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--mixture', default=MIXTURE)
  parser.add_argument('--num-examples', type=int, default=8192)
  parser.add_argument(
      '--lengths', type=_parse_lengths, nargs='+',
      default=[LENGTHS, {'inputs': 128, 'targets': 64}],
      help='INPUTS/TARGETS pairs; the first is the acceptance setting, '
      '128/64 is the reference timing task\'s.')
  parser.add_argument('--buffer-size', type=int, default=1024)
  parser.add_argument('--output', default='benchmarks/results/packing.json')
  args = parser.parse_args(argv)

  runs = [run(args.mixture, args.num_examples, lengths, args.buffer_size)
          for lengths in args.lengths]
  result = {'mixture': args.mixture, 'buffer_size': args.buffer_size,
            'runs': runs, 'accepted': runs[0]['accepted']}
  os.makedirs(os.path.dirname(args.output) or '.', exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump(result, f, indent=2)

  print(f'Packing the first {runs[0]["examples"]} train examples of '
        f'{args.mixture}: fraction of token slots holding a real token.\n')
  print('| lengths in/tg | packer | rows | inputs filled | targets filled '
        '| seconds |')
  print('|---|---|---:|---:|---:|---:|')
  for r in runs:
    shape = f'{r["lengths"]["inputs"]}/{r["lengths"]["targets"]}'
    for name, m in (('SeqIO greedy', r['greedy_seqio']),
                    (f'best fit (buffer {args.buffer_size})', r['best_fit'])):
      print(f'| {shape} | {name} | {m["rows"]} | {m["inputs"]:.1%} | '
            f'{m["targets"]:.1%} | {m["seconds"]:.1f} |')
  first = runs[0]
  binding = first['binding_stream']
  verdict = 'PASS' if first['accepted'] else 'FAIL'
  shape = f'{first["lengths"]["inputs"]}/{first["lengths"]["targets"]}'
  print(f'\n{verdict}: at {shape} the data fills {binding} first; best fit '
        f'fills {first["best_fit"][binding]:.1%} of its slots (target >= '
        f'{TARGET_FILL:.0%}, SeqIO greedy '
        f'{first["greedy_seqio"][binding]:.1%}). Wrote {args.output}')
  return result


if __name__ == '__main__':
  main()
