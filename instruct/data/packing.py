"""Best-fit packing of both streams, and sequence lengths suggested by the data.

SeqIO's packer (`seqio.utils.trim_and_pack_dataset`) is greedy: it walks a
batch of `max(lengths)` examples in order and starts a new packed row as soon
as the next example does not fit, so a long example closes a row that a later
short one could have filled. On instruction data (long inputs, short targets)
that left 31% of input slots and 54% of target slots empty on the reference
timing task.

`best_fit_pack_dataset` packs a buffer of N examples at once, best-fit
decreasing over *both* streams: examples are taken largest first (by the
stream they fill most) and each goes into the open row where its inputs *and*
targets fit with the least leftover room, opening a row only when none fits.
Its output has exactly the features, dtypes and shapes of
`trim_and_pack_dataset` (`inputs`, `targets`, `*_segment_ids`, `*_positions`,
int32, segment ids from 1 with 0 for padding, positions restarting per
segment), so SeqIO's feature converters consume it unchanged.

It is made only of tf.data transformations (map, padded_batch, unbatch) over
TensorFlow ops (a `tf.while_loop` per buffer), with no Python callbacks, so a
training iterator that uses it can still be checkpointed with the model.

Choosing the packer:
  * gin: `train/DatasetConfig.packer = 'best_fit'` (see
    `instruct.input_pipeline.DatasetConfig`), optionally with
    `BestFitPacking.buffer_size = 2048`;
  * Python: `with_packer(seqio.EncDecFeatureConverter(pack=True), 'best_fit')`
    or the ready-made `BestFitEncDecFeatureConverter`.
"""

import copy
import dataclasses
import functools
import math
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import gin
import numpy as np
import seqio
import tensorflow as tf

from instruct.errors import UserError

PackFn = Callable[[tf.data.Dataset, Mapping[str, int]], tf.data.Dataset]
_LEN = '_length'


# ----------------------------------------------------------------------------
# The packer (TensorFlow).
# ----------------------------------------------------------------------------


def _assign_bins(lengths: tf.Tensor, capacities: tf.Tensor, sort: bool):
  """Best-fit assignment of a buffer of examples to packed rows.

  Args:
    lengths: [B, K] int32, example lengths per stream (already trimmed).
    capacities: [K] int32, the packed length of each stream.
    sort: take examples largest first (best-fit decreasing).

  Returns:
    (order [B]: example index in placement order, bins [B]: row of each placed
    example, offsets [B, K]: its start in each stream, slots [B]: its rank in
    its row (segment id - 1), num_bins: rows used), all int32.
  """
  b = tf.shape(lengths)[0]
  k = tf.shape(lengths)[1]
  caps_f = tf.cast(capacities, tf.float32)
  rel = tf.cast(lengths, tf.float32) / caps_f
  if sort:
    # Largest share of its row first; ties broken by the total share.
    key = tf.reduce_max(rel, axis=1) * 4.0 + tf.reduce_sum(rel, axis=1)
    order = tf.argsort(key, direction='DESCENDING', stable=True)
  else:
    order = tf.range(b)
  order = tf.cast(order, tf.int32)
  row_ids = tf.range(b)

  def body(i, used, counts, num_bins, bins, offsets, slots):
    e = order[i]
    length = lengths[e]
    after = used + length[tf.newaxis, :]
    fits = tf.logical_and(
        tf.reduce_all(after <= capacities[tf.newaxis, :], axis=1),
        row_ids < num_bins)
    leftover = tf.reduce_sum(
        (caps_f - tf.cast(after, tf.float32)) / caps_f, axis=1)
    leftover = tf.where(fits, leftover, tf.fill([b], np.float32(np.inf)))
    best = tf.cast(tf.argmin(leftover), tf.int32)
    any_fit = tf.reduce_any(fits)
    row = tf.where(any_fit, best, num_bins)
    bins = bins.write(i, row)
    offsets = offsets.write(i, used[row])
    slots = slots.write(i, counts[row])
    used = tf.tensor_scatter_nd_add(used, [[row]], length[tf.newaxis, :])
    counts = tf.tensor_scatter_nd_add(counts, [[row]], [1])
    num_bins += tf.where(any_fit, 0, 1)
    return i + 1, used, counts, num_bins, bins, offsets, slots

  init = (tf.constant(0), tf.zeros([b, k], tf.int32), tf.zeros([b], tf.int32),
          tf.constant(0), tf.TensorArray(tf.int32, size=b),
          tf.TensorArray(tf.int32, size=b, element_shape=[None]),
          tf.TensorArray(tf.int32, size=b))
  _, _, _, num_bins, bins, offsets, slots = tf.while_loop(
      lambda i, *_: i < b, body, init)
  return (order, bins.stack(), tf.reshape(offsets.stack(), [b, k]),
          slots.stack(), num_bins)


