"""The decoder-only model: loss, scoring and prediction around a Llama network.

Same interface as `EncoderDecoderModel` (the model contract of
`instruct.models.base`: the trainer and evaluators cannot tell them apart). Features come from SeqIO's `DecoderFeatureConverter`: a task
with only `targets` is a plain language model; a task with `inputs` and
`targets` is concatenated into one sequence (prefix LM) with
`decoder_causal_attention` over the inputs plus one position and the loss on
the targets only. Whether the inputs are attended bidirectionally is a model
setting (`inputs_bidirectional_attention`, T5X's name): off for models
pre-trained causally such as Llama, on for a true prefix LM.

Prediction extracts each row's prompt (the prefix the converter marked, or a
separate `inputs` array), left-pads the batch so that every prompt ends at
the same cache slot, fills the key/value cache with all prompts in one call
and then decodes the continuation only.
"""

from typing import Any, Mapping, Optional, Tuple

import flax.linen as nn
import gin
import jax
from jax import lax
import jax.numpy as jnp
import seqio

from instruct import decoding
from instruct import losses
from instruct.models import base

Batch = Mapping[str, jnp.ndarray]
Array = jax.Array

# Logit given to every token but EOS once a row has used up its length.
_FORCED_OUT = -1e9


@gin.configurable
class DecoderOnlyModel(base.BaseTransformerModel):
  """Wraps a decoder-only `nn.Module` (see `instruct.models.llama`)."""

  FEATURE_CONVERTER_CLS = seqio.DecoderFeatureConverter

  def __init__(self,
               module: nn.Module,
               vocabulary: seqio.Vocabulary,
               z_loss: float = 0.0,
               label_smoothing: float = 0.0,
               loss_normalizing_factor: losses.LossNormalizingFactor = None,
               inputs_bidirectional_attention: bool = False,
               decoding_config: Optional[decoding.DecodingConfig] = None,
               feature_converter_cls: Optional[type] = None,
               peft: Optional[Any] = None):
    """Builds the model.

    Args:
      module: the network, e.g. `llama.LlamaTransformer`.
      vocabulary: one vocabulary for prompts and outputs.
      z_loss: coefficient of the log(Z)^2 auxiliary loss.
      label_smoothing: label smoothing of the cross-entropy.
      loss_normalizing_factor: a number, None or a special mode name.
      inputs_bidirectional_attention: prefix LM: the inputs (SeqIO's
        `decoder_causal_attention`) attend to each other in both directions.
      decoding_config: default `decoding.DecodingConfig` for predictions.
      feature_converter_cls: replaces `seqio.DecoderFeatureConverter`, e.g.
        `seqio.PrefixLMFeatureConverter`.
      peft: a PEFT method (`instruct.peft.config.PeftConfig`) to apply, as
        `instruct.peft.apply` does; None keeps the network config's.
    """
    super().__init__(module, vocabulary, vocabulary, z_loss=z_loss,
                     label_smoothing=label_smoothing,
                     loss_normalizing_factor=loss_normalizing_factor,
                     peft=peft)
    self.inputs_bidirectional_attention = inputs_bidirectional_attention
    self.decoding_config = decoding_config
    if feature_converter_cls is not None:
      self.FEATURE_CONVERTER_CLS = feature_converter_cls  # pylint: disable=invalid-name

  # ---------------------------------------------------------------------------
  # Parameters.
  # ---------------------------------------------------------------------------
  def get_initial_variables(self, rng: Array,
                            input_shapes: Mapping[str, Tuple[int, ...]]) -> Any:
    """Boxed (logically partitioned) initial variables for these shapes."""
    tokens = jnp.ones(input_shapes['decoder_input_tokens'], jnp.int32)
    params_rng, dropout_rng = jax.random.split(rng)
    return self.module.init({'params': params_rng, 'dropout': dropout_rng},
                            tokens, tokens, enable_dropout=False)

  # ---------------------------------------------------------------------------
  # Training.
  # ---------------------------------------------------------------------------
  def _causal_attention(self, batch: Batch) -> Optional[Array]:
    if not self.inputs_bidirectional_attention:
      return None
    if 'decoder_causal_attention' not in batch:
      raise ValueError(
          'DecoderOnlyModel.inputs_bidirectional_attention=True needs the '
          '"decoder_causal_attention" feature: train on a task with both '
          '"inputs" and "targets" (SeqIO PrefixLMFeatureConverter).')
    return batch['decoder_causal_attention']

  def _compute_logits(self, params, batch: Batch,
                      dropout_rng: Optional[Array] = None) -> Array:
    rngs = {'dropout': dropout_rng} if dropout_rng is not None else None
    return self.module.apply(
        {'params': params},
        batch['decoder_input_tokens'],
        batch['decoder_target_tokens'],
        decoder_segment_ids=batch.get('decoder_segment_ids'),
        decoder_positions=batch.get('decoder_positions'),
        decoder_causal_attention=self._causal_attention(batch),
        enable_dropout=dropout_rng is not None,
        rngs=rngs)

  def _token_counts(self, batch: Batch, real: Array, weighted: Array):
    """Targets: real tokens with loss weight; inputs: the prompt tokens (real
    tokens without loss weight), so together they count every real token
    once."""
    del batch
    return jnp.sum(real * weighted), jnp.sum(real * (1.0 - weighted))

  # `score_batch` (the base's): with a prefix-LM batch only the targets
  # count, since SeqIO's converter gives the inputs zero loss weight.

  # ---------------------------------------------------------------------------
  # Prediction.
  # ---------------------------------------------------------------------------
  def _decoding_config(self, decoding_config) -> decoding.DecodingConfig:
    return decoding.resolve_config(decoding_config, self.decoding_config,
                                   self.output_vocabulary.eos_id)

  def predict_batch_with_aux(
      self, params, batch: Batch, rng: Optional[Array] = None,
      decoding_config: Optional[decoding.DecodingConfig] = None
  ) -> Tuple[Array, dict]:
    """Continues each row's prompt with cached decoding.

    The prompt of a row is, in order of preference: the positions SeqIO's
    prefix-LM converter marks with `decoder_causal_attention` (BOS 0 and the
    inputs); else `inputs` [B, Li] token ids (0-padded, no BOS), after a BOS
    0; else BOS alone (unconditional sampling for plain-LM tasks).

    Without `max_decode_length` in the decoding config a row may grow until
    prompt and continuation fill the batch's sequence length (as in
    training); EOS is forced there.

    Args:
      params: model parameters.
      batch: model features (see above).
      rng: PRNG key for sampling.
      decoding_config: overrides the model's default `DecodingConfig`.

    Returns:
      (tokens [B, N, L] without the prompt, {'scores': [B, N]}); N is the
      number of samples or beams returned.
    """
    cfg = self._decoding_config(decoding_config)
    prompt_BP, lengths_B = _prompts(batch)
    batch_size, prompt_width = prompt_BP.shape
    seq_length = batch['decoder_input_tokens'].shape[1]
    budget = cfg.max_decode_length is None
    max_decode_length = seq_length if budget else cfg.max_decode_length
    left_BP, positions_BP, valid_BP = _left_pad(prompt_BP, lengths_B)

    cache = self._init_cache(params, batch_size,
                             prompt_width + max_decode_length - 1)
    causal_attention = valid_BP if self.inputs_bidirectional_attention else None
    # prefill=True: with prompt tuning the soft prompt enters the cache
    # first (its slots come on top of `cache_length`).
    logits_BPV, variables = self.module.apply(
        {'params': params, 'cache': cache}, left_BP,
        decoder_positions=positions_BP,
        decoder_causal_attention=causal_attention,
        enable_dropout=False, decode=True, prefill=True, mutable=['cache'])
    eos_id = cfg.eos_id
    state = {'cache': variables['cache'], 'prompt_lengths': lengths_B}

    def budget_limit(logits_BV, step, prompt_lengths_B):
      if not budget:
        return logits_BV
      full_B1 = (step >= seq_length - prompt_lengths_B)[:, None]
      eos_only_1V = jnp.where(jnp.arange(logits_BV.shape[-1]) == eos_id,
                              0.0, _FORCED_OUT)[None]
      return jnp.where(full_B1, eos_only_1V, logits_BV)

    def tokens_to_logits(tokens_B1, state, step):
      # Steps >= 1 (the prefill gave step 0's logits) append the token just
      # generated.
      positions_B1 = (state['prompt_lengths'] + step - 1)[:, None]
      logits_B1V, new = self.module.apply(
          {'params': params, 'cache': state['cache']}, tokens_B1,
          decoder_positions=positions_B1, enable_dropout=False,
          decode=True, prefill=False, mutable=['cache'])
      logits_BV = budget_limit(logits_B1V[:, -1], step,
                               state['prompt_lengths'])
      return logits_BV, dict(state, cache=new['cache'])

    tokens, scores = decoding.decode(
        tokens_to_logits, state, batch_size=batch_size,
        max_decode_length=max_decode_length, config=cfg, rng=rng,
        first_logits=budget_limit(logits_BPV[:, -1], 0, lengths_B))
    return tokens, {'scores': scores}

  def _init_cache(self, params, batch_size: int, cache_length: int):
    """Zero key/value cache of `cache_length` slots (shapes only)."""
    dummy = jnp.zeros((batch_size, cache_length), jnp.int32)

    def shapes():
      _, variables = self.module.apply(
          {'params': params}, dummy, enable_dropout=False, decode=True,
          prefill=True, mutable=['cache'])
      return variables['cache']

    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                        jax.eval_shape(shapes))


