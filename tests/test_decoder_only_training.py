"""The tiny Llama trains through the real trainer; sharding changes nothing."""

import json
import os

import gin
import jax
import numpy as np
import optax
import pytest
import seqio

from conftest import REPO_ROOT
from instruct import configurables  # pylint: disable=unused-import
from instruct import metrics_writer
from instruct import partitioning
from instruct import training as train_lib
from instruct import trainer
import tiny

EVAL_MIXTURE = 'test_decoder_only_eval'


def tiny_model(bidirectional=False):
  return tiny.llama_model(z_loss=1e-4,
                          loss_normalizing_factor='NUM_REAL_TARGET_TOKENS',
                          inputs_bidirectional_attention=bidirectional)


def packed_prefix_lm_batch(batch_size=8, length=24, seed=0):
  """Two prefix-LM examples per row, as SeqIO's packed converter lays them."""
  rng = np.random.default_rng(seed)
  feats = {k: np.zeros((batch_size, length), np.int32) for k in (
      'decoder_target_tokens', 'decoder_input_tokens', 'decoder_loss_weights',
      'decoder_segment_ids', 'decoder_positions', 'decoder_causal_attention')}
  for b in range(batch_size):
    start = 0
    for seg in (1, 2):
      n_in, n_tgt = rng.integers(2, 6), rng.integers(2, 5)
      seq = rng.integers(3, 384, n_in + n_tgt)
      n = len(seq)
      sl = slice(start, start + n)
      feats['decoder_target_tokens'][b, sl] = seq
      feats['decoder_input_tokens'][b, sl] = np.concatenate([[0], seq[:-1]])
      feats['decoder_loss_weights'][b, sl] = [0] * n_in + [1] * n_tgt
      feats['decoder_segment_ids'][b, sl] = seg
      feats['decoder_positions'][b, sl] = np.arange(n)
      feats['decoder_causal_attention'][b, sl] = [1] * (n_in + 1) + [0] * (
          n_tgt - 1)
      start += n
  return feats


def one_step(model, tx, partitioner, batch):
  factory = trainer.StateFactory(model, tx, partitioner,
                                 {k: v.shape for k, v in batch.items()})
  state = factory.init(seed=0)
  initial = jax.tree.map(np.asarray, state.params)  # the step donates state
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  new_state, metrics = step(state, partitioner.shard_batch(batch),
                            jax.random.PRNGKey(1))
  return initial, new_state, metrics


@pytest.mark.parametrize('bidirectional', [True])
def test_one_step_on_8_devices_equals_one_device(bidirectional):
  assert len(jax.devices()) >= 8, 'conftest sets 8 simulated CPU devices'
  batch = packed_prefix_lm_batch()
  tx = optax.sgd(0.5)  # linear in the gradient: equal params, equal grads
  p1 = partitioning.Partitioner(devices=jax.devices()[:1])
  s0, s1, m1 = one_step(tiny_model(bidirectional), tx, p1, batch)
  moved = [float(np.abs(np.asarray(a) - np.asarray(b)).max())
           for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s1.params))]
  assert min(moved) > 0, 'every parameter must be updated by the step'
  assert float(m1['weight_sum']) == batch['decoder_loss_weights'].sum()
  assert float(m1['input_tokens'] + m1['target_tokens']) == (
      batch['decoder_target_tokens'] > 0).sum()

  p8 = partitioning.Partitioner(num_partitions=2, devices=jax.devices()[:8])
  _, s8, m8 = one_step(tiny_model(bidirectional), tx, p8, batch)
  np.testing.assert_allclose(float(m8['loss']), float(m1['loss']), rtol=1e-5)
  flat1 = jax.tree_util.tree_leaves_with_path(s1.params)
  for (path, a), b in zip(flat1, jax.tree.leaves(s8.params)):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5,
                               atol=1e-7, err_msg=jax.tree_util.keystr(path))
  # Really sharded by the default rules: heads and mlp over 'model'.
  layer = s8.params['decoder']['layers_0']
  assert tuple(layer['self_attention']['key']['kernel'].sharding.spec) == (
      None, 'model')
  assert tuple(layer['mlp']['wo']['kernel'].sharding.spec) == ('model', None)
  assert len(s8.params['decoder']['logits_dense']['kernel'].sharding
             .device_set) == 8


def test_tiny_llama_trains_and_evaluates_through_the_trainer(tmp_path):
  import tasks  # pylint: disable=g-import-not-at-top,unused-import
  if EVAL_MIXTURE not in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.add(
        EVAL_MIXTURE, ['builtin_uppercase', 'builtin_sentiment_options'],
        default_rate=1.0)
  model_dir = str(tmp_path / 'run')
  gin.clear_config()
  try:
    gin.add_config_file_search_path(os.path.join(REPO_ROOT, 'gin_configs'))
    gin.parse_config_files_and_bindings(
        ['models/llama/tiny.gin', 'runs/finetune.gin'], [
            f"MODEL_DIR = '{model_dir}'",
            "MIXTURE_OR_TASK_NAME = 'builtin_uppercase'",
            f"EVAL_MIXTURE_OR_TASK_NAME = '{EVAL_MIXTURE}'",
            "TASK_FEATURE_LENGTHS = {'inputs': 64, 'targets': 16}",
            'TRAIN_STEPS = 40', 'BATCH_SIZE = 8', 'EVAL_BATCH_SIZE = 8',
            'EVAL_STEPS = 8', 'EVAL_PERIOD = 0', 'CHECKPOINT_PERIOD = 40',
            'DROPOUT_RATE = 0.0',
            'learning_rate_schedule.base_learning_rate = 3e-3',
            'train.log_period = 5', 'train.show_progress = False',
            "network.LlamaConfig.emb_dim = 32",
            "network.LlamaConfig.mlp_dim = 64",
            "network.LlamaConfig.head_dim = 8",
        ])
    result = train_lib.train()  # pylint: disable=no-value-for-parameter
  finally:
    gin.clear_config()

  assert result.step == 40
  rows = metrics_writer.read_jsonl(os.path.join(model_dir, 'train',
                                                'metrics.jsonl'))
  losses = [r['cross_ent_loss_per_token'] for r in rows
            if 'cross_ent_loss_per_token' in r]
  assert len(losses) == 8
  assert losses[-1] < 0.8 * losses[0], losses
  assert os.path.isdir(os.path.join(model_dir, 'checkpoint_40', 'state'))
  # The evaluator ran both kinds of metric: predictions and scores.
  metrics = result.eval_metrics
  assert set(metrics) == {'builtin_uppercase', 'builtin_sentiment_options'}
  assert 'exact_match' in metrics['builtin_uppercase']
  assert 'accuracy' in ' '.join(metrics['builtin_sentiment_options'])
  preds = [json.loads(line) for line in open(os.path.join(
      model_dir, 'inference_eval', 'builtin_uppercase-000040.jsonl'))]
  assert len(preds) == 8
  # Only the continuation is decoded, never the prompt echoed back.
  for p in preds:
    assert not p['prediction'].startswith(p['input']['inputs_pretokenized'])
