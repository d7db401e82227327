"""The request loop: pacing, auth, one send, classification, backoff (policy in ``retry.py``).

`Caller.call` sends one validated request of a declared operation (`routes.Route`) and returns its
parsed answer, or raises one typed error. Nothing here knows the shape of a particular operation.

The loop tells an `Observer` about each HTTP request (`observer()`), no-op unless one is installed:

```python
with observer().attempt(route, number, server, port) as attempt:   # one HTTP request of an operation
    attempt.paced(bucket, seconds)     # waited for a pacing slot before sending
    attempt.sending()                  # the request goes out now
    attempt.answered(status)           # or attempt.failed("ConnectError") when nothing came back
    attempt.retry(reason, wait)        # it will be sent again after `wait` s (ends this attempt)
```

`tickets_mcp.telemetry` installs one that records OpenTelemetry spans and metrics. Observers never
receive a URL with ids, a header or a body: only the route (operation name, method, path template), the
attempt number and the host.

`in_progress` holds every call under way in the process, so that a server shutting down can settle them
at the end of its grace period (`InProgress.stop`) instead of cutting them off without an answer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic import ValidationError

from tickets_mcp.api.auth import Auth
from tickets_mcp.api.errors import (
    OUTCOME_UNKNOWN_HINT,
    InvalidRequest,
    RateLimited,
    ServerError,
    SharedStateUnavailable,
    TransportError,
    error_from_status,
)
from tickets_mcp.api.pacing import Pacer, PacingTimeout
from tickets_mcp.api.progress import sleep_reporting
from tickets_mcp.api.retry import RetryPolicy, RetryState, retry_after_from_headers
from tickets_mcp.api.routes import Request, Route

logger = logging.getLogger("tickets_mcp.api")

T = TypeVar("T")

# What a bucket's limit counts, for the messages.
BUCKET_NAMES = {"create": "ticket creations", "comment": "comments", "upload": "attachment uploads"}

# Failures where the request provably never left: safe to retry any method.
NOT_SENT: tuple[type[Exception], ...] = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


# --- observing the requests -------------------------------------------------------------------


class Attempt:
    """One HTTP request of an operation; every method is a no-op here. Also its own context manager:
    leaving the block ends the attempt (with the exception's type when one escapes)."""

    def paced(self, bucket: str, seconds: float) -> None:
        """The request waits ``seconds`` for a free slot of its rate-limit ``bucket``."""

    def sending(self) -> None:
        """The request goes out now (after any pacing wait)."""

    def answered(self, status: int) -> None:
        """The API answered with HTTP ``status``."""

    def failed(self, error_type: str) -> None:
        """No answer: a network error or a request that could not be built, named by ``error_type``."""

    def retry(self, reason: str, wait: float) -> None:
        """The operation is sent again after ``wait`` seconds; ends this attempt before the wait."""

    def end(self, error: BaseException | None = None) -> None:
        """The attempt is over (idempotent)."""

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(error)


class Observer:
    """What the request loop tells about its requests: nothing, by default."""

    def attempt(self, route: Route, number: int, server: str, port: int | None) -> Attempt:
        """Start attempt ``number`` (1 for the first request of a call) of ``route`` to ``server``."""
        return _NO_ATTEMPT


_NO_ATTEMPT = Attempt()
_NONE = Observer()
_current: Observer = _NONE


def observer() -> Observer:
    """The installed observer (the no-op one by default)."""
    return _current


def install_observer(observer: Observer | None) -> None:
    """Install ``observer`` for the whole process; None puts the no-op one back."""
    global _current
    _current = _NONE if observer is None else observer


# --- settling the calls under way at shutdown -------------------------------------------------


class InProgress:
    """The `Caller.call`s under way in this process. `stop()` ends each of them at once, as if its
    connection had been closed on this side: a write that may have reached the API then fails with
    ``outcome_unknown`` and so gets its recovery read (``recovery.py``); the reads that go out after it,
    recovery reads among them, are still sent, but a new write is refused unsent."""

    def __init__(self) -> None:
        self.stopped = False
        self.scopes: set[anyio.CancelScope] = set()

    def __len__(self) -> int:
        return len(self.scopes)

    def stop(self) -> int:
        """End the calls under way; returns how many there were."""
        self.stopped = True
        for scope in self.scopes:
            scope.cancel()
        return len(self.scopes)

    def resume(self) -> None:
        """Take calls again (for tests: a server process stops once)."""
        self.stopped = False


in_progress = InProgress()


class _Progress:
    """Whether the current attempt's request is out and not yet answered."""

    out = False


# --- the loop ---------------------------------------------------------------------------------


class _Malformed(Exception):
    """A success answer whose body is not the documented shape."""


class Caller:
    """Sends the requests of one client over ``http``; ``on_answer(status)`` hears every HTTP status the API
    answers with (the client learns from it that the API accepted its credential)."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        auth: Auth | None,
        *,
        retry: RetryPolicy,
        pacer: Pacer,
        on_answer: Callable[[int], None] | None = None,
        urls: dict[str, str] | None = None,
    ) -> None:
        self.http = http
        self.auth = auth
        self.retry = retry
        self.pacer = pacer
        self.on_answer = on_answer
        # The base URL of each API but the Tickets API (``http``'s own): ``{"files": ...}``.
        self.urls = dict(urls or {})
        self.server = http.base_url.host  # for telemetry: the host only, never userinfo or a path
        self.port = http.base_url.port

    async def call(self, route: Route, request: Request, parse: Callable[[Any], T]) -> T:
        if in_progress.stopped and route.method != "GET":
            raise _stopped(route, sent=False)
        progress = _Progress()
        with anyio.CancelScope() as scope:
            in_progress.scopes.add(scope)
            try:
                return await self._call(route, request, parse, progress)
            finally:
                in_progress.scopes.discard(scope)
        raise _stopped(route, sent=progress.out)  # only `in_progress.stop()` cancels this scope

    async def _call(
        self, route: Route, request: Request, parse: Callable[[Any], T], progress: _Progress
    ) -> T:
        operation = route.name
        url = route.url(**request.path)
        if route.api != "tickets":  # an absolute URL: httpx2 leaves the Tickets base URL out of it
            url = self.urls[route.api] + url
        where = f"{route.method} {url}"
        state = RetryState(self.retry)
        relogged = False
        stale: str | None = None
        wait: float | None
        sends = 0  # HTTP requests so far, replays and 429s included (`state.attempts` counts the budget)
        while True:
            headers = await self.auth.headers(self.http, stale=stale) if self.auth else {}
            used_token = headers.get(self.auth.header) if self.auth else None
            state.attempts += 1
            sends += 1
            with observer().attempt(route, sends, self.server, self.port) as attempt:
                try:
                    async with self._paced(route, attempt):
                        attempt.sending()
                        progress.out = True
                        response = await self.http.request(
                            route.method,
                            url,
                            params=request.query,
                            json=request.body,
                            files=request.files,
                            headers=headers,
                        )
                        progress.out = False
                        if self.on_answer is not None:  # before the slot ends: it may count for the account
                            self.on_answer(response.status_code)
                except httpx2.InvalidURL as exc:  # e.g. a query or path over 64 KiB: nothing was sent
                    attempt.failed("InvalidURL")
                    raise InvalidRequest(
                        f"The request could not be built ({exc}); shorten the text arguments",
                        operation=operation,
                        status=None,
                        code="validation_error",
                        sent=False,
                    ) from None
                except httpx2.HTTPError as exc:
                    attempt.failed(type(exc).__name__)
                    progress.out = not isinstance(exc, NOT_SENT)  # a stop during the retry's wait: not sent
                    wait = self._after_transport_error(route, state, exc)
                    await self._wait(state, wait, f"{operation}: network error, retrying", attempt, "network")
                    continue
                status = response.status_code
                attempt.answered(status)
                logger.debug("%s %s -> %s (attempt %d)", operation, where, status, state.attempts)

                if 200 <= status < 300:
                    try:
                        return _parse(response, parse, raw=route.answer == "bytes")
                    except _Malformed as exc:
                        wait = self._failure_wait(route, state, None)
                        if wait is None:
                            raise ServerError(
                                f"{exc}.",
                                operation=operation,
                                status=status,
                                code="malformed_response",
                                outcome_unknown=not route.idempotent,
                            ) from None
                        message = f"{operation}: unreadable answer, retrying"
                        await self._wait(state, wait, message, attempt, "malformed_response")
                        continue

                if status == 401 and self.auth is not None and self.auth.can_refresh and not relogged:
                    relogged, stale = True, used_token
                    state.attempts -= 1  # the replay is not a retry
                    logger.info("%s: 401, logging in again and replaying once", operation)
                    attempt.retry("unauthorized", 0.0)
                    continue

                retry_after = retry_after_from_headers(response.headers)
                if status == 429:
                    state.attempts -= 1  # a 429 stored nothing (W5); it has its own count
                    state.rate_limited += 1
                    wait = retry_after if retry_after is not None else self.retry.backoff(state.rate_limited)
                    if state.can_retry_rate_limit() and state.fits(wait):
                        logger.info("%s: 429, waiting %.2f s", operation, wait)
                        await self._wait(
                            state, wait, f"{operation}: rate limited, retrying", attempt, "rate_limited"
                        )
                        continue
                    raise error_from_status(operation, status, _body(response), retry_after=_ceil(wait))

                if status >= 500:
                    wait = self._failure_wait(route, state, retry_after)
                    if wait is not None:
                        logger.info("%s: HTTP %d, retrying in %.2f s", operation, status, wait)
                        await self._wait(
                            state, wait, f"{operation}: server error, retrying", attempt, "server_error"
                        )
                        continue
                    raise error_from_status(
                        operation, status, _body(response), outcome_unknown=not route.idempotent
                    )
                raise error_from_status(operation, status, _body(response))

    # -- helpers ----------------------------------------------------------------------------------

    def _failure_wait(self, route: Route, state: RetryState, hinted: float | None) -> float | None:
        """The wait before retrying an ambiguous failure, or None if it must not be retried."""
        if not route.idempotent or not state.can_retry_failure():
            return None
        wait = hinted if hinted is not None else self.retry.backoff(state.attempts)
        return wait if state.fits(wait) else None

    def _after_transport_error(self, route: Route, state: RetryState, exc: httpx2.HTTPError) -> float:
        """The wait before a retry, or raise the typed error."""
        name = route.name
        kind = type(exc).__name__
        if self.http.is_closed:  # closed on this side under the request: never resent, never "not applied"
            raise _closed_here(route, kind, sent=not isinstance(exc, NOT_SENT)) from None
        if isinstance(exc, NOT_SENT):
            wait = self.retry.backoff(state.attempts) if state.can_retry_failure() else None
            if wait is not None and state.fits(wait):
                logger.info("%s: %s before sending, retrying in %.2f s", name, kind, wait)
                return wait
            raise TransportError(
                f"Could not reach the Tickets API ({kind}) after {state.attempts} attempt(s); nothing "
                "was sent, so it is safe to try again later.",
                operation=name,
                status=None,
                sent=False,
            ) from None
        if not isinstance(exc, httpx2.TransportError) or isinstance(
            exc, httpx2.UnsupportedProtocol | httpx2.LocalProtocolError | httpx2.ProxyError
        ):
            raise TransportError(
                f"The request could not be made ({kind}); check the base URL.",
                operation=name,
                status=None,
                sent=False,
            ) from None
        wait = self._failure_wait(route, state, None)
        if wait is not None:
            logger.info("%s: %s, retrying in %.2f s", name, kind, wait)
            return wait
        if route.idempotent:
            message = f"The Tickets API did not answer ({kind}) after {state.attempts} attempt(s); try later."
        else:
            message = f"The connection failed after the request was sent ({kind}). {OUTCOME_UNKNOWN_HINT}"
        raise TransportError(
            message, operation=name, status=None, sent=True, outcome_unknown=not route.idempotent
        ) from None

    async def _wait(
        self, state: RetryState, seconds: float, message: str, attempt: Attempt, reason: str
    ) -> None:
        """Wait before sending again; the attempt that failed ends first (its span has no wait in it)."""
        attempt.retry(reason, seconds)
        state.waited += seconds
        await sleep_reporting(seconds, message)

    @asynccontextmanager
    async def _paced(self, route: Route, attempt: Attempt) -> AsyncIterator[None]:
        """The send holds a pacing slot of its bucket; a turn too far away raises `RateLimited` unsent, and
        shared windows out of reach (Redis down) raise `SharedStateUnavailable` unsent: fail closed."""
        if route.bucket is None:
            if route.method != "GET":  # close, reopen, votes, access: no slot, but the same fail-closed rule
                try:
                    await self.pacer.windows.writable()
                except SharedStateUnavailable as exc:
                    exc.operation = route.name
                    raise
            yield
            return
        bucket = route.bucket
        limit = self.pacer.policy.limit(bucket)
        what = BUCKET_NAMES[route.bucket]

        async def on_wait(seconds: float) -> None:
            attempt.paced(bucket, seconds)
            logger.info("%s: pacing, waiting %.2f s for a free slot", route.name, seconds)
            await sleep_reporting(seconds, f"{route.name}: waiting for the rate limit ({limit} {what})")

        try:
            async with self.pacer.slot(route.bucket, on_wait=on_wait):
                yield
        except SharedStateUnavailable as exc:  # the replicas' shared windows (Redis) are out of reach
            exc.operation = route.name
            raise
        except PacingTimeout as exc:
            raise RateLimited(
                f"at most {limit} {what} per {self.pacer.policy.window_seconds:g} s for this account; the next "
                f"slot is free in {exc.wait:.0f} s; nothing was sent",
                operation=route.name,
                status=None,
                code="rate_limited",
                sent=False,
                retry_after=_ceil(exc.wait),
            ) from None


def _closed_here(route: Route, kind: str, *, sent: bool) -> TransportError:
    """The error of a request whose HTTP client was closed on this side before the answer came: the API may
    have it and still be working on it, so a write's outcome is unknown until a later check shows it."""
    unknown = sent and not route.idempotent
    hint = OUTCOME_UNKNOWN_HINT if unknown else "Try again." if sent else "Nothing was sent; try again."
    return TransportError(
        f"The connection was closed on this side before the Tickets API answered ({kind}). {hint}",
        operation=route.name,
        status=None,
        sent=sent,
        outcome_unknown=unknown,
        unfinished=sent,
    )


def _stopped(route: Route, *, sent: bool) -> TransportError:
    """The error of a call that `InProgress.stop` ended, or refused, while this server shuts down."""
    unknown = sent and not route.idempotent
    if not sent:
        message = "This server is shutting down, so nothing was sent; call again (another replica takes it)."
    else:
        hint = OUTCOME_UNKNOWN_HINT if unknown else "Try again."
        message = f"This server is shutting down and stopped waiting for the Tickets API's answer. {hint}"
    return TransportError(
        message,
        operation=route.name,
        status=None,
        code="shutting_down",
        sent=sent,
        outcome_unknown=unknown,
        unfinished=sent,
    )


def _ceil(seconds: float) -> float:
    """Round a wait up to a tenth of a second (never tell anyone to come back too early)."""
    return float(int(seconds * 10 + 0.999999)) / 10


def _parse(response: httpx2.Response, parse: Callable[[Any], T], *, raw: bool = False) -> T:
    try:
        data = response if raw else response.json() if response.content else None
    except ValueError:
        raise _Malformed("the answer was not JSON") from None
    try:
        return parse(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise _Malformed(f"{where}: {first['msg']}") from None
    except KeyError as exc:
        raise _Malformed(f"the answer had no `{exc.args[0]}`") from None
    except (ValueError, TypeError) as exc:
        raise _Malformed(str(exc) or type(exc).__name__) from None


def _body(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000] if response.text else None
