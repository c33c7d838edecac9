"""Configuration of the parameter-efficient methods (gin-configurable).

Every method has its own frozen dataclass; `PeftConfig` holds the methods in
use. The model configs (`T5Config.peft`, `LlamaConfig.peft`) carry one
`PeftConfig` (or None for full fine-tuning), so the configs stay hashable
and a method reaches every layer that needs it.

Module patterns (`target_modules`) are regular expressions matched with
`re.search` against a Dense layer's path joined by '/', for example
`encoder/layers_0/attention/query` or `decoder/layers_3/mlp/wo`: 'query'
picks every query projection, 'mlp/wi' both gated input projections.
"""

import dataclasses
from typing import Optional, Tuple

import gin

from instruct import errors

PROMPT_METHODS = ('prompt_tuning', 'prefix_tuning')
METHODS = ('lora', 'ia3', 'bitfit', 'adapter') + PROMPT_METHODS


def _tuple(obj, name):
  object.__setattr__(obj, name, tuple(getattr(obj, name)))


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class LoraConfig:
  """Low-rank update W + (alpha / r) * A @ B on the matched projections.

  `use_rslora` scales by alpha / sqrt(r) (rank-stabilised LoRA). A is
  initialised like Hugging Face `peft` (Kaiming-uniform), B with zeros, so
  training starts from the base model exactly.
  """
  rank: int = 8
  alpha: float = 8.0
  dropout: float = 0.0
  target_modules: Tuple[str, ...] = ('query', 'value')
  use_rslora: bool = False

  def __post_init__(self):
    _tuple(self, 'target_modules')
    if self.rank < 1:
      raise errors.UserError(f'peft.LoraConfig.rank must be >= 1, got '
                             f'{self.rank}.')
    if not 0.0 <= self.dropout < 1.0:
      raise errors.UserError(f'peft.LoraConfig.dropout must be in [0, 1), '
                             f'got {self.dropout}.')

  @property
  def scaling(self) -> float:
    return self.alpha / (self.rank ** 0.5 if self.use_rslora else self.rank)


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class IA3Config:
  """(IA)^3: learned vectors (initialised to ones) that rescale activations.

  Matched projections listed in `feedforward_modules` have their *input*
  scaled (the MLP's intermediate activation, in front of `wo`); the others
  their output (keys and values).
  """
  target_modules: Tuple[str, ...] = ('key', 'value', 'mlp/wo')
  feedforward_modules: Tuple[str, ...] = ('mlp/wo',)

  def __post_init__(self):
    _tuple(self, 'target_modules')
    _tuple(self, 'feedforward_modules')


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class BitFitConfig:
  """Bias terms only. Our models have no biases, so every matched projection
  gets a zero-initialised bias (the model starts unchanged)."""
  target_modules: Tuple[str, ...] = ('.',)

  def __post_init__(self):
    _tuple(self, 'target_modules')


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class AdapterConfig:
  """Bottleneck adapters: x + up(act(down(x))), up initialised to zeros.

  'houlsby' places one after the attention block and one after the MLP
  block of every layer; 'pfeiffer' only after the MLP block.
  """
  bottleneck_dim: int = 64
  placement: str = 'houlsby'
  activation: str = 'relu'

  def __post_init__(self):
    if self.placement not in ('houlsby', 'pfeiffer'):
      raise errors.UserError(
          f"peft.AdapterConfig.placement={self.placement!r}; expected "
          "'houlsby' or 'pfeiffer'.")
    if self.bottleneck_dim < 1:
      raise errors.UserError('peft.AdapterConfig.bottleneck_dim must be >= 1,'
                             f' got {self.bottleneck_dim}.')


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class PromptTuningConfig:
  """A trained soft prompt prepended to the input embeddings.

  `init`: 'random', 'vocab' (rows of the embedding matrix drawn at random)
  or 'text' (the embeddings of `init_text`'s tokens, repeated to length).
  The model wrapper tokenises `init_text` with the model's vocabulary into
  `init_token_ids` (or set the ids directly).
  `t5_decoder_prompt`: T5 also holds an (unused) decoder prompt of the same
  size, as Hugging Face `peft` does for sequence-to-sequence models
  (`num_transformer_submodules=2`), so that adapters and parameter counts
  match `peft`'s one to one; False leaves it out.
  """
  num_virtual_tokens: int = 20
  init: str = 'random'
  init_text: Optional[str] = None
  init_token_ids: Tuple[int, ...] = ()
  t5_decoder_prompt: bool = True

  def __post_init__(self):
    _tuple(self, 'init_token_ids')
    if self.init not in ('random', 'vocab', 'text'):
      raise errors.UserError(f"peft.PromptTuningConfig.init={self.init!r}; "
                             "expected 'random', 'vocab' or 'text'.")
    if self.init == 'text' and not (self.init_text or self.init_token_ids):
      raise errors.UserError("peft.PromptTuningConfig.init='text' needs "
                             'init_text (or init_token_ids).')
    if self.num_virtual_tokens < 1:
      raise errors.UserError('peft.PromptTuningConfig.num_virtual_tokens must'
                             f' be >= 1, got {self.num_virtual_tokens}.')


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class PrefixTuningConfig:
  """Trained key/value prefixes in every attention layer.

  With `reparameterize`, the prefixes are produced from a small embedding by
  a two-layer MLP of width `reparam_hidden` during training (Li & Liang);
  `instruct.peft` folds the MLP away after training. Without it this is
  P-tuning v2 (deep prompts in every layer).
  """
  num_virtual_tokens: int = 20
  reparameterize: bool = False
  reparam_hidden: int = 512

  def __post_init__(self):
    if self.num_virtual_tokens < 1:
      raise errors.UserError('peft.PrefixTuningConfig.num_virtual_tokens must'
                             f' be >= 1, got {self.num_virtual_tokens}.')


