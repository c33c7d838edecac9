"""The model families: one registry entry per architecture.

A family is everything the rest of the code needs to know about an
architecture, in one `Family` record: its config and network classes, the
model class wrapping the network (encoder-decoder or decoder-only), its
Hugging Face mapping (config and weights, both directions, plus the
`model_type` / `architectures` values of a `config.json`), its GGUF reader
if it has one, and how to recognise it from a config object, a HF
`config.json` or a bare parameter tree. `instruct.checkpoint_formats` and
`instruct.configurables` look families up here instead of naming them, so a
new architecture is added by writing its modules and one `register` call at
the bottom of this file (see docs/design.md, "How to add a model family").

Nothing here imports torch or transformers at module load; HF config
classes are named and imported when a HF directory is read.
"""

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import flax
from flax import traverse_util

from instruct.errors import UserError
from instruct.models import decoder_only
from instruct.models import encoder_decoder
from instruct.models import hf_llama
from instruct.models import hf_qwen2
from instruct.models import hf_t5
from instruct.models import llama
from instruct.models import qwen2
from instruct.models import t5

Path = Tuple[str, ...]
NameTable = List[Tuple[Path, str, bool]]


@dataclasses.dataclass(frozen=True)
class Family:
  """One model family.

  Attributes:
    name: our name ('t5', 'llama', ...); `Imported.architecture` and
      `checkpoint_formats.config_kind` return it.
    config_cls: the network's config dataclass.
    network_cls: the flax module built from a `config_cls` instance.
    model_cls: the model class wrapping the network (losses, decoding).
    encoder_decoder: whether the network has an encoder (seq2seq) or is a
      decoder-only (causal) LM.
    hf_model_types: `config.json` `model_type` values this family reads;
      the first is the one written.
    hf_architectures: `config.json` `architectures` values; the first is
      written, any is recognised when `model_type` is absent.
    hf_config_class: name of the `transformers` config class that parses
      this family's `config.json`.
    config_from_hf: (HF config object) -> our config.
    hf_config_kwargs: (our config, **token ids) -> `config.json` fields
      (without `model_type`/`architectures`); token ids are `bos_token_id`
      and `eos_token_id` when known, for families that record them.
    name_table: (config) -> [(our path, HF tensor name, transposed?)].
    expected_shapes: (config) -> {our path: shape}.
    params_from_hf: (HF tensors, config) -> our parameter tree.
    params_to_hf: (params, config) -> HF state dict (numpy), aliases
      included.
    hf_aliases: (config) -> HF tensor names that repeat another tensor
      (tied embeddings): ignored on import, left out on export.
    matches_params: (flat parameter tree) -> whether a tree is this
      family's; families' predicates are mutually exclusive.
    config_from_params: (params) -> config read off the tree's shapes, for
      families whose tree determines the config; None otherwise.
    gguf_architectures: `general.architecture` values of GGUF files this
      family reads (with `gguf.load_gguf`).
    gin_names: gin names of (config_cls, network_cls) under `network.`.
  """
  name: str
  config_cls: type
  network_cls: type
  model_cls: type
  encoder_decoder: bool
  hf_model_types: Tuple[str, ...]
  hf_architectures: Tuple[str, ...]
  hf_config_class: str
  config_from_hf: Callable[[Any], Any]
  hf_config_kwargs: Callable[..., Dict[str, Any]]
  name_table: Callable[[Any], NameTable]
  expected_shapes: Callable[[Any], Dict[Path, Tuple[int, ...]]]
  params_from_hf: Callable[[Mapping[str, Any], Any], Dict[str, Any]]
  params_to_hf: Callable[[Any, Any], Dict[str, Any]]
  hf_aliases: Callable[[Any], Sequence[str]]
  matches_params: Callable[[Mapping[Path, Any]], bool]
  config_from_params: Optional[Callable[[Any], Any]] = None
  gguf_architectures: Tuple[str, ...] = ()
  gin_names: Tuple[str, str] = ('', '')

  def hf_config_dict(self, config, **token_ids) -> Dict[str, Any]:
    """The `config.json` contents transformers loads this config from."""
    return {'architectures': [self.hf_architectures[0]],
            'model_type': self.hf_model_types[0], 'torch_dtype': 'float32',
            **self.hf_config_kwargs(config, **token_ids)}

  def config_from_hf_json(self, raw: Mapping[str, Any], source: str = ''):
    """Our config from the dict of a `config.json` (UserError if invalid)."""
    import transformers  # pylint: disable=g-import-not-at-top
    try:
      hf_config = getattr(transformers, self.hf_config_class).from_dict(
          dict(raw))
      return self.config_from_hf(hf_config)
    except (ValueError, TypeError) as e:
      raise UserError(f'{source or "config.json"}: {e}') from e


_FAMILIES: Dict[str, Family] = {}


def register(family: Family) -> Family:
  """Adds a family; its name and HF `model_type`s must be new."""
  if family.name in _FAMILIES:
    raise ValueError(f'Model family {family.name!r} is already registered.')
  taken = {t: f.name for f in _FAMILIES.values() for t in f.hf_model_types}
  for t in family.hf_model_types:
    if t in taken:
      raise ValueError(f'HF model_type {t!r} of family {family.name!r} is '
                       f'already read by family {taken[t]!r}.')
  _FAMILIES[family.name] = family
  return family


def names() -> List[str]:
  return list(_FAMILIES)


def all_families() -> List[Family]:
  return list(_FAMILIES.values())


def get(name: str) -> Family:
  try:
    return _FAMILIES[name]
  except KeyError:
    raise UserError(f'Unknown model family {name!r}; known: '
                    f'{", ".join(_FAMILIES)}.') from None


