"""Tests for tickets_mcp.mcp_server.secrets (re-exported by safety): every shape found, nothing else, no value echoed."""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import re
import string
import time
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets_mcp.mcp_server import safety, secrets
from tickets_mcp.mcp_server.safety import SecretFinding, describe_secrets, find_secrets
from tickets_mcp.mcp_server.secrets import SecretKind

KINDS = set(get_args(SecretKind))
GENERIC = {"password", "secret", "api_token", "connection_string", "aws_secret_key", "selectel_token"}

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
    "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
RSA = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Zq8r+T2p9Xk4Lw7Vb1Nc3Md6Fg\n-----END RSA PRIVATE KEY-----"
SELECTEL = "7fKx2Qm9Zr4Lp0Wn8Tb1Yc6Vd3Ha5Je_123456"

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
        assert m.group(1) in {"", "AKIA", "ASIA", "AROA", "sk_l", "sk_t", "rk_l", "gith", "glpa", "eyJ"} or (
            re.fullmatch(r"gh[pousr]_|xox[baprso]", m.group(1))
        )


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.uuids().map(str), HEX, HEX.map(str.upper), log_lines()), min_size=1, max_size=8))
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
    ]
    for text in hostile:
        started = time.perf_counter()
        find_secrets(text)
        assert time.perf_counter() - started < 3, text[:20]
