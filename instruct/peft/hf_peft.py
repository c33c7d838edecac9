"""Adapters in Hugging Face `peft`'s format, both directions.

A `peft` adapter directory holds `adapter_config.json` (the method, its
settings and `base_model_name_or_path`) and `adapter_model.safetensors`.
`export_adapter` writes ours for the base exported with
`instruct.checkpoint_formats.save_hf`; `import_adapter` reads one back onto
our parameters. Supported: LoRA, (IA)^3, prompt tuning and prefix tuning
(P-tuning v2; a reparameterised prefix is written folded, as `peft` itself
saves it). Module names come from our HF name tables (`hf_t5.name_table`,
`hf_llama.name_table`), so adapters and base cannot disagree.

Tensor layouts (`peft` 0.21): LoRA `<module>.lora_A.weight` [r, in] and
`lora_B.weight` [out, r] (ours are [in, r] and [r, out]); (IA)^3
`<module>.ia3_l` [out, 1], or [1, in] for feed-forward modules; prompt and
prefix tuning one `prompt_embeddings` tensor: the soft prompt [n * s, E]
(s = 2 prompts for T5, the second unused) or the prefix table
[n, layers * 2 * kv] (per layer key then value).

T5 prefixes: with `transformers` 4.57 `peft` gives prefixes to the decoder
self-attention only, and decoder layer i reads the table's key/value pair
(2 i mod L) (L = layers): a one-to-one mapping when L is odd; with L even
two layers share a pair, so a T5 prefix adapter whose layers i and
i + L/2 differ cannot be expressed in `peft`'s format (export refuses it).
"""

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import flax
import numpy as np

from instruct import checkpoint_formats as formats
from instruct.errors import UserError
from instruct.peft import core
from instruct.peft import prompts

CONFIG_FILE = 'adapter_config.json'
WEIGHTS_FILE = 'adapter_model.safetensors'
_PREFIX = 'base_model.model.'
_EXPORTABLE = ('lora', 'ia3', 'prompt_tuning', 'prefix_tuning')


# -----------------------------------------------------------------------------
# Names.
# -----------------------------------------------------------------------------
def module_names(model_config) -> Dict[Tuple[str, ...], str]:
  """{our Dense scope path: HF module name} from our HF name table."""
  out = {}
  for path, name, transpose in formats.name_table(model_config):
    if path[-1] == 'kernel' and transpose and name.endswith('.weight'):
      out[path[:-1]] = name[:-len('.weight')]
  return out


def _method(peft_config) -> str:
  if peft_config is None:
    raise UserError('The model has no PeftConfig (include one of '
                    'gin_configs/peft/*.gin): there is no adapter to export.')
  methods = [m for m in peft_config.methods]
  if len(methods) != 1 or methods[0] not in _EXPORTABLE:
    raise UserError(
        f'Hugging Face peft holds one method per adapter; the PeftConfig uses '
        f'{", ".join(methods) or "none"}. Exportable: '
        f'{", ".join(_EXPORTABLE)} (merge LoRA/(IA)^3 into the base with '
        'instruct.peft.checkpoint.merge for other combinations).')
  return methods[0]


def _task_type(kind: str) -> str:
  return 'SEQ_2_SEQ_LM' if kind == 't5' else 'CAUSAL_LM'


def _hf_dims(model_config) -> Dict[str, int]:
  """The sizes `peft` derives from the base's config.json."""
  kind = formats.config_kind(model_config)
  if kind == 't5':
    return {'num_layers': model_config.num_encoder_layers,
            'token_dim': model_config.emb_dim,
            'num_attention_heads': model_config.num_heads}
  return {'num_layers': model_config.num_layers,
          'token_dim': model_config.emb_dim,
          'num_attention_heads': model_config.num_heads}


