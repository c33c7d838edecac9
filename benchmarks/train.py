"""Training throughput: our trainer vs Hugging Face transformers (PyTorch).

Ours: `instruct.trainer`'s jitted, sharded step fed by the real SeqIO
pipeline (`instruct.input_pipeline.get_dataset`, built-in mixture, SeqIO's
packing), driven the way `instruct.train`'s loop drives it. The peer:
`T5ForConditionalGeneration` / `LlamaForCausalLM` with `torch.optim.AdamW`
on the same configuration, batch size and lengths, trained on exactly the
examples our packed batches held (recovered from the segment ids), padded
per example as an unpacked trainer must. Both report non-padding input and
target tokens per second; padding does not count for either.

Also measured here, on the same steps: model-FLOP utilisation (matmul FLOPs
of forward and backward over the token slots processed, from
`benchmarks.flops`, divided by the matmul peak measured in this run) and the
examples per second the trainer consumes (for the pipeline head-room).
"""

import itertools
import time
from typing import Any, Dict, Iterator, List, Mapping

import jax
import numpy as np
import optax

from benchmarks import common
from benchmarks import flops as flops_lib
from instruct import input_pipeline
from instruct import partitioning
from instruct import trainer

Batch = Mapping[str, np.ndarray]


# -----------------------------------------------------------------------------
# Data: our packed batches, and the same examples unpacked for the peer.
# -----------------------------------------------------------------------------
def dataset_config(pack: bool = True, packer: str = 'greedy'):
  return input_pipeline.DatasetConfig(
      common.MIXTURE, common.LENGTHS, 'train', common.BATCH, shuffle=True,
      seed=0, pack=pack, packer=packer)


def packed_iterator(model, packer: str = 'greedy') -> Iterator[Batch]:
  """The trainer's input: batches of packed model features (numpy)."""
  ds = input_pipeline.get_dataset(dataset_config(packer=packer),
                                  model.FEATURE_CONVERTER_CLS(pack=True))
  return ds.as_numpy_iterator()


def unpack(batch: Batch) -> List[Dict[str, np.ndarray]]:
  """The examples in a packed batch: {'inputs', 'targets'} token arrays.

  Encoder-decoder batches give each segment's encoder tokens and decoder
  targets; decoder-only batches give the segment's prompt (loss weight 0)
  and continuation (loss weight 1).
  """
  examples = []
  encdec = 'encoder_input_tokens' in batch
  for row in range(batch['decoder_target_tokens'].shape[0]):
    dseg = batch['decoder_segment_ids'][row]
    tgt = batch['decoder_target_tokens'][row]
    for s in np.unique(dseg[dseg > 0]):
      if encdec:
        eseg = batch['encoder_segment_ids'][row]
        examples.append({
            'inputs': batch['encoder_input_tokens'][row][eseg == s],
            'targets': tgt[dseg == s]})
      else:
        w = batch['decoder_loss_weights'][row][dseg == s]
        seq = tgt[dseg == s]
        examples.append({'inputs': seq[w == 0], 'targets': seq[w > 0]})
  return examples


def token_counts(batch: Batch) -> Dict[str, int]:
  """Non-padding input and target tokens in one of our batches."""
  if 'encoder_input_tokens' in batch:
    return {'inputs': int((batch['encoder_input_tokens'] > 0).sum()),
            'targets': int((batch['decoder_target_tokens'] > 0).sum())}
  real = batch['decoder_target_tokens'] > 0
  loss = batch['decoder_loss_weights'] > 0
  return {'inputs': int((real & ~loss).sum()), 'targets': int(loss.sum())}


def num_examples(batch: Batch) -> int:
  return int(sum(len(np.unique(r[r > 0]))
                 for r in batch['decoder_segment_ids']))