def _pack_buffer(batch: Mapping[str, tf.Tensor], keys: Sequence[str],
                 feature_lengths: Mapping[str, int],
                 sort: bool) -> Dict[str, tf.Tensor]:
  """Packs one padded batch of examples into [num_rows, length] features."""
  lengths = tf.stack([batch[k + _LEN] for k in keys], axis=1)
  capacities = tf.constant([feature_lengths[k] for k in keys], tf.int32)
  order, bins, offsets, slots, num_bins = _assign_bins(lengths, capacities,
                                                       sort)
  packed = {}
  for j, k in enumerate(keys):
    tokens = tf.cast(tf.gather(batch[k], order), tf.int32)  # [B, T]
    length = tf.gather(lengths[:, j], order)  # [B]
    # (placed example, position) of every real token.
    where = tf.cast(tf.where(
        tf.sequence_mask(length, tf.shape(tokens)[1])), tf.int32)
    p, pos = where[:, 0], where[:, 1]
    idx = tf.stack([tf.gather(bins, p), tf.gather(offsets[:, j], p) + pos], 1)
    shape = tf.stack([num_bins, feature_lengths[k]])
    packed[k] = tf.scatter_nd(idx, tf.gather_nd(tokens, where), shape)
    packed[k + '_positions'] = tf.scatter_nd(idx, pos, shape)
    packed[k + '_segment_ids'] = tf.scatter_nd(idx, tf.gather(slots, p) + 1,
                                               shape)
  return packed


