"""The Helm chart's README.md, generated from its values.yaml (`make chart-readme`).

Each key preceded by a ``# -- description`` comment in values.yaml is one row of the values table: its
dotted path, its default (compact JSON, as values.yaml has it) and the description. tests/chart checks
that README.md is what this writes.

    python devtools/chart/readme.py --write   # rewrite deploy/helm/tickets-mcp/README.md
    python devtools/chart/readme.py           # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "tickets-mcp"
README = CHART / "README.md"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?:\s|$)")
DOC = re.compile(r"^ *# -- (?P<text>.*)$")

INTRO = """\
# tickets-mcp Helm chart

The MCP server for the Selectel / Servercore support Tickets API as a team service on Kubernetes: a
Deployment of the `tickets-mcp` image (non-root, read-only root filesystem, no capabilities, seccomp
RuntimeDefault), its Service, and optionally an Ingress, an HPA, a PodDisruptionBudget, a NetworkPolicy
and, for trials only, a single-node Redis. How to install, upgrade and run it: the "Kubernetes" section
of the project's `docs/deploy.md`.

```sh
helm install tickets ./deploy/helm/tickets-mcp -f my-values.yaml
```

The recommended team setups are OAuth in front (`gate.mode=oauth`) with per-request Selectel credentials
(`credentials.mode=per-request`, the default). More than one replica (`replicaCount` or `autoscaling`)
needs Redis and a state key: the chart refuses to render without them, because pacing, create dedup
and consent answers would not hold across replicas. Secrets are referenced, never created: make them
first (`kubectl create secret generic ...`).

On SIGTERM a pod's `/readyz` fails at once; the calls under way get `shutdown.graceSeconds` to finish
(a write still waiting at the end is settled by its recovery read), and `terminationGracePeriodSeconds`
is `shutdown.preStopSeconds + shutdown.graceSeconds + 5`.

## Values

This table is generated from `values.yaml` by `make chart-readme`; `values.schema.json` refuses unknown
keys and wrong types.

| Key | Default | Description |
|---|---|---|
"""


def rows(text: str) -> list[tuple[str, str, str]]:
    """(dotted key, default as JSON, description) of every documented key, in file order."""
    values = yaml.safe_load(text)
    stack: list[tuple[int, str]] = []
    pending: str | None = None
    found = []
    for line in text.splitlines():
        doc = DOC.match(line)
        if doc:
            pending = doc["text"].strip()
            continue
        key = KEY.match(line)
        if not key:
            continue
        indent = len(key["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key["key"]))
        if pending is not None:
            path = [k for _, k in stack]
            found.append((".".join(path), default(values, path), pending))
            pending = None
    return found


def default(values: dict[str, Any], path: list[str]) -> str:
    value: Any = values
    for part in path:
        value = value[part]
    return json.dumps(value, separators=(",", ":"))


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        f"| `{key}` | `{cell(value)}` | {cell(text)} |"
        for key, value, text in rows((CHART / "values.yaml").read_text())
    ]
    return INTRO + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite README.md")
    args = parser.parse_args(argv)
    wanted = render()
    if args.write:
        README.write_text(wanted)
        return 0
    if not README.is_file() or README.read_text() != wanted:
        print(f"{README.relative_to(ROOT)} is out of date: run make chart-readme", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
