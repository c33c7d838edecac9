r"""Decode prompts with a checkpoint: `python -m instruct.infer --gin_file=...`.

Prompts come from a SeqIO task or mixture (MIXTURE_OR_TASK_NAME: its inputs
in split INFER_SPLIT) or from a file (INFER_INPUT_FILE, or the flag
`--input_file=PATH`): plain text with one prompt per line, or JSON Lines
(`.jsonl` / `.json`, or `infer.input_format = 'jsonl'`) with a string
"inputs" field per line. Decoding follows `DecodingConfig` (greedy unless,
e.g., `--gin.DecodingConfig.method="'beam'"`).

    python -m instruct.infer --gin_file=models/t5_1_1/small.gin \
      --gin_file=runs/infer.gin --gin.CHECKPOINT_PATH="'/tmp/ft'" \
      --gin.INFER_OUTPUT_DIR="'/tmp/ft/infer'" --input_file=prompts.txt \
      --gin.TASK_FEATURE_LENGTHS="{'inputs': 512, 'targets': 128}" \
      --gin.DecodingConfig.method="'sample'" --gin.DecodingConfig.top_p=0.9 \
      --gin.DecodingConfig.num_samples=4

Writes `INFER_OUTPUT_DIR/<task or file stem>-<step>.jsonl`, one line per
prompt: `index`, `inputs`, `prediction` (the best beam or first sample),
`predictions` (all N outputs), `scores` (theirs; see `instruct.decoding`),
`target` when the task has targets; a JSONL prompt file's other fields and
its `line` number are carried over.

Several adapters over one base (`instruct.peft`): `--adapters=a=PATH,b=PATH`
with CHECKPOINT_PATH the base; a JSONL prompt's "adapter" field picks one
(none: the base). Prompts are grouped by adapter and each group is decoded
with its adapter over the shared base parameters.
"""

import argparse
import dataclasses
import json
import math
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import logging
import gin
import jax
import numpy as np
import seqio
import tensorflow as tf
import tqdm

from instruct import checkpoint_formats
from instruct import configurables  # pylint: disable=unused-import
from instruct import decoding
from instruct import eval as eval_lib
from instruct import evaluation
from instruct import gin_utils
from instruct import input_pipeline
from instruct import partitioning as partitioning_lib
from instruct.errors import UserError
from instruct.peft import checkpoint as peft_checkpoint
from instruct.peft import core as peft_core

REQUIRED_MACROS = ('CHECKPOINT_PATH', 'INFER_OUTPUT_DIR',
                   'TASK_FEATURE_LENGTHS')
INPUT_FORMATS = ('auto', 'text', 'jsonl')


# -----------------------------------------------------------------------------
# Prompt files.
# -----------------------------------------------------------------------------
@dataclasses.dataclass
class Prompt:
  """One prompt from a file, with where it came from."""
  line: int
  inputs: str
  fields: Dict[str, Any] = dataclasses.field(default_factory=dict)


def read_prompts(path: str, input_format: str = 'auto') -> List[Prompt]:
  """Reads prompts; blank lines are skipped (and counted on stdout).

  Args:
    path: the file.
    input_format: 'text' (one prompt per line), 'jsonl' (an object with a
      string "inputs" field per line) or 'auto' (JSONL for .jsonl / .json).

  Raises:
    UserError: naming the file (and line) when it is missing, empty, or a
      line is not what the format expects.
  """
  if input_format not in INPUT_FORMATS:
    raise UserError(f'infer.input_format = {input_format!r}: expected one of '
                    f'{", ".join(map(repr, INPUT_FORMATS))}.')
  if not tf.io.gfile.exists(path):
    raise UserError(f'Prompt file {path} does not exist (INFER_INPUT_FILE / '
                    '--input_file).')
  if input_format == 'auto':
    input_format = ('jsonl' if path.lower().endswith(('.jsonl', '.json'))
                    else 'text')
  with tf.io.gfile.GFile(path, 'rb') as f:
    raw = f.read()
  try:
    lines = raw.decode('utf-8').splitlines()
  except UnicodeDecodeError as e:
    line = raw[:e.start].count(b'\n') + 1
    raise UserError(f'{path}:{line}: not valid UTF-8 text.') from None
  prompts, blank = [], 0
  for number, text in enumerate(lines, start=1):
    if not text.strip():
      blank += 1
    elif input_format == 'text':
      prompts.append(Prompt(number, text))
    else:
      prompts.append(_json_prompt(path, number, text))
  if not prompts:
    what = 'JSON object' if input_format == 'jsonl' else 'prompt'
    raise UserError(f'{path}: no prompts in it (the file is empty or blank); '
                    f'expected one {what} per line.')
  if blank:
    print(f'[instruct.infer] {path}: skipped {blank} blank line(s); '
          f'{len(prompts)} prompts.')
  return prompts


