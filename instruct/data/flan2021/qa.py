"""Question answering: closed-book QA, reading comprehension, and reading
comprehension with commonsense.

Closed-book (ARC, Natural Questions open, TriviaQA, WebQuestions) and
extractive/abstractive reading comprehension (SQuAD, DROP) are scored with
SQuAD's EM/F1; multiple-choice and yes/no datasets with accuracy. Where a
dataset lists several acceptable answers, the target is the first one.
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

_S = common.TfdsSource
YES_NO = ('no', 'yes')

# --------------------------------------------------------------------------
# Closed-book QA.

CBQA_TEMPLATES = common.templates('cbqa', [
    ('{question}', '{answer}'),
    ('Answer this question: {question}', '{answer}'),
    ('Q: {question}\nA:', '{answer}'),
    ('Please answer the following trivia question.\n\n{question}',
     '{answer}'),
    ('Question: {question}\nAnswer:', '{answer}'),
    ('What is the answer to this question? {question}', '{answer}'),
    ('Use what you know to answer: {question}', '{answer}'),
    ('{question}\n\nGive a short answer.', '{answer}'),
    ('Here is a general-knowledge question. {question}', '{answer}'),
    ('Quiz time! {question}', '{answer}'),
    ('Without looking anything up, answer the question "{question}"',
     '{answer}'),
])

CBQA_INVERSION_TEMPLATES = common.templates('cbqa_inv', [
    ('Write a trivia question whose answer is "{answer}".', '{question}'),
    ('Answer: {answer}\nWhat question could this be the answer to?',
     '{question}'),
    ('Come up with a quiz question. The answer should be: {answer}',
     '{question}'),
])

ARC_TEMPLATES = common.templates('arc', [
    ('{question}', '{answer}'),
    ('Science question: {question}', '{answer}'),
    ('Answer the grade-school science question below.\n\n{question}',
     '{answer}'),
    ('Q: {question}\nWhich answer is correct?', '{answer}'),
    ('Here is a question from a science exam: {question}\nWhat is the right '
     'answer?', '{answer}'),
    ('{question}\nPick the best answer.', '{answer}'),
    ('Test question: {question}\nAnswer:', '{answer}'),
    ('Use your knowledge of science to answer: {question}', '{answer}'),
    ('A student is asked: "{question}" What should the student answer?',
     '{answer}'),
    ('Choose the correct response to this question.\n{question}',
     '{answer}'),
])

# --------------------------------------------------------------------------
# Reading comprehension.

BOOLQ_TEMPLATES = common.templates('boolq', [
    ('{passage}\n\n{question}', '{answer}'),
    ('Read the passage and answer the question with yes or no.\n\nPassage: '
     '{passage}\nQuestion: {question}', '{answer}'),
    ('{passage}\n\nBased on the text above, {question_lower}', '{answer}'),
    ('Question: {question}\nContext: {passage}\nAnswer:', '{answer}'),
    ('Here is an article:\n{passage}\n\nAccording to it, {question_lower}',
     '{answer}'),
    ('Answer yes or no: {question}\n\nUse this text: {passage}', '{answer}'),
    ('Text: {passage}\n\nIs the answer to "{question}" yes?', '{answer}'),
    ('{passage}\nAfter reading this, would you say yes or no to the question '
     '"{question}"?', '{answer}'),
    ('Passage:\n{passage}\n\nTrue or false (answer yes/no): {question}',
     '{answer}'),
    ('I read the following. {passage}\nSo, {question_lower}', '{answer}'),
])

BOOLQ_INVERSION_TEMPLATES = common.templates('boolq_inv', [
    ('{passage}\n\nWrite a yes/no question about this text whose answer is '
     '"{answer}".', '{question}'),
    ('Passage: {passage}\nAsk a question that this passage answers with '
     '"{answer}".', '{question}'),
])

MULTIRC_TEMPLATES = common.templates('multirc', [
    ('{paragraph}\n\nQuestion: {question}\nProposed answer: {candidate}\nIs '
     'the proposed answer correct?', '{answer}'),
    ('Read the text, then decide if the answer given is right.\n\n'
     '{paragraph}\n\n{question}\nAnswer given: {candidate}', '{answer}'),
    ('{paragraph}\nBased on the paragraph, is "{candidate}" a correct answer '
     'to "{question}"?', '{answer}'),
    ('Paragraph: {paragraph}\nQ: {question}\nCandidate: {candidate}\nCorrect?',
     '{answer}'),
    ('Here is a passage:\n{paragraph}\n\nSomeone answered the question '
     '"{question}" with "{candidate}". Were they right?', '{answer}'),
    ('{paragraph}\n\nDoes "{candidate}" answer the question "{question}" '
     'correctly, going by the text?', '{answer}'),
    ('Check the answer against the passage.\nPassage: {paragraph}\n'
     'Question: {question}\nAnswer: {candidate}', '{answer}'),
    ('Context: {paragraph}\n{question} Is it "{candidate}"?', '{answer}'),
    ('{paragraph}\nAfter reading, is this a valid response to "{question}": '
     '{candidate}?', '{answer}'),
    ('Reading comprehension. {paragraph}\nQuestion: {question}\nIs '
     '"{candidate}" true according to the paragraph?', '{answer}'),
])

OPENBOOKQA_TEMPLATES = common.templates('openbookqa', [
    ('Fact: {fact}\nQuestion: {question}', '{answer}'),
    ('{fact}\n\nUsing that fact, answer: {question}', '{answer}'),
    ('Given the science fact "{fact}", {question_lower}', '{answer}'),
    ('Read the fact and answer the question.\nFact: {fact}\n{question}',
     '{answer}'),
    ('{question}\n\nHint: {fact}', '{answer}'),
    ('Knowing that {fact_lower}, how would you complete this: {question}',
     '{answer}'),
    ('Open-book question.\nBook fact: {fact}\nQ: {question}\nA:', '{answer}'),
    ('Here is something that is true: {fact}\nNow answer: {question}',
     '{answer}'),
    ('Question: {question}\nUseful information: {fact}\nAnswer:', '{answer}'),
    ('Apply this fact to the question below.\n{fact}\n\n{question}',
     '{answer}'),
])

SQUAD_TEMPLATES = common.templates('squad', [
    ('{context}\n\n{question}', '{answer}'),
    ('Read this passage and answer the question.\n\n{context}\n\nQuestion: '
     '{question}', '{answer}'),
    ('Article about {title}: {context}\n\nQ: {question}\nA:', '{answer}'),
    ('Extract the answer to "{question}" from the following text.\n\n'
     '{context}', '{answer}'),
    ('Context: {context}\nQuestion: {question}\nAnswer:', '{answer}'),
    ('{question}\n\nFind the answer in this passage: {context}', '{answer}'),
    ('Here is a paragraph from Wikipedia ({title}):\n{context}\n\nUsing it, '
     'answer: {question}', '{answer}'),
    ('Passage: {context}\n\nAnswer the question with a span from the '
     'passage: {question}', '{answer}'),
    ('I have a question about {title}. {question}\n\nRelevant text: '
     '{context}', '{answer}'),
    ('{context}\nWhat is the answer to the question "{question}"?',
     '{answer}'),
])

SQUAD_INVERSION_TEMPLATES = common.templates('squad_inv', [
    ('{context}\n\nWrite a question about this passage whose answer is '
     '"{answer}".', '{question}'),
    ('Passage: {context}\nAnswer: {answer}\nQuestion:', '{question}'),
    ('Generate a reading comprehension question for the text below. The '
     'answer must be "{answer}".\n\n{context}', '{question}'),
])

SQUAD2_TEMPLATES = common.templates('squad2', [
    ('{context}\n\n{question} (If the passage does not say, answer '
     '"unanswerable".)', '{answer}'),
    ('Read the passage and answer the question, or reply "unanswerable" if '
     'it cannot be answered from the passage.\n\n{context}\n\nQ: {question}',
     '{answer}'),
    ('Context: {context}\nQuestion: {question}\nAnswer (or "unanswerable"):',
     '{answer}'),
    ('Article about {title}: {context}\n\nCan you answer "{question}" from '
     'this article? Give the answer, or say unanswerable.', '{answer}'),
    ('{question}\n\nUse only this text; if it lacks the answer, write '
     'unanswerable.\n{context}', '{answer}'),
    ('Passage: {context}\n\nQuestion: {question}\nRespond with a span of the '
     'passage or with "unanswerable".', '{answer}'),
    ('Here is a Wikipedia paragraph on {title}.\n{context}\nWhat does it say '
     'about this: {question} (Reply unanswerable if nothing.)', '{answer}'),
    ('Answer from the text if possible, otherwise say "unanswerable".\n'
     'Text: {context}\nQuestion: {question}', '{answer}'),
    ('{context}\nQ: {question}\nA (answer "unanswerable" when the text does '
     'not contain it):', '{answer}'),
    ('Find the answer in the passage, if it is there.\n\n{context}\n\n'
     '{question}\n\nIf it is not there, write "unanswerable".', '{answer}'),
])

DROP_TEMPLATES = common.templates('drop', [
    ('{passage}\n\n{question}', '{answer}'),
    ('Read the passage and answer the question; it may need counting, '
     'sorting or arithmetic.\n\n{passage}\n\nQuestion: {question}',
     '{answer}'),
    ('Passage: {passage}\nQuestion: {question}\nAnswer:', '{answer}'),
    ('{question}\n\nWork it out from this text: {passage}', '{answer}'),
    ('Context: {passage}\n\nBased on the context, {question_lower}',
     '{answer}'),
    ('Here is an article:\n{passage}\n\nAnswer this question about it: '
     '{question}', '{answer}'),
    ('Reason over the paragraph to answer.\nParagraph: {passage}\nQ: '
     '{question}', '{answer}'),
    ('{passage}\nUsing the numbers and facts above, answer: {question}',
     '{answer}'),
    ('Discrete reasoning question.\n{passage}\n{question}', '{answer}'),
    ('Answer the question "{question}" using the passage below.\n\n'
     '{passage}', '{answer}'),
])

# --------------------------------------------------------------------------
# Reading comprehension with commonsense.

COSMOS_TEMPLATES = common.templates('cosmos_qa', [
    ('{context}\n\n{question}', '{answer}'),
    ('Read the story and answer the question.\n\n{context}\n\nQuestion: '
     '{question}', '{answer}'),
    ('Context: {context}\nQ: {question}\nA:', '{answer}'),
    ('{context}\nBased on the text and common sense, {question_lower}',
     '{answer}'),
    ('{question}\n\nThink about this passage: {context}', '{answer}'),
    ('Here is a short narrative:\n{context}\n\nWhat is the best answer to '
     '"{question}"?', '{answer}'),
    ('Passage: {context}\n\nUse commonsense reasoning. {question}',
     '{answer}'),
    ('After reading this, answer the question that follows.\n{context}\n'
     '{question}', '{answer}'),
    ('{context}\n\nWhich answer to the question "{question}" is most '
     'plausible?', '{answer}'),
    ('Story: {context}\nQuestion: {question}\nAnswer:', '{answer}'),
])

COSMOS_INVERSION_TEMPLATES = common.templates('cosmos_qa_inv', [
    ('{context}\n\nWrite a question about this story whose answer is: '
     '{answer}', '{question}'),
    ('Context: {context}\nAnswer: {answer}\nWhat was the question?',
     '{question}'),
])

RECORD_TEMPLATES = common.templates('record', [
    ('{passage}\n\nFill in the blank (___): {query}', '{answer}'),
    ('Read the news article, then complete the sentence.\n\n{passage}\n\n'
     '{query}', '{answer}'),
    ('Article: {passage}\nWhich entity belongs in the blank? {query}',
     '{answer}'),
    ('{passage}\nWhat should replace "___" in: {query}', '{answer}'),
    ('Complete the statement using an entity from the passage.\n{passage}\n'
     'Statement: {query}', '{answer}'),
    ('{query}\n\nFind the missing entity in this article: {passage}',
     '{answer}'),
    ('Passage: {passage}\n\nQuery: {query}\nAnswer:', '{answer}'),
    ('Here is a story from the news:\n{passage}\n\nWho or what is "___" in '
     'this follow-up sentence? {query}', '{answer}'),
    ('Given the article below, complete the sentence "{query}"\n\n{passage}',
     '{answer}'),
    ('{passage}\n\nThe blank in the next sentence stands for which entity?\n'
     '{query}', '{answer}'),
])


# --------------------------------------------------------------------------
# Map functions.


def _question(text):
  """A cleaned question ending in '?' (NQ and BoolQ questions have none)."""
  text = common.clean(text)
  text = tf.strings.regex_replace(text, r'([^?.!])$', r'\1?')
  first_char = tf.strings.upper(tf.strings.substr(text, 0, 1,
                                                  unit='UTF8_CHAR'))
  return tf.strings.join([first_char,
                          tf.strings.substr(text, 1, -1, unit='UTF8_CHAR')])


def _lower_first(text):
  return tf.strings.join([
      tf.strings.lower(tf.strings.substr(text, 0, 1, unit='UTF8_CHAR')),
      tf.strings.substr(text, 1, -1, unit='UTF8_CHAR')])


def _cbqa(ex, answer_fn):
  return {'question': _question(ex['question']),
          'answer': common.clean(answer_fn(ex))}


def _arc(ex):
  choices = ex['choices']
  label = common.index_of(choices['label'], ex['answerKey'])
  out = common.classification(common.clean(choices['text']), label, 'arc')
  out['question'] = common.clean(ex['question'])
  return out


def _boolq(ex):
  question = _question(ex['question'])
  out = common.classification(YES_NO, ex['label'], 'boolq')
  out.update(passage=common.clean(ex['passage']), question=question,
             question_lower=_lower_first(question))
  return out


def _multirc(ex):
  paragraph = tf.strings.regex_replace(ex['paragraph'],
                                       r'<b>Sent \d+: </b>|<br>', ' ')
  out = common.classification(YES_NO, ex['label'], 'multirc')
  out.update(paragraph=common.clean(paragraph),
             question=common.clean(ex['question']),
             candidate=common.clean(ex['answer']))
  return out


def _openbookqa(ex):
  q = ex['question']
  options = tf.stack([common.clean(q[f'choice_{c}']) for c in 'ABCD'])
  out = common.classification(options, ex['answerKey'], 'openbookqa')
  question = common.clean(q['stem'])
  fact = common.clean(ex['fact1'])
  out.update(question=question, question_lower=_lower_first(question),
             fact=fact, fact_lower=_lower_first(fact))
  return out


def _squad(ex, v2=False):
  answer = common.clean(common.first(ex['answers']['text']))
  if v2:
    answer = tf.where(ex['is_impossible'], tf.constant('unanswerable'),
                      answer)
  return {'title': common.clean(tf.strings.regex_replace(ex['title'], '_',
                                                         ' ')),
          'context': common.clean(ex['context']),
          'question': common.clean(ex['question']),
          'answer': answer}


def _drop(ex):
  question = common.clean(ex['question'])
  return {'passage': common.clean(ex['passage']), 'question': question,
          'question_lower': _lower_first(question),
          'answer': common.clean(ex['answer'])}


def _cosmos(ex):
  options = tf.stack([common.clean(ex[f'answer{i}']) for i in range(4)])
  out = common.classification(options, ex['label'], 'cosmos_qa')
  question = common.clean(ex['question'])
  out.update(context=common.clean(ex['context']), question=question,
             question_lower=_lower_first(question))
  return out


def _record(ex):
  # Options: the passage's entities, deduplicated, plus any answer that is
  # not among them (never the case in the released data).
  options = common.unique(tf.concat(
      [common.clean(ex['entities']), common.clean(ex['answers'])], 0))
  answer = common.clean(common.first(ex['answers']))
  out = common.classification(options, common.index_of(options, answer),
                              'record')
  passage = tf.strings.regex_replace(ex['passage'], r'\s*@highlight\s*',
                                     '. ')
  out.update(passage=common.clean(passage),
             query=common.clean(tf.strings.regex_replace(
                 ex['query'], '@placeholder', '___')))
  return out


def _nested(*keys):
  def get(ex):
    for k in keys:
      ex = ex[k]
    return ex
  return get


ENTRIES = (
    # Closed-book QA.
    common.Entry(
        name='arc_easy', cluster='closed_book_qa',
        source=_S('ai2_arc/ARC-Easy', '1.0.0',
                  common.splits('train', 'validation', 'test')),
        map_fn=_arc, templates=ARC_TEMPLATES,
        num_examples={'train': 2_251, 'validation': 570, 'test': 2_376},
        metric_fns=metrics.CLASSIFICATION,
        description='AI2 Reasoning Challenge, easy set.'),
    common.Entry(
        name='arc_challenge', cluster='closed_book_qa',
        source=_S('ai2_arc/ARC-Challenge', '1.0.0',
                  common.splits('train', 'validation', 'test')),
        map_fn=_arc, templates=ARC_TEMPLATES,
        num_examples={'train': 1_119, 'validation': 299, 'test': 1_172},
        metric_fns=metrics.CLASSIFICATION,
        description='AI2 Reasoning Challenge, challenge set.'),
    common.Entry(
        name='natural_questions', cluster='closed_book_qa',
        source=_S('natural_questions_open', '1.0.0',
                  common.splits('train', 'validation')),
        map_fn=common.bind(_cbqa, answer_fn=lambda ex: common.first(
            ex['answer'])),
        templates=CBQA_TEMPLATES, inversion_templates=CBQA_INVERSION_TEMPLATES,
        num_examples={'train': 87_925, 'validation': 3_610},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description='Natural Questions, open-domain version; target is the '
        'first listed answer.'),
    common.Entry(
        name='trivia_qa', cluster='closed_book_qa',
        source=_S('trivia_qa/rc.nocontext', '1.1.0',
                  common.splits('train', 'validation')),
        map_fn=common.bind(_cbqa, answer_fn=_nested('answer', 'value')),
        templates=CBQA_TEMPLATES, inversion_templates=CBQA_INVERSION_TEMPLATES,
        num_examples={'train': 138_384, 'validation': 17_944},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description='TriviaQA reading-comprehension questions without their '
        'evidence (test answers are hidden).'),
    common.Entry(
        name='web_questions', cluster='closed_book_qa',
        source=_S('web_questions', '1.0.0', common.splits('train', 'test')),
        map_fn=common.bind(_cbqa, answer_fn=lambda ex: common.first(
            ex['answers'])),
        templates=CBQA_TEMPLATES, inversion_templates=CBQA_INVERSION_TEMPLATES,
        num_examples={'train': 3_778, 'test': 2_032},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description='WebQuestions (Freebase); target is the first answer.'),
    # Reading comprehension.
    common.Entry(
        name='boolq', cluster='reading_comprehension',
        source=_S('super_glue/boolq', '1.0.2',
                  common.splits('train', 'validation')),
        map_fn=_boolq, templates=BOOLQ_TEMPLATES,
        inversion_templates=BOOLQ_INVERSION_TEMPLATES,
        num_examples={'train': 9_427, 'validation': 3_270},
        metric_fns=metrics.CLASSIFICATION,
        description='BoolQ yes/no questions (SuperGLUE).'),
    common.Entry(
        name='multirc', cluster='reading_comprehension',
        source=_S('super_glue/multirc', '1.0.2',
                  common.splits('train', 'validation')),
        map_fn=_multirc, templates=MULTIRC_TEMPLATES,
        num_examples={'train': 27_243, 'validation': 4_848},
        metric_fns=metrics.CLASSIFICATION,
        description='MultiRC (SuperGLUE): one (question, candidate answer) '
        'pair per example, judged correct or not.'),
    common.Entry(
        name='openbookqa', cluster='reading_comprehension',
        source=_S('openbookqa', '0.1.0',
                  common.splits('train', 'validation', 'test')),
        map_fn=_openbookqa, templates=OPENBOOKQA_TEMPLATES,
        num_examples={'train': 4_957, 'validation': 500, 'test': 500},
        metric_fns=metrics.CLASSIFICATION,
        description='OpenBookQA with its supporting science fact.'),
    common.Entry(
        name='squad_v1', cluster='reading_comprehension',
        source=_S('squad/v1.1', '3.0.0', common.splits('train',
                                                       'validation')),
        map_fn=_squad, templates=SQUAD_TEMPLATES,
        inversion_templates=SQUAD_INVERSION_TEMPLATES,
        num_examples={'train': 87_599, 'validation': 10_570},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description='SQuAD 1.1; target is the first annotated answer.'),
    common.Entry(
        name='squad_v2', cluster='reading_comprehension',
        source=_S('squad/v2.0', '3.0.0', common.splits('train',
                                                       'validation')),
        map_fn=common.bind(_squad, v2=True), templates=SQUAD2_TEMPLATES,
        num_examples={'train': 130_319, 'validation': 11_873},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description='SQuAD 2.0; unanswerable questions have the target '
        '"unanswerable".'),
    common.Entry(
        name='drop', cluster='reading_comprehension',
        source=_S('drop', '2.0.0', common.splits('train', validation='dev')),
        map_fn=_drop, templates=DROP_TEMPLATES,
        num_examples={'train': 77_409, 'validation': 9_536},
        metric_fns=metrics.EXTRACTIVE_QA, has_options=False,
        description="DROP discrete reasoning; 'validation' reads TFDS 'dev'."),
    # Reading comprehension with commonsense.
    common.Entry(
        name='cosmos_qa', cluster='reading_comprehension_with_commonsense',
        source=_S('cosmos_qa', '1.0.0', common.splits('train', 'validation')),
        map_fn=_cosmos, templates=COSMOS_TEMPLATES,
        inversion_templates=COSMOS_INVERSION_TEMPLATES,
        num_examples={'train': 25_262, 'validation': 2_985},
        metric_fns=metrics.CLASSIFICATION,
        description='Cosmos QA; test labels are hidden.'),
    common.Entry(
        name='record', cluster='reading_comprehension_with_commonsense',
        source=_S('super_glue/record', '1.0.2',
                  common.splits('train', 'validation')),
        map_fn=_record, templates=RECORD_TEMPLATES,
        # A ReCoRD passage can name more entities than the 26 markers the
        # randomised options style has (the zs_ropt variant).
        excluded_variants=('zs_ropt',),
        num_examples={'train': 100_730, 'validation': 10_000},
        metric_fns=metrics.EXTRACTIVE_QA,
        description='ReCoRD cloze over news entities (SuperGLUE); options '
        'are the passage entities; target is the first gold answer.'),
)
