"""Counting the collectives in compiled HLO text.

`jax.jit(f).lower(...).compile().as_text()` is the program XLA runs after
SPMD partitioning; every cross-device transfer in it is one of the
collective instructions below. A line such as

  %all-reduce.3 = f32[256,1024]{1,0} all-reduce(%dot.1), channel_id=2, ...

is one all-reduce whose result holds 256 * 1024 float32 values on each
device. "Bytes" here is that per-device result size (summed over the
elements of a tuple-shaped result), the quantity that decides how long the
transfer takes on a given interconnect. Asynchronous pairs (`*-start` /
`*-done`, used by TPU and GPU backends) count once, at the start; for a
start whose tuple also carries its operand (all-gather, collective-permute)
the largest element is the result.
"""

import collections
import re
from typing import Dict

COLLECTIVES = ('all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all',
               'collective-permute')

_BYTES = {'pred': 1, 's8': 1, 'u8': 1, 's16': 2, 'u16': 2, 'f16': 2,
          'bf16': 2, 's32': 4, 'u32': 4, 'f32': 4, 's64': 8, 'u64': 8,
          'f64': 8, 'c64': 8, 'c128': 16, 'f8e4m3fn': 1, 'f8e5m2': 1}
_INSTRUCTION = re.compile(
    r'^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(?P<type>\(.*?\)|[\w]+\[[^\]]*\]'
    r'(?:\{[^}]*\})?)\s+(?P<op>' + '|'.join(COLLECTIVES) +
    r')(?P<start>-start)?\(')
_ARRAY = re.compile(r'(\w+)\[([\d,]*)\]')


def array_bytes(type_str: str) -> list:
  """Byte sizes of the arrays in an HLO type such as `(f32[2,3], s32[])`."""
  sizes = []
  for dtype, dims in _ARRAY.findall(type_str):
    if dtype not in _BYTES:
      continue
    n = 1
    for d in filter(None, dims.split(',')):
      n *= int(d)
    sizes.append(n * _BYTES[dtype])
  return sizes


def count_collectives(hlo_text: str) -> Dict[str, Dict[str, int]]:
  """{collective: {'count': n, 'bytes': per-device result bytes}}.

  Args:
    hlo_text: compiled (post-partitioning) HLO module text.

  Returns:
    One entry per kind in `COLLECTIVES` (zeros when absent) and 'total'.
  """
  out = collections.OrderedDict(
      (k, {'count': 0, 'bytes': 0}) for k in COLLECTIVES)
  for line in hlo_text.splitlines():
    m = _INSTRUCTION.match(line)
    if not m:
      continue
    sizes = array_bytes(m.group('type'))
    op = m.group('op')
    if m.group('start') and op in ('all-gather', 'collective-permute'):
      nbytes = max(sizes, default=0)
    else:
      nbytes = sum(sizes)
    out[op]['count'] += 1
    out[op]['bytes'] += nbytes
  out['total'] = {'count': sum(v['count'] for v in out.values()),
                  'bytes': sum(v['bytes'] for v in out.values())}
  return dict(out)
