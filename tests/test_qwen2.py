"""Qwen2 / Qwen2.5, the third family: parity with `transformers`, HF import
and export, PEFT (LoRA through Hugging Face `peft`), gin sizes.

Tiny random `Qwen2ForCausalLM` models are built here (no downloads).
"""

import dataclasses
import json
import os

import flax
import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import seqio

from conftest import REPO_ROOT
from instruct import checkpoint_formats as formats
from instruct import configurables  # pylint: disable=unused-import
from instruct import decoding
from instruct.models import decoder_only
from instruct.models import families
from instruct.models import hf_llama
from instruct.models import hf_qwen2
from instruct.models import llama
from instruct.models import qwen2
from instruct.peft import config as pc
from instruct.peft import core
from instruct.peft import hf_peft

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

VOCAB = 97
GREEDY_20 = decoding.plain_config(max_decode_length=20, eos_id=-1)


def hf_config(tied=False):
  return transformers.Qwen2Config(
      vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
      rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=tied,
      max_position_embeddings=256, use_sliding_window=False,
      attention_dropout=0.0)


def hf_model(tied=False, seed=0):
  """A tiny random `Qwen2ForCausalLM` with grouped-query attention."""
  torch.manual_seed(seed)
  model = transformers.Qwen2ForCausalLM(hf_config(tied)).eval()
  # HF initialises norms to 1 and biases to 0; random ones make the test
  # see them.
  with torch.no_grad():
    for name, p in model.named_parameters():
      if name.endswith('norm.weight'):
        p.uniform_(0.5, 1.5)
      elif name.endswith('.bias'):
        p.normal_(0.0, 0.5)
  return model


def ours_from(hf):
  cfg = hf_qwen2.qwen2_config_from_hf(hf.config)
  params = hf_llama.params_from_hf_llama(hf.state_dict(), cfg)
  model = decoder_only.DecoderOnlyModel(
      llama.LlamaTransformer(cfg), seqio.PassThroughVocabulary(VOCAB, eos_id=1))
  return model, params


def hf_greedy(hf, prompt, steps):
  ids = torch.tensor([list(prompt)])
  with torch.no_grad():
    for _ in range(steps):
      nxt = hf(ids).logits[0, -1].argmax()
      ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
  return ids[0, len(prompt):].tolist()


def forward(module, params, tokens):
  fn = jax.jit(lambda p, t: module.apply({'params': p}, t,
                                         enable_dropout=False))
  return np.asarray(fn(params, jnp.asarray(tokens)))


def hf_logits(hf, tokens):
  with torch.no_grad():
    return hf(torch.from_numpy(np.asarray(tokens))).logits.numpy()


def init_params(config, seed=0):
  variables = llama.LlamaTransformer(config).init(
      jax.random.PRNGKey(seed), jnp.ones((1, 4), jnp.int32),
      enable_dropout=False)
  return flax.core.meta.unbox(variables['params'])


# -----------------------------------------------------------------------------
# Parity with transformers.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('tied', [False, True], ids=['untied', 'tied'])
def test_logits_and_greedy_tokens_match_transformers(tied):
  hf = hf_model(tied=tied)
  model, params = ours_from(hf)
  cfg = model.module.config
  assert isinstance(cfg, qwen2.Qwen2Config) and cfg.qkv_bias
  assert cfg.rope_theta == 1e6 and cfg.tie_word_embeddings == tied
  assert ('logits_dense' in params['decoder']) == (not tied)
  assert families.for_config(cfg).name == 'qwen2'
  assert families.for_params(params).name == 'qwen2'
  tokens = np.random.default_rng(0).integers(1, VOCAB, size=(2, 40))
  ours = forward(model.module, params, tokens)
  assert np.abs(ours - hf_logits(hf, tokens)).max() <= 1e-4

  # 20 greedy tokens with the key/value cache (prefill, then one per step).
  prompt = [5, 17, 42, 8, 23]
  expected = hf_greedy(hf, [0] + prompt, 20)
  batch = {'inputs': np.asarray([prompt], np.int32),
           'decoder_input_tokens': np.zeros((1, 32), np.int32)}
  fn = jax.jit(model.predict_batch, static_argnames='decoding_config')
  got = np.asarray(fn(params, batch, decoding_config=GREEDY_20))
  assert got[0].tolist() == expected


