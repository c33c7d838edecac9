r"""Standard benchmarks as SeqIO evaluation tasks (source 'bench').

Each benchmark is one fixed prompt over a real TFDS builder (or, for MMLU, the
CSV files of its original release), scored the way the benchmark is usually
reported, in a zero-shot and a k-shot version (k = `DEFAULT_SHOTS`, exemplars
drawn from the train split, or MMLU's dev split):

  bench_<name>_zs, bench_<name>_5shot

  * QA (generation): SQuAD v1.1 / v2.0 (exact match and F1 with the official
    normalisation, best over all annotated answers; v2 counts an answer of
    'unanswerable' as abstaining), TriviaQA (EM / F1 over the answer and all
    its aliases);
  * reasoning (rank classification over the options): ARC easy / challenge,
    PIQA, HellaSwag, MMLU (over the letters A-D);
  * inference (rank classification over the verbalised labels, listed in
    the prompt): SNLI, MNLI matched / mismatched, QNLI, RTE, ANLI r1-r3;
  * summarisation: CNN/DailyMail (ROUGE-1/2/Lsum and ROUGE-L, rouge-score);
  * translation: WMT16 German-English (BLEU and chrF, sacrebleu);
  * math: GSM8K chain of thought; the final number is extracted from the
    generation (after '####', else after 'the answer is', else the last
    number) and compared exactly.

XSum is left out: its TFDS builder needs a manual download. MMLU has no TFDS
builder; its tasks are registered only when `$INSTRUCT_MMLU_DIR` names a
directory in the original layout (`dev/`, `test/`, files `<subject>_dev.csv`,
`<subject>_test.csv`, rows `question,A,B,C,D,answer` without a header).

Formatting reuses the collection's in-graph variant machinery
(`instruct.data.variants.format_variant`): the prompts are built in the
tf.data graph and exemplar choice is deterministic per example. TFDS reading
and the field mapping reuse `instruct.data.flan2021` (pinned builders, the
same `tfds_read_options`). Registering reads no data.
"""

import csv
import dataclasses
import functools
import glob
import os
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import seqio
import tensorflow as tf

from instruct import metrics
from instruct.data import flan2021
from instruct.data import mixtures
from instruct.data import registry
from instruct.data import templates as templates_lib
from instruct.data import variants as variants_lib
from instruct.data.flan2021 import common
from instruct.errors import UserError

SOURCE = 'bench'
DEFAULT_SHOTS = 5
MMLU_ENV_VAR = 'INSTRUCT_MMLU_DIR'
ALL_ZS_MIXTURE = 'bench_all_zs'
REFERENCES_KEY = 'references'
UNANSWERABLE = 'unanswerable'
Template = templates_lib.Template


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """One benchmark: its data, prompt and scoring.

  Attributes:
    name: [a-z0-9_]+; tasks are `bench_<name>_zs` / `bench_<name>_<k>shot`.
    kind: 'qa', 'reasoning', 'nli', 'summarization', 'translation', 'math'.
    load: `load(split)` -> canonical feature dicts in a fixed order.
    template: the prompt; its targets must be '{answer}' for rank scoring.
    eval_split: the split that is scored.
    pool_split: the split few-shot exemplars come from.
    scoring: 'rank' (log-likelihood of each option) or 'generate'.
    options: 'none' or 'flan' (list the options under the prompt).
    metric_fns: metrics of generated outputs (ignored for 'rank').
    postprocess_fn: postprocessor of generated outputs.
    description: one line.
  """
  name: str
  kind: str
  load: Callable[[str], tf.data.Dataset]
  template: Template
  eval_split: str
  pool_split: str = 'train'
  scoring: str = 'generate'
  options: str = 'none'
  metric_fns: Sequence[Callable] = ()
  postprocess_fn: Optional[Callable] = None
  description: str = ''


# --- Postprocessors and metrics. --------------------------------------------


def first_line(text: Any) -> str:
  """The generation up to its first line break (a few-shot model tends to go
  on with the next 'Question:'), stripped."""
  return metrics.as_text(text).strip().split('\n', 1)[0].strip()