def _json_prompt(path: str, number: int, text: str) -> Prompt:
  try:
    row = json.loads(text)
  except json.JSONDecodeError as e:
    raise UserError(f'{path}:{number}: not valid JSON ({e.msg} at column '
                    f'{e.colno}); expected an object with a string "inputs" '
                    'field.') from None
  if not isinstance(row, dict):
    got = f'a JSON {type(row).__name__}'
  elif 'inputs' not in row:
    got = f'an object with fields {sorted(row)}'
  elif not isinstance(row['inputs'], str):
    got = f'"inputs" of type {type(row["inputs"]).__name__}'
  else:
    got = None
  if got:
    raise UserError(f'{path}:{number}: expected a JSON object with a string '
                    f'"inputs" field, got {got}.')
  fields = {k: v for k, v in row.items() if k != 'inputs'}
  return Prompt(number, row['inputs'], fields)


def _prompt_dataset(prompts: Sequence[Prompt], path: str,
                    vocab: seqio.Vocabulary, input_length: int,
                    add_eos: bool) -> tf.data.Dataset:
  """Task-style {'inputs', 'targets'} examples (no targets) for the prompts."""
  tokenized = []
  for p in prompts:
    ids = list(vocab.encode(p.inputs)) + ([vocab.eos_id] if add_eos else [])
    if len(ids) > input_length:
      raise UserError(
          f'{path}:{p.line}: the prompt is {len(ids)} tokens, longer than '
          f"TASK_FEATURE_LENGTHS['inputs'] = {input_length}; raise it or "
          'shorten the prompt.')
    tokenized.append(np.asarray(ids, np.int32))
  spec = tf.TensorSpec([None], tf.int32)
  return tf.data.Dataset.from_generator(
      lambda: ({'inputs': t, 'targets': np.zeros([0], np.int32)}
               for t in tokenized),
      output_signature={'inputs': spec, 'targets': spec})


# -----------------------------------------------------------------------------
# Decoding.
# -----------------------------------------------------------------------------
def decode_dataset(model, params, model_ds: tf.data.Dataset, batch_size: int,
                   config: Optional[decoding.DecodingConfig] = None,
                   seed: int = 0,
                   partitioner: Optional[partitioning_lib.Partitioner] = None
                   ) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
  """{example index: (tokens [N, L], scores [N])} for model features.

  The batch size is rounded up to a multiple of the data-parallel devices;
  the last batch is padded (and the padding dropped).
  """
  partitioner = partitioner or partitioning_lib.Partitioner()
  batch_size += -batch_size % partitioner.data_size
  with partitioner.context():
    predict = jax.jit(lambda p, b, r: model.predict_batch_with_aux(
        p, b, r, decoding_config=config))
  base_rng = jax.random.PRNGKey(seed)
  outputs = {}
  for b, (index, feats, n) in enumerate(tqdm.tqdm(
      evaluation.padded_batches(model_ds.enumerate(), batch_size),
      desc='decode', unit='batch', disable=not sys.stderr.isatty())):
    with partitioner.context():
      tokens, aux = predict(params, partitioner.shard_batch(feats),
                            jax.random.fold_in(base_rng, b))
    tokens, scores = np.asarray(tokens), np.asarray(aux['scores'])
    for i in range(n):
      outputs[int(index[i])] = (tokens[i], scores[i])
  return outputs


