# Kefu's two commands: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3.11
APP_VENV := .venv
RASA_VENV := .venv-rasa
APP_STAMP := $(APP_VENV)/.stamp-app-lock
RASA_STAMP := $(RASA_VENV)/.stamp-rasa-lock
BROWSER_STAMP := $(APP_VENV)/.stamp-chromium
KEFU := $(APP_VENV)/bin/kefu
RASA := $(RASA_VENV)/bin/rasa
# endpoints.yml reads the action server's address from the environment.
export KEFU_ACTION_ENDPOINT ?= http://127.0.0.1:$(or $(KEFU_ACTION_PORT),5055)/webhook
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# A shop's customer service does not phone home: Rasa's telemetry is off unless a shop turns it
# on (RASA_TELEMETRY_ENABLED=true). kefu/stack.py does the same for the Rasa servers it starts.
export RASA_TELEMETRY_ENABLED ?= false

.PHONY: run test lint audit envs train validate browser prepare lock-app lock-rasa clean

# KEFU_PROFILE=production KEFU_REPLICAS=2 make run: the production profile (docs/deploy.md).
run: envs train prepare $(if $(filter production,$(KEFU_PROFILE)),nginx)
	$(KEFU) run

# Both environments' tests: tests/rasa_env runs inside the Rasa environment, the rest in the
# app environment. Both run even if the first fails; the target fails if either did.
# Then the end-to-end tests again on the production profile (PostgreSQL, Redis, RabbitMQ, a
# throw-away database per run: tests/e2e/conftest.py), with the replica tests (tests/production).
test: envs browser nginx train
	@rc=0; \
	$(MAKE) --no-print-directory lint || rc=1; \
	$(RASA_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/rasa_env || rc=1; \
	$(APP_VENV)/bin/python -m pytest -q --ignore=tests/rasa_env --ignore=tests/production || rc=1; \
	KEFU_TEST_PROFILE=production $(APP_VENV)/bin/python -m pytest -q -p no:cacheprovider \
	  tests/e2e tests/production || rc=1; \
	exit $$rc

# The layers (import-linter contracts in pyproject.toml, docs/architecture.md) and a small
# ruff rule set: an import that runs up a layer, an import cycle or an unused name fails here.
lint: $(APP_STAMP)
	$(APP_VENV)/bin/lint-imports --no-cache
	$(APP_VENV)/bin/ruff check .

# The two environments install side by side (mostly waiting on downloads and unpacking).
envs:
	@$(MAKE) --no-print-directory -j2 $(APP_STAMP) $(RASA_STAMP)

# A stamp per lock file: a second `make` with unchanged locks does nothing.
$(APP_STAMP): requirements/app.lock pyproject.toml
	@test -x $(APP_VENV)/bin/python || $(PYTHON) -m venv $(APP_VENV)
	$(APP_VENV)/bin/pip install -q -r requirements/app.lock
	$(APP_VENV)/bin/pip install -q --no-deps -e .
	@touch $@

# Rasa 3.6 declares Python <3.11; the lock pins every package so --no-deps is safe
# (see ../shared/notes/rasa-on-python-3.11.md).
$(RASA_STAMP): requirements/rasa.lock
	@test -x $(RASA_VENV)/bin/python || $(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q --no-deps --ignore-requires-python -r requirements/rasa.lock
	@touch $@

# Browser tests use Debian's chromium through Playwright; no browser is downloaded.
browser: $(BROWSER_STAMP)
$(BROWSER_STAMP):
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }
	@mkdir -p $(@D) && touch $@

# The production profile puts Debian's nginx in front of each tier's replicas (kefu/balancer.py).
# Only needed there: `make run` and the default profile never use it.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
	  { apt-get update -q && apt-get install -y -q nginx-light; }

# Rasa's own fingerprinting decides (its cache in .rasa/): when nothing the model depends on
# changed, the latest model in models/ is reused and nothing is trained. Its dry run does not
# see a change to the responses alone ("the responses might still need updating!"), so a
# domain.yml newer than the model trains too: every component comes from the cache, and the
# new model carries the new responses.
train: $(RASA_STAMP)
	@latest=$$(ls -t models/*.tar.gz 2>/dev/null | head -1); \
	if [ -n "$$latest" ] && [ ! domain.yml -nt "$$latest" ] && \
	   $(RASA) train --dry-run --out models >/dev/null 2>&1; then \
	  echo "Rasa model up to date: $$latest"; \
	else \
	  echo "Training the Rasa model (several minutes on 2 cores; Rasa shows each component's epochs)"; \
	  $(RASA) train --out models; \
	fi

# pip-audit over both lock files; known exceptions with reasons in requirements/audit-exceptions.yml.
audit: $(APP_STAMP)
	$(APP_VENV)/bin/python .ci/audit

validate: $(RASA_STAMP)
	$(RASA) data validate --fail-on-warnings

prepare: $(APP_STAMP)
	$(KEFU) prepare

lock-app:
	$(APP_VENV)/bin/pip install -q -r requirements/app.in
	{ echo "# Pinned from a working environment (pip freeze --all). Regenerate with: make lock-app"; \
	  $(APP_VENV)/bin/pip freeze --all | grep -v -E '^(pip==|-e |kefu|# Editable)'; } > requirements/app.lock

lock-rasa:
	$(RASA_VENV)/bin/pip install -q --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
	$(RASA_VENV)/bin/pip install -q -r requirements/rasa.in
	{ echo "# Pinned from a working environment (pip freeze --all). Regenerate with: make lock-rasa"; \
	  $(RASA_VENV)/bin/pip freeze --all | grep -v -E '^(pip==|-e )'; } > requirements/rasa.lock

clean:
	rm -rf $(APP_VENV) $(RASA_VENV) models .rasa
