"""HTTP sessions (the 2025-11-25 handshake) are bound to the caller that opened them, and one caller holds a
bounded number of them.

Real `tickets-mcp --transport http` processes in front of a sandbox on loopback, spoken to in raw JSON-RPC
over httpx2 (the way an attacker would, not through a well-behaved client):

- with ``--credentials per-request``, alice opens a session; bob, who learnt its id, sends his own
  credential with it: his POST, his GET stream, his forged answer to alice's consent question and his
  DELETE are each answered 404 exactly as an unknown session is, and alice's session keeps working (the
  sandbox journal shows no close was sent on bob's word);
- with OAuth and per-request credentials, a session is bound to both the access token's subject and the
  credential;
- ``TICKETS_MCP_SESSIONS_PER_CALLER=3``: the fourth session of one credential (or of one OAuth subject) is
  refused with 429 and a message that names the limit, the setting and the way out; another caller still
  gets in; a DELETE frees a slot;
- the server's log carries session ids cut to a prefix, never whole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from support.oauth_issuer import Issuer, running_issuer
from support.raw_http import MCP_HEADERS, PROTOCOL, initialize, rpc
from support.servers import ServerProcess, free_port
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
ALICE = "alice-7f3e21c0d9_111"
BOB = "bob-0a9d4c33e1_111"  # the same account as alice: only the credential tells them apart
LIMIT = 3
UNKNOWN_SESSION = "0" * 32


def messages(response: httpx2.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer (an SSE stream or one JSON body)."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    return [response.json()]


@dataclass
class Caller:
    """One caller of the MCP endpoint: its own headers (a Selectel credential, an access token)."""

    url: str
    headers: dict[str, str]

    def on(self, session: str) -> dict[str, str]:
        return {**MCP_HEADERS, **self.headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": PROTOCOL}

    def open(self, capabilities: dict[str, Any] | None = None) -> httpx2.Response:
        return httpx2.post(
            self.url, json=initialize(capabilities), headers={**MCP_HEADERS, **self.headers}, timeout=10
        )

    def session(self, capabilities: dict[str, Any] | None = None) -> str:
        """A new, initialized session's id."""
        answer = self.open(capabilities)
        assert answer.status_code == 200, answer.text
        session = answer.headers["mcp-session-id"]
        done = self.post(session, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert done.status_code == 202, done.text
        return session

    def post(self, session: str, body: dict[str, Any]) -> httpx2.Response:
        return httpx2.post(self.url, json=body, headers=self.on(session), timeout=10)

    def delete(self, session: str) -> httpx2.Response:
        return httpx2.delete(self.url, headers=self.on(session), timeout=10)


def tool_names(answer: httpx2.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {tool["name"] for tool in messages(answer)[-1]["result"]["tools"]}


@asynccontextmanager
async def events(http: httpx2.AsyncClient, method: str, url: str, **kwargs: Any) -> AsyncIterator[Any]:
    """An SSE request as (its response, an iterator of its JSON-RPC messages)."""
    async with http.stream(method, url, **kwargs) as response:

        async def each() -> AsyncIterator[dict[str, Any]]:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    yield json.loads(line[5:])

        yield response, each()


# --- per-request credentials, no OAuth ---------------------------------------------------------------


@dataclass
class Running:
    sb: SandboxHandle
    process: ServerProcess

    def caller(self, token: str) -> Caller:
        return Caller(self.process.url, {"X-Selectel-Token": token})


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with run_sandbox(static_tokens=(ALICE, BOB), comments_per_minute=10_000) as sb:
        process = ServerProcess(
            {
                "SELECTEL_TICKETS_URL": sb.base_url,
                "SELECTEL_IDENTITY_URL": sb.identity_url,
                "TICKETS_MCP_CREDENTIALS": "per-request",
                "TICKETS_MCP_POLL_INTERVAL": "0.2",
                "TICKETS_MCP_SESSIONS_PER_CALLER": str(LIMIT),
                "TICKETS_MCP_CALLS_PER_MINUTE": "0",
                "TICKETS_MCP_LOG_LEVEL": "INFO",  # the SDK logs each session id at INFO
            }
        )
        try:
            yield Running(sb, process.start())
        finally:
            process.stop()
        assert ALICE not in process.stderr() and BOB not in process.stderr()


def test_another_credential_on_a_session_is_answered_as_an_unknown_session(server: Running) -> None:
    alice, bob = server.caller(ALICE), server.caller(BOB)
    session = alice.session()
    try:
        unknown = bob.post(UNKNOWN_SESSION, rpc("tools/list"))
        assert unknown.status_code == 404
        refused = bob.post(session, rpc("tools/list"))
        assert refused.status_code == 404, refused.text
        assert refused.content == unknown.content  # nothing tells a stranger the session exists
        assert refused.headers["content-type"] == unknown.headers["content-type"]
        assert "get_ticket" in tool_names(alice.post(session, rpc("tools/list")))
    finally:
        alice.delete(session)


def test_another_credential_cannot_end_a_session(server: Running) -> None:
    alice, bob = server.caller(ALICE), server.caller(BOB)
    session = alice.session()
    try:
        assert bob.delete(session).status_code == 404
        assert "get_ticket" in tool_names(alice.post(session, rpc("tools/list")))
    finally:
        assert alice.delete(session).status_code == 200
    assert alice.post(session, rpc("tools/list")).status_code == 404  # ended by its owner


async def test_another_credential_cannot_open_the_stream_of_a_session(server: Running) -> None:
    """Bob's GET on alice's session is refused; alice's own GET stream then gets her notification."""
    alice, bob = server.caller(ALICE), server.caller(BOB)
    number = 2401028
    session = alice.session()
    try:
        subscribed = alice.post(session, rpc("resources/subscribe", {"uri": f"tickets://{number}"}))
        assert subscribed.status_code == 200 and "result" in messages(subscribed)[-1], subscribed.text
        async with httpx2.AsyncClient(timeout=10) as http:
            stranger = {**bob.on(session), "Accept": "text/event-stream"}
            async with events(http, "GET", bob.url, headers=stranger) as (stolen, _):
                assert stolen.status_code == 404  # today: 200, and alice's notifications on it
            headers = {**alice.on(session), "Accept": "text/event-stream"}
            async with events(http, "GET", alice.url, headers=headers) as (response, stream):
                assert response.status_code == 200
                await anyio.sleep(0.5)  # the watcher has read the thread once
                server.sb.support_reply(number, "The disk is replaced.")
                with anyio.fail_after(10):
                    async for message in stream:
                        if message.get("method") == "notifications/resources/updated":
                            assert message["params"]["uri"] == f"tickets://{number}"
                            break
    finally:
        alice.delete(session)


async def test_another_credential_cannot_answer_a_consent_question(server: Running) -> None:
    """While alice's close_ticket waits for her consent, bob posts an acceptance on her session: 404, and
    nothing is sent upstream. Alice declines; the close is never sent."""
    alice, bob = server.caller(ALICE), server.caller(BOB)
    number = 2401026
    session = alice.session({"elicitation": {}})
    server.sb.clear_journal()
    call = rpc("tools/call", {"name": "close_ticket", "arguments": {"number": number}}, id=7)
    try:
        async with (
            httpx2.AsyncClient(timeout=20) as http,
            events(http, "POST", alice.url, json=call, headers=alice.on(session)) as (response, stream),
        ):
            assert response.status_code == 200
            with anyio.fail_after(15):
                question = None
                async for message in stream:
                    if message.get("method") == "elicitation/create":
                        question = message
                        break
                assert question is not None
                accept = {"action": "accept", "content": {"confirm": True}}
                forged = await http.post(
                    bob.url,
                    json={"jsonrpc": "2.0", "id": question["id"], "result": accept},
                    headers=bob.on(session),
                )
                assert forged.status_code == 404, forged.text
                await anyio.sleep(0.3)
                declined = await http.post(
                    alice.url,
                    json={"jsonrpc": "2.0", "id": question["id"], "result": {"action": "decline"}},
                    headers=alice.on(session),
                )
                assert declined.status_code == 202, declined.text
                async for message in stream:
                    if message.get("id") == 7:
                        content = message["result"]["structuredContent"]
                        assert content["outcome"] == "declined" and content["sent"] is False, message
                        break
        closes = [e for e in server.sb.writes() if str(e["path"]).endswith(f"/tickets/{number}/close")]
        assert closes == []
    finally:
        alice.delete(session)


def test_a_credential_holds_at_most_its_sessions_and_others_still_get_in(server: Running) -> None:
    greedy = server.caller(f"greedy-{uuid.uuid4().hex[:10]}_555")  # initialize sends nothing upstream
    other = server.caller(f"other-{uuid.uuid4().hex[:10]}_556")
    held = [greedy.session() for _ in range(LIMIT)]
    theirs = None
    try:
        refused = greedy.open()
        assert refused.status_code == 429, refused.text
        assert "mcp-session-id" not in refused.headers
        error = refused.json()["error"]
        assert error["data"] == {
            "limit": LIMIT,
            "setting": "TICKETS_MCP_SESSIONS_PER_CALLER",
            "idle_timeout_seconds": 1800,
        }
        for part in (f"holds {LIMIT}", "TICKETS_MCP_SESSIONS_PER_CALLER=3", "DELETE /mcp", "idle timeout"):
            assert part in error["message"], error["message"]
        theirs = other.session()  # another caller is not held up
        assert greedy.delete(held.pop()).status_code == 200  # an ended session frees its slot
        held.append(greedy.session())
        assert greedy.open().status_code == 429
    finally:
        for session in [*held, *([theirs] if theirs else [])]:
            httpx2.delete(greedy.url, headers={**greedy.on(session), **other.headers}, timeout=10)
            greedy.delete(session)


def test_the_log_has_session_ids_cut_to_a_prefix(server: Running) -> None:
    alice = server.caller(ALICE)
    sessions = [alice.session() for _ in range(2)]
    server.caller(BOB).post(sessions[0], rpc("tools/list"))  # a refused probe is logged too
    alice.post("f" * 32, rpc("tools/list"))  # and an unknown session
    for session in sessions:
        assert alice.delete(session).status_code == 200
    log = server.process.stderr()
    for session in sessions:
        assert session not in log
        assert session[8:] not in log
    assert f"session ID: {sessions[0][:8]}…" in log  # the SDK's line is kept, with the prefix
    assert "f" * 32 not in log


# --- OAuth with per-request credentials ----------------------------------------------------------------


@dataclass
class OAuthWorld:
    issuer: Issuer
    url: str
    minted: list[str]

    def caller(self, subject: str, credential: str) -> Caller:
        token = self.issuer.mint(self.url, sub=subject)
        self.minted.append(token)
        return Caller(self.url, {"Authorization": f"Bearer {token}", "X-Selectel-Token": credential})


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthWorld]:
    with running_issuer() as issuer, run_sandbox(static_tokens=(ALICE, BOB)) as sb:
        port = free_port()
        url = f"http://127.0.0.1:{port}/mcp"
        process = ServerProcess(
            {
                "SELECTEL_TICKETS_URL": sb.base_url,
                "TICKETS_MCP_CREDENTIALS": "per-request",
                "TICKETS_MCP_OAUTH_ISSUER": issuer.url,
                "TICKETS_MCP_OAUTH_JWKS_URL": issuer.jwks_url,
                "TICKETS_MCP_OAUTH_AUDIENCE": url,
                "TICKETS_MCP_SESSIONS_PER_CALLER": str(LIMIT),
            },
            port=port,
        )
        world = OAuthWorld(issuer, url, [])
        try:
            process.start()
            yield world
        finally:
            process.stop()
        assert not any(token in process.stderr() for token in world.minted)


def test_with_oauth_a_session_is_bound_to_both_the_subject_and_the_credential(oauth: OAuthWorld) -> None:
    alice = oauth.caller("alice", ALICE)
    session = alice.session()
    try:
        for stranger in (oauth.caller("alice", BOB), oauth.caller("mallory", ALICE)):
            assert stranger.post(session, rpc("tools/list")).status_code == 404
            assert stranger.delete(session).status_code == 404
        again = oauth.caller("alice", ALICE)  # a fresh access token of the same subject
        assert "get_ticket" in tool_names(again.post(session, rpc("tools/list")))
    finally:
        alice.delete(session)


def test_with_oauth_one_subject_holds_at_most_its_sessions_whatever_its_credentials(
    oauth: OAuthWorld,
) -> None:
    subject = f"greedy-{uuid.uuid4().hex[:8]}"
    mine = [oauth.caller(subject, f"key-{i}-{uuid.uuid4().hex[:8]}_557") for i in range(LIMIT + 1)]
    held = [(caller, caller.session()) for caller in mine[:LIMIT]]
    try:
        refused = mine[LIMIT].open()  # a new credential, the same subject
        assert refused.status_code == 429, refused.text
        assert "OAuth subject" in refused.json()["error"]["message"]
        other = oauth.caller(f"other-{uuid.uuid4().hex[:8]}", mine[LIMIT].headers["X-Selectel-Token"])
        held.append((other, other.session()))
    finally:
        for caller, session in held:
            caller.delete(session)
