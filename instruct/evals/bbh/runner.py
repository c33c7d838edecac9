r"""BIG-Bench Hard runner: few-shot accuracy of a model on BBH tasks.

    python -m instruct.evals.bbh --model=smollm2 --bbh_dir=../shared/data/bbh \
        --max_examples=20 --mode=both --output=/tmp/bbh.json

`run` registers the BBH tasks of a directory (`instruct.evals.bbh`), decodes
every test prompt greedily through `instruct.predict.Predictor` (one
predictor for the whole run, so each prompt width compiles once per mode)
and scores the extracted answers; `main` is the command line
(`instruct/evals/bbh/__main__.py`).
"""

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Mapping, Optional, Sequence

import gin
import jax
import jax.numpy as jnp
import numpy as np
import seqio

from instruct import decoding
from instruct import predict
from instruct import vocabularies
from instruct.errors import UserError
from instruct.evals import bbh
from instruct.models import decoder_only
from instruct.models import gguf
from instruct.models import llama

DEFAULT_DECODE_LENGTHS = {'answer_only': 48, 'cot': 256}


def _round_up(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


def evaluate_task(model, params, vocabulary: seqio.Vocabulary, name: str,
                  max_examples: Optional[int], batch_size: int,
                  max_decode_length: int,
                  predictor: Optional[predict.Predictor] = None
                  ) -> Dict[str, Any]:
  """Greedy predictions and accuracy of one registered BBH task.

  Decoding goes through `predictor` (default: a new unsharded one for
  `model`); pass one predictor for every task so that each prompt width
  compiles once.
  """
  predictor = predictor or predict.Predictor(model)
  task = seqio.get_mixture_or_task(name)
  ds = task.get_dataset(None, split=bbh.SPLIT, shuffle=False)
  if max_examples:
    ds = ds.take(max_examples)
  examples = list(ds.as_numpy_iterator())
  config = decoding.DecodingConfig(method='greedy',
                                   max_decode_length=max_decode_length)
  outputs = []
  for start in range(0, len(examples), batch_size):
    chunk = examples[start:start + batch_size]
    # Prompts padded to a multiple of 64 tokens (the predictor pads the rows
    # to a full batch) to bound the number of compiled shapes.
    width = _round_up(max(len(e['inputs']) for e in chunk), 64)
    inputs = np.zeros((len(chunk), width), np.int32)
    for i, e in enumerate(chunk):
      inputs[i, :len(e['inputs'])] = e['inputs']
    batch = {'inputs': inputs,
             'decoder_input_tokens': np.zeros((len(chunk), 1), np.int32)}
    tokens, _ = predictor.predict_batch(params, batch, config=config,
                                        rows=batch_size)
    for row in tokens[:, 0]:
      ids = row.tolist()
      if vocabulary.eos_id in ids:
        ids = ids[:ids.index(vocabulary.eos_id)]
      outputs.append(vocabulary.decode([i for i in ids if i != 0]))
  targets = [task.postprocess_fn(e['targets_pretokenized'], example=e,
                                 is_target=True) for e in examples]
  answers = [task.postprocess_fn(o, example=e, is_target=False)
             for o, e in zip(outputs, examples)]
  scores = {}
  for fn in task.metric_fns:
    scores.update(fn(targets, answers))
  return {
      'task': bbh.REGISTERED[name][0], 'mode': bbh.REGISTERED[name][1],
      'num_examples': len(examples), 'accuracy': scores['accuracy'],
      'predictions': [
          {'idx': int(e['idx']), 'target': t, 'answer': a, 'output': o,
           'correct': a == t}
          for e, t, a, o in zip(examples, targets, answers, outputs)],
  }


def load_smollm2():
  """(model, params, vocabulary) of SmolLM2-135M-Instruct from its GGUF file."""
  path = gguf.smollm2_gguf_path()
  loaded = gguf.load_gguf(path)
  vocabulary = vocabularies.HuggingFaceVocabulary(path)
  model = decoder_only.DecoderOnlyModel(llama.LlamaTransformer(loaded.config),
                                        vocabulary)
  return model, jax.tree.map(jnp.asarray, loaded.params), vocabulary


MODELS = {'smollm2': load_smollm2}


def markdown_table(results: Sequence[Mapping[str, Any]],
                   modes: Sequence[str]) -> str:
  """Per-task accuracy, one column per mode, plus the unweighted mean."""
  by_task: Dict[str, Dict[str, Mapping[str, Any]]] = {}
  for r in results:
    by_task.setdefault(r['task'], {})[r['mode']] = r
  header = '| task | examples | ' + ' | '.join(
      f'{m} accuracy (%)' for m in modes) + ' |'
  lines = [header, '|' + '---|' * (2 + len(modes))]
  for task, row in by_task.items():
    n = next(iter(row.values()))['num_examples']
    cells = [f'{row[m]["accuracy"]:.1f}' if m in row else '-' for m in modes]
    lines.append(f'| {task} | {n} | ' + ' | '.join(cells) + ' |')
  means = []
  for m in modes:
    accs = [row[m]['accuracy'] for row in by_task.values() if m in row]
    means.append(f'{np.mean(accs):.1f}' if accs else '-')
  lines.append('| **mean** | | ' + ' | '.join(means) + ' |')
  return '\n'.join(lines)


def run(bbh_path: str, model_name: str = 'smollm2',
        tasks: Optional[Sequence[str]] = None,
        modes: Sequence[str] = bbh.MODES, max_examples: Optional[int] = None,
        batch_size: int = 8,
        decode_lengths: Optional[Mapping[str, int]] = None,
        log=print) -> Dict[str, Any]:
  """Evaluates a model on BBH; returns {'table', 'results', ...}."""
  if model_name not in MODELS:
    raise UserError(f'--model={model_name!r}: expected one of '
                    f'{", ".join(sorted(MODELS))}.')
  for mode in modes:
    if mode not in bbh.MODES:
      raise UserError(f'--mode: {mode!r} is not one of '
                      f'{", ".join(bbh.MODES)}.')
  available = bbh.task_files(bbh_path)
  tasks = list(tasks) if tasks else list(available)
  unknown = [t for t in tasks if t not in available]
  if unknown:
    raise UserError(f'--tasks: {", ".join(unknown)} not in {bbh_path} '
                    f'(available: {", ".join(available)}).')
  lengths = dict(DEFAULT_DECODE_LENGTHS, **(decode_lengths or {}))
  bbh.register_bbh_dir(bbh_path)
  model, params, vocabulary = MODELS[model_name]()
  gin_key = 'instruct.data.registry.default_vocabulary.vocabulary'
  with gin.unlock_config():
    gin.bind_parameter(gin_key, vocabulary)
  predictor = predict.Predictor(model)
  results = []
  try:
    for task in tasks:
      for mode in modes:
        start = time.time()
        result = evaluate_task(model, params, vocabulary,
                               bbh.task_name(task, mode), max_examples,
                               batch_size, lengths[mode], predictor)
        log(f'{task} [{mode}]: {result["accuracy"]:.1f}% of '
            f'{result["num_examples"]} ({time.time() - start:.0f} s)')
        results.append(result)
  finally:
    with gin.unlock_config():
      gin.bind_parameter(gin_key, None)
  return {'model': model_name, 'bbh_dir': os.path.abspath(bbh_path),
          'modes': list(modes), 'max_examples': max_examples,
          'decode_lengths': {m: lengths[m] for m in modes},
          'table': markdown_table(results, modes), 'results': results}


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m instruct.evals.bbh',
      description='Few-shot BIG-Bench Hard accuracy of a model, answer-only '
                  'and chain-of-thought.')
  parser.add_argument('--model', default='smollm2', help='smollm2')
  parser.add_argument('--bbh_dir', default=None,
                      help=f'BBH directory (default: ${bbh.ENV_VAR}).')
  parser.add_argument('--tasks', default='',
                      help='comma-separated BBH tasks (default: all).')
  parser.add_argument('--mode', default='both',
                      choices=('answer_only', 'cot', 'both'))
  parser.add_argument('--max_examples', type=int, default=None,
                      help='first N examples of each task.')
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--max_answer_tokens', type=int,
                      default=DEFAULT_DECODE_LENGTHS['answer_only'])
  parser.add_argument('--max_cot_tokens', type=int,
                      default=DEFAULT_DECODE_LENGTHS['cot'])
  parser.add_argument('--output', default='bbh_results.json',
                      help='JSON file for the metrics and predictions.')
  args = parser.parse_args(argv)
  try:
    path = args.bbh_dir or bbh.configured_dir()
    if not path:
      raise UserError('No BBH directory: pass --bbh_dir or set '
                      f'${bbh.ENV_VAR}.')
    if args.max_examples is not None and args.max_examples < 1:
      raise UserError('--max_examples must be a positive number.')
    if args.batch_size < 1:
      raise UserError('--batch_size must be a positive number.')
    modes = bbh.MODES if args.mode == 'both' else (args.mode,)
    tasks = [t for t in args.tasks.split(',') if t]
    out = run(path, args.model, tasks, modes, args.max_examples,
              args.batch_size, {'answer_only': args.max_answer_tokens,
                                'cot': args.max_cot_tokens},
              log=lambda s: print(s, file=sys.stderr, flush=True))
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump(out, f, indent=1)
  print(out['table'])
  print(f'\nWrote {args.output}', file=sys.stderr)
  return 0

