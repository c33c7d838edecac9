"""Configs between Hugging Face `Qwen2ForCausalLM` and our `Qwen2Config`.

The weights map as Llama's (`hf_llama.name_table`, which lists the q/k/v
biases when `config.qkv_bias`): `q_proj.bias` becomes
`self_attention/query/bias`, and so on. Nothing here imports torch or
transformers: `hf_qwen2_config_kwargs` returns keyword arguments for
`transformers.Qwen2Config`.
"""

from typing import Any, Dict

from instruct.models import qwen2


def qwen2_config_from_hf(hf_config: Any, **overrides) -> qwen2.Qwen2Config:
  """Builds our `Qwen2Config` from a `transformers.Qwen2Config`.

  Raises:
    ValueError: for features we do not implement (sliding-window attention,
      RoPE scaling, other activations), naming the field.
  """
  act = getattr(hf_config, 'hidden_act', 'silu')
  if act != 'silu':
    raise ValueError(f'HF Qwen2Config.hidden_act={act!r}; only "silu" '
                     '(SwiGLU) is supported.')
  if getattr(hf_config, 'use_sliding_window', False):
    raise ValueError('HF Qwen2Config.use_sliding_window=True; sliding-window '
                     'attention is not supported by instruct.models.qwen2.')
  scaling = getattr(hf_config, 'rope_scaling', None)
  if scaling and scaling.get('rope_type', scaling.get('type')) != 'default':
    raise ValueError(f'HF Qwen2Config.rope_scaling={scaling!r}: only plain '
                     'RoPE is supported.')
  num_heads = hf_config.num_attention_heads
  fields = dict(
      vocab_size=hf_config.vocab_size,
      emb_dim=hf_config.hidden_size,
      num_heads=num_heads,
      num_kv_heads=(getattr(hf_config, 'num_key_value_heads', None) or
                    num_heads),
      head_dim=(getattr(hf_config, 'head_dim', None) or
                hf_config.hidden_size // num_heads),
      num_layers=hf_config.num_hidden_layers,
      mlp_dim=hf_config.intermediate_size,
      rope_theta=float(getattr(hf_config, 'rope_theta', 1000000.0)),
      rms_norm_eps=float(hf_config.rms_norm_eps),
      tie_word_embeddings=bool(getattr(hf_config, 'tie_word_embeddings',
                                       False)),
      dropout_rate=float(getattr(hf_config, 'attention_dropout', 0.0)))
  fields.update(overrides)
  return qwen2.Qwen2Config(**fields)


def hf_qwen2_config_kwargs(config: qwen2.Qwen2Config,
                           **extra) -> Dict[str, Any]:
  """Keyword arguments of the `transformers.Qwen2Config` matching `config`.

  Args:
    config: our config.
    **extra: more HF fields, e.g. `bos_token_id`, `max_position_embeddings`.

  Returns:
    A dict for `transformers.Qwen2Config(**kwargs)`; `head_dim` is kept as
    an extra field, which Qwen2's attention reads when present.
  """
  kwargs = dict(
      vocab_size=config.vocab_size, hidden_size=config.emb_dim,
      intermediate_size=config.mlp_dim,
      num_hidden_layers=config.num_layers,
      num_attention_heads=config.num_heads,
      num_key_value_heads=config.num_kv_heads, head_dim=config.head_dim,
      hidden_act='silu',
      rms_norm_eps=config.rms_norm_eps, rope_theta=config.rope_theta,
      tie_word_embeddings=config.tie_word_embeddings,
      use_sliding_window=False, attention_dropout=config.dropout_rate)
  kwargs.update(extra)
  return kwargs
