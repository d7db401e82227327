"""Every kind of secret the scanner knows stops `add_comment` until the user agrees, in both protocol eras.

For each kind, a comment holding one is declined: nothing reaches the sandbox, and the question names the
kind without echoing the value. One accepted case shows the approved text is sent as it was. The tokens
are built at run time (`fake`), so the source holds no literal a push-protection scanner would take for a
leaked key.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from typing import Any

import pytest
from mcp import Client

from support.mcp_client import Elicitor, text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def fake(n: int, alphabet: str = ALNUM, *, seed: str = "") -> str:
    rng = random.Random(f"e2e{n}{alphabet}{seed}")
    return "".join(rng.choice(alphabet) for _ in range(n))


PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"
TWILIO_SID = "AC" + fake(32, HEX, seed="sid")

# kind: (the name the question uses, the secret, the comment that holds it)
CASES: dict[str, tuple[str, str, str]] = {}


def case(kind: str, name: str, secret: str, body: str = "Here it is: {}") -> None:
    CASES[kind] = (name, secret, body.format(secret))


case(
    "openai_key",
    "an OpenAI API key",
    "sk-proj-" + fake(74, URLSAFE) + "T3Blbk" + "FJ" + fake(74, URLSAFE, seed="b"),
)
case("anthropic_key", "an Anthropic API key", "sk-ant-" + "api03-" + fake(93, URLSAFE) + "AA")
case("google_api_key", "a Google API key", "AIza" + fake(35, URLSAFE))
case(
    "telegram_bot_token",
    "a Telegram bot token",
    "7412345678:AA" + fake(33, URLSAFE),
    "bot token {} stopped working",
)
case(
    "azure_connection_string",
    "an Azure connection string with a key",
    base64.b64encode(random.Random("e2e-azure").randbytes(64)).decode(),
    "DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey={};EndpointSuffix=core.windows.net",
)
case(
    "netrc_password",
    "a .netrc password",
    "nEtrc-" + fake(10),
    "My ~/.netrc:\nmachine git.example.com login anna password {}",
)
case(
    "pgpass_password",
    "a .pgpass password",
    "pgPass" + fake(10),
    "~/.pgpass:\ndb.internal:5432:shop:shop_app:{}\n",
)
case(
    "private_key_base64",
    "a base64-encoded private key",
    base64.b64encode(PEM.encode()).decode(),
    "kind: Secret\ndata:\n  id_ed25519: {}",
)
case("npm_token", "an npm token", "npm_" + fake(36))
case("pypi_token", "a PyPI token", "pypi-" + "AgEIcHlwaS5vcmc" + fake(120, URLSAFE))
case(
    "docker_hub_token",
    "a Docker Hub access token",
    "dckr_" + "pat_" + fake(27, URLSAFE),
    "docker login -u anna -p {}",
)
case("huggingface_token", "a Hugging Face token", "hf_" + fake(34, string.ascii_letters))
case("digitalocean_token", "a DigitalOcean token", "dop_" + "v1_" + fake(64, HEX))
case("sendgrid_key", "a SendGrid API key", "SG." + fake(22, URLSAFE) + "." + fake(43, URLSAFE))
case("twilio_key", "a Twilio API key", "SK" + fake(32, HEX, seed="sk"))
case(
    "twilio_auth_token",
    "a Twilio auth token",
    fake(32, HEX, seed="auth"),
    f"curl -u {TWILIO_SID}:{{}} https://api.twilio.com/2010-04-01/Accounts.json",
)
case("mailgun_key", "a Mailgun API key", "key-" + fake(32, HEX, seed="mg"))
case(
    "yandex_iam_token",
    "a Yandex Cloud IAM token",
    "t1." + "9euelZq" + fake(120, URLSAFE) + "." + fake(86, URLSAFE),
)
case(
    "yandex_oauth_token",
    "a Yandex OAuth token",
    "y0_" + "AgAAAA" + fake(52, URLSAFE),
    "Authorization: OAuth {}",
)
case("yandex_api_key", "a Yandex Cloud API key", "AQVN" + fake(36, URLSAFE), "Authorization: Api-Key {}")
case(
    "basic_auth",
    "an HTTP Basic auth password",
    base64.b64encode(b"anna:" + fake(12).encode()).decode(),
    "curl -H 'Authorization: Basic {}' https://api.example.com/v1",
)


def comments(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in sandbox.writes() if e["path"].endswith("/comments")]


async def new_ticket(client: Client) -> int:
    args = {
        "summary": f"e2e secret kinds {uuid.uuid4().hex[:8]}",
        "categories": ["cloud_servers"],
        "category_fields": [{"key": "region", "values": ["ru-9"]}],
        "comment_body": "Ping to the floating IP times out.",
    }
    created = await client.call_tool("create_ticket", args)
    assert not created.is_error, text_of(created)
    return int(created.structured_content["ticket"]["number"])


OPEN: dict[tuple[int, str], int] = {}  # an open ticket per sandbox and era: a declined comment leaves it so


@pytest.mark.parametrize("kind", sorted(CASES))
async def test_each_kind_asks_and_a_decline_sends_nothing(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle, era: str, kind: str
) -> None:
    name, secret, body = CASES[kind]
    key = (id(sandbox), era)
    number = OPEN[key] if key in OPEN else OPEN.setdefault(key, await new_ticket(client))
    elicitor.questions.clear()
    elicitor.action = "decline"
    sandbox.clear_journal()
    result = await client.call_tool("add_comment", {"number": number, "body": body})
    (question,) = elicitor.questions
    assert f"{name} in body" in question, question
    assert f"[{kind}]" in question, question  # the body shown is masked by the kind
    assert secret not in question, "the question echoes the secret"
    assert result.structured_content["sent"] is False and "Not sent" in text_of(result)
    assert secret not in text_of(result)
    assert comments(sandbox) == [] and sandbox.writes() == []


async def test_an_accepted_secret_is_sent_as_approved(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    _, secret, body = CASES["pgpass_password"]
    number = await new_ticket(client)
    elicitor.questions.clear()
    elicitor.action = "accept"
    sandbox.clear_journal()
    result = await client.call_tool("add_comment", {"number": number, "body": body})
    assert not result.is_error, text_of(result)
    assert len(elicitor.questions) == 1 and secret not in elicitor.questions[0]
    assert [e["body"]["body"] for e in comments(sandbox)] == [body]
    assert secret not in text_of(result)


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_without_elicitation_a_new_kind_is_refused(sandbox: SandboxHandle, era: str) -> None:
    _, secret, body = CASES["openai_key"]
    async with Client(build_server(make_settings(sandbox)), mode=era) as c:  # cannot ask the user
        number = await new_ticket(c)
        sandbox.clear_journal()
        refused = await c.call_tool("add_comment", {"number": number, "body": body})
        assert refused.is_error and refused.structured_content["code"] == "secret_in_text"
        assert "an OpenAI API key in body" in text_of(refused) and secret not in text_of(refused)
        assert sandbox.writes() == []
