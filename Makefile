# Build helper: `make main` runs the pipeline on the embedded default, `make test` runs the tests.
# Both create the virtual environment on first use (Python 3.11, CPU torch on a machine like CI's).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch; set TORCH_SPEC='torch>=2.6,<2.14' on a GPU machine to get a CUDA build.
TORCH_SPEC ?= torch==2.13.0
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# glibc keeps the memory torch frees instead of handing it back and faulting it in again on the next
# step (srl_pipeline/core/allocator.py: the same values, and why); read by every process started here.
export MALLOC_MMAP_THRESHOLD_ ?= 1073741824
export MALLOC_TRIM_THRESHOLD_ ?= 4294967296
UI_PORT ?= 3000
# The dagster CLI, without its notices that `dg dev` / `dg check defs` (dagster-dg-cli, not a
# dependency of this project) supersede `dagster dev` / `dagster definitions validate`.
DAGSTER := $(abspath $(BIN))/python -W 'ignore:Function `dev_command` is superseded' \
	-W 'ignore:Function `definitions_validate_command` is superseded' -m dagster

.PHONY: main test ui bench install validate validate-data clean

# pip at -qq: errors only (a machine's pip configuration may name index folders it does not have, and pip warns
# about each on every install); the build backend's notice on editable installs is not a problem either.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq "$(TORCH_SPEC)"
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install -qq -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

main: $(STAMP)
	$(BIN)/srl-pipeline main

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The local instance's dagster.yaml (run monitoring, run queue and pools from the profile) is
# written by srl_pipeline/cli/local_instance.py, the same code `srl-pipeline main` uses.
# `dagster dev` runs in $(DAGSTER_HOME): from the project root it would warn that the project's
# dagster.yaml (the PostgreSQL deployment's) is not used.
ui: $(STAMP)
	$(BIN)/python -m srl_pipeline.cli.local_instance
	cd "$(DAGSTER_HOME)" && $(DAGSTER) dev -w "$(CURDIR)/workspace.yaml" -p $(UI_PORT)

validate: $(STAMP)
	$(BIN)/python -m srl_pipeline.cli.local_instance
	$(DAGSTER) definitions validate -w workspace.yaml

bench: $(STAMP)
	$(BIN)/python bench/simulator_throughput.py
	$(BIN)/python bench/collaboration_throughput.py
	$(BIN)/python bench/srl_trainer_throughput.py
	$(BIN)/python bench/multiprocess_training.py

validate-data: $(STAMP)
	$(BIN)/python -m srl_pipeline.game.validate_data

clean:
	rm -rf artifacts .dagster_home
