"""What the client says about a success answer it cannot read: what was wrong, not just that it failed."""

from __future__ import annotations

import httpx2
import pytest

from tickets_mcp.api.operations import Operations
from tickets_mcp.api.sending import _Malformed, _parse


def parse_of(name: str) -> object:
    return getattr(Operations, name).prepare.__self__.parse  # the declared response parser


@pytest.mark.parametrize(
    ("operation", "body", "said"),
    [
        ("list_categories", b'{"categories": []}', "the answer had no `items`"),
        ("count_tickets", b'{"count": 3}', "the answer had no `items_count`"),
        ("get_ticket", b"<html>gateway</html>", "the answer was not JSON"),
        ("get_ticket", b'{"number": "seven"}', "number"),
    ],
)
def test_an_unreadable_answer_says_what_was_wrong(operation: str, body: bytes, said: str) -> None:
    response = httpx2.Response(200, content=body)
    with pytest.raises(_Malformed) as info:
        _parse(response, parse_of(operation))  # type: ignore[arg-type]
    assert said in str(info.value)