def _prefix_dims(model_config) -> Dict[str, int]:
  """peft's (num_layers, token_dim, num_attention_heads) for prefixes."""
  kind = formats.config_kind(model_config)
  if kind == 't5':
    dims = _hf_dims(model_config)
    if model_config.num_heads * model_config.head_dim != model_config.emb_dim:
      raise UserError(
          f'peft prefix tuning on T5 needs d_model == num_heads * d_kv; this '
          f'model has {model_config.emb_dim} != {model_config.num_heads} * '
          f'{model_config.head_dim}.')
    if model_config.num_decoder_layers != model_config.num_encoder_layers:
      raise UserError(
          'peft prefix tuning on T5 sizes its prefixes by num_layers (the '
          f'encoder, {model_config.num_encoder_layers}) but this decoder has '
          f'{model_config.num_decoder_layers} layers.')
    return dims
  kv = model_config.num_kv_heads * model_config.head_dim
  return {'num_layers': model_config.num_layers, 'token_dim': kv,
          'num_attention_heads': model_config.num_kv_heads}


def _t5_pairs(num_layers: int) -> List[int]:
  """Key/value pair of peft's prefix table that T5 decoder layer i reads."""
  return [(2 * i) % num_layers for i in range(num_layers)]


# -----------------------------------------------------------------------------
# Base checks.
# -----------------------------------------------------------------------------
def check_base(model_config, base_dir: str,
               base_params: Optional[Mapping[str, Any]] = None,
               what: str = 'adapter') -> None:
  """Refuses a HF base directory of another architecture, size or weights.

  Args:
    model_config: our config the adapter belongs to.
    base_dir: the HF directory (`base_model_name_or_path`).
    base_params: our base parameters; when given, the directory's weights
      must equal them (within float32 rounding).
    what: names the thing being exported/imported in the message.
  """
  if not os.path.exists(os.path.join(base_dir, 'config.json')):
    raise UserError(f'{base_dir} is not a Hugging Face model directory (no '
                    'config.json); export the base first (python -m '
                    'instruct.convert --to hf ... or --write_base).')
  kind, hf_cfg = formats.config_from_hf_dir(base_dir)
  ours = formats.config_kind(model_config)
  if kind != ours:
    raise UserError(f'{what}: {base_dir} is a {kind} model, the adapter '
                    f'belongs to a {ours} model.')
  want, got = formats.expected_shapes(model_config), formats.expected_shapes(
      hf_cfg)
  for path in sorted(set(want) | set(got)):
    if want.get(path) != got.get(path):
      raise UserError(
          f'{what}: the base {base_dir} does not match the model: parameter '
          f'{"/".join(path)} is {got.get(path)} there, {want.get(path)} here '
          '(hidden size, heads, layers or vocabulary differ).')
  if base_params is not None:
    tensors = formats.read_safetensors(base_dir)
    expected = formats._hf_state_dict(  # pylint: disable=protected-access
        core.base_params(base_params), model_config)
    for name, value in expected.items():
      if name in tensors and not np.allclose(
          np.asarray(tensors[name], np.float32), value, rtol=1e-5, atol=1e-6):
        raise UserError(
            f'{what}: the weights in {base_dir} ({name}) differ from the base '
            'the adapter was trained on: export that base (or pass its '
            'directory) instead.')


# -----------------------------------------------------------------------------
# Export.
# -----------------------------------------------------------------------------
def _unboxed(params):
  params = flax.core.meta.unbox(flax.core.unfreeze(params))
  if set(params) == {'params'}:
    params = params['params']
  return params


def _node(params, path):
  node = params
  for key in path:
    if not isinstance(node, Mapping) or key not in node:
      return None
    node = node[key]
  return node