def _prompts(batch: Batch) -> Tuple[Array, Array]:
  """Right-padded prompts [B, P] starting with BOS 0, and their lengths [B]."""
  if 'decoder_causal_attention' in batch:
    prefix_BL = batch['decoder_causal_attention'] > 0
    # BOS plus the inputs: the converter marks them (a contiguous run from 0).
    tokens = jnp.where(prefix_BL, batch['decoder_input_tokens'], 0)
    lengths = jnp.maximum(jnp.sum(prefix_BL.astype(jnp.int32), axis=1), 1)
    return tokens.astype(jnp.int32), lengths
  batch_size = batch['decoder_input_tokens'].shape[0]
  bos_B1 = jnp.zeros((batch_size, 1), jnp.int32)
  if 'inputs' in batch:
    inputs = batch['inputs'].astype(jnp.int32)
    lengths = 1 + jnp.sum((inputs > 0).astype(jnp.int32), axis=1)
    return jnp.concatenate([bos_B1, inputs], axis=1), lengths
  return bos_B1, jnp.ones((batch_size,), jnp.int32)


def _left_pad(prompt_BP: Array, lengths_B: Array):
  """Moves each row's first `length` tokens to the right end.

  Returns:
    (tokens [B, P], positions [B, P] counting from 0 at the prompt's first
    token (0 on padding), valid [B, P] booleans).
  """
  width = prompt_BP.shape[1]
  source_BP = jnp.arange(width)[None, :] - (width - lengths_B)[:, None]
  valid_BP = source_BP >= 0
  source_BP = jnp.where(valid_BP, source_BP, 0)
  tokens = jnp.take_along_axis(prompt_BP, source_BP, axis=1)
  return jnp.where(valid_BP, tokens, 0), source_BP, valid_BP
