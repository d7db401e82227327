"""`tickets-mcp doctor`: check the settings, the credentials, the route table and the export setup.

One line per check, ✓ (passed), ! (worth knowing, not a failure) or ✗ (failed); indented lines are notes.
With ``--sandbox`` the embedded sandbox is started and checked instead of the real API. Every read route
of the route table is probed against the configured API and the write routes are listed, never called.
No secret value is ever printed: the report names which variable holds a
credential, never its content, and API error texts are redacted.

Exit codes: 0 every check passed; 1 a check failed (auth refused, API unreachable, a read route answering
404/405 or failing, clock skew that breaks token expiry, an OpenTelemetry endpoint configured but not
reachable or not installable); 2 bad configuration (no credentials, an HTTP bind that would expose the
server).

**The route table.** Most paths in `api/operations.py` are inferred from the vendor's text (see its docstring), so doctor probes every read route through the configured `TicketsClient` (the same base URL,
credential and retries a server uses) and says, per route, whether it answered. A 404 or 405 means the
path or the method of that route-table entry is probably wrong; other statuses are reported as what they
are (a credential problem, an API failure, the network). Probes that need an identifier take it from an
earlier answer: a ticket from the search, a comment from its thread, a category from the list; without
one the probe is skipped and says why.

The Attachments API (a base URL of its own) is probed the same way: its extensions route, and a download
of a file some comment read above names (doctor uploads nothing, so without one it is skipped).

The write routes are only listed, with how sure we are of their paths (``seen`` in the vendor's spec,
``code``: seen in working third-party code, ``inferred``). Doctor never calls them: it changes nothing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import anyio

from tickets_mcp.api import AuthError, RateLimited, ServerError, TicketsApiError, TransportError
from tickets_mcp.api.operations import ROUTES
from tickets_mcp.api.routes import files_url_from
from tickets_mcp.settings import DEFAULT_BASE_URL, Settings, exposure_problem, is_loopback

if TYPE_CHECKING:
    from tickets_mcp.api import Route, TicketsClient

OK, WARN, FAIL = "✓", "!", "✗"
# The API's own limits (the vendor's rate-limit page): pacing above them only produces 429s.
API_CREATES_PER_MINUTE = 2
API_COMMENTS_PER_MINUTE = 60
# Skew that matters: IAM/Keystone tokens carry an absolute expires_at; beyond this a token can look
# valid locally after the server has expired it (or the reverse).
SKEW_WARN_SECONDS = 30.0
SKEW_FAIL_SECONDS = 300.0
# A doctor answers in seconds: a failing route is reported, not retried for the server's whole budget.
RETRY_BUDGET_SECONDS = 5.0
# The `otel` extra (exports over OTLP/HTTP): what doctor checks is installed.
OTEL_MODULES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
OTEL_CONNECT_TIMEOUT = 2.0

AUTH_DESCRIPTIONS = {
    "sandbox": "sandbox (demo token of the embedded sandbox, X-Token header)",
    "static": "static token from SELECTEL_TOKEN (X-Token header)",
    "iam": "IAM token from SELECTEL_IAM_TOKEN (X-Auth-Token header; expires after 24 h, no refresh)",
    "service_user": "service user SELECTEL_USERNAME / SELECTEL_ACCOUNT_ID (Keystone login, auto refresh)",
}


@dataclass
class Report:
    out: IO[str]
    secrets: list[str] = field(default_factory=list)
    failed: bool = False
    bad_config: bool = False

    def line(self, mark: str, text: str) -> None:
        from tickets_mcp.logs import redact

        print(f"{mark} {redact(text, self.secrets)}", file=self.out, flush=True)

    def ok(self, text: str) -> None:
        self.line(OK, text)

    def note(self, text: str) -> None:
        """An unmarked line (a heading, an item of a list): not a check."""
        from tickets_mcp.logs import redact

        print(f"  {redact(text, self.secrets)}", file=self.out, flush=True)

    def warn(self, text: str) -> None:
        self.line(WARN, text)

    def fail(self, text: str, *, config: bool = False) -> None:
        self.line(FAIL, text)
        self.failed = True
        self.bad_config = self.bad_config or config

    @property
    def exit_code(self) -> int:
        return 2 if self.bad_config else 1 if self.failed else 0


def check_settings(settings: Settings, report: Report) -> bool:
    """Static checks of the configuration; False when the API cannot be tried at all."""
    report.ok(
        f"settings valid: toolsets {','.join(settings.toolsets)}, language {settings.language}, "
        f"{'read-only' if settings.read_only else 'read-write'}, transport {settings.transport}"
        + (f", only tools {','.join(settings.tools)}" if settings.tools else "")
        + (f", excluding tools {','.join(settings.exclude_tools)}" if settings.exclude_tools else "")
    )
    if settings.transport == "http":
        problem = exposure_problem(settings)
        if problem is not None:
            report.fail(problem, config=True)
        elif settings.oauth_enabled:
            report.ok(
                f"HTTP on {settings.host}:{settings.port}/mcp, Host/Origin checked, OAuth access tokens of "
                f"{settings.oauth_issuer} for {settings.oauth_audience} required"
            )
        elif settings.http_token is None and not is_loopback(settings.host):
            report.ok(
                f"HTTP on {settings.host}:{settings.port}/mcp with no gate of its own (--behind-auth-proxy)"
            )
        else:
            bearer = "bearer token required" if settings.http_token else "no bearer token (loopback only)"
            report.ok(f"HTTP on {settings.host}:{settings.port}/mcp, Host/Origin checked, {bearer}")
    mode = settings.auth_mode
    if mode == "none":
        report.fail(
            "no credentials: set SELECTEL_TOKEN, or SELECTEL_IAM_TOKEN, or SELECTEL_USERNAME + "
            "SELECTEL_PASSWORD + SELECTEL_ACCOUNT_ID; or try `tickets-mcp doctor --sandbox`",
            config=True,
        )
        return False
    report.ok(f"auth mode: {AUTH_DESCRIPTIONS[mode]}")
    where = "embedded sandbox" if mode == "sandbox" else settings.base_url
    if mode != "sandbox" and settings.base_url.rstrip("/") != DEFAULT_BASE_URL:
        where += " (SELECTEL_TICKETS_URL, not the default)"
    report.ok(f"API base URL: {where}")
    if mode != "sandbox":
        files = settings.files_url or files_url_from(settings.base_url)
        how = "SELECTEL_FILES_URL" if settings.files_url else "derived from the Tickets API URL"
        report.ok(f"Attachments API base URL: {files} ({how})")
    return True


def check_budget(settings: Settings, report: Report) -> None:
    creates, comments = settings.creates_per_minute, settings.comments_per_minute
    text = (
        f"rate-limit budget: {creates} ticket creates and {comments} comments per minute "
        f"(API limits: {API_CREATES_PER_MINUTE} and {API_COMMENTS_PER_MINUTE}); "
        + (
            f"{settings.calls_per_minute} tool calls per session per minute"
            if settings.calls_per_minute
            else "no per-session call limit"
        )
    )
    if creates > API_CREATES_PER_MINUTE or comments > API_COMMENTS_PER_MINUTE:
        report.warn(text + " — pacing above the API limits only produces 429 responses")
    else:
        report.ok(text)


def _skew(date_header: str | None, sent: float, received: float) -> float | None:
    """Server clock minus local clock in seconds, from a response's Date header (1 s resolution)."""
    if not date_header:
        return None
    try:
        server = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    local_mid = datetime.fromtimestamp((sent + received) / 2, UTC)
    return (server - local_mid).total_seconds() + 0.5  # the header truncates to whole seconds


