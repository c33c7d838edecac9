"""Prompt-level PEFT methods: prompt tuning, prefix tuning and P-tuning v2.

Prompt tuning (Lester et al.) prepends `n` trained vectors to the input
embeddings: `peft_prompt` [n, E] under the encoder (T5) or decoder (Llama)
scope. They are virtual tokens at positions 0..n-1; the real tokens follow
at n, n+1, ... (Hugging Face `peft`'s layout). T5 also holds a decoder
prompt of the same size because `peft` does for sequence-to-sequence models
(`num_transformer_submodules=2`); like `peft`'s forward pass, ours does not
use it (`PromptTuningConfig.t5_decoder_prompt=False` leaves it out).

Prefix tuning (Li & Liang) and P-tuning v2 give attention layers `n` trained
keys and values, `peft_prefix_key` / `peft_prefix_value`
[n, kv_heads * head_dim] in the attention's scope. They are like a key/value
cache filled before the input: Llama's prefix keys are not rotated and the
real tokens' rotary positions start at n, T5's relative position biases put
the prefix at positions 0..n-1. Which attentions get a prefix follows
`peft` with `transformers`: every Llama layer; T5's decoder self-attention
only (the encoder and the cross-attention get none).

With `PrefixTuningConfig.reparameterize`, one top-level module
`peft_prefix_reparam` (an embedding [n, E] and a two-layer tanh MLP, as
`peft`'s `prefix_projection`) produces every layer's prefix during
training; `fold_prefix_reparam` replaces it by the prefixes it produces, and
the folded model computes the same function.
"""

import dataclasses
import math
import re
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from instruct import errors
from instruct.peft import core

Array = jax.Array
Path = Tuple[str, ...]

PROMPT = 'peft_prompt'
PREFIX_KEY = 'peft_prefix_key'
PREFIX_VALUE = 'peft_prefix_value'
REPARAM = 'peft_prefix_reparam'
_LAYER = re.compile(r'^layers_(\d+)$')


# -----------------------------------------------------------------------------
# Which method is on.
# -----------------------------------------------------------------------------
def prompt_tuning(peft_config) -> Optional[Any]:
  """The `PromptTuningConfig` in use, or None."""
  return None if peft_config is None else peft_config.prompt_tuning


def prefix_tuning(peft_config) -> Optional[Any]:
  """The `PrefixTuningConfig` in use, or None."""
  return None if peft_config is None else peft_config.prefix_tuning


def num_prompt_tokens(peft_config) -> int:
  """Virtual tokens prepended to the input sequence (prompt tuning), else 0."""
  config = prompt_tuning(peft_config)
  return 0 if config is None else config.num_virtual_tokens


def num_prefix_tokens(peft_config) -> int:
  """Prefix keys/values each attention with a prefix gets, else 0."""
  config = prefix_tuning(peft_config)
  return 0 if config is None else config.num_virtual_tokens


def position_offset(peft_config) -> int:
  """How far the real tokens' positions move: n for either method."""
  return num_prompt_tokens(peft_config) + num_prefix_tokens(peft_config)


# -----------------------------------------------------------------------------
# Soft prompts.
# -----------------------------------------------------------------------------
def init_token_ids(config, num_ids: int, vocab_size: int) -> np.ndarray:
  """Token ids whose embeddings initialise `num_ids` prompt rows ('text').

  As `peft`: the text's ids are truncated or repeated to length.
  """
  ids = list(config.init_token_ids or ())
  if not ids:
    raise errors.UserError(
        "peft.PromptTuningConfig.init='text' needs the text's token ids: "
        'build the model through EncoderDecoderModel / DecoderOnlyModel '
        '(which tokenise init_text with the model vocabulary) or set '
        'peft.PromptTuningConfig.init_token_ids.')
  bad = [i for i in ids if not 0 <= i < vocab_size]
  if bad:
    raise errors.UserError(
        f'peft.PromptTuningConfig.init_token_ids holds id {bad[0]}, outside '
        f'the vocabulary of {vocab_size}.')
  ids = (ids * math.ceil(num_ids / len(ids)))[:num_ids]
  return np.asarray(ids, np.int32)