@gin.configurable
def infer(*, model, checkpoint_path: str, output_dir: str,
          dataset_cfg: input_pipeline.DatasetConfig,
          partitioner: Optional[partitioning_lib.Partitioner] = None,
          num_examples: Optional[int] = None,
          input_file: Optional[str] = None,
          input_format: str = 'auto',
          add_eos: bool = True,
          decoding_config: Optional[decoding.DecodingConfig] = None,
          seed: int = 0,
          adapters: Optional[str] = None) -> str:
  """Decodes a task's inputs or a prompt file; returns the JSONL path.

  Args:
    model: e.g. `EncoderDecoderModel` (anything with `predict_batch_with_aux`
      and `FEATURE_CONVERTER_CLS`).
    checkpoint_path: a checkpoint, or a model dir (its latest is used).
    output_dir: where the JSONL goes.
    dataset_cfg: lengths and batch size; its task (None with `input_file`).
    partitioner: device layout.
    num_examples: decode only the first ones (None: all).
    input_file: prompts instead of a task (see `read_prompts`).
    input_format: 'auto', 'text' or 'jsonl' for `input_file`.
    add_eos: end file prompts with EOS, as SeqIO tasks end their inputs.
    decoding_config: None uses the model's default.
    seed: sampling seed (folded with the batch number).
    adapters: 'name=path,...' adapter checkpoints over the base at
      `checkpoint_path`, chosen per prompt by a JSONL "adapter" field.
  """
  partitioner = partitioner or partitioning_lib.Partitioner()
  task_name = dataset_cfg.mixture_or_task_name
  if bool(task_name) == bool(input_file):
    raise UserError(
        'Decode either a SeqIO task (--gin.MIXTURE_OR_TASK_NAME=...) or a '
        'prompt file (--input_file=PATH or --gin.INFER_INPUT_FILE=...), '
        f'{"not both" if task_name else "one of them is needed"}.')
  lengths = dict(dataset_cfg.task_feature_lengths)
  # For the summary line; the model applies its own defaults (e.g. its EOS).
  config = (decoding_config or getattr(model, 'decoding_config', None) or
            decoding.plain_config())
  if input_file:
    prompts = read_prompts(input_file, input_format)[:num_examples or None]
    examples = _prompt_dataset(prompts, input_file, model.input_vocabulary,
                               lengths['inputs'], add_eos)
    name = os.path.splitext(os.path.basename(input_file))[0]
  else:
    input_pipeline.import_task_modules(dataset_cfg.module)
    task = input_pipeline.get_mixture_or_task(task_name)
    examples = task.get_dataset(lengths, split=dataset_cfg.split,
                                shuffle=False)
    if num_examples:
      examples = examples.take(num_examples)
    name = task_name

  adapter_paths = peft_checkpoint.parse_adapters(adapters)
  if adapter_paths and not input_file:
    raise UserError('--adapters needs a JSONL prompt file (--input_file) '
                    'whose lines name their "adapter".')
  ckpt = os.fspath(eval_lib.checkpoint_dirs(checkpoint_path)[-1])
  params, step = checkpoint_formats.restore_params_and_step(
      ckpt, eval_lib.abstract_params(model, partitioner, dataset_cfg),
      # With adapters the checkpoint is the base: its peft_ leaves, if the
      # model gin has a method, come from the adapters instead.
      only=(lambda p: not peft_core.is_peft_path(p)) if adapter_paths
      else None)
  converter = model.FEATURE_CONVERTER_CLS(pack=False)
  if adapter_paths:
    outputs = {}
    for name, indices in _group_by_adapter(prompts, adapter_paths,
                                           input_file).items():
      m, p = (peft_checkpoint.with_peft(model, None), params) if name is None \
          else peft_checkpoint.with_adapter(model, params, adapter_paths[name],
                                            ckpt)
      group = _prompt_dataset([prompts[i] for i in indices], input_file,
                              model.input_vocabulary, lengths['inputs'],
                              add_eos)
      got = decode_dataset(m, p, converter(group, lengths),
                           dataset_cfg.batch_size, decoding_config, seed,
                           partitioner)
      outputs.update({indices[j]: v for j, v in got.items()})
      print(f'[instruct.infer] adapter {name or "(none: base model)"}: '
            f'{len(indices)} prompts')
  else:
    outputs = decode_dataset(model, params, converter(examples, lengths),
                             dataset_cfg.batch_size, decoding_config, seed,
                             partitioner)

  if input_file:
    rows = [{**p.fields, 'line': p.line, 'inputs': p.inputs}
            for p in prompts]
  else:
    rows = [_task_row(ex, model) for ex in examples.as_numpy_iterator()]
  vocab = model.output_vocabulary
  tf.io.gfile.makedirs(output_dir)
  path = os.path.join(output_dir, f'{name}-{step}.jsonl')
  with tf.io.gfile.GFile(path, 'w') as f:
    for i, row in enumerate(rows):
      tokens, scores = outputs[i]
      texts = [vocab.decode([int(t) for t in seq]) for seq in tokens]
      row.update(index=i, prediction=texts[0], predictions=texts,
                 scores=[float(s) if math.isfinite(s) else None
                         for s in scores])
      f.write(json.dumps(row, ensure_ascii=False) + '\n')
  print(f'[instruct.infer] wrote {len(rows)} predictions '
        f'({config.method}, {config.num_outputs} per input) to {path}')
  return path