async def check_api(settings: Settings, report: Report) -> None:
    from tickets_mcp.runtime import build_client

    dates: list[tuple[str | None, float]] = []

    async def remember_date(response: Any) -> None:
        dates.append((response.headers.get("date"), time.time()))

    budget = min(settings.retry_budget, RETRY_BUDGET_SECONDS)
    client = build_client(settings.model_copy(update={"retry_budget": budget}))
    client.http_client.event_hooks["response"].append(remember_date)  # the Date header, for the clock check
    async with client:
        sent = time.time()
        try:
            count = await client.count_tickets()
        except AuthError as exc:
            report.fail(f"auth refused by the API: {exc}")
            return
        except TransportError as exc:
            report.fail(f"API unreachable: {exc}")
            return
        except TicketsApiError as exc:
            report.fail(f"API error while counting tickets: {exc}")
            return
        report.ok(f"auth OK ({settings.auth_mode}): the account has {count} ticket(s)")
        last_date = dates[-1] if dates else (None, sent)
        report.note(f"read routes, probed at {settings.base_url} (attachments at {client.files_url}):")
        await probe_read_routes(client, report, ticket_count=count)
        list_write_routes(report, sandbox=settings.auth_mode == "sandbox")
    check_clock(settings, report, _skew(last_date[0], sent, last_date[1]))


