"""Shared pytest setup.

Eight simulated CPU devices (set before JAX is imported), so sharding tests
can build a 4x2 mesh in-process; everything else uses one device explicitly
or the default single-device layout of the code under test. Accidental rank
promotion is an error in all tests.

In-process programs are compiled without backend optimisation (XLA_FLAGS
--xla_backend_optimization_level=0; put another level in XLA_FLAGS to
override): the models are tiny, so compiling is most of a test's time. The
CLI subprocesses (`single_process_env`) compile as users' runs do.

XLA compilations are cached on disk for the session (one temporary
directory, shared with the CLI subprocesses the `e2e` tests start): the same
program compiled by several tests or processes compiles once. Set
JAX_COMPILATION_CACHE_DIR to keep a cache across runs instead.

The tiny models, batches and checkpoints the tests share are built by
`tiny.py`; the session fixtures below save the ones several files read.
"""
import atexit
import os
import shutil
import tempfile

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()
if 'xla_backend_optimization_level' not in os.environ['XLA_FLAGS']:
  # The tests' models are tiny: compiling is most of their time, running
  # them little. Unoptimised CPU code compiles in about half the time.
  os.environ['XLA_FLAGS'] += ' --xla_backend_optimization_level=0'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _XLA_CACHE = tempfile.mkdtemp(prefix='instruct-tests-xla-cache-')
  atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _XLA_CACHE
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')

import jax  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tiny  # pylint: disable=g-import-not-at-top

jax.config.update('jax_numpy_rank_promotion', 'raise')

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO_ROOT), 'shared', 'data')


def single_process_env():
  """Environment for a subprocess that must see one plain CPU device."""
  env = dict(os.environ)
  env.pop('XLA_FLAGS', None)
  env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  return env


@pytest.fixture(scope='session')
def tiny_t5_checkpoint(tmp_path_factory):
  """`checkpoint_3` of the gin tiny T5 (byte vocabulary), random weights.

  Read-only: the eval tests (test_evaluation, test_eval_cli_bench,
  test_robustness) evaluate it instead of each saving their own.
  """
  return tiny.save_random_gin_checkpoint(tmp_path_factory.mktemp('tiny_t5'))