def qa_postprocessor(text: Any, example: Optional[Mapping[str, Any]] = None,
                     is_target: bool = False) -> Any:
  """Targets -> every acceptable answer; predictions -> their first line.

  A target becomes the list in the example's `references` feature (all
  annotated answers or aliases; empty for an unanswerable SQuAD 2.0
  question), so that `squad` / `squad_v2` score the best match. A prediction
  of 'unanswerable' abstains ('').
  """
  if is_target:
    if example is not None and REFERENCES_KEY in example:
      return [metrics.as_text(r)
              for r in np.asarray(example[REFERENCES_KEY]).reshape(-1)]
    return [metrics.as_text(text)]
  answer = first_line(text)
  if answer.lower().rstrip('.') == UNANSWERABLE:
    return ''
  return answer


_NUMBER = r'-?[\d,]*\.?\d+'


def _canonical_number(text: str) -> str:
  text = text.replace(',', '').replace('$', '')
  try:
    value = float(text)
  except ValueError:
    return text
  if value == int(value):
    return str(int(value))
  return repr(value)


def extract_final_number(text: Any) -> str:
  """The final numeric answer of a GSM8K-style solution, canonicalised.

  Looks, in order, after the last '####', after the last 'the answer is',
  then anywhere; the last number found wins. Commas and '$' are dropped and
  '18.00' becomes '18'. Returns '' when the text has no number.
  """
  text = metrics.as_text(text)
  for marker in ('####', 'the answer is'):
    position = text.lower().rfind(marker)
    if position >= 0:
      found = re.findall(_NUMBER, text[position + len(marker):])
      if found:
        return _canonical_number(found[0])
  found = re.findall(_NUMBER, text)
  return _canonical_number(found[-1]) if found else ''


def gsm8k_postprocessor(text: Any, example: Optional[Mapping[str, Any]] = None,
                        is_target: bool = False) -> str:
  """Both sides -> the final number (see `extract_final_number`)."""
  del example, is_target
  return extract_final_number(text)


def generation_postprocessor(text: Any,
                             example: Optional[Mapping[str, Any]] = None,
                             is_target: bool = False) -> str:
  """Strips the text; predictions are cut where a new exemplar would start."""
  del example
  text = metrics.as_text(text).strip()
  if not is_target:
    text = re.split(r'\n\s*\n', text, maxsplit=1)[0].strip()
  return text


# ROUGE-L besides ROUGE-1/2/Lsum: the one of `instruct.metrics`.
rouge_l = metrics.rouge_l


# --- Data. --------------------------------------------------------------------


def _flan_loader(name: str, extra: Optional[Callable] = None
                 ) -> Callable[[str], tf.data.Dataset]:
  """The flan2021 catalog's TFDS reader and mapping, plus `extra(ex)` fields."""
  entry = flan2021.get_entry(name)
  map_fn = entry.map_fn
  if extra is not None:
    base = map_fn

    def map_fn(ex):  # pylint: disable=function-redefined
      return dict(base(ex), **extra(ex))
  return common.make_loader(entry.source, map_fn, f'{SOURCE}_{name}',
                            entry.filter_fn, entry.filter_reason)


def _squad_references(ex):
  return {REFERENCES_KEY: common.clean(ex['answers']['text'])}


def _trivia_references(ex):
  return {REFERENCES_KEY: common.unique(common.clean(tf.concat(
      [tf.expand_dims(ex['answer']['value'], 0), ex['answer']['aliases']], 0)))}


def _gsm8k(ex):
  return {'question': common.clean(ex['question']),
          'answer': tf.strings.strip(ex['answer'])}


def _gsm8k_loader(split: str) -> tf.data.Dataset:
  source = common.TfdsSource('gsm8k', '1.0.0', common.splits('train', 'test'))
  return common.read_tfds(source, split, f'{SOURCE}_gsm8k').map(
      _gsm8k, num_parallel_calls=tf.data.AUTOTUNE)


MMLU_SPLITS = ('dev', 'val', 'test')
MMLU_LETTERS = ('A', 'B', 'C', 'D')


def read_mmlu_rows(directory: str, split: str) -> List[Dict[str, str]]:
  """Every row of `<directory>/<split>/*_<split>.csv`, sorted by subject.

  Raises:
    UserError: no files, or a row that is not `question,A,B,C,D,answer` with
      answer one of A-D (naming the file and line).
  """
  if split not in MMLU_SPLITS:
    raise UserError(f'MMLU has no split {split!r}; expected one of '
                    f'{list(MMLU_SPLITS)}.')
  pattern = os.path.join(directory, split, f'*_{split}.csv')
  files = sorted(glob.glob(pattern))
  if not files:
    raise UserError(f'MMLU: no files match {pattern} (set ${MMLU_ENV_VAR} to '
                    'the directory with dev/, val/ and test/).')
  rows = []
  for path in files:
    subject = os.path.basename(path)[:-len(f'_{split}.csv')]
    with open(path, newline='', encoding='utf-8') as f:
      reader = csv.reader(f)
      for row in reader:
        if len(row) != 6 or row[5].strip() not in MMLU_LETTERS:
          raise UserError(
              f'{path}, line {reader.line_num}: expected 6 columns '
              'question,A,B,C,D,answer with answer one of A-D; got '
              f'{row!r}.')
        rows.append({'subject': subject.replace('_', ' '),
                     'question': row[0].strip(),
                     'choices': [c.strip() for c in row[1:5]],
                     'answer': row[5].strip()})
  return rows


