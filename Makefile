# Two commands on a fresh clone:
#   make report   create .venv if missing, install, prepare the data, execute the notebooks in order
#   make test     create .venv if missing, run the unit tests and nbval over every notebook (quick profile)
# Every install comes from requirements.lock: the exact versions (with hashes) of pyproject.toml's dependencies and
# dev extra for the supported platform, Linux x86_64 + Python 3.11. `make venv` (re)installs when the lock or
# pyproject.toml changes; `make lock` re-resolves the lock after an edit of pyproject.toml's dependencies.
# Options: DATASET=synthetic (default) | quick | lanl (after `python -m quake_lib ingest train.csv`)
#          PROFILE=default (default) | quick | full        SEED=0
#          SEEDS="0 1 2": train chapters 3-5 once per seed; chapter 6 compares the seeds (instead of SEED)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATASET ?= synthetic
PROFILE ?= default
SEED ?= 0
SEEDS ?=
PYTEST_ARGS ?=
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/notebooks/sanitize.cfg

.PHONY: report site check-site test lint venv lock data quick-baseline benchmarks clean-data scaling

venv: $(VENV)/.installed

# A fresh .venv takes ~6.5 GB (the CUDA wheels of torch): checked before pip starts, so a full disk is named at once
# instead of as pip's OSError halfway through the install.
VENV_MIN_FREE_GB ?= 7

# The locked versions first (pip checks each file's sha256 against the lock), then this project itself without
# dependencies, built by the locked setuptools (an editable install cannot be hash-checked, hence a second pip
# call), then pip check.
$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else \
		"requirements.lock is for Python 3.11, $(VENV) has " + sys.version.split()[0] + ": rm -r $(VENV); make venv PYTHON=python3.11")'
	@$(PY) -c 'import importlib.util, shutil, sys; free = shutil.disk_usage("$(VENV)").free / 2**30; \
		sys.exit(None if importlib.util.find_spec("torch") or free >= $(VENV_MIN_FREE_GB) else \
		"make venv: the locked environment needs about $(VENV_MIN_FREE_GB) GB under $(VENV) (the locked torch is a " \
		"CUDA build), %.1f GB are free there: free some disk, or give every make command VENV=/a/bigger/disk/venv" % free)'
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $@

# Re-resolve requirements.lock from pyproject.toml (dependencies + the dev extra) with pip-tools' pip-compile.
# Pins already in the lock are kept wherever pyproject.toml still allows them (pip-compile's rule), so an edit of
# pyproject.toml moves only what it must; `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release
# (then re-run the report and review the outputs). Hashes are kept: a fresh venv installs from the lock in
# hash-checking mode on this machine too (its local wheels of torch & co. carry PyPI's sha256); --allow-unsafe
# pins pip and setuptools as well. No index URL or find-links is written into the lock (they are machine-specific).
# The resolution is for the platform make runs on: run it on Linux x86_64 with Python 3.11.
LOCK_ARGS ?=
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import piptools' 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check 'pip-tools>=7'
	CUSTOM_COMPILE_COMMAND='make lock' $(PY) -m piptools compile --quiet --extra dev --strip-extras --generate-hashes \
		--allow-unsafe --no-emit-index-url --no-emit-find-links --output-file requirements.lock $(LOCK_ARGS) pyproject.toml

data: venv
	$(PY) -m quake_lib prepare $(DATASET)

report: data
	$(PY) -m quake_lib report --dataset $(DATASET) --profile $(PROFILE) $(if $(SEEDS),--seeds $(SEEDS),--seed $(SEED))

# The report site (reports/index.html + one page per chapter) from the notebooks as they are, executing nothing.
site: venv
	$(PY) -m quake_lib report --html-only

# The site in headless Chromium with the network off (needs /usr/bin/chromium: apt-get install chromium);
# screenshots of the index and of chapter 6 go to reports/screenshots/.
check-site: site
	QUAKE_SITE_SCREENSHOTS=reports/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/test_site_browser.py

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

# The data-size study (chapter 8's whole grid): every arm at growing size, resumable (a rerun skips what is saved).
# Then `make report` (or `report --only 08`) shows it. Hours on 2 CPU cores: see benchmarks/README.md.
scaling: venv
	$(PY) -m quake_lib study scaling

# Every benchmark prints its ratio against the named baseline measured in the same run (see benchmarks/README.md).
benchmarks: venv
	@for b in benchmarks/[a-z]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-data:
	rm -rf data/synthetic data/quick data/quick_x2 data/scale_*
