"""Greedy decoding speed: key/value cache vs none vs transformers `generate`.

Both families, 128 new tokens per row, no early stop (our `eos_id=-1`;
`min_new_tokens=128` for transformers), the same weights (ours exported with
`instruct.models.hf_t5` / `hf_llama`) and the same prompts: the first
examples of the built-in mixture (T5: encoder inputs up to 128 bytes;
Llama: prompts cut to one common length, so neither side needs padding).
Tokens/s counts generated tokens only. The first tokens of our cached output
are compared with transformers' as a check that both ran the same model.
"""

import functools
from typing import Any, Dict

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import seqio

from benchmarks import common
from instruct import decoding

NEW_TOKENS = 128
BATCH = 8
LLAMA_PROMPT = 64


def _prompts(n: int, length: int) -> np.ndarray:
  """[n, length] byte ids of the mixture's first inputs (0-padded)."""
  ds = seqio.get_mixture_or_task(common.MIXTURE).get_dataset(
      sequence_length={'inputs': length, 'targets': 64}, split='train',
      shuffle=False, seed=0)
  out = np.zeros((n, length), np.int32)
  for i, ex in enumerate(ds.take(n).as_numpy_iterator()):
    out[i, :len(ex['inputs'])] = ex['inputs']
  return out


def _time(fn, repeats: int) -> float:
  jax.block_until_ready(fn())  # compile
  return common.median([common.timed(lambda: jax.block_until_ready(fn()))
                        for _ in range(repeats)])


def _hf_generate(hf_model, ids: np.ndarray, repeats: int):
  import torch  # pylint: disable=g-import-not-at-top
  inputs = torch.from_numpy(ids.astype(np.int64))
  kwargs = dict(input_ids=inputs, attention_mask=(inputs > 0).long()
                if hf_model.config.is_encoder_decoder else torch.ones_like(
                    inputs), max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1,
                pad_token_id=0)
  with torch.no_grad():
    out = hf_model.generate(**kwargs)
    seconds = common.median([common.timed(
        lambda: hf_model.generate(**kwargs)) for _ in range(repeats)])
  return out.numpy(), seconds


def t5(repeats: int = 3) -> Dict[str, Any]:
  """The T5 timing model, random weights."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  from instruct.models import hf_t5  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(common.num_cores())
  model = common.t5_model()
  cfg = model.module.config
  ids = _prompts(BATCH, common.LENGTHS['inputs'])
  params = nn.unbox(model.get_initial_variables(
      jax.random.PRNGKey(0), {'encoder_input_tokens': ids.shape,
                              'decoder_input_tokens': (BATCH, NEW_TOKENS)}
  )['params'])
  config = decoding.plain_config(method='greedy', eos_id=-1)

  def run(use_cache):
    return jax.jit(functools.partial(
        decoding.encoder_decoder_decode, model.module,
        max_decode_length=NEW_TOKENS, config=config, use_cache=use_cache))

  cached, uncached = run(True), run(False)
  ours_tokens = np.asarray(cached(params, ids)[0][:, 0])
  t_cached = _time(lambda: cached(params, ids), repeats)
  t_uncached = _time(lambda: uncached(params, ids), max(1, repeats - 1))
  hf = transformers.T5ForConditionalGeneration(
      transformers.T5Config(**hf_t5.hf_t5_config_kwargs(cfg))).eval()
  hf.load_state_dict({k: torch.from_numpy(v) for k, v in
                      hf_t5.params_to_hf_t5(params, cfg).items()})
  hf_out, t_hf = _hf_generate(hf, ids, repeats)
  return _summary('t5', t_cached, t_uncached, t_hf, ours_tokens,
                  hf_out[:, 1:])  # HF output starts with the start token.


def llama(repeats: int = 3) -> Dict[str, Any]:
  """The tiny Llama, random weights; prompts of LLAMA_PROMPT tokens."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  from instruct.models import hf_llama  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(common.num_cores())
  model = common.llama_model()
  cfg = model.module.config
  raw = _prompts(BATCH * 4, 512)
  raw = raw[(raw > 0).sum(1) >= LLAMA_PROMPT - 1][:BATCH]
  if len(raw) < BATCH:
    raise ValueError(f'Fewer than {BATCH} prompts of {LLAMA_PROMPT} bytes.')
  inputs = raw[:, :LLAMA_PROMPT - 1]  # our model adds the BOS 0 itself
  prompt = np.concatenate([np.zeros((BATCH, 1), np.int32), inputs], axis=1)
  total = LLAMA_PROMPT + NEW_TOKENS
  params = nn.unbox(model.get_initial_variables(
      jax.random.PRNGKey(0), {'decoder_input_tokens': (BATCH, total)}
  )['params'])
  config = decoding.plain_config(method='greedy', eos_id=-1,
                                 max_decode_length=NEW_TOKENS)
  batch = {'inputs': inputs,
           'decoder_input_tokens': np.zeros((BATCH, total), np.int32)}
  cached = jax.jit(lambda p, b: model.predict_batch_with_aux(
      p, b, decoding_config=config)[0][:, 0])

  @jax.jit
  def uncached(p, prompt_BP):
    # The whole sequence is re-run every step; no cache.
    buf = jnp.zeros((BATCH, total), jnp.int32).at[:, :LLAMA_PROMPT].set(
        prompt_BP)

    def step(tokens_B1, state, i):
      pos = LLAMA_PROMPT - 1 + i
      seq = lax.dynamic_update_slice(state['buf'], tokens_B1,
                                     (jnp.zeros((), jnp.int32), pos))
      logits = model.module.apply({'params': p}, seq, enable_dropout=False)
      return (lax.dynamic_index_in_dim(logits, pos, 1, keepdims=False),
              {'buf': seq})

    return decoding.decode(step, {'buf': buf}, batch_size=BATCH,
                           max_decode_length=NEW_TOKENS, config=config,
                           start_tokens=prompt_BP[:, -1])[0][:, 0]

  ours_tokens = np.asarray(cached(params, batch))
  uncached_tokens = np.asarray(uncached(params, prompt))
  t_cached = _time(lambda: cached(params, batch), repeats)
  t_uncached = _time(lambda: uncached(params, prompt), max(1, repeats - 1))
  hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(
      **hf_llama.hf_llama_config_kwargs(cfg, max_position_embeddings=total)
  )).eval()
  hf.load_state_dict({k: torch.from_numpy(v) for k, v in
                      hf_llama.params_to_hf_llama(params, cfg).items()})
  hf_out, t_hf = _hf_generate(hf, prompt, repeats)
  out = _summary('llama', t_cached, t_uncached, t_hf, ours_tokens,
                 hf_out[:, LLAMA_PROMPT:])
  out['cached_equals_uncached_first16'] = float(
      (ours_tokens[:, :16] == uncached_tokens[:, :16]).mean())
  return out


def _summary(family, t_cached, t_uncached, t_hf, ours, theirs):
  n = BATCH * NEW_TOKENS
  return {
      'family': family, 'batch': BATCH, 'new_tokens': NEW_TOKENS,
      'cached_tok_per_s': n / t_cached,
      'uncached_tok_per_s': n / t_uncached,
      'hf_generate_tok_per_s': n / t_hf,
      'cached_over_uncached': t_uncached / t_cached,
      'cached_over_hf': t_hf / t_cached,
      # Random weights make near-ties in the logits likely late in a long
      # greedy run, so only the first tokens are compared.
      'first16_tokens_agree_with_hf': float((ours[:, :16] ==
                                             theirs[:, :16]).mean()),
  }
