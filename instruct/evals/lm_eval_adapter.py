r"""Our JAX models as an LM Evaluation Harness (`lm-eval`) model: `instruct`.

    python -m instruct.lm_eval --model instruct \
      --model_args checkpoint=/tmp/run,gin_file=models/llama/tiny.gin \
      --tasks hellaswag --batch_size 16

(or plain `lm_eval ...` once `python -m instruct.lm_eval --install-hook` has
put the registration hook into the virtual environment).

The harness asks three things of a model; each is computed the way its own
`hf` model computes it, so the same checkpoint scores the same either way:

  * `loglikelihood(context, continuation)`: the summed log-probability of the
    continuation and whether greedy decoding would produce it. Tokens are
    split like `hf` does (the harness' `TemplateLM._encode_pair`: a
    decoder-only model encodes context + continuation together and splits
    after the context's tokens; an encoder-decoder model encodes them apart,
    the context to the encoder, the continuation as decoder targets).
  * `loglikelihood_rolling(text)`: windows of `max_length` tokens from the
    harness' `get_rolling_token_windows`, the first one conditioned on the
    prefix token (BOS, else EOS).
  * `generate_until(context, gen_kwargs)`: greedy (or sampled / beam, from
    `do_sample`, `temperature`, `top_k`, `top_p`, `num_beams`) decoding of
    at most `max_gen_toks` tokens with the model's cached decoder, cut at the
    first `until` string or EOS.

Tokens come from the model's SeqIO vocabulary (gin). A Hugging Face
tokenizer (`HuggingFaceVocabulary`) encodes with its own special tokens, as
`hf`'s tokenizer does (BOS only if the tokenizer adds it by default;
`add_bos_token` overrides); SeqIO vocabularies of encoder-decoder models end
the context with EOS, as the T5 tokenizers of Hugging Face do.

Requests are sorted by length and run in batches of `batch_size` rows padded
to a few bucket lengths (powers of two from 16 up to `max_length`), so each
jitted function compiles once per bucket, not once per request. Scoring and
decoding go through `instruct.predict.Predictor` (jitted once per decoding
config; short batches padded to `batch_size` rows).
"""

import dataclasses
import logging
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import gin
import jax
import jax.numpy as jnp
# Built-in models first: `get_model` only loads them into an empty registry.
import lm_eval.models  # pylint: disable=unused-import
from lm_eval import utils as harness_utils
from lm_eval.api import model as harness_model
from lm_eval.api.registry import register_model
from lm_eval.models import utils as harness_model_utils
import numpy as np
from tqdm import tqdm

from instruct import checkpoint_formats
from instruct import decoding
from instruct import gin_utils
from instruct import input_pipeline
from instruct import losses
from instruct import model_loading
from instruct import partitioning as partitioning_lib
from instruct import predict
from instruct import vocabularies
from instruct.errors import UserError
from instruct.models import encoder_decoder

logger = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 2048
DEFAULT_MAX_GEN_TOKS = 256
DEFAULT_BATCH_SIZE = 8
MIN_BUCKET = 16
DTYPES = ('float32', 'bfloat16', 'float16')
# gen_kwargs the harness' tasks pass that decoding maps or that do not change
# greedy output; anything else is reported (once) as ignored.
_GEN_KWARGS = ('do_sample', 'temperature', 'top_k', 'top_p', 'num_beams',
               'num_return_sequences', 'length_penalty', 'early_stopping')

Request = Tuple[Optional[Tuple[str, str]], List[int], List[int]]


# -----------------------------------------------------------------------------
# Arguments.
# -----------------------------------------------------------------------------
def split_arg(value: Union[None, str, Sequence[str]],
              separators: str = '+;') -> List[str]:
  """A model_args value as a list: `a.gin+b.gin`, `a;b` or a Python list.

  The harness splits `--model_args` at commas, so several values of one
  argument are joined with `+` or `;` instead.
  """
  if value is None:
    return []
  if not isinstance(value, str):
    return [str(v) for v in value if str(v).strip()]
  for sep in separators[1:]:
    value = value.replace(sep, separators[0])
  return [v.strip() for v in value.split(separators[0]) if v.strip()]


