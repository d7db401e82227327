# Every target creates .venv with python3 -m venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint bench bundle clean sandbox

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

demo: $(STAMP)
	@echo "make demo: the scripted MCP session is coming soon (it lands with the MCP server)."
	@echo "Meanwhile the sandbox API runs with: $(BIN)/tickets-mcp sandbox --port 8765"

sandbox: $(STAMP)
	$(BIN)/tickets-mcp sandbox --port 8765

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info server/*.egg-info
