"""An account's pacing counts only credentials the API has accepted: a made-up token that claims the
account (``..._<account>``) spends its own window, never the account's, while a real token is paced with
its account from its first send. And what counts as accepted, and closing a client under its requests."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from tickets_mcp.api import (
    AuthError,
    PacingPolicy,
    RateLimited,
    RetryPolicy,
    ServerError,
    StaticToken,
    TicketsClient,
)
from tickets_mcp.api.auth import accepted_by
from tickets_mcp.api.pacing import Pacer, PacingTimeout
from tickets_mcp.api.windows import MemoryWindows

pytestmark = pytest.mark.anyio
POLICY = PacingPolicy(comments_per_minute=3, window_seconds=60, max_wait=0)
ACCOUNT = "pace:https://x.invalid|account:333333:comment"


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def pacer(windows: MemoryWindows, credential: str, accepted: list[bool]) -> Pacer:
    return Pacer(
        POLICY, windows, credential, account="https://x.invalid|account:333333", accepted=lambda: accepted[0]
    )


async def test_sends_of_a_credential_never_accepted_stay_out_of_the_accounts_window() -> None:
    windows = MemoryWindows(Clock())
    forged = pacer(windows, "forged", [False])
    for _ in range(3):
        async with forged.slot("comment"):
            pass  # the API answered 401: still not accepted
    with pytest.raises(PacingTimeout):  # its own window is spent...
        async with forged.slot("comment"):
            pass
    assert await windows.room(ACCOUNT, 3, 60) == 0.0  # ... the account's is untouched
    real = pacer(windows, "real", [True])
    for _ in range(3):
        async with real.slot("comment"):
            pass
    with pytest.raises(PacingTimeout):
        async with real.slot("comment"):
            pass


async def test_a_new_real_token_waits_for_its_accounts_window_and_is_counted_in_it_once_accepted() -> None:
    windows = MemoryWindows(Clock())
    first, second = [False], [False]
    a, b = pacer(windows, "token-a", first), pacer(windows, "token-b", second)
    async with a.slot("comment"):
        first[0] = True  # its answer showed the API took the token
    async with a.slot("comment"), a.slot("comment"):
        pass
    assert await windows.room(ACCOUNT, 3, 60) > 0  # the first send was counted after the fact
    with pytest.raises(PacingTimeout):  # a token of the same account, new here: the account is full
        async with b.slot("comment"):
            pass
    assert await windows.room("pace:token-b:comment", 3, 60) == 0.0  # and it took nothing of its own


def test_what_counts_as_accepted() -> None:
    assert all(accepted_by(s) for s in (200, 201, 204, 400, 404, 409, 422))
    assert not any(accepted_by(s) for s in (401, 403, 429, 500, 502, 503, 504))


async def test_the_client_records_that_the_api_accepted_its_credential() -> None:
    answers = iter([401, 503, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        status = next(answers)
        return httpx2.Response(status, json={"items": [], "page": 1} if status == 200 else {"error": {}})

    transport = httpx2.MockTransport(handler)
    once = RetryPolicy(max_attempts=1)
    async with TicketsClient(
        "https://x.invalid", StaticToken("t_333333"), transport=transport, retry=once
    ) as client:
        with pytest.raises(AuthError):
            await client.list_comments(1)
        assert client.accepted is False
        with pytest.raises(ServerError):
            await client.list_comments(1)  # 503: says nothing about the credential
        assert client.accepted is False
        await client.list_comments(1)
        assert client.accepted is True


async def test_made_up_comments_through_the_client_leave_the_account_its_budget() -> None:
    """Three comments with a made-up token of account 333333 are refused (401); a real token of that
    account still has its three, and a second real token finds the account full."""
    windows = MemoryWindows()
    policy = PacingPolicy(comments_per_minute=3, window_seconds=60, max_wait=0)
    sent: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        token = request.headers["X-Token"]
        sent.append(token)
        if token.startswith("forged"):
            return httpx2.Response(401, json={"error": {"code": "unauthorized"}})
        return httpx2.Response(200, json={"id": len(sent), "body": "b"})

    def client(token: str) -> TicketsClient:
        transport = httpx2.MockTransport(handler)
        return TicketsClient(
            "https://x.invalid", StaticToken(token), transport=transport, pacing=policy, windows=windows
        )

    async with (
        client("forged-0000_333333") as forged,
        client("real-a_333333") as a,
        client("real-b_333333") as b,
    ):
        for n in range(3):
            with pytest.raises(AuthError):
                await forged.add_comment(1, body=f"forged {n}")
        for n in range(3):
            await a.add_comment(1, body=f"real {n}")
        with pytest.raises(RateLimited):
            await b.add_comment(1, body="one too many for the account")
    assert sent == ["forged-0000_333333"] * 3 + ["real-a_333333"] * 3


async def test_closing_waits_for_the_requests_in_flight() -> None:
    release = anyio.Event()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        await release.wait()
        return httpx2.Response(200, json={"items": [], "page": 1})

    client = TicketsClient("https://x.invalid", StaticToken("t"), transport=httpx2.MockTransport(handler))
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.list_comments, 1)
        await anyio.wait_all_tasks_blocked()
        assert client.busy
        await client.aclose()
        assert client._http is not None and not client._http.is_closed  # not under its request
        release.set()
    assert not client.busy and client._http is None
