"""Command lines and gin, the T5X way.

    python -m instruct.train \
      --gin_search_paths=gin_configs \
      --gin_file=models/t5_1_1/tiny.gin --gin_file=runs/finetune.gin \
      --gin.MODEL_DIR="'/tmp/run'" --gin.TRAIN_STEPS=100

`--gin.NAME=VALUE` becomes the binding `NAME = VALUE`; `--gin_bindings` takes
bindings verbatim. Configuration mistakes end in a `UserError` with one clear
message naming the file, flag or macro at fault.
"""

import argparse
import difflib
import logging
import os
from typing import List, Optional, Sequence, Tuple

import gin

from instruct import errors

# The project's gin files, so `--gin_file=runs/finetune.gin` works anywhere.
PACKAGE_GIN_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'gin_configs')


UserError = errors.UserError


def parse_flags(argv: Sequence[str],
                description: str = '') -> Tuple[argparse.Namespace, List[str]]:
  """Parses gin flags; returns (args, bindings) with `--gin.X=Y` rewritten."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument('--gin_file', action='append', default=[],
                      help='gin file(s) to parse, in order (repeatable).')
  parser.add_argument('--gin_bindings', action='append', default=[],
                      help='gin binding(s), e.g. "TRAIN_STEPS = 100".')
  parser.add_argument('--gin_search_paths', action='append', default=[],
                      help='comma-separated directories to look for gin '
                      'files and includes in.')
  bindings = []
  rest = []
  for arg in argv:
    if arg.startswith('--gin.'):
      name, sep, value = arg[len('--gin.'):].partition('=')
      if not sep or not name:
        raise UserError(f'Flag {arg!r} must look like --gin.NAME=VALUE.')
      bindings.append(f'{name} = {value}')
    else:
      rest.append(arg)
  args, unknown = parser.parse_known_args(rest)
  if unknown:
    raise UserError(f'Unknown flag(s): {" ".join(unknown)}. Expected '
                    '--gin_file, --gin_search_paths, --gin_bindings or '
                    '--gin.NAME=VALUE.')
  return args, list(args.gin_bindings) + bindings


class _QuietPathProbes(logging.Filter):
  """Hides gin's 'Path not found' log lines for search-path probes."""

  def filter(self, record):
    return not str(record.getMessage()).startswith('Path not found')


def parse_gin(gin_files: Sequence[str], bindings: Sequence[str],
              search_paths: Sequence[str] = ()) -> None:
  """Parses gin files and bindings, turning gin's errors into UserErrors."""
  paths = [p for entry in search_paths for p in entry.split(',') if p]
  for path in [*paths, PACKAGE_GIN_DIR]:
    gin.add_config_file_search_path(path)
  if not gin_files:
    raise UserError('No --gin_file given; e.g. '
                    '--gin_file=gin_configs/quickstart.gin')
  files = [f for entry in gin_files for f in entry.split(',') if f]
  quiet = _QuietPathProbes()
  logging.getLogger().addFilter(quiet)
  try:
    _parse(files, bindings, paths)
  finally:
    logging.getLogger().removeFilter(quiet)


def _parse(files, bindings, paths):
  for f in files:
    try:
      gin.parse_config_file(f)
    except IOError as e:
      raise UserError(f'--gin_file={f}: cannot read it ({e}). Searched: '
                      f'the working directory, {paths or "no "}'
                      f'--gin_search_paths, and {PACKAGE_GIN_DIR}.') from None
    except (ValueError, SyntaxError, ImportError) as e:
      raise UserError(f'--gin_file={f}: {_first_line(e)}') from None
  defined = defined_macros()
  for b in bindings:
    name = b.partition('=')[0].strip()
    if files and _is_macro(name) and name not in defined:
      close = difflib.get_close_matches(name, sorted(defined), n=3)
      hint = f' (did you mean {" or ".join(close)}?)' if close else ''
      raise UserError(
          f'--gin.{name}=... names nothing: no gin file defines the macro '
          f'{name}{hint}. Gin files: {", ".join(files)}.')
    try:
      gin.parse_config(b)
    except (ValueError, SyntaxError, ImportError) as e:
      raise UserError(f'gin binding {b!r}: {_first_line(e)}') from None


def defined_macros() -> List[str]:
  """Names of the macros the parsed gin files define."""
  config = getattr(gin.config, '_CONFIG', {})
  return sorted(scope for scope, selector in config if selector == 'gin.macro')


def _is_macro(name: str) -> bool:
  return bool(name) and '.' not in name and '/' not in name


def check_required_macros(names: Sequence[str]) -> None:
  """Fails naming each macro that is still `%gin.REQUIRED`."""
  missing = []
  for name in names:
    try:
      value = gin.query_parameter(f'{name}/macro.value')
    except ValueError:
      continue
    if value is gin.REQUIRED or repr(value) == '%gin.REQUIRED':
      missing.append(name)
  if missing:
    hints = ' '.join(f'--gin.{m}=...' for m in missing)
    raise UserError(f'Required macro(s) not set: {", ".join(missing)}. Set '
                    f'them in a gin file or on the command line: {hints}')


def call_configured(fn, required_macros: Sequence[str] = ()):
  """Calls a gin-configured function; missing bindings become UserErrors."""
  check_required_macros(required_macros)
  try:
    return fn()
  except RuntimeError as e:
    if 'Required bindings' in str(e) or 'gin.REQUIRED' in str(e):
      raise UserError(_first_line(e)) from None
    raise


def _first_line(e: BaseException) -> str:
  lines = [l for l in str(e).splitlines() if l.strip()]
  return lines[0] if lines else type(e).__name__


def run_main(fn, argv: Optional[Sequence[str]] = None) -> int:
  """Runs `fn(argv)`; a UserError prints one line and exits with status 2."""
  import sys  # pylint: disable=g-import-not-at-top
  try:
    fn(sys.argv[1:] if argv is None else argv)
  except UserError as e:
    print(f'error: {_first_line(e)}', file=sys.stderr)
    return 2
  except errors.TrainingStopped as e:
    print(f'error: {_first_line(e)}', file=sys.stderr)
    return 1
  return 0
