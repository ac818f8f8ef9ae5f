# FlowGate: `make run` serves the portal on embedded defaults; `make test` runs every check and test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
OPAMP_PORT ?= 4320
# `make run` is the product as a user meets it: DEBUG off (its own error pages; WhiteNoise serves the collected static
# files) unless DEBUG=true is given, a secret key generated once under var/ unless SECRET_KEY is set, and plain
# HTTP on this machine (no HTTPS redirect, no secure-only cookies, no HSTS), each overridable from the environment.
DEBUG ?= false
SECURE_SSL_REDIRECT ?= false
SESSION_COOKIE_SECURE ?= false
CSRF_COOKIE_SECURE ?= false
SECURE_HSTS_SECONDS ?= 0
RUN_ENV = DEBUG=$(DEBUG) SECURE_SSL_REDIRECT=$(SECURE_SSL_REDIRECT) SESSION_COOKIE_SECURE=$(SESSION_COOKIE_SECURE) \
	CSRF_COOKIE_SECURE=$(CSRF_COOKIE_SECURE) SECURE_HSTS_SECONDS=$(SECURE_HSTS_SECONDS) \
	$(if $(SECRET_KEY),,SECRET_KEY_FILE=var/secret_key)

# The test suite runs in the production shape: PostgreSQL and Redis (this machine's, unless set).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/flowgate
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

# Production-like values used only to prove `check --deploy` passes (documented in docs/configuration.md).
DEPLOY_ENV := DEBUG=false SECRET_KEY=deploy-check-$$(date +%s)-a-long-random-secret-key-for-check-only \
	JWT_SIGNING_KEY=deploy-check-jwt-signing-key-0123456789abcdef ALLOWED_HOSTS=flowgate.example.com SECURE_HSTS_PRELOAD=true

.PHONY: run worker test test-fast lint checks pytest proto clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime packages only, for `make run`.
$(BIN)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Runtime plus test and lint tools.
$(BIN)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(BIN)/.runtime-installed

# A random secret for `make run`, made once (sessions and tokens stay valid across runs).
var/secret_key:
	mkdir -p var
	umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

run: $(BIN)/.runtime-installed $(if $(SECRET_KEY),,var/secret_key)
	env $(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	env $(RUN_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	env $(RUN_ENV) $(BIN)/python manage.py seeddemo
	@echo "FlowGate on http://$(HOST):$(PORT)/ (sign in with the credentials above; API: /api/v1/), OpAMP also on port $(OPAMP_PORT)"
	env $(RUN_ENV) $(BIN)/python -m flowgate_site.serve -e tcp:port=$(PORT):interface=$(HOST) \
		-e tcp:port=$(OPAMP_PORT):interface=$(HOST) flowgate_site.asgi:application

# The production shape's background worker (with REDIS_URL set): tasks and the periodic schedule.
worker: $(BIN)/.runtime-installed
	$(BIN)/celery -A flowgate_site worker --beat --loglevel INFO

test: $(BIN)/.installed lint checks pytest

# Lint and the tests that start no process and no browser (markers checked by tests/process_guard.py).
test-fast: $(BIN)/.installed lint
	$(MAKE) pytest PYTEST_ARGS='-m "not process and not browser" $(PYTEST_ARGS)'

# Ruff, then the import layers of docs/architecture.md as contracts (.importlinter).
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

checks: $(BIN)/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run
	env $(DEPLOY_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

pytest: $(BIN)/.installed
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/python scripts/wait_for_services.py
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/pytest --create-db $(PYTEST_ARGS)

proto: $(BIN)/.installed
	bash opamp_core/proto/generate.sh

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
