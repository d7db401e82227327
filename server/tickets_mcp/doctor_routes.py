"""`tickets-mcp doctor`: the route table checked against the configured API.

Nineteen of the twenty paths in `api/operations.py` are inferred from the vendor's text (see its
docstring), so doctor probes every read route through the configured `TicketsClient` (the same base URL,
credential and retries a server uses) and says, per route, whether it answered. A 404 or 405 means the
path or the method of that route-table entry is probably wrong; other statuses are reported as what they
are (a credential problem, an API failure, the network). Probes that need an identifier take it from an
earlier answer: a ticket from the search, a comment from its thread, a category from the list; without
one the probe is skipped and says why.

The write routes are only listed, with how sure we are of their paths (``seen`` in the vendor's spec,
``code``: seen in working third-party code, ``inferred``). Doctor never calls them: it changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tickets_mcp.api import AuthError, RateLimited, ServerError, TicketsApiError, TransportError
from tickets_mcp.api.operations import ROUTES

if TYPE_CHECKING:
    from tickets_mcp.api import Route, TicketsClient

T = TypeVar("T")
PATH_STATUS = {
    "seen": "seen in the vendor's spec",
    "code": "seen in working third-party code",
    "inferred": "inferred",
}
# Open tickets tried for a comment to probe `get_comment` with: a thread may be empty.
TICKETS_FOR_COMMENTS = 5


class Lines(Protocol):
    """The doctor's report (`doctor.Report`): ✓, ! and ✗ lines, and unmarked notes."""

    def ok(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def fail(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...


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

    def __init__(self, report: Lines) -> None:
        self.report = report
        self.covered: list[str] = []

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


async def probe_read_routes(client: TicketsClient, report: Lines, *, ticket_count: int) -> None:
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
        number = numbers[0]
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
        key = categories[0].key
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
    await p.probe("list_products", client.list_products, lambda items: _count(items, "product(s)"))
    await p.probe("list_topics", client.list_topics, lambda items: _count(items, "topic(s)"))
    for route in ROUTES.values():
        if route.method == "GET" and route.name not in p.covered:
            report.warn(f"{entry(route)}: not probed: doctor has no probe for it yet")


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
    if comments:
        comment_id = comments[0].id
        await p.probe("get_comment", lambda: client.get_comment(comment_id), lambda c: f"comment {c.id}")
    else:
        p.skip("get_comment", f"no comment in the threads of the {tried} open ticket(s) tried")


def list_write_routes(report: Lines, *, sandbox: bool) -> None:
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