def soft_prompt_init(config, embedding_VE: Callable[[], Array],
                     row_offset: int = 0) -> Callable[..., Array]:
  """Initializer of a soft prompt [n, E] (`PromptTuningConfig.init`).

  'random' draws N(0, 1) as `peft`'s RANDOM init (an `nn.Embedding`);
  'vocab' copies rows of the embedding matrix at random token ids; 'text'
  copies the rows of `init_token_ids` (rows `row_offset`.. of the repeated
  ids, so T5's decoder prompt continues where the encoder's stopped).

  Args:
    config: the `PromptTuningConfig`.
    embedding_VE: returns the token embedding matrix [V, E] (called only by
      the 'vocab' and 'text' inits).
    row_offset: first row of the repeated text ids this prompt takes.
  """
  def init(key, shape, dtype=jnp.float32):
    if config.init == 'random':
      return jax.random.normal(key, shape, dtype)
    table = jnp.asarray(embedding_VE(), dtype)
    if config.init == 'vocab':
      ids = jax.random.randint(key, (shape[0],), 0, table.shape[0])
    else:
      ids = init_token_ids(config, row_offset + shape[0],
                           table.shape[0])[row_offset:]
    return jnp.take(table, jnp.asarray(ids), axis=0)
  return init


def soft_prompt(module: nn.Module, config, emb_dim: int,
                embedding_VE: Callable[[], Array], name: str = PROMPT,
                row_offset: int = 0) -> Array:
  """Declares (or reads) a soft prompt [n, E] in `module`'s scope."""
  return module.param(
      name, nn.with_logical_partitioning(
          soft_prompt_init(config, embedding_VE, row_offset),
          ('prefix_length', 'embed')),
      (config.num_virtual_tokens, emb_dim), jnp.float32)


def with_init_text(module: nn.Module, vocabulary) -> nn.Module:
  """`module` with `init_text` tokenised into `init_token_ids`.

  Prompt tuning initialised from a text needs the model's vocabulary, which
  only the model wrapper knows; the ids become part of the (hashable)
  config. Tokenised as `peft` does: the vocabulary's own encoding, plus EOS
  for a T5-style vocabulary whose tokenizer appends it.
  """
  cfg = getattr(module, 'config', None)
  pt = prompt_tuning(getattr(cfg, 'peft', None))
  if pt is None or pt.init != 'text' or pt.init_token_ids:
    return module
  ids = [int(i) for i in vocabulary.encode(pt.init_text)]
  if not ids:
    raise errors.UserError(
        f'peft.PromptTuningConfig.init_text={pt.init_text!r} encodes to no '
        'tokens with the model vocabulary.')
  pt = dataclasses.replace(pt, init_token_ids=tuple(ids))
  peft_config = dataclasses.replace(cfg.peft, prompt_tuning=pt)
  return module.clone(config=dataclasses.replace(cfg, peft=peft_config))


def prompt_causal_mask(mask_B1LL: Array, num_virtual: int) -> Array:
  """Extends a [B, 1, L, L] mask to n virtual tokens in front of the sequence.

  Virtual tokens see the earlier virtual tokens only (as in a causal model
  fed the prompt first); every real token sees every virtual token whatever
  its packed segment, so a packed example sees what it would alone.
  """
  batch, _, length, _ = mask_B1LL.shape
  n = num_virtual
  causal_nn = jnp.tril(jnp.ones((n, n), bool))
  top = jnp.concatenate([causal_nn, jnp.zeros((n, length), bool)], axis=1)
  top = jnp.broadcast_to(top[None, None], (batch, 1, n, n + length))
  bottom = jnp.concatenate(
      [jnp.ones((batch, 1, length, n), bool), mask_B1LL.astype(bool)], axis=3)
  return jnp.concatenate([top, bottom], axis=2)


# -----------------------------------------------------------------------------
# Prefixes.
# -----------------------------------------------------------------------------
class PrefixReparam(nn.Module):
  """Produces every layer's prefixes: tanh MLP on a [n, kv] embedding.

  As `peft`'s `PrefixEncoder` with `prefix_projection` (whose embedding
  width, `token_dim`, is kv_heads * head_dim): output columns are laid out
  layer by layer, key then value; layer l's key is columns
  [2l * kv, (2l + 1) * kv), its value the next kv columns.
  """
  num_virtual_tokens: int
  hidden: int
  num_layers: int
  kv_dim: int

  @nn.compact
  def __call__(self) -> Array:
    params = {
        'embedding': self.param(
            'embedding', nn.with_logical_partitioning(
                nn.initializers.normal(1.0), ('prefix_length', 'embed')),
            (self.num_virtual_tokens, self.kv_dim), jnp.float32)}
    for name, (fan_in, fan_out) in (
        ('dense_0', (self.kv_dim, self.hidden)),
        ('dense_1', (self.hidden, 2 * self.num_layers * self.kv_dim))):
      bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default init.
      init = lambda k, s, d=jnp.float32, b=bound: jax.random.uniform(
          k, s, d, -b, b)
      params[name] = {
          'kernel': self.param(f'{name}_kernel', nn.with_logical_partitioning(
              init, (None, None)), (fan_in, fan_out), jnp.float32),
          'bias': self.param(f'{name}_bias', nn.with_logical_partitioning(
              init, (None,)), (fan_out,), jnp.float32)}
    return reparam_forward(_as_reparam_tree(params))