def _group_by_adapter(prompts: Sequence[Prompt], adapter_paths: Dict[str, str],
                      path: str) -> Dict[Optional[str], List[int]]:
  """{adapter name or None: prompt indices}; an unknown name is a UserError."""
  groups: Dict[Optional[str], List[int]] = {}
  for i, p in enumerate(prompts):
    name = p.fields.get('adapter')
    if name is not None and name not in adapter_paths:
      raise UserError(f'{path}:{p.line}: "adapter": {name!r} is not one of '
                      f'--adapters ({", ".join(sorted(adapter_paths))}).')
    groups.setdefault(name, []).append(i)
  return groups


def _task_row(ex, model) -> Dict[str, Any]:
  row = {'inputs': _text(ex, 'inputs', model.input_vocabulary)}
  if 'targets' in ex:
    row['target'] = _text(ex, 'targets', model.output_vocabulary)
  return row


def _text(ex, key, vocab: seqio.Vocabulary) -> str:
  pre = ex.get(f'{key}_pretokenized')
  if pre is not None:
    return pre.decode('utf-8') if isinstance(pre, bytes) else str(pre)
  return vocab.decode([int(t) for t in ex[key]])


# -----------------------------------------------------------------------------
# Command line.
# -----------------------------------------------------------------------------
def main(argv: Sequence[str]) -> None:
  parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
  parser.add_argument('--input_file')
  parser.add_argument('--adapters')
  flags, rest = parser.parse_known_args(list(argv))
  args, bindings = gin_utils.parse_flags(rest, description=__doc__)
  if flags.input_file is not None:
    bindings.append(f'INFER_INPUT_FILE = {flags.input_file!r}')
  if flags.adapters is not None:
    bindings.append(f'infer.adapters = {flags.adapters!r}')
  gin_utils.parse_gin(args.gin_file, bindings, args.gin_search_paths)
  gin_utils.call_configured(infer, REQUIRED_MACROS)  # pylint: disable=no-value-for-parameter


if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(main))
