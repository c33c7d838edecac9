"""`python -m benchmarks.scaling_paper`: writes docs/scaling.md.

Memory per chip and projected step time of Flan-T5 XL / XXL and Llama 3 8B
on TPU v4, v5e and v5p slices, computed (not typed) from:

* parameter and optimizer-state sizes: `jax.eval_shape` of our own models
  and optimizers (no memory is allocated);
* FLOPs per step: `benchmarks.flops.train_step_flops`, the matmuls of the
  forward and backward pass traced from our loss function at the global
  batch's shapes;
* the per-chip figures in `CHIPS` (published numbers, cited in the doc);
* a small cost model for the collectives each sharding scheme needs, stated
  in the generated document next to its results.

Nothing here runs a model; it takes about a minute on a laptop CPU.
"""

import argparse
import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import flax.linen as nn
import jax
import optax
import seqio

from benchmarks import flops as flops_lib
from instruct.models import decoder_only
from instruct.models import encoder_decoder
from instruct.models import llama
from instruct.models import t5

GiB = 2**30
HBM_USABLE = 0.9  # leave 10% of HBM to XLA's scratch space and fragmentation
REMAT_FLOPS = 4 / 3  # per-layer rematerialisation re-runs the forward pass


@dataclasses.dataclass(frozen=True)
class Chip:
  name: str
  bf16_flops: float  # peak per chip
  hbm_bytes: float
  hbm_bw: float  # bytes/s
  ici_bidir: float  # bidirectional ICI bytes/s per chip
  ici_links: int
  source: str
  slices: Tuple[int, ...]

  @property
  def ring_bw(self) -> float:
    """Bytes/s a collective over one mesh axis moves per chip (one ring).

    One link's one-way bandwidth is the per-chip bidirectional figure over
    2 x links; a bidirectional ring along one torus axis uses two of those.
    """
    return 2 * self.ici_bidir / (2 * self.ici_links)


CHIPS = (
    Chip('v4', 275e12, 32 * GiB, 1200e9, 6 * 2 * 45e9, 6,
         'cloud.google.com/tpu/docs/v4 (275 TFLOP/s bf16, 32 GiB HBM2 at '
         '1200 GB/s); ICI: 6 links x 45 GB/s each way (TPU v4 paper, '
         'Jouppi et al. 2023), not on the Cloud page', (8, 16, 32, 64, 128)),
    Chip('v5e', 197e12, 16 * GiB, 819e9, 400e9, 4,
         'cloud.google.com/tpu/docs/v5e (197 TFLOP/s bf16, 16 GiB HBM2 at '
         '819 GB/s, 400 GB/s bidirectional ICI per chip, 4 ports)',
         (8, 16, 32, 64, 128, 256)),
    Chip('v5p', 459e12, 95 * GiB, 2765e9, 1200e9, 6,
         'cloud.google.com/tpu/docs/v5p (459 TFLOP/s bf16, 95 GiB HBM2e at '
         '2765 GB/s, 1200 GB/s bidirectional ICI per chip, 3D torus)',
         (8, 16, 32, 64, 128)),
)


@dataclasses.dataclass
class Workload:
  name: str
  model: object
  shapes: Dict[str, Tuple[int, ...]]
  optimizer: str
  layers: int  # transformer blocks (T5: encoder + decoder)
  sublayers: int  # tensor-parallel all-reduces per block per pass
  emb: int
  tokens: int  # token slots per global batch
  seqs: int
  heads: int
  attn_len: int
  mlp: int