def check_clock(settings: Settings, report: Report, skew: float | None) -> None:
    matters = settings.auth_mode in ("iam", "service_user")
    why = "IAM token expiry is checked against it" if matters else "it does not matter for this auth mode"
    if skew is None:
        report.warn("clock skew unknown: the API response had no Date header")
        return
    text = f"clock skew {skew:+.0f} s against the API's Date header ({why})"
    if matters and abs(skew) > SKEW_FAIL_SECONDS:
        report.fail(text + "; fix the local clock (NTP)")
    elif abs(skew) > SKEW_WARN_SECONDS:
        report.warn(text)
    else:
        report.ok(text)


def check_export(report: Report, environ: Mapping[str, str] = os.environ) -> None:
    """Whether OpenTelemetry export is configured (the standard OTEL_* variables), whether the ``otel``
    extra is installed, and whether each endpoint accepts a TCP connection. Header values
    (``OTEL_EXPORTER_OTLP_HEADERS``, often an API key) and URL credentials are never printed."""
    from tickets_mcp import telemetry  # what the server itself will export, so the two never disagree

    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        report.ok("OpenTelemetry export: off (OTEL_SDK_DISABLED=true)")
        return
    endpoints = telemetry.endpoints(environ)
    if not endpoints:
        report.ok(
            "OpenTelemetry export: not configured (no OTEL_EXPORTER_OTLP_*ENDPOINT set, or its signal's "
            "exporter is none)"
        )
        return
    missing = [name for name in OTEL_MODULES if not _importable(name)]
    if missing:
        report.fail(
            f"OpenTelemetry export: {', '.join(endpoints)} set, but the otel extra is not installed "
            f"({', '.join(missing)} missing): pip install 'tickets-mcp[otel]'"
        )
        return
    checked: set[tuple[str, int]] = set()
    for name, url in endpoints.items():
        try:
            address = _address(url)
        except ValueError as exc:
            report.fail(f"OpenTelemetry export: {name} is not a URL ({exc})")
            continue
        if address in checked:
            continue
        checked.add(address)
        shown = f"{address[0]}:{address[1]} ({name})"
        started = time.perf_counter()
        try:
            socket.create_connection(address, timeout=OTEL_CONNECT_TIMEOUT).close()
        except OSError as exc:
            report.fail(f"OpenTelemetry export: endpoint {shown} not reachable: {exc.strerror or exc}")
        else:
            ms = (time.perf_counter() - started) * 1000
            report.ok(f"OpenTelemetry export: endpoint {shown} reachable (TCP connect in {ms:.0f} ms)")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def _address(url: str) -> tuple[str, int]:
    """(host, port) of an OTLP endpoint URL; a value without a scheme is taken as ``http://``."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise ValueError("no host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def run_doctor(settings: Settings, out: IO[str] | None = None) -> int:
    """Print the checks; 0 when all pass, 1 when one failed, 2 on bad configuration."""
    report = Report(out or sys.stdout, secrets=settings.secrets())
    print(f"tickets-mcp doctor — {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC", file=report.out)
    if check_settings(settings, report):
        check_budget(settings, report)
        from tickets_mcp.runtime import embedded_sandbox

        try:
            with embedded_sandbox(settings) as ready:
                report.secrets = ready.secrets()
                anyio.run(check_api, ready, report)
        except Exception as exc:  # a doctor reports, it does not crash
            report.fail(f"unexpected {type(exc).__name__}: {exc}")
    check_export(report)
    verdict = {0: "all checks passed", 1: "a check failed", 2: "the configuration is not usable"}
    print(f"\n{verdict[report.exit_code]} (exit {report.exit_code})", file=report.out)
    return report.exit_code


# --- the route table --------------------------------------------------------------------------

T = TypeVar("T")
PATH_STATUS = {
    "seen": "seen in the vendor's spec",
    "code": "seen in working third-party code",
    "inferred": "inferred",
}
# Open tickets tried for a comment to probe `get_comment` with: a thread may be empty.
TICKETS_FOR_COMMENTS = 5


def entry(route: Route) -> str:
    return f"{route.name} {route.method} {route.path}"


def explain(exc: TicketsApiError, route: Route) -> str:
    """What a failed probe means, for the person who runs doctor."""
    status = exc.status
    where = f"(path {PATH_STATUS[route.path_status]}; declared in tickets_mcp/api/operations.py)"
    if status == 404:
        return f"HTTP 404: the path or method of this route-table entry is probably wrong {where}"
    if status == 405:
        return (
            f"HTTP 405: the path exists but not for {route.method}: the method of this route-table entry "
            f"is probably wrong {where}"
        )
    if isinstance(exc, AuthError):
        return f"HTTP {status}: credential problem for this route: {exc.message}"
    if isinstance(exc, RateLimited):
        return f"HTTP 429: rate limited; run doctor again in a minute: {exc.message}"
    if isinstance(exc, ServerError) and exc.code == "malformed_response":
        return (
            f"HTTP {status} answered, but not in the expected shape ({exc.message}): the path may lead "
            "somewhere else, or the response model needs a fix"
        )
    if isinstance(exc, ServerError):
        return f"HTTP {status}: the API failed: {exc.message}"
    if isinstance(exc, TransportError):
        return f"network error: {exc.message}"
    return f"HTTP {status}: {exc.message}" if status is not None else exc.message


class Prober:
    """Probes read routes one by one and reports each; remembers which routes it covered."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.covered: list[str] = []
        self.samples: dict[str, object] = {}  # a value seen for each path placeholder, for `probe_the_rest`

    async def probe(
        self, name: str, call: Callable[[], Awaitable[T]], detail: Callable[[T], str]
    ) -> T | None:
        route = ROUTES[name]
        self.covered.append(name)
        try:
            result = await call()
        except TicketsApiError as exc:
            self.report.fail(f"{entry(route)}: {explain(exc, route)}")
            return None
        self.answered(name, detail(result))
        return result

    def answered(self, name: str, detail: str) -> None:
        if name not in self.covered:
            self.covered.append(name)
        self.report.ok(f"{entry(ROUTES[name])}: answered ({detail})")

    def skip(self, name: str, why: str) -> None:
        self.covered.append(name)
        self.report.warn(f"{entry(ROUTES[name])}: not probed: {why}")


