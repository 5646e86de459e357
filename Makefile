# Two commands do everything on a fresh machine:
#   make run    baseline scenario -> results/baseline/ (probability table, report)
#   make test   the test suite
# Both create .venv and install the pinned dependencies (requirements.lock) on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench backtest sweep results clean

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

# P(attained) over a grid of one assumption (one posterior, common random numbers) -> results/sweeps/
SWEEPS := scenarios/sweeps/deflator.yaml scenarios/sweeps/real_growth.yaml
sweep: $(STAMP)
	for s in $(SWEEPS); do $(PY) run.py sweep $$s || exit 1; done

# Every committed result and the README's numbers, at the commit that changes the model.
results: $(STAMP)
	$(PY) run.py run scenarios/*.yaml
	for s in $(SWEEPS); do $(PY) run.py sweep $$s || exit 1; done
	$(PY) run.py compare scenarios/*.yaml
	$(PY) run.py backtest
	$(PY) run.py posterior --out results/posterior
	$(PY) run.py sbc
	$(PY) benchmarks/bench.py
	$(PY) examples/add_2024_figure.py --doc docs/add_data_example.md
	$(PY) tools/readme_results.py

clean:
	rm -rf $(VENV) .cache