def workloads() -> List[Workload]:
  # The loss functions read only the vocabulary's EOS id.
  vocab = seqio.PassThroughVocabulary(32128, eos_id=1)
  out = []
  for name, emb, heads, mlp in (('Flan-T5 XL', 2048, 32, 5120),
                                ('Flan-T5 XXL', 4096, 64, 10240)):
    cfg = t5.T5Config(vocab_size=32128, emb_dim=emb, num_heads=heads,
                      head_dim=64, mlp_dim=mlp, num_encoder_layers=24,
                      num_decoder_layers=24, dtype='bfloat16',
                      dropout_rate=0.0)
    b, li, lt = 128, 2048, 512
    out.append(Workload(
        name, encoder_decoder.EncoderDecoderModel(t5.Transformer(cfg), vocab,
                                                  vocab),
        {'encoder_input_tokens': (b, li), 'decoder_input_tokens': (b, lt),
         'decoder_target_tokens': (b, lt)}, 'adafactor', 48, 2.5, emb,
        b * (li + lt), b, heads, li, mlp))
  cfg = llama.LlamaConfig(vocab_size=128256, emb_dim=4096, num_heads=32,
                          num_kv_heads=8, head_dim=128, num_layers=32,
                          mlp_dim=14336, rope_theta=500000.0,
                          dtype='bfloat16')
  b, length = 64, 4096
  out.append(Workload(
      'Llama 3 8B', decoder_only.DecoderOnlyModel(llama.LlamaTransformer(cfg),
                                                  vocab),
      {'decoder_input_tokens': (b, length),
       'decoder_target_tokens': (b, length)}, 'adamw', 32, 2, 4096,
      b * length, b, 32, length, 14336))
  return out


def _bytes(tree) -> int:
  return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def model_facts(w: Workload) -> Dict[str, float]:
  """Parameter count, optimizer-state bytes and FLOPs per step."""
  boxed = jax.eval_shape(lambda r: w.model.get_initial_variables(r, w.shapes),
                         jax.random.PRNGKey(0))
  params = nn.unbox(boxed['params'])
  tx = (optax.adafactor(1e-3) if w.optimizer == 'adafactor' else
        optax.adamw(1e-4))
  opt = jax.eval_shape(tx.init, params)
  n = sum(x.size for x in jax.tree.leaves(params))
  return {'params': n, 'param_bytes': _bytes(params),
          'opt_bytes': _bytes(opt),
          'flops': flops_lib.train_step_flops(w.model, params, w.shapes)}


@dataclasses.dataclass
class Plan:
  chips: int
  data: int
  model: int
  fsdp: bool

  @property
  def rules(self) -> str:
    if self.model > 1:
      return (f'FSDP + tensor: `Partitioner.num_partitions={self.model}`, '
              '`parameter_partitioning_dims=2`')
    if self.fsdp:
      return 'FSDP: `parameter_partitioning_dims=2`'
    return 'data parallel (default rules)'


def memory_per_chip(w: Workload, f, plan: Plan) -> Dict[str, float]:
  """Bytes per chip: fp32 params and grads, optimizer state, activations."""
  shard = plan.model * (plan.data if plan.fsdp else 1)
  params = f['param_bytes'] / shard
  grads = f['param_bytes'] / shard
  opt = f['opt_bytes'] / shard
  tokens = w.tokens / plan.data
  seqs = max(w.seqs / plan.data, 1)
  # Per-layer remat keeps each block's bf16 input; one block is live at a
  # time: its bf16 activations (4 x emb + 3 x mlp per token, the mlp and
  # heads split over `model`) and fp32 attention logits.
  saved = w.layers * tokens * w.emb * 2
  live = tokens * (4 * w.emb + 3 * w.mlp / plan.model) * 2
  live += seqs * (w.heads / plan.model) * w.attn_len ** 2 * 4
  return {'params': params, 'grads': grads, 'opt': opt,
          'activations': saved + live,
          'total': params + grads + opt + saved + live}


def step_time(w: Workload, f, plan: Plan, chip: Chip) -> Dict[str, float]:
  """Seconds per step: compute at peak, HBM traffic, collectives."""
  compute = f['flops'] * REMAT_FLOPS / (plan.chips * chip.bf16_flops)
  shard = plan.model * (plan.data if plan.fsdp else 1)
  p_bytes = f['param_bytes'] / shard
  # Params read in forward, backward and update; grads and optimizer state
  # read and written once each.
  hbm = (3 * p_bytes + 2 * p_bytes + 2 * f['opt_bytes'] / shard) / chip.hbm_bw
  d, m = plan.data, plan.model
  comm = 0.0
  if d > 1:
    grads = f['param_bytes'] / m
    if plan.fsdp:
      # all-gather bf16 weights in forward and backward, reduce-scatter grads
      comm += (2 * grads / 2 + grads) * (d - 1) / d / chip.ring_bw
    else:
      comm += 2 * grads * (d - 1) / d / chip.ring_bw  # all-reduce
  if m > 1:
    act = w.tokens / d * w.emb * 2
    comm += (2 * w.sublayers * w.layers * 2 * act * (m - 1) / m /
             chip.ring_bw)
  return {'compute': compute, 'hbm': hbm, 'comm': comm,
          'overlapped': max(compute, hbm, comm),
          'serial': compute + hbm + comm}


