"""The Helm chart, offline: lint and render for the value sets a team uses, every manifest validated
strictly against the Kubernetes schemas, and the pods' environment checked against the server itself:
each variable is a setting the server knows, each required Secret is referenced, and the settings the
chart writes start a server (no gate, no start). The chart refuses the releases that could not work."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tomllib
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from support.chart import CHART, KUBERNETES, RELEASE, ROOT, Rendered, chart, lint, render
from tickets_mcp import telemetry
from tickets_mcp.settings import Settings, exposure_problem

STATE_KEY = "k" * 64
TOKEN_GATE: dict[str, Any] = {"gate": {"mode": "token", "token": {"existingSecret": "tickets-gate"}}}
ISSUER = {
    "issuer": "https://id.example.com/realms/team",
    "jwksUrl": "https://id.example.com/realms/team/jwks",
}
OAUTH: dict[str, Any] = {
    "gate": {"mode": "oauth", "oauth": {**ISSUER, "audience": "https://tickets.example.com/mcp"}}
}
REPLICATED: dict[str, Any] = {
    "redis": {"existingSecret": "tickets-redis"},
    "stateKey": {"existingSecret": "tickets-state"},
    "networkPolicy": {"egress": {"redis": [{"namespaceSelector": {"matchLabels": {"name": "redis"}}}]}},
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "minimal": TOKEN_GATE,
    "oauth": OAUTH,
    "per-request, stateless": {
        **TOKEN_GATE,
        "credentials": {"mode": "per-request"},
        "config": {"stateless": True},
    },
    "server credential": {
        **TOKEN_GATE,
        "credentials": {"mode": "server", "existingSecret": "selectel", "kind": "serviceUser"},
    },
    "with redis": {**OAUTH, **REPLICATED, "replicaCount": 3},
    "ingress, hpa, pdb": {
        "gate": {"mode": "oauth", "oauth": ISSUER},  # the audience comes from the ingress host
        **copy.deepcopy(REPLICATED),
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": "tickets.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": "tickets-tls", "hosts": ["tickets.example.com"]}],
        },
        "autoscaling": {
            "enabled": True,
            "minReplicas": 2,
            "maxReplicas": 5,
            "targetMemoryUtilizationPercentage": 80,
        },
        "telemetry": {"otlpEndpoint": "http://collector.observability:4318", "headersSecret": "otlp"},
        "shutdown": {"graceSeconds": 45, "preStopSeconds": 10},
    },
    "bundled redis": {
        **TOKEN_GATE,
        "replicaCount": 2,
        "redis": {"bundled": {"enabled": True}},
        "stateKey": {"existingSecret": "tickets-state"},
    },
}
VALUE_SETS["ingress, hpa, pdb"]["networkPolicy"]["egress"]["otlp"] = [{"podSelector": {}}]
# (variable, Secret, key) the pods of each value set must reference
SECRETS: dict[str, set[tuple[str, str, str]]] = {
    "minimal": {("TICKETS_MCP_HTTP_TOKEN", "tickets-gate", "http-token")},
    "oauth": set(),  # a resource server checks tokens with the issuer's public keys: nothing secret
    "per-request, stateless": {("TICKETS_MCP_HTTP_TOKEN", "tickets-gate", "http-token")},
    "server credential": {
        ("TICKETS_MCP_HTTP_TOKEN", "tickets-gate", "http-token"),
        ("SELECTEL_USERNAME", "selectel", "username"),
        ("SELECTEL_PASSWORD", "selectel", "password"),
        ("SELECTEL_ACCOUNT_ID", "selectel", "account-id"),
    },
    "with redis": {
        ("TICKETS_MCP_REDIS_URL", "tickets-redis", "redis-url"),
        ("TICKETS_MCP_STATE_KEY", "tickets-state", "state-key"),
    },
    "ingress, hpa, pdb": {
        ("TICKETS_MCP_REDIS_URL", "tickets-redis", "redis-url"),
        ("TICKETS_MCP_STATE_KEY", "tickets-state", "state-key"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "otlp", "otlp-headers"),
    },
    "bundled redis": {
        ("TICKETS_MCP_HTTP_TOKEN", "tickets-gate", "http-token"),
        ("TICKETS_MCP_STATE_KEY", "tickets-state", "state-key"),
    },
}
# Secret contents for starting a server from the rendered environment
CONTENTS = {
    ("tickets-gate", "http-token"): "gate-token-of-the-team",
    ("selectel", "username"): "robot",
    ("selectel", "password"): "pa55word",
    ("selectel", "account-id"): "123456",
    ("tickets-redis", "redis-url"): "redis://:pw@redis.redis:6379/0",
    ("tickets-state", "state-key"): STATE_KEY,
    ("otlp", "otlp-headers"): "api-key=abc",
}
# Standard OpenTelemetry variables the SDK reads itself (tickets_mcp.telemetry), and the pod name they use.
OTEL_STANDARD = {"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}
FROM_FIELDS = {"K8S_POD_NAME"}


def known_variables() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias])
        names |= {c for c in choices if isinstance(c, str) and c.isupper()}
    otel = {telemetry.ENDPOINT, *telemetry.SIGNAL_ENDPOINTS.values(), *telemetry.HEADER_VARIABLES}
    return names | otel | OTEL_STANDARD


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def released(request: pytest.FixtureRequest) -> tuple[str, Rendered]:
    return request.param, render(VALUE_SETS[request.param])


def test_the_chart_lints_clean_for_every_value_set() -> None:
    for name, values in VALUE_SETS.items():
        assert lint(values) == [], name


def test_every_manifest_is_valid_against_the_strict_kubernetes_schemas(
    released: tuple[str, Rendered],
) -> None:
    name, rendered = released
    for item in rendered.objects:
        kubernetes_validate.validate(item, KUBERNETES, strict=True)
    kinds = {o["kind"] for o in rendered.objects}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "NetworkPolicy"} <= kinds, name


def test_every_variable_is_a_setting_the_server_knows(released: tuple[str, Rendered]) -> None:
    name, rendered = released
    env = rendered.environment(CONTENTS)
    unknown = set(env) - known_variables() - FROM_FIELDS
    assert unknown == set(), (name, unknown)


def test_every_required_secret_is_referenced(released: tuple[str, Rendered]) -> None:
    name, rendered = released
    assert rendered.secret_refs() == SECRETS[name]
    assert rendered.of("Secret") == []  # referenced, never created: no secret lives in the values


def test_the_settings_the_chart_writes_start_a_server(
    released: tuple[str, Rendered], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, rendered = released
    env = rendered.environment(CONTENTS)
    for variable in list(os.environ):
        if variable.startswith(("SELECTEL_", "TICKETS_MCP_")):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    args = rendered.server["args"]
    settings = Settings(transport=args[args.index("--transport") + 1], host=args[args.index("--host") + 1])
    assert exposure_problem(settings) is None, name  # gated: the server would start
    assert settings.port == 8000 and settings.shutdown_grace == float(
        merged(name)["shutdown"]["graceSeconds"]
    )
    if int(merged(name).get("replicaCount", 1)) > 1 or merged(name)["autoscaling"]["enabled"]:
        assert settings.redis_url is not None and settings.state_keys(), name


def merged(name: str) -> dict[str, Any]:
    """The values of ``name`` merged with the defaults, as the templates see them."""
    values: dict[str, Any] = chart().merge_values(VALUE_SETS[name])
    return values


def test_the_pods_are_locked_down_and_drain_within_their_grace(released: tuple[str, Rendered]) -> None:
    name, rendered = released
    values = merged(name)
    pod = rendered.one("Deployment", f"{RELEASE}-tickets-mcp")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    server = rendered.server
    context = server["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]} and context["runAsNonRoot"] is True
    assert [m["mountPath"] for m in server["volumeMounts"]] == ["/tmp"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    grace, pre = values["shutdown"]["graceSeconds"], values["shutdown"]["preStopSeconds"]
    assert pod["terminationGracePeriodSeconds"] == pre + grace + 5
    assert server["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(pre)]
    assert rendered.environment(CONTENTS)["TICKETS_MCP_SHUTDOWN_GRACE"] == str(grace)
    assert server["resources"]["requests"] and server["resources"]["limits"]["memory"]


def test_the_optional_objects(released: tuple[str, Rendered]) -> None:
    name, rendered = released
    kinds = {o["kind"] for o in rendered.objects}
    assert ("Ingress" in kinds) == (name == "ingress, hpa, pdb")
    assert ("HorizontalPodAutoscaler" in kinds) == (name == "ingress, hpa, pdb")
    assert ("PodDisruptionBudget" in kinds) == (name in ("with redis", "ingress, hpa, pdb", "bundled redis"))
    deployments = {o["metadata"]["name"] for o in rendered.of("Deployment")}
    assert (f"{RELEASE}-tickets-mcp-redis" in deployments) == (name == "bundled redis")
    if name == "ingress, hpa, pdb":
        assert "replicas" not in rendered.one("Deployment", f"{RELEASE}-tickets-mcp")["spec"]  # the HPA's
        env = rendered.environment(CONTENTS)
        assert env["TICKETS_MCP_OAUTH_AUDIENCE"] == "https://tickets.example.com/mcp"
        assert "tickets.example.com" in env["TICKETS_MCP_ALLOWED_HOSTS"].split(",")


def test_the_notes_say_where_the_endpoint_is_and_warn_of_the_trial_redis(
    released: tuple[str, Rendered],
) -> None:
    name, rendered = released
    endpoint = (
        "https://tickets.example.com/mcp"
        if name == "ingress, hpa, pdb"
        else f"{RELEASE}-tickets-mcp.team.svc:80/mcp"
    )
    assert endpoint in rendered.notes
    assert ("for trials only" in rendered.notes) == (name == "bundled redis")
    assert "terminationGracePeriodSeconds" in rendered.notes


def test_the_network_policy_lets_out_only_what_the_server_needs(released: tuple[str, Rendered]) -> None:
    name, rendered = released
    policy = rendered.one("NetworkPolicy", f"{RELEASE}-tickets-mcp")
    ports = sorted({p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]})
    expected = {53, 443}
    if name in ("with redis", "ingress, hpa, pdb", "bundled redis"):
        expected.add(6379)
    if name == "ingress, hpa, pdb":
        expected.add(4318)
    assert set(ports) == expected, name
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    issuer_rules = len(
        [r for r in policy["spec"]["egress"] if r["ports"] == [{"port": 443, "protocol": "TCP"}]]
    )
    server_credential = merged(name)["credentials"]["mode"] == "server"
    assert issuer_rules == 1 + server_credential + (merged(name)["gate"]["mode"] == "oauth")


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({**TOKEN_GATE, "replicaCount": 2}, "needs Redis"),
        ({**TOKEN_GATE, "autoscaling": {"enabled": True}}, "needs Redis"),
        (
            {
                **TOKEN_GATE,
                "replicaCount": 2,
                "redis": REPLICATED["redis"],
                "networkPolicy": REPLICATED["networkPolicy"],
            },
            "state key",
        ),
        ({**TOKEN_GATE, "replicaCount": 2, "redis": {"bundled": {"enabled": True}}}, "state key"),
        ({"gate": {"mode": "oauth"}}, "gate.oauth.issuer"),
        ({"gate": {"mode": "token"}}, "gate.token.existingSecret"),
        ({**TOKEN_GATE, "credentials": {"mode": "server"}}, "credentials.existingSecret"),
        ({**TOKEN_GATE, "redis": {"url": "redis://:secret@redis:6379"}}, "carries credentials"),
    ],
)
def test_the_chart_refuses_a_release_that_could_not_work(values: dict[str, Any], says: str) -> None:
    with pytest.raises(helm.HelmError, match=says):
        render(values)


def test_the_schema_refuses_unknown_keys_and_wrong_types() -> None:
    for values in ({**TOKEN_GATE, "replicas": 2}, {**TOKEN_GATE, "config": {"logLevel": "LOUD"}}):
        with pytest.raises(helm.HelmError):
            chart().validate_schema(values)
    chart().validate_schema(VALUE_SETS["ingress, hpa, pdb"])


def test_every_config_key_is_a_setting_and_the_chart_versions_follow_the_package() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = helpers.split('define "tickets-mcp.settingNames" -}}', 1)[1].split("{{- end }}", 1)[0]
    names: dict[str, str] = yaml.safe_load(block)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(names) == set(values["config"])
    assert set(names.values()) <= known_variables()
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert meta["version"] == meta["appVersion"] == version


def test_the_chart_readme_matches_the_values() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "devtools" / "chart" / "readme.py")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    readme = (CHART / "README.md").read_text()
    values_text = (CHART / "values.yaml").read_text()
    assert readme.count("\n| `") == values_text.count("# -- ")
