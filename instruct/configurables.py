"""Registers third-party and model classes with gin, under T5X-like names.

Imported by every entry point, so gin files can say
`VOCABULARY = @seqio.ByteVocabulary()`, `network.T5Config.emb_dim = 512` or
`network.LlamaConfig.num_kv_heads = 8`.
"""

from typing import Sequence

import gin
import seqio

from instruct import gin_utils
from instruct.errors import UserError

from instruct import input_pipeline  # pylint: disable=unused-import
from instruct import optimizers  # pylint: disable=unused-import
from instruct import partitioning  # pylint: disable=unused-import
from instruct import vocabularies  # pylint: disable=unused-import
from instruct.models import decoder_only  # pylint: disable=unused-import
from instruct.models import encoder_decoder  # pylint: disable=unused-import
from instruct.models import families
from instruct.peft import config as peft_config  # pylint: disable=unused-import

for _cls in (seqio.ByteVocabulary, seqio.SentencePieceVocabulary,
             seqio.PassThroughVocabulary):
  gin.external_configurable(_cls, module='seqio')

# Every model family's config and network, under the names its registry entry
# gives (e.g. network.T5Config, network.LlamaTransformer).
_registered = set()
for _family in families.all_families():
  for _cls, _name in zip((_family.config_cls, _family.network_cls),
                         _family.gin_names):
    if _cls not in _registered:
      gin.external_configurable(_cls, _name, module='network')
      _registered.add(_cls)


@gin.configurable('convert_model')
def _configured_model(model=gin.REQUIRED):
  return model


def model_from_gin(gin_files: Sequence[str], bindings: Sequence[str],
                   search_paths: Sequence[str] = ()):
  """(model config, vocabulary) of the `MODEL` a model gin file defines."""
  gin_utils.parse_gin(gin_files, list(bindings) +
                      ['convert_model.model = %MODEL'], search_paths)
  model = gin_utils.call_configured(_configured_model)
  config = getattr(getattr(model, 'module', None), 'config', None)
  if config is None:
    raise UserError('The gin MODEL has no module.config; expected a model '
                    'file such as models/t5_1_1/small.gin.')
  return config, getattr(model, 'output_vocabulary', None)
