"""The model contract: what the trainer and the evaluators talk to.

`BaseModel` (cf. T5X's `BaseModel`) is the whole interface between a model
and the code that trains or evaluates it:

  FEATURE_CONVERTER_CLS       SeqIO feature converter for its batches
  get_initial_variables       boxed variables for given input shapes
  loss_normalization          (factor, weights) of a whole batch
  loss_fn                     (loss, summed metrics) of a (micro)batch
  summarize_metrics           summed metrics -> reported figures (host side)
  progress_metrics            the few figures the progress bar shows
  finite_metrics              metrics that must stay finite to keep training
  score_batch                 per-example log-likelihood
  predict_batch[_with_aux]    decoded tokens (and scores)
  param_policy                which parameters train, start fresh, freeze

The trainer names no metric of the model: it sums whatever `loss_fn`
returns over microbatches and steps and hands the sums back to
`summarize_metrics`. It adds its own (`grad_norm`, `param_norm`,
`learning_rate`, see `instruct.trainer`) and averages those itself.

`BaseTransformerModel` holds what the token-level models share: the
cross-entropy loss (label smoothing, z-loss, loss normalisation), its
metrics, scoring and PEFT applied from the network config. Its subclasses
(`EncoderDecoderModel`, `DecoderOnlyModel`) add how a batch reaches the
network (`_compute_logits`), which tokens count as input
(`_token_counts`) and decoding.

Other objectives fit the same contract. A preference model (DPO) with a
frozen reference, for example:
  - parameters: `get_initial_variables` returns {'params': {'policy': ...,
    'reference': ...}}; `param_policy` trains `policy/...` only
    (`trainable`), keeps `reference/...` frozen (optionally in bfloat16 via
    `frozen_dtype`), and a base checkpoint restores both from the same
    weights; a reward head is a subtree the policy marks `fresh`, so a run
    starting from a base checkpoint initialises it and restores the rest.
    A reference kept outside the trained tree would be another variable
    collection that `loss_fn` closes over instead.
  - `loss_fn` computes the preference loss from chosen/rejected batches and
    returns its own summed metrics ('loss', 'reward_margin_sum',
    'pairs', 'correct_pairs', ...).
  - `summarize_metrics` turns those into its own keys ('loss',
    'reward_accuracy', 'pairs_per_second', ...) and `progress_metrics` picks
    what the bar shows; `finite_metrics` names its loss. No train code
    changes.
"""

import abc
from typing import Any, Dict, Mapping, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import seqio

from instruct import losses
from instruct import param_trees
from instruct.peft import transform as peft_transform

Batch = Mapping[str, jnp.ndarray]
Array = jax.Array