def _count(items: list[Any], what: str) -> str:
    return f"{len(items)} {what}"


async def probe_read_routes(client: TicketsClient, report: Report, *, ticket_count: int) -> None:
    """Probe every read route (``count_tickets`` was already called, as the auth check). A route is
    covered when it was probed or skipped with a reason; a GET operation added to the route table
    without a probe here is named, not silently left out."""
    p = Prober(report)
    p.answered("count_tickets", f"{ticket_count} ticket(s)")
    opened = await p.probe(
        "search_tickets",
        lambda: client.search_tickets(is_only_opened=True, items_per_page=20),
        lambda page: _count(page.items, "open ticket(s) on the first page"),
    )
    legacy = await p.probe(
        "list_tickets_legacy",
        lambda: client.list_tickets_legacy(items_per_page=5),
        lambda page: _count(page.items, "ticket(s) on the first page"),
    )
    open_numbers = [t.number for t in opened.items] if opened else []
    numbers = open_numbers or ([t.number for t in legacy.items] if legacy else [])
    if numbers:
        number = p.samples["number"] = numbers[0]
        await p.probe("get_ticket", lambda: client.get_ticket(number), lambda t: f"ticket {t.number}")
        await p.probe(
            "get_ticket_legacy", lambda: client.get_ticket_legacy(number), lambda t: f"ticket {t.number}"
        )
    else:
        found_none = opened is not None and legacy is not None
        why = "no ticket to read: " + ("the account has none" if found_none else "the searches failed")
        p.skip("get_ticket", why)
        p.skip("get_ticket_legacy", why)
    await _probe_comments(client, p, open_numbers, searched=opened is not None)
    categories = await p.probe(
        "list_categories",
        client.list_categories,
        lambda items: (
            _count(items, "categories: ")
            + ", ".join(c.key for c in items[:6])
            + (", …" if len(items) > 6 else "")
        ),
    )
    if categories:
        key = p.samples["category"] = categories[0].key
        await p.probe(
            "get_category_fields",
            lambda: client.get_category_fields(key),
            lambda fields: _count(fields, f"field(s) of category {key}"),
        )
    else:
        p.skip(
            "get_category_fields",
            "no category key to read: list_categories "
            + ("failed" if categories is None else "answered none"),
        )
    if categories == []:
        report.fail("list_categories answered no category: a ticket cannot be created without one")
    products = await p.probe("list_products", client.list_products, lambda items: _count(items, "product(s)"))
    if products:
        p.samples["product"] = products[0].key
    await p.probe("list_topics", client.list_topics, lambda items: _count(items, "topic(s)"))
    await _probe_files(client, p)
    await probe_the_rest(client, p)


