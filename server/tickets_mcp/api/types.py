"""The argument types of the Tickets API, each with its documented bounds, declared once.

The operations (`operations.py`) type their arguments with these, the client validates against them
before anything is sent, and the MCP tools compose them, adding only descriptions. Bounds are the
vendor reference's; where it shows none (the v2 create body), the few applied are said so below.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args
from uuid import UUID

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


# Every integer refuses true/false: pydantic's lax mode reads true as 1 (``number: true`` was ticket 1);
# "123" is still read as 123. It comes after the bounds: before them, the schema would lose "minimum".
NotBoolean = BeforeValidator(_not_a_boolean)

# -- identifiers ---------------------------------------------------------------------------------

TicketNumber = Annotated[int, Field(ge=1, le=2**63 - 1), NotBoolean]
CommentId = Annotated[int, Field(ge=1, le=2**63 - 1), NotBoolean]
# Keys and ids lose surrounding white space before they are checked or sent: "billing " is "billing".
Trimmed = Annotated[str, StringConstraints(strip_whitespace=True)]
Key = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1)
]  # category, product, topic or field key
ProjectId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1)
]  # an IAM (Keystone) project id
FileId = UUID  # a file uploaded to the attachments API
FileName = Annotated[str, Field(min_length=1)]  # the name an upload is stored under (the API shows no bound)
SecretId = Annotated[int, NotBoolean]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), NotBoolean]

# -- enums (closed sets in requests; responses accept any string) --------------------------------

AccessLevel = Literal["all_users", "account_users", "project_users"]
SortBy = Literal["created_at", "updated_at", "resolved_at", "closed_at"]
LegacySortBy = Literal["created_at", "updated_at", "number", "summary", "status"]
SortOrder = Literal["asc", "desc"]
CommentScore = Annotated[Literal[1, -1], NotBoolean]

# -- texts ---------------------------------------------------------------------------------------

Body = Annotated[str, Field(min_length=1, max_length=50_000)]  # every comment body
Summary = Annotated[str, Field(min_length=1)]  # v2: no maximum documented
LegacySummary = Annotated[str, Field(min_length=1, max_length=255)]
NonEmpty = Annotated[str, Field(min_length=1)]
Query = Annotated[str, Field(min_length=1)]

# -- lists ---------------------------------------------------------------------------------------

Files = Annotated[list[FileId], Field(min_length=1, max_length=10)]  # v1 bodies: 1..10 when given
NewTicketFiles = Annotated[
    list[FileId], Field(max_length=10)
]  # v2 create: 10 per comment (the vendor's rate-limit page)
Projects = list[ProjectId]
OneProject = Annotated[list[ProjectId], Field(min_length=1, max_length=1)]  # v1 KeystoneProjects
Categories = Annotated[list[Key], Field(min_length=1)]  # a ticket is routed by at least one
# One multipart part of an upload: (file name, content, content type).
FilePart = tuple[FileName, bytes, Annotated[str, Field(min_length=1)]]

# -- numbers -------------------------------------------------------------------------------------

Page = Annotated[int, Field(ge=1), NotBoolean]
ItemsPerPage = Annotated[int, Field(ge=1, le=1000), NotBoolean]
CloseScore = Annotated[int, Field(ge=1, le=5), NotBoolean]
# The reference says both "[1..10]" and "two-point scale"; the bounds are what is enforced.
TicketScore = Annotated[int, Field(ge=1, le=10), NotBoolean]


class CategoryFieldValue(TypedDict):
    """`CategoryFieldItemRequestData`: a field of the chosen categories and its value keys."""

    key: Key
    values: list[Trimmed]


class TicketFilters(TypedDict, total=False):
    """The filters of the v2 ticket search and count: one list, used by both and by the tools."""

    q: Query
    is_only_opened: bool
    is_only_closed: bool
    is_only_abuse: bool
    access_levels: list[AccessLevel]
    keystone_projects: Projects


# The status values the sandbox emits (W8); the real API has more, so responses keep any string.
TICKET_STATUSES: tuple[str, ...] = ("in_progress", "awaiting_client", "closed")
ACCESS_LEVELS: tuple[str, ...] = get_args(AccessLevel)
