"""`make bench`: every benchmark, one table, JSON and a figure.

    python -m benchmarks.run                       # everything (~15 min)
    python -m benchmarks.run --only train,decode   # some parts
    python -m benchmarks.run --repeats 1 --quick   # a fast smoke run

Parts: train (ours vs transformers, T5 timing model and a tiny Llama, with
MFU against the matmul peak measured in the same run), pipeline (head-room),
decode (cached vs uncached vs transformers generate), memory (full
fine-tuning vs LoRA on SmolLM2-135M), checkpoint (save/restore MB/s),
scaling (collectives on 1-8 simulated devices), packing (slot fill of
SeqIO's packer vs best fit). Each figure is a median over repeats and is
measured in the same run as what it is compared with. Results go to
benchmarks/results/bench.json and bench.png; nothing is hard-coded.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

from absl import logging

PARTS = ('train', 'pipeline', 'decode', 'memory', 'checkpoint', 'scaling',
         'packing')
TARGETS = {'train_t5': 1.5, 'mfu_t5': 0.35, 'pipeline': 5.0,
           'decode_cached_over_uncached': 5.0, 'decode_cached_over_hf': 1.0,
           'lora_optimizer_state': 0.05}


def _run_parts(parts: List[str], repeats: int, quick: bool,
               packer: str = 'greedy') -> Dict[str, Any]:
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  import tasks  # pylint: disable=g-import-not-at-top,unused-import
  out: Dict[str, Any] = {'machine': common.machine(), 'repeats': repeats}
  steps = 3 if quick else 5

  def timed_part(name, fn):
    t = time.time()
    print(f'[bench] {name} ...', file=sys.stderr, flush=True)
    try:
      out[name] = fn()
    except Exception as e:  # pylint: disable=broad-except
      out[name] = {'error': f'{type(e).__name__}: {e}'}
    out.setdefault('seconds', {})[name] = time.time() - t

  if 'train' in parts or 'pipeline' in parts:
    from benchmarks import train  # pylint: disable=g-import-not-at-top
    timed_part('matmul_peak', lambda: common.matmul_peak(repeats=repeats + 2))
    peak = out['matmul_peak'].get('flops_per_s', 0.0)
    for family in ('t5', 'llama'):
      timed_part(f'train_{family}', lambda f=family: train.benchmark(
          f, repeats=repeats, steps=steps, peer_steps=steps + 1,
          peak_flops=peak, packer=packer))
  if 'pipeline' in parts:
    from benchmarks import pipeline  # pylint: disable=g-import-not-at-top
    timed_part('pipeline', lambda: pipeline.benchmark(
        't5', batches=30 if quick else 60, repeats=repeats))
  if 'decode' in parts:
    from benchmarks import decode  # pylint: disable=g-import-not-at-top
    timed_part('decode_t5', lambda: decode.t5(repeats=repeats))
    timed_part('decode_llama', lambda: decode.llama(repeats=repeats))
  if 'memory' in parts:
    from benchmarks import memory  # pylint: disable=g-import-not-at-top
    timed_part('memory', memory.benchmark)
  if 'checkpoint' in parts:
    from benchmarks import checkpoint  # pylint: disable=g-import-not-at-top
    timed_part('checkpoint', lambda: checkpoint.benchmark(repeats=repeats))
  if 'scaling' in parts:
    from benchmarks import scaling  # pylint: disable=g-import-not-at-top
    timed_part('scaling', scaling.benchmark)
  if 'packing' in parts:
    from benchmarks import packing  # pylint: disable=g-import-not-at-top
    def pack():
      with contextlib.redirect_stdout(io.StringIO()):  # one table only
        return packing.main(['--num-examples', '2048' if quick else '8192'])
    timed_part('packing', pack)
  return out


# -----------------------------------------------------------------------------
# The table.
# -----------------------------------------------------------------------------
def _fmt(x: Optional[float], unit: str = '') -> str:
  if x is None:
    return 'n/a'
  if abs(x) >= 100:
    return f'{x:,.0f}{unit}'
  return f'{x:.2f}{unit}'


def rows(res: Dict[str, Any]) -> List[Dict[str, str]]:
  """(benchmark, ours, compared with, ratio, target) rows of the table."""
  out = []

  def add(name, ours, other, ratio, target='', key=None):
    met = ''
    if key and ratio is not None:
      goal = TARGETS[key]
      ok = ratio <= goal if key == 'lora_optimizer_state' else ratio >= goal
      met = ' (met)' if ok else ' (not met)'
    out.append({'benchmark': name, 'ours': ours, 'compared with': other,
                'ratio': ('' if ratio is None else f'{ratio:.1%}'
                          if key in ('mfu_t5', 'lora_optimizer_state') or
                          name.startswith('MFU') else f'{ratio:.2f}x'),
                'target': target + met})

  peak = res.get('matmul_peak', {}).get('flops_per_s')
  for fam, label in (('t5', 'T5 timing model'), ('llama', 'tiny Llama')):
    r = res.get(f'train_{fam}')
    if not r:
      continue
    if 'error' in r:
      add(f'train {label}', r['error'], '', None)
      continue
    o, p = r['windowed_fetch'], r.get('peer', {})
    ours_tok = o['inputs_tok_per_s'] + o['targets_tok_per_s']
    peer_tok = (p['inputs_tok_per_s'] + p['targets_tok_per_s']) if p else None
    add(f'train {label}: non-padding tokens/s (inputs + targets)',
        f'{_fmt(ours_tok)} ({_fmt(o["inputs_tok_per_s"])} + '
        f'{_fmt(o["targets_tok_per_s"])})',
        (f'transformers+torch {_fmt(peer_tok)} ({_fmt(p["inputs_tok_per_s"])}'
         f' + {_fmt(p["targets_tok_per_s"])})') if p else 'n/a',
        r.get('speedup_vs_peer'), '>= 1.5x' if fam == 't5' else '',
        'train_t5' if fam == 't5' else None)
    add(f'train {label}: steps/s, metrics fetched per step -> per window',
        f'{_fmt(r["per_step_fetch"]["steps_per_s"])} -> '
        f'{_fmt(o["steps_per_s"])}', '', o['steps_per_s'] /
        r['per_step_fetch']['steps_per_s'])
    if peak:
      add(f'MFU {label} (matmul FLOPs fwd+bwd / measured peak)',
          f'{_fmt(r["flops_per_step"] * o["steps_per_s"] / 1e9)} GFLOP/s',
          f'peak {_fmt(peak / 1e9)} GFLOP/s (f32 matmul, n='
          f'{res["matmul_peak"]["n"]})', o.get('mfu'),
          '>= 35%' if fam == 't5' else '', 'mfu_t5' if fam == 't5' else None)
    add(f'first step incl. compile, {label}',
        f'{_fmt(r["first_step_incl_compile_s"])} s', '', None)
  pl, tr = res.get('pipeline'), res.get('train_t5')
  if pl and 'error' not in pl and tr and 'error' not in tr:
    consumed = tr['windowed_fetch']['examples_per_s']
    add('input pipeline head-room (T5, examples/s)',
        _fmt(pl['examples_per_s']), f'trainer consumes {_fmt(consumed)}',
        pl['examples_per_s'] / consumed, '>= 5x', 'pipeline')
  for fam in ('t5', 'llama'):
    d = res.get(f'decode_{fam}')
    if not d:
      continue
    if 'error' in d:
      add(f'decode {fam}', d['error'], '', None)
      continue
    add(f'greedy decode {fam}, 128 new tokens: cached vs uncached tok/s',
        _fmt(d['cached_tok_per_s']), f'uncached {_fmt(d["uncached_tok_per_s"])}',
        d['cached_over_uncached'], '>= 5x', 'decode_cached_over_uncached')
    add(f'greedy decode {fam}: cached vs transformers generate tok/s',
        _fmt(d['cached_tok_per_s']),
        f'generate {_fmt(d["hf_generate_tok_per_s"])} (first 16 tokens '
        f'agree {d["first16_tokens_agree_with_hf"]:.0%})',
        d['cached_over_hf'], '> 1x', 'decode_cached_over_hf')
  m = res.get('memory')
  if m:
    full, lora = m.get('full', {}), m.get('lora', {})
    if 'error' in full:
      add('memory SmolLM2-135M', full['error'], '', None)
    else:
      mb = 2**20
      add('SmolLM2-135M optimizer state: LoRA vs full FT',
          (f'{lora["optimizer_state_bytes"] / mb:.2f} MB'
           if 'error' not in lora else lora['error']),
          f'full {full["optimizer_state_bytes"] / mb:,.0f} MB',
          m.get('lora_over_full_optimizer_state'), '<= 5%',
          'lora_optimizer_state')
      add('SmolLM2-135M peak RSS during steps: LoRA vs full FT',
          (f'{lora["peak_rss_during_steps_mb"]:,.0f} MB'
           if 'error' not in lora else 'n/a'),
          f'full {full["peak_rss_during_steps_mb"]:,.0f} MB',
          m.get('lora_over_full_peak_rss'))
  c = res.get('checkpoint')
  if c and 'error' not in c:
    add(f'checkpoint save / restore ({c["state_mb"]:.0f} MB state)',
        f'{_fmt(c["save_mb_per_s"])} / {_fmt(c["restore_mb_per_s"])} MB/s',
        f'{c["save_s"]:.2f} s / {c["restore_s"]:.2f} s', None)
  s = res.get('scaling')
  if s and 'rows' in s:
    for r in s['rows']:
      if 'error' in r:
        add(f'collectives, {r["devices"]} simulated devices, {r["scheme"]}',
            'cannot shard', 'a sharded axis is smaller than the mesh axis '
            '(the timing model has 4 heads)' if 'implies that array axis' in
            r['error'] else r['error'][:80], None)
        continue
      col = r['collectives']
      kinds = ', '.join(f'{k} {v["count"]}' for k, v in col.items()
                        if k != 'total' and v['count'])
      add(f'collectives, {r["devices"]} simulated devices, {r["scheme"]}',
          f'{col["total"]["count"]} ops, {col["total"]["bytes"] / 2**20:.1f}'
          ' MB', kinds or 'none', None)
  elif s:
    add('scaling', s.get('error', ''), '', None)
  pk = res.get('packing')
  if pk and 'error' not in pk:
    for r in pk['runs']:
      g, b = r['greedy_seqio'], r['best_fit']
      shape = f'{r["lengths"]["inputs"]}/{r["lengths"]["targets"]}'
      add(f'packing fill at {shape} (inputs / targets slots used)',
          f'best fit {b["inputs"]:.0%} / {b["targets"]:.0%}',
          f'SeqIO greedy {g["inputs"]:.0%} / {g["targets"]:.0%}',
          b['inputs'] / g['inputs'])
  return out


def markdown(table: List[Dict[str, str]]) -> str:
  cols = ['benchmark', 'ours', 'compared with', 'ratio', 'target']
  lines = ['| ' + ' | '.join(cols) + ' |',
           '|---|---|---|---:|---|']
  lines += ['| ' + ' | '.join(r[c] for c in cols) + ' |' for r in table]
  return '\n'.join(lines)


def figure(res: Dict[str, Any], path: str) -> None:
  """Bar chart of each targeted ratio against its target."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  bars = []
  t5 = res.get('train_t5', {})
  if 'speedup_vs_peer' in t5:
    bars.append(('train T5 vs HF', t5['speedup_vs_peer'], 1.5))
  if 'mfu' in t5.get('windowed_fetch', {}):
    bars.append(('MFU T5 (x100%)', t5['windowed_fetch']['mfu'], 0.35))
  pl = res.get('pipeline', {})
  if 'examples_per_s' in pl and 'windowed_fetch' in t5:
    bars.append(('pipeline head-room', pl['examples_per_s'] /
                 t5['windowed_fetch']['examples_per_s'], 5.0))
  for fam in ('t5', 'llama'):
    d = res.get(f'decode_{fam}', {})
    if 'cached_over_uncached' in d:
      bars.append((f'decode {fam} cached/uncached',
                   d['cached_over_uncached'], 5.0))
      bars.append((f'decode {fam} cached/HF', d['cached_over_hf'], 1.0))
  if not bars:
    return
  fig, ax = plt.subplots(figsize=(9, 4))
  names = [b[0] for b in bars]
  ax.bar(names, [b[1] for b in bars], color='tab:blue', label='measured')
  ax.scatter(names, [b[2] for b in bars], color='tab:red', marker='_', s=600,
             label='target', zorder=3)
  ax.set_yscale('log')
  ax.set_ylabel('ratio (log scale)')
  ax.set_title(f'instruct benchmarks ({res["machine"]["cores"]}-core CPU)')
  ax.legend()
  plt.setp(ax.get_xticklabels(), rotation=25, ha='right')
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv=None) -> Dict[str, Any]:
  parser = argparse.ArgumentParser(
      description=__doc__.split('\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
  parser.add_argument('--only', default=','.join(PARTS),
                      help=f'comma-separated parts of: {", ".join(PARTS)}')
  parser.add_argument('--repeats', type=int, default=3,
                      help='medians are over this many repeats')
  parser.add_argument('--quick', action='store_true',
                      help='fewer steps per repeat (a smoke run)')
  parser.add_argument('--packer', default='best_fit',
                      choices=('greedy', 'best_fit'),
                      help="our trainer's packer for the train part "
                      "(SeqIO's greedy packer, or instruct's best fit)")
  args = parser.parse_args(argv)
  parts = [p.strip() for p in args.only.split(',') if p.strip()]
  unknown = sorted(set(parts) - set(PARTS))
  if unknown:
    parser.error(f'--only: unknown part(s) {", ".join(unknown)}; expected '
                 f'some of {", ".join(PARTS)}')
  logging.set_verbosity(logging.ERROR)
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  res = _run_parts(parts, max(1, args.repeats), args.quick, args.packer)
  res['packer'] = args.packer
  table = rows(res)
  res['table'] = table
  os.makedirs(common.RESULTS_DIR, exist_ok=True)
  with open(os.path.join(common.RESULTS_DIR, 'bench.json'), 'w') as f:
    json.dump(res, f, indent=2, default=str)
  figure(res, os.path.join(common.RESULTS_DIR, 'bench.png'))
  m = res['machine']
  print(f'Machine: {m["cores"]}-core CPU ({m["processor"] or m["platform"]}),'
        f' jax {m["jax"]}, torch {m.get("torch", "n/a")}; load average at '
        f'start {m["load_average_1m"]:.1f}; medians of {res["repeats"]} '
        f'repeats; our packer: {args.packer}.\n')
  print(markdown(table))
  return res


if __name__ == '__main__':
  main()