def bucket_length(length: int, max_length: int) -> int:
  """Smallest power of two >= length (at least MIN_BUCKET), <= max_length."""
  bucket = MIN_BUCKET
  while bucket < length:
    bucket *= 2
  return max(min(bucket, max_length), length)


def _positive(name: str, value: Any, default: int) -> int:
  """A positive integer model_arg; `auto` (batch_size) means the default."""
  if value is None:
    return default
  if str(value).startswith('auto'):
    logger.warning('instruct: %s=%s is not detected automatically; using %d.',
                   name, value, default)
    return default
  try:
    number = int(value)
  except (TypeError, ValueError):
    number = 0
  if number < 1:
    raise UserError(f'instruct model_args {name}={value!r}: expected a '
                    'positive integer.')
  return number


# -----------------------------------------------------------------------------
# The model and its parameters, from gin and a checkpoint.
# -----------------------------------------------------------------------------
@gin.configurable('lm_eval_model')
def _configured_model(model=gin.REQUIRED):
  return model


@dataclasses.dataclass
class Loaded:
  """A model built from gin with its restored parameters."""
  model: Any
  params: Any
  step: int
  partitioner: partitioning_lib.Partitioner


def load_model(checkpoint: str, gin_files: Sequence[str],
               gin_bindings: Sequence[str] = (),
               gin_search_paths: Sequence[str] = (),
               partitioner: Optional[partitioning_lib.Partitioner] = None
               ) -> Loaded:
  """Builds gin's MODEL and restores its parameters from `checkpoint`.

  The gin configuration is cleared first: the model depends on these files
  and bindings only. `checkpoint` is anything `instruct.eval` reads (an
  Orbax `checkpoint_<step>` or model directory, whose latest checkpoint is
  used, a Hugging Face directory, a T5X checkpoint or a .gguf file).

  Raises:
    UserError: naming the argument, file or parameter that is wrong.
  """
  from instruct import configurables  # pylint: disable=g-import-not-at-top,unused-import
  gin.clear_config()
  where = f'instruct model_args gin_file={"+".join(gin_files)}'
  try:
    gin_utils.parse_gin(list(gin_files),
                        [*gin_bindings, 'lm_eval_model.model = %MODEL'],
                        list(gin_search_paths))
    model = gin_utils.call_configured(_configured_model)
  except UserError as e:
    raise UserError(f'{where}: {e}') from None
  except Exception as e:  # pylint: disable=broad-except
    # Building MODEL runs user configuration (vocabulary files, sizes).
    detail = ' '.join(str(e).split())[:300]
    raise UserError(f'{where}: cannot build the MODEL it defines '
                    f'({type(e).__name__}: {detail}); expected a model gin '
                    'file such as models/llama/tiny.gin.') from e
  if not hasattr(model, 'module') or not hasattr(model,
                                                 'predict_batch_with_aux'):
    raise UserError(f'{where}: MODEL is a {type(model).__name__}; expected '
                    'DecoderOnlyModel or EncoderDecoderModel.')
  partitioner = partitioner or partitioning_lib.Partitioner()
  dataset_cfg = input_pipeline.DatasetConfig(
      mixture_or_task_name='', task_feature_lengths={'inputs': 8,
                                                     'targets': 8},
      split='', batch_size=partitioner.data_size, shuffle=False, seed=None,
      pack=False)
  abstract = model_loading.abstract_params(model, partitioner, dataset_cfg)
  try:
    path = os.fspath(model_loading.checkpoint_dirs(checkpoint)[-1])
  except UserError as e:
    raise UserError(f'instruct model_args checkpoint={checkpoint}: {e}'
                    ) from None
  try:
    params, step = checkpoint_formats.restore_params_and_step(path, abstract)
  except UserError as e:
    raise UserError(f'instruct model_args checkpoint={checkpoint} does not '
                    f'fit the model of gin_file={"+".join(gin_files)}: '
                    f'{e}') from None
  return Loaded(model, params, step, partitioner)