def mmlu_loader(directory: str) -> Callable[[str], tf.data.Dataset]:
  """`load(split)` over MMLU CSV files; options are the letters A-D."""

  def load(split: str) -> tf.data.Dataset:
    rows = read_mmlu_rows(directory, split)
    choices = [
        '\n'.join(f'{l}. {c}' for l, c in zip(MMLU_LETTERS, r['choices']))
        for r in rows]
    return tf.data.Dataset.from_tensor_slices({
        'subject': tf.constant([r['subject'] for r in rows]),
        'question': tf.constant([r['question'] for r in rows]),
        'choices': tf.constant(choices),
        'options': tf.constant([list(MMLU_LETTERS)] * len(rows)),
        'label': tf.constant([MMLU_LETTERS.index(r['answer']) for r in rows],
                             tf.int64),
        'answer': tf.constant([r['answer'] for r in rows]),
    })

  return load


# --- The benchmarks. ----------------------------------------------------------

_QA = (metrics.squad,)
# Two- and three-way datasets share the prompt; their option lists differ.
_NLI = Template(
    inputs='Premise: {premise}\nHypothesis: {hypothesis}\nDoes the premise '
    'entail the hypothesis?')


def _nli(name: str, flan_name: str, eval_split: str, template=_NLI,
         description: str = '') -> Benchmark:
  return Benchmark(
      name=name, kind='nli', load=_flan_loader(flan_name), template=template,
      eval_split=eval_split, scoring='rank', options='flan',
      description=description)


def _arc(name: str) -> Benchmark:
  return Benchmark(
      name=name, kind='reasoning', load=_flan_loader(name),
      template=Template(inputs='Question: {question}\nAnswer:'),
      eval_split='test', scoring='rank',
      description=f'AI2 Reasoning Challenge ({name}); ranks the answer texts.')


