"""Tests for tickets_mcp.mcp_server.secrets (re-exported by safety): every shape found, nothing else, no value echoed."""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import re
import string
import time
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets_mcp.mcp_server import safety, secrets
from tickets_mcp.mcp_server.safety import SecretFinding, describe_secrets, find_secrets
from tickets_mcp.mcp_server.secrets import SecretKind

KINDS = set(get_args(SecretKind))
GENERIC = {
    "password",
    "secret",
    "api_token",
    "connection_string",
    "aws_secret_key",
    "selectel_token",
    "telegram_bot_token",
    "azure_connection_string",
    "netrc_password",
    "pgpass_password",
    "twilio_auth_token",
    "basic_auth",
}
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEXDIGITS = "0123456789abcdef"


def fake(n: int, alphabet: str = ALNUM, *, seed: str = "") -> str:
    """``n`` random characters, the same on every run. The tokens below are built at run time, so the
    source holds no literal a push-protection scanner would take for a leaked key."""
    rng = random.Random(f"{n}{alphabet}{seed}")
    return "".join(rng.choice(alphabet) for _ in range(n))


MARK = "T3Blbk" + "FJ"  # base64 of "OpenAI", inside OpenAI keys
OPENAI_PROJ = "sk-proj-" + fake(74, URLSAFE) + MARK + fake(74, URLSAFE, seed="2")
ANTHROPIC = "sk-ant-" + "api03-" + fake(93, URLSAFE) + "AA"
TELEGRAM = "7412345678:" + "AA" + fake(33, URLSAFE)
AZURE_KEY = base64.b64encode(random.Random("azure").randbytes(64)).decode()
SAS_KEY = base64.b64encode(random.Random("sas").randbytes(32)).decode()
TWILIO_SID, TWILIO_TOKEN = "AC" + fake(32, HEXDIGITS), fake(32, HEXDIGITS, seed="auth")
BASIC = base64.b64encode(b"anna:Zq8rT2p9!").decode()

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
    "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
RSA = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Zq8r+T2p9Xk4Lw7Vb1Nc3Md6Fg\n-----END RSA PRIVATE KEY-----"
SELECTEL = "7fKx2Qm9Zr4Lp0Wn8Tb1Yc6Vd3Ha5Je_123456"
RSA_B64 = base64.b64encode(RSA.encode()).decode()  # what `base64 -w0 id_rsa` and a k8s Secret hold

