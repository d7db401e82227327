"""The declarations the tests compare the code against, in one place: a new operation or tool is one
line here (and `make snapshots` for the generated files)."""

from __future__ import annotations

from typing import Any

# Every operation of the Tickets API client (api/operations.py), by name.
OPERATIONS = {
    "create_ticket", "search_tickets", "count_tickets", "get_ticket", "update_ticket", "close_ticket",
    "reopen_ticket", "rate_ticket", "create_ticket_legacy", "list_tickets_legacy", "get_ticket_legacy",
    "update_ticket_legacy", "add_comment", "list_comments", "get_comment", "rate_comment", "list_topics",
    "list_categories", "get_category_fields", "list_products",
    "list_file_extensions", "upload_file", "download_file",
}  # fmt: skip

# The tools of each toolset served by default.
TICKETS_TOOLS = {
    "search_tickets", "count_tickets", "get_ticket", "create_ticket", "update_ticket_access",
    "close_ticket", "reopen_ticket", "rate_ticket", "list_changes",
}  # fmt: skip
COMMENTS_TOOLS = {
    "add_comment", "list_comments", "get_comment", "rate_comment", "upload_file", "get_attachment",
}  # fmt: skip
CATALOG_TOOLS = {"list_categories", "get_category_fields", "list_products"}
DEFAULT_TOOLS = TICKETS_TOOLS | COMMENTS_TOOLS | CATALOG_TOOLS

# The `legacy` toolset (v1 API, off by default).
LEGACY_TOOLS = {
    "list_topics", "create_ticket_legacy", "list_tickets_legacy", "get_ticket_legacy", "update_ticket_legacy",
}  # fmt: skip

# The tools that always ask the user first: an opinion (votes, a close score) or an exposure (access).
CONSENT_TOOLS = {
    "close_ticket",
    "rate_ticket",
    "rate_comment",
    "update_ticket_access",
    "update_ticket_legacy",
}

# One call of each write tool that reaches the API of a fresh sandbox, in this order (close, then reopen):
# the read-only tests prove each is refused, and a control run that each is sent.
OPEN_TICKET = 2401006
SUPPORT_COMMENT = 9100023  # support's answer in ticket 2401007
WRITE_CALLS: dict[str, dict[str, Any]] = {
    "create_ticket": {
        "summary": "read-only probe",
        "categories": ["cloud_servers"],
        "category_fields": [{"key": "region", "values": ["ru-3"]}],
        "comment_body": "must never be sent",
    },
    "update_ticket_access": {"number": OPEN_TICKET, "access_level": "all_users"},
    "close_ticket": {"number": OPEN_TICKET},
    "reopen_ticket": {"number": OPEN_TICKET, "body": "must never be sent"},
    "rate_ticket": {"number": OPEN_TICKET, "score": 5},
    "add_comment": {"number": OPEN_TICKET, "body": "must never be sent"},
    "rate_comment": {"comment_id": SUPPORT_COMMENT, "score": 1},
    "upload_file": {"filename": "probe.txt", "text": "must never be sent"},
    "create_ticket_legacy": {"summary": "read-only probe", "comment_body": "must never be sent"},
    "update_ticket_legacy": {"number": OPEN_TICKET, "access_level": "account_users"},  # back again
}
