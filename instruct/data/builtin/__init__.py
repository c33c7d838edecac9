"""Built-in, offline, procedurally generated instruction tasks.

A miniature Flan: 33 generated tasks in 14 clusters (string manipulation,
arithmetic, multi-step reasoning, sentiment, NLI, reading comprehension,
closed-book QA, translation, paraphrase, topic classification, coreference,
struct-to-text, summarisation, sorting), each with 12 instruction templates,
so the project can instruction-tune and evaluate a small model anywhere
without downloads. Arithmetic and multi-step tasks carry a worked `rationale`
for chain-of-thought variants. The tasks are deliberately easy enough for a
tiny byte-level T5 to make progress on within minutes on a CPU: zero-shot
inputs fit in 191 bytes and targets in 31 bytes (192 / 32 with EOS).

The package is a catalogue: one module per cluster (`strings`, `arithmetic`,
`reasoning`, `sentiment`, `nli`, `reading_comprehension`, `closed_book_qa`,
`translation`, `paraphrase`, `topic_classification`, `coreference`,
`struct_to_text`, `summarization`, `sorting`) holds that cluster's lexicons,
generators, templates and catalogue rows together; `lexicon` holds the word
lists several clusters share, `base` what a task is (`BuiltinTask`, split
sizes), `catalogue` the ordered `TASKS` and the generation API re-exported
here, and `dataset` the tf.data loader and the registry specs (imported on
its own: this package itself needs neither TensorFlow nor SeqIO).

To add a task: write its generator, 12 templates and a `base.task(...)` row
in its cluster's module (or a new cluster module listed in
`catalogue.CLUSTER_MODULES`), and add its name to `catalogue.TASK_ORDER`.

Determinism: example `index` of `split` is generated from a private
`random.Random` seeded with `(seed, task, split, index)`, so any example can be
regenerated on its own, independently of iteration order, process or
PYTHONHASHSEED.

Train/validation disjointness: each example has a *content key* (its
template-independent content, e.g. the word to uppercase). A key belongs to
validation iff a hash of `(partition, key)` falls in the first
`VALIDATION_PERCENT` buckets; the generator resamples until the key lands in
the requested split. The partition does not depend on the seed, so a train
split and a validation split never share content even when generated with
different seeds. Tasks that show the same content in two directions (English
to Toylang and back) share a partition, so neither direction's training data
contains the other's validation sentences.

Closed-book QA is the one cluster whose *facts* are shared by the splits (a
fixed generated world: a model cannot answer a question about a fact it never
saw); its content key is the question's wording, so validation asks about
known facts in phrasings never seen in training.

Held-out templates: the last `NUM_HELD_OUT_TEMPLATES` templates of each task
are never used for training; evaluating on them measures generalisation to
unseen instructions, as in FLAN.

Field conventions (see `instruct.data.templates`): the expected output is in
`answer`; classification tasks also provide `options` (candidate answers) and
`label` (index of the correct one); reasoning tasks provide `rationale`, a
worked solution whose last sentence states the answer.
"""

# pylint: disable=g-importing-member,unused-import
from instruct.data.builtin.base import BuiltinTask
from instruct.data.builtin.base import DEFAULT_SEED
from instruct.data.builtin.base import Fields
from instruct.data.builtin.base import MAX_INPUTS_BYTES
from instruct.data.builtin.base import MAX_TARGETS_BYTES
from instruct.data.builtin.base import NUM_HELD_OUT_TEMPLATES
from instruct.data.builtin.base import RATIONALE_FIELD
from instruct.data.builtin.base import SPLIT_SIZES
from instruct.data.builtin.base import Template
from instruct.data.builtin.base import VALIDATION_PERCENT
from instruct.data.builtin.catalogue import CLASSIFICATION_TASK_NAMES
from instruct.data.builtin.catalogue import clusters
from instruct.data.builtin.catalogue import CORE_TASK_NAMES
from instruct.data.builtin.catalogue import format_example
from instruct.data.builtin.catalogue import generate_example
from instruct.data.builtin.catalogue import generate_examples
from instruct.data.builtin.catalogue import GENERATION_TASK_NAMES
from instruct.data.builtin.catalogue import get_task
from instruct.data.builtin.catalogue import is_validation_key
from instruct.data.builtin.catalogue import length_stats
from instruct.data.builtin.catalogue import RATIONALE_TASK_NAMES
from instruct.data.builtin.catalogue import TASK_NAMES
from instruct.data.builtin.catalogue import TASKS
from instruct.data.builtin.closed_book_qa import Country
from instruct.data.builtin.closed_book_qa import WORLD
from instruct.data.builtin.translation import TOYLANG_LEXICON
from instruct.data.builtin import lexicon as _lexicon
from instruct.data.builtin import nli as _nli

# Word lists some tests read, under their former names.
_NLI_OPTIONS = _nli.NLI_OPTIONS
_FEMALE_NAMES = _lexicon.FEMALE_NAMES
_MALE_NAMES = _lexicon.MALE_NAMES
_DAYS = _lexicon.DAYS