class BaseModel(abc.ABC):
  """The interface the trainer and the evaluators use (see module doc)."""

  FEATURE_CONVERTER_CLS: type = None
  # Which parameters train (see `instruct.param_trees.ParamPolicy`);
  # everything by default. `instruct.peft.apply` returns a model with
  # another policy.
  param_policy: param_trees.ParamPolicy = param_trees.FULL_TRAINING
  # Summed metrics that must stay finite (the first is reported as the
  # loss); the trainer stops before saving a checkpoint when one is not.
  finite_metrics: Tuple[str, ...] = ('loss',)

  # ---------------------------------------------------------------------------
  # Parameters.
  # ---------------------------------------------------------------------------
  @abc.abstractmethod
  def get_initial_variables(self, rng: Array,
                            input_shapes: Mapping[str, Tuple[int, ...]]
                            ) -> Any:
    """Boxed (logically partitioned) initial variables for these shapes."""

  # ---------------------------------------------------------------------------
  # Training.
  # ---------------------------------------------------------------------------
  def loss_normalization(self, batch: Batch) -> Tuple[Any, Optional[Array]]:
    """(factor, weights) for a whole batch, before it is split into
    microbatches; weights (if not None) become `decoder_loss_weights`."""
    del batch
    return None, None

  @abc.abstractmethod
  def loss_fn(self, params, batch: Batch, dropout_rng: Optional[Array],
              loss_normalizing_factor=None) -> Tuple[Array, Dict[str, Array]]:
    """(loss, metrics) of one (micro)batch.

    Metrics are sums that can be added over microbatches and steps (scalar
    arrays); the model names them and reads them back in
    `summarize_metrics`.
    """

  @abc.abstractmethod
  def summarize_metrics(self, summed: Mapping[str, float], steps: int,
                        seconds: float) -> Dict[str, float]:
    """Host-side figures to log from `loss_fn` metrics summed over `steps`
    steps that took `seconds` (per-token averages, rates)."""

  def progress_metrics(self, summary: Mapping[str, float]) -> Dict[str, str]:
    """{name: formatted value} for the progress bar, from a summary."""
    del summary
    return {}

  # ---------------------------------------------------------------------------
  # Inference.
  # ---------------------------------------------------------------------------
  def score_batch(self, params, batch: Batch) -> Array:
    """Per-example score (log-likelihood of the targets)."""
    raise NotImplementedError(f'{type(self).__name__} does not score.')

  def predict_batch_with_aux(self, params, batch: Batch,
                             rng: Optional[Array] = None,
                             decoding_config=None
                             ) -> Tuple[Array, Mapping[str, Array]]:
    """(tokens [B, N, L], {'scores': [B, N]}), best first."""
    raise NotImplementedError(f'{type(self).__name__} does not predict.')

  def predict_batch(self, params, batch: Batch, rng: Optional[Array] = None,
                    decoding_config=None) -> Array:
    """Decoded tokens [B, L]: the best beam, or the first sample."""
    tokens, _ = self.predict_batch_with_aux(params, batch, rng,
                                            decoding_config)
    return tokens[:, 0]


