"""instruct: FLAN-style instruction tuning on JAX with T5X's interfaces."""

__version__ = '0.1.0'
