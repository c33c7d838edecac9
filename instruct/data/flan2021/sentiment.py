"""Sentiment: IMDB, Sentiment140, SST-2, Yelp polarity.

One template family over `text` and `kind` (what the text is: 'movie
review', 'tweet', ...), options 'negative'/'positive' (Sentiment140 adds
'neutral', which occurs in its test split). Inversion writes a text of the
requested sentiment.
"""

import tensorflow as tf

from instruct.data.flan2021 import common
from instruct.data.flan2021 import metrics

_S = common.TfdsSource
POLARITY = ('negative', 'positive')
POLARITY3 = ('negative', 'neutral', 'positive')

SENTIMENT_TEMPLATES = common.templates('sentiment', [
    ('{text}\n\nWhat is the sentiment of this {kind}?', '{answer}'),
    ('Is the following {kind} positive or negative in tone?\n\n{text}',
     '{answer}'),
    ('{kind_title}: {text}\nSentiment:', '{answer}'),
    ('How does the author of this {kind} feel about the subject?\n{text}',
     '{answer}'),
    ('Classify the attitude expressed in the {kind} below.\n\n{text}',
     '{answer}'),
    ('Read this {kind} and tell me whether the writer liked it: {text}',
     '{answer}'),
    ('"{text}"\nWould you call this {kind} favourable or unfavourable?',
     '{answer}'),
    ('Detect the sentiment.\nInput: {text}', '{answer}'),
    ('Here is a {kind}: {text}\nIs its overall feeling good or bad?',
     '{answer}'),
    ('{text}\nDid the person who wrote this {kind} have a good experience?',
     '{answer}'),
    ('What emotion does this {kind} convey overall?\n{text}', '{answer}'),
])

SENTIMENT_INVERSION_TEMPLATES = common.templates('sentiment_inv', [
    ('Write a {answer} {kind}.', '{text}'),
    ('Compose a {kind} whose sentiment is {answer}.', '{text}'),
    ('Generate an example of a {answer} {kind}.', '{text}'),
])


def _sentiment(ex, text_key, kind, options, label_fn=None):
  label = ex['label'] if label_fn is None else label_fn(ex)
  out = common.classification(options, label, kind)
  # IMDB reviews contain HTML line breaks; Yelp's have escaped newlines.
  text = tf.strings.regex_replace(ex[text_key], r'<br\s*/?>|\\n', ' ')
  out.update(text=common.clean(text), kind=tf.constant(kind),
             kind_title=tf.constant(kind[:1].upper() + kind[1:]))
  return out


def _sentiment140_label(ex):
  # Polarity is 0 (negative), 2 (neutral) or 4 (positive).
  return tf.cast(ex['polarity'], tf.int64) // 2


ENTRIES = (
    common.Entry(
        name='imdb_reviews', cluster='sentiment',
        source=_S('imdb_reviews', '1.0.0', common.splits('train', 'test')),
        map_fn=common.bind(_sentiment, text_key='text', kind='movie review',
                           options=POLARITY),
        templates=SENTIMENT_TEMPLATES,
        inversion_templates=SENTIMENT_INVERSION_TEMPLATES,
        num_examples={'train': 25_000, 'test': 25_000},
        metric_fns=metrics.CLASSIFICATION,
        description='IMDB movie reviews (plain_text); the unlabelled '
        '"unsupervised" split is not used.'),
    common.Entry(
        name='sentiment140', cluster='sentiment',
        source=_S('sentiment140', '1.0.0', common.splits('train', 'test')),
        map_fn=common.bind(_sentiment, text_key='text', kind='tweet',
                           options=POLARITY3,
                           label_fn=_sentiment140_label),
        templates=SENTIMENT_TEMPLATES,
        inversion_templates=SENTIMENT_INVERSION_TEMPLATES,
        num_examples={'train': 1_600_000, 'test': 498},
        metric_fns=metrics.CLASSIFICATION,
        description='Tweets; polarity 0/2/4 -> negative/neutral/positive '
        '(train has no neutral tweets).'),
    common.Entry(
        name='sst2', cluster='sentiment',
        source=_S('glue/sst2', '2.0.0', common.splits('train', 'validation')),
        map_fn=common.bind(_sentiment, text_key='sentence',
                           kind='movie review excerpt', options=POLARITY),
        templates=SENTIMENT_TEMPLATES,
        inversion_templates=SENTIMENT_INVERSION_TEMPLATES,
        num_examples={'train': 67_349, 'validation': 872},
        metric_fns=metrics.CLASSIFICATION,
        description='Stanford Sentiment Treebank, binary (GLUE).'),
    common.Entry(
        name='yelp_polarity_reviews', cluster='sentiment',
        source=_S('yelp_polarity_reviews', '0.2.0',
                  common.splits('train', 'test')),
        # Label names '1' (negative) and '2' (positive).
        map_fn=common.bind(_sentiment, text_key='text', kind='Yelp review',
                           options=POLARITY),
        templates=SENTIMENT_TEMPLATES,
        inversion_templates=SENTIMENT_INVERSION_TEMPLATES,
        num_examples={'train': 560_000, 'test': 38_000},
        metric_fns=metrics.CLASSIFICATION,
        description='Yelp business reviews, polarity version.'),
)
