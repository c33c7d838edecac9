r"""Converts checkpoints between our layout, T5X, Hugging Face and GGUF.

    python -m instruct.convert --from hf|t5x|gguf|ours --to hf|ours|t5x SRC DST

  * `ours`: our Orbax checkpoint in T5X's layout (`DST/checkpoint_<step>/`);
  * `t5x`: reads T5X's msgpack + TensorStore layout or its Orbax layout; as a
    target, writes the msgpack + TensorStore layout to DST (a
    `checkpoint_<step>` directory);
  * `hf`: a Hugging Face directory (safetensors, sharded above
    --max_shard_size, config.json, tokenizer files);
  * `gguf`: a llama.cpp file (Llama architecture; read only).

The model's size comes from the source when it records it (HF config.json,
GGUF metadata, T5 parameter shapes). Give the model gin file to check the
source against it, to name the vocabulary whose tokenizer files an HF export
carries, or to export a Llama tree that records no head count:

    python -m instruct.convert --from ours --to hf /tmp/run /tmp/run_hf \
      --gin_file=models/t5_1_1/tiny.gin

It prints the mapping it applied (source tensor -> our path, shape, dtype)
and refuses, in one line naming the tensor or file, mismatched shapes,
missing or unknown tensors, another architecture or size, corrupt files.
"""

import argparse
import os
import sys
from typing import Any, List, Optional, Sequence

import numpy as np

from instruct import checkpoint_formats as formats
from instruct import configurables
from instruct import gin_utils
from instruct.errors import UserError

_FORMATS_FROM = ('hf', 't5x', 'gguf', 'ours')
_FORMATS_TO = ('hf', 'ours', 't5x')


def _parse_size(text: str) -> int:
  units = {'KB': 10 ** 3, 'MB': 10 ** 6, 'GB': 10 ** 9, 'KIB': 2 ** 10,
           'MIB': 2 ** 20, 'GIB': 2 ** 30, 'B': 1}
  t = text.strip().upper()
  for unit, mult in units.items():
    if t.endswith(unit) and t[:-len(unit)].strip().replace('.', '').isdigit():
      return int(float(t[:-len(unit)]) * mult)
  if t.isdigit():
    return int(t)
  raise UserError(f'--max_shard_size={text!r}: expected bytes or e.g. "2GB".')


def print_mapping(entries: Sequence[formats.MappingEntry], out=None) -> None:
  out = out or sys.stdout
  width = max((len(e.source) for e in entries), default=0)
  for e in entries:
    note = f'  ({e.note})' if e.note else ''
    print(f'  {e.source:<{width}} -> {"/".join(e.target)}  '
          f'{tuple(e.shape)}  {e.dtype}{note}', file=out)


def _config_for_export(imported: formats.Imported, config: Any):
  """The config an HF export needs: from gin, the source, or tree shapes."""
  if config is not None:
    return config
  if imported.config is not None:
    return imported.config
  return formats.config_from_params(imported.params)


def convert(src: str, dst: str, src_format: str, dst_format: str, *,
            config: Any = None, vocabulary: Any = None,
            max_shard_bytes: int = formats.DEFAULT_MAX_SHARD_BYTES,
            out=None) -> formats.Imported:
  """Reads `src`, writes `dst`; returns what was read (with its mapping)."""
  out = out or sys.stdout
  detected, _ = formats.detect_format(src)
  accepted = {'hf': ('hf',), 'gguf': ('gguf',), 't5x': ('t5x', 'orbax'),
              'ours': ('orbax', 't5x')}[src_format]
  if detected not in accepted:
    raise UserError(f'{src} looks like a {detected} checkpoint, not '
                    f'--from={src_format}.')
  imported = formats.load(src, config)
  print(f'[instruct.convert] read {src} ({imported.format}, '
        f'{imported.architecture or "unknown architecture"}, step '
        f'{imported.step}); mapping applied:', file=out)
  print_mapping(imported.mapping, out)
  if dst_format == 'hf':
    config = _config_for_export(imported, config)
    files = formats.save_hf(
        imported.params, config, dst, vocabulary=vocabulary,
        tokenizer_json=None if vocabulary else imported.tokenizer_json,
        tokenizer_meta=imported.tokenizer_meta,
        max_shard_bytes=max_shard_bytes)
    if imported.format == 'hf' and vocabulary is None:
      files += formats.copy_tokenizer_files(imported.source_dir, dst)
    if not any(f.startswith(('tokenizer', 'spiece')) for f in files):
      print('[instruct.convert] note: no tokenizer files written (pass the '
            'model gin file to export its VOCABULARY).', file=out)
    print(f'[instruct.convert] wrote {dst}: {", ".join(sorted(set(files)))}',
          file=out)
  else:
    state = imported.state
    if state is None:
      state = {'target': imported.params,
               'state': {'step': np.int32(imported.step),
                         'param_states': {}}}
    if dst_format == 'ours':
      path = formats.save_orbax(state, dst, imported.step)
    else:
      path = dst
      if os.path.exists(os.path.join(dst, 'checkpoint')):
        raise UserError(f'{dst} already holds a T5X checkpoint; refusing to '
                        'overwrite it.')
      formats.save_t5x_legacy(state, dst)
    print(f'[instruct.convert] wrote {path}', file=out)
  return imported


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(
      prog='python -m instruct.convert', description=__doc__.split('\n')[0])
  parser.add_argument('--from', dest='src_format', required=True,
                      choices=_FORMATS_FROM)
  parser.add_argument('--to', dest='dst_format', required=True,
                      choices=_FORMATS_TO)
  parser.add_argument('--max_shard_size', default='2GiB',
                      help='largest safetensors shard for --to=hf.')
  parser.add_argument('src')
  parser.add_argument('dst')
  gin_argv = [a for a in argv if a.startswith('--gin')]
  other = [a for a in argv if not a.startswith('--gin')]
  try:
    args = parser.parse_args(other)
  except SystemExit as e:
    if e.code:
      raise UserError('usage: python -m instruct.convert --from '
                      'hf|t5x|gguf|ours --to hf|ours|t5x SRC DST '
                      '[--gin_file=MODEL.gin]') from None
    raise
  gin_args, bindings = gin_utils.parse_flags(gin_argv)
  config = vocabulary = None
  if gin_args.gin_file:
    config, vocabulary = configurables.model_from_gin(
        gin_args.gin_file, bindings, gin_args.gin_search_paths)
  convert(args.src, args.dst, args.src_format, args.dst_format,
          config=config, vocabulary=vocabulary,
          max_shard_bytes=_parse_size(args.max_shard_size))


if __name__ == '__main__':
  sys.exit(gin_utils.run_main(main))