def _weights_and_config(params, model_config, method: str):
  """(tensors, peft config fields) of one method."""
  pc = model_config.peft
  kind = formats.config_kind(model_config)
  tensors: Dict[str, np.ndarray] = {}
  if method in ('lora', 'ia3'):
    targets, feedforward = [], []
    for path, name in module_names(model_config).items():
      node = _node(params, path) or {}
      if method == 'lora' and 'peft_lora_a' in node:
        tensors[f'{_PREFIX}{name}.lora_A.weight'] = np.asarray(
            node['peft_lora_a'], np.float32).T
        tensors[f'{_PREFIX}{name}.lora_B.weight'] = np.asarray(
            node['peft_lora_b'], np.float32).T
        targets.append(name)
      elif method == 'ia3' and 'peft_ia3' in node:
        scale = np.asarray(node['peft_ia3'], np.float32)
        ff = core.matches('/'.join(path), pc.ia3.feedforward_modules)
        tensors[f'{_PREFIX}{name}.ia3_l'] = (scale[None, :] if ff else
                                             scale[:, None])
        targets.append(name)
        if ff:
          feedforward.append(name)
    if not targets:
      raise UserError(f'The parameters hold no {method} weights (peft_lora_a '
                      '/ peft_ia3): is this the trained checkpoint?')
    if method == 'lora':
      lora = pc.lora
      fields = {'peft_type': 'LORA', 'r': lora.rank,
                'lora_alpha': lora.alpha, 'lora_dropout': lora.dropout,
                'use_rslora': lora.use_rslora, 'bias': 'none',
                'fan_in_fan_out': False, 'init_lora_weights': True,
                'target_modules': targets}
    else:
      fields = {'peft_type': 'IA3', 'target_modules': targets,
                'feedforward_modules': feedforward, 'fan_in_fan_out': False,
                'init_ia3_weights': True}
    return tensors, fields
  if method == 'prompt_tuning':
    scope = 'encoder' if kind == 't5' else 'decoder'
    rows = [_node(params, (scope, prompts.PROMPT))]
    submodules = 1
    if kind == 't5' and pc.prompt_tuning.t5_decoder_prompt:
      rows.append(_node(params, ('decoder', 'peft_decoder_prompt')))
      submodules = 2
    if any(r is None for r in rows):
      raise UserError('The parameters hold no soft prompt (peft_prompt): is '
                      'this the trained checkpoint?')
    tensors['prompt_embeddings'] = np.concatenate(
        [np.asarray(r, np.float32) for r in rows], axis=0)
    fields = {'peft_type': 'PROMPT_TUNING',
              'num_virtual_tokens': pc.prompt_tuning.num_virtual_tokens,
              'num_transformer_submodules': submodules,
              'prompt_tuning_init': 'RANDOM', **_hf_dims(model_config)}
    return tensors, fields
  # Prefix tuning (folded if reparameterised).
  dims = _prefix_dims(model_config)
  table, kv = prompts.prefix_table(params)
  if kv != dims['token_dim']:
    raise UserError(f'The prefixes are {kv} wide; peft expects '
                    f'{dims["token_dim"]} for this model.')
  if kind == 't5':
    table = _t5_table(table, kv, dims['num_layers'])
  fields = {'peft_type': 'PREFIX_TUNING',
            'num_virtual_tokens': pc.prefix_tuning.num_virtual_tokens,
            'num_transformer_submodules': 2 if kind == 't5' else 1,
            'prefix_projection': False, 'encoder_hidden_size': kv, **dims}
  tensors['prompt_embeddings'] = np.ascontiguousarray(table)
  return tensors, fields


def _t5_table(table: np.ndarray, kv: int, num_layers: int) -> np.ndarray:
  """Our per-layer prefixes in peft's T5 pair order (see module doc)."""
  out = np.zeros_like(table)
  filled: Dict[int, int] = {}
  for layer, pair in enumerate(_t5_pairs(num_layers)):
    block = table[:, 2 * layer * kv:2 * (layer + 1) * kv]
    if pair in filled:
      if not np.array_equal(out[:, 2 * pair * kv:2 * (pair + 1) * kv], block):
        raise UserError(
            f'peft (with transformers 4.57) feeds T5 decoder layers '
            f'{filled[pair]} and {layer} the same prefix pair {pair} '
            f'(layer i reads pair 2i mod {num_layers}); this adapter gives '
            'them different prefixes, which peft cannot represent. Use an odd'
            ' number of layers for T5 prefix adapters meant for peft.')
      continue
    out[:, 2 * pair * kv:2 * (pair + 1) * kv] = block
    filled[pair] = layer
  return out


