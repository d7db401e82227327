"""`JwksTokenVerifier` against a JWKS served on loopback.

Each refused token is refused for its own reason (the log line names the failed check), keys are fetched
lazily and cached, an unknown ``kid`` fetches the key set again, an unreachable JWKS makes the check
unavailable (a 503 to retry, not a refusal) with a warning, and no log line ever holds a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import jwt
import pytest

from support.oauth_issuer import Issuer, rsa_key, running_issuer
from tickets_mcp.mcp_server.callers import JwksTokenVerifier, KeysUnavailable, granted_scopes

pytestmark = pytest.mark.anyio
AUDIENCE = "https://tickets.example.test/mcp"


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture
def verifier(issuer: Issuer) -> JwksTokenVerifier:
    issuer.down = False
    return JwksTokenVerifier(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE, cooldown=0)


async def test_a_valid_token_gives_its_scopes_subject_and_resource(
    issuer: Issuer, verifier: JwksTokenVerifier
) -> None:
    token = issuer.mint(AUDIENCE, scope="tickets:read")
    access = await verifier.verify_token(token)
    assert access is not None
    assert access.scopes == ["tickets:read"]
    assert access.subject == "user-42" and access.client_id == "test-client"
    assert access.resource == AUDIENCE and access.claims == {"iss": issuer.url}
    assert access.expires_at is not None and access.expires_at > time.time()


async def test_write_implies_read_and_scp_lists_count(issuer: Issuer, verifier: JwksTokenVerifier) -> None:
    write = await verifier.verify_token(issuer.mint(AUDIENCE, scope="tickets:write openid"))
    assert write is not None and set(write.scopes) == {"tickets:write", "openid", "tickets:read"}
    scp = await verifier.verify_token(issuer.mint(AUDIENCE, scope=None, scp=["tickets:write"]))
    assert scp is not None and set(scp.scopes) == {"tickets:write", "tickets:read"}
    none = await verifier.verify_token(issuer.mint(AUDIENCE, scope=None))
    assert none is not None and none.scopes == []
    assert granted_scopes({"scope": "a  b", "scp": "c"}) == ["a", "b", "c"]


async def test_an_audience_list_holding_ours_is_accepted(issuer: Issuer, verifier: JwksTokenVerifier) -> None:
    assert await verifier.verify_token(issuer.mint(["https://other.example", AUDIENCE])) is not None


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "ExpiredSignatureError"),
        ("wrong_audience", "InvalidAudienceError"),
        ("wrong_issuer", "InvalidIssuerError"),
        ("bad_signature", "InvalidSignatureError"),
        ("unknown_kid", "Unable to find a signing key"),
        ("no_exp", "MissingRequiredClaimError"),
        ("not_yet_valid", "ImmatureSignatureError"),
    ],
)
async def test_each_bad_token_is_refused_for_its_reason(
    issuer: Issuer, verifier: JwksTokenVerifier, caplog: pytest.LogCaptureFixture, case: str, reason: str
) -> None:
    stranger = rsa_key()
    token = {
        "expired": lambda: issuer.mint(AUDIENCE, expires_in=-120),  # beyond the 30 s leeway
        "wrong_audience": lambda: issuer.mint("https://elsewhere.example/mcp"),
        "wrong_issuer": lambda: issuer.mint(AUDIENCE, issuer="https://evil.example"),
        "bad_signature": lambda: issuer.mint(AUDIENCE, key=stranger),  # kid k1, another key
        "unknown_kid": lambda: issuer.mint(AUDIENCE, kid="k-unknown", key=stranger),
        "no_exp": lambda: jwt.encode(
            {"iss": issuer.url, "aud": AUDIENCE, "scope": "tickets:read"},
            issuer.keys["k1"],
            algorithm="RS256",
            headers={"kid": "k1"},
        ),
        "not_yet_valid": lambda: issuer.mint(AUDIENCE, nbf=int(time.time()) + 600),
    }[case]()
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        assert await verifier.verify_token(token) is None
    assert reason in caplog.text
    assert token not in caplog.text and token.split(".")[1] not in caplog.text


async def test_a_little_clock_skew_is_allowed(issuer: Issuer, verifier: JwksTokenVerifier) -> None:
    access = await verifier.verify_token(issuer.mint(AUDIENCE, expires_in=-5))
    assert access is not None  # 5 s past exp, within the leeway; the SDK's own expiry check sees exp + leeway
    assert access.expires_at is not None and access.expires_at >= time.time()


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_none_and_hmac_tokens_are_refused_without_fetching_keys(
    issuer: Issuer, verifier: JwksTokenVerifier, caplog: pytest.LogCaptureFixture, alg: str
) -> None:
    claims = {"iss": issuer.url, "aud": AUDIENCE, "exp": int(time.time()) + 300, "scope": "tickets:write"}
    key = None if alg == "none" else "a-shared-secret-of-at-least-32-bytes!!"
    token = jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1"})
    before = issuer.fetches
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        assert await verifier.verify_token(token) is None
    assert issuer.fetches == before and "signed with" in caplog.text


async def test_garbage_is_refused(verifier: JwksTokenVerifier) -> None:
    for token in ("", "not-a-jwt", "a.b.c", "Bearer x"):
        assert await verifier.verify_token(token) is None


async def test_keys_are_fetched_lazily_once_and_again_for_a_new_kid(issuer: Issuer) -> None:
    before = issuer.fetches
    verifier = JwksTokenVerifier(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE, cooldown=0)
    assert issuer.fetches == before  # nothing at construction
    for _ in range(5):
        assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None
    assert issuer.fetches == before + 1  # cached
    issuer.keys["k2"] = rsa_key()  # the issuer rotates: a new key, published
    issuer.published.append("k2")
    try:
        assert await verifier.verify_token(issuer.mint(AUDIENCE, kid="k2")) is not None
        assert issuer.fetches == before + 2
        assert await verifier.verify_token(issuer.mint(AUDIENCE, kid="k2")) is not None
        assert issuer.fetches == before + 2
    finally:
        issuer.published.remove("k2")


async def test_unknown_kids_do_not_hammer_the_issuer(issuer: Issuer) -> None:
    verifier = JwksTokenVerifier(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)
    assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None
    before = issuer.fetches
    stranger = rsa_key()
    for n in range(5):
        assert await verifier.verify_token(issuer.mint(AUDIENCE, kid=f"random-{n}", key=stranger)) is None
    assert issuer.fetches == before  # within the refresh cooldown (30 s by default)


async def test_an_unreachable_jwks_is_unavailable_with_a_warning(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint(AUDIENCE)
    gone = JwksTokenVerifier(
        issuer=issuer.url, jwks_url="http://127.0.0.1:9/jwks.json", audience=AUDIENCE, timeout=2
    )
    down = JwksTokenVerifier(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE, cooldown=0)
    issuer.down = True
    try:
        with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
            started = time.monotonic()
            for verifier in (gone, down):
                with pytest.raises(KeysUnavailable):
                    await verifier.verify_token(token)
            assert time.monotonic() - started < 5
    finally:
        issuer.down = False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("could not be fetched" in r.getMessage() for r in warnings)
    assert token not in caplog.text
    assert await down.verify_token(token) is not None  # back up: the next token is checked again
