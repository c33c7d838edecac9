"""The quickstart end to end (slow: `make test-slow`, about 10 minutes)."""

import subprocess
import sys

import pytest

from conftest import REPO_ROOT, single_process_env


@pytest.mark.slow
@pytest.mark.e2e
def test_quickstart_tuned_model_beats_step_0_on_held_out_templates(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'instruct.demo',
       '--gin_file=gin_configs/quickstart.gin',
       f"--gin.MODEL_DIR='{tmp_path / 'quickstart'}'"],
      cwd=REPO_ROOT, env=single_process_env(), capture_output=True, text=True,
      timeout=1800)
  assert out.returncode == 0, out.stderr[-3000:]
  assert '[demo] OK' in out.stdout
  assert (tmp_path / 'quickstart' / 'demo_report.md').exists()
  assert 'Seen vs unseen' in out.stdout
  with open(tmp_path / 'quickstart' / 'base_vs_tuned.png', 'rb') as f:
    assert f.read(4) == b'\x89PNG'
