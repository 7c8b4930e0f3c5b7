# Plain venv + pip on purpose: uv/poetry do not see the local torch wheels and would download ~3 GB.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint fmt check demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The zoo table with a quick Time_cast: written to zoo.md (untracked: its latencies are this machine's, today) and
# printed. The committed results/zoo.md is regenerated on a quiet machine by `make bench-zoo_table`.
run: install
	$(BIN)/zoobench profile --all -o zoo.md
	cat zoo.md

# The report's browser test renders HTML in Debian's Chromium; it skips (saying why) where that cannot be installed.
test: install
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || true
	$(BIN)/ruff check zoobench tests benchmarks
	$(BIN)/ruff format --check zoobench tests benchmarks
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check zoobench tests benchmarks
	$(BIN)/ruff format --check zoobench tests benchmarks

fmt: install
	$(BIN)/ruff format zoobench tests benchmarks
	$(BIN)/ruff check --fix zoobench tests benchmarks

check: install
	$(BIN)/zoobench check

# `make bench-profile_all` runs benchmarks/profile_all.py with the venv's Python (results land in results/).
bench-%: install
	$(BIN)/python benchmarks/$*.py

# The small ILSVRC-shaped archives and val set the README's eval and prepare walkthroughs use.
DEMO ?= demo
demo: install
	PYTHONPATH=tests $(BIN)/python tests/make_demo.py $(DEMO)

clean:
	rm -rf $(VENV) build *.egg-info