# Self-identifying tokens: (token, kind, hint).
TOKENS = [
    ("AKIAIOSFODNN7EXAMPLE", "aws_access_key", "AKIA****"),
    ("ASIAY34FZKBOKMUTVV7A", "aws_access_key", "ASIA****"),
    ("AROA3XFRBF535PLBIFPI", "aws_access_key", "AROA****"),
    ("sk_live_51H8abcDEFghiJKLmnoPQRstu", "stripe_key", "sk_l****"),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "stripe_key", "sk_t****"),
    ("rk_live_51H8abcDEFghiJKLmnoPQRstuVWxyz", "stripe_key", "rk_l****"),
    ("ghp_1234567890abcdefghijklmnopqrstuvwxyzAB", "github_token", "ghp_****"),
    ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "github_token", "gho_****"),
    ("ghu_16C7e42F292c6912E7710c838347Ae178B4a", "github_token", "ghu_****"),
    ("ghs_16C7e42F292c6912E7710c838347Ae178B4a", "github_token", "ghs_****"),
    (
        "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
        "github_token",
        "ghr_****",
    ),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV",
        "github_token",
        "gith****",
    ),
    ("glpat-xxxxXXXX1234yyyyZZZZ", "gitlab_token", "glpa****"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack_token", "xoxb****"),
    (
        "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef",
        "slack_token",
        "xoxp****",
    ),
    ("xoxa-2-123456789012-abcdefABCDEF123456", "slack_token", "xoxa****"),
    ("xoxr-123456789012-abcdefABCDEF", "slack_token", "xoxr****"),
    ("xoxs-1234567890-1234567890-1234567890-abcdef0123", "slack_token", "xoxs****"),
    ("xoxo-1234567890-abcdefABCDEF", "slack_token", "xoxo****"),
    (
        "https://hooks.slack.com/services/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",
        "slack_webhook",
        "****",
    ),
    (JWT, "jwt", "eyJ****"),
    (SELECTEL, "selectel_token", "****"),
    ("Q2w3E4r5T6y7U8i9O0pAsDfG_87654321", "selectel_token", "****"),
    (OPENAI_PROJ, "openai_key", "sk-p****"),
    ("sk-svcacct-" + fake(58, URLSAFE) + MARK + fake(58, URLSAFE), "openai_key", "sk-s****"),
    ("sk-" + fake(20, seed="legacy") + MARK + fake(20, seed="legacy2"), "openai_key", "sk-****"),
    ("sk-" + fake(48, seed="plain"), "openai_key", "sk-****"),
    (ANTHROPIC, "anthropic_key", "sk-a****"),
    ("sk-ant-" + "admin01-" + fake(93, URLSAFE, seed="admin") + "AA", "anthropic_key", "sk-a****"),
    ("AIza" + fake(35, URLSAFE), "google_api_key", "AIza****"),
    (TELEGRAM, "telegram_bot_token", "****"),
    (RSA_B64, "private_key_base64", "LS0t****"),
    ("npm_" + fake(36), "npm_token", "npm_****"),
    ("pypi-" + "AgEIcHlwaS5vcmc" + fake(120, URLSAFE), "pypi_token", "pypi****"),
    ("pypi-" + "AgENdGVzdC5weXBpLm9yZw" + fake(90, URLSAFE), "pypi_token", "pypi****"),
    ("dckr_" + "pat_" + fake(27, URLSAFE), "docker_hub_token", "dckr****"),
    ("hf_" + fake(34, string.ascii_letters), "huggingface_token", "hf_****"),
    ("dop_" + "v1_" + fake(64, HEXDIGITS), "digitalocean_token", "dop_****"),
    ("doo_" + "v1_" + fake(64, HEXDIGITS, seed="o"), "digitalocean_token", "doo_****"),
    ("dor_" + "v1_" + fake(64, HEXDIGITS, seed="r"), "digitalocean_token", "dor_****"),
    ("SG." + fake(22, URLSAFE) + "." + fake(43, URLSAFE), "sendgrid_key", "SG.****"),
    ("SK" + fake(32, HEXDIGITS, seed="sk"), "twilio_key", "SK****"),
    ("key-" + fake(32, HEXDIGITS, seed="mailgun"), "mailgun_key", "key-****"),
    ("t1." + "9euelZq" + fake(120, URLSAFE) + "." + fake(86, URLSAFE), "yandex_iam_token", "t1.****"),
    ("y0_" + "AgAAAA" + fake(52, URLSAFE), "yandex_oauth_token", "y0_****"),
    ("AQAAAAA" + fake(32, URLSAFE, seed="ya"), "yandex_oauth_token", "AQAA****"),
    ("AQVN" + fake(36, URLSAFE), "yandex_api_key", "AQVN****"),
]
WRAPPERS = [
    "{}",
    "Here is the key: {} — please check.",
    "see below\n{}\nregards",
    "ключ {}, не публикуйте его",
    "Добрый день! Токен доступа «{}».",
    'config: "{}"',
    "export KEY='{}'",
    "curl -H 'Authorization: Bearer {}' https://api.example.com",
    "(auth {})",
]


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize(("token", "kind", "hint"), TOKENS)
def test_tokens_found_anywhere(token: str, kind: SecretKind, hint: str, wrapper: str) -> None:
    text = wrapper.format(token)
    assert find_secrets(text) == [
        SecretFinding(kind, text.index(token), text.index(token) + len(token), hint)
    ]