@gin.configurable(module='peft')
@dataclasses.dataclass(frozen=True)
class PeftConfig:
  """The methods in use; any that is None is off.

  `frozen_dtype='bfloat16'` holds the frozen base weights in bfloat16.
  `train_patterns`: extra base parameters to train, as regexes over the
  '/'-joined parameter path (e.g. 'layer_norm' to train the norms too).
  """
  lora: Optional[LoraConfig] = None
  ia3: Optional[IA3Config] = None
  bitfit: Optional[BitFitConfig] = None
  adapter: Optional[AdapterConfig] = None
  prompt_tuning: Optional[PromptTuningConfig] = None
  prefix_tuning: Optional[PrefixTuningConfig] = None
  frozen_dtype: str = 'float32'
  train_patterns: Tuple[str, ...] = ()

  def __post_init__(self):
    _tuple(self, 'train_patterns')
    used = self.methods
    if not used and not self.train_patterns:
      raise errors.UserError(
          'peft.PeftConfig names no method: set one of '
          f'{", ".join("peft.PeftConfig." + m for m in METHODS)} (or include'
          ' one of gin_configs/peft/*.gin).')
    prompts = [m for m in used if m in PROMPT_METHODS]
    if len(prompts) > 1:
      raise errors.UserError(
          f'peft.PeftConfig: {" and ".join(prompts)} cannot be combined: both'
          ' prepend virtual tokens, and the positions and masks of one would '
          'shift the other. Pick one.')
    if self.frozen_dtype not in ('float32', 'bfloat16'):
      raise errors.UserError(
          f"peft.PeftConfig.frozen_dtype={self.frozen_dtype!r}; expected "
          "'float32' or 'bfloat16'.")

  @property
  def methods(self) -> Tuple[str, ...]:
    return tuple(m for m in METHODS if getattr(self, m) is not None)

  @property
  def num_virtual_tokens(self) -> int:
    """Virtual tokens prepended to the input (prompt tuning), else 0."""
    if self.prompt_tuning is not None:
      return self.prompt_tuning.num_virtual_tokens
    return 0
