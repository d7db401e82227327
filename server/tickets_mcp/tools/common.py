"""Argument types shared by the tool handlers, and access to the lifespan state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from tickets_mcp.api import reporting_progress
from tickets_mcp.tools.render import Rendered, as_dict, order_comments, render_thread
from tickets_mcp.tools.state import AppState

THREAD_PAGE = 20  # comments per page of a thread, in tools and resources alike

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


class CategoryFieldArg(BaseModel):
    key: str = Field(min_length=1, description="Field key from get_category_fields.")
    values: list[str] = Field(
        min_length=1, description="Allowed value keys (one free-text value for text fields)."
    )


def app_state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


@dataclass(frozen=True)
class ThreadPage:
    """One page of a ticket's thread: the rendered Markdown and the comments it shows."""

    ticket: dict[str, Any]
    rendered: Rendered
    comments: list[dict[str, Any]]
    total: int


async def read_thread(state: AppState, number: int, page: int = 1) -> ThreadPage:
    """The ticket and one page of its comments (oldest first, THREAD_PAGE each, within the token budget)."""
    ticket = as_dict(await state.client.get_ticket(number))
    comments = order_comments([as_dict(c) for c in await state.client.list_comments(number)])
    rendered = render_thread(
        ticket,
        comments,
        language=state.settings.language,
        page=page,
        per_page=THREAD_PAGE,
        budget_tokens=state.settings.token_budget,
    )
    start = (page - 1) * THREAD_PAGE
    return ThreadPage(ticket, rendered, comments[start : start + rendered.shown], len(comments))


@contextmanager
def progress_to(ctx: Context) -> Iterator[None]:
    """Forward the client's backoff, pacing and paging waits as MCP progress notifications."""

    async def report(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    with reporting_progress(report):
        yield
