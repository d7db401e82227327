"""Per-request credentials: which header means what, and the bounded pool of per-credential clients."""

from __future__ import annotations

import asyncio

import pytest

from support.fake_pool import Clock, FakeEntry
from tickets_mcp.api import IamToken, StaticToken
from tickets_mcp.mcp_server.callers import MissingCredential, request_auth
from tickets_mcp.mcp_server.state import CallerPool

pytestmark = pytest.mark.anyio


def test_the_headers_name_the_kind_of_credential() -> None:
    static = request_auth({"X-Selectel-Token": "abc_123"})
    iam = request_auth({"x-selectel-auth-token": "gAAAA-iam"})
    assert isinstance(static, StaticToken) and static.account == "123"
    assert isinstance(iam, IamToken) and iam.account is None
    for bad in ({}, {"X-Selectel-Token": " "}, {"X-Selectel-Token": "a", "X-Selectel-Auth-Token": "b"}):
        with pytest.raises(MissingCredential, match="X-Selectel-Token"):
            request_auth(bad)


def test_an_account_is_read_only_from_the_vendors_token_shape() -> None:
    assert StaticToken("r4nd0m_987654").account == "987654"
    assert StaticToken("no-account-here").account is None and StaticToken("x_12a").account is None


async def test_one_entry_per_credential_keyed_by_hash_least_recent_out_first() -> None:
    clock = Clock()
    made: list[str] = []

    def make(auth: StaticToken | IamToken) -> FakeEntry:
        made.append(auth.identity)
        return FakeEntry()

    pool: CallerPool[FakeEntry] = CallerPool(make, size=2, idle=100, clock=clock)
    a = pool.get(StaticToken("token-a_1"))
    assert pool.get(StaticToken("token-a_1")) is a and len(made) == 1
    assert "token-a" not in "".join([*pool._accepted, *pool._pending])  # keyed by the hash, never the token
    b = pool.get(StaticToken("token-b_1"))
    pool.get(StaticToken("token-a_1"))  # a is now the most recent
    pool.get(IamToken("token-c"))
    assert len(pool) == 2 and b.client.closed is False  # closing is scheduled
    await asyncio.sleep(0)
    assert b.client.closed and not a.client.closed


async def test_idle_entries_are_closed() -> None:
    clock = Clock()
    pool: CallerPool[FakeEntry] = CallerPool(lambda auth: FakeEntry(), size=10, idle=60, clock=clock)
    old = pool.get(StaticToken("old_1"))
    clock.now = 61
    pool.get(StaticToken("new_1"))
    await asyncio.sleep(0)
    assert old.client.closed and len(pool) == 1
    await pool.aclose()
    assert len(pool) == 0