# -----------------------------------------------------------------------------
# Hugging Face import and export.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('tied', [False, True], ids=['untied', 'tied'])
def test_hf_export_loads_in_transformers_and_imports_bit_identical(
    tmp_path, tied):
  cfg = qwen2.Qwen2Config(vocab_size=VOCAB, emb_dim=32, num_heads=4,
                          num_kv_heads=2, head_dim=8, num_layers=2, mlp_dim=48,
                          tie_word_embeddings=tied)
  params = init_params(cfg)
  rng = np.random.default_rng(1)
  params = jax.tree.map(lambda x: rng.normal(0, 0.3, x.shape).astype(
      np.float32), params)
  directory = str(tmp_path / 'hf')
  formats.save_hf(params, cfg, directory)
  with open(os.path.join(directory, 'config.json'), encoding='utf-8') as f:
    raw = json.load(f)
  assert raw['model_type'] == 'qwen2'
  assert raw['architectures'] == ['Qwen2ForCausalLM']
  hf = transformers.AutoModelForCausalLM.from_pretrained(directory).eval()
  assert type(hf).__name__ == 'Qwen2ForCausalLM'
  tokens = np.random.default_rng(2).integers(1, VOCAB, size=(2, 12))
  ours = forward(llama.LlamaTransformer(cfg), params, tokens)
  assert np.abs(ours - hf_logits(hf, tokens)).max() <= 1e-4

  back = formats.load_hf(directory)
  assert back.architecture == 'qwen2' and back.config == cfg
  assert formats.resolve(directory).format == 'hf'
  flat_a, flat_b = formats.flatten(params), formats.flatten(back.params)
  assert flat_a.keys() == flat_b.keys()
  for k in flat_a:
    assert np.asarray(flat_a[k]).tobytes() == flat_b[k].tobytes(), k
  # transformers' own state dict converts back to the same tree.
  again = hf_llama.params_from_hf_llama(hf.state_dict(), cfg)
  for k, v in formats.flatten(again).items():
    np.testing.assert_array_equal(v, flat_a[k], str(k))
  assert hf_qwen2.qwen2_config_from_hf(hf.config) == cfg


def test_unsupported_qwen2_features_are_refused():
  with pytest.raises(ValueError, match='use_sliding_window'):
    hf_qwen2.qwen2_config_from_hf(transformers.Qwen2Config(
        use_sliding_window=True, sliding_window=16))
  with pytest.raises(ValueError, match='qkv_bias must be True'):
    qwen2.Qwen2Config(qkv_bias=False)
  with pytest.raises(ValueError, match='use instruct.models.qwen2'):
    hf_llama.hf_llama_config_kwargs(llama.LlamaConfig(qkv_bias=True))


