"""The layering of instruct/ (docs/design.md) holds: import contracts and no cycles.

The contracts live in `.importlinter` at the repository root and are checked
with import-linter (`lint-imports`), the same command a developer runs.
"""
import os
import shutil
import subprocess
import sys

import grimp
import pytest

from conftest import REPO_ROOT

CONFIG = os.path.join(REPO_ROOT, '.importlinter')


def _lint_imports(root, env=None):
  exe = os.path.join(os.path.dirname(sys.executable), 'lint-imports')
  env = dict(env or os.environ)
  env['PYTHONPATH'] = root + os.pathsep + env.get('PYTHONPATH', '')
  return subprocess.run([exe, '--config', os.path.join(root, '.importlinter'),
                         '--no-cache'],
                        cwd=root, env=env, capture_output=True, text=True,
                        timeout=300)


def _cycles(graph):
  """Strongly connected components (more than one module) of direct imports."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in graph.find_modules_directly_imported_by(v):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        comp.append(w)
        if w == v:
          break
      if len(comp) > 1:
        found.append(sorted(comp))

  old = sys.getrecursionlimit()
  sys.setrecursionlimit(max(old, 10000))
  try:
    for m in sorted(graph.modules):
      if m not in index:
        visit(m)
  finally:
    sys.setrecursionlimit(old)
  return found


def test_import_contracts_hold():
  result = _lint_imports(REPO_ROOT)
  assert result.returncode == 0, result.stdout + result.stderr
  assert ' 0 broken' in result.stdout, result.stdout


def test_no_module_imports_itself_through_a_cycle():
  graph = grimp.build_graph('instruct', 'tasks')
  assert _cycles(graph) == []


@pytest.mark.parametrize('culprit,extra_import,expected', [
    # A library module reaching up into an entry point.
    ('instruct/evaluation.py', 'from instruct import eval as _e',
     'instruct.evaluation is not allowed to import instruct.eval'),
    # Entry points importing each other.
    ('instruct/infer.py', 'from instruct import eval as _e',
     'instruct.infer is not allowed to import instruct.eval'),
    # The trainer learning about PEFT.
    ('instruct/trainer.py', 'from instruct.peft import core as _c',
     'instruct.trainer is not allowed to import instruct.peft'),
    # Models reaching up into the checkpoint layer.
    ('instruct/models/llama.py', 'from instruct import checkpoints as _c',
     'instruct.models.llama -> instruct.checkpoints'),
    # A new cycle between two data modules (registry imports preprocessors).
    ('instruct/data/preprocessors.py',
     'from instruct.data import registry as _r',
     'No cycles are allowed in instruct.data'),
])
def test_contracts_fail_on_a_new_violation(tmp_path, culprit, extra_import,
                                           expected):
  """A copy of the tree with one bad import added fails the check, naming it."""
  root = str(tmp_path / 'repo')
  os.makedirs(root)
  for name in ('instruct', 'tasks'):
    shutil.copytree(os.path.join(REPO_ROOT, name), os.path.join(root, name),
                    ignore=shutil.ignore_patterns('__pycache__'))
  shutil.copy(CONFIG, os.path.join(root, '.importlinter'))
  with open(os.path.join(root, culprit), 'a') as f:
    f.write('\n' + extra_import + '  # added by the test\n')
  result = _lint_imports(root)
  assert result.returncode != 0, result.stdout
  assert expected in ' '.join(result.stdout.split()), result.stdout
