# Two entry points: `make demo` (train -> compile -> simulate -> report on Cora)
# and `make test`. Both create or reuse a Python 3.10 virtualenv in .venv.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench clean-venv

demo: $(STAMP)
	$(PY) -m neurograph.cli demo --out runs/demo --frontier docs/frontier.md.json

test: $(STAMP)
	$(PY) -m pytest -q -rs

test-fast: $(STAMP)
	$(PY) -m pytest -q -rs -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/lava_vs_reference.py

# Re-install only when the project's dependency list changes.
$(STAMP): pyproject.toml
	@bash scripts/ensure_venv.sh $(VENV)
	@touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
