"""The declarations the tests compare the code against, in one place: a new operation or tool is one
line here (and `make snapshots` for the generated files)."""

from __future__ import annotations

# Every operation of the Tickets API client (api/operations.py), by name.
OPERATIONS = {
    "create_ticket", "search_tickets", "count_tickets", "get_ticket", "update_ticket", "close_ticket",
    "reopen_ticket", "rate_ticket", "create_ticket_legacy", "list_tickets_legacy", "get_ticket_legacy",
    "update_ticket_legacy", "add_comment", "list_comments", "get_comment", "rate_comment", "list_topics",
    "list_categories", "get_category_fields", "list_products",
}  # fmt: skip

# The tools of each toolset served by default.
TICKETS_TOOLS = {
    "search_tickets", "count_tickets", "get_ticket", "create_ticket", "update_ticket_access",
    "close_ticket", "reopen_ticket", "rate_ticket",
}  # fmt: skip
COMMENTS_TOOLS = {"add_comment", "list_comments", "get_comment", "rate_comment"}
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
