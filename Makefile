# Trunkline developer entry points. A newcomer needs two: `make demo` and `make test`; every other
# target is a step of those, usable on its own.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
# Python that creates the venv: the first of these that is 3.11 or newer (override: make PYTHON=...).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
# What pytest runs; narrow it while working, e.g. `make test PYTEST_ARGS=tests/resources`.
PYTEST_ARGS ?= tests/

.PHONY: help venv install system-deps lint test demo clean distclean

help:
	@echo "make demo         plan + apply examples/ into ./trunkline.db, rate sample calls, print stats"
	@echo "make test         lint, then the whole test suite (installs what it needs)"
	@echo "make install      venv in $(VENV) with trunkline installed editable, plus test tools"
	@echo "make system-deps  PostgreSQL, git, openssl, Kamailio and sipp from apt, when missing"
	@echo "make lint         ruff check and ruff format --check"
	@echo "make clean        caches and build output (distclean: the venv too)"

venv: $(VENV)/bin/python

$(VENV)/bin/python:
	@[ -n "$(PYTHON)" ] || { echo "make: need python3 >= 3.11 on PATH (or make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); PYTHON=$(PYTHON) scripts/install-system-deps.sh venv && $(PYTHON) -m venv $(VENV); }

install: $(VENV)/.installed

# Re-install only when the dependencies may have changed.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

system-deps:
	@scripts/install-system-deps.sh tests

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# pytest's exit status is echoed so .ci/run can tell "no tests ran" (5) from failures.
test: install system-deps lint k8s-tools helm-tool pulumi-tools
	$(VENV)/bin/python -m pytest -q -n auto --dist loadgroup -m "" $(PYTEST_ARGS) \
		|| { rc=$$?; echo "make test: pytest exited with status $$rc" >&2; exit $$rc; }

demo: install
	@scripts/demo.sh

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis .cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# kube-apiserver and kubectl for tests/k8s, built from the Go modules in tests/k8s/tools into
# ~/.cache/trunkline/tools (TRUNKLINE_TOOLS_CACHE) once per Kubernetes version; also installs etcd.
# Without Go the k8s tests skip (fail under CI). See docs/testing-kubernetes.md.
.PHONY: k8s-tools
k8s-tools:
	@tests/k8s/build.sh --optional >/dev/null

# helm for tests/helm (helm lint, helm template), built from its Go module into a cache.
# Without Go the helm tests skip (fail under CI).
.PHONY: helm-tool
helm-tool:
	@scripts/build-helm.sh --optional >/dev/null

# The Pulumi CLI and a Python language host for tests/pulumi, built from the Go modules in
# tests/pulumi/tools into ~/.cache/trunkline/tools (TRUNKLINE_TOOLS_CACHE) once per Pulumi version.
# Without Go the Pulumi engine tests skip (fail under CI).
.PHONY: pulumi-tools
pulumi-tools:
	@tests/pulumi/build.sh --optional >/dev/null
