"""Tool arguments: the API's types (`api.types`, with their bounds) plus the descriptions a model reads.

Nothing here restates a bound or an enum: a tool argument is an API type with a description. The
ticket filters are one list (`api.types.TicketFilters`) that `with_filters` adds to a handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field

from tickets_mcp.api import types as t
from tickets_mcp.mcp_server.threads import THREAD_PAGE

F = TypeVar("F", bound=Callable[..., Any])

Number = Annotated[t.TicketNumber, Field(description="Ticket number.")]
CommentId = Annotated[t.CommentId, Field(description="Comment id.")]
Body = Annotated[t.Body, Field(description="Comment text, 1..50000 characters.")]
Files = Annotated[t.Files | None, Field(description="1..10 file UUIDs from the attachments API.")]
Projects = Annotated[
    t.Projects | None, Field(description="IAM project ids (for access_level project_users).")
]
OneProject = Annotated[t.OneProject | None, Field(description="Exactly one IAM project id (project_users).")]
VoteComment = Annotated[t.NonEmpty | None, Field(description="Optional comment on the score.")]
CategoryKey = Annotated[t.Key, Field(description="Category key.")]
Page = Annotated[
    t.Page | None,
    Field(description=f"Page from the oldest comment, {THREAD_PAGE} each; default: the latest."),
]
Before = Annotated[t.CommentId | None, Field(description="Cursor: the comments before this comment id.")]
AllowSecrets = Annotated[bool, Field(description="Send a suspected secret the user agreed to.")]


class AttachmentArg(BaseModel):
    # One file to upload and attach: exactly one of path, content_base64 or text (`attachments.py`).

    path: str | None = None
    filename: str | None = None
    content_base64: str | None = None
    text: str | None = None


# A plain object in the schema (a model's $defs would cost every tool that takes it ~50 tokens): the keys
# are the fields of `AttachmentArg`, checked by `attachments.prepare`.
Attachments = Annotated[
    list[dict[str, Any]] | None,
    Field(
        description="Files to upload and attach: each {filename,text}, {filename,content_base64} or {path}."
    ),
]


class CategoryFieldArg(BaseModel):
    # api.types.CategoryFieldValue, described for the model (a docstring would reach the schema)

    key: t.Key = Field(description="From get_category_fields.")
    values: list[t.Trimmed] = Field(min_length=1, description="Value keys, or one free-text value.")


FILTERS: dict[str, str] = {
    "q": "Text search in summaries and comments.",
    "is_only_opened": "",
    "is_only_closed": "",
    "is_only_abuse": "",
    "access_levels": "",
    "keystone_projects": "IAM project ids.",
}


def with_fields(typed: Any, descriptions: Mapping[str, str]) -> Callable[[F], F]:
    """Add the fields of an API TypedDict (`api.types`, `api.operations`) to a handler's signature, in
    place of its ``**kwargs``: required ones first, then the optional ones defaulting to None. Only the
    fields named in ``descriptions`` are added (an empty description adds the field undescribed)."""
    from tickets_mcp.api.routes import fields_of

    fields = fields_of(typed)
    unknown = set(descriptions) - set(fields)
    assert not unknown, f"{typed.__name__} has no field(s) {sorted(unknown)}"

    def parameter(name: str) -> inspect.Parameter:
        hint, required = fields[name]
        hint = hint if required else hint | None
        annotated = Annotated[hint, Field(description=descriptions[name])] if descriptions[name] else hint
        default = inspect.Parameter.empty if required else None
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotated)

    def add(handler: F) -> F:
        signature = inspect.signature(handler, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        added = sorted(
            (parameter(n) for n in descriptions), key=lambda p: p.default is not inspect.Parameter.empty
        )
        positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]
        handler.__signature__ = signature.replace(parameters=[*positional, *added, *keyword])  # type: ignore[attr-defined]
        return handler

    return add


with_filters = with_fields(t.TicketFilters, FILTERS)