# Labelled values: (text, kind, the exact secret span).
LABELLED = [
    ("password: Hunter2!", "password", "Hunter2!"),
    ("password=Hunter2", "password", "Hunter2"),
    ("Login: root, password: Tr0ub4dor&3, host 10.0.0.5", "password", "Tr0ub4dor&3"),
    ("passwd: Tr0ub4dor&3", "password", "Tr0ub4dor&3"),
    ("pwd=S3cure!pw", "password", "S3cure!pw"),
    ("pass: Qwerty123", "password", "Qwerty123"),
    ("ssh root@203.0.113.5 pass: Qwerty123", "password", "Qwerty123"),
    ('{"user": "anna", "password": "s3cr3t-P@ss"}', "password", "s3cr3t-P@ss"),
    ("DB_PASSWORD='p@ss w0rd'", "password", "p@ss w0rd"),
    ("MYSQL_ROOT_PASSWORD=Zq8rT2p9", "password", "Zq8rT2p9"),
    ("spring.datasource.password=Zq8rT2p9", "password", "Zq8rT2p9"),
    ("My password is Hunter2!", "password", "Hunter2!"),
    ("the password for root: Zq8rT2p9 (changed yesterday)", "password", "Zq8rT2p9"),
    ("mysql -u root --password Zq8rT2p9 -h db", "password", "Zq8rT2p9"),
    ("mysql -u root --password=Zq8rT2p9 -h db", "password", "Zq8rT2p9"),
    ("password: `Zq8rT2p9`", "password", "Zq8rT2p9"),
    ("password: admin", "password", "admin"),
    ("password: 123456", "password", "123456"),
    ("Пароль: Qwerty123", "password", "Qwerty123"),
    ("пароль=мойпароль2024", "password", "мойпароль2024"),
    ("Здравствуйте! Мой пароль от сервера: Zq8!rT2p, логин root.", "password", "Zq8!rT2p"),
    ("Пароль от root — Zq8rT2p9", "password", "Zq8rT2p9"),
    ("пароль: «Qwerty123»", "password", "Qwerty123"),
    ("Доступ: логин admin, пароль: Qwerty123.", "password", "Qwerty123"),
    ("secret=Zx8vB2nM4kL6", "secret", "Zx8vB2nM4kL6"),
    ("secret: 'Zx8vB2nM4kL6'", "secret", "Zx8vB2nM4kL6"),
    (
        "/token?client_secret=GOCSPX-abcdEFGH1234ijkl5678&grant_type=code",
        "secret",
        "GOCSPX-abcdEFGH1234ijkl5678",
    ),
    ("secret key = Zx8vB2nM4kL6", "secret", "Zx8vB2nM4kL6"),
    ("api_key=9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c", "api_token", "9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"),
    (
        "Our API key is 9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c, please rotate.",
        "api_token",
        "9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    ),
    ('"x-api-key": "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5"', "api_token", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5"),
    ("token: Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5", "api_token", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5"),
    ("GET /download?file=a.zip&access_token=ya29a0AfH6SMBx7Yq2 HTTP/1.1", "api_token", "ya29a0AfH6SMBx7Yq2"),
    ("Токен: gAAAAABm3kF2x9QpLw0aZ", "api_token", "gAAAAABm3kF2x9QpLw0aZ"),
    ("Authorization: Bearer 8fK2mQ9xZr4Lp0Wn8Tb1Yc6V", "api_token", "8fK2mQ9xZr4Lp0Wn8Tb1Yc6V"),
    ("X-Token: " + SELECTEL, "selectel_token", SELECTEL),
    ("token=" + JWT, "jwt", JWT),
    (
        "password: ghp_1234567890abcdefghijklmnopqrstuvwxyzAB",
        "github_token",
        "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB",
    ),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        '"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        "aws_secret_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("postgres://user:pass@host", "connection_string", "pass"),
    ("DATABASE_URL=postgres://app:S3cretPass@db.internal:5432/app", "connection_string", "S3cretPass"),
    ("Подключение: mysql://root:Zq8rT2p9@10.0.0.5:3306/shop", "connection_string", "Zq8rT2p9"),
    ("amqp://guest:guest@rabbit:5672/", "connection_string", "guest"),
    (
        f"DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
        "azure_connection_string",
        AZURE_KEY,
    ),
    (
        "Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={SAS_KEY}",
        "azure_connection_string",
        SAS_KEY,
    ),
    ("machine api.example.com login anna password Zq8rT2p9", "netrc_password", "Zq8rT2p9"),
    ("machine host login user password secret", "netrc_password", "secret"),
    (
        "~/.netrc:\nmachine 10.0.0.5\n    login deploy\n    password s3cret-Pw\n",
        "netrc_password",
        "s3cret-Pw",
    ),
    ("My .netrc: `default login anonymous password Tr0ub4dor&3`", "netrc_password", "Tr0ub4dor&3"),
    ("db.internal:5432:shop:shop_app:S3cr3tPw", "pgpass_password", "S3cr3tPw"),
    ("~/.pgpass:\nlocalhost:*:*:postgres:Zq8rT2p9\n", "pgpass_password", "Zq8rT2p9"),
    ("*:*:*:replicator:p\\:ss-w0rd", "pgpass_password", "p\\:ss-w0rd"),
    ("Authorization: Basic " + BASIC, "basic_auth", BASIC),
    (f"curl -H 'Authorization: basic {BASIC}' https://api.example.com", "basic_auth", BASIC),
    ("TWILIO_AUTH_TOKEN=" + TWILIO_TOKEN, "twilio_auth_token", TWILIO_TOKEN),
    (
        f"curl -u {TWILIO_SID}:{TWILIO_TOKEN} https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
        "twilio_auth_token",
        TWILIO_TOKEN,
    ),
    (f'client = Client("{TWILIO_SID}", "{TWILIO_TOKEN}")', "twilio_auth_token", TWILIO_TOKEN),
    (f'account_sid = "{TWILIO_SID}"\nauth_token = "{TWILIO_TOKEN}"', "twilio_auth_token", TWILIO_TOKEN),
    (f"https://api.telegram.org/bot{TELEGRAM}/getMe", "telegram_bot_token", TELEGRAM),
    ("OPENAI_API_KEY=" + OPENAI_PROJ, "openai_key", OPENAI_PROJ),
    (
        "tls.key: |\n  " + "\n  ".join(base64.encodebytes(RSA.encode()).decode().split()),
        "private_key_base64",
        None,
    ),
    ("kind: Secret\ndata:\n  id_rsa: " + RSA_B64 + "\n", "private_key_base64", RSA_B64),
    (RSA, "private_key", RSA),
    ("Вот ключ:\n" + RSA + "\nспасибо", "private_key", RSA),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
        "private_key",
        None,
    ),
    (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkLmN0pQrStUvWx\n-----END EC PRIVATE KEY-----",
        "private_key",
        None,
    ),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq\n", "private_key", None),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF9abcdefGHIJKLmnop12\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
        "private_key",
        None,
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB12CD\n\nMIIEpAIBAAKCAQEA0Zq8r+T2",
        "private_key",
        None,
    ),
]


@pytest.mark.parametrize(("text", "kind", "secret"), LABELLED)
def test_labelled_values_found(text: str, kind: str, secret: str | None) -> None:
    (found,) = find_secrets(text)
    assert found.kind == kind
    value = text[found.start : found.end]
    if secret is not None:
        assert value == secret
    if kind == "private_key":
        assert value.startswith("-----BEGIN ") and found.hint.startswith(value.split("\n")[0])
    elif kind in GENERIC:
        assert found.hint == "****"


HINT = re.compile(r"(.{0,4})\*\*\*\*")


@pytest.mark.parametrize(
    "text", [t for t, _, _ in TOKENS] + [t for t, k, _ in LABELLED if k != "private_key"]
)
def test_hints_never_carry_the_value(text: str) -> None:
    for f in find_secrets(text):
        value = text[f.start : f.end]
        m = HINT.fullmatch(f.hint)
        assert m, f.hint
        assert value.startswith(m.group(1)) and len(m.group(1)) < len(value) // 2
        if f.kind in GENERIC:
            assert f.hint == "****"
        # the prefix is the format's fixed marker, never a piece of the random part
        assert m.group(1) in FIXED_PREFIXES or re.fullmatch(r"gh[pousr]_|xox[baprso]|do[opr]_", m.group(1))


FIXED_PREFIXES = {
    *("", "AKIA", "ASIA", "AROA", "sk_l", "sk_t", "rk_l", "gith", "glpa", "eyJ"),
    *("sk-p", "sk-s", "sk-a", "sk-", "AIza", "LS0t", "npm_", "pypi", "dckr", "hf_", "SG.", "SK", "key-"),
    *("t1.", "y0_", "AQAA", "AQVN"),
}


def test_every_kind_is_covered_and_closed() -> None:
    seen = {k for _, k, _ in TOKENS} | {k for _, k, _ in LABELLED}
    assert seen == KINDS
    assert set(secrets.__all__) >= {"SecretFinding", "find_secrets", "describe_secrets"}
    assert safety.find_secrets is secrets.find_secrets and safety.SecretFinding is secrets.SecretFinding


NEGATIVES = [
    # plain words after a label, prose
    "Password: incorrect",
    "Password: incorrect, the panel says.",
    "the secret is out",
    "secret: unknown",
    "token expired",
    "Token: expired",
    "The token expired yesterday; the password is required again.",
    "Please reset the password for user anna.",
    "passwd: password updated successfully",
    "password: ******** (hidden)",
    "password: <your password>",
    "password = ${DB_PASSWORD}",
    "password: $DB_PASSWORD",
    "password: %DB_PASS%",
    "password: {{ vault_db_pass }}",
    "password: xxx",
    "password: XXXXXXXX",
    "password: [REDACTED]",
    "Password: N/A",
    "DB_PASSWORD=$(cat /run/secrets/db)",
    "password: SecretStr | None = None",
    "Password changed at: 2024-11-30 10:00",
    "Password length: 12",
    "Password hash: 5f4dcc3b5aa765d61d8327deb882cf99",
    "pass: 15/15",
    "pass: 100%",
    "PASS: test_login_2fa",
    "tests pass=42 fail=0",
    "pwd=/var/www/html",
    "PWD: /home/user",
    "secret: my-app-tls",
    "token: pending",
    "token=550e8400-e29b-41d4-a716-446655440000",
    "next_page_token=CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA2",
    "CSRF token: 9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    "max_tokens=4096, tokens: 1500",
    "Authorization header missing, Bearer realm=api",
    "my file starts with -----BEGIN RSA PRIVATE KEY----- and ssh rejects it",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk user@host",
    "AKIA is the prefix of AWS access keys",
    "xoxo-hugs-and-kisses-from-anna",
    "Connect with postgres://app@db.internal:5432/app (no password).",
    "Use postgres://user:<password>@host/db as in the docs.",
    "See https://docs.selectel.ru/en/api/authorization/#static-token for details.",
    # Russian prose
    "Я сбросил пароль вчера, но войти не могу.",
    "Пароль не подходит, хотя я его менял.",
    "Забыл пароль от панели управления, помогите.",
    "Пароль: неверный",
    "Пароль — это важно, не сообщайте его никому.",
    "Пароль должен содержать не менее 8 символов.",
    "Как сменить пароль? Пароль: только через панель.",
    "Токен истёк, выпустил новый.",
    # identifiers, numbers, hashes
    "build_release_candidate_20241130",
    "ticket_number_2401007",
    "buildReleaseCandidateV2_20241130",
    "snapshot_ru_9a_volume_backup_12345678",
    "3f2a1b0c9d8e7f6a5b4c3f2a1b0c9d8e7f6a5b4c_20241130.tar.gz",
    "Ticket #2401007, comment 9100071, order ORD-20241130-7f3a9c, invoice 2024/11/000123.",
    "IBAN DE89370400440532013000, RU0204452560040702810412345678901, GB82WEST12345698765432",
    "Server 5a3e2c1b-4d6f-7a8b-9c0d-1e2f3a4b5c6d is down since 10:00 UTC.",
    "https://my.selectel.ru/servers/5a3e2c1b-4d6f-7a8b-9c0d-1e2f3a4b5c6d/console?tab=log&page=2",
    "Commit 3f2a1b0c9d8e7f6a5b4c3f2a1b0c9d8e7f6a5b4c fixed it (short 3f2a1b0).",
    "md5 5f4dcc3b5aa765d61d8327deb882cf99 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "Digest: sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    # logs
    "Nov 30 10:00:01 web1 sshd[1234]: Failed password for invalid user admin from 203.0.113.5 port 52144 ssh2",
    "Nov 30 10:00:02 web1 sshd[1234]: Accepted password for deploy from 203.0.113.5 port 52144 ssh2",
    "Nov 30 10:00:03 web1 sshd[1234]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    "tty=ssh ruser= rhost=203.0.113.5  user=root",
    '203.0.113.5 - - [30/Nov/2024:10:00:01 +0300] "GET /api/v1/tickets?page=2&per_page=50&sort=-created_at '
    'HTTP/1.1" 200 5123 "https://my.selectel.ru/" "Mozilla/5.0 (X11; Linux x86_64) curl/8.4.0"',
    '10.0.0.7 - - [30/Nov/2024:10:00:02 +0000] "POST /v2/orders/9f8a7b6c/items?lang=ru&utm_source=mail HTTP/2" '
    "201 88 0.042",
    "2024-11-30T10:00:01.123Z ERROR [req 5a3e2c1b-4d6f-7a8b-9c0d-1e2f3a4b5c6d] upstream timed out (110: "
    "Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: "
    'api.example.com, request: "POST /v2/orders HTTP/1.1", upstream: "http://127.0.0.1:8080/v2/orders"',
    "kernel: [ 1234.567890] EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null)",
    "kernel: [ 8.123456] e1000e 0000:00:1f.6 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None",
    "eth0: link up, MAC 52:54:00:12:34:56, inet6 fe80::5054:ff:fe12:3456/64 scope link",
    "systemd[1]: Started Session 42 of user root.",
    'Traceback (most recent call last):\n  File "/app/auth.py", line 42, in login\n'
    "    password = request.form['password']\nKeyError: 'password'",
    "    token = session.token\nAttributeError: 'NoneType' object has no attribute 'token'",
    "PASSWORD = os.getenv('DB_PASSWORD')",
    "password=settings.DB_PASSWORD",
    'Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed for user "app"',
    "\tat com.example.auth.PasswordService.check(PasswordService.java:42)",
    "data=SGVsbG8gV29ybGQhIFRoaXMgaXMgYSB0ZXN0IG9mIGJhc2U2NA== len=44",
    "payload eyJ1c2VyIjoiYW5uYSIsInJvbGUiOiJhZG1pbiJ9 logged",
    "cookie session=eyJ1c2VyIjoiYW5uYSJ9.Zx8vB2.nM4kL6abc-defGHI (flask, not a JWT header)",
    # prefixes of the token kinds, in prose and identifiers
    "We use sk-learn and sk-image; the risk-assessment-2024 doc is attached.",
    "sk-" + "a" * 48,
    "sk-proj-<your-project-key>",
    "sk-ant-api03-... (redacted)",
    "AIza is how Google API keys start",
    "npm_config_registry=https://registry.npmjs.org/ npm_lifecycle_event=postinstall",
    "HF_HOME=/data/hf_cache, model hf_internal_testing_tiny_random_bert",
    "hf_" + "abcdefghijklmnopqrstuvwxyzabcdefgh",
    "dckr_pat_<token>",
    "SG.1234 is the SendGrid sub-account",
    "SKU-2024-0001, SKIP_TESTS=1",
    "Use a key-value store; key-rotation-policy-2024 applies.",
    "instance types t1.micro, t1.small and t2.large",
    "y0_coordinate_offset_value_for_the_chart_rendering_engine_v",
    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "Account " + TWILIO_SID + " was suspended (the SID alone is not a secret)",
    "dop_v1_" + "0" * 64,
    # Telegram-like numbers
    "chat_id: -1001234567890, message 42:Abc",
    "1700000000:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    # Azure, .netrc, .pgpass, Basic auth: placeholders and look-alikes
    "DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey=<your-account-key>;EndpointSuffix=core.windows.net",
    "AccountKey=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "UseDevelopmentStorage=true",
    "Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey",
    "I restarted the machine and login fails, password reset did not help.",
    "Machine web1: login root, password reset required",
    "machine example.com login <user> password <password>",
    "machine example.com login anna password ${NETRC_PASSWORD}",
    "the format is host:port:database:username:password",
    "localhost:5432:*:postgres:*",
    "root:x:0:0:root:/root:/bin/bash",
    "2024-11-30 10:00:01:123 INFO pool: 10:00:01:123:456 ok",
    "MAC 52:54:00:12:34:56, IPv6 2001:db8:85a3:0:8a2e:370:7334, fe80::1",
    "WARN:db.pool:5432:app:timeout",
    "Basic auth is enabled on the panel",
    'WWW-Authenticate: Basic realm="api"',
    "Authorization: Basic dXNlcm5hbWU=",
    "Authorization: Basic dXNlcjo=",
    "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "Authorization: Basic <base64 of user:password>",
    # base64 that is not a private key, and data URLs
    "tls.crt: "
    + base64.b64encode(
        b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ3\n-----END CERTIFICATE-----"
    ).decode(),
    base64.b64encode(
        b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n-----END PUBLIC KEY-----"
    ).decode(),
    "only the header: " + base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----").decode(),
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    '<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">',
    # request ids, traces, short SHAs
    "X-Request-Id: req_8f3a2b1c9d0e4f5a6b7c8d9e, request_id=01HF8ZJ6Q3K9X2V7N4M5B8C1D0",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "x-amz-request-id: 4442587FB7D0A2F9, x-amz-id-2: vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
    "Cherry-picked 3f2a1b0, 9c8d7e6 and 1a2b3c4d5e6f onto release/2024.11",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_positives(text: str) -> None:
    assert find_secrets(text) == []


# --- property tests: ordinary identifiers and log lines never produce findings -------------------------------

HEX = st.binary(min_size=1, max_size=64).flatmap(
    lambda b: st.sampled_from(
        [hashlib.md5(b).hexdigest(), hashlib.sha1(b).hexdigest(), hashlib.sha256(b).hexdigest()]
    )
)
IPV4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
WORD = st.from_regex(r"[a-z]{2,10}", fullmatch=True)
PATH = st.lists(
    st.one_of(WORD, st.uuids().map(str), st.integers(1, 10**9).map(str)), min_size=1, max_size=5
).map(lambda parts: "/" + "/".join(parts))
QUERY_KEYS = [
    "page",
    "per_page",
    "sort",
    "q",
    "lang",
    "id",
    "ticket",
    "limit",
    "offset",
    "utm_source",
    "region",
]
QUERY = st.lists(
    st.tuples(
        st.sampled_from(QUERY_KEYS), st.one_of(WORD, st.integers(0, 10**8).map(str), st.uuids().map(str))
    ),
    max_size=4,
).map(lambda kv: ("?" + "&".join(f"{k}={v}" for k, v in kv)) if kv else "")
TIMESTAMP = st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds") + "Z")


@st.composite
def log_lines(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    ts, ip = draw(TIMESTAMP), draw(IPV4)
    if kind == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
        status, size = draw(st.integers(100, 599)), draw(st.integers(0, 10**7))
        return (
            f'{ip} - - [{ts}] "{method} {draw(PATH)}{draw(QUERY)} HTTP/1.1" {status} {size} "-" "curl/8.4.0"'
        )
    if kind == 1:
        mac = ":".join(f"{draw(st.integers(0, 255)):02x}" for _ in range(6))
        return f"{ts} kernel: [{draw(st.floats(0, 1e6, allow_nan=False)):.6f}] eth0: link up, MAC {mac}, {ip}"
    if kind == 2:
        return f"{ts} ERROR [req {draw(st.uuids())}] upstream {ip}:{draw(st.integers(1, 65535))} timed out"
    if kind == 3:
        return f'  File "{draw(PATH)}.py", line {draw(st.integers(1, 9999))}, in {draw(WORD)}\n    {draw(WORD)}()'
    if kind == 4:
        return f"{ts} deploy {draw(HEX)} of {draw(WORD)}_{draw(WORD)}_{draw(st.integers(10**4, 10**8))} ok"
    blob = base64.b64encode(draw(st.binary(min_size=1, max_size=120))).decode()
    return f"{ts} {draw(WORD)}: data={blob} ticket={draw(st.integers(1, 10**7))}"


DATA_URL = st.tuples(
    st.sampled_from(["image/png", "image/jpeg", "application/pdf"]), st.binary(max_size=90)
).map(lambda t: f"data:{t[0]};base64,{base64.b64encode(t[1]).decode()}")
REQUEST_ID = st.one_of(
    HEX.map(lambda h: f"X-Request-Id: req_{h[:24]}"),
    st.uuids().map(lambda u: f"request_id={u.hex}"),
    st.tuples(IPV4, st.integers(1, 65535)).map(lambda t: f"upstream {t[0]}:{t[1]}"),
    st.binary(min_size=20, max_size=20).map(lambda b: f"commit {b.hex()} (short {b.hex()[:7]})"),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.uuids().map(str), HEX, HEX.map(str.upper), log_lines(), DATA_URL, REQUEST_ID),
        min_size=1,
        max_size=8,
    )
)
def test_ordinary_text_never_flagged(parts: list[str]) -> None:
    for sep in (" ", "\n"):
        assert find_secrets(sep.join(parts)) == []


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z]{2,12}(?:_[a-z]{2,12}){0,4}_[0-9]{5,8}", fullmatch=True))
def test_snake_case_with_numbers_never_flagged(identifier: str) -> None:
    assert find_secrets(f"job {identifier} finished") == []


