# ctframe: `make train` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= experiments/base.yaml

.PHONY: train test test-fast experiments bench install browser lock ui clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(BIN)/ctframe train $(CONFIG)

browser:   # Debian's Chromium, for the test that opens the article view in a real headless browser
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/pytest

test-fast: $(STAMP)   # unit tests and in-process commands, for the edit-test loop (< 30 s)
	$(BIN)/pytest -m "not slow" -q

experiments: $(STAMP)
	$(BIN)/ctframe experiment run experiments/candidates.yaml
	$(BIN)/ctframe experiment run experiments/peers.yaml
	$(BIN)/ctframe experiment run experiments/neural.yaml
	$(BIN)/ctframe experiment run experiments/grid.yaml
	$(BIN)/ctframe compare --report reports

bench: $(STAMP)
	$(BIN)/python bench/peers.py
	$(BIN)/python bench/score_stream.py --jobs 1
	$(BIN)/python bench/explain.py

ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

lock: $(STAMP)
	{ echo "# Pinned, tested set of every package ctframe installs (regenerate: make lock)."; \
	  $(BIN)/pip list --format=freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) mlflow.db mlruns models reports .pytest_cache
