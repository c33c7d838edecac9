"""Every notebook in colabs/ runs top to bottom on CPU with small settings.

The kernel is this virtual environment's Python (a kernelspec written to a
temporary JUPYTER_PATH), whatever `python3` kernel the machine may have.
"""

import json
import os
import sys

import nbformat
import pytest

from tests.conftest import REPO_ROOT

COLABS = os.path.join(REPO_ROOT, 'colabs')
NOTEBOOKS = ('quickstart.ipynb', 'mixture_explorer.ipynb',
             'evaluation_explorer.ipynb', 'peft_lora.ipynb')
KERNEL = 'instruct-test-venv'


@pytest.fixture(scope='module')
def kernel_env(tmp_path_factory):
  root = tmp_path_factory.mktemp('jupyter')
  spec_dir = root / 'kernels' / KERNEL
  spec_dir.mkdir(parents=True)
  (spec_dir / 'kernel.json').write_text(json.dumps({
      'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f',
               '{connection_file}'],
      'display_name': 'instruct tests', 'language': 'python'}))
  saved = {k: os.environ.get(k) for k in ('JUPYTER_PATH',
                                          'INSTRUCT_NOTEBOOK_SMALL',
                                          'PYTHONPATH')}
  os.environ['JUPYTER_PATH'] = str(root)
  os.environ['INSTRUCT_NOTEBOOK_SMALL'] = '1'
  os.environ['PYTHONPATH'] = REPO_ROOT + os.pathsep + (saved['PYTHONPATH'] or '')
  yield
  for k, v in saved.items():
    if v is None:
      os.environ.pop(k, None)
    else:
      os.environ[k] = v


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_outputs_are_cleared_in_the_repo(name):
  nb = nbformat.read(os.path.join(COLABS, name), as_version=4)
  nbformat.validate(nb)
  for cell in nb.cells:
    if cell.cell_type == 'code':
      assert not cell.outputs and cell.execution_count is None, name
  # The first code cell installs on Colab and is skipped in the repo.
  first = next(c for c in nb.cells if c.cell_type == 'code')
  assert 'google.colab' in first.source


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, kernel_env, tmp_path):
  import nbclient  # pylint: disable=g-import-not-at-top
  del kernel_env
  nb = nbformat.read(os.path.join(COLABS, name), as_version=4)
  # Each test gets its own model directory.
  for cell in nb.cells:
    if cell.cell_type == 'code':
      cell.source = cell.source.replace('/tmp/instruct_', f'{tmp_path}/')
  client = nbclient.NotebookClient(
      nb, timeout=600, kernel_name=KERNEL,
      resources={'metadata': {'path': COLABS}})
  client.execute()  # Raises CellExecutionError, with the cell, on failure.
  text = '\n'.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code'
                   for o in c.outputs)
  if name == 'quickstart.ipynb':
    assert 'final step: 2' in text
    assert any('image/png' in o.get('data', {}) for c in nb.cells
               if c.cell_type == 'code' for o in c.outputs)
  elif name == 'mixture_explorer.ipynb':
    assert 'leaf tasks' in text and '=== builtin_sentiment_zs_opt' in text
  else:
    assert "'Is 12 even or odd?' ->" in text
