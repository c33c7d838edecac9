"""Every ablation gin file parses and names registered mixtures only."""

import glob
import os
import re

import gin
import pytest
import seqio

from instruct import gin_utils
from instruct import input_pipeline
from instruct import train  # pylint: disable=unused-import
from launch import sweep
from tests.conftest import REPO_ROOT

ABLATIONS = os.path.join(REPO_ROOT, 'gin_configs', 'ablations')
STUDIES = sorted(os.path.basename(p)[:-len('.yaml')]
                 for p in glob.glob(os.path.join(ABLATIONS, '*.yaml')))
MIXTURE_NAME = re.compile(
    r'(?<![\w./%<])((?:builtin_instructions|ablation|flan2021_heldout)'
    r'(?:_\w*)?)(?![\w.])')


def test_the_studies_from_the_papers_are_there():
  assert set(STUDIES) >= {'num_clusters', 'held_out_clusters', 'templates',
                          'zero_vs_few_shot', 'cot', 'mixture_weights'}
  for study in STUDIES:
    assert os.path.exists(os.path.join(ABLATIONS, f'{study}.gin'))


@pytest.mark.parametrize('study', STUDIES)
def test_every_run_parses_and_its_mixtures_are_registered(study):
  _, s = sweep.build([
      '--sweep-dir=/tmp/unused',
      f'--grid-file={os.path.join(ABLATIONS, study + ".yaml")}'])
  assert len(s.runs) >= 2
  s.validate()  # Parses every run; unknown names are UserErrors.
  # And the names actually bound are registered (checked independently).
  for run in s.runs:
    args, bindings = gin_utils.parse_flags(s.train_args(run))
    gin.clear_config()
    try:
      gin_utils.parse_gin(args.gin_file, bindings)
      input_pipeline.import_task_modules(
          gin.query_parameter('MIXTURE_OR_TASK_MODULE/macro.value'))
      for macro in ('MIXTURE_OR_TASK_NAME', 'EVAL_MIXTURE_OR_TASK_NAME'):
        name = gin.query_parameter(f'{macro}/macro.value')
        assert name in seqio.MixtureRegistry.names(), (study, run, name)
    finally:
      gin.clear_config()


@pytest.mark.parametrize('study', STUDIES)
def test_every_mixture_named_in_the_files_is_registered(study):
  import launch.ablation_mixtures  # pylint: disable=g-import-not-at-top,unused-import
  import tasks  # pylint: disable=g-import-not-at-top,unused-import
  text = ''
  for ext in ('gin', 'yaml'):
    with open(os.path.join(ABLATIONS, f'{study}.{ext}')) as f:
      text += f.read()
  # Every mixture-like name, in code and comments alike; name patterns such
  # as `builtin_instructions_no_<cluster>` end in '_' and are left out.
  names = {n for n in MIXTURE_NAME.findall(text) if not n.endswith('_')}
  assert names, study
  unknown = sorted(n for n in names if n not in seqio.MixtureRegistry.names())
  assert not unknown, f'{study}: {unknown}'


def test_ablation_mixtures_have_what_they_say():
  import launch.ablation_mixtures as am  # pylint: disable=g-import-not-at-top
  from instruct.data import registry  # pylint: disable=g-import-not-at-top
  sizes = []
  for k in am.CLUSTER_COUNTS:
    mix = seqio.get_mixture_or_task(f'ablation_clusters_{k}_no_nli')
    clusters = {registry.task_info(t.name).cluster for t in mix.tasks}
    assert clusters == set(am.CLUSTER_ORDER[:k])
    assert 'nli' not in clusters
    sizes.append(len(mix.tasks))
  assert sizes == sorted(sizes)
  mix = seqio.get_mixture_or_task('ablation_fs_share_25')
  rates = {t.name: mix.get_rate(t) for t in mix.tasks}
  fs = sum(r for n, r in rates.items() if '_fs_' in n or '_xs_' in n)
  assert fs / sum(rates.values()) == pytest.approx(0.25)
  mix = seqio.get_mixture_or_task('ablation_with_cot')
  rates = {t.name: mix.get_rate(t) for t in mix.tasks}
  cot = sum(r for n, r in rates.items() if n.endswith('_cot'))
  assert cot / sum(rates.values()) == pytest.approx(am.COT_SHARE)
  mix = seqio.get_mixture_or_task('ablation_cluster_balanced')
  per_cluster = {}
  for t in mix.tasks:
    c = registry.task_info(t.name).cluster
    per_cluster[c] = per_cluster.get(c, 0.0) + mix.get_rate(t)
  shares = list(per_cluster.values())
  assert len(shares) == 14
  assert max(shares) == pytest.approx(min(shares))