async def _probe_files(client: TicketsClient, p: Prober) -> None:
    """The Attachments API: its extensions (the route the vendor shows), then a download of a file a
    comment read above names; doctor uploads nothing, so with no such file the download is skipped."""
    await p.probe(
        "list_file_extensions",
        client.list_file_extensions,
        lambda names: (
            _count(names, "extension(s): ") + ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        ),
    )
    uuid = p.samples.get("uuid")
    if uuid is None:
        p.skip(
            "download_file", "no attachment in the comments read (doctor uploads nothing to read one back)"
        )
        return
    await p.probe(
        "download_file",
        lambda: client.download_file(str(uuid)),
        lambda got: f"file {got.filename or got.uuid}, {got.size} bytes",
    )


async def probe_the_rest(client: TicketsClient, p: Prober) -> None:
    """Every other read route, called with the values seen above for its path placeholders: a read
    operation added to the route table is probed without a probe of its own."""
    for route in ROUTES.values():
        if route.method != "GET" or route.name in p.covered:
            continue
        missing = [name for name in route.placeholders if name not in p.samples]
        if missing:
            p.skip(route.name, f"no {', '.join(missing)} seen to call it with")
            continue
        values = {name: p.samples[name] for name in route.placeholders}
        shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "no arguments"
        call: Callable[[], Awaitable[object]] = partial(getattr(client, route.name), **values)
        await p.probe(route.name, call, partial(_called_with, shown))


def _called_with(shown: str, _answer: object) -> str:
    return f"called with {shown}"


async def _probe_comments(client: TicketsClient, p: Prober, numbers: list[int], *, searched: bool) -> None:
    """The thread of an open ticket (a closed ticket's comments cannot be read), then one comment of it;
    up to `TICKETS_FOR_COMMENTS` open tickets are tried for a thread that has one."""
    if not numbers:
        why = "no open ticket to read the comments of (a closed ticket's cannot be read)"
        p.skip("list_comments", why if searched else "needs an open ticket from search_tickets, which failed")
        p.skip("get_comment", "no comment id to read")
        return
    route = ROUTES["list_comments"]
    comments: list[Any] = []
    tried = 0
    for number in numbers[:TICKETS_FOR_COMMENTS]:
        tried += 1
        try:
            comments = await client.list_comments(number)
        except TicketsApiError as exc:
            p.covered.append("list_comments")
            p.report.fail(f"{entry(route)}: {explain(exc, route)}")
            p.skip("get_comment", "no comment id to read: list_comments failed")
            return
        if comments:
            break
    p.answered("list_comments", f"{len(comments)} comment(s) of ticket {number}")
    attached = [uuid for comment in comments for uuid in comment.files]
    if attached:  # a file to read back through the Attachments API (`_probe_files`)
        p.samples["uuid"] = attached[0]
    if comments:
        comment_id = p.samples["comment_id"] = comments[0].id
        await p.probe("get_comment", lambda: client.get_comment(comment_id), lambda c: f"comment {c.id}")
    else:
        p.skip("get_comment", f"no comment in the threads of the {tried} open ticket(s) tried")


def list_write_routes(report: Report, *, sandbox: bool) -> None:
    """The write routes with the provenance of their paths; never called."""
    writes = [r for r in ROUTES.values() if r.method != "GET"]
    report.note("write routes, listed and never called (doctor changes nothing):")
    name_width, path_width = max(len(r.name) for r in writes), max(len(r.path) for r in writes)
    for r in writes:
        status = PATH_STATUS[r.path_status]
        report.note(f"  {r.name:<{name_width}}  {r.method:<5}  {r.path:<{path_width}}  path {status}")
    inferred = [r for r in writes if r.path_status == "inferred"]
    if inferred and not sandbox:
        report.warn(
            f"{len(inferred)} of {len(writes)} write routes have inferred paths that only their first real "
            "call can confirm; if a write tool then reports HTTP 404 or 405, that route is the one to fix"
        )