def test_selectel_tokens_recall_on_random_strings() -> None:
    rng = random.Random(20241130)
    alphabet = string.ascii_letters + string.digits
    for length, wanted in ((20, 0.95), (27, 0.98), (32, 0.99)):
        hits = 0
        for _ in range(500):
            token = "".join(rng.choice(alphabet) for _ in range(length)) + f"_{rng.randint(10**4, 10**8 - 1)}"
            hits += [f.kind for f in find_secrets(f"X-Token: {token}")] == ["selectel_token"]
        assert hits / 500 >= wanted, (length, hits)


# --- order, overlaps, describe_secrets ------------------------------------------------------------------------


def test_findings_in_order_without_overlaps() -> None:
    text = f"AKIAIOSFODNN7EXAMPLE then пароль: Qwerty123 and {JWT}\n{RSA}\npostgres://a:Zq8rT2p9@h x-token={SELECTEL}"
    found = find_secrets(text)
    assert [f.kind for f in found] == [
        "aws_access_key",
        "password",
        "jwt",
        "private_key",
        "connection_string",
        "selectel_token",
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_describe_secrets() -> None:
    text = "key AKIAIOSFODNN7EXAMPLE, password: Tr0ub4dor&3"
    assert (
        describe_secrets(find_secrets(text), "comment_body")
        == "an AWS access key and a password in comment_body"
    )
    three = find_secrets(f"password: Tr0ub4dor&3 pass=Zq8rT2p9 {JWT} пароль: Qwerty123")
    assert describe_secrets(three, "summary") == "three passwords and a JWT in summary"
    one = find_secrets(RSA)
    assert describe_secrets(one, "the close comment") == "a private key in the close comment"
    assert describe_secrets([], "summary") == "no secrets in summary"
    mixed_text = f"{SELECTEL} ghp_1234567890abcdefghijklmnopqrstuvwxyzAB secret=Zx8vB2nM4kL6"
    mixed = find_secrets(mixed_text)
    sentence = describe_secrets(mixed, "comment_body")
    assert sentence == "a Selectel static token, a GitHub token and a secret in comment_body"
    assert not any(mixed_text[f.start : f.end] in sentence for f in mixed)


def test_describe_names_the_new_kinds_without_values() -> None:
    text = (
        f"key {OPENAI_PROJ}, bot {TELEGRAM}\nmachine git.example.com login anna password Zq8rT2p9\n"
        f"Authorization: Basic {BASIC}\nAccountKey={AZURE_KEY}"
    )
    found = find_secrets(text)
    sentence = describe_secrets(found, "body")
    assert sentence == (
        "an OpenAI API key, a Telegram bot token, a .netrc password, an HTTP Basic auth password and an "
        "Azure connection string with a key in body"
    )
    assert not any(text[f.start : f.end] in sentence for f in found)
    two = find_secrets(f"{TELEGRAM} {TELEGRAM[:-1]}x")
    assert describe_secrets(two, "comment") == "two Telegram bot tokens in comment"


def test_every_kind_has_a_name() -> None:
    assert set(secrets._NAMES) == KINDS
    for one, many in secrets._NAMES.values():
        assert re.match(r"(?:an?|) ?\S", one) and one.split(" ", 1)[0] in {"a", "an"} and many


DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_documented_kinds_are_the_scanned_kinds() -> None:
    """docs/decisions.md lists each shape with its kind in parentheses: exactly the kinds of the code."""
    page = (DOCS / "decisions.md").read_text(encoding="utf-8")
    section = page.split("## Secret scanner", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"\(`([a-z0-9_]+)`\)", section)) == KINDS
    for name in ("threads-and-writes.md", "security.md"):
        assert "decisions.md#secret-scanner-precision-first-shapes" in (DOCS / name).read_text(
            encoding="utf-8"
        )


def test_linear_time_on_hostile_input() -> None:
    hostile = [
        "a" * 200_000,
        "password=" * 20_000,
        "aws secret " * 20_000,
        "-----BEGIN RSA PRIVATE KEY-----" * 5_000,
        "x:" * 100_000 + "@",
        "eyJ" + "a" * 100_000 + ".",
        "Aa1" * 70_000 + "_",
        "token for x for y " * 10_000,
        "LS0tLS1CRUdJTi" + ("A" * 76 + "\n") * 3_000,
        "machine h login u " * 20_000,
        ("a:1:b:c:" * 25_000) + " ",
        "AC" + "0" * 32 + " " + "x" * 200_000,
        "t1." + "a" * 200_000,
        "Basic " * 30_000,
        "AccountKey=" + "A" * 200_000,
        "12345:" + "A" * 200_000,
    ]
    for text in hostile:
        started = time.perf_counter()
        find_secrets(text)
        assert time.perf_counter() - started < 3, text[:20]
