"""uv for the packaging tests, configured the way pip is on this machine.

uv reads neither pip.conf nor PIP_* variables, so the indexes, find-links, constraints, trusted hosts and CA
bundle of `pip config list` (the registry mirror CI's pip installs from) are passed on as uv's own
variables; a UV_* variable the caller set already wins. Resolution picks the best version across all
indexes, as pip does. uv never downloads a Python: it uses the interpreter running the tests.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from uv import find_uv_bin

UV = Path(find_uv_bin())  # a dev dependency (pyproject.toml, dependency group "dev"); `make test` installs it
_RANK = {"global": 1, "install": 2, ":env:": 3}  # pip's precedence: PIP_* over [install] over [global]


def pip_config() -> dict[str, str]:
    """pip's effective settings (index-url, extra-index-url, find-links, ...), as `pip config list` shows."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    ranked: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        key, sep, raw = line.partition("=")
        section, _, name = key.rpartition(".")
        if not sep or section not in _RANK:
            continue
        value = str(ast.literal_eval(raw))
        if name not in ranked or _RANK[section] >= ranked[name][0]:
            ranked[name] = (_RANK[section], value)
    return {name: value for name, (_, value) in ranked.items()}


def uv_env(**extra: str | Path) -> dict[str, str]:
    """The caller's environment without credentials or an active venv, plus pip's index settings for uv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SELECTEL_", "TICKETS_MCP_")) and k != "VIRTUAL_ENV"
    }
    pip = pip_config()
    derived = {
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_INDEX_STRATEGY": "unsafe-best-match",
        "UV_NO_PROGRESS": "1",
    }
    if "index-url" in pip:
        derived["UV_DEFAULT_INDEX"] = pip["index-url"]
    if pip.get("no-index", "").lower() in {"1", "true", "yes", "on"}:
        derived["UV_NO_INDEX"] = "1"
    for name, variable, separator in (
        ("extra-index-url", "UV_INDEX", " "),
        ("find-links", "UV_FIND_LINKS", ","),
        ("constraint", "UV_CONSTRAINT", " "),
        ("trusted-host", "UV_INSECURE_HOST", " "),
    ):
        if pip.get(name, "").split():
            derived[variable] = separator.join(pip[name].split())
    if pip.get("cert"):
        derived["SSL_CERT_FILE"] = pip["cert"]
    for variable, value in derived.items():
        env.setdefault(variable, value)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_uv(*args: str | Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`uv ARGS`; a failure is an assertion error carrying uv's own message."""
    proc = subprocess.run(
        [str(UV), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert proc.returncode == 0, f"uv {' '.join(map(str, args))} failed:\n{proc.stderr[-4000:]}"
    return proc
