# Two entry points: `make demo` (train -> compile -> simulate -> report on Cora)
# and `make test`. Both create or reuse a Python 3.10 virtualenv in .venv.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench mutation clean-venv

demo: $(STAMP)
	$(PY) -m neurograph.cli demo --out runs/demo --frontier docs/frontier.md.json

test: $(STAMP)
	$(PY) -m pytest -q -rs

test-fast: $(STAMP)
	$(PY) -m pytest -q -rs -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/lava_vs_reference.py

# Mutation testing of the fixed-point core, counters, energy and mapping (cosmic-ray, scripts/mutation.toml):
# mutates compile/ and sim/ in place, runs each group's tests, writes benchmarks/results/mutation.{json,md}.
# About 40 minutes on 2 cores; not part of CI.
mutation: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	OMP_NUM_THREADS=1 $(PY) scripts/mutation.py

# Re-install only when the project's dependency list changes.
$(STAMP): pyproject.toml
	@bash scripts/ensure_venv.sh $(VENV)
	@touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
