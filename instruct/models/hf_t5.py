"""Weight conversion between Hugging Face `T5ForConditionalGeneration` and us.

Both directions read one table of (our path, HF name, transposed?) entries,
so they cannot drift apart. HF's `nn.Linear` stores [out, in] where our
kernels are [in, out]; HF keeps each stack's relative attention bias in the
first block as an embedding [buckets, heads], ours is [heads, buckets].
Nothing here imports torch or transformers: state dicts may hold numpy
arrays or torch tensors, and `hf_t5_config_kwargs` returns plain keyword
arguments for `transformers.T5Config`.
"""

from typing import Any, Dict, List, Mapping, Tuple

import flax
import numpy as np

from instruct.models import t5

Path = Tuple[str, ...]

# HF names the activation of the MLP; ours are flax.linen function names.
_HF_ACTIVATIONS = {'gelu_new': 'gelu', 'gelu_pytorch_tanh': 'gelu',
                   'relu': 'relu', 'silu': 'silu'}
_FEED_FORWARD_PROJ = {('gelu', 'linear'): 'gated-gelu',
                      ('relu', 'linear'): 'gated-relu',
                      ('silu', 'linear'): 'gated-silu',
                      ('relu',): 'relu', ('silu',): 'silu'}


def t5_config_from_hf(hf_config: Any, **overrides) -> t5.T5Config:
  """Builds our `T5Config` from a `transformers.T5Config`.

  Args:
    hf_config: a `transformers.T5Config` (or anything with its attributes).
    **overrides: fields to set differently, e.g. `dtype='bfloat16'`.

  Returns:
    The matching `T5Config`.
  """
  act = hf_config.dense_act_fn
  if act not in _HF_ACTIVATIONS:
    raise ValueError(
        f'HF T5Config.feed_forward_proj={hf_config.feed_forward_proj!r} uses '
        f'activation {act!r}; supported: {sorted(_HF_ACTIVATIONS)}.')
  activations = ((_HF_ACTIVATIONS[act], 'linear') if hf_config.is_gated_act
                 else (_HF_ACTIVATIONS[act],))
  fields = dict(
      vocab_size=hf_config.vocab_size,
      emb_dim=hf_config.d_model,
      num_heads=hf_config.num_heads,
      num_encoder_layers=hf_config.num_layers,
      num_decoder_layers=hf_config.num_decoder_layers,
      head_dim=hf_config.d_kv,
      mlp_dim=hf_config.d_ff,
      mlp_activations=activations,
      dropout_rate=hf_config.dropout_rate,
      logits_via_embedding=bool(hf_config.tie_word_embeddings),
      relative_attention_num_buckets=hf_config.relative_attention_num_buckets,
      relative_attention_max_distance=(
          hf_config.relative_attention_max_distance))
  fields.update(overrides)
  return t5.T5Config(**fields)


def hf_t5_config_kwargs(config: t5.T5Config) -> Dict[str, Any]:
  """Keyword arguments of the `transformers.T5Config` matching `config`."""
  proj = _FEED_FORWARD_PROJ.get(tuple(config.mlp_activations))
  if proj is None:
    raise ValueError(f'T5Config.mlp_activations={config.mlp_activations!r} '
                     f'has no HF equivalent; supported: '
                     f'{sorted(_FEED_FORWARD_PROJ)}.')
  return dict(
      vocab_size=config.vocab_size, d_model=config.emb_dim,
      d_kv=config.head_dim, d_ff=config.mlp_dim,
      num_layers=config.num_encoder_layers,
      num_decoder_layers=config.num_decoder_layers,
      num_heads=config.num_heads, feed_forward_proj=proj,
      tie_word_embeddings=config.logits_via_embedding,
      dropout_rate=config.dropout_rate, layer_norm_epsilon=1e-6,
      relative_attention_num_buckets=config.relative_attention_num_buckets,
      relative_attention_max_distance=config.relative_attention_max_distance,
      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)


def _attention_entries(ours: Path, hf: str) -> List[Tuple[Path, str, bool]]:
  return [(ours + (name, 'kernel'), f'{hf}.{hf_name}.weight', True)
          for name, hf_name in (('query', 'q'), ('key', 'k'), ('value', 'v'),
                                ('out', 'o'))]


def _mlp_entries(config: t5.T5Config, ours: Path,
                 hf: str) -> List[Tuple[Path, str, bool]]:
  names = (['wi'] if len(config.mlp_activations) == 1 else
           [f'wi_{i}' for i in range(len(config.mlp_activations))])
  return [(ours + (name, 'kernel'), f'{hf}.{name}.weight', True)
          for name in names + ['wo']]


