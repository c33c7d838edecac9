"""Commonsense reasoning (COPA, HellaSwag, PIQA) and coreference (DPR, WSC,
WinoGrande).

All are multiple choice: `options` holds the candidates and `answer` the
correct one, so the zero-shot-with-options variants list them.
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

_S = common.TfdsSource
YES_NO = ('no', 'yes')

COPA_TEMPLATES = common.templates('copa', [
    ('{premise}\n\n{question_text}', '{answer}'),
    ('Premise: {premise}\nWhat is the more likely {relation}?', '{answer}'),
    ('"{premise_clause}" {connector}...', '{answer}'),
    ('Pick the more plausible {relation} of this event: {premise}',
     '{answer}'),
    ('Here is a situation: {premise}\nWhich of the alternatives is its '
     '{relation}?', '{answer}'),
    ('Complete the sentence sensibly: {premise_clause} {connector}',
     '{answer}'),
    ('{premise}\nI am looking for the {relation}. Which one fits best?',
     '{answer}'),
    ('Think about cause and effect. {premise} {question_text}', '{answer}'),
    ('Event: {premise}\nQuestion: what is its {relation}?', '{answer}'),
    ('Choose the alternative that is the {relation} of the following.\n\n'
     '{premise}', '{answer}'),
])

COPA_INVERSION_TEMPLATES = common.templates('copa_inv', [
    ('{answer} What could this be the {relation} of?',
     '{premise}'),
    ('Describe an event whose {relation} is: {answer}', '{premise}'),
])

HELLASWAG_TEMPLATES = common.templates('hellaswag', [
    ('{context}\n\nHow does this most likely continue?', '{answer}'),
    ('Finish the description.\n\n{topic}: {context}', '{answer}'),
    ('What comes next?\n{context}', '{answer}'),
    ('Here is the start of a passage about {topic}:\n{context}\n\nWrite the '
     'most sensible ending.', '{answer}'),
    ('Continue the text in the most plausible way: {context}', '{answer}'),
    ('{context}...\nWhich ending makes the most sense?', '{answer}'),
    ('Topic: {topic}\nBeginning: {context}\nEnding:', '{answer}'),
    ('Predict the next sentence of this {topic} description.\n\n{context}',
     '{answer}'),
    ('{context}\nWhat is the best way to complete this?', '{answer}'),
    ('A passage has been cut short: "{context}" How should it go on?',
     '{answer}'),
])

PIQA_TEMPLATES = common.templates('piqa', [
    ('Goal: {goal}\n\nWhich way of doing it makes more sense?', '{answer}'),
    ('How would you accomplish this: {goal}', '{answer}'),
    ('{goal}\n\nPick the better solution.', '{answer}'),
    ('I want to {goal_lower} What should I do?', '{answer}'),
    ('Physical commonsense question. Task: {goal}\nBest method:', '{answer}'),
    ('What is a sensible way to achieve the following?\n{goal}', '{answer}'),
    ('Here is something someone wants to do: "{goal}" Which approach works?',
     '{answer}'),
    ('{goal} How?', '{answer}'),
    ('Choose the solution that would actually work for this goal: {goal}',
     '{answer}'),
    ('Objective: {goal}\nSolution:', '{answer}'),
])

PIQA_INVERSION_TEMPLATES = common.templates('piqa_inv', [
    ('What goal does this accomplish?\n\n{answer}', '{goal}'),
    ('Solution: {answer}\nWrite the task this solves.', '{goal}'),
])

DPR_TEMPLATES = common.templates('dpr', [
    ('{sentence}\n\nWho or what does "{pronoun}" refer to in that sentence?',
     '{answer}'),
    ('In the sentence "{sentence}", what is "{pronoun}"?', '{answer}'),
    ('Resolve the pronoun.\nSentence: {sentence}\nPronoun: {pronoun}',
     '{answer}'),
    ('{sentence}\nWhich candidate is meant by "{pronoun}"?', '{answer}'),
    ('Read: {sentence}\nWhom does the word "{pronoun}" point to?',
     '{answer}'),
    ('Find the antecedent of "{pronoun}" in this sentence: {sentence}',
     '{answer}'),
    ('Coreference question. "{sentence}" Here, "{pronoun}" stands for:',
     '{answer}'),
    ('What does the pronoun "{pronoun}" mean in the sentence below?\n\n'
     '{sentence}', '{answer}'),
    ('{sentence} -- in this sentence, who is "{pronoun}"?', '{answer}'),
    ('Sentence: {sentence}\nQuestion: the pronoun "{pronoun}" refers to '
     'which noun phrase?', '{answer}'),
])

WSC_TEMPLATES = common.templates('wsc', [
    ('{text}\n\nIn the passage above, does "{pronoun}" refer to "{noun}"?',
     '{answer}'),
    ('Sentence: {text}\nDoes the pronoun "{pronoun}" stand for {noun}?',
     '{answer}'),
    ('{text}\nQuestion: is "{pronoun}" the same as "{noun}" here?',
     '{answer}'),
    ('Read the sentence and answer yes or no. {text} Here, by "{pronoun}" '
     'do they mean "{noun}"?', '{answer}'),
    ('Coreference check: in "{text}", is {noun} what "{pronoun}" refers to?',
     '{answer}'),
    ('{text}\n\nIs it correct that "{pronoun}" means "{noun}"?', '{answer}'),
    ('Text: {text}\nPronoun: {pronoun}\nCandidate: {noun}\nDoes the '
     'pronoun refer to the candidate?', '{answer}'),
    ('Does "{pronoun}" point to "{noun}" in the following sentence?\n{text}',
     '{answer}'),
    ('Consider: {text}\nWould replacing "{pronoun}" with "{noun}" keep the '
     'meaning?', '{answer}'),
    ('In this passage, who or what is "{pronoun}"? Is it {noun}?\n\n{text}',
     '{answer}'),
])

WINOGRANDE_TEMPLATES = common.templates('winogrande', [
    ('{sentence}\n\nWhat should fill in the blank (_)?', '{answer}'),
    ('Fill in the blank: {sentence}', '{answer}'),
    ('Which option best replaces the underscore in this sentence?\n'
     '{sentence}', '{answer}'),
    ('{sentence}\nWho or what is "_"?', '{answer}'),
    ('Complete the sentence by choosing the right word for "_": {sentence}',
     '{answer}'),
    ('Sentence with a gap: {sentence}\nThe gap refers to:', '{answer}'),
    ('Read this sentence and decide what belongs in the blank.\n\n'
     '{sentence}', '{answer}'),
    ('In "{sentence}", the _ stands for which of the two?', '{answer}'),
    ('Commonsense fill-in: {sentence}\nAnswer:', '{answer}'),
    ('{sentence} -- what goes in place of _?', '{answer}'),
])


def _copa(ex):
  is_cause = tf.equal(ex['question'], 'cause')
  premise = common.clean(ex['premise'])
  out = common.classification(
      tf.stack([common.clean(ex['choice1']), common.clean(ex['choice2'])]),
      ex['label'], 'copa')
  out.update(
      premise=premise,
      premise_clause=tf.strings.regex_replace(premise, r'[.!?]$', ''),
      relation=common.choose(is_cause, 'cause', 'effect'),
      connector=common.choose(is_cause, 'because', 'so'),
      question_text=common.choose(is_cause, 'What was the cause of this?',
                                  'What happened as a result?'))
  return out


def _hellaswag(ex):
  out = common.classification(common.clean(ex['endings']), ex['label'],
                              'hellaswag')
  out.update(context=common.clean(ex['context']),
             topic=common.clean(ex['activity_label']))
  return out


def _piqa(ex):
  goal = common.clean(ex['goal'])
  out = common.classification(
      tf.stack([common.clean(ex['sol1']), common.clean(ex['sol2'])]),
      ex['label'], 'piqa')
  out.update(goal=goal, goal_lower=tf.strings.lower(goal))
  return out


def _dpr(ex):
  out = common.classification(common.clean(ex['candidates']), ex['label'],
                              'definite_pronoun_resolution')
  out.update(sentence=common.clean(ex['sentence']),
             pronoun=common.clean(ex['pronoun']))
  return out


def _wsc(ex):
  out = common.classification(YES_NO, ex['label'], 'wsc')
  out.update(text=common.clean(ex['text']),
             noun=common.clean(ex['span1_text']),
             pronoun=common.clean(ex['span2_text']))
  return out


def _winogrande(ex):
  out = common.classification(
      tf.stack([common.clean(ex['option1']), common.clean(ex['option2'])]),
      ex['label'], 'winogrande')
  out['sentence'] = common.clean(ex['sentence'])
  return out


ENTRIES = (
    common.Entry(
        name='copa', cluster='commonsense',
        source=_S('super_glue/copa', '1.0.2',
                  common.splits('train', 'validation')),
        map_fn=_copa, templates=COPA_TEMPLATES,
        inversion_templates=COPA_INVERSION_TEMPLATES,
        num_examples={'train': 400, 'validation': 100},
        metric_fns=metrics.CLASSIFICATION,
        description='Choice of Plausible Alternatives (SuperGLUE).'),
    common.Entry(
        name='hellaswag', cluster='commonsense',
        source=_S('hellaswag', '1.1.0', common.splits('train', 'validation')),
        map_fn=_hellaswag, templates=HELLASWAG_TEMPLATES,
        num_examples={'train': 39_905, 'validation': 10_042},
        metric_fns=metrics.CLASSIFICATION,
        description='HellaSwag sentence completion; test labels are hidden.'),
    common.Entry(
        name='piqa', cluster='commonsense',
        source=_S('piqa', '1.0.0', common.splits('train', 'validation')),
        map_fn=_piqa, templates=PIQA_TEMPLATES,
        inversion_templates=PIQA_INVERSION_TEMPLATES,
        num_examples={'train': 16_113, 'validation': 1_838},
        metric_fns=metrics.CLASSIFICATION,
        description='Physical Interaction QA.'),
    common.Entry(
        name='definite_pronoun_resolution', cluster='coreference',
        source=_S('definite_pronoun_resolution', '1.1.0',
                  common.splits('train', 'test')),
        map_fn=_dpr, templates=DPR_TEMPLATES,
        num_examples={'train': 1_322, 'test': 564},
        metric_fns=metrics.CLASSIFICATION,
        description='Definite Pronoun Resolution (Rahman and Ng, 2012).'),
    common.Entry(
        name='wsc', cluster='coreference',
        source=_S('super_glue/wsc.fixed', '1.0.2',
                  common.splits('train', 'validation')),
        map_fn=_wsc, templates=WSC_TEMPLATES,
        num_examples={'train': 554, 'validation': 104},
        metric_fns=metrics.CLASSIFICATION,
        description='Winograd Schema Challenge (SuperGLUE, fixed spans).'),
    common.Entry(
        name='winogrande', cluster='coreference',
        # The largest training size (xl); test labels are hidden.
        source=_S('winogrande', '1.2.0',
                  common.splits(train='train_xl', validation='validation')),
        map_fn=_winogrande, templates=WINOGRANDE_TEMPLATES,
        num_examples={'train': 40_398, 'validation': 1_267},
        metric_fns=metrics.CLASSIFICATION,
        description="WinoGrande; 'train' reads TFDS train_xl."),
)
