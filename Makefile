# Every target creates .venv with python3 -m venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Third-party MCP tools (Inspector CLI, conformance suite, mcpb, Node 22), pinned in devtools/node.
NODE_DIR   := devtools/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
NODE_BIN   := $(NODE_DIR)/node_modules/.bin
BUNDLE_DIR := build/bundle

.PHONY: demo test test-fast lint bench bundle clean sandbox node-tools image image-test chart-test chart-readme

CONSTRAINTS := devtools/constraints.txt

# The package (editable, with its extras) and the dev dependency group, at the pinned versions.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[redis,otel]' --group dev
	touch $(STAMP)

# Re-resolve the dev environment at the newest allowed versions and pin them again.
.PHONY: constraints
constraints:
	rm -rf $(VENV)/constraints-venv
	$(PY) -m venv $(VENV)/constraints-venv
	$(VENV)/constraints-venv/bin/python -m pip install -q --upgrade 'pip>=25.1'
	$(VENV)/constraints-venv/bin/python -m pip install -q -e '.[redis,otel]' --group dev
	(echo "# Exact versions for the development environment (make uses them; \`make constraints\` refreshes them)."; \
	 $(VENV)/constraints-venv/bin/python -m pip freeze --exclude-editable | grep -v '^tickets-mcp') > $(CONSTRAINTS)
	rm -rf $(VENV)/constraints-venv

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node-tools: $(NODE_STAMP)

# Everything but the slow tests and the image tests; the chart tests (tests/chart) are among them.
test: $(STAMP) $(NODE_STAMP) lint
	$(BIN)/python -m pytest

# The unit tests alone (tests/unit: in process, no sockets, no subprocesses): seconds, no lint, no Node.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# The full fault matrix (1,000 calls) and the full fuzz (10,000 calls); make test runs small ones.
.PHONY: soak fuzz
soak: $(STAMP)
	TICKETS_MCP_SOAK_CALLS=1000 $(BIN)/python -m pytest -s -m slow tests/reliability/test_fault_matrix.py

fuzz: $(STAMP)
	TICKETS_MCP_FUZZ_EXAMPLES=5000 TICKETS_MCP_DRY_RUN_EXAMPLES=2000 $(BIN)/python -m pytest -s tests/reliability/test_fuzz.py tests/reliability/test_dry_run_agrees.py

lint: $(STAMP)
	$(BIN)/ruff check server tests bench devtools
	$(BIN)/ruff format --check server tests bench devtools
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/tickets-mcp demo

# One portable MCP Bundle (manifest 0.4, server.type "uv"): the package source and a pyproject.toml; the
# host installs the dependencies with uv for its own OS, so nothing compiled is vendored.
bundle: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(NODE_BIN):$$PATH" mcpb validate manifest.json
	rm -rf $(BUNDLE_DIR)
	$(BIN)/python devtools/bundle/stage.py $(BUNDLE_DIR)
	PATH="$(CURDIR)/$(NODE_BIN):$$PATH" mcpb pack $(BUNDLE_DIR) tickets-mcp.mcpb
	@$(BIN)/python -c 'import hashlib; print("fileSha256 (server.json, mcpb package):", hashlib.sha256(open("tickets-mcp.mcpb", "rb").read()).hexdigest())'

# Regenerate what derives from the tool declarations: tool snapshots, the README tool table,
# manifest.json's tools and server.json. The tests check each against the code.
.PHONY: snapshots
snapshots: $(STAMP)
	$(BIN)/python devtools/snapshots/generate.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

# P1 and P2 A/B against an earlier revision, in one run: make bench-ab AGAINST=<commit>
.PHONY: bench-ab
bench-ab: $(STAMP)
	$(BIN)/python bench/ab.py --against $(AGAINST)

# Three replicas sharing Redis under 30 agents, a replica killed, Redis restarted, 10,000 sessions.
.PHONY: cluster-bench
cluster-bench: $(STAMP)
	$(BIN)/python bench/cluster.py

# The Helm chart (deploy/helm/tickets-mcp): lint, render, strict Kubernetes schemas, its README; seconds.
chart-test: $(STAMP)
	$(BIN)/python -m pytest tests/chart

# The chart's README.md from its values.yaml (tests/chart checks it is up to date).
chart-readme: $(STAMP)
	$(BIN)/python devtools/chart/readme.py --write

# The container image, built with podman and no registry or network inside the build (devtools/image/build.py):
# a Debian base made with mmdebstrap, kept between builds; BASE_IMAGE=python:3.12-slim uses that one instead.
# make image-test runs the image for real (tests/image): sandbox, replicas in a pod with Redis, read-only root.
IMAGE_ENV := CONTAINERS_CONF=$(CURDIR)/devtools/image/containers.conf
IMAGE_TAG := localhost/tickets-mcp:$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

image: $(STAMP)
	$(IMAGE_ENV) $(BIN)/python devtools/image/build.py image --tag $(IMAGE_TAG) $(if $(BASE_IMAGE),--base $(BASE_IMAGE))

image-test: image
	redis_image=$$($(IMAGE_ENV) $(BIN)/python devtools/image/build.py redis) && \
	$(IMAGE_ENV) IMAGE_UNDER_TEST=$(IMAGE_TAG) IMAGE_TEST_REDIS=$$redis_image $(BIN)/python -m pytest -m image tests/image

sandbox: $(STAMP)
	$(BIN)/tickets-mcp sandbox --port 8765

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info server/*.egg-info $(NODE_DIR)/node_modules tickets-mcp.mcpb
