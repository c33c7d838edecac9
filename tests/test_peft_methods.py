"""LoRA, (IA)^3, BitFit and adapters on both model families: short runs lower
the held-out loss, merging is exact, adapter checkpoints round-trip and
refuse a wrong base, several adapters serve side by side, fusion, gin."""

import json
import os
import subprocess
import sys

import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import seqio

from conftest import REPO_ROOT, single_process_env
from instruct import checkpoints
from instruct import errors
from instruct import configurables  # pylint: disable=unused-import  (gin names)
from instruct import gin_utils
from instruct import inference as infer
from instruct import input_pipeline
from instruct import partitioning
from instruct import trainer
from instruct.peft import checkpoint as peft_checkpoint
from instruct.peft import config as pc
from instruct.peft import core
from instruct.peft import fusion
import tiny

TASK = 'builtin_uppercase'
TASK_LENGTHS = {'inputs': 48, 'targets': 16}
VOCAB = seqio.ByteVocabulary()
METHODS = {
    'lora': pc.PeftConfig(lora=pc.LoraConfig(rank=4, alpha=8.0, dropout=0.1)),
    'rslora': pc.PeftConfig(lora=pc.LoraConfig(
        rank=4, alpha=4.0, use_rslora=True, target_modules=('query', 'value',
                                                            'mlp/wo'))),
    'ia3': pc.PeftConfig(ia3=pc.IA3Config()),
    'bitfit': pc.PeftConfig(bitfit=pc.BitFitConfig()),
    'houlsby': pc.PeftConfig(adapter=pc.AdapterConfig(bottleneck_dim=8)),
    'pfeiffer': pc.PeftConfig(adapter=pc.AdapterConfig(
        bottleneck_dim=8, placement='pfeiffer')),
}


