"""instruct: FLAN-style instruction tuning on JAX, with T5X's interfaces."""
import setuptools


def _read_pins(path):
  with open(path) as f:
    return [l.strip() for l in f if l.strip() and not l.startswith("#")]


setuptools.setup(
    name="instruct",
    version="0.1.0",
    description="Instruction tuning for T5 and Llama-family models on JAX/TPU, "
    "the FLAN way.",
    packages=setuptools.find_packages(include=["instruct", "instruct.*",
                                               "tasks", "tasks.*",
                                               "launch", "launch.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=_read_pins("requirements.txt"),
    extras_require={
        "test": _read_pins("requirements-test.txt"),
        # On a TPU VM: jax[tpu] pulls libtpu matching the pinned jax.
        "tpu": ["jax[tpu]==0.10.2"],
    },
    include_package_data=True,
)
