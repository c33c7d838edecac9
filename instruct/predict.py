"""The one decode path: jitted, cached prediction and scoring of a model.

Everything that decodes or scores with a model goes through a `Predictor`:
`evaluation.InferenceEvaluator` (SeqIO metrics), `inference.infer`
(`python -m instruct.infer`), the LM Evaluation Harness adapter
(`instruct.evals.lm_eval_adapter`) and the BBH runner
(`instruct.evals.bbh`). It speaks only the model contract:

  model.predict_batch_with_aux(params, batch, rng, decoding_config)
      -> (tokens [B, N, L], {'scores': [B, N]})
  model.score_batch(params, batch) -> [B] (or any tree with leading B)

and adds what every caller needs around it:

  * one `jax.jit` per decoding config (and one for scoring), kept for the
    predictor's life, so a config compiles once per batch shape;
  * a fixed batch shape: the rows of a batch are rounded up to a multiple of
    the data-parallel devices, and a short (last) batch is padded with copies
    of its last row, so the last batch of a dataset does not compile again;
    the padding is dropped from the outputs;
  * sharding: with a `partitioning.Partitioner` each process puts its slice
    of the rows on the mesh (`shard_batch`), the function runs under the
    partitioner's mesh and rules, and the outputs are gathered from every
    process; without one the function runs on JAX's default device;
  * optional progress (tqdm on an interactive stderr, process 0 only).

Datasets are decoded in order; sampling draws from `seed` folded with the
batch number, so a run is reproducible.

    predictor = Predictor(model, partitioner)
    for index, tokens_NL, scores_N in predictor.predict_dataset(
        params, model_ds.enumerate(), batch_size=32):
      ...
"""

import functools
import sys
from typing import (Any, Callable, Dict, Hashable, Iterator, List, Mapping,
                    Optional, Tuple)

import jax
from jax.experimental import multihost_utils
import numpy as np
import tensorflow as tf
import tqdm

from instruct import decoding
from instruct import partitioning as partitioning_lib

Features = Mapping[str, np.ndarray]
# (params, batch) -> outputs whose leaves lead with the batch dimension.
ScoreFn = Callable[[Any, Mapping[str, Any]], Any]


def padded_batches(ds: tf.data.Dataset, batch_size: int
                   ) -> Iterator[Tuple[np.ndarray, Dict[str, np.ndarray], int]]:
  """(indices, numpy features, real rows) of an (index, features) dataset.

  Every batch has `batch_size` rows: a short last batch is padded with
  copies of its last row.
  """
  for index, feats in ds.batch(batch_size).as_numpy_iterator():
    n = len(index)
    yield index, pad_rows(feats, batch_size), n


def pad_rows(feats: Features, rows: int) -> Dict[str, np.ndarray]:
  """Features with `rows` rows: the last row repeated to fill them."""
  out = {}
  for k, v in feats.items():
    v = np.asarray(v)
    out[k] = (v if len(v) >= rows else
              np.concatenate([v, np.repeat(v[-1:], rows - len(v), 0)]))
  return out


