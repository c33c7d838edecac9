"""Prompt robustness: per-template scores summarised per task."""

import pytest
import seqio

from instruct.data import builtin
from instruct.errors import UserError
from instruct.evals import robustness


def test_summary_mean_worst_spread_std_by_hand():
  summary = robustness.summarize({
      'qa': {'0': 40.0, '1': 60.0, '2': 80.0, '3': 60.0},
      'nli': {'0': 50.0}})
  qa = summary['qa']
  assert (qa.num_templates, qa.mean, qa.worst, qa.best, qa.spread) == (
      4, 60.0, 40.0, 80.0, 40.0)
  # Deviations -20, 0, 20, 0: variance (400 + 400) / 4 = 200.
  assert qa.std == pytest.approx(200 ** 0.5)
  assert qa.worst_template == '0'
  assert (summary['nli'].spread, summary['nli'].std) == (0.0, 0.0)
  table = robustness.markdown_table(summary)
  assert '| qa | 4 | 60.00 | 40.00 | 80.00 | 40.00 | 14.14 | 0 |' in table


def test_scores_from_metrics_and_bad_input():
  results = {'builtin_parity_template0': {'exact_match': 70.0},
             'builtin_parity_template1': {'exact_match': 30.0},
             'builtin_uppercase': {'exact_match': 99.0}}
  scores = robustness.scores_from_metrics(results)
  assert scores == {'builtin_parity': {'0': 70.0, '1': 30.0}}
  with pytest.raises(UserError, match='non-finite score'):
    robustness.summarize({'t': {'0': float('nan'), '1': 1.0}})
  with pytest.raises(UserError, match='no per-template scores'):
    robustness.summarize({'t': {}})
  with pytest.raises(UserError, match='No results of per-template tasks'):
    robustness.scores_from_metrics({'builtin_uppercase': {'accuracy': 1.0}})


def test_per_template_tasks_use_one_template_each():
  names = robustness.register_builtin_template_tasks('uppercase')
  task = builtin.get_task('uppercase')
  assert sorted(names) == list(range(len(task.templates)))
  mixture = seqio.get_mixture_or_task('builtin_uppercase_all_templates')
  assert sorted(t.name for t in mixture.tasks) == sorted(names.values())
  first = {}
  for i in (0, len(task.templates) - 1):  # A seen and a held-out template.
    ds = seqio.get_mixture_or_task(names[i]).get_dataset(
        None, split='validation', shuffle=False)
    ex = [e for _, e in zip(range(3), ds.as_numpy_iterator())]
    assert {int(e['_template_idx']) for e in ex} == {i}
    first[i] = ex[0]
  # Same example, different wording.
  assert first[0]['targets_pretokenized'] == first[
      len(task.templates) - 1]['targets_pretokenized']
  assert first[0]['inputs_pretokenized'] != first[
      len(task.templates) - 1]['inputs_pretokenized']
  with pytest.raises(UserError, match='not a built-in task'):
    robustness.register_builtin_template_tasks('nope')
