"""What the request loop tells telemetry: one `Attempt` per HTTP request, no-op unless installed.

```python
with current().attempt(route, number, server) as attempt:   # one HTTP request of an operation
    attempt.paced(bucket, seconds)     # waited for a pacing slot before sending
    attempt.sending()                  # the request goes out now
    attempt.answered(status)           # or attempt.failed("ConnectError") when nothing came back
    attempt.retry(reason, wait)        # it will be sent again after `wait` s (ends this attempt)
```

By default `current()` is the no-op `Telemetry`: nothing of OpenTelemetry is imported and a request
costs a few empty calls. `tickets_mcp.otel` installs an implementation (spans and metrics) when
telemetry is switched on (`tickets_mcp.telemetry`). Telemetry is process-wide, as OpenTelemetry's
own providers are. Implementations never receive a URL with ids, a header or a body: only the route
(operation name, method, path template), the attempt number and the host.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tickets_mcp.api.routes import Route

__all__ = ["Attempt", "Telemetry", "current", "install"]


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


class Telemetry:
    """The no-op telemetry: the default."""

    def attempt(self, route: Route, number: int, server: str, port: int | None) -> Attempt:
        """Start attempt ``number`` (1 for the first request of a call) of ``route`` to ``server``."""
        return _NO_ATTEMPT


_NO_ATTEMPT = Attempt()
_NONE = Telemetry()
_current: Telemetry = _NONE


def current() -> Telemetry:
    """The installed telemetry (the no-op one by default)."""
    return _current


def install(telemetry: Telemetry | None) -> None:
    """Install ``telemetry`` for the whole process; None puts the no-op one back."""
    global _current
    _current = _NONE if telemetry is None else telemetry
