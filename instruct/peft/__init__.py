"""Parameter-efficient fine-tuning: LoRA, (IA)^3, BitFit, adapters, prompt
tuning, prefix tuning / P-tuning v2, for both model families.

A method is chosen with one gin include (`gin_configs/peft/<method>.gin`),
which sets `network.T5Config.peft` and `network.LlamaConfig.peft` to a
`PeftConfig`. The method's parameters live in the ordinary parameter tree
under names starting with `peft_`; only they are trained (see `core`).
"""