# -----------------------------------------------------------------------------
# PEFT: LoRA through Hugging Face peft, unchanged code.
# -----------------------------------------------------------------------------
def test_lora_counts_and_exported_adapter_match_peft(tmp_path):
  peft = pytest.importorskip('peft')
  lora = pc.PeftConfig(lora=pc.LoraConfig(rank=2, alpha=4.0,
                                          target_modules=('query', 'value')))
  config = hf_qwen2.qwen2_config_from_hf(hf_config(), peft=lora)
  params = init_params(config)
  trainable, _ = core.partition(params, lora)
  torch.manual_seed(0)
  theirs = peft.LoraConfig(task_type='CAUSAL_LM', r=2, lora_alpha=4,
                           target_modules=['q_proj', 'v_proj'])
  want, _ = peft.get_peft_model(transformers.Qwen2ForCausalLM(hf_config()),
                                theirs).get_nb_trainable_parameters()
  assert core.count_parameters(trainable) == want > 0

  rng = np.random.default_rng(1)
  flat = core.flatten(params)
  for path in flat:  # Random adapter and biases (not their zero inits).
    if path[-1].startswith('peft_lora') or path[-1] == 'bias':
      flat[path] = (0.3 * rng.normal(size=flat[path].shape)).astype(
          np.float32)
  params = core.unflatten(flat)
  base_dir, adapter_dir = str(tmp_path / 'base'), str(tmp_path / 'adapter')
  formats.save_hf(core.base_params(params),
                  dataclasses.replace(config, peft=None), base_dir)
  hf_peft.export_adapter(params, config, adapter_dir,
                         base_model_name_or_path=base_dir)
  hf = peft.PeftModel.from_pretrained(
      transformers.Qwen2ForCausalLM.from_pretrained(base_dir),
      adapter_dir).eval()
  base_hf = transformers.Qwen2ForCausalLM.from_pretrained(base_dir).eval()
  tokens = np.random.default_rng(7).integers(1, VOCAB, size=(2, 6))
  ours = forward(llama.LlamaTransformer(config), params, tokens)
  want = hf_logits(hf, tokens)
  assert np.abs(want - hf_logits(base_hf, tokens)).max() > 1e-2
  assert np.abs(ours - want).max() < 1e-4
  back = hf_peft.import_adapter(adapter_dir, core.combine(
      core.adapter_params(init_params(config, seed=3)),
      core.base_params(params)), config)
  np.testing.assert_allclose(
      forward(llama.LlamaTransformer(config), back, tokens), ours, atol=1e-5)


# -----------------------------------------------------------------------------
# Gin sizes.
# -----------------------------------------------------------------------------
def _hf_parameter_count(vocab, hidden, inter, layers, heads, kv_heads, tied):
  """transformers' Qwen2ForCausalLM parameter count, by its module shapes."""
  head_dim = hidden // heads
  q, kv = heads * head_dim, kv_heads * head_dim
  attention = (hidden * q + q) + 2 * (hidden * kv + kv) + q * hidden
  mlp = 3 * hidden * inter
  per_layer = attention + mlp + 2 * hidden  # + input/post-attention norms
  embeddings = vocab * hidden * (1 if tied else 2)
  return embeddings + layers * per_layer + hidden  # + final norm


@pytest.mark.parametrize('name,num_params,hf_sizes', [
    ('qwen2_5_0_5b', 494_032_768, (151936, 896, 4864, 24, 14, 2, True)),
    ('qwen2_5_1_5b', 1_543_714_304, (151936, 1536, 8960, 28, 12, 2, True)),
    ('qwen2_5_7b', 7_615_616_512, (152064, 3584, 18944, 28, 28, 4, False)),
    ('tiny', None, None),
])
def test_gin_sizes_have_the_published_parameter_counts(name, num_params,
                                                       hf_sizes):
  gin.clear_config()
  try:
    gin.add_config_file_search_path(os.path.join(REPO_ROOT, 'gin_configs'))
    gin.parse_config_files_and_bindings(
        [f'models/qwen2/{name}.gin'], ["TOKENIZER_PATH = '/nonexistent'"])
    cfg = gin.get_configurable('network.Qwen2Config')()
  finally:
    gin.clear_config()
  assert isinstance(cfg, qwen2.Qwen2Config)
  assert cfg.rope_theta == 1e6 and cfg.rms_norm_eps == 1e-6
  shapes = jax.eval_shape(
      lambda: llama.LlamaTransformer(cfg).init(
          jax.random.PRNGKey(0), jnp.ones((1, 1), jnp.int32),
          enable_dropout=False))
  count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes))
  if num_params is None:
    assert cfg.vocab_size == 384 and count < 1_000_000
    return
  assert _hf_parameter_count(*hf_sizes) == num_params
  assert count == num_params
  assert sum(int(np.prod(s)) for s in
             families.get('qwen2').expected_shapes(cfg).values()) == num_params
