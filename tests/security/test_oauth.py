"""OAuth 2.1 resource-server mode of the MCP endpoint, end to end.

A stand-in issuer (its own RSA keys, its JWKS on loopback) mints the tokens; two real `tickets-mcp
--transport http` processes accept them: one with the server's own Selectel credential (configured by
flags), one with per-request credentials (configured by environment). Real `mcp.Client`s connect with
``Authorization: Bearer <access token>``, in both protocol eras, to a sandbox on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from support.mcp_client import text_of
from support.oauth_issuer import Issuer, rsa_key, running_issuer
from support.raw_http import INIT, LIST, MCP_HEADERS
from support.servers import ServerProcess, free_port
from tickets_mcp.mcp_server.tools import enabled_tools
from tickets_mcp.sandbox import SandboxHandle, run_sandbox
from tickets_mcp.settings import Settings, exposure_problem

pytestmark = pytest.mark.anyio
OWN = "own-service-user-token_100"  # the team deployment's one credential
ALPHA = "alpha-3c9f0e7d2b_111"  # a user's own, for per-request credentials
READ_TOOLS = {s.name for s in enabled_tools(("tickets", "comments", "catalog"), read_only=True)}
ALL_TOOLS = {s.name for s in enabled_tools(("tickets", "comments", "catalog"), read_only=False)}
WRITING_PROMPTS = {"draft_ticket", "reply_to_support"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
    return {**env, **extra}


@dataclass
class Server:
    url: str  # the MCP endpoint, which is also the audience
    minted: list[str] = field(default_factory=list)  # every token sent, to check the log for

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/.well-known/oauth-protected-resource/mcp"


@dataclass
class World:
    issuer: Issuer
    sb: SandboxHandle
    own: Server
    per_request: Server

    def token(self, server: Server, **kwargs: object) -> str:
        token = self.issuer.mint(kwargs.pop("audience", server.url), **kwargs)  # type: ignore[arg-type]
        server.minted.append(token)
        return token


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with (
        running_issuer() as issuer,
        run_sandbox(static_tokens=(OWN, ALPHA), creates_per_minute=10_000, comments_per_minute=10_000) as sb,
    ):
        own_port, per_port = free_port(), free_port()
        own = Server(f"http://127.0.0.1:{own_port}/mcp")
        per_request = Server(f"http://127.0.0.1:{per_port}/mcp")
        upstream = {"SELECTEL_TICKETS_URL": sb.base_url, "SELECTEL_IDENTITY_URL": sb.identity_url}
        flags = ["--log-level", "DEBUG", "--calls-per-minute", "0"]
        own_flags = [  # the team deployment is configured by flags, the per-request one by environment
            *flags,
            *("--oauth-issuer", issuer.url, "--oauth-jwks-url", issuer.jwks_url, "--oauth-audience", own.url),
        ]
        per_env = {
            "TICKETS_MCP_CREDENTIALS": "per-request",
            "TICKETS_MCP_OAUTH_ISSUER": issuer.url,
            "TICKETS_MCP_OAUTH_JWKS_URL": issuer.jwks_url,
            "TICKETS_MCP_OAUTH_AUDIENCE": per_request.url,
        }
        processes = [
            (own, ServerProcess({**upstream, "SELECTEL_TOKEN": OWN}, own_flags, port=own_port)),
            (per_request, ServerProcess({**upstream, **per_env}, flags, port=per_port)),
        ]
        try:
            for _, process in processes:
                process.start()
            yield World(issuer, sb, own, per_request)
        finally:
            for _, process in processes:
                process.stop()
        for server, process in processes:
            text = process.stderr()
            assert not any(token in text for token in server.minted), "a token was logged"
            assert not any(token.split(".")[2] in text for token in server.minted)
            assert ALPHA not in text and OWN not in text


@pytest.fixture(autouse=True)
def jwks_up(world: World) -> Iterator[None]:
    world.issuer.down = False
    yield
    world.issuer.down = False


def client(server: Server, token: str | None, era: str, **headers: str) -> Client:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(server.url, http_client=http), mode=era)  # type: ignore[arg-type]


def post(
    server: Server, token: str | None = None, body: dict[str, object] = LIST, **headers: str
) -> httpx2.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx2.post(server.url, json=body, headers={**MCP_HEADERS, **headers}, timeout=10)


def challenge(answer: httpx2.Response) -> str:
    return answer.headers.get("www-authenticate", "")


# -- the gate ----------------------------------------------------------------------------------------


def test_without_a_token_the_401_points_to_the_metadata(world: World) -> None:
    for server in (world.own, world.per_request):
        answer = post(server)  # the per-request server too: the OAuth challenge comes first
        assert answer.status_code == 401
        assert challenge(answer).startswith("Bearer ")
        assert f'resource_metadata="{server.metadata_url}"' in challenge(answer)
    assert httpx2.get(f"{world.own.base}/healthz", timeout=5).status_code == 200


def test_the_metadata_document(world: World) -> None:
    for server in (world.own, world.per_request):  # open: no token, no Selectel credential
        answer = httpx2.get(server.metadata_url, timeout=5)
        assert answer.status_code == 200
        document = answer.json()
        assert document["resource"] == server.url
        assert document["authorization_servers"] == [world.issuer.url]
        assert document["scopes_supported"] == ["tickets:read", "tickets:write"]
        assert document["bearer_methods_supported"] == ["header"]


@pytest.mark.parametrize(
    "case", ["expired", "wrong_audience", "wrong_issuer", "bad_signature", "unknown_key", "garbage"]
)
def test_a_bad_token_gets_401_invalid_token(world: World, case: str) -> None:
    server = world.own
    stranger = rsa_key()
    token = {
        "expired": lambda: world.token(server, expires_in=-120),
        "wrong_audience": lambda: world.token(server, audience=world.per_request.url),  # another server
        "wrong_issuer": lambda: world.token(server, issuer="https://evil.example"),
        "bad_signature": lambda: world.token(server, key=stranger),  # the issuer's kid, another key
        "unknown_key": lambda: world.token(server, kid="k-stranger", key=stranger),
        "garbage": lambda: "not-a-jwt",
    }[case]()
    answer = post(server, token)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in challenge(answer)
    assert f'resource_metadata="{server.metadata_url}"' in challenge(answer)


def test_a_token_without_a_tickets_scope_gets_403_insufficient_scope(world: World) -> None:
    answer = post(world.own, world.token(world.own, scope="openid profile"))
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in challenge(answer) and "tickets:read" in challenge(answer)
    assert f'resource_metadata="{world.own.metadata_url}"' in challenge(answer)


def test_with_the_jwks_down_cached_keys_still_work_and_the_rest_is_refused(world: World) -> None:
    assert post(world.own, world.token(world.own), INIT).status_code == 200  # k1 is cached now
    world.issuer.keys["k-new"] = rsa_key()  # signed with a key the server has not seen
    unseen = world.token(world.own, kid="k-new")
    world.issuer.down = True
    assert post(world.own, unseen, INIT).status_code == 401
    assert post(world.own, world.token(world.own), INIT).status_code == 200
    assert httpx2.get(f"{world.own.base}/healthz", timeout=5).status_code == 200


# -- scopes → modes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_a_write_token_gets_every_tool_and_writes(world: World, era: str) -> None:
    world.sb.clear_journal()
    async with client(world.own, world.token(world.own, scope="tickets:write"), era) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        read = await c.call_tool("get_ticket", {"number": 2401006})
        created = await c.call_tool(
            "create_ticket",
            {
                "summary": f"oauth write {era}",
                "categories": ["dns"],
                "category_fields": [{"key": "zone", "values": ["a.example"]}],
            },
        )
        prompts = {p.name for p in (await c.list_prompts()).prompts}
    assert tools == ALL_TOOLS
    assert not read.is_error and read.structured_content["ticket"]["number"] == 2401006
    assert not created.is_error, text_of(created)
    assert [e["path"] for e in world.sb.writes()] == ["/support/v2/tickets"]
    assert WRITING_PROMPTS <= prompts


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_a_read_token_sees_the_read_tools_and_a_write_is_refused(world: World, era: str) -> None:
    world.sb.clear_journal()
    async with client(world.own, world.token(world.own, scope="tickets:read"), era) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        read = await c.call_tool("search_tickets", {"is_only_opened": True})
        refused = await c.call_tool("add_comment", {"number": 2401006, "text": "hello"})
        prompts = {p.name for p in (await c.list_prompts()).prompts}
        with pytest.raises(MCPError, match="tickets:write"):
            await c.get_prompt("draft_ticket", {"problem": "DNS zone a.example does not resolve"})
    assert tools == READ_TOOLS and "add_comment" not in tools
    assert not read.is_error
    assert refused.is_error and refused.structured_content["code"] == "insufficient_scope"
    assert "tickets:write" in text_of(refused) and "Nothing was sent" in text_of(refused)
    assert world.sb.writes() == []
    assert prompts and not prompts & WRITING_PROMPTS


# -- with per-request credentials --------------------------------------------------------------------


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_per_request_credentials_ride_along_with_the_access_token(world: World, era: str) -> None:
    server = world.per_request
    token = world.token(server, scope="tickets:read")
    async with client(server, token, era, **{"X-Selectel-Token": ALPHA}) as c:
        read = await c.call_tool("get_ticket", {"number": 2401006})
        refused = await c.call_tool("add_comment", {"number": 2401006, "text": "hello"})
    assert not read.is_error and read.structured_content["ticket"]["number"] == 2401006
    assert refused.is_error and refused.structured_content["code"] == "insufficient_scope"


def test_per_request_without_the_selectel_credential_is_403_not_a_sign_in_loop(world: World) -> None:
    answer = post(world.per_request, world.token(world.per_request))
    assert answer.status_code == 403 and "www-authenticate" not in answer.headers
    assert "X-Selectel-Token" in answer.json()["message"]
    wrong = post(world.per_request, world.token(world.own), **{"X-Selectel-Token": ALPHA})  # other audience
    assert wrong.status_code == 401 and "resource_metadata" in challenge(wrong)


# -- configuration -----------------------------------------------------------------------------------

OAUTH = {
    "oauth_issuer": "https://issuer.example",
    "oauth_jwks_url": "https://issuer.example/jwks.json",
    "oauth_audience": "https://tickets.example/mcp",
}


def refused_start(args: list[str], **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tickets_mcp", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_start_up_errors_exit_2_with_the_fix() -> None:
    err = refused_start(
        ["--transport", "http", "--oauth-issuer", "https://issuer.example"], SELECTEL_TOKEN=OWN
    )
    assert "needs all three" in err and "TICKETS_MCP_OAUTH_JWKS_URL, TICKETS_MCP_OAUTH_AUDIENCE" in err
    err = refused_start(
        [
            "--transport",
            "http",
            "--oauth-issuer",
            "https://i.example",
            "--oauth-jwks-url",
            "https://i.example/k",
        ],
        TICKETS_MCP_OAUTH_AUDIENCE="https://tickets.example/mcp",
        TICKETS_MCP_HTTP_TOKEN="a-static-bearer-token",
        SELECTEL_TOKEN=OWN,
    )
    assert "two gates" in err and "a-static-bearer-token" not in err


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"transport": "stdio"}, "needs --transport http"),
        ({"oauth_audience": "tickets.example/mcp"}, "TICKETS_MCP_OAUTH_AUDIENCE must be an http(s) URL"),
        ({"oauth_issuer": "ftp://issuer.example"}, "TICKETS_MCP_OAUTH_ISSUER must be an http(s) URL"),
        (
            {"oauth_jwks_url": "http://issuer.example/jwks.json"},
            "must be an https URL (http only on loopback)",
        ),
        ({"oauth_audience": None}, "missing: TICKETS_MCP_OAUTH_AUDIENCE"),
    ],
)
def test_invalid_oauth_settings_are_named(overrides: dict[str, object], message: str) -> None:
    values = {"transport": "http", **OAUTH, **overrides}
    with pytest.raises(ValidationError, match=r"(?s)" + message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**{k: v for k, v in values.items() if v is not None})


def test_oauth_is_a_gate_for_an_exposed_bind() -> None:
    exposed = Settings(transport="http", host="0.0.0.0", sandbox=True, **OAUTH)
    assert exposed.oauth_enabled and exposure_problem(exposed) is None
    assert exposure_problem(Settings(transport="http", host="0.0.0.0", sandbox=True)) is not None
    loopback_jwks = Settings(transport="http", **{**OAUTH, "oauth_jwks_url": "http://127.0.0.1:9/jwks"})
    assert loopback_jwks.oauth_enabled


async def test_behind_a_path_prefix_the_metadata_is_where_the_401_points_and_at_the_mcp_path() -> None:
    from tickets_mcp.mcp_server.server import build_http_app, build_server

    audience = "https://proxy.example/tickets/mcp"
    settings = Settings(transport="http", sandbox=True, **{**OAUTH, "oauth_audience": audience})
    app = build_http_app(build_server(settings), settings)
    transport = httpx2.ASGITransport(app=app)  # no lifespan needed: the gate answers before the transport
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        answer = await http.post("/mcp", json=LIST, headers=MCP_HEADERS)
        pointed = "https://proxy.example/.well-known/oauth-protected-resource/tickets/mcp"
        assert answer.status_code == 401 and f'resource_metadata="{pointed}"' in challenge(answer)
        for path in (
            "/.well-known/oauth-protected-resource/tickets/mcp",
            "/.well-known/oauth-protected-resource/mcp",
        ):
            document = (await http.get(path)).json()
            assert document["resource"] == audience
            assert document["scopes_supported"] == ["tickets:read", "tickets:write"]
