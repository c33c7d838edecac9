"""The Flan 2021-style collection over TensorFlow Datasets.

56 public datasets in 12 task clusters, each read from a pinned TFDS builder
(`TFDS_NAMES`), mapped in TensorFlow to canonical fields, and prompted with at
least 10 templates written for this project (plus input-inversion templates
where generating the input from the output makes sense). `specs()` returns
them as `instruct.data.registry.DatasetSpec`s with source 'flan2021';
`tasks/flan2021.py` registers them. Nothing here reads data until a task's
dataset is requested.

Clusters follow the FLAN paper (Wei et al., 2021, figure 3): natural language
inference, commonsense, sentiment, paraphrase, closed-book QA, reading
comprehension, reading comprehension with commonsense, coreference,
summarisation, translation, struct-to-text, and misc (topic and question
classification, acceptability, word sense, conversational QA, arithmetic).

Datasets that need a manual download (XSum, SAMSum, Newsroom, Story Cloze,
the WMT pairs built on CzEng, HindEnCorp or the Yandex corpus) or Apache Beam
are left out so that `tfds build` can prepare every one of them.
"""

import functools
from typing import Dict, Optional, Sequence, Tuple

from instruct.data import registry
from instruct.data.flan2021 import commonsense
from instruct.data.flan2021 import common
from instruct.data.flan2021 import generation
from instruct.data.flan2021 import misc
from instruct.data.flan2021 import nli
from instruct.data.flan2021 import paraphrase
from instruct.data.flan2021 import qa
from instruct.data.flan2021 import sentiment

SOURCE = common.SOURCE
ENTRIES: Tuple[common.Entry, ...] = (
    nli.ENTRIES + commonsense.ENTRIES + sentiment.ENTRIES +
    paraphrase.ENTRIES + qa.ENTRIES + generation.ENTRIES + misc.ENTRIES)

CLUSTERS: Tuple[str, ...] = (
    'nli', 'commonsense', 'sentiment', 'paraphrase', 'closed_book_qa',
    'reading_comprehension', 'reading_comprehension_with_commonsense',
    'coreference', 'summarization', 'translation', 'struct_to_text', 'misc')

DATASET_NAMES: Tuple[str, ...] = tuple(e.name for e in ENTRIES)
# Catalog name -> pinned TFDS name, e.g. 'mnli' -> 'glue/mnli:2.0.0'.
TFDS_NAMES: Dict[str, str] = {e.name: e.source.pinned_name for e in ENTRIES}
# Catalog name -> cluster.
DATASET_CLUSTERS: Dict[str, str] = {e.name: e.cluster for e in ENTRIES}


def _check_catalog() -> None:
  names = [e.name for e in ENTRIES]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    raise ValueError(f'flan2021: duplicate dataset names {duplicates}.')
  unknown = sorted({e.cluster for e in ENTRIES} - set(CLUSTERS))
  if unknown:
    raise ValueError(f'flan2021: clusters {unknown} are not in CLUSTERS.')


_check_catalog()


@functools.lru_cache(maxsize=None)
def specs() -> Tuple[registry.DatasetSpec, ...]:
  """Every catalog dataset as a DatasetSpec (built once; reads no data)."""
  return tuple(e.spec() for e in ENTRIES)


def get_entry(name: str) -> common.Entry:
  for e in ENTRIES:
    if e.name == name:
      return e
  raise KeyError(f'flan2021 has no dataset {name!r}; known: '
                 f'{sorted(DATASET_NAMES)}.')


def register_all(variants: Optional[Sequence[str]] = None,
                 names: Optional[Sequence[str]] = None
                 ) -> Dict[str, Dict[str, str]]:
  """Registers the catalog's SeqIO tasks.

  Args:
    variants: variant ids to register (None: every variant that applies to
      each dataset). A listed variant that does not apply to a dataset, or
      that its entry excludes (`Entry.excluded_variants`), is skipped for it.
    names: only these datasets (default: all).

  Returns:
    {dataset name: {variant: task name}}.
  """
  wanted = set(names) if names is not None else None
  out = {}
  for entry, spec in zip(ENTRIES, specs()):
    if wanted is not None and spec.name not in wanted:
      continue
    chosen = [v for v in registry.applicable_variants(spec)
              if v not in entry.excluded_variants and
              (variants is None or v in variants)]
    out[spec.name] = registry.register_dataset(spec, variants=chosen)
  return out
