# Two commands do everything on a fresh machine:
#   make run    baseline scenario -> results/baseline/ (probability table, report)
#   make test   the test suite
# Both create .venv and install the pinned dependencies (requirements.lock) on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench backtest clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c requirements.lock -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) run.py run scenarios/baseline.yaml

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench.py

backtest: $(STAMP)
	$(PY) run.py backtest

clean:
	rm -rf $(VENV) .cache
