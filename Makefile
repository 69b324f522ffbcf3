# MemoryHub — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP_BASE := $(VENV)/.base-installed
STAMP_DEV := $(VENV)/.dev-installed
MODEL_STAMP := var/models/.exported

.PHONY: run test install install-dev model lint format lock bench clean-var npm-deps npm-deps-optional browser-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is pinned (==2.13.0) to the CPU build; installing it first keeps any
# later resolver from reaching for a CUDA build.
$(STAMP_BASE): requirements/base.txt | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements/base.txt
	touch $@

$(STAMP_DEV): requirements/dev.txt $(STAMP_BASE)
	$(PIP) install --quiet -r requirements/dev.txt
	touch $@

install: $(STAMP_BASE) $(MODEL_STAMP) npm-deps-optional
install-dev: $(STAMP_DEV) $(MODEL_STAMP) npm-deps

# The official MCP memory server (routing's mcp_memory backend and its tests),
# pinned, in a project-local folder.
MCP_MEMORY_VERSION := 2026.8.31
NPM_STAMP := var/npm/.server-memory-$(MCP_MEMORY_VERSION)
$(NPM_STAMP):
	npm install --silent --prefix var/npm @modelcontextprotocol/server-memory@$(MCP_MEMORY_VERSION)
	touch $@

npm-deps: $(NPM_STAMP)

# `make run` needs only Python: the MCP memory server is fetched when npm is
# there (for mcp_memory backends), skipped with a notice when it is not.
npm-deps-optional:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory npm-deps; \
	else \
		echo "npm not found: skipping the MCP memory server (only mcp_memory backends need it)"; \
	fi

# Export the embedding model to ONNX (fp32 + dynamic int8) once, offline.
$(MODEL_STAMP): $(STAMP_BASE) memories/embedders/cli.py memories/embedders/local.py
	$(PY) -m memories.embedders export

model: $(MODEL_STAMP)

run: install
	$(PY) -m memoryhub.localenv
	$(PY) -m memoryhub.launcher

# The browser tests drive Debian's Chromium (never a downloaded browser): as
# root with apt, `make test` installs it; otherwise they are skipped with a
# notice (and fail in CI, where .ci/run installs it).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
	else \
		echo "chromium not found: the browser tests will be skipped (apt-get install chromium)"; \
	fi

test: install-dev browser-deps
	$(PY) -m memoryhub.localenv
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: install-dev
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url -o requirements/base.txt requirements/base.in
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url -o requirements/dev.txt requirements/dev.in

bench: install-dev
	$(PY) benchmarks/bench_api.py
