"""Dense text keeps to the token budget, through a real client in both eras, counted with o200k itself.

A 50,000-character base64 comment is about 34,000 o200k tokens: `get_comment` reads it in parts that each
stay within the budget (8,000 tokens by default) and say how to read on; `list_comments` of its ticket cuts
it within the budget too. Before the estimate priced random letters by their pieces, a part came back at
about 14,400 real tokens.
"""

from __future__ import annotations

import base64
import random
import uuid

import pytest
from mcp import Client

from support.mcp_client import text_of
from support.tickets import real_tokens
from tickets_mcp.sandbox import SandboxHandle

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning:bpe_openai.*")]
BUDGET = 8000  # the default --token-budget
BLOB = base64.b64encode(random.Random(50_000).randbytes(37_500)).decode()  # 50,000 characters


async def _ticket_with_blob(client: Client) -> tuple[int, int]:
    created = await client.call_tool(
        "create_ticket",
        {
            "summary": f"dense {uuid.uuid4().hex[:8]}",
            "categories": ["cloud_servers"],
            "category_fields": [{"key": "region", "values": ["ru-9"]}],
            "comment_body": "The core dump of the crashed service follows, base64-encoded.",
        },
    )
    assert not created.is_error, text_of(created)
    number = int(created.structured_content["ticket"]["number"])
    added = await client.call_tool("add_comment", {"number": number, "body": BLOB, "allow_secrets": True})
    assert not added.is_error, text_of(added)
    return number, int(added.structured_content["comment"]["id"])


async def test_a_base64_comment_is_read_in_parts_within_the_budget(
    client: Client, sandbox: SandboxHandle
) -> None:
    assert len(BLOB) == 50_000 and real_tokens(BLOB) > 4 * BUDGET
    _number, comment_id = await _ticket_with_blob(client)
    parts: list[str] = []
    offset: int | None = 0
    while offset is not None:
        result = await client.call_tool("get_comment", {"comment_id": comment_id, "offset": offset})
        assert not result.is_error, text_of(result)
        text, part = text_of(result), result.structured_content
        assert real_tokens(text) <= BUDGET, (offset, real_tokens(text))
        assert part["chars"] == 50_000 and part["offset"] == offset and part["body"] in text
        offset = part.get("next_offset")
        if offset is not None:
            assert f"read on with get_comment(comment_id={comment_id}, offset={offset})" in text
        parts.append(part["body"])
    assert "".join(parts) == BLOB and len(parts) >= 5  # ~34,000 real tokens: five parts or more


async def test_list_comments_cuts_a_base64_comment_within_the_budget(
    client: Client, sandbox: SandboxHandle
) -> None:
    number, comment_id = await _ticket_with_blob(client)
    result = await client.call_tool("list_comments", {"number": number})
    assert not result.is_error, text_of(result)
    text, thread = text_of(result), result.structured_content
    assert real_tokens(text) <= BUDGET, real_tokens(text)
    cut = next(c for c in thread["comments"] if c["id"] == comment_id)
    assert cut["chars"] == 50_000 and 0 < cut["next_offset"] == len(cut["body"]) < 50_000
    assert BLOB.startswith(cut["body"]) and thread["truncated"] is True
    assert f"get_comment(comment_id={comment_id}, offset={cut['next_offset']})" in text
