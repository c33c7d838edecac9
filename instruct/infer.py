r"""Decode a SeqIO task's inputs: `python -m instruct.infer --gin_file=...`.

Writes `INFER_OUTPUT_DIR/<task>-<step>.jsonl`, one line per example with the
input text, the prediction and (when present) the target.
"""

import json
import os
import sys
from typing import Optional, Sequence

from absl import logging
import gin
import jax
import numpy as np
import seqio
import tensorflow as tf
import tqdm

from instruct import checkpoints
from instruct import configurables  # pylint: disable=unused-import
from instruct import eval as eval_lib
from instruct import evaluation
from instruct import gin_utils
from instruct import input_pipeline
from instruct import partitioning as partitioning_lib

REQUIRED_MACROS = ('CHECKPOINT_PATH', 'INFER_OUTPUT_DIR', 'MIXTURE_OR_TASK_NAME',
                   'TASK_FEATURE_LENGTHS')


@gin.configurable
def infer(*, model, checkpoint_path: str, output_dir: str,
          dataset_cfg: input_pipeline.DatasetConfig,
          partitioner: Optional[partitioning_lib.Partitioner] = None,
          num_examples: Optional[int] = None) -> str:
  """Decodes with the latest checkpoint in `checkpoint_path`; returns the path."""
  partitioner = partitioner or partitioning_lib.Partitioner()
  input_pipeline.import_task_modules(dataset_cfg.module)
  task = input_pipeline.get_mixture_or_task(dataset_cfg.mixture_or_task_name)
  ckpt = eval_lib.checkpoint_dirs(checkpoint_path)[-1]
  params, step = checkpoints.restore_params_and_step(
      os.fspath(ckpt), eval_lib.abstract_params(model, partitioner, dataset_cfg))
  task_ds = task.get_dataset(dict(dataset_cfg.task_feature_lengths),
                             split=dataset_cfg.split, shuffle=False)
  if num_examples:
    task_ds = task_ds.take(num_examples)
  converter = model.FEATURE_CONVERTER_CLS(pack=False)
  model_ds = converter(task_ds, dict(dataset_cfg.task_feature_lengths))
  with partitioner.context():
    predict = jax.jit(model.predict_batch)
  tokens = {}
  for index, feats, n in tqdm.tqdm(
      evaluation.padded_batches(model_ds.enumerate(),
                                dataset_cfg.batch_size),
      desc='decode', unit='batch'):
    with partitioner.context():
      out = np.asarray(predict(params, partitioner.shard_batch(feats)))
    for i in range(n):
      tokens[int(index[i])] = out[i]
  vocab = model.output_vocabulary
  tf.io.gfile.makedirs(output_dir)
  path = os.path.join(output_dir,
                      f'{dataset_cfg.mixture_or_task_name}-{step}.jsonl')
  with tf.io.gfile.GFile(path, 'w') as f:
    for i, ex in enumerate(task_ds.as_numpy_iterator()):
      row = {'index': i,
             'inputs': _text(ex, 'inputs', model.input_vocabulary),
             'prediction': vocab.decode([int(t) for t in tokens[i]])}
      if 'targets' in ex:
        row['target'] = _text(ex, 'targets', vocab)
      f.write(json.dumps(row, ensure_ascii=False) + '\n')
  print(f'[instruct.infer] wrote {len(tokens)} predictions to {path}')
  return path


def _text(ex, key, vocab: seqio.Vocabulary) -> str:
  pre = ex.get(f'{key}_pretokenized')
  if pre is not None:
    return pre.decode('utf-8') if isinstance(pre, bytes) else str(pre)
  return vocab.decode([int(t) for t in ex[key]])


def main(argv: Sequence[str]) -> None:
  args, bindings = gin_utils.parse_flags(argv, description=__doc__)
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  gin_utils.call_configured(infer, REQUIRED_MACROS)  # pylint: disable=no-value-for-parameter


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