# -----------------------------------------------------------------------------
# The harness model.
# -----------------------------------------------------------------------------
@register_model('instruct')
class InstructLM(harness_model.TemplateLM):
  """An `lm_eval` model over our DecoderOnlyModel / EncoderDecoderModel.

  Constructed by the harness from `--model_args` (see `__init__`).
  """

  def __init__(self,
               checkpoint: Optional[str] = None,
               gin_file: Union[None, str, Sequence[str]] = None,
               gin_bindings: Union[None, str, Sequence[str]] = None,
               gin_search_paths: Union[None, str, Sequence[str]] = None,
               batch_size: Any = DEFAULT_BATCH_SIZE,
               max_length: Optional[int] = None,
               max_gen_toks: Optional[int] = None,
               dtype: Optional[str] = None,
               add_bos_token: Optional[bool] = None,
               prefix_token_id: Optional[int] = None,
               seed: int = 0,
               max_batch_size: Optional[int] = None,
               device: Optional[str] = None,
               partitioner: Optional[partitioning_lib.Partitioner] = None,
               **unknown):
    """Builds the model and restores its checkpoint.

    Args:
      checkpoint: an Orbax `checkpoint_<step>` or model directory (latest), a
        Hugging Face directory, a T5X checkpoint or a .gguf file.
      gin_file: the model gin file(s), joined with `+` or `;` (found like
        `--gin_file` of our command lines: here, in gin_search_paths or in
        the package's gin_configs/).
      gin_bindings: gin bindings, joined with `;`.
      gin_search_paths: more directories for gin files, joined with `+`/`;`.
      batch_size: rows per call (`auto` means DEFAULT_BATCH_SIZE).
      max_length: longest sequence scored (default 2048); longer inputs are
        cut from the left, as `hf` does.
      max_gen_toks: default token budget of `generate_until` (256).
      dtype: activation dtype (gin ACTIVATION_DTYPE): float32, bfloat16 or
        float16; parameters keep their checkpoint dtype.
      add_bos_token: encode with the tokenizer's special tokens (True) or
        without (False); None: the tokenizer's default, as `hf`.
      prefix_token_id: the token an empty context or the first rolling
        window is conditioned on (default BOS, else EOS).
      seed: sampling seed (folded with the batch number).
      max_batch_size: accepted for the harness' sake; unused.
      device: accepted for the harness' sake; JAX picks its default backend.
      partitioner: device layout (Python callers only).
      **unknown: anything else is an error naming it.
    """
    super().__init__()
    if unknown:
      raise UserError(
          f'instruct model_args: unknown argument(s) '
          f'{", ".join(sorted(unknown))}; expected checkpoint, gin_file, '
          'gin_bindings, gin_search_paths, batch_size, max_length, '
          'max_gen_toks, dtype, add_bos_token, prefix_token_id, seed.')
    if not checkpoint:
      raise UserError('instruct model_args: checkpoint= is required (an Orbax '
                      'checkpoint or model directory, a Hugging Face '
                      'directory, a T5X checkpoint or a .gguf file).')
    gin_files = split_arg(gin_file)
    if not gin_files:
      raise UserError('instruct model_args: gin_file= is required (the model '
                      'gin file(s), e.g. gin_file=models/llama/tiny.gin; '
                      'join several with +).')
    bindings = split_arg(gin_bindings, ';')
    if dtype not in (None, 'auto'):
      if dtype not in DTYPES:
        raise UserError(f'instruct model_args dtype={dtype!r}: expected one '
                        f'of {", ".join(DTYPES)}.')
      bindings.append(f"ACTIVATION_DTYPE = '{dtype}'")
    del max_batch_size, device  # The harness' own; JAX picks the backend.
    self._batch_size = _positive('batch_size', batch_size, DEFAULT_BATCH_SIZE)
    self._max_length = _positive('max_length', max_length, DEFAULT_MAX_LENGTH)
    self._max_gen_toks = _positive('max_gen_toks', max_gen_toks,
                                   DEFAULT_MAX_GEN_TOKS)
    self.add_bos_token = add_bos_token
    self._custom_prefix_token_id = prefix_token_id
    self._seed = int(seed)
    self.checkpoint = checkpoint

    loaded = load_model(checkpoint, gin_files, bindings,
                        split_arg(gin_search_paths), partitioner)
    self.model, self.params, self.step = (loaded.model, loaded.params,
                                          loaded.step)
    self.partitioner = loaded.partitioner
    self.vocab = self.model.output_vocabulary
    self.backend = ('seq2seq' if isinstance(
        self.model, encoder_decoder.EncoderDecoderModel) else 'causal')
    self._rows = self._batch_size + (-self._batch_size %
                                     self.partitioner.data_size)
    self._predictor = predict.Predictor(self.model, self.partitioner,
                                        score_fn=self._score)
    self._ignored_gen_kwargs = set()
    logger.info('instruct: %s (%s, step %d) from %s', type(self.model).__name__,
                self.backend, self.step, checkpoint)

  # ---------------------------------------------------------------------------
  # Harness properties.
  # ---------------------------------------------------------------------------
  @property
  def eot_token_id(self) -> int:
    return int(self.vocab.eos_id)

  @property
  def prefix_token_id(self) -> int:
    if self._custom_prefix_token_id is not None:
      return int(self._custom_prefix_token_id)
    bos = _bos_id(self.vocab)
    return bos if bos is not None else self.eot_token_id

  @property
  def max_length(self) -> int:
    return self._max_length

  @property
  def max_gen_toks(self) -> int:
    return self._max_gen_toks

  @property
  def batch_size(self) -> int:
    return self._batch_size

  @property
  def tokenizer_name(self) -> str:
    return repr(self.vocab).replace('/', '__')

  def get_model_info(self) -> dict:
    return {'checkpoint': self.checkpoint, 'step': self.step,
            'model': type(self.model).__name__}

  # ---------------------------------------------------------------------------
  # Tokens.
  # ---------------------------------------------------------------------------
  def tok_encode(self, string: str, add_special_tokens: Optional[bool] = None,
                 left_truncate_len: Optional[int] = None,
                 **kwargs) -> List[int]:
    """Token ids of `string`, with special tokens as `hf` would add them."""
    del kwargs
    special = add_special_tokens
    if special is None:
      special = True if self.add_bos_token is None else bool(
          self.add_bos_token)
      bos = _bos_id(self.vocab)
      bos_text = (self.tok_decode([bos], skip_special_tokens=False)
                  if bos is not None else '')
      if bos_text and string.startswith(bos_text):
        special = False  # The text already starts with BOS, as in hf.
    if isinstance(self.vocab, vocabularies.HuggingFaceVocabulary):
      ids = self.vocab.tokenizer.encode(string,
                                        add_special_tokens=special).ids
    else:
      ids = list(self.vocab.encode(string))
      if special and self.backend == 'seq2seq':
        ids.append(self.eot_token_id)
    ids = [int(i) for i in ids]
    return ids[-left_truncate_len:] if left_truncate_len else ids

  def tok_decode(self, tokens: Iterable[int],
                 skip_special_tokens: bool = True) -> str:
    if isinstance(tokens, (int, np.integer)):
      tokens = [tokens]
    ids = [int(t) for t in tokens]
    if isinstance(self.vocab, vocabularies.HuggingFaceVocabulary):
      return self.vocab.tokenizer.decode(
          ids, skip_special_tokens=skip_special_tokens)
    return self.vocab.decode(ids)

  # ---------------------------------------------------------------------------
  # Scoring.
  # ---------------------------------------------------------------------------
  def _score(self, params, batch):
    """(sum of target log-probs [B], every target the argmax [B])."""
    if self.backend == 'seq2seq':
      logits = self.model.module.apply(
          {'params': params}, batch['inputs'], batch['decoder_inputs'],
          batch['targets'], enable_dropout=False)
    else:
      # No target mask: id 0 may be a real token of a HF vocabulary, and
      # right padding is invisible to the real positions under causality.
      causal = (batch['prefix'] if getattr(
          self.model, 'inputs_bidirectional_attention', False) else None)
      logits = self.model.module.apply(
          {'params': params}, batch['inputs'], None,
          decoder_causal_attention=causal, enable_dropout=False)
    weights = batch['weights']
    total = losses.sequence_log_likelihood(logits, batch['targets'], weights)
    hit = jnp.argmax(logits, axis=-1) == batch['targets']
    greedy = jnp.all(jnp.logical_or(hit, weights == 0), axis=-1)
    return total, greedy

  def _score_rows(self, rows: List[Tuple[List[int], List[int]]]
                  ) -> List[Tuple[float, bool]]:
    """Scores (context ids, continuation ids) pairs: one padded batch."""
    if self.backend == 'seq2seq':
      enc = [ctx[-self.max_length:] for ctx, _ in rows]
      tgt = [cont[-self.max_length:] for _, cont in rows]
      enc_len = bucket_length(max(map(len, enc)), self.max_length)
      dec_len = bucket_length(max(map(len, tgt)), self.max_length)
      batch = {'inputs': _pad(enc, len(rows), enc_len),
               'decoder_inputs': _pad([[0] + t[:-1] for t in tgt], len(rows),
                                      dec_len),
               'targets': _pad(tgt, len(rows), dec_len),
               'weights': _pad([[1] * len(t) for t in tgt], len(rows),
                               dec_len, np.float32)}
    else:
      inputs, targets, weights, prefix = [], [], [], []
      for ctx, cont in rows:
        if len(cont) > self.max_length:
          raise UserError(f'instruct: a continuation of {len(cont)} tokens '
                          f'is longer than max_length={self.max_length}; '
                          'raise max_length in model_args.')
        whole = (ctx + cont)[-(self.max_length + 1):]
        inputs.append(whole[:-1])
        targets.append(whole[1:])
        n = len(whole) - 1
        weights.append([0] * (n - len(cont)) + [1] * len(cont))
        prefix.append([1] * (n - len(cont)))
      length = bucket_length(max(map(len, inputs)), self.max_length)
      batch = {'inputs': _pad(inputs, len(rows), length),
               'targets': _pad(targets, len(rows), length),
               'weights': _pad(weights, len(rows), length, np.float32),
               'prefix': _pad(prefix, len(rows), length)}
    total, greedy = self._predictor.score_batch(self.params, batch,
                                                rows=self._rows)
    return [(float(total[i]), bool(greedy[i])) for i in range(len(rows))]

  def _loglikelihood_tokens(self, requests: Sequence[Request],
                            disable_tqdm: bool = False,
                            **kwargs) -> List[Tuple[float, bool]]:
    """(log-prob, is greedy) per (key, context ids, continuation ids)."""
    del kwargs
    collator = harness_model_utils.Collator(
        list(requests), sort_fn=lambda r: (-len(r[1] + r[2]),
                                           tuple(r[1] + r[2])))
    results = []
    progress = tqdm(total=len(requests), disable=disable_tqdm,
                    desc='instruct: loglikelihood')
    for chunk in collator.get_batched(n=self._batch_size):
      scorable = [r for r in chunk if r[2]]
      scores = iter(self._score_rows([(r[1], r[2]) for r in scorable])
                    if scorable else [])
      for key, _, cont in chunk:
        # An empty continuation has probability 1 (hf refuses it).
        answer = next(scores) if cont else (0.0, True)
        results.append(answer)
        if key is not None:
          self.cache_hook.add_partial('loglikelihood', key, answer)
        progress.update(1)
    progress.close()
    return collator.get_original(results)

  def loglikelihood_rolling(self, requests, disable_tqdm: bool = False
                            ) -> List[float]:
    """Log-likelihood of whole texts, in disjoint windows of max_length."""
    windows, owners = [], []
    for index, (string,) in enumerate(req.args for req in requests):
      for window in harness_utils.get_rolling_token_windows(
          token_list=self.tok_encode(string),
          prefix_token=self.prefix_token_id, max_seq_len=self.max_length,
          context_len=1):
        ctx, cont = harness_utils.make_disjoint_window(window)
        windows.append((None, ctx, cont))
        owners.append(index)
    scores = self._loglikelihood_tokens(windows, disable_tqdm=disable_tqdm)
    totals = [0.0] * len(requests)
    for index, (logprob, _) in zip(owners, scores):
      totals[index] += logprob
    for req, total in zip(requests, totals):
      self.cache_hook.add_partial('loglikelihood_rolling', req.args, total)
    return totals

  # ---------------------------------------------------------------------------
  # Generation.
  # ---------------------------------------------------------------------------
  def _decoding_config(self, kwargs: Dict[str, Any],
                       max_gen_toks: int) -> decoding.DecodingConfig:
    ignored = set(kwargs) - set(_GEN_KWARGS) - self._ignored_gen_kwargs
    if ignored:
      logger.warning('instruct: generation arguments %s are not supported '
                     'and are ignored.', sorted(ignored))
      self._ignored_gen_kwargs |= ignored
    common = dict(max_decode_length=max_gen_toks, eos_id=self.eot_token_id)
    beams = int(kwargs.get('num_beams') or 1)
    if beams > 1:
      return decoding.plain_config(
          method='beam', beam_size=beams,
          length_penalty=float(kwargs.get('length_penalty', 0.0)), **common)
    temperature = float(kwargs.get('temperature') or 0.0)
    if kwargs.get('do_sample') and temperature > 0:
      return decoding.plain_config(
          method='sample', temperature=temperature,
          top_k=int(kwargs.get('top_k') or 0),
          top_p=float(kwargs.get('top_p') or 1.0), **common)
    return decoding.plain_config(method='greedy', **common)

  def _generate_rows(self, prompts: List[List[int]],
                     config: decoding.DecodingConfig, rng) -> List[List[int]]:
    width = bucket_length(max(map(len, prompts)), self.max_length)
    n = len(prompts)
    if self.backend == 'seq2seq':
      batch = {'encoder_input_tokens': _pad(prompts, n, width),
               'decoder_target_tokens': np.zeros(
                   (n, config.max_decode_length), np.int32)}
    else:
      # The prompt is the prefix SeqIO's prefix-LM converter would mark.
      batch = {'decoder_input_tokens': _pad(prompts, n, width),
               'decoder_causal_attention': _pad(
                   [[1] * len(p) for p in prompts], n, width)}
    tokens, _ = self._predictor.predict_batch(
        self.params, batch, rng=rng, config=config, rows=self._rows)
    out = []
    for row in tokens[:, 0]:
      ids = [int(t) for t in row]
      if self.eot_token_id in ids:
        ids = ids[:ids.index(self.eot_token_id)]
      out.append(ids)
    return out

  def generate_until(self, requests, disable_tqdm: bool = False) -> List[str]:
    """Decoded continuations, cut at the first stop string."""
    collator = harness_model_utils.Collator(
        [req.args for req in requests],
        sort_fn=lambda x: (-len(self.tok_encode(x[0])), x[0]),
        group_by='gen_kwargs', group_fn=lambda x: x[1])
    eos = self.tok_decode([self.eot_token_id], skip_special_tokens=False)
    base_rng = jax.random.PRNGKey(self._seed)
    results = []
    progress = tqdm(total=len(requests), disable=disable_tqdm,
                    desc='instruct: generate_until')
    for number, chunk in enumerate(collator.get_batched(n=self._batch_size)):
      contexts, all_kwargs = zip(*chunk)
      kwargs = harness_model_utils.normalize_gen_kwargs(
          dict(all_kwargs[0]), self.max_gen_toks)
      until = harness_model_utils.handle_stop_sequences(
          kwargs.pop('until', None), eos=eos)
      max_gen_toks = int(kwargs.pop('max_gen_toks'))
      if self.backend == 'causal':
        budget = self.max_length - max_gen_toks
        if budget < 1:
          raise UserError(
              f'instruct: max_gen_toks={max_gen_toks} leaves no room for a '
              f'prompt within max_length={self.max_length}; raise '
              'max_length in model_args.')
      else:
        budget = self.max_length
      prompts = []
      for context in contexts:
        ids = self.tok_encode(context, left_truncate_len=budget)
        prompts.append(ids or [self.prefix_token_id])
      config = self._decoding_config(kwargs, max_gen_toks)
      outputs = self._generate_rows(prompts, config,
                                    jax.random.fold_in(base_rng, number))
      for context, ids in zip(contexts, outputs):
        text = harness_model_utils.postprocess_generated_text(
            self.tok_decode(ids), until, None)
        results.append(text)
        self.cache_hook.add_partial('generate_until',
                                    (context, all_kwargs[0]), text)
        progress.update(1)
    progress.close()
    return collator.get_original(results)


def _bos_id(vocab) -> Optional[int]:
  try:
    bos = vocab.bos_id
  except (AttributeError, NotImplementedError):
    return None
  return None if bos is None else int(bos)


def _pad(rows: Sequence[Sequence[Any]], num_rows: int, length: int,
         dtype=np.int32) -> np.ndarray:
  """[num_rows, length] array, right-padded with 0 (missing rows all 0)."""
  out = np.zeros((num_rows, length), dtype)
  for i, row in enumerate(rows):
    out[i, :len(row)] = row
  return out
