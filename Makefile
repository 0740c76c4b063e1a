# Every target works on a fresh machine: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench bench-batch clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,torch]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
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
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not notebook"

lint: $(STAMP)
	$(BIN)/ruff check grader reference tests benchmarks tools
	$(BIN)/ruff format --check grader reference tests benchmarks tools
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/grading_speed.py
	$(BIN)/python benchmarks/verdict_stability.py --seeds 10 --budgets smoke standard

bench-batch: $(STAMP)
	$(BIN)/python benchmarks/batch_throughput.py

clean:
	rm -rf $(VENV) out build dist *.egg-info
