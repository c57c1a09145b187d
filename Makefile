# fleetgate: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# sam build needs every runtime Python (python3.13 for the layers and functions) on PATH; with pyenv,
# make them all visible at once.
ifneq ($(shell command -v pyenv 2>/dev/null),)
PYENV_VERSION ?= $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[1-9])\.[0-9]+$$' | sort -rV | paste -sd: -)
export PYENV_VERSION
endif

# The newest Python >= 3.11 on this machine (3.13 matches the Lambda runtime).
PYTHON ?= $(shell export PYENV_VERSION=$(PYENV_VERSION); for p in python3.13 python3.12 python3.11 python3; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  && { echo $$p; break; }; done)
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
PORT ?= 3000
MQTT_PORT ?= 1883
export AWS_SAM_CLI_TELEMETRY := 0
# pytest runs in parallel (pytest-xdist): one worker per core; `make test PYTEST_WORKERS=0` runs serially.
# worksteal rebalances the tail, so no long test file finishes alone at the end.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist worksteal)

$(VENV)/.installed: requirements-dev.txt layers/dependencies/requirements.txt
	@test -n "$(PYTHON)" || { echo "fleetgate needs Python 3.11 or newer on PATH"; exit 1; }
	@echo "==> creating $(VENV) with $$($(PYTHON) --version)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON)" || { echo "fleetgate needs Python 3.11 or newer on PATH"; exit 1; }
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "fleetgate needs Python 3.11 or newer on PATH"; exit 1; }
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

# Mosquitto 2 (Debian's package: the broker, its dynamic security plugin, mosquitto_ctrl), the local
# stack's MQTT broker. Installed with apt-get when missing and make runs as root; otherwise make says
# what to install and stops.
MOSQUITTO_HINT := Mosquitto 2 is missing: install Debian/Ubuntu's package (sudo apt-get install mosquitto), Homebrew's (brew install mosquitto) or https://mosquitto.org/download/, with its dynamic security plugin; MOSQUITTO=/path/to/mosquitto names one off PATH

.PHONY: mosquitto
mosquitto: ## Install Mosquitto 2 (the local stack's MQTT broker, and its clients) with apt-get when missing (needs root)
	@if [ -n "$$MOSQUITTO" ] && [ -x "$$MOSQUITTO" ]; then exit 0; fi; \
	apt=; [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt=1; export DEBIAN_FRONTEND=noninteractive; \
	if PATH="$$PATH:/usr/sbin:/usr/local/sbin" command -v mosquitto >/dev/null 2>&1; then \
	  if [ -n "$$apt" ] && ! command -v mosquitto_sub >/dev/null 2>&1; then \
	    echo "==> installing mosquitto-clients (mosquitto_sub, mosquitto_pub, mosquitto_rr: for trying MQTT)"; \
	    apt-get install -y --no-install-recommends mosquitto-clients >/dev/null 2>&1 || true; \
	  fi; exit 0; \
	fi; \
	if [ -n "$$apt" ]; then \
	  echo "==> installing mosquitto and mosquitto-clients (Debian packages) with apt-get"; \
	  apt-get install -y --no-install-recommends mosquitto mosquitto-clients >/dev/null \
	    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends mosquitto mosquitto-clients >/dev/null; } \
	    || { echo "apt-get could not install mosquitto. $(MOSQUITTO_HINT)"; exit 1; }; \
	else \
	  echo "$(MOSQUITTO_HINT)"; exit 1; \
	fi

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## Create the virtualenvs (.venv for code and tests, .venv-sam for SAM CLI, .venv-checkov for checkov)

.PHONY: local
local: $(VENV)/.installed mosquitto ## Run the whole stack locally on http://127.0.0.1:$(PORT), MQTT on mqtt://127.0.0.1:$(MQTT_PORT) (moto as AWS, no Docker)
	PORT=$(PORT) PYTHONPATH=local $(PY) -m fleetgate_local --port $(PORT) --mqtt-port $(MQTT_PORT) --sam-env-vars .aws-sam/local-env.json

.PHONY: lint
lint: $(VENV)/.installed ## ruff, mypy and the layering contracts (.importlinter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=layers/core $(VENV)/bin/lint-imports --no-cache

.PHONY: format
format: $(VENV)/.installed ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: unit
unit: $(VENV)/.installed ## Unit tests (domain logic, no AWS)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit

.PHONY: integration
integration: $(VENV)/.installed ## Handlers in process against moto, events from events/
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/integration

.PHONY: e2e
e2e: $(VENV)/.installed mosquitto ## Real HTTP (and ThingsBoard's SDK) against a local stack the tests start
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/e2e

.PHONY: fuzz
fuzz: $(VENV)/.installed mosquitto ## Fuzz every route with schemathesis against a local stack the tests start (part of make test)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/fuzz

.PHONY: template-check
template-check: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## cfn-lint, sam validate --lint, sam build, checkov, resource count
	PATH="$(abspath $(SAM_VENV))/bin:$$PATH" $(PY) -m pytest tests/template

.PHONY: test
test: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed mosquitto ## Everything CI runs: lint, types, unit, integration, e2e, template checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=layers/core $(VENV)/bin/lint-imports --no-cache
	# two runs: the integration tests replace moto's in-process backends with their pristine copies,
	# which the local stacks of the e2e tests share in the same process, so the two never share one
	PATH="$(abspath $(SAM_VENV))/bin:$$PATH" $(PY) -m pytest $(PYTEST_PARALLEL) -m "not e2e"
	PATH="$(abspath $(SAM_VENV))/bin:$$PATH" $(PY) -m pytest $(PYTEST_PARALLEL) -m e2e

.PHONY: build
build: $(SAM_VENV)/.installed ## sam build (no container; layers ship compiled .pyc)
	$(SAM) build --cached --parallel

.PHONY: deploy
deploy: build ## sam deploy with the samconfig.toml environment ENV (default, dev or prod)
	$(SAM) deploy --config-env $(or $(ENV),default)

.PHONY: bench
bench: $(VENV)/.installed ## Cold-start import time and AWS calls per request of every device function (writes docs/performance.md)
	$(PY) tools/bench.py --write-docs

.PHONY: sim
sim: $(VENV)/.installed ## Simulated devices of both dialects and an operator against URL (default make local's): DEVICES=5 DURATION=60
	PYTHONPATH=tools $(PY) -m fleetgate_sim --url $(or $(URL),http://127.0.0.1:$(PORT)) \
	  --devices $(or $(DEVICES),5) --duration $(or $(DURATION),60) $(SIM_ARGS)

.PHONY: soak
soak: $(VENV)/.installed ## Soak (minutes, not in make test): 50 SDK devices long-polling x 300 s on its own local stack, or URL=
	PYTHONPATH=tools:local $(PY) -m fleetgate_sim.soak $(if $(URL),--url $(URL)) \
	  --devices $(or $(DEVICES),50) --duration $(or $(DURATION),300) $(SOAK_ARGS)

.PHONY: docs
docs: $(VENV)/.installed ## Regenerate the generated tables in docs/ (cost, test counts, template parameters; bench: make bench) and docs/openapi.json
	$(PY) tools/cost.py --write-docs
	$(PY) tools/template_docs.py --write-docs
	$(PY) tools/count_tests.py --write-docs
	$(PY) tools/openapi.py --write

.PHONY: openapi
openapi: $(VENV)/.installed ## Write docs/openapi.json from the code
	$(PY) tools/openapi.py --write

.PHONY: clean
clean: ## Remove build output and caches (keeps the virtualenvs)
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -not -path './.venv*' -prune -exec rm -rf {} +
