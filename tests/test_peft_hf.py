"""Hugging Face `peft` interop (instruct.peft.hf_peft): parameter counts equal
peft's, exported adapters loaded by peft over our exported base give our
logits, adapters for another base are refused.

Tiny random `transformers` T5 and Llama models, built here (no downloads).
T5 has 3 layers: peft feeds T5 decoder layer i prefix pair 2i mod L, which
is one-to-one only for odd L (see instruct/peft/hf_peft.py).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instruct import checkpoint_formats as formats
from instruct import errors
from instruct.models import hf_llama
from instruct.models import hf_t5
from instruct.models import llama
from instruct.models import t5
from instruct.peft import config as pc
from instruct.peft import core
from instruct.peft import hf_peft

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')
peft = pytest.importorskip('peft')

N = 3          # virtual tokens
RANK = 2
HIDDEN = 16    # prefix reparameterisation width
VOCAB = 64


def hf_config(family, layers=3):
  if family == 't5':
    return transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=layers,
        num_decoder_layers=layers, num_heads=4, feed_forward_proj='gated-gelu',
        dropout_rate=0.0, tie_word_embeddings=False, decoder_start_token_id=0,
        pad_token_id=0, eos_token_id=1)
  return transformers.LlamaConfig(
      vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
      head_dim=8, tie_word_embeddings=False, attention_dropout=0.0)


def our_config(family, peft_config, layers=3):
  if family == 't5':
    return hf_t5.t5_config_from_hf(hf_config(family, layers),
                                   dropout_rate=0.0, peft=peft_config)
  return hf_llama.llama_config_from_hf(hf_config(family), peft=peft_config)


OURS = {
    'lora': pc.PeftConfig(lora=pc.LoraConfig(
        rank=RANK, alpha=4.0, target_modules=('query', 'value'))),
    'ia3': pc.PeftConfig(ia3=pc.IA3Config()),
    'prompt': pc.PeftConfig(prompt_tuning=pc.PromptTuningConfig(
        num_virtual_tokens=N)),
    'prefix': pc.PeftConfig(prefix_tuning=pc.PrefixTuningConfig(
        num_virtual_tokens=N)),
    'prefix_reparam': pc.PeftConfig(prefix_tuning=pc.PrefixTuningConfig(
        num_virtual_tokens=N, reparameterize=True, reparam_hidden=HIDDEN)),
}


def theirs(method, family):
  task = 'SEQ_2_SEQ_LM' if family == 't5' else 'CAUSAL_LM'
  names = ({'q': 'q', 'k': 'k', 'v': 'v', 'wo': 'wo'} if family == 't5' else
           {'q': 'q_proj', 'k': 'k_proj', 'v': 'v_proj', 'wo': 'down_proj'})
  if method == 'lora':
    return peft.LoraConfig(task_type=task, r=RANK, lora_alpha=4,
                           target_modules=[names['q'], names['v']])
  if method == 'ia3':
    return peft.IA3Config(task_type=task, target_modules=[
        names['k'], names['v'], names['wo']], feedforward_modules=[
            names['wo']])
  if method == 'prompt':
    return peft.PromptTuningConfig(task_type=task, num_virtual_tokens=N)
  return peft.PrefixTuningConfig(
      task_type=task, num_virtual_tokens=N,
      prefix_projection=method == 'prefix_reparam',
      encoder_hidden_size=HIDDEN)


def module_for(config):
  return (t5.Transformer(config) if isinstance(config, t5.T5Config) else
          llama.LlamaTransformer(config))


def init_params(config, seed=0):
  enc = jnp.ones((2, 6), jnp.int32)
  dec = jnp.ones((2, 5), jnp.int32)
  args = (enc, dec, dec) if isinstance(config, t5.T5Config) else (dec, dec)
  variables = module_for(config).init(jax.random.PRNGKey(seed), *args,
                                      enable_dropout=False)
  import flax  # pylint: disable=g-import-not-at-top
  return flax.core.meta.unbox(variables['params'])


def randomize_adapter(params, seed=1):
  """Random non-trivial values for every `peft_` leaf (not the zero init)."""
  flat = core.flatten(params)
  rng = np.random.default_rng(seed)
  for path in flat:
    if core.is_peft_path(path):
      shape = flat[path].shape
      value = rng.normal(size=shape).astype(np.float32)
      if path[-1] == 'peft_ia3':
        value = 1.0 + 0.3 * value
      elif path[-1].startswith('peft_lora'):
        value = 0.3 * value
      flat[path] = value
  return core.unflatten(flat)


def _cases(fast):
  """(family, method) pairs; all but `fast` are marked slow (CI budget)."""
  return [pytest.param(f, m, marks=() if (f, m) in fast else pytest.mark.slow)
          for m in OURS for f in ('t5', 'llama')]


# -----------------------------------------------------------------------------
# Trainable-parameter counts.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('family,method', _cases(
    {('t5', 'prefix_reparam'), ('llama', 'lora')}))
def test_trainable_parameter_counts_equal_peft(family, method):
  config = our_config(family, OURS[method])
  trainable, _ = core.partition(init_params(config), OURS[method])
  ours = core.count_parameters(trainable)
  torch.manual_seed(0)
  model_cls = (transformers.T5ForConditionalGeneration if family == 't5' else
               transformers.LlamaForCausalLM)
  hf = peft.get_peft_model(model_cls(hf_config(family)),
                           theirs(method, family))
  want, _ = hf.get_nb_trainable_parameters()
  print(f'[count] {family} {method}: ours {ours}, peft {want}')
  assert ours == want > 0


# -----------------------------------------------------------------------------
# Logits parity through peft's own loader.
# -----------------------------------------------------------------------------
def _our_logits(config, params, enc, dec_in):
  module = module_for(config)
  if isinstance(config, t5.T5Config):
    return np.asarray(module.apply({'params': params}, enc, dec_in,
                                   np.ones_like(dec_in), enable_dropout=False))
  # Every position is real (HF's attention_mask is all ones), BOS 0 too.
  return np.asarray(module.apply({'params': params}, dec_in,
                                 np.ones_like(dec_in), enable_dropout=False))


def _hf_logits(family, model, enc, dec_in):
  with torch.no_grad():
    if family == 't5':
      out = model(input_ids=torch.tensor(enc),
                  attention_mask=torch.tensor((enc > 0).astype(np.int64)),
                  decoder_input_ids=torch.tensor(dec_in))
    else:
      out = model(input_ids=torch.tensor(dec_in),
                  attention_mask=torch.ones(dec_in.shape, dtype=torch.long))
  logits = out.logits.numpy()
  # peft's causal-LM prompt tuning returns logits for the virtual tokens too.
  return logits[:, -dec_in.shape[1]:]


def _export(tmp_path, family, method, layers=3):
  config = our_config(family, OURS[method], layers)
  params = randomize_adapter(init_params(config))
  base_dir = str(tmp_path / 'base')
  formats.save_hf(core.base_params(params),
                  dataclasses.replace(config, peft=None), base_dir)
  adapter_dir = str(tmp_path / 'adapter')
  hf_peft.export_adapter(params, config, adapter_dir,
                         base_model_name_or_path=base_dir)
  return config, params, base_dir, adapter_dir


@pytest.mark.parametrize('family,method', _cases(
    {('t5', 'prefix'), ('llama', 'prompt')}))
def test_exported_adapter_gives_our_logits_in_peft(tmp_path, family, method):
  config, params, base_dir, adapter_dir = _export(tmp_path, family, method)
  model_cls = (transformers.T5ForConditionalGeneration if family == 't5' else
               transformers.LlamaForCausalLM)
  hf = peft.PeftModel.from_pretrained(model_cls.from_pretrained(base_dir),
                                      adapter_dir).eval()
  base_hf = model_cls.from_pretrained(base_dir).eval()
  rng = np.random.default_rng(7)
  enc = rng.integers(2, VOCAB, size=(2, 6))
  enc[1, -2:] = 0  # Padding in the second row.
  dec_in = np.concatenate([np.zeros((2, 1), np.int64),
                           rng.integers(2, VOCAB, size=(2, 4))], axis=1)
  ours = _our_logits(config, params, enc, dec_in)
  want = _hf_logits(family, hf, enc, dec_in)
  without = _hf_logits(family, base_hf, enc, dec_in)
  diff = float(np.max(np.abs(ours - want)))
  effect = float(np.max(np.abs(want - without)))
  print(f'[parity] {family} {method}: max |ours - peft| = {diff:.2e} '
        f'(adapter moves logits by {effect:.2e})')
  assert effect > 1e-2, 'the adapter must change the logits'
  assert diff < 1e-4
  # And back: importing the peft adapter reproduces our adapter leaves.
  if method != 'prefix_reparam':
    fresh = init_params(config, seed=3)
    fresh = core.combine(core.adapter_params(fresh), core.base_params(params))
    back = hf_peft.import_adapter(adapter_dir, fresh, config)
    np.testing.assert_allclose(_our_logits(config, back, enc, dec_in), ours,
                               atol=1e-5)


# -----------------------------------------------------------------------------
# Bad input.
# -----------------------------------------------------------------------------
def test_export_refuses_a_base_of_another_size(tmp_path):
  config = our_config('llama', OURS['lora'])
  params = randomize_adapter(init_params(config))
  other = dataclasses.replace(config, peft=None, emb_dim=48)
  other_params = init_params(other)
  formats.save_hf(other_params, other, str(tmp_path / 'other'))
  with pytest.raises(errors.UserError, match='does not match the model'):
    hf_peft.export_adapter(params, config, str(tmp_path / 'a'),
                           base_model_name_or_path=str(tmp_path / 'other'))


def test_export_refuses_a_base_with_other_weights(tmp_path):
  config = our_config('llama', OURS['lora'])
  params = randomize_adapter(init_params(config))
  other = init_params(dataclasses.replace(config, peft=None), seed=5)
  formats.save_hf(other, dataclasses.replace(config, peft=None),
                  str(tmp_path / 'other'))
  with pytest.raises(errors.UserError, match='differ from the base'):
    hf_peft.export_adapter(params, config, str(tmp_path / 'a'),
                           base_model_name_or_path=str(tmp_path / 'other'))


def test_import_refuses_an_adapter_for_another_base(tmp_path):
  _, _, _, adapter_dir = _export(tmp_path, 'llama', 'prefix')
  bigger = our_config('llama', OURS['prefix'])
  bigger = dataclasses.replace(bigger, num_kv_heads=4)
  with pytest.raises(errors.UserError, match='another base model'):
    hf_peft.import_adapter(adapter_dir, init_params(bigger), bigger)


def test_t5_prefix_export_refuses_layers_peft_would_share(tmp_path):
  # 2 layers: peft feeds both decoder layers pair 0, ours differ.
  with pytest.raises(errors.UserError, match='2i mod 2'):
    _export(tmp_path, 't5', 'prefix', layers=2)


def test_export_refuses_methods_peft_cannot_hold(tmp_path):
  config = our_config('llama', pc.PeftConfig(bitfit=pc.BitFitConfig()))
  with pytest.raises(errors.UserError, match='one method per adapter'):
    hf_peft.export_adapter(init_params(config), config, str(tmp_path / 'a'),
                           base_model_name_or_path=str(tmp_path))
