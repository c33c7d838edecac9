"""Generation clusters: summarisation, translation and struct-to-text.

Targets are free text, so these datasets have no options; their metrics are
ROUGE (summarisation), BLEU (translation) or both (struct-to-text). Each has
inversion templates that go the other way: article from summary, English to
the other language, structured data from the sentence.
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

_S = common.TfdsSource

# --------------------------------------------------------------------------
# Summarisation.

SUMMARY_TEMPLATES = common.templates('summarize', [
    ('{text}\n\nSummarize the {kind} above.', '{answer}'),
    ('Write a short summary of this {kind}.\n\n{text}', '{answer}'),
    ('{kind_title}: {text}\n\nSummary:', '{answer}'),
    ('What are the key points of the following {kind}?\n{text}', '{answer}'),
    ('Condense this {kind} into a few sentences:\n\n{text}', '{answer}'),
    ('{text}\n\nTL;DR:', '{answer}'),
    ('Here is a {kind}:\n{text}\nBriefly, what is it about?', '{answer}'),
    ('Give me the gist of this {kind}. {text}', '{answer}'),
    ('Read the {kind} and write its summary.\n\n{text}', '{answer}'),
    ('{text}\n\nHow would you sum up this {kind} for a busy reader?',
     '{answer}'),
])

SUMMARY_INVERSION_TEMPLATES = common.templates('summarize_inv', [
    ('Write a {kind} based on this summary:\n\n{answer}', '{text}'),
    ('Summary: {answer}\n\nExpand it into a full {kind}.', '{text}'),
    ('Compose a {kind} that the following summary would fit.\n{answer}',
     '{text}'),
])

AESLC_TEMPLATES = common.templates('aeslc', [
    ('{text}\n\nWrite a subject line for this email.', '{answer}'),
    ('What would be a good subject for the following email?\n\n{text}',
     '{answer}'),
    ('Email body:\n{text}\n\nSubject:', '{answer}'),
    ('Suggest a concise subject line.\n{text}', '{answer}'),
    ('Here is an email I am about to send:\n{text}\nWhat should the subject '
     'be?', '{answer}'),
    ('Summarize this email in a few words, as its subject line: {text}',
     '{answer}'),
    ('{text}\n\nGive this email a title.', '{answer}'),
    ('Generate the subject line of the email below.\n\n{text}', '{answer}'),
    ('Write an email subject that captures this message.\n{text}',
     '{answer}'),
    ('Message: {text}\nA fitting subject line would be:', '{answer}'),
])

AESLC_INVERSION_TEMPLATES = common.templates('aeslc_inv', [
    ('Write an email with the subject line "{answer}".', '{text}'),
    ('Subject: {answer}\n\nCompose the body of this email.', '{text}'),
])

# --------------------------------------------------------------------------
# Translation.

TRANSLATE_TEMPLATES = common.templates('translate', [
    ('Translate to English:\n\n{foreign}', '{answer}'),
    ('{foreign}\n\nTranslate this {language} sentence into English.',
     '{answer}'),
    ('How do you say "{foreign}" in English?', '{answer}'),
    ('{language}: {foreign}\nEnglish:', '{answer}'),
    ('Translate the following from {language} to English.\n{foreign}',
     '{answer}'),
    ('What does this {language} text mean in English? {foreign}',
     '{answer}'),
    ('Please give an English translation: {foreign}', '{answer}'),
    ('Render this in English.\n\n{foreign}', '{answer}'),
    ('I found this {language} sentence: "{foreign}". Can you translate it '
     'to English?', '{answer}'),
    ('Source ({language}): {foreign}\nTarget (English):', '{answer}'),
])

TRANSLATE_INVERSION_TEMPLATES = common.templates('translate_inv', [
    ('Translate to {language}:\n\n{answer}', '{foreign}'),
    ('How would you say "{answer}" in {language}?', '{foreign}'),
    ('English: {answer}\n{language}:', '{foreign}'),
    ('Translate this English sentence into {language}.\n{answer}',
     '{foreign}'),
])

# --------------------------------------------------------------------------
# Struct-to-text.

COMMON_GEN_TEMPLATES = common.templates('common_gen', [
    ('Write a sentence that uses all of these words: {concepts}',
     '{answer}'),
    ('Concepts: {concepts}\n\nMake a sentence with them.', '{answer}'),
    ('Create an everyday sentence containing: {concepts}', '{answer}'),
    ('{concepts}\n\nWrite one sentence that mentions each of the words '
     'above.', '{answer}'),
    ('Use the words "{concepts}" in a single natural sentence.', '{answer}'),
    ('Generate a sentence describing a scene with these concepts: '
     '{concepts}', '{answer}'),
    ('Here are some keywords: {concepts}. Form a sentence from them.',
     '{answer}'),
    ('Compose a sentence about a common situation that includes {concepts}.',
     '{answer}'),
    ('Keywords: {concepts}\nSentence:', '{answer}'),
    ('Put these words together into a sensible sentence: {concepts}',
     '{answer}'),
])

COMMON_GEN_INVERSION_TEMPLATES = common.templates('common_gen_inv', [
    ('What are the key concepts in this sentence?\n\n{answer}',
     '{concepts}'),
    ('List the main nouns and verbs of: {answer}', '{concepts}'),
])

DATA_TO_TEXT_TEMPLATES = common.templates('data_to_text', [
    ('Data: {data}\n\nWrite a sentence that expresses this data.',
     '{answer}'),
    ('Turn the following facts into fluent text.\n{data}', '{answer}'),
    ('{data}\n\nDescribe the information above in plain English.',
     '{answer}'),
    ('Write a sentence about the data below.\n\n{data}', '{answer}'),
    ('Here is some structured data: {data}\nVerbalize it.', '{answer}'),
    ('Generate a description from these facts: {data}', '{answer}'),
    ('Facts: {data}\nText:', '{answer}'),
    ('Convert this table of facts into a short paragraph.\n{data}',
     '{answer}'),
    ('{data}\nWhat sentence would convey all of these facts?', '{answer}'),
    ('Express the following record as natural language: {data}',
     '{answer}'),
])

DATA_TO_TEXT_INVERSION_TEMPLATES = common.templates('data_to_text_inv', [
    ('Extract the structured data from this sentence.\n\n{answer}',
     '{data}'),
    ('Text: {answer}\nData:', '{data}'),
    ('What facts does the following text state? Write them as data.\n'
     '{answer}', '{data}'),
])


def _summary(ex, text_key, summary_key, kind, separator=None):
  text = common.clean(ex[text_key])
  if separator is not None:
    text = tf.strings.regex_replace(text, separator, '\n\n')
  return {'text': text, 'answer': common.clean(ex[summary_key]),
          'kind': tf.constant(kind),
          'kind_title': tf.constant(kind[:1].upper() + kind[1:])}


def _translate(ex, code, language):
  return {'foreign': common.clean(ex[code]), 'answer': common.clean(ex['en']),
          'language': tf.constant(language)}


def _common_gen(ex):
  return {'concepts': common.join(common.clean(ex['concepts']), ', '),
          'answer': common.clean(ex['target'])}


def _data_to_text(ex, data_fn):
  return {'data': data_fn(ex), 'answer': common.clean(ex['target'])}


def _triples(key):
  return lambda ex: common.join(common.clean(ex[key]), '; ')


def _mr(ex):
  return common.clean(ex['meaning_representation'])


def _summary_entry(name, builder, version, split_sizes, text_key,
                   summary_key, kind, description, separator=None,
                   templates=SUMMARY_TEMPLATES,
                   inversion=SUMMARY_INVERSION_TEMPLATES):
  return common.Entry(
      name=name, cluster='summarization',
      source=_S(builder, version, common.splits(*split_sizes)),
      map_fn=common.bind(_summary, text_key=text_key,
                         summary_key=summary_key, kind=kind,
                         separator=separator),
      templates=templates, inversion_templates=inversion,
      num_examples=split_sizes, metric_fns=metrics.SUMMARIZATION,
      has_options=False, description=description)


def _translate_entry(builder, code, language, split_sizes):
  return common.Entry(
      name=builder.replace('_translate/', '_').replace('-', '_'),
      cluster='translation',
      source=_S(builder, '1.0.0', common.splits(*split_sizes)),
      map_fn=common.bind(_translate, code=code, language=language),
      templates=TRANSLATE_TEMPLATES,
      inversion_templates=TRANSLATE_INVERSION_TEMPLATES,
      num_examples=split_sizes, metric_fns=metrics.TRANSLATION,
      has_options=False,
      description=f'{language} to English (inversion: English to '
      f'{language}).')


def _gem_entry(name, config, map_fn, templates, inversion, split_sizes,
               description):
  return common.Entry(
      name=name, cluster='struct_to_text',
      source=_S(f'gem/{config}', '1.1.0', common.splits(*split_sizes)),
      map_fn=map_fn, templates=templates, inversion_templates=inversion,
      num_examples=split_sizes, metric_fns=metrics.DATA_TO_TEXT,
      has_options=False, description=description)


ENTRIES = (
    _summary_entry(
        'aeslc', 'aeslc', '1.0.0',
        {'train': 14_436, 'validation': 1_960, 'test': 1_906},
        'email_body', 'subject_line', 'email',
        'Annotated Enron Subject Line Corpus: email -> subject line.',
        templates=AESLC_TEMPLATES, inversion=AESLC_INVERSION_TEMPLATES),
    _summary_entry(
        'cnn_dailymail', 'cnn_dailymail', '3.4.0',
        {'train': 287_113, 'validation': 13_368, 'test': 11_490},
        'article', 'highlights', 'news article',
        'CNN/DailyMail article -> highlights.'),
    _summary_entry(
        'gigaword', 'gigaword', '1.2.0',
        {'train': 3_803_957, 'validation': 189_651, 'test': 1_951},
        'document', 'summary', 'news sentence',
        'Gigaword: first sentence of an article -> headline.'),
    _summary_entry(
        'multi_news', 'multi_news', '2.1.0',
        {'train': 44_972, 'validation': 5_622, 'test': 5_622},
        'document', 'summary', 'set of news articles',
        'Multi-News: several articles (separated by |||||, shown as blank '
        'lines) -> one summary.', separator=r'\s*\|\|\|\|\|\s*'),
    _summary_entry(
        'billsum', 'billsum', '3.0.0',
        {'train': 18_949, 'test': 3_269},
        'text', 'summary', 'US congressional bill',
        'BillSum: US Congressional bill -> summary (the ca_test split of '
        'California bills is not used).'),
    _translate_entry('wmt14_translate/fr-en', 'fr', 'French',
                     {'train': 40_836_715, 'validation': 3_000,
                      'test': 3_003}),
    _translate_entry('wmt16_translate/de-en', 'de', 'German',
                     {'train': 4_548_885, 'validation': 2_169,
                      'test': 2_999}),
    _translate_entry('wmt16_translate/ro-en', 'ro', 'Romanian',
                     {'train': 610_320, 'validation': 1_999, 'test': 1_999}),
    _translate_entry('wmt16_translate/fi-en', 'fi', 'Finnish',
                     {'train': 2_073_394, 'validation': 1_370,
                      'test': 6_000}),
    _translate_entry('wmt16_translate/tr-en', 'tr', 'Turkish',
                     {'train': 205_756, 'validation': 1_001, 'test': 3_000}),
    _gem_entry('common_gen', 'common_gen', _common_gen, COMMON_GEN_TEMPLATES,
               COMMON_GEN_INVERSION_TEMPLATES,
               {'train': 67_389, 'validation': 993, 'test': 1_497},
               'CommonGen (GEM): concept set -> everyday sentence.'),
    _gem_entry('dart', 'dart',
               common.bind(_data_to_text, data_fn=_triples('tripleset')),
               DATA_TO_TEXT_TEMPLATES, DATA_TO_TEXT_INVERSION_TEMPLATES,
               {'train': 62_659, 'validation': 2_768, 'test': 5_097},
               'DART (GEM): RDF triples -> text; triples joined by "; ".'),
    _gem_entry('e2e_nlg', 'e2e_nlg',
               common.bind(_data_to_text, data_fn=_mr),
               DATA_TO_TEXT_TEMPLATES, DATA_TO_TEXT_INVERSION_TEMPLATES,
               {'train': 33_525, 'validation': 4_299, 'test': 4_693},
               'E2E NLG (GEM): restaurant meaning representation -> text.'),
    _gem_entry('web_nlg_en', 'web_nlg_en',
               common.bind(_data_to_text, data_fn=_triples('input')),
               DATA_TO_TEXT_TEMPLATES, DATA_TO_TEXT_INVERSION_TEMPLATES,
               {'train': 35_426, 'validation': 1_667, 'test': 1_779},
               'WebNLG English (GEM): DBpedia triples -> text.'),
)
