"""The model contract: a model with its own metrics and parameter policy
trains through the trainer and the training loop; `peft.apply` is a
transformation of a model."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import seqio

from instruct import checkpoints
from instruct import metrics_writer
from instruct import param_trees
from instruct import partitioning
from instruct import peft
from instruct import trainer
from instruct import training
from instruct.input_pipeline import DatasetConfig
from instruct.models import base
from instruct.models import encoder_decoder
from instruct.models import t5
from instruct.peft import config as pc
from instruct.peft import core as peft_core

VOCAB = 384


class _ScoreNet(nn.Module):
  """A frozen embedding and a trainable scalar head (a toy reward model)."""

  @nn.compact
  def __call__(self, tokens):
    embed = self.param('embed', nn.initializers.normal(0.5), (VOCAB, 8))
    x = jnp.take(embed, tokens, axis=0).astype(jnp.float32)
    x = jnp.sum(x * (tokens > 0)[..., None], axis=1)
    return nn.Dense(1, name='reward_head')(x)[:, 0]


class PairModel(base.BaseModel):
  """Preference-style toy: rows 0, 2, ... are 'chosen', 1, 3, ... 'rejected'.

  Its metrics share no key with the token models', its first finite metric
  is not called 'loss', only the head trains (the embedding is a frozen
  bfloat16 'reference'), and the head is fresh next to a base checkpoint.
  """

  FEATURE_CONVERTER_CLS = seqio.EncDecFeatureConverter
  finite_metrics = ('pair_loss_sum',)

  def __init__(self):
    self.module = _ScoreNet()
    head = lambda path: path[0] == 'reward_head'
    self.param_policy = param_trees.ParamPolicy(
        trainable=head, fresh=head, frozen_dtype='bfloat16',
        description='reward head only')

  def get_initial_variables(self, rng, input_shapes):
    return self.module.init(
        rng, jnp.ones(input_shapes['encoder_input_tokens'], jnp.int32))

  def loss_fn(self, params, batch, dropout_rng, loss_normalizing_factor=None):
    del dropout_rng, loss_normalizing_factor
    r = self.module.apply({'params': params}, batch['encoder_input_tokens'])
    margin = r[0::2] - r[1::2]
    pair_loss = -jax.nn.log_sigmoid(margin)
    return jnp.mean(pair_loss), {
        'pair_loss_sum': jnp.sum(pair_loss),
        'pairs': jnp.asarray(margin.shape[0], jnp.float32),
        'correct_pairs': jnp.sum((margin > 0).astype(jnp.float32))}

  def summarize_metrics(self, summed, steps, seconds):
    pairs = max(summed['pairs'], 1e-9)
    return {'pair_loss': summed['pair_loss_sum'] / pairs,
            'reward_accuracy': 100.0 * summed['correct_pairs'] / pairs,
            'pairs_per_second': summed['pairs'] / seconds}

  def progress_metrics(self, summary):
    return {'acc': f'{summary["reward_accuracy"]:.1f}'}


def _batch(batch_size=8, length=12, seed=0):
  rng = np.random.default_rng(seed)
  return {'encoder_input_tokens':
              rng.integers(1, VOCAB, (batch_size, length)).astype(np.int32)}


def _one_device():
  return partitioning.Partitioner(devices=jax.devices()[:1])


def test_a_model_with_its_own_metrics_and_policy_trains():
  model, tx, p = PairModel(), optax.adam(1e-2), _one_device()
  batch = _batch()
  factory = trainer.StateFactory(model, tx, p,
                                 {k: v.shape for k, v in batch.items()})
  state = factory.init(0)
  embed = np.asarray(state.params['embed'])
  assert state.params['embed'].dtype == jnp.bfloat16  # frozen_dtype
  assert set(state.opt_state[0].mu) == {'reward_head'}  # no state for embed
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  sums = None
  for _ in range(3):
    state, m = step(state, p.shard_batch(batch), jax.random.PRNGKey(0))
    host = {k: float(v) for k, v in jax.device_get(m).items()}
    assert trainer.check_finite(model, host) is None
    sums = host if sums is None else {k: sums[k] + host[k] for k in sums}
  np.testing.assert_array_equal(np.asarray(state.params['embed']), embed)
  summary = trainer.summarize_metrics(model, sums, 3, 2.0)
  assert set(summary) == {'pair_loss', 'reward_accuracy', 'pairs_per_second',
                          'grad_norm', 'param_norm', 'steps_per_second'}
  assert summary['pairs_per_second'] == 12 / 2.0
  assert model.progress_metrics(summary)['acc']
  assert 'reward head only' in factory.describe_parameters()
  bad = dict(host, pair_loss_sum=float('nan'))
  assert trainer.check_finite(model, bad).startswith('Loss became nan')


def test_token_models_summarise_their_own_metrics():
  vocab = seqio.ByteVocabulary()
  cfg = t5.T5Config(vocab_size=VOCAB, emb_dim=16, num_heads=2, head_dim=8,
                    mlp_dim=32, num_encoder_layers=1, num_decoder_layers=1)
  model = encoder_decoder.EncoderDecoderModel(t5.Transformer(cfg), vocab,
                                              vocab)
  summed = {'loss': 6.0, 'loss_sum': 30.0, 'z_loss_sum': 2.0,
            'weight_sum': 10.0, 'correct_tokens': 4.0, 'weighted_tokens': 10.0,
            'target_tokens': 10.0, 'input_tokens': 30.0, 'grad_norm': 3.0,
            'param_norm': 9.0, 'learning_rate': 0.3}
  out = trainer.summarize_metrics(model, summed, 3, 4.0)
  assert out == pytest.approx({
      'loss': 2.0, 'cross_ent_loss_per_token': 2.8, 'z_loss_per_token': 0.2,
      'accuracy': 40.0, 'grad_norm': 1.0, 'param_norm': 3.0,
      'target_tokens_per_second': 2.5, 'input_tokens_per_second': 7.5,
      'steps_per_second': 0.75, 'learning_rate': 0.1})
  assert model.progress_metrics(out) == {'loss': '2.800', 'tok_s': '10'}
  assert trainer.check_finite(model, dict(summed, param_norm=float('inf'))
                             ) == 'Loss became 6.0 (parameter norm inf)'


def test_training_loop_names_no_metric_and_restores_only_the_base(tmp_path):
  import tasks  # pylint: disable=g-import-not-at-top,unused-import
  data = DatasetConfig(mixture_or_task_name='builtin_instructions',
                       task_feature_lengths={'inputs': 32, 'targets': 8},
                       split='train', batch_size=8, shuffle=False, seed=0,
                       pack=False)
  kw = dict(model=PairModel(), optimizer=optax.adam(1e-2),
            train_dataset_cfg=data, total_steps=4, checkpoint_period=2,
            log_period=2, async_checkpointing=False, show_progress=False,
            partitioner=_one_device())
  first = training.train(model_dir=str(tmp_path / 'a'), **kw)
  assert first.step == 4
  rows = metrics_writer.read_jsonl(str(tmp_path / 'a' / 'train' /
                                       'metrics.jsonl'))
  assert [r['step'] for r in rows] == [2, 4]
  assert 'reward_accuracy' in rows[0] and 'grad_norm' in rows[0]

  # Starting from that run: the embedding comes from its checkpoint, the
  # fresh head from the seed (here 5, a different draw).
  second = training.train(model_dir=str(tmp_path / 'b'),
                          initial_checkpoint_path=str(tmp_path / 'a'),
                          random_seed=5, **dict(kw, total_steps=5))
  assert second.step == 5
  tree = checkpoints.load_numpy_tree(str(tmp_path / 'a' / 'checkpoint_4'))
  np.testing.assert_array_equal(
      np.asarray(second.state.params['embed'], np.float32),
      tree['target']['embed'].astype(np.float32))


def test_peft_apply_is_a_transformation():
  vocab = seqio.ByteVocabulary()
  cfg = t5.T5Config(vocab_size=VOCAB, emb_dim=16, num_heads=2, head_dim=8,
                    mlp_dim=32, num_encoder_layers=1, num_decoder_layers=1)
  plain = encoder_decoder.EncoderDecoderModel(t5.Transformer(cfg), vocab,
                                              vocab)
  lora = pc.PeftConfig(lora=pc.LoraConfig(rank=2), train_patterns=('norm',))
  tuned = peft.apply(plain, lora)
  assert plain.param_policy.trains_everything  # the input is unchanged
  assert plain.module.config.peft is None
  assert tuned.module.config.peft == lora
  # The same model as one whose network config carries the method (gin).
  via_config = encoder_decoder.EncoderDecoderModel(
      t5.Transformer(dataclasses.replace(cfg, peft=lora)), vocab, vocab)
  assert via_config.module.config == tuned.module.config

  shapes = {'encoder_input_tokens': (2, 8), 'decoder_input_tokens': (2, 4)}
  params = nn.unbox(jax.eval_shape(
      lambda r: tuned.get_initial_variables(r, shapes),
      jax.random.PRNGKey(0))['params'])
  flat = param_trees.flatten(params)
  policy = tuned.param_policy
  keep = peft.trainable_filter(lora)
  assert [p for p in flat if policy.is_trainable(p)] == [p for p in flat
                                                         if keep(p)]
  trained = {p for p in flat if policy.is_trainable(p)}
  assert trained == {p for p in flat if peft_core.is_peft_path(p) or
                     'norm' in '/'.join(p)}
  assert {p for p in flat if policy.is_fresh(p)} == {
      p for p in flat if peft_core.is_peft_path(p)}
  assert 'PEFT lora' in policy.description
  assert peft.apply(tuned, None).param_policy.trains_everything
