"""`in_progress.stop()`, as a server shutting down calls it: a write waiting for its answer ends as
outcome-unknown and still gets its recovery read; a new write is refused unsent; reads still go out."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import pytest

from tickets_mcp.api import StaticToken, TicketsClient
from tickets_mcp.api.errors import TransportError
from tickets_mcp.api.sending import in_progress

pytestmark = pytest.mark.anyio
NUMBER = 7


@pytest.fixture(autouse=True)
def calls_resume() -> Iterator[None]:
    yield
    in_progress.resume()


def api(seen: list[str]) -> TicketsClient:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method != "GET":
            await anyio.sleep(30)  # the API took the write and is slow to answer it
        return httpx2.Response(200, json={"number": NUMBER, "status_key": "closed", "is_closed": True})

    return TicketsClient(
        "https://x.invalid/support", StaticToken("t"), transport=httpx2.MockTransport(handler)
    )


async def test_a_write_under_way_is_settled_by_its_recovery_read() -> None:
    seen: list[str] = []
    async with api(seen) as client, anyio.create_task_group() as tg:

        async def stop_soon() -> None:
            await anyio.sleep(0.1)
            assert len(in_progress) == 1
            assert in_progress.stop() == 1

        tg.start_soon(stop_soon)
        with anyio.fail_after(5):
            closed = await client.close_ticket(NUMBER)
    assert closed.recovered and closed.is_closed  # the read after the stop found it closed
    assert [s.split()[0] for s in seen] == ["POST", "GET"], seen
    assert len(in_progress) == 0


async def test_after_the_stop_a_write_is_refused_unsent_and_a_read_goes_out() -> None:
    seen: list[str] = []
    in_progress.stop()
    async with api(seen) as client:
        with pytest.raises(TransportError) as refused:
            await client.close_ticket(NUMBER)
        ticket = await client.get_ticket_legacy(NUMBER)
    error = refused.value
    assert error.code == "shutting_down" and error.sent is False and not error.outcome_unknown
    assert "nothing was sent" in error.message
    assert ticket.number == NUMBER and [s.split()[0] for s in seen] == ["GET"]