# -----------------------------------------------------------------------------
# Ours.
# -----------------------------------------------------------------------------
class Ours:
  """Our train step on one device, as `instruct.train` builds it."""

  def __init__(self, model, example_batch: Batch):
    self.model = model
    self.tx = optax.adamw(1e-3)
    self.partitioner = partitioning.Partitioner(devices=jax.devices()[:1])
    shapes = {k: v.shape for k, v in example_batch.items()}
    self.factory = trainer.StateFactory(model, self.tx, self.partitioner,
                                        shapes)
    self.state = self.factory.init(0)
    self.step_fn = trainer.jit_train_step(
        trainer.make_train_step(model, self.tx), self.factory)
    self.rng = jax.random.PRNGKey(0)
    self.shapes = shapes

  def num_params(self) -> int:
    return int(sum(x.size for x in jax.tree.leaves(self.state.params)))

  def flops_per_step(self) -> int:
    return flops_lib.train_step_flops(self.model, self.factory.abstract_params,
                                      self.shapes)

  def compile_seconds(self, batch: Batch) -> float:
    """The first step: tracing, XLA compilation and one execution."""
    t = time.perf_counter()
    self.state, m = self.step_fn(self.state, self.partitioner.shard_batch(
        batch), self.rng)
    jax.block_until_ready(m)
    return time.perf_counter() - t

  def run(self, batches: Iterator[Batch], steps: int,
          fetch_every_step: bool) -> Dict[str, Any]:
    """`steps` steps from a live iterator; returns seconds and what it ate.

    `fetch_every_step` pulls each step's metrics to the host one step late
    (what `instruct.train`'s loop did before); otherwise metrics stay on the
    device and are fetched once at the end (a log period).
    """
    consumed, pending = [], []
    t = time.perf_counter()
    for _ in range(steps):
      host = next(batches)
      consumed.append(host)
      self.state, metrics = self.step_fn(
          self.state, self.partitioner.shard_batch(host), self.rng)
      if fetch_every_step:
        for m in pending:
          jax.tree.map(lambda x: float(np.asarray(x)), m)
        pending = []
      pending.append(metrics)
    jax.tree.map(lambda x: float(np.asarray(x)), pending)
    jax.block_until_ready(self.state)
    return {'seconds': time.perf_counter() - t, 'batches': consumed}


# -----------------------------------------------------------------------------
# The peer: transformers + torch.optim.AdamW on padded examples.
# -----------------------------------------------------------------------------
class Peer:
  """Hugging Face model of the same configuration, trained in PyTorch."""

  def __init__(self, family: str, config):
    import torch  # pylint: disable=g-import-not-at-top
    import transformers  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(common.num_cores())
    torch.manual_seed(0)
    self.torch = torch
    self.family = family
    if family == 't5':
      from instruct.models import hf_t5  # pylint: disable=g-import-not-at-top
      hf_cfg = transformers.T5Config(**hf_t5.hf_t5_config_kwargs(config))
      self.model = transformers.T5ForConditionalGeneration(hf_cfg)
    else:
      from instruct.models import hf_llama  # pylint: disable=g-import-not-at-top
      hf_cfg = transformers.LlamaConfig(**hf_llama.hf_llama_config_kwargs(
          config, max_position_embeddings=4096))
      self.model = transformers.LlamaForCausalLM(hf_cfg)
    self.model.train()
    self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3)

  def batches(self, examples: List[Dict[str, np.ndarray]]):
    """Padded torch batches of `common.BATCH` examples (the last may be short)."""
    torch = self.torch
    li, lt = common.LENGTHS['inputs'], common.LENGTHS['targets']
    for i in range(0, len(examples), common.BATCH):
      chunk = examples[i:i + common.BATCH]
      if self.family == 't5':
        ids = np.zeros((len(chunk), li), np.int64)
        labels = np.full((len(chunk), lt), -100, np.int64)
        for j, ex in enumerate(chunk):
          ids[j, :len(ex['inputs'])] = ex['inputs']
          labels[j, :len(ex['targets'])] = ex['targets']
        yield {'input_ids': torch.from_numpy(ids),
               'attention_mask': torch.from_numpy((ids > 0).astype(np.int64)),
               'labels': torch.from_numpy(labels)}
      else:
        ids = np.zeros((len(chunk), li + lt), np.int64)
        labels = np.full((len(chunk), li + lt), -100, np.int64)
        mask = np.zeros((len(chunk), li + lt), np.int64)
        for j, ex in enumerate(chunk):
          n_in, seq = len(ex['inputs']), np.concatenate([ex['inputs'],
                                                         ex['targets']])
          ids[j, :len(seq)] = seq
          mask[j, :len(seq)] = 1
          labels[j, n_in:len(seq)] = ex['targets']
        yield {'input_ids': torch.from_numpy(ids),
               'attention_mask': torch.from_numpy(mask),
               'labels': torch.from_numpy(labels)}

  def step(self, batch) -> float:
    loss = self.model(**batch).loss
    loss.backward()
    self.opt.step()
    self.opt.zero_grad(set_to_none=True)
    return float(loss)


