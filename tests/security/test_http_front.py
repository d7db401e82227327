"""The HTTP front of a real `tickets-mcp --transport http`: what its log holds at DEBUG, and how long a
connection may take to send a request head.

- At ``TICKETS_MCP_LOG_LEVEL=DEBUG`` only this project's loggers log at DEBUG: the libraries that would log
  whole payloads (``sse_starlette`` logs every event it streams) stay at INFO, so neither a comment body nor
  a consent question reaches stderr.
- A connection that sends part of a request line or of its headers and then waits is closed by the server
  within a few seconds (uvicorn has no such timeout of its own), on a fresh connection and on a kept-alive
  one; a client that sends its head in pieces, but whole within the deadline, is answered.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_client import Elicitor, text_of
from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
HEAD_DEADLINE = 5.0  # the server's (`server.HEADER_TIMEOUT`)
STUCK = 20


@pytest.fixture(scope="module")
def debug_server() -> Iterator[tuple[SandboxHandle, ServerProcess]]:
    with run_sandbox(comments_per_minute=10_000) as sb:
        process = ServerProcess(
            {
                "SELECTEL_TOKEN": sb.token,
                "SELECTEL_TICKETS_URL": sb.base_url,
                "TICKETS_MCP_LOG_LEVEL": "DEBUG",
            }
        )
        try:
            yield sb, process.start()
        finally:
            process.stop()


async def test_a_debug_log_holds_no_comment_body_and_no_consent_question(
    debug_server: tuple[SandboxHandle, ServerProcess],
) -> None:
    sb, process = debug_server
    number = 2401021
    reply = f"support-reply-{uuid.uuid4().hex}"
    closing = f"closing-remark-{uuid.uuid4().hex}"
    sb.support_reply(number, f"Your disk is replaced ({reply}).")
    elicitor = Elicitor(action="decline")
    http = httpx2.AsyncClient(timeout=30)
    async with Client(
        streamable_http_client(process.url, http_client=http),  # type: ignore[arg-type]
        mode="legacy",  # SSE answers: what sse_starlette would log
        elicitation_callback=elicitor,
    ) as client:
        read = await client.call_tool("list_comments", {"number": number})
        closed = await client.call_tool("close_ticket", {"number": number, "score": 5, "comment": closing})
    assert reply in text_of(read)
    assert closing in elicitor.questions[0] and not closed.is_error
    log = process.stderr()
    assert " DEBUG tickets_mcp" in log  # DEBUG is on, for this project
    assert reply not in log
    assert closing not in log
    for library in ("sse_starlette", "mcp.", "uvicorn", "httpx"):
        assert f" DEBUG {library}" not in log, library


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = ServerProcess(args=["--sandbox"])
    try:
        yield process.start()
    finally:
        process.stop()


def closed_by_server(conn: socket.socket, within: float) -> bool:
    """Whether the server closes ``conn`` (EOF or reset) within ``within`` seconds."""
    conn.settimeout(within)
    try:
        while conn.recv(4096):
            pass  # an answer (e.g. 400 or 408) before the close is fine
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_that_never_finish_their_head_are_closed(server: ServerProcess) -> None:
    partial = [
        b"POST /mcp HTT",
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    ]
    conns = []
    for i in range(STUCK):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(partial[i % len(partial)])
        conns.append(conn)
    started = time.monotonic()
    deadline = started + HEAD_DEADLINE + 3
    try:
        still_open = [
            i
            for i, conn in enumerate(conns)
            if not closed_by_server(conn, max(0.01, deadline - time.monotonic()))
        ]
        elapsed = time.monotonic() - started
    finally:
        for conn in conns:
            conn.close()
    assert still_open == [], (
        f"{len(still_open)} of {STUCK} stuck connections still open after {elapsed:.1f} s"
    )
    assert elapsed < HEAD_DEADLINE + 3
    assert httpx2.get(f"{server.base}/healthz", timeout=5).status_code == 200


def test_a_kept_alive_connection_that_stalls_in_its_next_head_is_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        conn.settimeout(5)
        assert b"200 OK" in conn.recv(4096)
        for _ in range(3):  # a byte every second keeps uvicorn's own keep-alive timer from firing
            conn.sendall(b"G")
            time.sleep(1)
        conn.sendall(b"ET /healthz HTTP/1.1\r\n")
        assert closed_by_server(conn, HEAD_DEADLINE + 2)


def test_a_head_sent_in_pieces_within_the_deadline_is_answered(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        for piece in (b"GET /healthz HT", b"TP/1.1\r\nHost: 127.0.0.1\r\n", b"\r\n"):
            conn.sendall(piece)
            time.sleep(1)
        conn.settimeout(5)
        assert b'{"status":"ok"}' in conn.recv(4096)
