"""Weight conversion between Hugging Face `LlamaForCausalLM` and us.

One table of (our path, HF name, transposed?) entries drives both
directions. HF's `nn.Linear` stores [out, in], our kernels [in, out]; query
and key columns are in the same (rotate-half) order on both sides, so every
matrix is a plain transpose. Nothing here imports torch or transformers:
state dicts may hold numpy arrays or torch tensors, and
`hf_llama_config_kwargs` returns keyword arguments for
`transformers.LlamaConfig`. The tables also serve Qwen2 (`hf_qwen2.py`):
with `config.qkv_bias` they list the query/key/value biases.
"""

from typing import Any, Dict, List, Mapping, Tuple

import flax
import numpy as np

from instruct.models import llama

Path = Tuple[str, ...]


def llama_config_from_hf(hf_config: Any, **overrides) -> llama.LlamaConfig:
  """Builds our `LlamaConfig` from a `transformers.LlamaConfig`.

  Args:
    hf_config: a `transformers.LlamaConfig` (or anything with its fields).
    **overrides: fields to set differently, e.g. `dtype='bfloat16'`.

  Returns:
    The matching `LlamaConfig`.

  Raises:
    ValueError: for features we do not implement (biases, other activations,
      RoPE scalings other than Llama 3's), naming the field.
  """
  act = getattr(hf_config, 'hidden_act', 'silu')
  if act != 'silu':
    raise ValueError(f'HF LlamaConfig.hidden_act={act!r}; only "silu" '
                     '(SwiGLU) is supported.')
  for flag in ('attention_bias', 'mlp_bias'):
    if getattr(hf_config, flag, False):
      raise ValueError(f'HF LlamaConfig.{flag}=True; biases are not '
                       'supported by instruct.models.llama.')
  num_heads = hf_config.num_attention_heads
  head_dim = (getattr(hf_config, 'head_dim', None) or
              hf_config.hidden_size // num_heads)
  fields = dict(
      vocab_size=hf_config.vocab_size,
      emb_dim=hf_config.hidden_size,
      num_heads=num_heads,
      num_kv_heads=(getattr(hf_config, 'num_key_value_heads', None) or
                    num_heads),
      head_dim=head_dim,
      num_layers=hf_config.num_hidden_layers,
      mlp_dim=hf_config.intermediate_size,
      rope_theta=float(getattr(hf_config, 'rope_theta', 10000.0)),
      rms_norm_eps=float(hf_config.rms_norm_eps),
      tie_word_embeddings=bool(getattr(hf_config, 'tie_word_embeddings',
                                       False)),
      dropout_rate=float(getattr(hf_config, 'attention_dropout', 0.0)))
  scaling = getattr(hf_config, 'rope_scaling', None)
  if scaling:
    rope_type = scaling.get('rope_type', scaling.get('type', 'default'))
    if rope_type == 'llama3':
      fields.update(
          rope_type='llama3', rope_scaling_factor=float(scaling['factor']),
          rope_low_freq_factor=float(scaling['low_freq_factor']),
          rope_high_freq_factor=float(scaling['high_freq_factor']),
          rope_original_max_position=int(
              scaling['original_max_position_embeddings']))
    elif rope_type != 'default':
      raise ValueError(f'HF LlamaConfig.rope_scaling={scaling!r}: only '
                       "'llama3' scaling is supported.")
  fields.update(overrides)
  return llama.LlamaConfig(**fields)


def hf_llama_config_kwargs(config: llama.LlamaConfig,
                           **extra) -> Dict[str, Any]:
  """Keyword arguments of the `transformers.LlamaConfig` matching `config`.

  Args:
    config: our config.
    **extra: more HF fields, e.g. `bos_token_id`, `max_position_embeddings`.

  Returns:
    A dict for `transformers.LlamaConfig(**kwargs)`.
  """
  if config.qkv_bias:
    raise ValueError('LlamaConfig.qkv_bias=True has no transformers.'
                     'LlamaConfig equivalent (its attention_bias also biases '
                     'o_proj); use instruct.models.qwen2.Qwen2Config.')
  kwargs = dict(
      vocab_size=config.vocab_size, hidden_size=config.emb_dim,
      intermediate_size=config.mlp_dim,
      num_hidden_layers=config.num_layers,
      num_attention_heads=config.num_heads,
      num_key_value_heads=config.num_kv_heads, head_dim=config.head_dim,
      hidden_act='silu', rms_norm_eps=config.rms_norm_eps,
      rope_theta=config.rope_theta,
      tie_word_embeddings=config.tie_word_embeddings,
      attention_bias=False, mlp_bias=False,
      attention_dropout=config.dropout_rate)
  if config.rope_type == 'llama3':
    kwargs['rope_scaling'] = {
        'rope_type': 'llama3', 'factor': config.rope_scaling_factor,
        'low_freq_factor': config.rope_low_freq_factor,
        'high_freq_factor': config.rope_high_freq_factor,
        'original_max_position_embeddings':
            config.rope_original_max_position}
  kwargs.update(extra)
  return kwargs


def name_table(config: llama.LlamaConfig) -> List[Tuple[Path, str, bool]]:
  """(our parameter path, HF state-dict name, transpose) for every weight."""
  table = [(('token_embedder', 'embedding'), 'model.embed_tokens.weight',
            False)]
  for i in range(config.num_layers):
    ours, hf = ('decoder', f'layers_{i}'), f'model.layers.{i}'
    table.append((ours + ('pre_self_attention_layer_norm', 'scale'),
                  f'{hf}.input_layernorm.weight', False))
    for name, hf_name in (('query', 'q_proj'), ('key', 'k_proj'),
                          ('value', 'v_proj'), ('out', 'o_proj')):
      table.append((ours + ('self_attention', name, 'kernel'),
                    f'{hf}.self_attn.{hf_name}.weight', True))
    if config.qkv_bias:  # Qwen2's attention.
      for name, hf_name in (('query', 'q_proj'), ('key', 'k_proj'),
                            ('value', 'v_proj')):
        table.append((ours + ('self_attention', name, 'bias'),
                      f'{hf}.self_attn.{hf_name}.bias', False))
    table.append((ours + ('pre_mlp_layer_norm', 'scale'),
                  f'{hf}.post_attention_layernorm.weight', False))
    for name, hf_name in (('wi_0', 'gate_proj'), ('wi_1', 'up_proj'),
                          ('wo', 'down_proj')):
      table.append((ours + ('mlp', name, 'kernel'),
                    f'{hf}.mlp.{hf_name}.weight', True))
  table.append((('decoder', 'decoder_norm', 'scale'), 'model.norm.weight',
                False))
  if not config.tie_word_embeddings:
    table.append((('decoder', 'logits_dense', 'kernel'), 'lm_head.weight',
                  True))
  return table


def expected_shapes(config: llama.LlamaConfig) -> Dict[Path, Tuple[int, ...]]:
  """Shape of each of our parameters for `config`."""
  q = config.num_heads * config.head_dim
  kv = config.num_kv_heads * config.head_dim
  by_leaf = {
      'query': (config.emb_dim, q), 'key': (config.emb_dim, kv),
      'value': (config.emb_dim, kv), 'out': (q, config.emb_dim),
      'wi_0': (config.emb_dim, config.mlp_dim),
      'wi_1': (config.emb_dim, config.mlp_dim),
      'wo': (config.mlp_dim, config.emb_dim),
      'logits_dense': (config.emb_dim, config.vocab_size),
      'token_embedder': (config.vocab_size, config.emb_dim),
  }
  shapes = {}
  for path, _, _ in name_table(config):
    if path[-1] == 'scale':
      shapes[path] = (config.emb_dim,)
    elif path[-1] == 'bias':
      shapes[path] = by_leaf[path[-2]][1:]
    else:
      shapes[path] = by_leaf[path[-2] if path[-1] == 'kernel' else path[0]]
  return shapes


def _to_numpy(value: Any) -> np.ndarray:
  if hasattr(value, 'detach'):  # torch.Tensor; bfloat16 has no numpy dtype.
    value = value.detach().cpu().float().numpy()
  return np.asarray(value, dtype=np.float32)


def params_from_hf_llama(state_dict: Mapping[str, Any],
                         config: llama.LlamaConfig,
                         strict: bool = True) -> Dict[str, Any]:
  """Converts a HF Llama state dict into our (unboxed) parameter tree.

  Args:
    state_dict: HF names to arrays (numpy or torch), e.g.
      `LlamaForCausalLM.state_dict()` or the tensors of its safetensors files.
    config: our config, e.g. from `llama_config_from_hf`; fixes the shapes.
    strict: refuse tensors the table does not use (except rotary buffers and
      a `lm_head.weight` that merely repeats tied embeddings).

  Returns:
    Nested dict of float32 numpy arrays, the 'params' of
    `llama.LlamaTransformer`.

  Raises:
    KeyError: a tensor is missing (named, with the shape expected).
    ValueError: a tensor has the wrong shape, or (strict) is unexpected.
  """
  table = name_table(config)
  shapes = expected_shapes(config)
  if strict:
    used = {name for _, name, _ in table}
    unexpected = sorted(
        k for k in state_dict if k not in used and
        not k.endswith('rotary_emb.inv_freq') and
        not (k == 'lm_head.weight' and config.tie_word_embeddings))
    if unexpected:
      raise ValueError(
          f'HF state dict has {len(unexpected)} tensor(s) a Llama with '
          f'{config.num_layers} layers does not use, e.g. {unexpected[:5]}; '
          'is this checkpoint of another architecture or size?')
  params: Dict[str, Any] = {}
  for path, name, transpose in table:
    shape = shapes[path]
    if name not in state_dict:
      hf_shape = shape[::-1] if transpose else shape
      raise KeyError(
          f'HF state dict has no {name!r} (expected shape {hf_shape}, for '
          f'{"/".join(path)}); does the config match the checkpoint (layers, '
          'tied embeddings)?')
    value = _to_numpy(state_dict[name])
    hf_shape = shape[::-1] if transpose else shape
    if value.shape != hf_shape:
      raise ValueError(f'HF tensor {name!r} has shape {value.shape}; '
                       f'expected {hf_shape} (for {"/".join(path)}).')
    value = np.array(value.T if transpose else value, order='C')
    node = params
    for key in path[:-1]:
      node = node.setdefault(key, {})
    node[path[-1]] = value
  return params


def params_to_hf_llama(params: Any,
                       config: llama.LlamaConfig) -> Dict[str, np.ndarray]:
  """Converts our parameter tree into a HF Llama state dict of numpy arrays.

  With tied embeddings `lm_head.weight` is included as a copy of the
  embedding, as `LlamaForCausalLM.state_dict()` lists it, so that
  `load_state_dict(..., strict=True)` accepts the result.

  Args:
    params: our parameters (boxed or not, with or without a 'params' key).
    config: the config the parameters were made for.

  Returns:
    Dict of HF names to float32 numpy arrays.
  """
  params = flax.core.meta.unbox(flax.core.unfreeze(params))
  if set(params) == {'params'}:
    params = params['params']
  shapes = expected_shapes(config)
  state_dict = {}
  for path, name, transpose in name_table(config):
    node = params
    for key in path:
      if not isinstance(node, Mapping) or key not in node:
        raise KeyError(f'Parameter {"/".join(path)} is missing (expected '
                       f'shape {shapes[path]}); does the config match the '
                       'parameters?')
      node = node[key]
    value = np.asarray(node, dtype=np.float32)
    if value.shape != shapes[path]:
      raise ValueError(f'Parameter {"/".join(path)} has shape {value.shape}; '
                       f'config expects {shapes[path]}.')
    # A fresh, writable copy: torch.from_numpy rejects read-only jax buffers.
    state_dict[name] = np.array(value.T if transpose else value, order='C')
  if config.tie_word_embeddings:
    state_dict['lm_head.weight'] = state_dict[
        'model.embed_tokens.weight'].copy()
  return state_dict
