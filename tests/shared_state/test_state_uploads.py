"""Uploads share the replicas' state: the 20-per-minute window of an account and the dedup of identical
files, in memory and in a real Redis (two objects on two connections: two replicas). A real sandbox on
its compressed minute; its journal says what was sent."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest

from support.api_client import TIME_SCALE, WINDOW, make_client, settled
from tickets_mcp.api import StaticToken
from tickets_mcp.api.dedup import Dedup
from tickets_mcp.api.windows import RateWindows
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
TOKEN = "replica-token_424242"  # one account's token: both replicas pace it as that account


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(time_scale=TIME_SCALE, static_tokens=(TOKEN,), seed=False) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(sandbox: SandboxHandle) -> None:
    sandbox.reset_limits()
    sandbox.clear_journal()


def uploads(sb: SandboxHandle) -> list[int]:
    return [e["status"] for e in settled(sb) if e["method"] == "POST" and e["path"] == "/files/public/files"]


async def test_twenty_one_uploads_on_two_replicas_share_the_accounts_minute(
    sandbox: SandboxHandle, replica_windows: tuple[RateWindows, RateWindows]
) -> None:

    first, second = replica_windows
    started = time.monotonic()
    async with (
        make_client(sandbox, auth=StaticToken(TOKEN), windows=first) as one,
        make_client(sandbox, auth=StaticToken(TOKEN), windows=second) as two,
    ):
        async with anyio.create_task_group() as group:
            for i in range(21):
                group.start_soon((one if i % 2 else two).upload_file, f"{i}.txt", f"part {i}".encode())
    assert uploads(sandbox) == [200] * 21  # paced: not one 429
    assert time.monotonic() - started >= WINDOW * 0.9


async def test_an_identical_file_on_two_replicas_is_uploaded_once(
    sandbox: SandboxHandle, replica_dedups: tuple[Dedup, Dedup]
) -> None:

    first, second = replica_dedups
    content = f"identical {time.time()}".encode()  # a fresh key for every run against the session's Redis
    async with (
        make_client(sandbox, auth=StaticToken(TOKEN), dedup=first) as one,
        make_client(sandbox, auth=StaticToken(TOKEN), dedup=second) as two,
    ):
        async with anyio.create_task_group() as group:
            group.start_soon(one.upload_file, "same.log", content)
            group.start_soon(two.upload_file, "same.log", content)
        a = await one.upload_file("same.log", content)
        b = await two.upload_file("same.log", content)
    assert a.uuid == b.uuid and a.reused and b.reused
    assert uploads(sandbox) == [200]