def export_adapter(params: Mapping[str, Any], model_config, out_dir: str, *,
                   base_model_name_or_path: str,
                   check_base_weights: bool = True) -> List[str]:
  """Writes `out_dir/adapter_config.json` + `adapter_model.safetensors`.

  Args:
    params: our parameters with the adapter (`peft_` leaves).
    model_config: our `T5Config` / `LlamaConfig`, `peft` set.
    out_dir: created if needed.
    base_model_name_or_path: the HF directory of the base (written by our
      exporter); recorded in the config and checked against the model.
    check_base_weights: also require the directory's weights to equal our
      base parameters.

  Returns:
    The files written.
  """
  from safetensors import numpy as st_numpy  # pylint: disable=g-import-not-at-top
  method = _method(model_config.peft)
  params = _unboxed(params)
  check_base(model_config, base_model_name_or_path,
             params if check_base_weights else None, 'export_adapter')
  tensors, fields = _weights_and_config(params, model_config, method)
  kind = formats.config_kind(model_config)
  config = {'base_model_name_or_path': os.path.abspath(
      base_model_name_or_path), 'task_type': _task_type(kind),
            'inference_mode': True, 'revision': None, **fields}
  os.makedirs(out_dir, exist_ok=True)
  st_numpy.save_file({k: np.ascontiguousarray(v, np.float32)
                      for k, v in tensors.items()},
                     os.path.join(out_dir, WEIGHTS_FILE),
                     metadata={'format': 'pt'})
  with open(os.path.join(out_dir, CONFIG_FILE), 'w', encoding='utf-8') as f:
    json.dump(config, f, indent=2, sort_keys=True)
  return [CONFIG_FILE, WEIGHTS_FILE]


# -----------------------------------------------------------------------------
# Import.
# -----------------------------------------------------------------------------
def read_adapter(adapter_dir: str) -> Tuple[Dict[str, Any],
                                            Dict[str, np.ndarray]]:
  """(adapter_config.json, tensors) of a peft adapter directory."""
  from safetensors import numpy as st_numpy  # pylint: disable=g-import-not-at-top
  path = os.path.join(adapter_dir, CONFIG_FILE)
  try:
    with open(path, encoding='utf-8') as f:
      config = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f'{path} is not a readable peft adapter config: {e}') from e
  weights = os.path.join(adapter_dir, WEIGHTS_FILE)
  try:
    tensors = st_numpy.load_file(weights)
  except Exception as e:  # safetensors raises its own error types.
    raise UserError(f'{weights} is not a readable safetensors file: '
                    f'{str(e).splitlines()[0][:200]}') from e
  return config, tensors


def _expect(config: Mapping[str, Any], field: str, want: Any,
            adapter_dir: str) -> None:
  got = config.get(field)
  if got is not None and got != want:
    raise UserError(
        f'{adapter_dir}/{CONFIG_FILE}: {field}={got} but the model needs '
        f'{want}: the adapter was made for another base model.')


def _put(flat, path, value, shape, adapter_dir, name):
  value = np.asarray(value, np.float32)
  if tuple(value.shape) != tuple(shape):
    raise UserError(f'{adapter_dir}/{WEIGHTS_FILE}: {name} has shape '
                    f'{tuple(value.shape)}; the model expects {tuple(shape)}'
                    ' (an adapter for another base model?).')
  flat[path] = value


