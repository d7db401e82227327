"""Podman for the image tests (tests/image): the CLI with this project's containers.conf, a container, a
pod of this run, and the sandbox container's arguments and journal.

`Podman` runs the CLI with ``CONTAINERS_CONF`` pointing at devtools/image/containers.conf (runc, low
rlimits). `Pod` is one podman pod of this run: its containers share loopback, and the ports it publishes
are bound to 127.0.0.1 on the host only. Every pod and container is named ``tickets-mcp-test-<run>-…``.
Figures (image size, cold starts) are kept in `FIGURES`; tests/image/conftest.py prints and writes them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "build" / "image" / "results.json"
RUN = uuid.uuid4().hex[:8]
# The route a started container is waited on until it takes requests: readiness, as Kubernetes' probe in
# the chart (it fails as soon as the server is stopping).
READY_PATH = "/readyz"
SANDBOX_PORT = 8765  # inside a pod: the sandbox container's port
FIGURES: dict[str, Any] = {}


class Podman:
    """The podman CLI, configured for these machines."""

    def __init__(self) -> None:
        self.env = {**os.environ}
        self.env.setdefault("CONTAINERS_CONF", str(ROOT / "devtools" / "image" / "containers.conf"))

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["podman", *args], capture_output=True, text=True, timeout=timeout, env=self.env
        )
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    def out(self, *args: str) -> str:
        return self("--log-level=error", *args).stdout.strip()


@dataclass
class Container:
    podman: Podman
    name: str

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.podman("exec", self.name, *command, check=check)

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def inspect(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.podman.out("container", "inspect", self.name))
        return found[0]

    def running(self) -> bool:
        return bool(self.inspect()["State"]["Running"])


# The restrictions a Kubernetes pod of the chart has (deploy/helm/tickets-mcp): only /tmp writable, no
# capabilities, no privilege escalation; the image's own non-root user.
LOCKED_DOWN = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--tmpfs=/tmp:rw,nosuid,nodev,size=16m,mode=1777",
    "--cap-drop=all",
    "--security-opt=no-new-privileges",
)


@dataclass
class Pod:
    """A podman pod publishing ``ports`` (container port → a free loopback port of the host)."""

    podman: Podman
    role: str
    ports: Sequence[int]
    name: str = ""
    host_ports: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = f"tickets-mcp-test-{RUN}-{self.role}"
        self.host_ports = {port: free_port() for port in self.ports}

    def create(self) -> Pod:
        published = [f"--publish=127.0.0.1:{host}:{inner}" for inner, host in self.host_ports.items()]
        self.podman("pod", "create", f"--name={self.name}", *published)
        return self

    def remove(self) -> None:
        self.podman("pod", "rm", "--force", "--time=0", self.name, check=False)

    def url(self, port: int, path: str = "") -> str:
        return f"http://127.0.0.1:{self.host_ports[port]}{path}"

    def run(
        self,
        role: str,
        image: str,
        *command: str,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> Container:
        name = f"{self.name}-{role}"
        env_args = [f"--env={key}={value}" for key, value in (env or {}).items()]
        # --health-interval=disable: no systemd here to run the image's HEALTHCHECK on a timer; the tests
        # run it on demand with `podman healthcheck run`.
        self.podman(
            "run", "--detach", f"--pod={self.name}", f"--name={name}", "--health-interval=disable",
            *options, *env_args, image, *command,
        )  # fmt: skip
        return Container(self.podman, name)

    def wait(self, container: Container, url: str, timeout: float = 60) -> float:
        """Seconds until ``url`` answers 200; fails with the container's log if it exits or never does."""
        started = time.monotonic()
        while True:
            try:
                if httpx2.get(url, timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx2.TransportError:
                pass
            if time.monotonic() - started > timeout or not container.running():
                raise AssertionError(f"{container.name} did not answer {url}:\n{container.logs()}")
            time.sleep(0.05)


def sandbox_args(*tokens: str) -> tuple[str, ...]:
    """The sandbox subcommand on the pod's network (it refuses a non-loopback bind without --expose)."""
    accepted = [f"--static-token={token}" for token in tokens]
    return ("sandbox", "--host=0.0.0.0", f"--port={SANDBOX_PORT}", "--expose", *accepted)


def sandbox_env() -> dict[str, str]:
    """Where the server in the same pod finds the sandbox."""
    root = f"http://127.0.0.1:{SANDBOX_PORT}"
    return {"SELECTEL_TICKETS_URL": f"{root}/support", "SELECTEL_IDENTITY_URL": f"{root}/identity/v3"}


def journal(pod: Pod) -> list[dict[str, Any]]:
    """The sandbox's request journal, over its HTTP admin API."""
    items: list[dict[str, Any]] = httpx2.get(pod.url(SANDBOX_PORT, "/_sandbox/journal"), timeout=10).json()[
        "items"
    ]
    return items