def tfds_benchmarks() -> List[Benchmark]:
  """The TFDS benchmarks (building them reads no data)."""
  return [
      Benchmark(
          name='squad_v1', kind='qa',
          load=_flan_loader('squad_v1', _squad_references),
          template=Template(
              inputs='Title: {title}\nBackground: {context}\n'
              'Question: {question}\nAnswer:'),
          eval_split='validation', metric_fns=_QA,
          postprocess_fn=qa_postprocessor,
          description='SQuAD 1.1; EM/F1 best over all annotated answers.'),
      Benchmark(
          name='squad_v2', kind='qa',
          load=_flan_loader('squad_v2', _squad_references),
          template=Template(
              inputs='Title: {title}\nBackground: {context}\n'
              'Question: {question}\nAnswer with a span of the background, '
              f'or "{UNANSWERABLE}" if it does not say.\nAnswer:'),
          eval_split='validation', metric_fns=(metrics.squad_v2,),
          postprocess_fn=qa_postprocessor,
          description='SQuAD 2.0; "unanswerable" abstains.'),
      Benchmark(
          name='trivia_qa', kind='qa',
          load=_flan_loader('trivia_qa', _trivia_references),
          template=Template(inputs='Question: {question}\nAnswer:'),
          eval_split='validation', metric_fns=_QA,
          postprocess_fn=qa_postprocessor,
          description='TriviaQA (rc.nocontext, closed book); EM/F1 over the '
          'answer and its aliases.'),
      _arc('arc_easy'),
      _arc('arc_challenge'),
      Benchmark(
          name='piqa', kind='reasoning', load=_flan_loader('piqa'),
          template=Template(inputs='Question: {goal}\nAnswer:'),
          eval_split='validation', scoring='rank',
          description='PIQA; ranks the two solutions.'),
      Benchmark(
          name='hellaswag', kind='reasoning', load=_flan_loader('hellaswag'),
          template=Template(inputs='{topic}: {context}'),
          eval_split='validation', scoring='rank',
          description='HellaSwag; ranks the four endings.'),
      _nli('snli', 'snli', 'test', description='SNLI test (gold labels).'),
      _nli('mnli_matched', 'mnli', 'validation_matched'),
      _nli('mnli_mismatched', 'mnli', 'validation_mismatched'),
      _nli('qnli', 'qnli', 'validation', template=Template(
          inputs='Question: {question}\nSentence: {sentence}\nDoes the '
          'sentence answer the question?')),
      _nli('rte', 'rte', 'validation', template=_NLI),
      _nli('anli_r1', 'anli_r1', 'test'),
      _nli('anli_r2', 'anli_r2', 'test'),
      _nli('anli_r3', 'anli_r3', 'test'),
      Benchmark(
          name='cnn_dailymail', kind='summarization',
          load=_flan_loader('cnn_dailymail'),
          template=Template(inputs='Article: {text}\nSummarize the article '
                            'in a few sentences.\nSummary:'),
          eval_split='test', metric_fns=(metrics.rouge, rouge_l),
          postprocess_fn=generation_postprocessor,
          description='CNN/DailyMail 3.0.0 highlights.'),
      Benchmark(
          name='wmt16_de_en', kind='translation',
          load=_flan_loader('wmt16_de_en'),
          template=Template(inputs='Translate German to English.\nGerman: '
                            '{foreign}\nEnglish:'),
          eval_split='test', metric_fns=(metrics.bleu_chrf,),
          postprocess_fn=generation_postprocessor,
          description='WMT16 newstest2016 German to English.'),
      Benchmark(
          name='gsm8k', kind='math', load=_gsm8k_loader,
          template=Template(inputs="Question: {question}\nAnswer: Let's "
                            'think step by step.'),
          eval_split='test', metric_fns=(metrics.exact_match,),
          postprocess_fn=gsm8k_postprocessor,
          description="GSM8K; the target is the worked solution ending "
          "'#### N', scored on the extracted final number."),
  ]


def mmlu_benchmark(directory: str) -> Benchmark:
  return Benchmark(
      name='mmlu', kind='reasoning', load=mmlu_loader(directory),
      template=Template(
          inputs='The following is a multiple choice question about '
          '{subject}.\n\n{question}\n{choices}\nAnswer:'),
      eval_split='test', pool_split='dev', scoring='rank',
      description='MMLU from CSV files; ranks the letters A-D.')


# --- Task registration. -------------------------------------------------------

_BENCHMARKS: Dict[str, Benchmark] = {}
# task name -> (benchmark name, shots).
_TASKS: Dict[str, tuple] = {}


def task_name(name: str, shots: int) -> str:
  return f'{SOURCE}_{name}_' + ('zs' if shots == 0 else f'{shots}shot')


def _variant(bench: Benchmark, shots: int) -> variants_lib.Variant:
  opt = 'opt' if bench.options != 'none' else 'noopt'
  return variants_lib.Variant(
      name='zs' if shots == 0 else f'{shots}shot',
      template_type=f'zs_{opt}' if shots == 0 else f'fs_{opt}',
      options=bench.options, shots=(shots,) if shots else (),
      rank=bench.scoring == 'rank')


def _with_idx(dataset: tf.data.Dataset) -> tf.data.Dataset:
  return dataset.enumerate().map(lambda i, f: dict(f, idx=i))


def _load(bench: Benchmark, split: str) -> tf.data.Dataset:
  dataset = bench.load(split)
  if not isinstance(dataset, tf.data.Dataset):
    raise UserError(f'Benchmark {bench.name}: load({split!r}) returned '
                    f'{type(dataset).__name__}, expected a tf.data.Dataset.')
  return _with_idx(dataset)


def _dataset_fn(split: str, shuffle_files: bool = False,
                seed: Optional[int] = None, *, name: str) -> tf.data.Dataset:
  del shuffle_files, seed
  return _load(_BENCHMARKS[name], split).map(
      lambda f: dict(f, **{variants_lib.SPLIT_KEY: split}))