def import_adapter(adapter_dir: str, params: Mapping[str, Any],
                   model_config) -> Dict[str, Any]:
  """Our parameters with the peft adapter in `adapter_dir` added.

  Args:
    adapter_dir: a peft adapter directory (LoRA, (IA)^3, prompt or prefix
      tuning) for a base of this model's architecture and size.
    params: our parameters, e.g. `get_initial_variables` of a model built
      with the matching `PeftConfig` (its `peft_` leaves give the shapes and
      are replaced) over the base.
    model_config: our config, `peft` set to the adapter's method.

  Returns:
    The parameter tree with the adapter's values.

  Raises:
    UserError: the adapter's method, sizes or tensors do not fit the model.
  """
  config, tensors = read_adapter(adapter_dir)
  method = _method(model_config.peft)
  peft_type = {'lora': 'LORA', 'ia3': 'IA3', 'prompt_tuning': 'PROMPT_TUNING',
               'prefix_tuning': 'PREFIX_TUNING'}[method]
  _expect(config, 'peft_type', peft_type, adapter_dir)
  kind = formats.config_kind(model_config)
  _expect(config, 'task_type', _task_type(kind), adapter_dir)
  params = _unboxed(params)
  flat = core.flatten(params)
  if method in ('lora', 'ia3'):
    names = module_names(model_config)
    for path, name in names.items():
      for leaf, key, transform in (
          ('peft_lora_a', f'{name}.lora_A.weight', np.transpose),
          ('peft_lora_b', f'{name}.lora_B.weight', np.transpose),
          ('peft_ia3', f'{name}.ia3_l', np.ravel)):
        target = path + (leaf,)
        if _PREFIX + key in tensors:
          if target not in flat:
            raise UserError(f'{adapter_dir}: {key} adapts {name}, which this '
                            'model configuration does not target.')
          _put(flat, target, transform(tensors[_PREFIX + key]),
               flat[target].shape, adapter_dir, key)
    return core.unflatten(flat)
  table = tensors.get('prompt_embeddings')
  if table is None:
    raise UserError(f'{adapter_dir}/{WEIGHTS_FILE} holds no prompt_embeddings.')
  if method == 'prompt_tuning':
    _expect(config, 'token_dim', model_config.emb_dim, adapter_dir)
    n = model_config.peft.prompt_tuning.num_virtual_tokens
    _expect(config, 'num_virtual_tokens', n, adapter_dir)
    scope = 'encoder' if kind == 't5' else 'decoder'
    targets = [(scope, prompts.PROMPT)]
    if kind == 't5' and model_config.peft.prompt_tuning.t5_decoder_prompt:
      targets.append(('decoder', 'peft_decoder_prompt'))
    _put(flat, 'all', table, (n * len(targets), model_config.emb_dim),
         adapter_dir, 'prompt_embeddings')
    for i, path in enumerate(targets):
      flat[path] = flat['all'][i * n:(i + 1) * n]
    del flat['all']
    return core.unflatten(flat)
  dims = _prefix_dims(model_config)
  for field in ('token_dim', 'num_layers', 'num_attention_heads'):
    _expect(config, field, dims[field], adapter_dir)
  n = model_config.peft.prefix_tuning.num_virtual_tokens
  kv, layers = dims['token_dim'], dims['num_layers']
  _put(flat, 'table', table, (n, 2 * layers * kv), adapter_dir,
       'prompt_embeddings')
  table = flat.pop('table')
  if model_config.peft.prefix_tuning.reparameterize:
    raise UserError('A peft prefix adapter holds the folded prefixes; build '
                    'the model with peft.PrefixTuningConfig.reparameterize='
                    'False to import it.')
  for layer, path in prompts.prefix_paths(params).items():
    pair = _t5_pairs(layers)[layer] if kind == 't5' else layer
    flat[path + (prompts.PREFIX_KEY,)] = table[:, 2 * pair * kv:
                                               (2 * pair + 1) * kv]
    flat[path + (prompts.PREFIX_VALUE,)] = table[:, (2 * pair + 1) * kv:
                                                 (2 * pair + 2) * kv]
  return core.unflatten(flat)
