"""The image tests: real containers of the image `make image` built, run with podman (`make image-test`).

They are marked ``image`` and deselected by default (pyproject's ``addopts``), so `make test` never
runs them; `make image-test` builds the image and the test Redis image and selects them with ``-m image``.
Without podman they skip, and fail under CI (the ``CI`` variable), as the third-party checks do.

The fixtures give the podman CLI, the images under test and pods (`support.podman`), each pod removed
when its fixture ends; the figures the tests keep (`support.podman.FIGURES`: image size, cold starts) are
printed at the end of the run and written to build/image/results.json.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from support.podman import FIGURES, RESULTS, ROOT, Pod, Podman


@pytest.fixture(scope="session")
def podman() -> Podman:
    if shutil.which("podman") is None:
        message = "podman is not installed (.ci/run installs it; make image-test builds the image)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Podman()


def _built(podman: Podman, variable: str) -> str:
    tag = os.environ.get(variable, "")
    if not tag or podman("image", "exists", tag, check=False).returncode != 0:
        pytest.fail(f"{variable}={tag!r} is not a built image: run the image tests with make image-test")
    return tag


@pytest.fixture(scope="session")
def image(podman: Podman) -> str:
    """The tickets-mcp image under test (make image-test passes the tag `make image` built)."""
    return _built(podman, "IMAGE_UNDER_TEST")


@pytest.fixture(scope="session")
def redis_image(podman: Podman) -> str:
    """An image with Debian's redis-server (devtools/image/build.py redis)."""
    return _built(podman, "IMAGE_TEST_REDIS")


@pytest.fixture
def pod_factory(podman: Podman) -> Iterator[Any]:
    pods: list[Pod] = []

    def make(role: str, ports: Sequence[int]) -> Pod:
        pod = Pod(podman, role, ports).create()
        pods.append(pod)
        return pod

    yield make
    for pod in pods:
        pod.remove()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=2) + "\n")
    terminalreporter.section("image figures")
    for key, value in FIGURES.items():
        terminalreporter.write_line(f"{key}: {value}")
    terminalreporter.write_line(f"(written to {RESULTS.relative_to(ROOT)})")
