"""Registers third-party and model classes with gin, under T5X-like names.

Imported by every entry point, so gin files can say
`VOCABULARY = @seqio.ByteVocabulary()`, `network.T5Config.emb_dim = 512` or
`network.LlamaConfig.num_kv_heads = 8`.
"""

import gin
import seqio

from instruct import input_pipeline  # pylint: disable=unused-import
from instruct import optimizers  # pylint: disable=unused-import
from instruct import partitioning  # pylint: disable=unused-import
from instruct import vocabularies  # pylint: disable=unused-import
from instruct.models import decoder_only  # pylint: disable=unused-import
from instruct.models import encoder_decoder  # pylint: disable=unused-import
from instruct.models import llama
from instruct.models import t5
from instruct.peft import config as peft_config  # pylint: disable=unused-import

for _cls in (seqio.ByteVocabulary, seqio.SentencePieceVocabulary,
             seqio.PassThroughVocabulary):
  gin.external_configurable(_cls, module='seqio')

gin.external_configurable(t5.T5Config, 'T5Config', module='network')
gin.external_configurable(t5.Transformer, 'Transformer', module='network')
gin.external_configurable(llama.LlamaConfig, 'LlamaConfig', module='network')
gin.external_configurable(llama.LlamaTransformer, 'LlamaTransformer',
                          module='network')
