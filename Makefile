# Set-up and the two commands of the README. Everything installs into .venv; torch is pinned to 2.13.0 here (the
# CPU build on this machine's disk); an unpinned torch would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BACKENDS ?= tensorflow torch jax
# pytest-xdist workers per backend run (0: none, in one process). Two for a 2-core machine: most of the suite's
# time is single-threaded compilation (TensorFlow tracing, XLA for JAX).
TEST_WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install predict demo test lint bench install-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[tensorflow-cpu,torch,jax,viz,export,test]"
	touch $@

predict: install
	$(VENV)/bin/keras-patchnet predict --sample --out out/predict

demo: install
	$(PY) tools/demo.py --out out/demo

test: install
	@status=0; for b in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$b"; \
	  KERAS_BACKEND=$$b $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS) || status=1; \
	done; exit $$status

# the wheel with its dependencies in a fresh venv holding one backend: predict --sample and the README quickstart
install-check:
	bash tools/check_install.sh tensorflow-cpu

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/readme_tables.py --backends $(BACKENDS)

clean:
	rm -rf $(VENV) out
