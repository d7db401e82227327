"""`logs.redact`: passwords however they are escaped, token headers inside escaped JSON, and session ids cut
to a prefix; and `configure_logging`'s level rule (only ``tickets_mcp.*`` follows DEBUG)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tickets_mcp.logs import NOISY, configure_logging, redact

SECRET = "s3cret-Pa55"
SESSION = "3f2a9c1d0b8e4f6a9c7d5e3b1a0f2c4d"  # what the SDK makes: uuid4().hex


@pytest.mark.parametrize(
    "text",
    [
        '{"password": "s3cret-Pa55"}',
        '{"password":"s3cret-Pa55","name":"u"}',
        "{'password': 's3cret-Pa55'}",  # a Python repr
        '{\\"password\\": \\"s3cret-Pa55\\"}',  # JSON inside a JSON string
        '{\\"password\\":\\"s3cret-Pa55\\"}',
        '\\\\"password\\\\":\\\\"s3cret-Pa55\\\\"',  # escaped twice
        "{\\u0022password\\u0022: \\u0022s3cret-Pa55\\u0022}",  # unicode escapes
        'body={"auth": {"identity": {"password": {"user": {"name": "u", "password": "s3cret-Pa55"}}}}}',
        '"Passwd": "s3cret-Pa55"',
        '"client_secret": "s3cret-Pa55"',
        '"password": "s3cret-Pa55',  # cut off by the end of the record
    ],
)
def test_a_password_is_masked_however_it_is_escaped(text: str) -> None:
    masked = redact(text, [])
    assert "s3cret" not in masked and "Pa55" not in masked
    assert "***" in masked


def test_an_escaped_quote_inside_a_password_does_not_end_it() -> None:
    for text in ('"password": "ab\\"cd-Pa55" after', '{\\"password\\": \\"ab\\\\\\"cd-Pa55\\"} after'):
        masked = redact(text, [])
        assert "cd-Pa55" not in masked and masked.endswith(" after"), masked


def test_what_is_not_a_password_stays() -> None:
    assert redact('"password": ""', []) == '"password": ""'
    text = '{"summary": "reset my password please", "body": "the password field is greyed out"}'
    assert redact(text, []) == text


def test_a_token_header_is_masked_inside_escaped_json() -> None:
    for text in (
        '{\\"X-Token\\": \\"abcd1234efgh\\"}',
        "{'x-auth-token': 'abcd1234efgh'}",
        '\\"Authorization\\": \\"Bearer abcd1234efgh\\"',
    ):
        masked = redact(text, [])
        assert "abcd1234efgh" not in masked and "***" in masked, masked


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Created new transport with session ID: {SESSION}", "session ID: 3f2a9c1d…"),
        (f"Session {SESSION} idle timeout", "Session 3f2a9c1d… idle timeout"),
        (f"Session {SESSION} crashed", "Session 3f2a9c1d… crashed"),
        (f"Terminating session: {SESSION}", "Terminating session: 3f2a9c1d…"),
        (f"Rejecting request for session {SESSION}: credential does not match", "session 3f2a9c1d…:"),
        (f"[(b'mcp-session-id', b'{SESSION}')]", "b'mcp-session-id', b'3f2a9c1d…'"),
        (f"{{'mcp-session-id': '{SESSION}'}}", "'mcp-session-id': '3f2a9c1d…'"),
    ],
)
def test_a_session_id_is_cut_to_a_prefix(text: str, kept: str) -> None:
    cut = redact(text, [])
    assert SESSION not in cut and SESSION[8:] not in cut
    assert kept in cut, cut


def test_a_session_id_a_client_made_up_is_cut_too() -> None:
    cut = redact("Rejected request with unknown or expired session ID: not-hex-but-long-enough", [])
    assert cut.endswith("session ID: not-hex-…")


def test_words_after_session_stay() -> None:
    for text in (
        "Session already exists, handling request directly",
        "Session terminated with request 5 in flight; no response to send",
        "StreamableHTTP session manager shutting down",
        "session_rate_limited: 120 calls per minute",
    ):
        assert redact(text, []) == text


def test_configured_secrets_are_still_masked_first() -> None:
    assert redact(f"login with {SECRET} failed", [SECRET]) == "login with *** failed"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    names = ("", "tickets_mcp", *NOISY)
    saved = ([*root.handlers], {name: logging.getLogger(name).level for name in names})
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_only_this_projects_loggers_follow_debug() -> None:
    configure_logging("DEBUG", [])
    assert logging.getLogger("tickets_mcp.mcp_server").getEffectiveLevel() == logging.DEBUG
    for third_party in ("sse_starlette.sse", "mcp.server.streamable_http", "mcp.shared.jsonrpc_dispatcher"):
        assert logging.getLogger(third_party).getEffectiveLevel() == logging.INFO, third_party
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


@pytest.mark.usefixtures("restored_logging")
def test_a_quieter_level_applies_to_every_logger() -> None:
    configure_logging("WARNING", [])
    assert logging.getLogger("tickets_mcp.api").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("sse_starlette.sse").getEffectiveLevel() == logging.WARNING
