# Everything the project needs is installed here: a venv in .venv, CPU torch first (pip finds the local wheel),
# then the project, Debian's Chromium and a CJK font for the browser tests.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.djkb-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

CORPUS ?= ../shared/corpus
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test test-fast setup system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; \
	fi

# The app starts at once; the corpus is ingested in the background (regulations first, unchanged files skipped).
run: setup
	$(BIN)/djkb serve --host $(HOST) --port $(PORT) --ingest $(CORPUS)

test: setup system-deps
	DJKB_CORPUS=$(CORPUS) $(BIN)/python -m pytest tests -q

test-fast: setup system-deps
	DJKB_CORPUS=$(CORPUS) $(BIN)/python -m pytest tests -q -m "not corpus"

bench: setup
	DJKB_CORPUS=$(CORPUS) $(BIN)/python -m benchmarks.ingest
	DJKB_CORPUS=$(CORPUS) $(BIN)/python -m benchmarks.search
	DJKB_CORPUS=$(CORPUS) $(BIN)/python -m benchmarks.embed
	$(BIN)/python -m benchmarks.scale --corpus $(CORPUS) --factors 1 10
	$(BIN)/python -m benchmarks.compare --corpus $(CORPUS)

clean:
	rm -rf $(VENV) .djkb build *.egg-info
