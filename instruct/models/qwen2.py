"""Qwen2 / Qwen2.5: the Llama network with biased query/key/value projections.

Qwen2's decoder is Llama's (RMSNorm, rotary embeddings in the rotate-half
layout, grouped-query attention, SwiGLU) plus a bias on each of the query,
key and value projections, so it runs on `llama.LlamaTransformer` with
`qkv_bias=True`; the parameter tree is Llama's with a `bias` next to those
three kernels. The family (registry name 'qwen2', Hugging Face model_type
'qwen2' / `Qwen2ForCausalLM`) is registered in `families.py`; the weight
mapping is in `hf_qwen2.py`. Sliding-window attention (off in every
released Qwen2.5 model) is not implemented.
"""

import dataclasses

from instruct.models import llama


@dataclasses.dataclass(frozen=True)
class Qwen2Config(llama.LlamaConfig):
  """`LlamaConfig` with Qwen2.5's defaults: q/k/v biases, RoPE theta 1e6,
  RMSNorm epsilon 1e-6, tied embeddings (the sizes default to a tiny
  byte-level model; the gin files give the released ones)."""
  rope_theta: float = 1000000.0
  rms_norm_eps: float = 1e-6
  tie_word_embeddings: bool = True
  qkv_bias: bool = True

  def __post_init__(self):
    super().__post_init__()
    if not self.qkv_bias:
      raise ValueError('Qwen2Config.qkv_bias must be True (Qwen2 biases its '
                       'query/key/value projections); use LlamaConfig for a '
                       'network without them.')
    if self.rope_type != 'default':
      raise ValueError(f'Qwen2Config.rope_type={self.rope_type!r}: Qwen2 '
                       "uses plain RoPE ('default').")
