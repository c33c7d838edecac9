"""What every launcher shares: commands that are printed or run.

A launcher builds a list of `Step`s (an argv and, optionally, a comment that
says why) and hands it to `execute`. With `--dry-run` the commands are printed
one per line, shell-quoted with `shlex.join` so that each line can be pasted
into a terminal as is; otherwise they run one after the other and the first
failure stops the rest with a `UserError` naming the command.
"""

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
from typing import Callable, List, Optional, Sequence, TextIO

from instruct import errors

UserError = errors.UserError

# The project's root (the directory holding instruct/, tasks/, launch/).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GCLOUD_INSTALL_HINT = (
    'gcloud (the Google Cloud CLI) is not on PATH. Install it '
    '(https://cloud.google.com/sdk/docs/install, or `sudo snap install '
    'google-cloud-cli --classic` on Ubuntu), then run `gcloud auth login` and '
    '`gcloud config set project PROJECT`; or pass --dry-run to print the '
    'commands instead of running them.')


@dataclasses.dataclass(frozen=True)
class Step:
  """One command of a launch plan.

  Attributes:
    argv: the program and its arguments (never a shell string).
    comment: printed as `# comment` above the command in dry runs.
    poll_until: if set, the command is re-run (every `poll_seconds`) until
      its stripped standard output equals this value; dry runs print it as a
      comment, since waiting is the user's job there.
    poll_seconds: pause between polls.
    env: extra environment variables for this command only (shown as
      `env K=V ...` in dry runs, so the line stays copy-pasteable).
  """
  argv: Sequence[str]
  comment: str = ''
  poll_until: Optional[str] = None
  poll_seconds: float = 30.0
  env: Optional[Sequence[tuple]] = None

  def shell_line(self) -> str:
    """The command as one copy-pasteable shell line."""
    argv = list(self.argv)
    if self.env:
      argv = ['env'] + [f'{k}={v}' for k, v in self.env] + argv
    return shlex.join(argv)


def model_dir_flag(model_dir: str) -> str:
  """`--gin.MODEL_DIR="..."`: double quotes, which nest with less noise in
  the single-quoted commands that ssh and shlex produce."""
  if any(c in model_dir for c in '"\\\n'):
    raise UserError(f'Model directory {model_dir!r}: quotes, backslashes and '
                    'newlines are not supported in the path.')
  return f'--gin.MODEL_DIR="{model_dir}"'


def format_plan(steps: Sequence[Step]) -> str:
  """Comments and commands, one per line (what --dry-run prints)."""
  lines = []
  for step in steps:
    if step.comment:
      lines.extend(f'# {line}' for line in step.comment.splitlines())
    if step.poll_until is not None:
      lines.append(f'# (repeat until it prints {step.poll_until})')
    lines.append(step.shell_line())
  return '\n'.join(lines)


def command_lines(text: str) -> List[str]:
  """The command lines of a printed plan (comments and blanks left out)."""
  return [l for l in text.splitlines() if l.strip() and not l.startswith('#')]


def require_program(name: str, hint: str) -> str:
  """The full path of `name` on PATH, else a UserError with `hint`."""
  path = shutil.which(name)
  if path is None:
    raise UserError(hint)
  return path


def _run_one(step: Step, out: TextIO,
             run: Callable[..., subprocess.CompletedProcess]) -> None:
  env = None
  if step.env:
    env = dict(os.environ)
    env.update({k: str(v) for k, v in step.env})
  print(f'+ {step.shell_line()}', file=out, flush=True)
  if step.poll_until is None:
    result = run(list(step.argv), env=env)
    if result.returncode:
      raise UserError(f'Command failed with exit status {result.returncode}: '
                      f'{step.shell_line()}')
    return
  import time  # pylint: disable=g-import-not-at-top
  while True:
    result = run(list(step.argv), env=env, capture_output=True, text=True)
    state = (result.stdout or '').strip()
    if result.returncode:
      raise UserError(f'Command failed with exit status {result.returncode}: '
                      f'{step.shell_line()}\n{result.stderr}')
    if state == step.poll_until:
      return
    print(f'  ... {state or "(no output)"}; waiting for {step.poll_until}',
          file=out, flush=True)
    time.sleep(step.poll_seconds)


def execute(steps: Sequence[Step], dry_run: bool,
            required_program: Optional[str] = None,
            install_hint: str = '',
            out: Optional[TextIO] = None,
            run: Callable[..., subprocess.CompletedProcess] = subprocess.run
           ) -> None:
  """Prints the plan (dry run) or runs it step by step.

  Args:
    steps: the plan.
    dry_run: print instead of running.
    required_program: checked on PATH before anything runs (e.g. 'gcloud').
    install_hint: the message when `required_program` is missing.
    out: where to print (default stdout).
    run: `subprocess.run` (replaceable in tests).
  """
  out = out or sys.stdout
  if dry_run:
    print(format_plan(steps), file=out, flush=True)
    return
  if required_program:
    require_program(required_program, install_hint)
  for step in steps:
    _run_one(step, out, run)
