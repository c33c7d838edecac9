"""Unit tests for the in-graph variant helpers (options styles, few-shot)."""

import pytest
import seqio
import tensorflow as tf

from instruct.data import templates
from instruct.data import variants

T = templates.Template
OPTIONS = tf.constant(['red', 'green', 'blue'])


def test_variant_table():
  defs = variants.VARIANT_DEFS
  assert {'zs_opt', 'zs_noopt', 'fs_opt', 'fs_noopt', 'cot', 'fs_cot',
          'inv'} <= set(defs)
  for k in variants.FEW_SHOT_CHOICES:
    assert defs[f'fs{k}_opt'].shots == (k,)
    assert defs[f'fs{k}_noopt'].template_type == 'fs_noopt'
  assert defs['fs_opt'].shots == (1, 2, 3, 5)
  assert defs['xs_opt'].same_template and not defs['fs_opt'].same_template
  assert defs['zs_ropt'].template_type == 'zs_opt'
  assert defs['zs_opt_rank'].rank
  with pytest.raises(ValueError, match='Unknown variant'):
    variants.get_variant('zs_nope')


def test_flan_options_block():
  assert variants.flan_options_block(OPTIONS).numpy().decode() == (
      'OPTIONS:\n- red\n- green\n- blue')


def test_random_options_styles_and_relabelling():
  seen_styles = set()
  for idx in range(80):
    block, answer = variants.random_options_block(
        OPTIONS, tf.constant(1), tf.constant(idx, tf.int64), salt=7)
    block, answer = block.numpy().decode(), answer.numpy().decode()
    again = variants.random_options_block(
        OPTIONS, tf.constant(1), tf.constant(idx, tf.int64), salt=7)
    assert again[0].numpy().decode() == block  # Deterministic per idx.
    lines = block.split('\n')
    assert lines[0] in variants.RANDOM_HEADERS
    items = lines[1:4]
    markers = [i.split(' ', 1)[0] for i in items]
    assert [i.split(' ', 1)[1] for i in items] == ['red', 'green', 'blue']
    closing = lines[4:]
    assert closing == [] or (len(closing) == 1 and
                             closing[0] in variants.RANDOM_CLOSINGS)
    seen_styles.add(tuple(markers))
    if markers[0] in ('-', '*'):
      assert answer == 'green'
    else:
      assert answer == f'{markers[1]} green'
    assert variants.strip_option_marker(answer) == 'green'
  assert {('(A)', '(B)', '(C)'), ('A.', 'B.', 'C.'), ('a)', 'b)', 'c)'),
          ('1.', '2.', '3.'), ('(1)', '(2)', '(3)'), ('i.', 'ii.', 'iii.'),
          ('-', '-', '-'), ('*', '*', '*')} == seen_styles


@pytest.mark.parametrize('text,want', [
    ('(B) no', 'no'), ('C. maybe', 'maybe'), ('iii. blue', 'blue'),
    ('b) x', 'x'), ('(12) twelve', 'twelve'), ('no', 'no'),
    ('Bob went', 'Bob went'), (b'(A) yes', 'yes'),
])
def test_strip_option_marker(text, want):
  assert variants.strip_option_marker(text, example=None,
                                      is_target=True) == want


def _pool(blocks_in, blocks_out):
  n = len(blocks_in)
  return variants.ExemplarPool(
      idx=tf.range(n, dtype=tf.int32),
      inputs=tf.constant([[x] for x in blocks_in]),
      targets=tf.constant([[y] for y in blocks_out]),
      assigned=tf.zeros([n], tf.int32))


def test_few_shot_prompt_prunes_oldest_first_to_budget():
  vocab = seqio.ByteVocabulary()
  pool = _pool([f'question {i} ' + 'x' * 20 for i in range(6)],
               [f'a{i}' for i in range(6)])
  variant = variants.get_variant('fs5_noopt')
  query = tf.constant('the query')
  full, k_full = variants.few_shot_prompt(
      query, tf.constant(0), tf.constant(100), tf.constant(False), pool,
      variant, variants.FewShotConfig(token_budget=10_000), vocab, salt=3)
  full = full.numpy().decode()
  assert int(k_full) == 5
  blocks = full.split('\n\n')
  assert blocks[-1] == 'the query' and len(blocks) == 6
  for budget in (10, 40, 80, 120, 150):
    text, k = variants.few_shot_prompt(
        query, tf.constant(0), tf.constant(100), tf.constant(False), pool,
        variant, variants.FewShotConfig(token_budget=budget), vocab, salt=3)
    text, k = text.numpy().decode(), int(k)
    # The kept exemplars are the newest k, in order.
    assert text == '\n\n'.join(blocks[5 - k:])
    if k:
      assert len(vocab.encode(text)) <= budget
    if k < 5:  # One more (older) exemplar would not have fit.
      assert len(vocab.encode('\n\n'.join(blocks[4 - k:]))) > budget


def test_few_shot_prompt_excludes_self_and_uses_separators():
  vocab = seqio.ByteVocabulary()
  pool = _pool(['q0', 'q1', 'q2'], ['a0', 'a1', 'a2'])
  config = variants.FewShotConfig(separator=' ||| ', exemplar_separator=' => ')
  for idx in range(3):
    text, k = variants.few_shot_prompt(
        tf.constant(f'q{idx}'), tf.constant(0), tf.constant(idx),
        tf.constant(True), pool, variants.get_variant('fs5_noopt'), config,
        vocab, salt=1)
    parts = text.numpy().decode().split(' ||| ')
    assert int(k) == 2 and parts[-1] == f'q{idx}'
    assert sorted(parts[:-1]) == sorted(f'q{j} => a{j}' for j in range(3)
                                        if j != idx)


def test_renderer_checks_fields_before_tracing():
  renderer = variants.Renderer([T('{a} {b}')], 'none', salt=0, where='t')
  with pytest.raises(templates.MissingFieldError, match="'b'"):
    renderer.check_fields(['a', 'idx'])


def test_randomised_options_beyond_the_alphabet_fall_back_to_bullets():
  options = tf.constant([f'entity {i}' for i in range(30)])
  for idx in range(8):
    block, answer = variants.random_options_block(
        options, tf.constant(27), tf.constant(idx, tf.int64), salt=3)
    lines = block.numpy().decode().split('\n')
    assert lines[1] == '- entity 0'
    assert answer.numpy().decode() == 'entity 27'
