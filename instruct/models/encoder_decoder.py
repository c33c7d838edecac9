"""The encoder-decoder model: loss, scoring and prediction around a network.

It implements the model contract of `instruct.models.base` (T5X's
`BaseModel` interface): `loss_fn` for training (the shared cross-entropy of
`BaseTransformerModel`), `score_batch` for rank classification and score
metrics, `predict_batch` / `predict_batch_with_aux` for generation (greedy,
sampling or beam search, as `decoding.DecodingConfig` says). A different
objective (a preference loss with a frozen reference model, say) is a
different model class with the same methods; the train step does not
change.
"""

from typing import Any, Mapping, Optional, Tuple
import warnings

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import seqio

from instruct import decoding
from instruct import errors
from instruct import losses
from instruct.models import base

Batch = Mapping[str, jnp.ndarray]


@gin.configurable
class EncoderDecoderModel(base.BaseTransformerModel):
  """Wraps an encoder-decoder `nn.Module` (see `instruct.models.t5`).

  `decoding_config` is the default for `predict_batch*` (gin:
  `EncoderDecoderModel.decoding_config = @DecodingConfig()`); None means
  greedy decoding. Decoding stops at the output vocabulary's EOS whatever
  the config's `eos_id` says, unless that is -1 (never stop early), as in
  `DecoderOnlyModel`.
  `decode_temperature` is deprecated: a value > 0 means
  `DecodingConfig(method='sample', temperature=...)`.
  """

  FEATURE_CONVERTER_CLS = seqio.EncDecFeatureConverter

  def __init__(self,
               module: nn.Module,
               input_vocabulary: seqio.Vocabulary,
               output_vocabulary: seqio.Vocabulary,
               z_loss: float = 0.0,
               label_smoothing: float = 0.0,
               loss_normalizing_factor: losses.LossNormalizingFactor = None,
               decoding_config: Optional[decoding.DecodingConfig] = None,
               decode_temperature: Optional[float] = None,
               peft: Optional[Any] = None):
    super().__init__(module, input_vocabulary, output_vocabulary,
                     z_loss=z_loss, label_smoothing=label_smoothing,
                     loss_normalizing_factor=loss_normalizing_factor,
                     peft=peft)
    eos_id = output_vocabulary.eos_id
    self._eos_id = eos_id = 1 if eos_id is None else eos_id
    if decode_temperature is not None:
      if decoding_config is not None:
        raise errors.UserError(
            'EncoderDecoderModel: set decoding_config or the deprecated '
            'decode_temperature, not both.')
      warnings.warn(
          'EncoderDecoderModel.decode_temperature is deprecated; use '
          "decoding_config=DecodingConfig(method='sample', temperature=...).",
          DeprecationWarning, stacklevel=2)
      decoding_config = (
          decoding.plain_config(method='sample', eos_id=eos_id,
                                temperature=decode_temperature)
          if decode_temperature > 0 else None)
    self.decoding_config = (decoding_config or
                            decoding.plain_config(eos_id=eos_id))

  # ---------------------------------------------------------------------------
  # Parameters.
  # ---------------------------------------------------------------------------
  def get_initial_variables(self, rng: jax.Array,
                            input_shapes: Mapping[str, Tuple[int, ...]]) -> Any:
    """Boxed (logically partitioned) initial variables for these shapes."""
    enc = jnp.ones(input_shapes['encoder_input_tokens'], jnp.int32)
    dec = jnp.ones(input_shapes['decoder_input_tokens'], jnp.int32)
    params_rng, dropout_rng = jax.random.split(rng)
    return self.module.init({'params': params_rng, 'dropout': dropout_rng},
                            enc, dec, dec, enable_dropout=False)

  # ---------------------------------------------------------------------------
  # Training.
  # ---------------------------------------------------------------------------
  def _compute_logits(self, params, batch: Batch,
                      dropout_rng: Optional[jax.Array] = None) -> jnp.ndarray:
    rngs = {'dropout': dropout_rng} if dropout_rng is not None else None
    return self.module.apply(
        {'params': params},
        batch['encoder_input_tokens'],
        batch['decoder_input_tokens'],
        batch['decoder_target_tokens'],
        encoder_segment_ids=batch.get('encoder_segment_ids'),
        decoder_segment_ids=batch.get('decoder_segment_ids'),
        encoder_positions=batch.get('encoder_positions'),
        decoder_positions=batch.get('decoder_positions'),
        enable_dropout=dropout_rng is not None,
        rngs=rngs)

  def _token_counts(self, batch: Batch, real, weighted):
    """Targets: real target tokens; inputs: real encoder input tokens."""
    del weighted
    return jnp.sum(real), jnp.sum(
        (batch['encoder_input_tokens'] > 0).astype(jnp.float32))

  # ---------------------------------------------------------------------------
  # Inference.
  # ---------------------------------------------------------------------------
  def _decoding_config(self, decoding_config) -> decoding.DecodingConfig:
    return decoding.resolve_config(decoding_config, self.decoding_config,
                                   self._eos_id)

  def predict_batch_with_aux(
      self, params, batch: Batch, rng: Optional[jax.Array] = None,
      decoding_config: Optional[decoding.DecodingConfig] = None
  ) -> Tuple[jnp.ndarray, Mapping[str, jnp.ndarray]]:
    """All outputs and their scores: (tokens [B, N, L], {'scores': [B, N]}).

    Args:
      params: model parameters.
      batch: model features; `encoder_input_tokens` is decoded, and
        `decoder_target_tokens` gives L unless the config sets
        `max_decode_length`.
      rng: PRNG key for sampling; None uses a fixed key (reproducible).
      decoding_config: overrides the model's default `decoding_config`.

    Returns:
      Tokens with cached decoding (no start token, 0 after EOS) and scores
      as `decoding.decode` defines them (log-likelihood; length-penalised
      for beam search), best first for beams.
    """
    config = self._decoding_config(decoding_config)
    length = (config.max_decode_length or
              batch['decoder_target_tokens'].shape[1])
    if rng is None and config.method == 'sample':
      rng = jax.random.PRNGKey(0)
    tokens, scores = decoding.encoder_decoder_decode(
        self.module, params, batch['encoder_input_tokens'],
        max_decode_length=length, config=config, rng=rng)
    return tokens, {'scores': scores}