def _as_reparam_tree(flat_or_nested: Mapping[str, Any]) -> Dict[str, Any]:
  """{'embedding', 'dense_0': {kernel, bias}, ...} from stored parameters."""
  if 'dense_0' in flat_or_nested:
    return dict(flat_or_nested)
  return {'embedding': flat_or_nested['embedding'],
          'dense_0': {'kernel': flat_or_nested['dense_0_kernel'],
                      'bias': flat_or_nested['dense_0_bias']},
          'dense_1': {'kernel': flat_or_nested['dense_1_kernel'],
                      'bias': flat_or_nested['dense_1_bias']}}


def reparam_forward(tree: Mapping[str, Any],
                    columns: Optional[slice] = None) -> Array:
  """Prefix table [n, 2 * layers * kv] (or just `columns` of it)."""
  emb = jnp.asarray(tree['embedding'], jnp.float32)
  h = jnp.tanh(emb @ tree['dense_0']['kernel'] +
               jnp.asarray(tree['dense_0']['bias'])[None, :])
  kernel, bias = tree['dense_1']['kernel'], jnp.asarray(tree['dense_1']['bias'])
  if columns is not None:
    kernel, bias = kernel[:, columns], bias[columns]
  return h @ kernel + bias[None, :]


def layer_index(module: nn.Module) -> int:
  """The `layers_<i>` index in an attention module's scope path."""
  for name in reversed(module.scope.path):
    m = _LAYER.match(str(name))
    if m:
      return int(m.group(1))
  raise ValueError(f'No layers_<i> in the module path {module.scope.path}.')


def attention_prefix(module: nn.Module, kv_heads: int,
                     head_dim: int) -> Tuple[Array, Array]:
  """This attention's prefix keys and values, each [n, kv_heads, head_dim].

  Without reparameterisation they are the module's own parameters. With it,
  they are computed from the top-level `peft_prefix_reparam` parameters
  (read from the root scope: the network calls that module first, see
  `reparam_module`), only this layer's columns of the last layer.
  """
  config = module.config.peft.prefix_tuning if hasattr(
      module, 'config') else module.peft.prefix_tuning
  n, kv_dim = config.num_virtual_tokens, kv_heads * head_dim
  if not config.reparameterize:
    init = nn.with_logical_partitioning(nn.initializers.normal(1.0),
                                        ('prefix_length', 'joined_kv'))
    k = module.param(PREFIX_KEY, init, (n, kv_dim), jnp.float32)
    v = module.param(PREFIX_VALUE, init, (n, kv_dim), jnp.float32)
  else:
    root = module.scope.root
    stored = root.get_variable('params', REPARAM)
    if stored is None:
      raise ValueError(
          f'{REPARAM} parameters are missing: the network must declare them '
          '(prompts.reparam_module) before its attention layers run.')
    stored = flax.core.meta.unbox(stored)
    layer = layer_index(module)
    start = 2 * layer * kv_dim
    kv = reparam_forward(_as_reparam_tree(stored),
                         slice(start, start + 2 * kv_dim))
    k, v = kv[:, :kv_dim], kv[:, kv_dim:]
  return (k.reshape(n, kv_heads, head_dim), v.reshape(n, kv_heads, head_dim))


def prepend_prefix(prefix_k_NHD, prefix_v_NHD, keys, values, mask, *,
                   key_spec: str = 'bknd', value_spec: str = 'bknd'):
  """Puts n prefix keys/values before every row's keys; all are visible.

  Keys and values are laid out as their specs say (b batch, k keys, n heads,
  d head dimension): [B, K, H, D] by default, a Llama cache otherwise. The
  prefix is [n, H, D] either way.
  """
  batch = keys.shape[0]
  n = prefix_k_NHD.shape[0]

  def prepend(prefix_NHD, x, spec):
    # The prefix in the spec's order, without the batch; then broadcast.
    prefix = jnp.transpose(prefix_NHD, ['knd'.index(c) for c in spec[1:]])
    prefix = jnp.broadcast_to(prefix.astype(x.dtype)[None],
                              (batch,) + prefix.shape)
    return jnp.concatenate([prefix, x], axis=spec.index('k'))

  keys = prepend(prefix_k_NHD, keys, key_spec)
  values = prepend(prefix_v_NHD, values, value_spec)
  if mask is not None:
    mask = jnp.concatenate(
        [jnp.ones(mask.shape[:3] + (n,), bool), mask.astype(bool)], axis=-1)
  return keys, values, mask


