# Every target works on a fresh machine: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install demo test test-fast lint bench bench-batch bench-nbgrader clean browser

# Everything the tests need: PyTorch for the PyTorch assignments, Dask and Flask for theirs.
# uv installs what pip would (the same versions, from PyPI) in a quarter of the time: 28 s
# against 114 s for this list into a fresh venv here, most of CI's set-up. pip stays in the
# venv, upgraded: a kit is built with `python -m pip wheel`. Unlike pip, uv writes no bytecode
# unless asked, and a process that may not write it (PYTHONDONTWRITEBYTECODE, set on this machine
# and in many container images) compiles Keras and TensorFlow at every import: 15.7 s, not 5.2 s.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[tensorflow,test,torch,dask,review]'
	touch $(STAMP)

# The demo grades Keras notebooks on the CPU: the grader and TensorFlow, no PyTorch (whose
# PyPI build brings CUDA's libraries), no Dask, no Flask.
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[tensorflow]'
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/grader grade assignments/cifar10_transfer/submissions --assignment cifar10_transfer --out out --budget smoke

# The browser tests open reports in Debian's headless Chromium; CI runs as root on a fresh machine.
# Elsewhere the browser test itself says how to install it.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# Lint first: CI runs this target, and a style or type error fails it as a test would.
# Notebook tests wait on kernels and judges as much as they compute: one worker per core keeps
# both cores busy. Whole files go to one worker, so a file's shared fixtures are built once.
test: $(STAMP) browser lint
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not notebook"

# The documentation site is built too (mkdocs.yml is strict): a broken link or anchor fails.
# Not --quiet: mkdocs 1.6 then no longer counts the warnings that --strict turns into a failure.
lint: $(STAMP)
	$(BIN)/ruff check grader reference tests benchmarks tools
	$(BIN)/ruff format --check grader reference tests benchmarks tools
	$(BIN)/mypy
	site=$$(mktemp -d) && $(BIN)/mkdocs build --strict --site-dir "$$site"; \
		status=$$?; rm -rf "$$site"; exit $$status

bench: $(STAMP)
	$(BIN)/python benchmarks/grading_speed.py
	$(BIN)/python benchmarks/verdict_stability.py --seeds 10 --budgets smoke standard

bench-batch: $(STAMP)
	$(BIN)/python benchmarks/batch_throughput.py

# nbgrader executes notebooks in its own Python's kernel: an environment of its own, with the
# grader's TensorFlow and Keras, so both run the same code.
NBGRADER := .nbgrader-venv
bench-nbgrader: $(STAMP)
	[ -x $(NBGRADER)/bin/nbgrader ] || ($(PYTHON) -m venv $(NBGRADER) && \
		$(NBGRADER)/bin/pip install --quiet 'nbgrader>=0.9,<0.10' \
		"$$($(BIN)/pip freeze | grep -iE '^tensorflow([_-]cpu)?==')" "$$($(BIN)/pip freeze | grep -i '^keras==')" \
		"$$($(BIN)/pip freeze | grep -i '^matplotlib==')")
	$(BIN)/python benchmarks/nbgrader_compare.py --nbgrader $(NBGRADER)/bin

clean:
	rm -rf $(VENV) $(NBGRADER) out build dist *.egg-info
