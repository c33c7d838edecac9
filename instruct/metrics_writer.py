"""Training metrics to TensorBoard event files and a JSONL file."""

import json
import os
import time
from typing import Mapping, Optional

import jax
import numpy as np
import tensorflow as tf


class MetricsWriter:
  """Writes scalars to `<dir>/events.out.tfevents.*` and `<dir>/metrics.jsonl`.

  Only process 0 writes, so a pod run produces one copy.
  """

  def __init__(self, log_dir: str):
    self.log_dir = log_dir
    self._active = jax.process_index() == 0
    if self._active:
      tf.io.gfile.makedirs(log_dir)
      self._tb = tf.summary.create_file_writer(log_dir)
      self._jsonl = tf.io.gfile.GFile(os.path.join(log_dir, 'metrics.jsonl'),
                                      'a')

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self._active:
      return
    clean = {k: float(np.asarray(v)) for k, v in scalars.items()}
    with self._tb.as_default():
      for k, v in clean.items():
        tf.summary.scalar(k, v, step=step)
    self._jsonl.write(json.dumps({'step': int(step), 'time': time.time(),
                                  **clean}) + '\n')
    self._jsonl.flush()

  def flush(self) -> None:
    if self._active:
      self._tb.flush()
      self._jsonl.flush()

  def close(self) -> None:
    if self._active:
      self._tb.close()
      self._jsonl.close()


def read_jsonl(path: str, last_only_per_step: bool = True) -> list:
  """Reads a metrics JSONL file back (the last record wins per step)."""
  rows = []
  with tf.io.gfile.GFile(path) as f:
    for line in f:
      if line.strip():
        rows.append(json.loads(line))
  if not last_only_per_step:
    return rows
  by_step = {}
  for r in rows:
    by_step.setdefault(r['step'], {}).update(r)
  return [by_step[s] for s in sorted(by_step)]


def format_rate(value: Optional[float]) -> str:
  return '-' if value is None else f'{value:,.0f}'