def reparam_module(peft_config, num_layers: int,
                   kv_dim: int) -> Optional[PrefixReparam]:
  """The `PrefixReparam` a network holds as `peft_prefix_reparam`, or None.

  The network assigns it in `setup` under that name and calls it before its
  attention layers run (they read its parameters from the root scope).
  """
  config = prefix_tuning(peft_config)
  if config is None or not config.reparameterize:
    return None
  return PrefixReparam(config.num_virtual_tokens, config.reparam_hidden,
                       num_layers, kv_dim)


def prefix_paths(params: Mapping[str, Any]) -> Dict[int, Path]:
  """{layer index: path of the attention scope that takes a prefix}.

  The decoder self-attention of every layer, in both families (T5's encoder
  and cross-attention get no prefix, as with `peft`).
  """
  out = {}
  for key in params.get('decoder', {}):
    m = _LAYER.match(key)
    if m and 'self_attention' in params['decoder'][key]:
      out[int(m.group(1))] = ('decoder', key, 'self_attention')
  return dict(sorted(out.items()))


def fold_prefix_reparam(params: Mapping[str, Any], peft_config
                        ) -> Tuple[Dict[str, Any], Any]:
  """Replaces the reparameterisation MLP by the prefixes it produces.

  Args:
    params: parameters (unboxed, without a 'params' key) holding
      `peft_prefix_reparam`.
    peft_config: the model's `PeftConfig` (prefix tuning, reparameterize).

  Returns:
    (params with `peft_prefix_key` / `peft_prefix_value` in every prefixed
    attention and no `peft_prefix_reparam`, the `PeftConfig` with
    `reparameterize=False`). A model built with that config gives the same
    outputs as the unfolded one.
  """
  config = prefix_tuning(peft_config)
  if config is None or not config.reparameterize:
    raise errors.UserError(
        'fold_prefix_reparam: the PeftConfig has no prefix tuning with '
        'reparameterize=True; nothing to fold.')
  params = flax.core.meta.unbox(flax.core.unfreeze(params))
  if REPARAM not in params:
    raise errors.UserError(
        f'fold_prefix_reparam: the parameters hold no {REPARAM} (already '
        'folded, or trained without reparameterisation?).')
  tree = _as_reparam_tree(params[REPARAM])
  table = np.asarray(reparam_forward(tree), np.float32)
  paths = prefix_paths(params)
  kv_dim = table.shape[1] // (2 * len(paths)) if paths else 0
  if not paths or table.shape[1] != 2 * len(paths) * kv_dim:
    raise errors.UserError(
        f'fold_prefix_reparam: {REPARAM} produces {table.shape[1]} columns, '
        f'which do not split into key and value for {len(paths)} layers.')
  flat = core.flatten(params)
  flat = {p: v for p, v in flat.items() if p[0] != REPARAM}
  for layer, path in paths.items():
    start = 2 * layer * kv_dim
    flat[path + (PREFIX_KEY,)] = table[:, start:start + kv_dim].copy()
    flat[path + (PREFIX_VALUE,)] = table[:, start + kv_dim:
                                         start + 2 * kv_dim].copy()
  folded = dataclasses.replace(
      peft_config,
      prefix_tuning=dataclasses.replace(config, reparameterize=False))
  return core.unflatten(flat), folded


def prefix_table(params: Mapping[str, Any]) -> Tuple[np.ndarray, int]:
  """(table [n, 2 * layers * kv] in reparam column order, kv) of folded
  or unfolded prefix parameters."""
  params = flax.core.meta.unbox(flax.core.unfreeze(params))
  if REPARAM in params:
    table = np.asarray(reparam_forward(_as_reparam_tree(params[REPARAM])))
    layers = len(prefix_paths(params))
    return table, table.shape[1] // (2 * layers)
  columns = []
  for _, path in prefix_paths(params).items():
    node = params
    for key in path:
      node = node[key]
    if PREFIX_KEY not in node:
      raise errors.UserError(f'{"/".join(path)} holds no {PREFIX_KEY}: the '
                             'parameters are not prefix-tuned.')
    columns += [np.asarray(node[PREFIX_KEY]), np.asarray(node[PREFIX_VALUE])]
  return np.concatenate(columns, axis=1), columns[0].shape[1]

