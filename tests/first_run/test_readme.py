"""The README's tables are the server's declarations: tools (registry), configuration (Settings and the
CLI flags), prompts (prompts/*.md) and resources; the depth moved to docs/ is read where it now lives."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tickets_mcp.cli import _FLAGS
from tickets_mcp.mcp_server.prompts import load_prompts
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _section(title: str, path: Path = README) -> str:
    """The body of the ``## title`` section of ``path`` (README.md unless told), up to the next ``## ``."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"{path.relative_to(ROOT)} has no '## {title}' section"
    return match.group(1)


def _rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(\s*-+\s*\|)+", line.strip()):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header


def _yn(value: bool) -> str:
    return "yes" if value else "no"


def test_tools_table_equals_the_registry() -> None:
    expected = [
        [
            f"`{t.name}`",
            t.toolset,
            _yn(t.read_only),
            _yn(t.kind.destructive),
            _yn(t.kind.idempotent),
            _yn(t.consent),
            t.description,
        ]
        for t in all_tools()
    ]
    assert _rows(_section("Tools")) == expected


def _default(value: Any) -> str:
    if value is None or value == ():
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def test_configuration_table_has_every_setting_flag_and_default() -> None:
    flags = {options.get("dest", flag[2:].replace("-", "_")): flag for flag, options in _FLAGS.items()}
    expected = []
    for name, info in Settings.model_fields.items():
        env = info.validation_alias.choices[1]  # type: ignore[union-attr]
        flag = f"`{flags[name]}`" if name in flags else "—"
        expected.append([f"`{env}`", flag, _default(info.default)])
    rows = [row[:3] for row in _rows(_section("Configuration"))]
    assert rows == expected
    assert set(flags) <= set(Settings.model_fields), "a CLI flag without a setting"


def test_command_line_section_lists_every_flag_in_the_table_or_modes() -> None:
    section = _section("Command line") + _section("Configuration")
    for flag in [*_FLAGS, "--help", "--version"]:
        assert flag in section, flag
    for word in ("sandbox", "demo", "doctor", "stderr", "Exit codes"):
        assert word in section


def test_prompts_table_equals_the_prompt_files() -> None:
    expected = []
    for p in load_prompts():
        args = ", ".join(f"`{a.name}`" + ("" if a.required else " (optional)") for a in p.arguments) or "—"
        expected.append([f"`{p.name}`", args, p.description])
    assert _rows(_section("Prompts")) == expected


def test_resources_table_covers_the_templates_and_static_resources() -> None:
    from tickets_mcp.mcp_server.resources import STATIC_RESOURCES

    uris = {row[0].split("`")[1] for row in _rows(_section("Resources"))}
    assert set(STATIC_RESOURCES) <= uris
    assert {"tickets://{number}", "catalog://categories/{key}/fields", "catalog://products/{parent}"} <= uris


def test_quickstart_is_exactly_two_commands_and_clients_are_covered() -> None:
    quick = _section("Quickstart")
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    clients = _section("Connecting a client")
    for name in ("Claude Desktop", "claude mcp add", "Cursor", "VS Code", "MCP Inspector", "HTTP transport"):
        assert name in clients, name
    assert clients.count("--sandbox") >= 6 and clients.count("SELECTEL_TOKEN") >= 5
    assert "bench/RESULTS.md" in _section("Performance")
    assert "## Using the client from Python" in README.read_text(encoding="utf-8")
    assert "docs/python-client.md" in _section("Using the client from Python")


def test_install_section_covers_every_way_to_install() -> None:
    install = _section("Install")
    for form in (
        "uv tool install",
        "pipx install",
        "uvx tickets-mcp",
        "uvx --from",
        "make bundle",
        "server.json",
    ):
        assert form in install, form
    assert "pending until a release exists on PyPI" in install, "PyPI installs are marked as not working yet"
    pending = install.index("pending until a release exists on PyPI")
    assert install.index("uv tool install /path/to/tickets-mcp") < pending, "what works today comes first"


CHECKOUT_COMMAND = "/path/to/tickets-mcp/.venv/bin/tickets-mcp"
INSTALLED_COMMAND = re.compile(r'(?<![\w/.-])tickets-mcp(?=["\s])')  # the bare command, not a path


def test_each_client_snippet_leads_with_the_installed_command() -> None:
    clients = _section("Connecting a client")
    for name in ("Claude Desktop", "Claude Code", "Cursor", "VS Code", "MCP Inspector"):
        match = re.search(rf"^### {re.escape(name)}\n(.*?)(?=^### |\Z)", clients, re.M | re.S)
        assert match, f"no '### {name}' section"
        first = re.search(r"```\w*\n(.*?)```", match.group(1), re.S)
        assert first, f"{name}: no snippet"
        assert INSTALLED_COMMAND.search(first.group(1)) and CHECKOUT_COMMAND not in first.group(1), name
        assert CHECKOUT_COMMAND in match.group(1), f"{name}: the checkout form is kept as an alternative"


def test_the_readme_stays_short_and_points_to_the_depth() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300
    readme = README.read_text(encoding="utf-8")
    for page in (
        "deploy.md",
        "observability.md",
        "doctor.md",
        "threads-and-writes.md",
        "security.md",
        "sandbox.md",
        "python-client.md",
        "decisions.md",
    ):
        assert f"docs/{page}" in readme, page
    assert "CONTRIBUTING.md" in readme


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


DOCUMENTS = [README, ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_links_between_the_documents_resolve(path: Path) -> None:
    """Every relative link names a file that exists, and an anchor names a heading of that file."""
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
            assert anchor in {_slug(h) for h in headings}, f"{path.name}: no heading for {target}"


def test_the_observability_page_lists_every_metric_and_the_variables() -> None:
    from tickets_mcp.telemetry import METRICS

    page = (DOCS / "observability.md").read_text(encoding="utf-8")
    for name, (kind, unit, _) in METRICS.items():
        assert f"| `{name}` | {kind} | `{unit}` |" in page, name
    for variable in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_EXPORTER",
        "--log-format json",
    ):
        assert variable in page


def test_the_python_client_page_imports_what_the_package_exports() -> None:
    import tickets_mcp.api

    page = (DOCS / "python-client.md").read_text(encoding="utf-8")
    (names,) = re.findall(r"^from tickets_mcp\.api import (.+)$", page, re.M)
    for name in (n.strip() for n in names.split(",")):
        assert hasattr(tickets_mcp.api, name), name
    for op in re.findall(r"await client\.(\w+)\(", page):
        assert hasattr(tickets_mcp.api.TicketsClient, op), op


OLD_PATHS = re.compile(
    r"tools/(?:toolsets|registry\.py|safety\.py|secrets\.py|render\.py|views\.py|lifespan\.py)"
    r"|\b(?:doctor_routes|otel|oauth)\.py|(?<![\w/])http\.py|api/(?:shared|telemetry|redis_state)\.py"
)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_the_documents_name_no_module_that_is_gone(path: Path) -> None:
    found = OLD_PATHS.findall(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name} names {found}"
