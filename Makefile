# netqos developer entry points. On a fresh Debian 12 machine, as root:
#   make run     install what the embedded system needs and start it (netqos up)
#   make test    install everything the tests need and run them all
#   make bench   run the benchmarks (bench/*.py), each prints a table
#   make clean   remove the venv and build leftovers
#
# Python packages go into .venv in this checkout; Debian packages are installed
# only when missing (.ci/ensure-debs), so reruns are quick.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
PYTEST_ARGS ?=
# The real Keystone the tests authenticate against lives in its own venv, so its
# OpenStack pins never fight netqos's (tests/harness/keystone.py runs it).
KS_VENV := .venv-keystone
KS_PKGS := 'keystone>=26,<32' 'gunicorn>=22,<28'

RUN_DEBS  := iproute2 nftables iperf3
TEST_DEBS := $(RUN_DEBS) openvswitch-switch rabbitmq-server postgresql tcpdump bridge-utils \
             libvirt-daemon-system libvirt-clients qemu-system-x86 busybox-static libvirt-dev pkg-config \
             chromium

.PHONY: run test lint bench clean debs-run debs-test

run: debs-run $(VENV)/.installed-run
	$(BIN)/netqos up

# Lint and types first (seconds), then pytest; pytest's exit code goes straight through:
# CI fails on failures and on "no tests".
test: debs-test $(VENV)/.installed-test $(KS_VENV)/.installed lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (rules and per-file exceptions in pyproject.toml); mypy strict on the domain (qos/),
# the wire types and agent/ (modules not clean or not strict yet listed in pyproject.toml).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy --strict src/netqos/qos src/netqos/wire.py
	$(BIN)/mypy --strict src/netqos/agent

bench: debs-test $(VENV)/.installed-test
	@set -e; for f in bench/*.py; do \
	    [ -e "$$f" ] || { echo "no benchmarks in bench/"; break; }; \
	    echo "== $$f"; $(BIN)/python "$$f"; \
	done

debs-run:
	@bash .ci/ensure-debs $(RUN_DEBS)

debs-test:
	@bash .ci/ensure-debs $(TEST_DEBS)

# Debian's own python3 has venv/ensurepip in a separate package.
$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || bash .ci/ensure-debs python3-venv
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml changes (the install is editable,
# so source changes never need one).
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test,libvirt]'
	@touch $@

$(KS_VENV)/.installed: | $(BIN)/python
	$(PYTHON) -m venv $(KS_VENV)
	$(KS_VENV)/bin/python -m pip --disable-pip-version-check -q install $(KS_PKGS)
	@touch $@

clean:
	rm -rf $(VENV) $(KS_VENV) build dist src/*.egg-info .pytest_cache .netqos-test
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
