# posture-companion: set-up, demo, tests and lint.
# `make demo` and `make test` each run `setup` first; it is quick the second time.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Speech (espeak-ng, driven by pyttsx3), audio out (PortAudio for sounddevice) and, for the
# tests, a PulseAudio server with a null sink whose monitor is recorded back.
APT_PACKAGES := espeak-ng libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins

.PHONY: setup system-packages demo test lint clean

setup: system-packages $(VENV)/.installed
	@# An editable install leaves our own modules uncompiled, and where the environment sets
	@# PYTHONDONTWRITEBYTECODE every `companion` would compile them again (about 0.15 s a
	@# command). Compiled here as pip compiles what it installs; a changed file is
	@# recompiled on the next setup, and until then Python compiles it in memory.
	@$(BIN)/python -m compileall -q companion cues sensors

# Installs only what is missing, so a second run asks apt nothing.
system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "setup: no apt-get here; please install these with your package manager:$$missing"; exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null; then sudo="sudo"; \
	else \
	  echo "setup: not root and no sudo, so these system packages were not installed:$$missing"; \
	  echo "setup: speech and audio need them; ask an administrator to run: apt-get install$$missing"; \
	  exit 0; \
	fi; \
	echo "setup: installing system packages:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$sudo apt-get update -qq && \
	$$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null && \
	echo "setup: system packages installed"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "setup: Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: setup
	$(BIN)/companion demo

# Six workers on two cores: most tests wait on real time (speech heard, sensors
# reconnecting), so they overlap well; an idle worker takes tests from a busy one
# (measured: 301 s, against 340 s with four workers and 319 s with eight).
test: setup
	$(BIN)/python -m pytest -n 6 --dist worksteal

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find companion cues sensors tests -name __pycache__ -prune -exec rm -rf {} +
