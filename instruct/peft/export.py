r"""Exports a trained adapter in Hugging Face `peft`'s format.

    python -m instruct.peft.export --checkpoint=/tmp/lora/checkpoint_200 \
      --gin_file=models/llama/tiny.gin --gin_file=peft/lora.gin \
      --base_hf_dir=/tmp/base_hf --out=/tmp/lora_peft [--write_base]

`--checkpoint` is one of our checkpoints holding the adapter (`peft_`
leaves), or an adapter directory of `instruct.peft.checkpoint.save_adapter`
(its base is then read from `--base_hf_dir`). The gin files name the model
and the PEFT method it was trained with. `--write_base` first exports the
base (the checkpoint's frozen parameters) to `--base_hf_dir`, which becomes
`base_model_name_or_path`; otherwise that directory must already hold the
same base (checked: architecture, sizes and weights). Then

    PeftModel.from_pretrained(AutoModel...from_pretrained(base), out)

loads the adapter.
"""

import argparse
import dataclasses
import os
import sys
from typing import List, Optional

from instruct import checkpoint_formats as formats
from instruct import configurables
from instruct import gin_utils
from instruct.errors import UserError
from instruct.peft import core
from instruct.peft import hf_peft


def export(checkpoint: str, config, base_hf_dir: str, out_dir: str, *,
           vocabulary=None, write_base: bool = False) -> List[str]:
  """Reads the adapter at `checkpoint` and writes it to `out_dir`."""
  if config.peft is None:
    raise UserError('The gin files set no PEFT method (include one of '
                    'gin_configs/peft/*.gin, the one the adapter was trained '
                    'with).')
  base_config = dataclasses.replace(config, peft=None)
  if os.path.exists(os.path.join(checkpoint, 'adapter.json')):
    from instruct.peft import checkpoint as adapter_ckpt  # pylint: disable=g-import-not-at-top
    base = formats.load_hf(base_hf_dir, base_config).params
    params = adapter_ckpt.load_adapter(checkpoint, base,
                                       base_path=base_hf_dir)
  else:
    params = formats.load(checkpoint).params
  if not core.adapter_params(params):
    raise UserError(f'{checkpoint} holds no adapter (no peft_ parameters).')
  if write_base:
    formats.save_hf(core.base_params(params), base_config, base_hf_dir,
                    vocabulary=vocabulary)
  return hf_peft.export_adapter(params, config, out_dir,
                                base_model_name_or_path=base_hf_dir)


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(prog='python -m instruct.peft.export',
                                   description=__doc__.split('\n')[0])
  parser.add_argument('--checkpoint', required=True)
  parser.add_argument('--base_hf_dir', required=True)
  parser.add_argument('--out', required=True)
  parser.add_argument('--write_base', action='store_true')
  argv = list(argv if argv is not None else sys.argv[1:])
  gin_argv = [a for a in argv if a.startswith('--gin')]
  args = parser.parse_args([a for a in argv if not a.startswith('--gin')])
  gin_args, bindings = gin_utils.parse_flags(gin_argv)
  if not gin_args.gin_file:
    raise UserError('Pass the model and PEFT gin files, e.g. '
                    '--gin_file=models/llama/tiny.gin '
                    '--gin_file=peft/lora.gin.')
  config, vocabulary = configurables.model_from_gin(
      gin_args.gin_file, bindings, gin_args.gin_search_paths)
  files = export(args.checkpoint, config, args.base_hf_dir, args.out,
                 vocabulary=vocabulary, write_base=args.write_base)
  print(f'[instruct.peft.export] wrote {args.out}: {", ".join(files)} '
        f'(base: {args.base_hf_dir})')


if __name__ == '__main__':
  sys.exit(gin_utils.run_main(main))
