"""Argument types shared by the tool handlers, and access to the lifespan state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from tickets_mcp.api import reporting_progress
from tickets_mcp.tools.state import AppState, caller_of
from tickets_mcp.tools.threads import THREAD_PAGE

Number = Annotated[int, Field(ge=1, description="Ticket number.")]
CommentId = Annotated[int, Field(ge=1, description="Comment id.")]
AccessLevel = Literal["all_users", "account_users", "project_users"]
SortOrder = Literal["asc", "desc"]
Body = Annotated[str, Field(min_length=1, max_length=50000, description="Comment text, 1..50000 characters.")]
Files = Annotated[
    list[Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]] | None,
    Field(min_length=1, max_length=10, description="1..10 file UUIDs from the attachments API."),
]
KeystoneProjects = Annotated[
    list[str] | None, Field(description="IAM project ids; required for access_level project_users.")
]
VoteComment = Annotated[str | None, Field(min_length=1, description="Optional comment on the score.")]
Page = Annotated[
    int | None,
    Field(ge=1, description=f"Page from the oldest comment, {THREAD_PAGE} each; default: the latest."),
]
Before = Annotated[int | None, Field(ge=1, description="Cursor: the comments before this comment id.")]


class CategoryFieldArg(BaseModel):
    key: str = Field(min_length=1, description="Field key from get_category_fields.")
    values: list[str] = Field(
        min_length=1, description="Allowed value keys (one free-text value for text fields)."
    )


def app_state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


def charge_session(ctx: Context) -> Callable[[], float | None]:
    """Count one more API read against this session's call limit; the wait in seconds when it is reached."""
    state = app_state(ctx)
    key = caller_of(ctx.request_context)
    return lambda: state.calls.check(key)


@contextmanager
def progress_to(ctx: Context) -> Iterator[None]:
    """Forward the client's backoff, pacing and paging waits as MCP progress notifications."""

    async def report(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    with reporting_progress(report):
        yield