def plans(chips: int) -> List[Plan]:
  out = [Plan(chips, chips, 1, False), Plan(chips, chips, 1, True)]
  for m in (2, 4, 8, 16):
    if chips % m == 0 and chips // m >= 1:
      out.append(Plan(chips, chips // m, m, True))
  return out


def best_plan(w, f, chip: Chip) -> Optional[Tuple[Plan, dict, dict]]:
  """Smallest listed slice, then fastest scheme, that fits in HBM."""
  for chips in chip.slices:
    fits = []
    for plan in plans(chips):
      if w.seqs % plan.data:
        continue
      mem = memory_per_chip(w, f, plan)
      if mem['total'] <= HBM_USABLE * chip.hbm_bytes:
        fits.append((step_time(w, f, plan, chip)['overlapped'], plan, mem))
    if fits:
      _, plan, mem = min(fits, key=lambda x: x[0])
      return plan, mem, step_time(w, f, plan, chip)
  return None


def _gib(x):
  return f'{x / GiB:.1f}'


def render() -> str:
  ws = workloads()
  facts = {w.name: model_facts(w) for w in ws}
  lines = [
      '# Scaling on paper: Flan-T5 XL / XXL and Llama 3 8B on TPU slices',
      '',
      'Generated by `python -m benchmarks.scaling_paper` (do not edit by '
      'hand). Parameter counts, optimizer-state sizes and FLOPs come from '
      'our own models (`jax.eval_shape`, and `benchmarks.flops` tracing the '
      'loss gradient at the global batch shapes); the chip figures are the '
      'published ones below. The simulated-device collective counts that '
      'check the sharding schemes are in `benchmarks/results/` '
      '(`make bench`, part `scaling`).',
      '',
      '## Chips',
      '',
      '| chip | bf16 peak / chip | HBM / chip | HBM bandwidth | ICI (bidirectional, per chip) | one-ring collective bandwidth | source |',
      '|---|---:|---:|---:|---:|---:|---|']
  for c in CHIPS:
    lines.append(f'| {c.name} | {c.bf16_flops / 1e12:.0f} TFLOP/s | '
                 f'{c.hbm_bytes / GiB:.0f} GiB | {c.hbm_bw / 1e9:.0f} GB/s | '
                 f'{c.ici_bidir / 1e9:.0f} GB/s | {c.ring_bw / 1e9:.0f} GB/s'
                 f' | {c.source} |')
  lines += [
      '', '## Models and workload', '',
      '| model | parameters | optimizer (state) | global batch | matmul FLOPs / step (fwd+bwd) |',
      '|---|---:|---|---|---:|']
  for w in ws:
    f = facts[w.name]
    shape = ' + '.join(str(s[1]) for k, s in w.shapes.items()
                       if k in ('encoder_input_tokens',
                                'decoder_target_tokens'))
    lines.append(f'| {w.name} | {f["params"] / 1e9:.2f} B | {w.optimizer} '
                 f'({_gib(f["opt_bytes"])} GiB) | {w.seqs} x ({shape}) '
                 f'tokens | {f["flops"] / 1e15:.1f} PFLOP |')
  lines += [
      '', '## Smallest slice that fits, and its projected step time', '',
      'For each chip, the smallest slice in the list whose memory per chip '
      f'fits in {HBM_USABLE:.0%} of HBM, with the fastest scheme that fits '
      'there. Step time is a lower bound: compute at 100% of the bf16 peak '
      '(times 4/3 for per-layer rematerialisation), overlapped with HBM '
      'traffic and collectives (the "serial" column adds them instead); '
      'divide the compute part by a realistic MFU (40-60%) for a wall-clock '
      'estimate.', '',
      '| model | chip | slice | scheme (gin) | memory / chip (GiB): params + grads + optimizer + activations | compute s | collectives s | step s (overlapped / serial) |',
      '|---|---|---:|---|---|---:|---:|---|']
  for w in ws:
    f = facts[w.name]
    for c in CHIPS:
      best = best_plan(w, f, c)
      if best is None:
        lines.append(f'| {w.name} | {c.name} | > {c.slices[-1]} | - | does '
                     'not fit | - | - | - |')
        continue
      plan, mem, t = best
      lines.append(
          f'| {w.name} | {c.name} | {plan.chips} (data {plan.data} x model '
          f'{plan.model}) | {plan.rules} | {_gib(mem["total"])} = '
          f'{_gib(mem["params"])} + {_gib(mem["grads"])} + {_gib(mem["opt"])}'
          f' + {_gib(mem["activations"])} | {t["compute"]:.2f} | '
          f'{t["comm"]:.2f} | {t["overlapped"]:.2f} / {t["serial"]:.2f} |')
  lines += [
      '', '## Every scheme on a 64-chip slice', '',
      'Memory per chip (GiB) and overlapped step time (s); "OOM" when it '
      f'exceeds {HBM_USABLE:.0%} of the chip\'s HBM.', '',
      '| model | scheme | ' + ' | '.join(c.name for c in CHIPS) + ' |',
      '|---|---|' + '---:|' * len(CHIPS)]
  for w in ws:
    f = facts[w.name]
    for plan in plans(64):
      cells = []
      for c in CHIPS:
        mem = memory_per_chip(w, f, plan)['total']
        t = step_time(w, f, plan, c)['overlapped']
        tag = '' if mem <= HBM_USABLE * c.hbm_bytes else ' OOM'
        cells.append(f'{_gib(mem)} GiB, {t:.2f} s{tag}')
      lines.append(f'| {w.name} | data {plan.data} x model {plan.model}'
                   f'{" FSDP" if plan.fsdp else ""} | ' + ' | '.join(cells) +
                   ' |')
  lines += [
      '', '## Sharding rules each needs', '',
      '- Data parallel (`Partitioner()` with `standard_logical_axis_rules()`)'
      ' replicates fp32 parameters, gradients and optimizer state on every '
      'chip: none of these models fits that way on 16-32 GiB chips; only '
      'v5p (95 GiB) holds Flan-T5 XL replicated.',
      '- FSDP (`standard_logical_axis_rules.parameter_partitioning_dims = 2`)'
      ' shards every parameter\'s `embed` axis over `data`; the collectives '
      'are an all-gather of the weights per layer in the forward and '
      'backward pass and a reduce-scatter of the gradients (as counted in '
      'the simulated-device table of `make bench`).',
      '- Tensor parallelism (`Partitioner.num_partitions = m`) splits '
      '`heads`, `mlp`, `joined_kv` and `vocab` over `model`; it costs two '
      'activation all-reduces per sublayer and pass, so keep `m` within a '
      'torus axis (<= 4 on v5e\'s 2D torus) and use it when the per-chip '
      'batch or activation memory, not the weights, is the limit.',
      '- Flan-T5 XXL and Llama 3 8B need FSDP at least; on v5e (16 GiB) '
      'they also need enough chips that the activations of the per-chip '
      'batch fit, or a model axis.',
      '', '## Cost model', '',
      '- Memory per chip: fp32 parameters and gradients and the optimizer '
      'state (Adafactor, factored, for T5 as in the Flan-T5 recipe; AdamW '
      'for Llama), divided by the number of chips that shard them; bf16 '
      'activations with per-layer rematerialisation (each block\'s input '
      'saved, one block live: 4 x emb + 3 x mlp values per token, plus fp32 '
      'attention logits).',
      '- Collective time: bytes moved per chip / one-ring bandwidth. '
      'All-reduce moves 2 (n-1)/n of the buffer, all-gather and '
      'reduce-scatter (n-1)/n. FSDP gathers bf16 weights twice and '
      'reduce-scatters fp32 gradients; tensor parallelism all-reduces bf16 '
      'activations twice per sublayer per pass (forward and backward).',
      '- Not modelled: pipeline bubbles (no pipeline parallelism here), '
      'multi-slice DCN, host input pipelines, and collectives that XLA '
      'overlaps only partly with compute (the "serial" column is the '
      'pessimistic bound).', '']
  return '\n'.join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output', default=os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs',
      'scaling.md'))
  args = parser.parse_args(argv)
  text = render()
  with open(args.output, 'w') as f:
    f.write(text)
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main()
