"""The Helm chart (deploy/helm/tickets-mcp) rendered offline with helm-python-sdk (Helm v4's library, no
helm binary, no cluster), and the environment its pods would get."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "tickets-mcp"
RELEASE = "tickets"
NAMESPACE = "team"
KUBERNETES = "1.30.0"  # the oldest Kubernetes the strict schema checks run against (Chart.yaml allows 1.27+)


@dataclass
class Rendered:
    """The manifests of one release, by kind and name."""

    objects: list[dict[str, Any]]
    notes: str = ""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.of(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, (kind, name, [o["metadata"]["name"] for o in self.of(kind)])
        return found[0]

    @property
    def server(self) -> dict[str, Any]:
        """The server's container in the Deployment."""
        deployment = self.one("Deployment", f"{RELEASE}-tickets-mcp")
        (container,) = [
            c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "server"
        ]
        return container

    def environment(self, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
        """The server container's environment: its ConfigMap, then its env with ``secrets`` (by Secret
        name and key) for the secret references; a variable made from a field gets a placeholder."""
        env: dict[str, str] = {}
        for source in self.server.get("envFrom", []):
            env.update(self.one("ConfigMap", source["configMapRef"]["name"])["data"])
        for item in self.server.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                env[item["name"]] = secrets[(ref["name"], ref["key"])]
            elif "value" in item:
                env[item["name"]] = item["value"]
            else:
                env[item["name"]] = "field"
        return env

    def secret_refs(self) -> set[tuple[str, str, str]]:
        """(variable, Secret name, key) of every secret reference of the server container."""
        return {
            (item["name"], ref["name"], ref["key"])
            for item in self.server.get("env", [])
            if (ref := item.get("valueFrom", {}).get("secretKeyRef")) is not None
        }


def chart() -> helm.Chart:
    return helm.Chart.load(str(CHART))


def render(values: dict[str, Any]) -> Rendered:
    """Render a release of the chart; raises `helm_python.HelmError` when the chart refuses the values."""
    manifests = chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = [
        doc
        for path, text in sorted(manifests.items())
        if path.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return Rendered(objects, manifests.get("tickets-mcp/templates/NOTES.txt", ""))


def lint(values: dict[str, Any]) -> list[str]:
    """The lint findings of warning or error severity."""
    report = helm.lint(
        str(CHART), values=values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBERNETES}"
    )
    return [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2] + report["errors"]