# -----------------------------------------------------------------------------
# The benchmark.
# -----------------------------------------------------------------------------
def _tokens(examples) -> Dict[str, int]:
  return {'inputs': int(sum((e['inputs'] > 0).sum() for e in examples)),
          'targets': int(sum((e['targets'] > 0).sum() for e in examples))}


def _per_second(counts: Mapping[str, int], seconds: float) -> Dict[str, float]:
  return {f'{k}_tok_per_s': v / seconds for k, v in counts.items()}


def benchmark(family: str, repeats: int = 3, steps: int = 5,
              peer_steps: int = 6, peak_flops: float = 0.0,
              with_peer: bool = True, packer: str = 'greedy') -> Dict[str, Any]:
  """Ours vs the peer on one model family ('t5' or 'llama').

  Args:
    family: which timing model.
    repeats: medians are taken over this many repeats.
    steps: our steps per repeat.
    peer_steps: the peer's steps per repeat, at most (on the examples our
      steps of that repeat consumed).
    peak_flops: measured matmul peak, for MFU (0: not reported).
    with_peer: also time the Hugging Face peer.
    packer: our pipeline's packer, 'greedy' (SeqIO's) or 'best_fit'.

  Returns:
    A dict of medians, per-repeat figures and the setup.
  """
  model = common.t5_model() if family == 't5' else common.llama_model()
  config = model.module.config
  it = packed_iterator(model, packer)
  first = next(it)
  ours = Ours(model, first)
  compile_s = ours.compile_seconds(first)
  flops_per_step = ours.flops_per_step()
  # Warm the pipeline and the step (a second, compiled call).
  ours.run(it, 2, fetch_every_step=False)
  peer = Peer(family, config) if with_peer else None
  if peer is not None:
    for b in itertools.islice(peer.batches(unpack(first)), 1):
      peer.step(b)

  rows = []
  for _ in range(repeats):
    row = {}
    for mode, fetch in (('per_step_fetch', True), ('windowed_fetch', False)):
      out = ours.run(it, steps, fetch_every_step=fetch)
      counts = {'inputs': 0, 'targets': 0}
      for b in out['batches']:
        for k, v in token_counts(b).items():
          counts[k] += v
      n_ex = sum(num_examples(b) for b in out['batches'])
      row[mode] = {
          'steps_per_s': steps / out['seconds'],
          'examples_per_s': n_ex / out['seconds'],
          **_per_second(counts, out['seconds'])}
      if peak_flops:
        row[mode]['mfu'] = flops_per_step * steps / out['seconds'] / peak_flops
      row[mode]['fill'] = {
          k: v / (steps * common.BATCH * (
              common.LENGTHS[k] if family == 't5' else
              sum(common.LENGTHS.values())))
          for k, v in counts.items()}
      examples = [e for b in out['batches'] for e in unpack(b)]
    if peer is not None:
      consumed = list(itertools.islice(peer.batches(examples), peer_steps))
      seconds = sum(common.timed(lambda b=b: peer.step(b)) for b in consumed)
      n = sum(int(b['input_ids'].shape[0]) for b in consumed)
      row['peer'] = {'steps_per_s': len(consumed) / seconds,
                     'examples_per_s': n / seconds,
                     **_per_second(_tokens(examples[:n]), seconds)}
    rows.append(row)

  def med(mode, key):
    return common.median([r[mode][key] for r in rows])

  result = {'family': family, 'params': ours.num_params(),
            'batch': common.BATCH, 'lengths': common.LENGTHS,
            'first_step_incl_compile_s': compile_s,
            'flops_per_step': flops_per_step, 'repeats': rows}
  for mode in rows[0]:
    result[mode] = {k: med(mode, k) for k in rows[0][mode] if k != 'fill'}
  result['fill'] = rows[-1]['windowed_fetch']['fill']
  if with_peer:
    ours_tok = (result['windowed_fetch']['inputs_tok_per_s'] +
                result['windowed_fetch']['targets_tok_per_s'])
    peer_tok = (result['peer']['inputs_tok_per_s'] +
                result['peer']['targets_tok_per_s'])
    result['speedup_vs_peer'] = ours_tok / peer_tok
    result['target_speedup_vs_peer'] = (
        result['windowed_fetch']['targets_tok_per_s'] /
        result['peer']['targets_tok_per_s'])
  return result