def make_model(family, peft=None):
  if family == 't5':
    cfg = tiny.t5_config(num_heads=2, head_dim=16, num_encoder_layers=1,
                         num_decoder_layers=1, peft=peft)
    return tiny.t5_model(cfg, VOCAB,
                         loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')
  cfg = tiny.llama_config(num_heads=2, num_kv_heads=1, head_dim=16,
                          num_layers=1, peft=peft)
  return tiny.llama_model(cfg, VOCAB,
                          loss_normalizing_factor='NUM_REAL_TARGET_TOKENS')


@pytest.fixture(scope='module')
def data():
  """{family: (train batches, held-out batches)} of the built-in task."""
  out = {}
  for family in ('t5', 'llama'):
    conv = make_model(family).FEATURE_CONVERTER_CLS(pack=True)
    batches = []
    for split, n in (('train', 8), ('validation', 2)):
      cfg = input_pipeline.DatasetConfig(TASK, TASK_LENGTHS, split, 8,
                                         shuffle=split == 'train', seed=0,
                                         module='tasks')
      it = input_pipeline.get_dataset(cfg, conv).as_numpy_iterator()
      batches.append([next(it) for _ in range(n)])
    out[family] = tuple(batches)
  return out


def _one_device():
  return partitioning.Partitioner(devices=jax.devices()[:1])


def _shapes(batch):
  return {k: v.shape for k, v in batch.items()}


def _held_out_loss(model, params, batches):
  fn = jax.jit(lambda p, b: model.loss_fn(p, b, None)[1])
  total = weight = 0.0
  for b in batches:
    m = fn(params, b)
    total += float(m['loss_sum'])
    weight += float(m['weight_sum'])
  return total / weight


def _logits(model, params, batch):
  # pylint: disable=protected-access
  return np.asarray(jax.jit(model._compute_logits)(params, batch))


def _random_peft(params, seed=0, scale=0.3):
  """Gives every `peft_` leaf random values, so merges are not trivial."""
  rng = np.random.default_rng(seed)
  flat = core.flatten(params)
  for path, leaf in flat.items():
    if core.is_peft_path(path):
      noise = scale * rng.standard_normal(leaf.shape).astype(np.float32)
      base = 1.0 if path[-1] == 'peft_ia3' else 0.0
      flat[path] = jnp.asarray(base + noise)
  return core.unflatten(flat)


_INIT_CACHE = {}


def _init(model, batch, seed=0):
  """Initial params (cached: each distinct model compiles its init once)."""
  key = (model.module.config, tuple(sorted(_shapes(batch).items())), seed)
  if key not in _INIT_CACHE:
    _INIT_CACHE[key] = trainer.StateFactory(
        model, optax.identity(), _one_device(), _shapes(batch)).init(
            seed).params
  return _INIT_CACHE[key]


# -----------------------------------------------------------------------------
# Short runs lower the held-out loss.
# -----------------------------------------------------------------------------
# Two cases in the fast suite (each compiles a train step), all with `slow`.
FAST_RUNS = {('lora', 't5'), ('ia3', 'llama')}
RUNS = [pytest.param(m, f, marks=() if (m, f) in FAST_RUNS else
                     pytest.mark.slow)
        for m in sorted(METHODS) for f in ('t5', 'llama')]


@pytest.mark.parametrize('method,family', RUNS)
def test_short_run_lowers_held_out_loss(method, family, data):
  train, held_out = data[family]
  peft = METHODS[method]
  # (IA)^3 only rescales a random base: it needs a larger step to move.
  lr = 1e-1 if method == 'ia3' else 2e-2
  model, tx = make_model(family, peft), optax.adam(lr)
  p = _one_device()
  factory = trainer.StateFactory(model, tx, p, _shapes(train[0]))
  state = factory.init(0)
  base_before = core.base_params(jax.tree.map(np.asarray, state.params))
  before = _held_out_loss(model, state.params, held_out)
  step = trainer.jit_train_step(trainer.make_train_step(model, tx), factory)
  for i in range(24):
    state, _ = step(state, p.shard_batch(train[i % len(train)]),
                    jax.random.PRNGKey(0))
  after = _held_out_loss(model, state.params, held_out)
  print(f'{family} {method}: held-out loss {before:.3f} -> {after:.3f}; '
        f'{factory.describe_parameters()}')
  assert after < before - 0.3, (before, after)
  # Only the method's parameters moved.
  for path, leaf in core.flatten(core.base_params(state.params)).items():
    np.testing.assert_array_equal(np.asarray(leaf),
                                  core.flatten(base_before)[path])


# -----------------------------------------------------------------------------
# Merge.
# -----------------------------------------------------------------------------
@pytest.mark.parametrize('family', ['t5', 'llama'])
def test_merged_lora_and_ia3_give_the_same_logits(family, data):
  batch = data[family][1][0]
  peft = pc.PeftConfig(
      lora=pc.LoraConfig(rank=4, alpha=8.0,
                         target_modules=('query', 'value', 'mlp/wo')),
      ia3=pc.IA3Config())
  model = make_model(family, peft)
  # Updates of 0.1 change the logits by ~3 (the test below checks > 1e-2).
  params = _random_peft(_init(model, batch), scale=0.1)
  merged = peft_checkpoint.merge(params, peft)
  assert not core.adapter_params(merged)
  plain = make_model(family, None)
  want = _logits(model, params, batch)
  got = _logits(plain, merged, batch)
  assert np.abs(want - _logits(plain, core.base_params(params), batch)).max(
  ) > 1e-2, 'the adapter must change the logits for this test to mean much'
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_merge_refuses_methods_without_a_place_in_the_base():
  with pytest.raises(errors.UserError, match='bitfit cannot be merged'):
    peft_checkpoint.merge({}, METHODS['bitfit'])


# -----------------------------------------------------------------------------
# Adapter checkpoints.
# -----------------------------------------------------------------------------
def test_adapter_round_trip_and_wrong_base(tmp_path, data):
  batch = data['t5'][1][0]
  peft = METHODS['lora']
  model = make_model('t5', peft)
  params = _random_peft(_init(model, batch))
  path = peft_checkpoint.save_adapter(str(tmp_path / 'a'), params, peft,
                                      base_checkpoint_path='/ckpt/base_a')
  meta = json.load(open(os.path.join(path, 'adapter.json')))
  assert meta['base']['checkpoint_path'] == '/ckpt/base_a'
  assert peft_checkpoint.load_peft_config(path) == peft
  loaded = peft_checkpoint.load_adapter(path, core.base_params(params))
  for p, leaf in core.flatten(params).items():
    np.testing.assert_array_equal(np.asarray(core.flatten(loaded)[p]),
                                  np.asarray(leaf))
  np.testing.assert_array_equal(_logits(model, loaded, batch),
                                _logits(model, params, batch))
  # A bfloat16 copy of the same base is the same base.
  bf16 = jax.tree.map(lambda x: x.astype(jnp.bfloat16),
                      core.base_params(params))
  peft_checkpoint.load_adapter(path, bf16)
  # Another initialisation of the same architecture is not.
  other = core.base_params(_init(model, batch, seed=1))
  with pytest.raises(errors.UserError) as e:
    peft_checkpoint.load_adapter(path, other, base_path='/ckpt/base_b')
  assert '/ckpt/base_a' in str(e.value) and '/ckpt/base_b' in str(e.value)
  assert 'weights differ' in str(e.value)
  # Another architecture neither.
  llama_base = core.base_params(_init(make_model('llama', peft),
                                      data['llama'][1][0]))
  with pytest.raises(errors.UserError, match='names or shapes differ'):
    peft_checkpoint.load_adapter(path, llama_base, base_path='/ckpt/llama')


def test_several_adapters_chosen_per_request(tmp_path, data):
  """`instruct.infer --adapters`: each prompt decoded with its adapter."""
  gin.clear_config()
  batch = data['t5'][1][0]
  base_model = make_model('t5', None)
  base = _init(base_model, batch)
  manager = checkpoints.CheckpointManager(str(tmp_path / 'base'),
                                          save_dataset=False, async_save=False)
  manager.save(1, {'target': base, 'state': {'step': np.asarray(1, np.int32)}})
  manager.close()
  peft = METHODS['lora']
  fresh = _init(make_model('t5', peft), batch)  # B = 0: the base's outputs
  zero = peft_checkpoint.save_adapter(
      str(tmp_path / 'zero'), core.combine(core.adapter_params(fresh), base),
      peft)
  loud = peft_checkpoint.save_adapter(
      str(tmp_path / 'loud'),
      _random_peft(core.combine(core.adapter_params(fresh), base), scale=3.0),
      peft)
  prompts = ['abc def', 'hello', 'xyz', 'The cat']
  lines = [{'inputs': t, 'adapter': a} for t, a in
           zip(prompts + prompts, ['zero'] * 4 + ['loud'] * 4)]
  lines.append({'inputs': 'abc def'})  # no adapter: the base
  prompt_file = tmp_path / 'prompts.jsonl'
  prompt_file.write_text('\n'.join(json.dumps(l) for l in lines) + '\n')
  cfg = input_pipeline.DatasetConfig(None, {'inputs': 16, 'targets': 6},
                                     'validation', 4, shuffle=False, seed=0)
  out = infer.infer(model=base_model, checkpoint_path=str(tmp_path / 'base'),
                    output_dir=str(tmp_path / 'out'), dataset_cfg=cfg,
                    partitioner=_one_device(), input_file=str(prompt_file),
                    adapters=f'zero={zero},loud={loud}')
  rows = [json.loads(l) for l in open(out)]
  assert [r['adapter'] for r in rows[:8]] == ['zero'] * 4 + ['loud'] * 4
  zero_out = [r['prediction'] for r in rows[:4]]
  loud_out = [r['prediction'] for r in rows[4:8]]
  assert rows[8]['prediction'] == zero_out[0]  # B = 0 decodes like the base
  assert zero_out != loud_out
  bad = tmp_path / 'bad.jsonl'
  bad.write_text(json.dumps({'inputs': 'x', 'adapter': 'nope'}) + '\n')
  with pytest.raises(errors.UserError, match=r'bad.jsonl:1: "adapter": '
                     r"'nope' is not one of --adapters \(loud, zero\)"):
    infer.infer(model=base_model, checkpoint_path=str(tmp_path / 'base'),
                output_dir=str(tmp_path / 'out'), dataset_cfg=cfg,
                partitioner=_one_device(), input_file=str(bad),
                adapters=f'zero={zero},loud={loud}')


# -----------------------------------------------------------------------------
# Fusion.
# -----------------------------------------------------------------------------
def _two_lora_adapters(batch):
  a_cfg = pc.PeftConfig(lora=pc.LoraConfig(rank=2, alpha=4.0))
  b_cfg = pc.PeftConfig(lora=pc.LoraConfig(rank=4, alpha=4.0,
                                           use_rslora=True))
  base = _init(make_model('t5', None), batch)
  adapters = []
  for i, cfg in enumerate((a_cfg, b_cfg)):
    params = _random_peft(_init(make_model('t5', cfg), batch), seed=i)
    adapters.append((core.adapter_params(params), cfg))
  return base, adapters


def test_fusion_with_given_weights_is_the_weighted_sum_of_updates(data):
  batch = data['t5'][1][0]
  base, adapters = _two_lora_adapters(batch)
  weights = np.asarray([0.25, -1.5], np.float32)
  model, params = fusion.fused_model_and_params(make_model('t5', None), base,
                                                adapters, weights)
  cfg = core.peft_config_of(model)
  assert cfg.lora.rank == 6 and cfg.lora.scaling == 1.0
  merged = core.flatten(peft_checkpoint.merge(params, cfg))
  scope = ('encoder', 'layers_0', 'attention', 'value')
  want = np.asarray(core.flatten(base)[scope + ('kernel',)])
  for w, (leaves, c) in zip(weights, adapters):
    f = core.flatten(leaves)
    want = want + w * c.lora.scaling * (np.asarray(f[scope + ('peft_lora_a',)])
                                        @ np.asarray(f[scope + ('peft_lora_b',)]))
  np.testing.assert_allclose(np.asarray(merged[scope + ('kernel',)]), want,
                             atol=1e-5)


def test_fusion_weights_learned_on_a_small_set_lower_its_loss(data):
  train = data['t5'][0][:2]
  base, adapters = _two_lora_adapters(train[0])
  model = make_model('t5', None)
  init = np.asarray([0.5, 0.5], np.float32)
  learned = fusion.learn_weights(model, base, adapters, train, steps=15,
                                 learning_rate=0.1, init=init)
  assert learned.shape == (2,) and not np.allclose(learned, init)

  fused_model, _ = fusion.fused_model_and_params(model, base, adapters, init)
  loss_sum = jax.jit(lambda w, b: fused_model.loss_fn(core.combine(
      fusion.fuse(adapters, w), base), b, None)[0])

  def loss(w):
    return sum(float(loss_sum(jnp.asarray(w), b)) for b in train)

  assert loss(learned) < loss(init) - 1e-3
  with pytest.raises(errors.UserError, match='combines LoRA adapters'):
    fusion.fuse([adapters[0], ({}, METHODS['ia3'])], [1.0, 1.0])


# -----------------------------------------------------------------------------
# Gin: one include selects a method, for every family.
# -----------------------------------------------------------------------------
@gin.configurable('test_peft_methods.built_model')
def _built_model(model=gin.REQUIRED):
  return model


GIN_FILES = ('lora', 'ia3', 'bitfit', 'adapter_houlsby', 'adapter_pfeiffer')


@pytest.mark.parametrize('model_gin', ['models/t5_1_1/tiny.gin',
                                       'models/llama/tiny.gin',
                                       'models/qwen2/tiny.gin'])
def test_each_peft_gin_file_configures_the_model(model_gin):
  for name in GIN_FILES:
    gin.clear_config()
    try:
      args, bindings = gin_utils.parse_flags(
          [f'--gin_file={model_gin}', '--gin_file=models/vocab/byte.gin',
           f'--gin_file=peft/{name}.gin'])
      gin_utils.parse_gin(args.gin_file, bindings + [
          'test_peft_methods.built_model.model = %MODEL'])
      model = _built_model()  # pylint: disable=no-value-for-parameter
    finally:
      gin.clear_config()
    cfg = core.peft_config_of(model)
    method = 'adapter' if name.startswith('adapter') else name
    assert cfg.methods == (method,), name
    if method == 'adapter':
      assert cfg.adapter.placement == name.split('_')[1]


@pytest.mark.slow
@pytest.mark.e2e
def test_cli_lora_from_initial_checkpoint(tmp_path):
  """python -m instruct.train with peft/lora.gin over a full-FT checkpoint."""
  common = ['--gin_file=models/t5_1_1/tiny.gin',
            '--gin_file=models/vocab/byte.gin', '--gin_file=runs/finetune.gin',
            f"--gin.MIXTURE_OR_TASK_NAME='{TASK}'",
            "--gin.TASK_FEATURE_LENGTHS={'inputs': 48, 'targets': 16}",
            '--gin.BATCH_SIZE=4', '--gin.train.infer_eval_dataset_cfg=None',
            '--gin.train.show_progress=False']
  env = single_process_env()
  base_dir, lora_dir = str(tmp_path / 'base'), str(tmp_path / 'lora')
  subprocess.run([sys.executable, '-m', 'instruct.train', *common,
                  f"--gin.MODEL_DIR='{base_dir}'", '--gin.TRAIN_STEPS=2'],
                 cwd=REPO_ROOT, env=env, check=True, capture_output=True,
                 timeout=600)
  out = subprocess.run(
      [sys.executable, '-m', 'instruct.train', *common,
       '--gin_file=peft/lora.gin', f"--gin.MODEL_DIR='{lora_dir}'",
       f"--gin.INITIAL_CHECKPOINT_PATH='{base_dir}'", '--gin.TRAIN_STEPS=4',
       "--gin.peft.PeftConfig.frozen_dtype='bfloat16'"],
      cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True,
      timeout=600)
  assert 'starting at step 2 of 4' in out.stdout
  assert 'PEFT lora, frozen base in bfloat16' in out.stdout
  base = checkpoints.load_numpy_tree(os.path.join(base_dir, 'checkpoint_2'))
  tuned = checkpoints.load_numpy_tree(os.path.join(lora_dir, 'checkpoint_4'))
  assert core.adapter_params(tuned['target'])
  # Adam state only for the LoRA leaves.
  opt_names = {str(getattr(path[-1], 'key', '')) for path, _ in
               jax.tree_util.tree_leaves_with_path(
                   tuned['state']['param_states'])}
  assert 'kernel' not in opt_names and 'peft_lora_b' in opt_names, opt_names
  for path, leaf in core.flatten(core.base_params(tuned['target'])).items():
    want = core.flatten(base['target'])[path]
    np.testing.assert_allclose(np.asarray(leaf, np.float32), want,
                               rtol=1e-2, atol=1e-6)