def name_table(config: t5.T5Config) -> List[Tuple[Path, str, bool]]:
  """(our parameter path, HF state-dict name, transpose) for every weight."""
  table = [(('token_embedder', 'embedding'), 'shared.weight', False)]
  relpos = 'block.0.layer.0.SelfAttention.relative_attention_bias.weight'
  table.append((('encoder', 'relpos_bias', 'rel_embedding'),
                f'encoder.{relpos}', True))
  for i in range(config.num_encoder_layers):
    ours, hf = ('encoder', f'layers_{i}'), f'encoder.block.{i}.layer'
    table.append((ours + ('pre_attention_layer_norm', 'scale'),
                  f'{hf}.0.layer_norm.weight', False))
    table += _attention_entries(ours + ('attention',), f'{hf}.0.SelfAttention')
    table.append((ours + ('pre_mlp_layer_norm', 'scale'),
                  f'{hf}.1.layer_norm.weight', False))
    table += _mlp_entries(config, ours + ('mlp',), f'{hf}.1.DenseReluDense')
  table.append((('encoder', 'encoder_norm', 'scale'),
                'encoder.final_layer_norm.weight', False))

  table.append((('decoder', 'relpos_bias', 'rel_embedding'),
                f'decoder.{relpos}', True))
  for i in range(config.num_decoder_layers):
    ours, hf = ('decoder', f'layers_{i}'), f'decoder.block.{i}.layer'
    table.append((ours + ('pre_self_attention_layer_norm', 'scale'),
                  f'{hf}.0.layer_norm.weight', False))
    table += _attention_entries(ours + ('self_attention',),
                                f'{hf}.0.SelfAttention')
    table.append((ours + ('pre_cross_attention_layer_norm', 'scale'),
                  f'{hf}.1.layer_norm.weight', False))
    table += _attention_entries(ours + ('encoder_decoder_attention',),
                                f'{hf}.1.EncDecAttention')
    table.append((ours + ('pre_mlp_layer_norm', 'scale'),
                  f'{hf}.2.layer_norm.weight', False))
    table += _mlp_entries(config, ours + ('mlp',), f'{hf}.2.DenseReluDense')
  table.append((('decoder', 'decoder_norm', 'scale'),
                'decoder.final_layer_norm.weight', False))
  if not config.logits_via_embedding:
    table.append((('decoder', 'logits_dense', 'kernel'), 'lm_head.weight',
                  True))
  return table


def _to_numpy(value: Any) -> np.ndarray:
  if hasattr(value, 'detach'):  # torch.Tensor; bfloat16 has no numpy dtype.
    value = value.detach().cpu().float().numpy()
  return np.asarray(value, dtype=np.float32)


def params_from_hf_t5(state_dict: Mapping[str, Any],
                      config: t5.T5Config) -> Dict[str, Any]:
  """Converts a HF T5 state dict into our (unboxed) parameter tree.

  Args:
    state_dict: HF names to arrays (numpy or torch), e.g.
      `model.state_dict()` of a `T5ForConditionalGeneration`.
    config: our config, e.g. from `t5_config_from_hf`; used to check shapes.

  Returns:
    Nested dict of float32 numpy arrays, the 'params' of `t5.Transformer`.
  """
  expected = expected_shapes(config)
  params: Dict[str, Any] = {}
  for path, name, transpose in name_table(config):
    if name not in state_dict:
      raise KeyError(
          f'HF state dict has no {name!r} (needed for {"/".join(path)}); '
          'does the config match the checkpoint (layers, tied embeddings, '
          'feed_forward_proj)?')
    value = _to_numpy(state_dict[name])
    value = np.array(value.T if transpose else value, order='C')
    if value.shape != expected[path]:
      raise ValueError(f'HF weight {name!r} gives {"/".join(path)} shape '
                       f'{value.shape}; config expects {expected[path]}.')
    node = params
    for key in path[:-1]:
      node = node.setdefault(key, {})
    node[path[-1]] = value
  return params


def params_to_hf_t5(params: Any, config: t5.T5Config) -> Dict[str, np.ndarray]:
  """Converts our parameter tree into a HF T5 state dict of numpy arrays.

  The result includes the aliases HF's `state_dict()` lists (the two
  `embed_tokens` and, with tied embeddings, `lm_head`), so that
  `model.load_state_dict({k: torch.from_numpy(v) ...})` accepts it strictly.

  Args:
    params: our parameters (boxed or not, with or without a 'params' key).
    config: the config the parameters were made for.

  Returns:
    Dict of HF names to float32 numpy arrays.
  """
  params = flax.core.meta.unbox(flax.core.unfreeze(params))
  if set(params) == {'params'}:
    params = params['params']
  state_dict = {}
  for path, name, transpose in name_table(config):
    node = params
    for key in path:
      if key not in node:
        raise KeyError(f'Parameter {"/".join(path)} is missing; does the '
                       'config match the parameters?')
      node = node[key]
    value = np.asarray(node, dtype=np.float32)
    # A fresh, writable copy: torch.from_numpy rejects read-only jax buffers.
    state_dict[name] = np.array(value.T if transpose else value, order='C')
  shared = state_dict['shared.weight']
  aliases = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight']
  if config.logits_via_embedding:
    aliases.append('lm_head.weight')
  for alias in aliases:
    state_dict[alias] = shared.copy()
  return state_dict


def expected_shapes(config: t5.T5Config) -> Dict[Path, Tuple[int, ...]]:
  joined = config.num_heads * config.head_dim
  shapes = {}
  for path, _, _ in name_table(config):
    leaf = path[-2]
    if path[0] == 'token_embedder':
      shape = (config.vocab_size, config.emb_dim)
    elif leaf == 'relpos_bias':
      shape = (config.num_heads, config.relative_attention_num_buckets)
    elif path[-1] == 'scale':
      shape = (config.emb_dim,)
    elif leaf in ('query', 'key', 'value'):
      shape = (config.emb_dim, joined)
    elif leaf == 'out':
      shape = (joined, config.emb_dim)
    elif leaf.startswith('wi'):
      shape = (config.emb_dim, config.mlp_dim)
    elif leaf == 'wo':
      shape = (config.mlp_dim, config.emb_dim)
    else:  # logits_dense
      shape = (config.emb_dim, config.vocab_size)
    shapes[path] = shape
  return shapes
