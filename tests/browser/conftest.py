"""The browser suite: the MCP App views in Debian's Chromium, driven by the PyPI `playwright` package
(`executable_path`: Playwright's own browser download is not used), mounted by the test host page
(`support.app_host`) that forwards their `tools/call` to a real server over HTTP against the sandbox.

Without Chromium or Playwright the suite skips locally and fails under CI (`.ci/run` installs Chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from support.app_host import AppHost, host_page
from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run installs it (apt-get install chromium; pip: playwright)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="package")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


def server_env(sandbox: SandboxHandle) -> dict[str, str]:
    return {
        "SELECTEL_TOKEN": sandbox.token,
        "SELECTEL_TICKETS_URL": sandbox.base_url,
        "SELECTEL_IDENTITY_URL": sandbox.identity_url,
        "TICKETS_MCP_CALLS_PER_MINUTE": "0",
        "TICKETS_MCP_CATALOG_TTL": "0",
        "TICKETS_MCP_DEDUP_WINDOW": "0",
    }


@pytest.fixture(scope="package")
def mcp_server(sandbox: SandboxHandle) -> Iterator[ServerProcess]:
    server = ServerProcess(server_env(sandbox)).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def read_only_host(sandbox: SandboxHandle) -> Iterator[AppHost]:
    """A host of a second server, on the same sandbox, started with TICKETS_MCP_READ_ONLY."""
    server = ServerProcess({**server_env(sandbox), "TICKETS_MCP_READ_ONLY": "1"}).start()
    try:
        with AppHost(server.url) as h:
            yield h
    finally:
        server.stop()


@pytest.fixture(scope="package")
def host(mcp_server: ServerProcess) -> Iterator[AppHost]:
    with AppHost(mcp_server.url) as h:
        yield h


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        _missing("Chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, host: AppHost) -> Iterator[Any]:
    with host_page(browser, host) as tab:
        yield tab
