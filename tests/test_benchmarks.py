"""The benchmark's FLOP counter and HLO collective counter (fast, no timing)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P
import numpy as np
import optax
import seqio

from benchmarks import flops
from benchmarks import hlo
from instruct import partitioning
from instruct import trainer
from instruct.models import encoder_decoder
from instruct.models import t5


def test_matmul_flops_of_a_product_and_its_gradient():
  a = jax.ShapeDtypeStruct((8, 16), jnp.float32)
  b = jax.ShapeDtypeStruct((16, 4), jnp.float32)
  assert flops.count_matmul_flops(lambda x, y: x @ y, a, b) == 2 * 8 * 16 * 4
  # The gradient of both operands adds two products of the same size.
  grad = jax.value_and_grad(lambda x, y: jnp.sum(x @ y), argnums=(0, 1))
  assert flops.count_matmul_flops(grad, a, b) == 3 * 2 * 8 * 16 * 4
  # Batched einsum (attention-style): batch dims multiply, contraction too.
  q = jax.ShapeDtypeStruct((2, 3, 5, 7), jnp.float32)
  assert flops.count_matmul_flops(
      lambda x: jnp.einsum('bhqd,bhkd->bhqk', x, x), q) == 2 * 2 * 3 * 5 * 5 * 7


def test_scan_bodies_count_once_per_iteration():
  w = jax.ShapeDtypeStruct((4, 4), jnp.float32)

  def f(w):
    return jax.lax.scan(lambda c, _: (c @ w, None), jnp.ones((2, 4)), None,
                        length=5)[0]

  assert flops.count_matmul_flops(f, w) == 5 * 2 * 2 * 4 * 4


def test_t5_train_step_flops_match_the_closed_form():
  cfg = t5.T5Config(vocab_size=64, emb_dim=16, num_heads=2, head_dim=8,
                    mlp_dim=32, num_encoder_layers=2, num_decoder_layers=1,
                    dropout_rate=0.0)
  model = encoder_decoder.EncoderDecoderModel(
      t5.Transformer(cfg), seqio.ByteVocabulary(), seqio.ByteVocabulary())
  shapes = {'encoder_input_tokens': (3, 12), 'decoder_input_tokens': (3, 6),
            'decoder_target_tokens': (3, 6)}
  params = nn.unbox(jax.eval_shape(
      lambda: model.get_initial_variables(jax.random.PRNGKey(0), shapes)
  )['params'])
  traced = flops.train_step_flops(model, params, shapes)
  assert traced == flops.analytic_t5_flops(cfg, 3, 12, 6)
  assert traced == 3 * flops.analytic_t5_flops(cfg, 3, 12, 6, backward=False)


HLO_SAMPLE = """
  %all-gather = f32[64,64]{1,0} all-gather(%param.1), channel_id=1, dimensions={0}
  %ar = (f32[256]{0}, bf16[8,2]{1,0}) all-reduce(%a, %b), channel_id=2, to_apply=%add
  %ags = (f32[4]{0}, f32[16]{0}) all-gather-start(%x), channel_id=3
  %agd = f32[16]{0} all-gather-done(%ags)
  ROOT %rs = f32[2,3]{1,0} reduce-scatter(%y), channel_id=4, dimensions={0}
  %fusion = f32[64,64]{1,0} fusion(%all-gather), kind=kLoop, calls=%all-reduce.clone
"""


def test_collective_counter_on_hlo_text():
  c = hlo.count_collectives(HLO_SAMPLE)
  assert c['all-gather'] == {'count': 2, 'bytes': 64 * 64 * 4 + 16 * 4}
  assert c['all-reduce'] == {'count': 1, 'bytes': 256 * 4 + 16 * 2}
  assert c['reduce-scatter'] == {'count': 1, 'bytes': 24}
  assert c['all-to-all']['count'] == c['collective-permute']['count'] == 0
  assert c['total']['count'] == 4


def test_collectives_of_a_compiled_data_parallel_step():
  # conftest gives 8 simulated devices. Data parallelism over 2 of them must
  # all-reduce every gradient (XLA combines them): bytes >= the parameters'.
  cfg = t5.T5Config(vocab_size=32, emb_dim=8, num_heads=2, head_dim=4,
                    mlp_dim=16, num_encoder_layers=1, num_decoder_layers=1,
                    dropout_rate=0.0)
  model = encoder_decoder.EncoderDecoderModel(
      t5.Transformer(cfg), seqio.ByteVocabulary(), seqio.ByteVocabulary())
  p = partitioning.Partitioner(devices=jax.devices()[:2])
  shapes = {'encoder_input_tokens': (4, 8), 'decoder_input_tokens': (4, 4),
            'decoder_target_tokens': (4, 4)}
  tx = optax.sgd(0.1)
  factory = trainer.StateFactory(model, tx, p, shapes)
  step = jax.jit(trainer.make_train_step(model, tx),
                 in_shardings=(factory.state_shardings, p.data_sharding,
                               NamedSharding(p.mesh, P())),
                 out_shardings=(factory.state_shardings, p.replicated))
  batch = {k: jax.ShapeDtypeStruct(s, jnp.int32) for k, s in shapes.items()}
  with p.context():
    text = step.lower(factory.abstract_state, batch,
                      jax.random.PRNGKey(0)).compile().as_text()
  counts = hlo.count_collectives(text)
  param_bytes = sum(int(np.prod(x.shape)) * 4
                    for x in jax.tree.leaves(factory.abstract_params))
  assert counts['all-reduce']['count'] >= 1
  assert counts['all-reduce']['bytes'] >= param_bytes