def best_fit_pack_dataset(dataset: tf.data.Dataset,
                          feature_lengths: Mapping[str, int],
                          buffer_size: int = 1024,
                          sort: bool = True) -> tf.data.Dataset:
  """Trims and packs a dataset, best-fit over buffers of examples.

  A drop-in replacement for `seqio.utils.trim_and_pack_dataset` (same output
  features, dtypes and static shapes; features not in `feature_lengths` are
  removed). Examples longer than a stream's length are truncated, exactly as
  SeqIO does; every other token of every example appears exactly once.

  Args:
    dataset: examples with 1-D integer features named in `feature_lengths`.
    feature_lengths: packed length per feature, e.g. {'inputs': 512,
      'targets': 128}.
    buffer_size: examples packed together; larger fills better (the last,
      partly filled rows of a buffer are its only waste) and costs memory and
      time linearly in the buffer and the rows open.
    sort: best-fit *decreasing* (place the largest examples first). False
      places them in arrival order (online best fit).

  Returns:
    A dataset of packed examples.
  """
  if buffer_size < 1:
    raise UserError(f'Packing buffer_size must be >= 1, got {buffer_size}.')
  keys = list(feature_lengths)
  spec = dataset.element_spec
  for k in keys:
    if k not in spec:
      raise UserError(f'Cannot pack feature {k!r}: the dataset has only '
                      f'{sorted(spec)}.')
    if not spec[k].shape.is_compatible_with(tf.TensorShape([None])):
      raise UserError(f'Cannot pack feature {k!r} of shape {spec[k].shape}: '
                      'packing needs 1-D token sequences.')
    if feature_lengths[k] < 1:
      raise UserError(f'Packed length of {k!r} must be >= 1, got '
                      f'{feature_lengths[k]}.')

  def trim(ex):
    out = {}
    for k in keys:
      out[k] = ex[k][:feature_lengths[k]]
      out[k + _LEN] = tf.size(out[k], out_type=tf.int32)
    return out

  ds = dataset.map(trim, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.padded_batch(buffer_size)
  ds = ds.map(functools.partial(_pack_buffer, keys=keys,
                                feature_lengths=dict(feature_lengths),
                                sort=sort),
              num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.unbatch()

  def set_shape(ex):
    for name, value in ex.items():
      value.set_shape([feature_lengths[_stream(name)]])
    return ex

  return ds.map(set_shape)


def _stream(name: str) -> str:
  for suffix in ('_segment_ids', '_positions'):
    if name.endswith(suffix):
      return name[:-len(suffix)]
  return name


@gin.configurable
@dataclasses.dataclass(frozen=True)
class BestFitPacking:
  """The best-fit packer as a gin-configurable callable `(ds, lengths) -> ds`.

  Attributes:
    buffer_size: examples packed together.
    sort: best-fit decreasing (True) or online best fit in arrival order.
  """
  buffer_size: int = 1024
  sort: bool = True

  def __call__(self, dataset: tf.data.Dataset,
               feature_lengths: Mapping[str, int]) -> tf.data.Dataset:
    return best_fit_pack_dataset(dataset, feature_lengths, self.buffer_size,
                                 self.sort)


def greedy_pack_dataset(dataset: tf.data.Dataset,
                        feature_lengths: Mapping[str, int]) -> tf.data.Dataset:
  """SeqIO's own greedy packer (for comparisons)."""
  return seqio.utils.trim_and_pack_dataset(dataset, feature_lengths)


# 'greedy': SeqIO's packer, unchanged; 'best_fit': `BestFitPacking()` with its
# gin-configured settings.
PACKER_NAMES = ('greedy', 'best_fit')


def get_packer(packer: Union[str, PackFn, None]) -> Optional[PackFn]:
  """Resolves a packer name; None means SeqIO's greedy packer."""
  if packer is None or callable(packer):
    return packer
  if packer == 'greedy':
    return None
  if packer == 'best_fit':
    return BestFitPacking()
  raise UserError(f'Unknown packer {packer!r}; expected one of '
                  f'{list(PACKER_NAMES)} or a callable (dataset, lengths).')


# ----------------------------------------------------------------------------
# Feature converters.
# ----------------------------------------------------------------------------


class _PackerMixin:
  """Replaces a SeqIO converter's greedy packing with `self._pack_fn`."""

  # None: `BestFitPacking()` built at use, so gin bindings apply.
  _pack_fn: Optional[PackFn] = None

  def _pack_or_pad(self, ds: tf.data.Dataset,
                   packed_lengths: Mapping[str, int]) -> tf.data.Dataset:
    if self.pack:
      return (self._pack_fn or BestFitPacking())(ds, packed_lengths)
    return super()._pack_or_pad(ds, packed_lengths)  # pytype: disable=attribute-error


@functools.lru_cache(maxsize=None)
def _packed_class(base: type) -> type:
  return type(f'BestFit{base.__name__}', (_PackerMixin, base), {
      '__doc__': f'`{base.__name__}` whose packing is `_pack_fn` (best fit).',
      '__module__': __name__})


BestFitEncDecFeatureConverter = _packed_class(seqio.EncDecFeatureConverter)
BestFitDecoderFeatureConverter = _packed_class(seqio.DecoderFeatureConverter)
BestFitLMFeatureConverter = _packed_class(seqio.LMFeatureConverter)
BestFitPrefixLMFeatureConverter = _packed_class(seqio.PrefixLMFeatureConverter)


def with_packer(converter: seqio.FeatureConverter,
                packer: Union[str, PackFn, None]) -> seqio.FeatureConverter:
  """Returns `converter` with its packing done by `packer`.

  Args:
    converter: any SeqIO feature converter built with `pack=True` (an
      unpacked converter is returned unchanged).
    packer: 'greedy' (SeqIO's; returns `converter` itself), 'best_fit' or a
      callable `(dataset, feature_lengths) -> packed dataset` with the output
      of `seqio.utils.trim_and_pack_dataset`.

  Returns:
    A converter of a subclass of `type(converter)` with the same settings.
  """
  pack_fn = get_packer(packer)
  if pack_fn is None or not converter.pack:
    return converter
  if isinstance(converter, seqio.DecoderFeatureConverter):
    # A dispatcher: it packs nothing itself but hands each dataset to an inner
    # LM / prefix-LM converter, so those are the ones to re-pack.
    new = copy.copy(converter)
    for attr in ('prefixlm_feature_converter', 'strictlm_feature_converter',
                 'prefixsuffixlm_feature_converter'):
      inner = getattr(converter, attr, None)
      if inner is not None:
        setattr(new, attr, with_packer(inner, pack_fn))
    return new
  base = type(converter)
  if isinstance(converter, _PackerMixin):
    base = base.__mro__[2]
  new = object.__new__(_packed_class(base))
  new.__dict__.update(converter.__dict__)
  new._pack_fn = pack_fn  # pylint: disable=protected-access
  return new


# ----------------------------------------------------------------------------
# Measuring fill (NumPy).
# ----------------------------------------------------------------------------


def fill_fractions(packed: Sequence[Mapping[str, np.ndarray]],
                   keys: Sequence[str]) -> Dict[str, float]:
  """Fraction of token slots holding a real token, per stream."""
  out = {}
  for k in keys:
    total = sum(ex[k + '_segment_ids'].size for ex in packed)
    real = sum(int((ex[k + '_segment_ids'] > 0).sum()) for ex in packed)
    out[k] = real / total if total else 0.0
  return out


def simulate_best_fit(lengths: np.ndarray, capacities: Sequence[int],
                      buffer_size: int = 1024, sort: bool = True) -> int:
  """Rows best-fit packing uses for `lengths` ([N, K], already trimmed).

  The NumPy reference of `_assign_bins`, used to estimate fill quickly (e.g.
  for `suggest_lengths`) and to test the TensorFlow version.
  """
  caps = np.asarray(capacities, np.float64)
  rows = 0
  for start in range(0, len(lengths), buffer_size):
    buf = np.asarray(lengths[start:start + buffer_size], np.float64)
    rel = buf / caps
    order = (np.argsort(-(rel.max(1) * 4 + rel.sum(1)), kind='stable')
             if sort else np.arange(len(buf)))
    used = np.zeros((0, len(caps)))
    for e in order:
      after = used + buf[e]
      fits = np.all(after <= caps, axis=1)
      if fits.any():
        leftover = np.where(fits, ((caps - after) / caps).sum(1), np.inf)
        used[int(np.argmin(leftover))] += buf[e]
      else:
        used = np.vstack([used, buf[e][None]])
    rows += len(used)
  return rows


def simulate_greedy(lengths: np.ndarray, capacities: Sequence[int]) -> int:
  """Rows SeqIO's greedy packer uses (batches of max(capacities) examples)."""
  caps = np.asarray(capacities)
  buffer_size = int(caps.max())
  rows = 0
  for start in range(0, len(lengths), buffer_size):
    used = None
    for length in lengths[start:start + buffer_size]:
      if used is None or np.any(used + length > caps):
        rows += 1
        used = np.zeros_like(caps)
      used = used + length
  return rows


# ----------------------------------------------------------------------------
# Lengths suggested from the data.
# ----------------------------------------------------------------------------

PERCENTILES = (50, 90, 95, 99, 100)


@dataclasses.dataclass
class LengthReport:
  """Token lengths of a sample of a task or mixture, and suggested lengths.

  Attributes:
    name: the task or mixture.
    split: the split read.
    num_examples: examples read.
    percentiles: stream -> {percentile: length in tokens (with EOS)}.
    mean: stream -> mean length.
    suggested: stream -> suggested packed length.
    truncated: stream -> fraction of examples longer than the suggestion.
    fill: packer -> stream -> fraction of slots filled at the suggestion.
  """
  name: str
  split: str
  num_examples: int
  percentiles: Dict[str, Dict[int, int]]
  mean: Dict[str, float]
  suggested: Dict[str, int]
  truncated: Dict[str, float]
  fill: Dict[str, Dict[str, float]]

  def format(self) -> str:
    """A Markdown summary."""
    keys = list(self.suggested)
    lines = [f'Lengths of {self.name} ({self.split}, {self.num_examples} '
             'examples, tokens incl. EOS)', '',
             '| stream | mean | ' + ' | '.join(f'p{p}' for p in PERCENTILES)
             + ' | suggested | truncated |',
             '|---|---:|' + '---:|' * len(PERCENTILES) + '---:|---:|']
    for k in keys:
      lines.append(
          f'| {k} | {self.mean[k]:.1f} | ' +
          ' | '.join(str(self.percentiles[k][p]) for p in PERCENTILES) +
          f' | {self.suggested[k]} | {self.truncated[k]:.1%} |')
    lines += ['', 'Fill at the suggested lengths (fraction of token slots):',
              '', '| packer | ' + ' | '.join(keys) + ' |',
              '|---|' + '---:|' * len(keys)]
    for packer, fill in self.fill.items():
      lines.append(f'| {packer} | ' +
                   ' | '.join(f'{fill[k]:.1%}' for k in keys) + ' |')
    return '\n'.join(lines)


def _round_up(x: float, multiple: int) -> int:
  return max(multiple, int(math.ceil(x / multiple)) * multiple)


def _balanced(lengths: Mapping[str, np.ndarray], base: Mapping[str, int],
              multiple_of: int) -> Dict[str, int]:
  """Raises the stream with less room per token so both fill alike."""
  out = dict(base)
  keys = list(lengths)
  if len(keys) != 2:
    return out
  a, b = keys
  total_a, total_b = float(lengths[a].sum()), float(lengths[b].sum())
  if not (total_a and total_b):
    return out
  # Rows are bounded by the stream that fills first; give the other one just
  # enough room for its share of the tokens.
  if out[a] / total_a < out[b] / total_b:
    out[b] = max(out[b], _round_up(out[a] * total_b / total_a, multiple_of))
  else:
    out[a] = max(out[a], _round_up(out[b] * total_a / total_b, multiple_of))
  return out


SCALES = (1, 2, 3, 4, 6, 8)


def suggest_from_lengths(lengths: Mapping[str, np.ndarray],
                         percentile: float = 99.0,
                         multiple_of: int = 8,
                         buffer_size: int = 1024,
                         target_fill: float = 0.9) -> Dict[str, object]:
  """Suggests packed lengths from per-example token lengths.

  Each stream must hold its `percentile`-th example (rounded up to
  `multiple_of`); with two streams, the one with less room per token is
  raised so both carry their share of tokens (otherwise packing fills one
  stream and leaves the other mostly padding). Rows a few examples long
  pack well, rows about one example long cannot, so these lengths are then
  scaled by 1, 2, 3, 4, 6 or 8: the suggestion is the smallest scale whose
  simulated best-fit fill of the stream that fills first reaches
  `target_fill` (else the best scale).

  Returns:
    {'suggested', 'truncated', 'fill'} as in `LengthReport`.
  """
  keys = list(lengths)
  base = {k: _round_up(np.percentile(lengths[k], percentile), multiple_of)
          for k in keys}
  best = None
  for scale in SCALES:
    candidate = _balanced(lengths, {k: v * scale for k, v in base.items()},
                          multiple_of)
    fill = estimate_fill(lengths, candidate, buffer_size)
    binding = max(fill['best_fit'].values())
    if best is None or binding > best[0] + 1e-9:
      best = (binding, candidate, fill)
    if binding >= target_fill:
      break
  _, suggested, fill = best
  truncated = {k: float(np.mean(lengths[k] > suggested[k])) for k in keys}
  return {'suggested': suggested, 'truncated': truncated, 'fill': fill}


def estimate_fill(lengths: Mapping[str, np.ndarray],
                  feature_lengths: Mapping[str, int],
                  buffer_size: int = 1024) -> Dict[str, Dict[str, float]]:
  """Fill of greedy and best-fit packing, simulated on example lengths."""
  keys = list(feature_lengths)
  caps = [feature_lengths[k] for k in keys]
  trimmed = np.stack([np.minimum(lengths[k], feature_lengths[k])
                      for k in keys], axis=1)
  out = {}
  for name, rows in (('greedy (SeqIO)', simulate_greedy(trimmed, caps)),
                     ('best_fit', simulate_best_fit(trimmed, caps,
                                                    buffer_size))):
    out[name] = {k: float(trimmed[:, j].sum()) / (rows * caps[j])
                 if rows else 0.0 for j, k in enumerate(keys)}
  return out


def read_lengths(name: str, split: str = 'train', num_examples: int = 2000,
                 seed: int = 0) -> Dict[str, np.ndarray]:
  """Token lengths (with EOS, untrimmed) of up to N examples of a task/mixture.

  Mixtures are sampled at their rates (deterministically, with `seed`).
  """
  task = seqio.get_mixture_or_task(name)
  keys = [k for k in ('inputs', 'targets') if k in task.output_features]
  ds = task.get_dataset(sequence_length=None, split=split, shuffle=False,
                        seed=seed)
  ds = ds.map(lambda ex: {k: tf.size(ex[k]) for k in keys if k in ex})
  rows: List[Dict[str, int]] = list(ds.take(num_examples).as_numpy_iterator())
  if not rows:
    raise UserError(f'{name!r} has no examples in split {split!r}.')
  keys = [k for k in keys if k in rows[0]]
  return {k: np.array([r[k] for r in rows], np.int64) for k in keys}


def suggest_lengths(name: str, split: str = 'train', num_examples: int = 2000,
                    percentile: float = 99.0, multiple_of: int = 8,
                    buffer_size: int = 1024) -> LengthReport:
  """Reads N examples of a task or mixture and suggests packed lengths.

  Args:
    name: a registered SeqIO task or mixture.
    split: split to read.
    num_examples: examples to read (a mixture is sampled at its rates).
    percentile: the length each stream should cover without truncation.
    multiple_of: suggested lengths are multiples of this.
    buffer_size: best-fit buffer for the fill estimate.

  Returns:
    A `LengthReport`.
  """
  lengths = read_lengths(name, split, num_examples)
  s = suggest_from_lengths(lengths, percentile, multiple_of, buffer_size)
  return LengthReport(
      name=name, split=split,
      num_examples=len(next(iter(lengths.values()))),
      percentiles={k: {p: int(np.percentile(v, p)) for p in PERCENTILES}
                   for k, v in lengths.items()},
      mean={k: float(v.mean()) for k, v in lengths.items()},
      suggested=s['suggested'], truncated=s['truncated'], fill=s['fill'])