class Predictor:
  """Jitted `predict_batch_with_aux` / `score_batch` of one model.

  Attributes:
    model: anything with the model contract above.
    partitioner: the device layout, or None for JAX's default device.
    show_progress: a tqdm bar over datasets (interactive stderr only).
  """

  def __init__(self, model,
               partitioner: Optional[partitioning_lib.Partitioner] = None,
               *, score_fn: Optional[ScoreFn] = None,
               show_progress: bool = False):
    """A predictor; nothing is compiled until first used.

    Args:
      model: the model (its `predict_batch_with_aux` and `score_batch`).
      partitioner: device layout; None runs unsharded on the default device.
      score_fn: (params, batch) -> per-row outputs, instead of
        `model.score_batch` (e.g. the harness adapter's own scoring).
      show_progress: show a progress bar in `predict_dataset` and
        `score_dataset`.
    """
    self.model = model
    self.partitioner = partitioner
    self.show_progress = show_progress
    self._score_impl = score_fn
    self._predict_fns: Dict[Hashable, Callable[..., Any]] = {}
    self._score_fn = None

  # ---------------------------------------------------------------------------
  # Jitted functions, one per decoding config.
  # ---------------------------------------------------------------------------
  def predict_fn(self, config: Optional[decoding.DecodingConfig] = None):
    """Jitted (params, batch, rng) -> (tokens [B, N, L], aux) for `config`.

    None means the model's default decoding. The same function (hence the
    same compilation cache) is returned for equal configs.
    """
    if config not in self._predict_fns:
      self._predict_fns[config] = jax.jit(functools.partial(
          self.model.predict_batch_with_aux, decoding_config=config))
    return self._predict_fns[config]

  @property
  def score_fn(self):
    """Jitted (params, batch) -> per-row scores."""
    if self._score_fn is None:
      self._score_fn = jax.jit(self._score_impl or self.model.score_batch)
    return self._score_fn

  # ---------------------------------------------------------------------------
  # One batch.
  # ---------------------------------------------------------------------------
  def rows(self, batch_size: int) -> int:
    """`batch_size` rounded up to a multiple of the data-parallel devices."""
    data = self.partitioner.data_size if self.partitioner else 1
    return batch_size + (-batch_size % data)

  def _call(self, fn, params, feats: Features, *args):
    """fn(params, batch, *args) over globally padded rows; host numpy out."""
    if self.partitioner is None:
      return jax.tree.map(np.asarray, fn(params, dict(feats), *args))
    local = len(next(iter(feats.values()))) // jax.process_count()
    lo = jax.process_index() * local
    local_feats = {k: v[lo:lo + local] for k, v in feats.items()}
    with self.partitioner.context():
      out = fn(params, self.partitioner.shard_batch(local_feats), *args)
    return jax.tree.map(np.asarray,
                        multihost_utils.process_allgather(out, tiled=True))

  def predict_batch(self, params, feats: Features, *,
                    rng: Optional[jax.Array] = None,
                    config: Optional[decoding.DecodingConfig] = None,
                    rows: Optional[int] = None
                    ) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Decodes the rows of `feats` (padded to `rows`, then dropped).

    Args:
      params: model parameters (placed as the partitioner expects).
      feats: model features, numpy arrays with the same leading dimension n;
        every process passes the whole (global) batch.
      rng: PRNG key for sampling (None: the model's choice).
      config: decoding config (None: the model's default).
      rows: pad to this many rows (rounded up for the devices) so that
        batches of any n <= rows share one compilation; default n.

    Returns:
      (tokens [n, N, L], aux with leading n, e.g. {'scores': [n, N]}).
    """
    n = len(next(iter(feats.values())))
    padded = pad_rows(feats, self.rows(max(rows or n, n)))
    tokens, aux = self._call(self.predict_fn(config), params, padded, rng)
    return jax.tree.map(lambda x: x[:n], (tokens, aux))

  def score_batch(self, params, feats: Features, *,
                  rows: Optional[int] = None) -> Any:
    """Scores the rows of `feats` (see `predict_batch` for `rows`)."""
    n = len(next(iter(feats.values())))
    padded = pad_rows(feats, self.rows(max(rows or n, n)))
    return jax.tree.map(lambda x: x[:n],
                        self._call(self.score_fn, params, padded))

  # ---------------------------------------------------------------------------
  # Datasets.
  # ---------------------------------------------------------------------------
  def _progress(self, ds: tf.data.Dataset, desc: str):
    total = int(ds.cardinality().numpy()) if ds.cardinality() >= 0 else None
    return tqdm.tqdm(total=total, desc=desc, unit='ex', leave=False,
                     disable=(not self.show_progress or
                              jax.process_index() != 0 or
                              not sys.stderr.isatty()))

  def predict_dataset(self, params, ds: tf.data.Dataset, batch_size: int, *,
                      config: Optional[decoding.DecodingConfig] = None,
                      seed: int = 0, desc: str = 'decode'
                      ) -> List[Tuple[int, np.ndarray, Dict[str, np.ndarray]]]:
    """[(index, tokens [N, L], aux of that example)] in dataset order.

    Args:
      params: model parameters.
      ds: (index, model features) examples, e.g. `model_ds.enumerate()`.
      batch_size: examples per call (rounded up for the devices; the last
        batch is padded, so one shape is compiled).
      config: decoding config (None: the model's default).
      seed: batch b samples with `fold_in(PRNGKey(seed), b)`.
      desc: the progress bar's label.
    """
    rows = self.rows(batch_size)
    base_rng = jax.random.PRNGKey(seed)
    results = []
    bar = self._progress(ds, desc)
    for b, (index, feats, n) in enumerate(padded_batches(ds, rows)):
      tokens, aux = self.predict_batch(params, feats, config=config,
                                       rng=jax.random.fold_in(base_rng, b))
      for i in range(n):
        results.append((int(index[i]), tokens[i],
                        jax.tree.map(lambda x, i=i: x[i], aux)))
      bar.update(n)
    bar.close()
    return results

  def score_dataset(self, params, ds: tf.data.Dataset, batch_size: int, *,
                    desc: str = 'score') -> List[Tuple[int, Any]]:
    """[(index, that example's score)] of (index, features) examples."""
    rows = self.rows(batch_size)
    results = []
    bar = self._progress(ds, desc)
    for index, feats, n in padded_batches(ds, rows):
      out = self.score_batch(params, feats)
      for i in range(n):
        results.append((int(index[i]), jax.tree.map(lambda x, i=i: x[i], out)))
      bar.update(n)
    bar.close()
    return results