class BaseTransformerModel(BaseModel):
  """A token model trained with cross-entropy on `decoder_target_tokens`.

  Subclasses provide `_compute_logits(params, batch, dropout_rng)` and
  `_token_counts`. A PEFT method, given as `peft` (as the gin includes in
  `gin_configs/peft/` bind it, for every family) or already in the network's
  `config.peft`, is applied as `instruct.peft.apply` does, which sets
  `param_policy`.
  """

  def __init__(self,
               module: nn.Module,
               input_vocabulary: seqio.Vocabulary,
               output_vocabulary: seqio.Vocabulary,
               z_loss: float = 0.0,
               label_smoothing: float = 0.0,
               loss_normalizing_factor: losses.LossNormalizingFactor = None,
               peft: Optional[Any] = None):
    self.input_vocabulary = input_vocabulary
    self.output_vocabulary = output_vocabulary
    self.z_loss = z_loss
    self.label_smoothing = label_smoothing
    self.loss_normalizing_factor = loss_normalizing_factor
    # A method given to the model (the gin includes in gin_configs/peft/ bind
    # `EncoderDecoderModel.peft` / `DecoderOnlyModel.peft`, whatever the
    # family) wins over one already in the network's config.
    peft_config = (peft if peft is not None else
                   getattr(getattr(module, 'config', None), 'peft', None))
    self.module = peft_transform.with_network_peft(module, peft_config,
                                                   input_vocabulary)
    self.param_policy = peft_transform.param_policy(peft_config)
    # Fail at construction, not at the first step, on a bad mode name.
    losses.get_loss_normalizing_factor_and_weights(
        loss_normalizing_factor,
        {'decoder_target_tokens': jnp.ones((1, 1), jnp.int32)})

  # ---------------------------------------------------------------------------
  # What subclasses provide.
  # ---------------------------------------------------------------------------
  @abc.abstractmethod
  def _compute_logits(self, params, batch: Batch,
                      dropout_rng: Optional[Array] = None) -> Array:
    """Logits [B, L, V] for `decoder_target_tokens`."""

  @abc.abstractmethod
  def _token_counts(self, batch: Batch, real: Array,
                    weighted: Array) -> Tuple[Array, Array]:
    """(target tokens, input tokens) of a batch, as float32 sums.

    Args:
      batch: the model features.
      real: [B, L] 1.0 where `decoder_target_tokens` is a real token.
      weighted: [B, L] 1.0 where the loss weight is positive.
    """

  # ---------------------------------------------------------------------------
  # Training.
  # ---------------------------------------------------------------------------
  def loss_normalization(self, batch: Batch):
    """(factor, weights) for a whole batch, before it is split in microbatches."""
    return losses.get_loss_normalizing_factor_and_weights(
        self.loss_normalizing_factor, batch)

  def loss_fn(self, params, batch: Batch, dropout_rng: Optional[Array],
              loss_normalizing_factor=None) -> Tuple[Array, Dict[str, Array]]:
    """Cross-entropy of one (micro)batch and its summed metrics.

    Args:
      params: model parameters.
      batch: model features; `decoder_loss_weights` should already be the
        weights from `loss_normalization` of the full batch.
      dropout_rng: rng for dropout, or None for deterministic.
      loss_normalizing_factor: the full batch's factor (None: plain sum).

    Returns:
      (loss, metrics); metrics are sums that can be added over microbatches:
      loss, loss_sum, z_loss_sum, weight_sum, correct_tokens,
      weighted_tokens, target_tokens, input_tokens (`_token_counts`).
    """
    logits = self._compute_logits(params, batch, dropout_rng)
    targets = batch['decoder_target_tokens']
    weights = batch.get('decoder_loss_weights')
    if weights is None:
      weights = (targets > 0).astype(jnp.float32)
    loss_sum, z_loss_sum, weight_sum = losses.compute_weighted_cross_entropy(
        logits, targets, weights, label_smoothing=self.label_smoothing,
        z_loss=self.z_loss)
    loss = loss_sum
    if loss_normalizing_factor is not None:
      loss = loss_sum / loss_normalizing_factor
    weighted = (weights > 0).astype(jnp.float32)
    real = (targets > 0).astype(jnp.float32)
    correct = (jnp.argmax(logits, -1) == targets).astype(jnp.float32)
    target_tokens, input_tokens = self._token_counts(batch, real, weighted)
    metrics = {
        'loss': loss,
        'loss_sum': loss_sum,
        'z_loss_sum': z_loss_sum,
        'weight_sum': weight_sum,
        'correct_tokens': jnp.sum(correct * weighted),
        'weighted_tokens': jnp.sum(weighted),
        'target_tokens': target_tokens,
        'input_tokens': input_tokens,
    }
    return loss, metrics

  def summarize_metrics(self, summed: Mapping[str, float], steps: int,
                        seconds: float) -> Dict[str, float]:
    """Per-step loss, per-token cross-entropy, z-loss and accuracy (%),
    tokens per second."""
    w = max(summed['weight_sum'], 1e-9)
    return {
        'loss': summed['loss'] / steps,
        'cross_ent_loss_per_token': (summed['loss_sum'] -
                                     summed['z_loss_sum']) / w,
        'z_loss_per_token': summed['z_loss_sum'] / w,
        'accuracy': 100.0 * summed['correct_tokens'] /
                    max(summed['weighted_tokens'], 1e-9),
        'target_tokens_per_second': summed['target_tokens'] / seconds,
        'input_tokens_per_second': summed['input_tokens'] / seconds,
    }

  def progress_metrics(self, summary: Mapping[str, float]) -> Dict[str, str]:
    tokens = (summary['target_tokens_per_second'] +
              summary['input_tokens_per_second'])
    return {'loss': f'{summary["cross_ent_loss_per_token"]:.3f}',
            'tok_s': f'{tokens:,.0f}'}

  # ---------------------------------------------------------------------------
  # Scoring.
  # ---------------------------------------------------------------------------
  def score_batch(self, params, batch: Batch) -> Array:
    """Per-sequence sum of target log-likelihoods (loss-weighted positions;
    no z-loss, no smoothing)."""
    return losses.sequence_log_likelihood(
        self._compute_logits(params, batch), batch['decoder_target_tokens'],
        batch.get('decoder_loss_weights'))
