"""Natural language inference: ANLI, MNLI, QNLI, RTE, CB, SNLI, WNLI.

Three-way datasets share one template family over `premise`/`hypothesis`
with the options ('yes', 'it is not possible to tell', 'no') in the order
entailment, neutral, contradiction; two-way ones use ('yes', 'no'). Every
example also has `relation`, a phrase for its label used by the inversion
templates ("write a sentence that contradicts this passage").
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

NLI3_OPTIONS = ('yes', 'it is not possible to tell', 'no')
NLI2_OPTIONS = ('yes', 'no')
_RELATIONS3 = ('is implied by', 'is neither implied nor contradicted by',
               'contradicts')
_RELATIONS2 = ('is implied by', 'is not implied by')

NLI3_TEMPLATES = common.templates('nli3', [
    ('{premise}\n\nBased on the passage above, is it true that '
     '"{hypothesis}"?', '{answer}'),
    ('Read the text and decide whether the statement follows from it.\n\n'
     'Text: {premise}\nStatement: {hypothesis}', '{answer}'),
    ('Premise: {premise}\nHypothesis: {hypothesis}\n\nDoes the premise '
     'entail the hypothesis?', '{answer}'),
    ('Suppose "{premise}" is true. Must "{hypothesis}" then also be true?',
     '{answer}'),
    ('{premise}\n\nQuestion: {hypothesis} Yes, no, or maybe?', '{answer}'),
    ('Here is a short passage:\n{premise}\n\nCan we conclude the following '
     'from it?\n{hypothesis}', '{answer}'),
    ('Given that {premise}, does it follow that {hypothesis}?', '{answer}'),
    ('Consider this claim: "{hypothesis}"\nIs the claim supported by the '
     'text below?\n\n{premise}', '{answer}'),
    ('Sentence A: {premise}\nSentence B: {hypothesis}\n\nIf sentence A is '
     'accurate, is sentence B accurate as well?', '{answer}'),
    ('I read this: {premise}\n\nMy friend then said "{hypothesis}". Was my '
     'friend right, going only by what I read?', '{answer}'),
    ('Decide if the hypothesis can be inferred from the context.\n'
     'Context: {premise}\nHypothesis: {hypothesis}\nAnswer:', '{answer}'),
    ('{premise}\nDoes this text support the sentence "{hypothesis}"?',
     '{answer}'),
])

NLI_INVERSION_TEMPLATES = common.templates('nli_inv', [
    ('Write a sentence that {relation} the following text.\n\n{premise}',
     '{hypothesis}'),
    ('Passage: {premise}\n\nCompose one statement that {relation} the '
     'passage.', '{hypothesis}'),
    ('{premise}\n\nGenerate a hypothesis that {relation} the premise above.',
     '{hypothesis}'),
])

NLI2_TEMPLATES = common.templates('nli2', [
    ('{premise}\n\nBased on that text, is it true that "{hypothesis}"?',
     '{answer}'),
    ('Text: {premise}\nClaim: {hypothesis}\n\nIs the claim entailed by the '
     'text?', '{answer}'),
    ('Premise: {premise}\nHypothesis: {hypothesis}\nDoes the hypothesis '
     'follow from the premise?', '{answer}'),
    ('Assume the following is correct: {premise}\nIs this then also '
     'correct: {hypothesis}', '{answer}'),
    ('{premise}\nQuestion: does that mean that {hypothesis}', '{answer}'),
    ('Read the passage and answer yes or no: can the sentence "{hypothesis}" '
     'be inferred from it?\n\n{premise}', '{answer}'),
    ('Given the statement "{premise}", can we say that "{hypothesis}"?',
     '{answer}'),
    ('First sentence: {premise}\nSecond sentence: {hypothesis}\nDoes the '
     'first sentence imply the second?', '{answer}'),
    ('{premise}\n\nIf the above is true, is "{hypothesis}" necessarily true '
     'too?', '{answer}'),
    ('Does the text below entail that {hypothesis}\n\n{premise}', '{answer}'),
    ('Check whether the hypothesis holds given the context.\nContext: '
     '{premise}\nHypothesis: {hypothesis}', '{answer}'),
])

QNLI_TEMPLATES = common.templates('qnli', [
    ('Question: {question}\nSentence: {sentence}\n\nDoes the sentence '
     'contain the answer to the question?', '{answer}'),
    ('Does "{sentence}" answer the question "{question}"?', '{answer}'),
    ('{question}\n\nIs the following a correct answer to that question?\n'
     '{sentence}', '{answer}'),
    ('Can the question "{question}" be answered using only this sentence: '
     '"{sentence}"?', '{answer}'),
    ('I want to know: {question}\nDoes this text tell me? {sentence}',
     '{answer}'),
    ('Sentence: {sentence}\nQuestion: {question}\nIs the answer to the '
     'question found in the sentence?', '{answer}'),
    ('Here is a question and a sentence from a Wikipedia article.\n'
     'Question: {question}\nSentence: {sentence}\nDoes the sentence answer '
     'it?', '{answer}'),
    ('{sentence}\n\nDoes the passage above respond to "{question}"?',
     '{answer}'),
    ('Determine whether the sentence answers the question.\n{question}\n'
     '{sentence}', '{answer}'),
    ('Someone asked "{question}" and got the reply "{sentence}". Does the '
     'reply answer what was asked?', '{answer}'),
])

def _nli3(ex, premise, hypothesis, label_order):
  """Maps to the shared 3-way fields; label_order[i] = canonical index."""
  label = tf.gather(tf.constant(label_order, tf.int64),
                    tf.cast(ex['label'], tf.int32))
  out = common.classification(NLI3_OPTIONS, label, 'nli3')
  out.update(premise=common.clean(ex[premise]),
             hypothesis=common.clean(ex[hypothesis]),
             relation=common.lookup(label, _RELATIONS3))
  return out


def _nli2(ex, premise, hypothesis, entailment_label):
  """2-way: label = 0 when ex['label'] == entailment_label else 1."""
  label = tf.cast(tf.not_equal(ex['label'], entailment_label), tf.int64)
  out = common.classification(NLI2_OPTIONS, label, 'nli2')
  out.update(premise=common.clean(ex[premise]),
             hypothesis=common.clean(ex[hypothesis]),
             relation=common.lookup(label, _RELATIONS2))
  return out


def _qnli(ex):
  out = common.classification(NLI2_OPTIONS, ex['label'], 'qnli')
  out.update(question=common.clean(ex['question']),
             sentence=common.clean(ex['sentence']))
  return out


def _snli_has_gold_label(ex):
  return ex['label'] >= 0


_S = common.TfdsSource
_CANONICAL = (0, 1, 2)  # entailment, neutral, contradiction


def _anli(round_name, sizes):
  return common.Entry(
      name=f'anli_{round_name}', cluster='nli',
      source=_S(f'anli/{round_name}', '0.1.0',
                common.splits('train', 'validation', 'test')),
      map_fn=common.bind(_nli3, premise='context', hypothesis='hypothesis',
                         label_order=_CANONICAL),
      templates=NLI3_TEMPLATES, inversion_templates=NLI_INVERSION_TEMPLATES,
      num_examples=sizes, metric_fns=metrics.CLASSIFICATION,
      description=f'Adversarial NLI round {round_name[1]}; labels e/n/c.')


ENTRIES = (
    _anli('r1', {'train': 16_946, 'validation': 1_000, 'test': 1_000}),
    _anli('r2', {'train': 45_460, 'validation': 1_000, 'test': 1_000}),
    _anli('r3', {'train': 100_459, 'validation': 1_200, 'test': 1_200}),
    common.Entry(
        name='mnli', cluster='nli',
        source=_S('glue/mnli', '2.0.0', common.splits(
            'train', 'validation_matched', 'validation_mismatched')),
        map_fn=common.bind(_nli3, premise='premise', hypothesis='hypothesis',
                           label_order=_CANONICAL),
        templates=NLI3_TEMPLATES, inversion_templates=NLI_INVERSION_TEMPLATES,
        num_examples={'train': 392_702, 'validation_matched': 9_815,
                      'validation_mismatched': 9_832},
        metric_fns=metrics.CLASSIFICATION,
        description='MultiNLI (GLUE); test labels are hidden, so no test.'),
    common.Entry(
        name='snli', cluster='nli',
        source=_S('snli', '1.1.0', common.splits('train', 'validation',
                                                 'test')),
        map_fn=common.bind(_nli3, premise='premise', hypothesis='hypothesis',
                           label_order=_CANONICAL),
        filter_fn=_snli_has_gold_label,
        filter_reason='pairs with label -1 (annotators gave no gold label: '
        '785 train, 158 validation, 176 test)',
        templates=NLI3_TEMPLATES, inversion_templates=NLI_INVERSION_TEMPLATES,
        num_examples={'train': 549_367, 'validation': 9_842, 'test': 9_824},
        metric_fns=metrics.CLASSIFICATION,
        description='Stanford NLI; pairs without a gold label (-1) are '
        'dropped (785/158/176 of 550,152/10,000/10,000).'),
    common.Entry(
        name='cb', cluster='nli',
        source=_S('super_glue/cb', '1.0.2', common.splits('train',
                                                          'validation')),
        # SuperGLUE CB orders labels entailment, contradiction, neutral.
        map_fn=common.bind(_nli3, premise='premise', hypothesis='hypothesis',
                           label_order=(0, 2, 1)),
        templates=NLI3_TEMPLATES, inversion_templates=NLI_INVERSION_TEMPLATES,
        num_examples={'train': 250, 'validation': 56},
        metric_fns=metrics.CLASSIFICATION,
        description='CommitmentBank (SuperGLUE).'),
    common.Entry(
        name='rte', cluster='nli',
        source=_S('super_glue/rte', '1.0.2', common.splits('train',
                                                           'validation')),
        map_fn=common.bind(_nli2, premise='premise', hypothesis='hypothesis',
                           entailment_label=0),
        templates=NLI2_TEMPLATES, inversion_templates=NLI_INVERSION_TEMPLATES,
        num_examples={'train': 2_490, 'validation': 277},
        metric_fns=metrics.CLASSIFICATION,
        description='Recognizing Textual Entailment (SuperGLUE).'),
    common.Entry(
        name='wnli', cluster='nli',
        source=_S('glue/wnli', '2.0.0', common.splits('train', 'validation')),
        # GLUE WNLI: 0 not_entailment, 1 entailment.
        map_fn=common.bind(_nli2, premise='sentence1', hypothesis='sentence2',
                           entailment_label=1),
        templates=NLI2_TEMPLATES, inversion_templates=NLI_INVERSION_TEMPLATES,
        num_examples={'train': 635, 'validation': 71},
        metric_fns=metrics.CLASSIFICATION,
        description='Winograd NLI (GLUE).'),
    common.Entry(
        name='qnli', cluster='nli',
        source=_S('glue/qnli', '2.0.0', common.splits('train', 'validation')),
        map_fn=_qnli, templates=QNLI_TEMPLATES,
        num_examples={'train': 104_743, 'validation': 5_463},
        metric_fns=metrics.CLASSIFICATION,
        description='Question NLI (GLUE): does the sentence answer it?'),
)
