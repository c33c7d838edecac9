"""Paraphrase detection: MRPC, QQP, PAWS (Wiki), STS-B.

MRPC and PAWS share templates over `sentence1`/`sentence2` with options
('no', 'yes'); QQP has its own (its pairs are questions). STS-B's 0-5
similarity is rounded to the nearest integer and offered as the options
'0'..'5', as in Flan; its metrics are accuracy and the Pearson/Spearman
correlations of the predicted numbers.
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

_S = common.TfdsSource
YES_NO = ('no', 'yes')
STSB_OPTIONS = ('0', '1', '2', '3', '4', '5')
_RELATIONS = ('does not mean the same as', 'means the same as')

PARAPHRASE_TEMPLATES = common.templates('paraphrase', [
    ('Sentence 1: {sentence1}\nSentence 2: {sentence2}\n\nDo these two '
     'sentences mean the same thing?', '{answer}'),
    ('"{sentence1}" and "{sentence2}": are they paraphrases of each other?',
     '{answer}'),
    ('{sentence1}\n{sentence2}\n\nDo the two sentences above convey the same '
     'information?', '{answer}'),
    ('Is the second sentence a rewording of the first?\nFirst: {sentence1}\n'
     'Second: {sentence2}', '{answer}'),
    ('Compare these sentences and say whether they are semantically '
     'equivalent.\nA: {sentence1}\nB: {sentence2}', '{answer}'),
    ('Does "{sentence2}" say the same as "{sentence1}"?', '{answer}'),
    ('Here are two sentences:\n{sentence1}\n{sentence2}\nIs the meaning '
     'identical?', '{answer}'),
    ('Paraphrase check.\nOriginal: {sentence1}\nCandidate: {sentence2}\n'
     'Same meaning?', '{answer}'),
    ('Can "{sentence1}" be replaced by "{sentence2}" without changing the '
     'meaning?', '{answer}'),
    ('{sentence1}\n\nIs that equivalent to the following sentence?\n\n'
     '{sentence2}', '{answer}'),
])

PARAPHRASE_INVERSION_TEMPLATES = common.templates('paraphrase_inv', [
    ('Write a sentence that {relation} this one: {sentence1}',
     '{sentence2}'),
    ('{sentence1}\n\nProduce another sentence that {relation} the sentence '
     'above.', '{sentence2}'),
])

QQP_TEMPLATES = common.templates('qqp', [
    ('Question 1: {sentence1}\nQuestion 2: {sentence2}\n\nAre these two '
     'questions asking the same thing?', '{answer}'),
    ('Would "{sentence1}" and "{sentence2}" have the same answer?',
     '{answer}'),
    ('{sentence1}\n{sentence2}\nAre the questions above duplicates?',
     '{answer}'),
    ('Is the question "{sentence2}" a rephrasing of "{sentence1}"?',
     '{answer}'),
    ('On a Q&A forum, should these two questions be merged?\nA: {sentence1}\n'
     'B: {sentence2}', '{answer}'),
    ('First question: {sentence1}\nSecond question: {sentence2}\nDo they '
     'mean the same?', '{answer}'),
    ('Someone asked "{sentence1}" and someone else asked "{sentence2}". Are '
     'they asking about the same thing?', '{answer}'),
    ('Duplicate question detection.\n{sentence1}\n{sentence2}', '{answer}'),
    ('Can one answer serve both of these questions?\n1. {sentence1}\n2. '
     '{sentence2}', '{answer}'),
    ('Tell me if these questions are equivalent: "{sentence1}" / '
     '"{sentence2}"', '{answer}'),
])

STSB_TEMPLATES = common.templates('stsb', [
    ('Rate how similar these two sentences are in meaning, from 0 (not at '
     'all) to 5 (the same).\n{sentence1}\n{sentence2}', '{answer}'),
    ('Sentence A: {sentence1}\nSentence B: {sentence2}\n\nOn a scale of 0 '
     'to 5, how close in meaning are they?', '{answer}'),
    ('How semantically similar are "{sentence1}" and "{sentence2}"? Give a '
     'number between 0 and 5.', '{answer}'),
    ('{sentence1}\n{sentence2}\nSimilarity score (0-5):', '{answer}'),
    ('Score the meaning overlap of the following pair from 0 to 5.\n1: '
     '{sentence1}\n2: {sentence2}', '{answer}'),
    ('On a 0-5 scale, where 5 means identical meaning, rate: "{sentence1}" '
     'versus "{sentence2}"', '{answer}'),
    ('Here are two sentences. {sentence1} / {sentence2} How similar are '
     'they, from 0 to 5?', '{answer}'),
    ('Semantic textual similarity.\nFirst: {sentence1}\nSecond: '
     '{sentence2}\nScore:', '{answer}'),
    ('Do "{sentence1}" and "{sentence2}" mean the same thing? Answer with a '
     'similarity score from 0 to 5.', '{answer}'),
    ('Give a 0 to 5 rating of how much these sentences agree in meaning.\n\n'
     '{sentence1}\n\n{sentence2}', '{answer}'),
])


def _pair(ex, first, second, name):
  out = common.classification(YES_NO, ex['label'], name)
  out.update(sentence1=common.clean(ex[first]),
             sentence2=common.clean(ex[second]),
             relation=common.lookup(out['label'], _RELATIONS))
  return out


def _stsb(ex):
  label = tf.cast(tf.round(ex['label']), tf.int64)
  out = common.classification(STSB_OPTIONS, label, 'stsb')
  out.update(sentence1=common.clean(ex['sentence1']),
             sentence2=common.clean(ex['sentence2']))
  return out


ENTRIES = (
    common.Entry(
        name='mrpc', cluster='paraphrase',
        source=_S('glue/mrpc', '2.0.0', common.splits('train', 'validation')),
        map_fn=common.bind(_pair, first='sentence1', second='sentence2',
                           name='mrpc'),
        templates=PARAPHRASE_TEMPLATES,
        inversion_templates=PARAPHRASE_INVERSION_TEMPLATES,
        num_examples={'train': 3_668, 'validation': 408},
        metric_fns=metrics.CLASSIFICATION,
        description='Microsoft Research Paraphrase Corpus (GLUE; TFDS stores '
        'its test labels as -1).'),
    common.Entry(
        name='qqp', cluster='paraphrase',
        source=_S('glue/qqp', '2.0.0', common.splits('train', 'validation')),
        map_fn=common.bind(_pair, first='question1', second='question2',
                           name='qqp'),
        templates=QQP_TEMPLATES,
        num_examples={'train': 363_846, 'validation': 40_430},
        metric_fns=metrics.CLASSIFICATION,
        description='Quora Question Pairs (GLUE).'),
    common.Entry(
        name='paws_wiki', cluster='paraphrase',
        source=_S('paws_wiki/labeled_final_tokenized', '1.1.0',
                  common.splits('train', 'validation', 'test')),
        map_fn=common.bind(_pair, first='sentence1', second='sentence2',
                           name='paws_wiki'),
        templates=PARAPHRASE_TEMPLATES,
        inversion_templates=PARAPHRASE_INVERSION_TEMPLATES,
        num_examples={'train': 49_401, 'validation': 8_000, 'test': 8_000},
        metric_fns=metrics.CLASSIFICATION,
        description='PAWS Wikipedia, labeled_final subset.'),
    common.Entry(
        name='stsb', cluster='paraphrase',
        source=_S('glue/stsb', '2.0.0', common.splits('train', 'validation')),
        map_fn=_stsb, templates=STSB_TEMPLATES,
        num_examples={'train': 5_749, 'validation': 1_500},
        metric_fns=(metrics.accuracy, metrics.pearson_spearman),
        description='STS Benchmark (GLUE); score rounded to 0-5.'),
)
