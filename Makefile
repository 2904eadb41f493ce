# Two commands on a fresh clone:
#   make report   create .venv if missing, install, prepare the data, execute the notebooks in order
#   make test     create .venv if missing, run the unit tests and nbval over every notebook (quick profile)
# Options: DATASET=synthetic (default) | quick | lanl (after `python -m quake_lib ingest train.csv`)
#          PROFILE=default (default) | quick | full        SEED=0

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATASET ?= synthetic
PROFILE ?= default
SEED ?= 0
PYTEST_ARGS ?=
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/notebooks/sanitize.cfg

.PHONY: report test lint venv data quick-baseline benchmarks clean-data

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

data: venv
	$(PY) -m quake_lib prepare $(DATASET)

report: data
	$(PY) -m quake_lib report --dataset $(DATASET) --profile $(PROFILE) --seed $(SEED)

# ruff (pyflakes, isort, pycodestyle; configured in pyproject.toml) over the whole tree.
lint: venv
	$(PY) -m ruff check .

# Lint, then the unit tests, then every notebook re-executed by nbval in the quick profile against the
# stored outputs of tests/notebooks/ (cells marked NBVAL_CHECK_OUTPUT are compared).
test: lint
	QUAKE_QUICK=1 $(PY) -m pytest $(NBVAL) tests $(PYTEST_ARGS)

# Re-record the quick-profile outputs nbval compares against (after changing a notebook).
quick-baseline: venv
	QUAKE_QUICK=1 $(PY) -m quake_lib report --profile quick --output-dir tests/notebooks --no-html

# Every benchmark prints its ratio against the named baseline measured in the same run (see benchmarks/README.md).
benchmarks: venv
	@for b in benchmarks/[a-z]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-data:
	rm -rf data/synthetic data/quick
