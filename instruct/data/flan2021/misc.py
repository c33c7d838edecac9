"""Miscellaneous clusters: topic and question-type classification (AG News,
TREC), linguistic acceptability (CoLA), word sense (WiC), conversational QA
(CoQA) and arithmetic word problems (DeepMind Mathematics).
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

_S = common.TfdsSource
YES_NO = ('no', 'yes')
# AG News label order: World, Sports, Business, Sci/Tech.
AG_NEWS_TOPICS = ('World', 'Sports', 'Business', 'Science/Tech')
# TREC coarse label order: DESC, ENTY, ABBR, HUM, NUM, LOC.
TREC_TYPES = ('description', 'entity', 'abbreviation', 'person', 'number',
              'location')

AG_NEWS_TEMPLATES = common.templates('ag_news', [
    ('{text}\n\nWhich topic is this article about?', '{answer}'),
    ('What section of a newspaper would this story appear in?\n\n{text}',
     '{answer}'),
    ('Headline: {title}\n{description}\n\nTopic:', '{answer}'),
    ('Classify the news story by subject.\n{text}', '{answer}'),
    ('"{title}" -- is this news about world affairs, sports, business or '
     'science and technology?', '{answer}'),
    ('Read the article and pick its category: {text}', '{answer}'),
    ('{description}\nWhat is the main topic of the text above?', '{answer}'),
    ('News: {text}\nCategory:', '{answer}'),
    ('Here is a news item: {text}\nWhich desk would cover it?', '{answer}'),
    ('Assign a topic label to this headline and summary.\n\n{title}\n'
     '{description}', '{answer}'),
])

AG_NEWS_INVERSION_TEMPLATES = common.templates('ag_news_inv', [
    ('Write a short news item about {answer}.', '{text}'),
    ('Compose a headline and first sentence for a {answer} story.',
     '{text}'),
])

TREC_TEMPLATES = common.templates('trec', [
    ('{text}\n\nWhat kind of answer does this question expect?', '{answer}'),
    ('Question: {text}\nIs it asking for a description, an entity, an '
     'abbreviation, a person, a number or a location?', '{answer}'),
    ('Classify the question by the type of its answer: {text}', '{answer}'),
    ('What type of thing is "{text}" asking about?', '{answer}'),
    ('{text}\nAnswer type:', '{answer}'),
    ('Determine the category of the answer to this question.\n\n{text}',
     '{answer}'),
    ('If someone asked "{text}", what sort of information would they want?',
     '{answer}'),
    ('Question classification.\nInput: {text}', '{answer}'),
    ('Here is a question: {text}\nWhat is its expected answer type?',
     '{answer}'),
    ('Identify what the following question seeks.\n{text}', '{answer}'),
])

COLA_TEMPLATES = common.templates('cola', [
    ('{sentence}\n\nIs this sentence grammatically acceptable English?',
     '{answer}'),
    ('Would a linguist rate this sentence as acceptable? {sentence}',
     '{answer}'),
    ('Sentence: {sentence}\nIs it grammatical?', '{answer}'),
    ('Check the grammar of the following sentence. Is it correct?\n\n'
     '{sentence}', '{answer}'),
    ('"{sentence}" Is this a well-formed sentence?', '{answer}'),
    ('Does the sentence below follow the rules of English grammar?\n'
     '{sentence}', '{answer}'),
    ('Grammatical acceptability judgment: {sentence}', '{answer}'),
    ('{sentence}\nCould a native speaker naturally say this?', '{answer}'),
    ('Is the sentence "{sentence}" grammatically correct?', '{answer}'),
    ('Here is a sentence: {sentence}\nIs it acceptable?', '{answer}'),
])

WIC_TEMPLATES = common.templates('wic', [
    ('Sentence 1: {sentence1}\nSentence 2: {sentence2}\n\nDoes the word '
     '"{word}" mean the same thing in both sentences?', '{answer}'),
    ('Is "{word}" used with the same meaning in "{sentence1}" and '
     '"{sentence2}"?', '{answer}'),
    ('{sentence1}\n{sentence2}\n\nSame sense of "{word}" in both?',
     '{answer}'),
    ('Word: {word}\nFirst use: {sentence1}\nSecond use: {sentence2}\nSame '
     'meaning?', '{answer}'),
    ('Decide whether "{word}" has the same sense in these two sentences.\n'
     'A: {sentence1}\nB: {sentence2}', '{answer}'),
    ('Here, "{word}" appears twice: "{sentence1}" and "{sentence2}". Does it '
     'mean the same both times?', '{answer}'),
    ('Word sense question about "{word}".\n{sentence1}\n{sentence2}',
     '{answer}'),
    ('Does "{word}" in the sentence "{sentence1}" mean what it means in '
     '"{sentence2}"?', '{answer}'),
    ('{sentence1}\n\nIn the sentence below, is "{word}" used the same way as '
     'above?\n\n{sentence2}', '{answer}'),
    ('Compare the meaning of "{word}" in these sentences.\n1. {sentence1}\n'
     '2. {sentence2}\nIs it the same?', '{answer}'),
])

COQA_TEMPLATES = common.templates('coqa', [
    ('{story}\n\nAnswer these questions about the story in order:\n'
     '{questions}', '{answer}'),
    ('Read the text and answer each question with a short phrase.\n\n'
     '{story}\n\nQuestions:\n{questions}', '{answer}'),
    ('Story: {story}\n\n{questions}\n\nNumbered answers:', '{answer}'),
    ('{questions}\n\nUse this passage to answer the questions above: '
     '{story}', '{answer}'),
    ('Here is a passage:\n{story}\nNow answer the following conversation '
     'questions:\n{questions}', '{answer}'),
    ('Context: {story}\n\nA conversation about the context asks:\n'
     '{questions}\nGive the answers, numbered.', '{answer}'),
    ('{story}\n\nAnswer the numbered questions; later ones may refer back '
     'to earlier ones.\n{questions}', '{answer}'),
    ('Text:\n{story}\n\nQuestion list:\n{questions}\n\nAnswer list:',
     '{answer}'),
    ('After reading the passage, answer each question briefly.\n{story}\n'
     '{questions}', '{answer}'),
    ('Conversational QA.\nPassage: {story}\nQuestions:\n{questions}',
     '{answer}'),
])

MATH_TEMPLATES = common.templates('math', [
    ('{question}', '{answer}'),
    ('Solve this: {question}', '{answer}'),
    ('Math problem: {question}\nAnswer:', '{answer}'),
    ('{question}\nWhat is the solution?', '{answer}'),
    ('Work out the answer. {question}', '{answer}'),
    ('Find the value asked for.\n\n{question}', '{answer}'),
    ('Q: {question}\nA:', '{answer}'),
    ('Please solve the following algebra problem.\n{question}', '{answer}'),
    ('Here is an equation to solve: {question}', '{answer}'),
    ('{question} Give just the number.', '{answer}'),
])

MATH_INVERSION_TEMPLATES = common.templates('math_inv', [
    ('Write a linear equation in one variable whose solution is {answer}.',
     '{question}'),
    ('Create an algebra problem with the answer {answer}.', '{question}'),
])


def _ag_news(ex):
  title = common.clean(ex['title'])
  description = common.clean(ex['description'])
  out = common.classification(AG_NEWS_TOPICS, ex['label'], 'ag_news')
  out.update(title=title, description=description,
             text=tf.strings.join([title, '\n', description]))
  return out


def _trec(ex):
  out = common.classification(TREC_TYPES, ex['label-coarse'], 'trec')
  out['text'] = common.clean(ex['text'])
  return out


def _cola(ex):
  out = common.classification(YES_NO, ex['label'], 'cola')
  out['sentence'] = common.clean(ex['sentence'])
  return out


def _wic(ex):
  out = common.classification(YES_NO, ex['label'], 'wic')
  out.update(word=common.clean(ex['word']),
             sentence1=common.clean(ex['sentence1']),
             sentence2=common.clean(ex['sentence2']))
  return out


def _coqa(ex):
  return {'story': common.clean(ex['story']),
          'questions': common.numbered(common.clean(ex['questions'])),
          'answer': common.numbered(common.clean(
              ex['answers']['input_text']))}


def _math(ex):
  return {'question': common.clean(ex['question']),
          'answer': common.clean(ex['answer'])}


ENTRIES = (
    common.Entry(
        name='ag_news_subset', cluster='misc',
        source=_S('ag_news_subset', '1.0.0', common.splits('train', 'test')),
        map_fn=_ag_news, templates=AG_NEWS_TEMPLATES,
        inversion_templates=AG_NEWS_INVERSION_TEMPLATES,
        num_examples={'train': 120_000, 'test': 7_600},
        metric_fns=metrics.CLASSIFICATION,
        description='AG News topic classification.'),
    common.Entry(
        name='trec', cluster='misc',
        source=_S('trec', '1.0.0', common.splits('train', 'test')),
        map_fn=_trec, templates=TREC_TEMPLATES,
        num_examples={'train': 5_452, 'test': 500},
        metric_fns=metrics.CLASSIFICATION,
        description='TREC question classification, coarse labels.'),
    common.Entry(
        name='cola', cluster='misc',
        source=_S('glue/cola', '2.0.0', common.splits('train', 'validation')),
        map_fn=_cola, templates=COLA_TEMPLATES,
        num_examples={'train': 8_551, 'validation': 1_043},
        metric_fns=metrics.CLASSIFICATION,
        description='Corpus of Linguistic Acceptability (GLUE).'),
    common.Entry(
        name='wic', cluster='misc',
        source=_S('super_glue/wic', '1.0.2',
                  common.splits('train', 'validation')),
        map_fn=_wic, templates=WIC_TEMPLATES,
        num_examples={'train': 5_428, 'validation': 638},
        metric_fns=metrics.CLASSIFICATION,
        description='Word-in-Context (SuperGLUE).'),
    common.Entry(
        name='coqa', cluster='misc',
        source=_S('coqa', '1.0.0', common.splits('train', 'test')),
        map_fn=_coqa, templates=COQA_TEMPLATES,
        num_examples={'train': 7_199, 'test': 500},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description='CoQA: a story and its whole conversation per example; '
        'target is the numbered list of answers.'),
    common.Entry(
        name='math_dataset', cluster='misc',
        source=_S('math_dataset/algebra__linear_1d', '1.0.0',
                  common.splits('train', 'test')),
        map_fn=_math, templates=MATH_TEMPLATES,
        inversion_templates=MATH_INVERSION_TEMPLATES,
        num_examples={'train': 1_999_998, 'test': 10_000},
        metric_fns=metrics.CLASSIFICATION, has_options=False,
        description='DeepMind Mathematics, algebra__linear_1d (train: the '
        'easy/medium/hard files; test: interpolate).'),
)