def for_config(config: Any) -> Family:
  """The family of a config object (its most specific registered class)."""
  by_cls = {f.config_cls: f for f in _FAMILIES.values()}
  for cls in type(config).__mro__:
    if cls in by_cls:
      return by_cls[cls]
  raise UserError(
      f'Unsupported model config {type(config).__name__}; expected one of '
      f'{", ".join(f.config_cls.__name__ for f in _FAMILIES.values())}.')


def for_hf_config(raw: Mapping[str, Any], source: str = '') -> Family:
  """The family that reads a HF `config.json` (given as a dict)."""
  kind = raw.get('model_type')
  archs = raw.get('architectures') or ()
  for f in _FAMILIES.values():
    if kind in f.hf_model_types or kind is None and any(
        a in f.hf_architectures for a in archs):
      return f
  supported = [t for f in _FAMILIES.values() for t in f.hf_model_types]
  raise UserError(f'{source or "config.json"}: model_type {kind!r} is not '
                  f'supported; expected one of '
                  f'{", ".join(repr(t) for t in supported)}.')


def for_params(params: Mapping[str, Any]) -> Optional[Family]:
  """The family whose parameter tree `params` is, or None if none matches."""
  flat = traverse_util.flatten_dict(flax.core.unfreeze(params))
  for f in _FAMILIES.values():
    if f.matches_params(flat):
      return f
  return None


def for_gguf_architecture(arch: str) -> Optional[Family]:
  for f in _FAMILIES.values():
    if arch in f.gguf_architectures:
      return f
  return None


# -----------------------------------------------------------------------------
# The built-in families.
# -----------------------------------------------------------------------------
def _is_t5_tree(flat: Mapping[Path, Any]) -> bool:
  return any(p[0] == 'encoder' for p in flat) and any(
      p[0] == 'decoder' for p in flat)


def _is_decoder_only_tree(flat: Mapping[Path, Any]) -> bool:
  tops = {p[0] for p in flat}
  return 'decoder' in tops and 'token_embedder' in tops and (
      'encoder' not in tops)


def _t5_aliases(config: t5.T5Config) -> List[str]:
  aliases = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight']
  if config.logits_via_embedding:
    aliases.append('lm_head.weight')
  return aliases


def _llama_aliases(config: llama.LlamaConfig) -> List[str]:
  return ['lm_head.weight'] if config.tie_word_embeddings else []


def _t5_hf_kwargs(config: t5.T5Config, **unused_token_ids) -> Dict[str, Any]:
  # HF's T5Config fixes pad/eos/decoder start ids itself (0, 1, 0).
  return dict(hf_t5.hf_t5_config_kwargs(config), is_encoder_decoder=True)


def _llama_from_hf(state_dict, config):
  # Tied copies and rotary buffers are filtered by the caller.
  return hf_llama.params_from_hf_llama(state_dict, config, strict=False)


T5 = register(Family(
    name='t5', config_cls=t5.T5Config, network_cls=t5.Transformer,
    model_cls=encoder_decoder.EncoderDecoderModel, encoder_decoder=True,
    hf_model_types=('t5', 'mt5'),
    hf_architectures=('T5ForConditionalGeneration',),
    hf_config_class='T5Config',
    config_from_hf=lambda c: hf_t5.t5_config_from_hf(c, dropout_rate=0.0),
    hf_config_kwargs=_t5_hf_kwargs, name_table=hf_t5.name_table,
    expected_shapes=hf_t5.expected_shapes,
    params_from_hf=hf_t5.params_from_hf_t5,
    params_to_hf=hf_t5.params_to_hf_t5, hf_aliases=_t5_aliases,
    matches_params=_is_t5_tree, config_from_params=t5.config_from_params,
    gin_names=('T5Config', 'Transformer')))

LLAMA = register(Family(
    name='llama', config_cls=llama.LlamaConfig,
    network_cls=llama.LlamaTransformer,
    model_cls=decoder_only.DecoderOnlyModel, encoder_decoder=False,
    hf_model_types=('llama', 'mistral'),
    hf_architectures=('LlamaForCausalLM',), hf_config_class='LlamaConfig',
    config_from_hf=hf_llama.llama_config_from_hf,
    hf_config_kwargs=hf_llama.hf_llama_config_kwargs,
    name_table=hf_llama.name_table, expected_shapes=hf_llama.expected_shapes,
    params_from_hf=_llama_from_hf, params_to_hf=hf_llama.params_to_hf_llama,
    hf_aliases=_llama_aliases,
    # Llama has no biases: a decoder-only tree without any `bias` leaf.
    matches_params=lambda flat: _is_decoder_only_tree(flat) and not any(
        p[-1] == 'bias' for p in flat),
    gguf_architectures=('llama',),
    gin_names=('LlamaConfig', 'LlamaTransformer')))

QWEN2 = register(Family(
    name='qwen2', config_cls=qwen2.Qwen2Config,
    network_cls=llama.LlamaTransformer,
    model_cls=decoder_only.DecoderOnlyModel, encoder_decoder=False,
    hf_model_types=('qwen2',), hf_architectures=('Qwen2ForCausalLM',),
    hf_config_class='Qwen2Config',
    config_from_hf=hf_qwen2.qwen2_config_from_hf,
    hf_config_kwargs=hf_qwen2.hf_qwen2_config_kwargs,
    name_table=hf_llama.name_table, expected_shapes=hf_llama.expected_shapes,
    params_from_hf=_llama_from_hf, params_to_hf=hf_llama.params_to_hf_llama,
    hf_aliases=_llama_aliases,
    # Llama's tree with biased query projections.
    matches_params=lambda flat: _is_decoder_only_tree(flat) and (
        'decoder', 'layers_0', 'self_attention', 'query', 'bias') in flat,
    gin_names=('Qwen2Config', 'LlamaTransformer')))
