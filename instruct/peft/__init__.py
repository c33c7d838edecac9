"""Parameter-efficient fine-tuning: LoRA, (IA)^3, BitFit, adapters, prompt
tuning, prefix tuning / P-tuning v2, for both model families.

`apply(model, peft_config)` returns the model with a method applied and a
parameter policy that trains only the method's parameters (see `transform`).
A method is usually chosen with one gin include
(`gin_configs/peft/<method>.gin`), which sets `EncoderDecoderModel.peft` and
`DecoderOnlyModel.peft` to a `PeftConfig` (any family); the model applies it. The
method's parameters live in the ordinary parameter tree under names starting
with `peft_`; only they are trained (see `core`).

Layers: `config`, `core`, `layers`, `prompts` and `transform` are PEFT core
(below `instruct.models`); `checkpoint`, `export`, `hf_peft` and `fusion` are
PEFT I/O (above the checkpoint formats). This package imports only the core.
"""

from instruct.peft.transform import apply
from instruct.peft.transform import param_policy
from instruct.peft.transform import trainable_filter
