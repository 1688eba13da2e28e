# Quick start: `make demo` runs the whole flow on the local sandbox; `make test` runs every test.
# Both create .venv and install what they need (Python >= 3.11; Node 20 for the Salesforce UI tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := sfdc_metadata/node_modules/.installed

.PHONY: install demo test test-python test-salesforce dev bench chaos clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $@

$(NODE_STAMP): sfdc_metadata/package.json sfdc_metadata/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node 20) is needed for the Salesforce UI tests"; exit 1; }
	@cd sfdc_metadata && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: install
	@scripts/with-redis.sh $(BIN)/connector demo

dev: install
	@scripts/with-redis.sh $(BIN)/connector dev

test: test-python test-salesforce

test-python: install
	@scripts/with-redis.sh $(BIN)/python -m pytest

test-salesforce: install $(NODE_STAMP)
	@$(BIN)/python scripts/validate_metadata.py
	@cd sfdc_metadata && npm run --silent lint:apex && npm run --silent test:unit -- --ci

clean:
	rm -rf $(VENV) sfdc_metadata/node_modules .pytest_cache
