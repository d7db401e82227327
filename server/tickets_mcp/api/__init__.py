"""Typed async client of the Selectel support Tickets API v1.2.0. Knows HTTP, nothing of MCP.

```python
from tickets_mcp.api import TicketsClient, StaticToken

async with TicketsClient(auth=StaticToken(token)) as client:
    ticket = await client.get_ticket(12345)
```
"""

from typing import TYPE_CHECKING, Any

from tickets_mcp.api.auth import IamToken, ServiceUser, StaticToken
from tickets_mcp.api.errors import (
    AuthError,
    FieldError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    SharedStateUnavailable,
    TicketsApiError,
    TransportError,
)
from tickets_mcp.api.pacing import PacingPolicy
from tickets_mcp.api.progress import reporting_progress
from tickets_mcp.api.retry import RetryPolicy, parse_retry_after
from tickets_mcp.api.routes import (
    DEFAULT_BASE_URL,
    DEFAULT_FILES_URL,
    DEFAULT_IDENTITY_URL,
    Route,
    base_url_from_env,
    files_url_from,
)

if TYPE_CHECKING:
    from tickets_mcp.api import models
    from tickets_mcp.api.client import TicketsClient
    from tickets_mcp.api.files import DownloadedFile, UploadedFile
    from tickets_mcp.api.operations import ROUTES

_LAZY = {
    "TicketsClient": "tickets_mcp.api.client",
    "ROUTES": "tickets_mcp.api.operations",
    "UploadedFile": "tickets_mcp.api.files",
    "DownloadedFile": "tickets_mcp.api.files",
}


def __getattr__(name: str) -> Any:
    """The client, its operations and models load on first use: compiling the pydantic models is a
    measurable cost a server would otherwise pay before it can answer `initialize`."""
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "models":
        return importlib.import_module("tickets_mcp.api.models")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FILES_URL",
    "DEFAULT_IDENTITY_URL",
    "ROUTES",
    "AuthError",
    "DownloadedFile",
    "FieldError",
    "IamToken",
    "InvalidRequest",
    "NotFound",
    "PacingPolicy",
    "RateLimited",
    "RetryPolicy",
    "Route",
    "ServerError",
    "ServiceUser",
    "SharedStateUnavailable",
    "StaticToken",
    "TicketsApiError",
    "TicketsClient",
    "TransportError",
    "UploadedFile",
    "base_url_from_env",
    "files_url_from",
    "models",
    "parse_retry_after",
    "reporting_progress",
]
