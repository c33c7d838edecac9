"""Evaluation plots (PNG) and the held-out (seen vs unseen cluster) report."""

import matplotlib.image
import pytest

from instruct import evaluation
from instruct.errors import UserError
from instruct.evals import heldout
from instruct.evals import plots
import tasks.builtin  # pylint: disable=unused-import  # Registers mixtures.

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'

# Built-in tasks: uppercase/acronym are string_manipulation, parity and
# arithmetic are arithmetic, sentiment is sentiment.
BASE = {'builtin_uppercase': {'exact_match': 10.0},
        'builtin_acronym_unseen_templates': {'exact_match': 20.0},
        'builtin_parity_options': {'accuracy': 50.0},
        'builtin_arithmetic': {'exact_match': 0.0, 'other': 99.0},
        'builtin_sentiment_unseen_templates': {'exact_match': 30.0}}
TUNED = {'builtin_uppercase': {'exact_match': 90.0},
         'builtin_acronym_unseen_templates': {'exact_match': 70.0},
         'builtin_parity_options': {'accuracy': 80.0},
         'builtin_arithmetic': {'exact_match': 40.0, 'other': 1.0},
         'builtin_sentiment_unseen_templates': {'exact_match': 35.0}}


def _check_png(path, min_bytes=5_000):
  data = open(path, 'rb').read()
  assert data[:8] == PNG_MAGIC
  assert len(data) > min_bytes
  img = matplotlib.image.imread(path)
  assert img.shape[0] >= 300 and img.shape[1] >= 500
  assert img.std() > 0.01  # Not a blank canvas.


def test_grouped_scores_by_cluster_and_task():
  by_cluster = plots.grouped_scores(TUNED, 'cluster')
  assert by_cluster == {'arithmetic': 60.0, 'sentiment': 35.0,
                        'string_manipulation': 80.0}
  assert plots.grouped_scores(TUNED, 'task')['builtin_arithmetic'] == 40.0
  assert plots.grouped_scores(TUNED, 'task', metric='other')[
      'builtin_arithmetic'] == 1.0


def test_bars_and_steps_pngs_from_written_results(tmp_path):
  base_dir, run_dir = tmp_path / 'base', tmp_path / 'run'
  evaluation.write_results(str(base_dir), 0, BASE)
  for step, scale in ((0, 0.0), (100, 0.5), (200, 1.0)):
    evaluation.write_results(str(run_dir), step, {
        t: {k: BASE[t][k] + scale * (v - BASE[t][k]) for k, v in m.items()}
        for t, m in TUNED.items()})
  assert plots.main(['bars', f'--base={base_dir}/metrics-0.json',
                     f'--tuned={run_dir}/metrics-200.json',
                     f'--out={tmp_path}/png/bars.png']) == 0
  _check_png(tmp_path / 'png' / 'bars.png')
  series = plots.read_series(str(run_dir))
  assert list(series) == [0, 100, 200]
  assert series[100]['builtin_uppercase']['exact_match'] == 50.0
  assert plots.main(['steps', f'--eval_dir={run_dir}',
                     f'--out={tmp_path}/steps.png']) == 0
  _check_png(tmp_path / 'steps.png')


def test_plots_bad_input(tmp_path, capsys):
  assert plots.main(['steps', f'--eval_dir={tmp_path}',
                     f'--out={tmp_path}/x.png']) == 2
  assert 'no metrics-<step>.json files' in capsys.readouterr().err
  (tmp_path / 'metrics-3.json').write_text('{"step": 3}')
  with pytest.raises(UserError, match='metrics-3.json: expected'):
    plots.read_series(str(tmp_path))


def test_cluster_of_registry_and_builtin_names():
  assert heldout.cluster_of('builtin_parity_unseen_templates_options') == (
      'arithmetic')
  assert heldout.cluster_of('builtin_translation_to_english') == 'translation'
  assert heldout.cluster_of('builtin_nli_zs_opt') == 'nli'  # Registry task.
  assert heldout.cluster_of('glue_rte') is None


def test_seen_vs_unseen_table_held_out_cluster():
  train, _ = tasks.builtin.HELD_OUT_CLUSTER_MIXTURES['string_manipulation']
  results = dict(TUNED, mystery_task={'accuracy': 5.0})
  groups = heldout.split_seen_unseen(train, results)
  assert groups == {
      heldout.SEEN: ['builtin_arithmetic', 'builtin_parity_options'],
      heldout.SEEN_CLUSTER_UNSEEN_TEMPLATES: [
          'builtin_sentiment_unseen_templates'],
      heldout.UNSEEN_CLUSTER: ['builtin_acronym_unseen_templates',
                               'builtin_uppercase'],
      heldout.UNKNOWN: ['mystery_task']}
  means = heldout.group_means(train, results)
  assert means[heldout.SEEN] == 60.0 and means[heldout.UNSEEN_CLUSTER] == 80.0
  table = heldout.seen_unseen_table(train, results, base=BASE)
  assert '| unseen cluster | 2 | 80.00 | 15.00 | +65.00 |' in table
  assert ('| builtin_uppercase | string_manipulation | unseen cluster | '
          '90.00 | 10.00 | +80.00 |') in table
  assert '13 clusters' in table
  with pytest.raises(UserError, match='not a registered SeqIO task'):
    heldout.split_seen_unseen('no_such_mixture', results)
