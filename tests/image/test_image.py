"""The image as built and as run: its metadata, no gate no start, and one locked-down server container
serving a real MCP client against a sandbox container of the same image, in one pod.

The server container runs the way the Helm chart runs it: read-only root filesystem with only /tmp
writable, no capabilities, no privilege escalation, the image's own non-root user. The sandbox journal,
read over its HTTP admin API, says what reached the API.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.expected import DEFAULT_TOOLS
from support.mcp_client import text_of
from support.podman import (
    FIGURES,
    LOCKED_DOWN,
    READY_PATH,
    ROOT,
    SANDBOX_PORT,
    Container,
    Pod,
    Podman,
    journal,
    sandbox_args,
    sandbox_env,
)
from support.servers import ServerProcess

pytestmark = [pytest.mark.image, pytest.mark.anyio]

SERVER_PORT = 8000  # the image's default
DEMO_TOKEN = "sandbox-demo-token"
UID = "10001"
# What podman itself puts into a read-only container's layer: the mount points of /etc/hosts, resolv.conf, …
PODMAN_MOUNT_POINTS = {
    f"{kind} {path}"
    for kind in "AC"
    for path in ("/etc", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run", "/run/.containerenv")
}


def test_the_image_carries_its_metadata(podman: Podman, image: str) -> None:
    config = json.loads(podman.out("image", "inspect", image))[0]
    cfg = config["Config"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    labels = cfg["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert cfg["User"] == f"{UID}:{UID}"
    assert cfg["Entrypoint"] + cfg["Cmd"] == ["tickets-mcp", "--transport", "http", "--host", "0.0.0.0"]
    assert cfg["StopSignal"] == "SIGTERM"
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    assert "PYTHONDONTWRITEBYTECODE=1" in cfg["Env"]
    size = int(config["Size"])
    FIGURES["image size"] = f"{size / 1e6:.1f} MB ({image})"
    assert size < 400e6


def test_the_final_stage_has_no_build_tools(podman: Podman, image: str) -> None:
    probe = (
        "import importlib.util, shutil; "
        "print([n for n in ('pip', 'setuptools', 'wheel') if importlib.util.find_spec(n)], "
        "[t for t in ('gcc', 'cc', 'make', 'apt-get') if shutil.which(t)])"
    )
    found = podman.out("run", "--rm", "--health-interval=disable", "--entrypoint=python", image, "-c", probe)
    # apt-get comes with Debian's base (as with python:3.12-slim); it cannot run as this user on a read-only root
    assert found == "[] ['apt-get']" or found == "[] []", found


def test_without_a_gate_it_does_not_start(podman: Podman, image: str) -> None:
    """The default command binds every interface: with a credential but no gate it refuses, exit 2."""
    done = podman(
        "run", "--rm", "--health-interval=disable", f"--env=SELECTEL_TOKEN={DEMO_TOKEN}", image, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to start" in done.stderr and "TICKETS_MCP_HTTP_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


@dataclass
class Service:
    pod: Pod
    server: Container
    sandbox: Container
    http_token: str

    @property
    def url(self) -> str:
        return self.pod.url(SERVER_PORT, "/mcp")

    def client(self) -> Client:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.http_token}"}, timeout=60)
        return Client(streamable_http_client(self.url, http_client=http))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def service(podman: Podman, image: str) -> Iterator[Service]:
    pod = Pod(podman, "service", [SERVER_PORT, SANDBOX_PORT]).create()
    try:
        sandbox = pod.run("sandbox", image, *sandbox_args(), options=LOCKED_DOWN)
        pod.wait(sandbox, pod.url(SANDBOX_PORT, "/_sandbox/health"))
        token = secrets.token_urlsafe(24)
        env = {**sandbox_env(), "SELECTEL_TOKEN": DEMO_TOKEN, "TICKETS_MCP_HTTP_TOKEN": token}
        started = time.monotonic()
        server = pod.run("server", image, env=env, options=LOCKED_DOWN)
        pod.wait(server, pod.url(SERVER_PORT, READY_PATH))
        FIGURES["cold start in a container (podman run → first 200)"] = f"{time.monotonic() - started:.2f} s"
        yield Service(pod, server, sandbox, token)
        logs = server.logs()
        assert token not in logs and DEMO_TOKEN not in logs, "a secret reached the log"
        assert "Traceback" not in logs, logs
    finally:
        pod.remove()


def test_the_cold_start_outside_a_container(service: Service) -> None:
    """The same server as a host process, against the same sandbox container, for the comparison."""
    sandbox = service.pod.url(SANDBOX_PORT)
    env = {
        "SELECTEL_TOKEN": DEMO_TOKEN,
        "SELECTEL_TICKETS_URL": f"{sandbox}/support",
        "SELECTEL_IDENTITY_URL": f"{sandbox}/identity/v3",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    started = time.monotonic()
    process = ServerProcess(env, probe=READY_PATH).start()
    try:
        FIGURES["cold start as a host process (spawn → first 200)"] = f"{time.monotonic() - started:.2f} s"
    finally:
        process.stop()


def test_healthz_answers_and_the_healthcheck_passes(service: Service, podman: Podman) -> None:
    answer = httpx2.get(service.pod.url(SERVER_PORT, "/healthz"), timeout=5)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    check = podman("healthcheck", "run", service.server.name, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    # the gate holds: the MCP endpoint without the token
    assert httpx2.post(service.url, json={}, timeout=5).status_code == 401


async def test_a_client_lists_the_tools_and_reads_a_ticket(service: Service) -> None:
    sandbox = service.pod.url(SANDBOX_PORT, "/support")
    tickets = httpx2.get(f"{sandbox}/v2/tickets", headers={"X-Token": DEMO_TOKEN}, timeout=10).json()
    number = tickets["items"][0]["number"]
    before = len(journal(service.pod))
    async with service.client() as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("get_ticket", {"number": number})
    assert tools == DEFAULT_TOOLS
    assert not result.is_error, text_of(result)
    assert result.structured_content["ticket"]["number"] == number
    reads = [e for e in journal(service.pod)[before:] if e["method"] == "GET"]
    assert any(str(e["path"]).endswith(f"/v2/tickets/{number}") for e in reads), reads


def test_it_runs_as_non_root_on_a_read_only_root(service: Service) -> None:
    server = service.server
    assert server.exec("id", "-u").stdout.strip() == UID
    status = server.exec("cat", "/proc/1/status").stdout
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M)
    assert uids is not None and set(uids.group(1).split()) == {UID}, status  # real, effective, saved, fs
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    host_config = server.inspect()["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    for path in ("/probe", "/opt/venv/probe", "/etc/probe"):
        denied = server.exec("python", "-c", f"open({path!r}, 'w')", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, (path, denied.stderr)
    assert server.exec("python", "-c", "open('/tmp/probe', 'w').write('ok')").returncode == 0
    # nothing was written to the container's own layer (no .pyc, no cache, no state) but podman's mount points
    changed = set(service.pod.podman.out("diff", server.name).splitlines())
    assert changed <= PODMAN_MOUNT_POINTS, changed


def test_the_sandbox_runs_from_the_same_image(service: Service, image: str) -> None:
    assert service.sandbox.inspect()["ImageName"] == image