def _format(dataset: tf.data.Dataset, *, bench: Benchmark,
            variant: variants_lib.Variant, name: str,
            vocabulary: seqio.Vocabulary) -> tf.data.Dataset:
  """`format_variant`, keeping the `references` feature when there is one."""
  renderer = variants_lib.Renderer(
      templates_lib.name_templates(f'{SOURCE}/{bench.name}',
                                   [bench.template]),
      variant.options, variants_lib.salt_for(name), name)
  formatted = variants_lib.format_variant(
      dataset, renderer=renderer, variant=variant, task_name=name,
      dataset_name=bench.name, source=SOURCE,
      pool_loader=functools.partial(_load, bench, bench.pool_split),
      pool_split=bench.pool_split, vocabulary=vocabulary)
  if REFERENCES_KEY not in dataset.element_spec:
    return formatted
  # Both are order-preserving maps of `dataset`, so zipping realigns them.
  references = dataset.map(lambda f: f[REFERENCES_KEY])
  return tf.data.Dataset.zip((formatted, references)).map(
      lambda f, r: dict(f, **{REFERENCES_KEY: r}))


def _register_task(bench: Benchmark, shots: int,
                   features: Mapping[str, seqio.Feature]) -> str:
  name = task_name(bench.name, shots)
  variant = _variant(bench, shots)
  vocabulary = features['targets'].vocabulary
  pipeline = [functools.partial(_format, bench=bench, variant=variant,
                                name=name, vocabulary=vocabulary)]
  if variant.rank:
    pipeline.append(variants_lib.rank_classification)
    postprocess_fn = metrics.rank_classification_target
    metric_fns = [metrics.rank_classification_accuracy]
  else:
    postprocess_fn = bench.postprocess_fn
    metric_fns = list(bench.metric_fns or [metrics.exact_match])
  registry.register_task(registry.TaskSpec(
      name=name,
      dataset_fn=functools.partial(_dataset_fn, name=bench.name),
      splits=(bench.eval_split,), preprocessors=pipeline,
      output_features=features, postprocess_fn=postprocess_fn,
      metric_fns=metric_fns, eval_only=True))
  _TASKS[name] = (bench.name, shots)
  return name


def register_benchmark(bench: Benchmark,
                       shots: Sequence[int] = (0, DEFAULT_SHOTS),
                       output_features: Optional[
                           Mapping[str, seqio.Feature]] = None
                      ) -> Dict[int, str]:
  """Registers one evaluation task per number of shots; reads no data.

  Returns:
    {shots: task name}.
  """
  if not re.match(r'^[a-z0-9_]+$', bench.name):
    raise UserError(f'Benchmark name {bench.name!r} must match [a-z0-9_]+.')
  if bench.scoring not in ('rank', 'generate'):
    raise UserError(f'Benchmark {bench.name}: scoring {bench.scoring!r} is '
                    "not 'rank' or 'generate'.")
  if any(k < 0 for k in shots):
    raise UserError(f'Benchmark {bench.name}: negative shots {shots}.')
  _BENCHMARKS[bench.name] = bench
  features = output_features or registry.OUTPUT_FEATURES
  return {k: _register_task(bench, k, features) for k in shots}


def registered_tasks(shots: Optional[int] = None) -> List[str]:
  """Registered benchmark task names, optionally only those with `shots`."""
  return [n for n, (_, k) in _TASKS.items() if shots is None or k == shots]


def get_benchmark(name: str) -> Benchmark:
  """The benchmark of a benchmark name or of one of its task names."""
  if name in _TASKS:
    name = _TASKS[name][0]
  if name not in _BENCHMARKS:
    raise UserError(f'{name!r} is not a registered benchmark; known: '
                    f'{sorted(_BENCHMARKS)}.')
  return _BENCHMARKS[name]


def register_all(shots: Sequence[int] = (0, DEFAULT_SHOTS),
                 mmlu_dir: Optional[str] = None) -> Dict[str, Dict[int, str]]:
  """Registers every benchmark and the `bench_all_zs` mixture.

  Args:
    shots: the numbers of shots to register (0 = zero-shot).
    mmlu_dir: MMLU CSV directory; None reads `$INSTRUCT_MMLU_DIR` (unset:
      no MMLU tasks).

  Returns:
    {benchmark: {shots: task name}}.
  """
  benches = tfds_benchmarks()
  mmlu_dir = mmlu_dir if mmlu_dir is not None else os.environ.get(
      MMLU_ENV_VAR)
  if mmlu_dir:
    benches.append(mmlu_benchmark(mmlu_dir))
  out = {b.name: register_benchmark(b, shots) for b in benches}
  zero_shot = [names[0] for names in out.values() if 0 in names]
  if zero_shot:
    mixtures.register_eval_mixture(ALL_ZS_MIXTURE, zero_shot)
  return out
