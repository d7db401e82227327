"""Credentials pasted into text the server sends: :func:`find_secrets` and :func:`describe_secrets`.

Only well-known shapes are reported, each self-identifying (a fixed prefix), labelled, or in a file
format's fixed layout (``.netrc``, ``.pgpass``), since a false alarm stops a write; a finding's ``hint``
never holds the value. The shapes, and why precision first: docs/decisions.md (a test holds that list to
:data:`SecretKind`). Patterns compile on first use (cold start is measured), and each runs only on a text
holding its prefix or label.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["SecretFinding", "SecretKind", "describe_secrets", "find_secrets"]

SecretKind = Literal[
    "aws_access_key",
    "aws_secret_key",
    "stripe_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "slack_webhook",
    "jwt",
    "private_key",
    "password",
    "secret",
    "api_token",
    "connection_string",
    "selectel_token",
    "openai_key",
    "anthropic_key",
    "google_api_key",
    "telegram_bot_token",
    "azure_connection_string",
    "netrc_password",
    "pgpass_password",
    "private_key_base64",
    "npm_token",
    "pypi_token",
    "docker_hub_token",
    "huggingface_token",
    "digitalocean_token",
    "sendgrid_key",
    "twilio_key",
    "twilio_auth_token",
    "mailgun_key",
    "yandex_iam_token",
    "yandex_oauth_token",
    "yandex_api_key",
    "basic_auth",
]


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """A credential found in text: its kind, the span of the secret value, and a redacted preview."""

    kind: SecretKind
    start: int
    end: int
    hint: str


# (kind, pattern, length of the non-secret prefix shown in the hint, value check or None, gate: the rule runs
# only on a text holding one of these substrings, in lower case for a case-insensitive pattern)
_Rule = tuple[SecretKind, re.Pattern[str], int, Callable[[str], bool] | None, tuple[str, ...]]

_NAMES: dict[str, tuple[str, str]] = {
    "aws_access_key": ("an AWS access key", "AWS access keys"),
    "aws_secret_key": ("an AWS secret key", "AWS secret keys"),
    "stripe_key": ("a Stripe key", "Stripe keys"),
    "github_token": ("a GitHub token", "GitHub tokens"),
    "gitlab_token": ("a GitLab token", "GitLab tokens"),
    "slack_token": ("a Slack token", "Slack tokens"),
    "slack_webhook": ("a Slack webhook URL", "Slack webhook URLs"),
    "jwt": ("a JWT", "JWTs"),
    "private_key": ("a private key", "private keys"),
    "password": ("a password", "passwords"),
    "secret": ("a secret", "secrets"),
    "api_token": ("an API token", "API tokens"),
    "connection_string": ("a connection string with a password", "connection strings with passwords"),
    "selectel_token": ("a Selectel static token", "Selectel static tokens"),
    "openai_key": ("an OpenAI API key", "OpenAI API keys"),
    "anthropic_key": ("an Anthropic API key", "Anthropic API keys"),
    "google_api_key": ("a Google API key", "Google API keys"),
    "telegram_bot_token": ("a Telegram bot token", "Telegram bot tokens"),
    "azure_connection_string": (
        "an Azure connection string with a key",
        "Azure connection strings with keys",
    ),
    "netrc_password": ("a .netrc password", ".netrc passwords"),
    "pgpass_password": ("a .pgpass password", ".pgpass passwords"),
    "private_key_base64": ("a base64-encoded private key", "base64-encoded private keys"),
    "npm_token": ("an npm token", "npm tokens"),
    "pypi_token": ("a PyPI token", "PyPI tokens"),
    "docker_hub_token": ("a Docker Hub access token", "Docker Hub access tokens"),
    "huggingface_token": ("a Hugging Face token", "Hugging Face tokens"),
    "digitalocean_token": ("a DigitalOcean token", "DigitalOcean tokens"),
    "sendgrid_key": ("a SendGrid API key", "SendGrid API keys"),
    "twilio_key": ("a Twilio API key", "Twilio API keys"),
    "twilio_auth_token": ("a Twilio auth token", "Twilio auth tokens"),
    "mailgun_key": ("a Mailgun API key", "Mailgun API keys"),
    "yandex_iam_token": ("a Yandex Cloud IAM token", "Yandex Cloud IAM tokens"),
    "yandex_oauth_token": ("a Yandex OAuth token", "Yandex OAuth tokens"),
    "yandex_api_key": ("a Yandex Cloud API key", "Yandex Cloud API keys"),
    "basic_auth": ("an HTTP Basic auth password", "HTTP Basic auth passwords"),
}
_COUNTS = ("", "", "two", "three", "four", "five")
_IGNORECASE = int(re.IGNORECASE)  # an int: "flags & re.I" would go through the enum on every rule
_WEAK_PASSWORDS = frozenset({"admin", "root", "toor", "qwerty", "letmein", "changeme"})
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_STRIP_CHECK = ".,;:!?()[]{}<>«»\"'`"
# A label is not glued to a letter (any script): "DB_PASSWORD=" and "x-api-key:" count, "bypass:" does not.
_LABEL_QUALIFIER = r"(?:[ \t]+(?:for|of|от|для|к)[ \t]+[^\s:=\"']{1,40}){0,2}"
_VALUE = r"(?:\"(?P<q1>[^\"\n]+)\"|'(?P<q2>[^'\n]+)'|`(?P<q3>[^`\n]+)`|«(?P<q4>[^»\n]+)»|(?P<v>[^\s\"'`«»]+))"


def _labelled(labels: str, *, loose: bool) -> re.Pattern[str]:
    """``label[ for X] <sep> value``; ``loose`` labels also take ``is``/``was``/a dash as the separator."""
    words = r"|[ \t]+(?:is|was|—|–|-)[ \t]+" if loose else ""
    return re.compile(
        rf"(?<![^\W\d_])(?P<flag>--)?(?:{labels})(?![^\W\d_]){_LABEL_QUALIFIER}[\"']?"
        rf"(?:[ \t]*(?::=|=>|[:=])[ \t]*{words}|(?(flag)[ \t]+|(?!))){_VALUE}",
        re.I,
    )


@functools.cache
def _rules() -> tuple[tuple[re.Pattern[str], re.Pattern[str]], tuple[_Rule, ...]]:
    """((PEM header, key material), other rules in priority order), compiled on first use. Every pattern
    starts at a fixed prefix or label and has no nested open-ended repeats, so each runs in linear time."""
    b, e = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
    bt, et = r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])"  # for alphabets with "_" and "-"
    b64, e64 = r"(?<![A-Za-z0-9_+/-])", r"(?![A-Za-z0-9_+/=-])"  # nor inside a longer base64 blob
    pem = (
        re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"),
        re.compile(r"\s*(?:[A-Za-z-]+:[^\n]*\n\s*)*[A-Za-z0-9+/=]{16}"),  # key material (after headers)
    )
    rules: tuple[_Rule, ...] = (
        (
            # base64 of "-----BEGIN ", on one line or wrapped (`base64 id_rsa`, a k8s Secret): lines of 60+
            # characters, then a last one that is followed by the line's end and has a digit, "+", "/" or "="
            "private_key_base64",
            re.compile(
                r"(?<![A-Za-z0-9+/])LS0tLS1CRUdJTi[A-Za-z0-9+/]*"
                r"(?:(?<=[A-Za-z0-9+/]{60})\r?\n[ \t]*[A-Za-z0-9+/]{60,})*"
                r"(?:(?<=[A-Za-z0-9+/]{60})\r?\n[ \t]*(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]*={0,2}(?=\s|$)|={0,2})"
            ),
            4,
            _base64_private_key,
            ("LS0tLS1CRUdJTi",),
        ),
        (
            "aws_access_key",
            re.compile(rf"{b}(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{{16}}{e}"),
            4,
            None,
            ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA"),
        ),
        (
            "aws_secret_key",
            re.compile(
                r"(?i)aws[\w .-]{0,24}?(?:secret|(?<![a-z])sk(?![a-z]))[\w .-]{0,24}?[\"']?[ \t]*(?:[:=]|=>)"
                r"[ \t]*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
            ),
            0,
            lambda v: _classes(v) >= 2,
            ("aws",),
        ),
        (
            "stripe_key",
            re.compile(rf"{b}[sr]k_(?:live|test)_[A-Za-z0-9]{{24,}}{e}"),
            4,
            None,
            ("k_live_", "k_test_"),
        ),
        (
            "github_token",
            re.compile(rf"{b}gh[pousr]_[A-Za-z0-9]{{36,255}}{e}"),
            4,
            None,
            ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        ),
        ("github_token", re.compile(rf"{b}github_pat_[A-Za-z0-9_]{{50,255}}{e}"), 4, None, ("github_pat_",)),
        (
            "gitlab_token",
            re.compile(rf"{b}gl(?:pat|dt|rt|ptt|cbt)-[A-Za-z0-9_-]{{20,}}"),
            4,
            None,
            ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-"),
        ),
        ("slack_token", re.compile(rf"{b}xox[baprso]-[A-Za-z0-9-]{{10,}}"), 4, _has_digit, ("xox",)),
        (
            "slack_webhook",
            re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,}"),
            0,
            None,
            ("https://hooks.slack.com/",),
        ),
        (
            "openai_key",
            re.compile(rf"{bt}sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{40,}}{et}"),
            4,
            lambda v: _mixed(v) == 3,
            ("sk-",),
        ),
        (
            "openai_key",  # the older user keys: sk- and 48 letters and digits (most with "T3BlbkFJ" inside)
            re.compile(rf"{bt}sk-[A-Za-z0-9]{{48}}{et}"),
            3,
            lambda v: "T3BlbkFJ" in v or _random(v[3:], strict=True),
            ("sk-",),
        ),
        (
            "anthropic_key",  # sk-ant-api03-, sk-ant-admin01-, sk-ant-oat01-, …
            re.compile(rf"{bt}sk-ant-[a-z]{{3,6}}[0-9]{{2}}-[A-Za-z0-9_-]{{32,}}{et}"),
            4,
            lambda v: _mixed(v) == 3,
            ("sk-ant-",),
        ),
        (
            "google_api_key",
            re.compile(rf"{bt}AIza[A-Za-z0-9_-]{{35}}{et}"),
            4,
            lambda v: _keylike(v[4:]),
            ("AIza",),
        ),
        (
            "telegram_bot_token",  # bot id, ":", 35 characters starting "A" (also in an api.telegram.org/bot URL)
            re.compile(r"(?:(?<=/bot)|(?<![\w:/.-]))[0-9]{5,16}:A[A-Za-z0-9_-]{34}(?![\w-])"),
            0,
            lambda v: _keylike(v.partition(":")[2]),
            (":A",),
        ),
        ("npm_token", re.compile(rf"{bt}npm_[A-Za-z0-9]{{36}}{et}"), 4, lambda v: _keylike(v[4:]), ("npm_",)),
        (
            "pypi_token",  # a macaroon whose first bytes name pypi.org or test.pypi.org
            re.compile(rf"{bt}pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{{50,}}{et}"),
            4,
            None,
            ("pypi-AgE",),
        ),
        (
            "docker_hub_token",
            re.compile(rf"{bt}dckr_(?:pat|oat)_[A-Za-z0-9_-]{{20,}}{et}"),
            4,
            lambda v: _keylike(v[9:]),
            ("dckr_",),
        ),
        (
            "huggingface_token",
            re.compile(rf"{bt}(?:hf|api_org)_[A-Za-z]{{34}}{et}"),
            3,
            lambda v: _keylike(v[-34:]),
            ("hf_", "api_org_"),
        ),
        (
            "digitalocean_token",
            re.compile(rf"{bt}do[opr]_v1_[a-f0-9]{{64}}{et}"),
            4,
            lambda v: _hexlike(v[7:]),
            ("_v1_",),
        ),
        (
            "sendgrid_key",
            re.compile(r"(?<![\w.-])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![\w-])"),
            3,
            lambda v: _keylike(v[3:]),
            ("SG.",),
        ),
        ("twilio_key", re.compile(rf"{b}SK[0-9a-f]{{32}}{e}"), 2, lambda v: _hexlike(v[2:]), ("SK",)),
        ("mailgun_key", re.compile(rf"{bt}key-[0-9a-f]{{32}}{et}"), 4, lambda v: _hexlike(v[4:]), ("key-",)),
        (
            "yandex_iam_token",
            re.compile(r"(?<![\w.-])t1\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]{86}={0,2}(?![\w=-])"),
            3,
            None,
            ("t1.",),
        ),
        (
            "yandex_oauth_token",
            re.compile(rf"{bt}y[0-3]_[A-Za-z0-9_-]{{40,}}{et}"),
            3,
            lambda v: _mixed(v[3:]) == 3,
            ("y0_", "y1_", "y2_", "y3_"),
        ),
        (
            "yandex_oauth_token",  # the older format: AQAAAAA or AgAAAAA and 32 more
            re.compile(rf"{b64}A[Qg]AAAAA[A-Za-z0-9_-]{{32}}{e64}"),
            4,
            lambda v: _keylike(v[7:]),
            ("AAAAA",),
        ),
        (
            "yandex_api_key",
            re.compile(rf"{b64}AQVN[A-Za-z0-9_-]{{35,38}}{e64}"),
            4,
            lambda v: _keylike(v[4:]),
            ("AQVN",),
        ),
        (
            "jwt",
            re.compile(rf"{b}eyJ[A-Za-z0-9_-]{{8,}}\.e[wy][A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{8,}}"),
            3,
            _jwt_header,
            ("eyJ",),
        ),
        (
            "selectel_token",
            re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9]{20,}_[0-9]{5,8}(?![A-Za-z0-9_-])"),
            0,
            lambda v: _random(v.rpartition("_")[0], strict=True),
            ("_",),
        ),
        (
            "connection_string",
            re.compile(r"(?i)\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@\"'<>]*:(?P<v>[^\s@/\"'<>]+)@[^\s/\"'<>]+"),
            0,
            lambda v: not _placeholder(v),
            ("://",),
        ),
        (
            "azure_connection_string",  # AccountKey= (storage), SharedAccessKey= (Service Bus, Event Hubs, IoT)
            re.compile(
                r"(?i)(?<![a-z])(?:Account|SharedAccess)Key[ \t]*=[ \t]*(?P<v>[A-Za-z0-9+/]{20,}={0,2})"
                r"(?![A-Za-z0-9+/=])"
            ),
            0,
            _keylike,
            ("accountkey", "sharedaccesskey"),
        ),
        (
            "twilio_auth_token",  # after an account SID: "AC…:token", Client("AC…", "token"), or a label
            re.compile(
                r"(?<![A-Za-z0-9])AC[0-9a-f]{32}(?:[\"']?[ \t]*[:,][ \t]*[\"']?|[\s\S]{0,200}?"
                r"(?i:auth[_ .-]?token)[\"']?[ \t]*(?::=|=>|[:=])[ \t]*[\"']?)(?P<v>[0-9a-f]{32})(?![A-Za-z0-9])"
            ),
            0,
            _hexlike,
            ("AC",),
        ),
        (
            "twilio_auth_token",
            re.compile(
                r"(?i)(?<![a-z])twilio[\w .-]{0,20}?auth[_ .-]?token[\"']?[ \t]*(?::=|=>|[:=])[ \t]*[\"']?"
                r"(?P<v>[0-9a-f]{32})(?![a-z0-9])"
            ),
            0,
            _hexlike,
            ("twilio",),
        ),
        (
            # machine <host> login <user> password <value> (or default login …), at a line's start or after
            # ":", "`" or ">"; a login followed by a comma is prose ("the machine and login fails, password …")
            "netrc_password",
            re.compile(
                r"(?m)(?:^|(?<=[:`>]))[ \t]*(?:machine[ \t]+[A-Za-z0-9._-]+|default)"
                r"\s+login\s+[^\s,;]+\s+password\s+(?P<v>[^\s`]+)"
            ),
            0,
            lambda v: not _symbolic(v),
            ("login",),
        ),
        (
            # host:port:database:user:password, the whole word; the host has a letter or a dot, the
            # database and user a letter (or are "*"), so times, MACs and IPv6 addresses are not entries
            "pgpass_password",
            re.compile(
                r"(?<![^\s`'\"(])(?:\*|(?=[\w.-]*[A-Za-z.])[A-Za-z0-9._-]+):(?:\*|[0-9]{1,5}):"
                r"(?=[^\s:]*[A-Za-z*])[^\s:`'\"]+:(?=[^\s:]*[A-Za-z*])[^\s:`'\"]+:"
                r"(?P<v>(?:[^\s:\\`'\"]|\\.)+)(?=[\s`'\")]|$)"
            ),
            0,
            lambda v: not _symbolic(v),
            (":",),
        ),
        (
            "basic_auth",  # the value must decode to user:password
            re.compile(r"(?i)(?<![^\W\d_])basic[ \t]+(?P<v>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])"),
            0,
            _basic_credentials,
            ("basic",),
        ),
        (
            "api_token",
            re.compile(r"(?i)(?<![^\W\d_])bearer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)"),
            0,
            _token_like,
            ("bearer",),
        ),
        (
            "api_token",
            _labelled(r"api[_ -]?(?:key|token|ключ)|apikey|access[_-]?key|ключ api|token|токен", loose=True),
            0,
            _token_like,
            ("api", "key", "token", "токен", "ключ"),
        ),
        ("secret", _labelled(r"secret(?:[_ -]?key)?", loose=True), 0, _password_like, ("secret",)),
        (
            "password",
            _labelled(r"password|passwd|passphrase|пароль", loose=True),
            0,
            _password_like,
            ("pass", "пароль"),
        ),
        (
            "password",
            _labelled(r"pass|pwd", loose=False),
            0,
            lambda v: _password_like(v, weak_label=True),
            ("pass", "pwd"),
        ),
    )
    return pem, rules


_SYMBOLIC = r"[*x•.#_-]+|<[^>]*>|\[[^\]]*\]|\([^)]*\)|\$\{?[A-Za-z_]\w*\}?|\{\{?[^}]*\}?\}|%\w+%|…"


@functools.cache
def _helpers() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(placeholder, UUID, code expression or path, label prefix that is not a credential, a placeholder
    made of symbols only)."""
    placeholder = re.compile(
        rf"{_SYMBOLIC}|"
        r"\$\(.*|none|null|nil|empty|unset|hidden|redacted|masked|secret|password|пароль|скрыт\w*",
        re.I,
    )
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
    code = re.compile(
        r"[A-Za-z_]\w*(?:(?:\.|->|::)[A-Za-z_]\w*)+|.*\w[(\[].*|[/\\~.].*|[A-Za-z]:\\.*|.*://.*"
    )
    not_credential = re.compile(r"(?:page|next|cursor|continuation|sync|csrf|xsrf)[_. -]?(?:--)?$", re.I)
    symbolic = re.compile(rf"{_SYMBOLIC}|\$\(.*", re.I)
    return placeholder, uuid, code, not_credential, symbolic


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


def _classes(value: str) -> int:
    """How many of lower case, upper case, digits and other characters ``value`` uses."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _random(value: str, *, strict: bool = False) -> bool:
    """Letters and digits with decent entropy; ``strict`` (a bare token with no label) also wants both
    letter cases and frequent switches between upper, lower and digits, which words and camelCase lack."""
    if not (any(c.isalpha() for c in value) and _has_digit(value)):
        return False
    if not strict:
        return _entropy(value) >= 3.0
    kinds = ["u" if c.isupper() else "l" if c.islower() else "d" for c in value]
    switches = sum(a != b for a, b in itertools.pairwise(kinds)) / (len(value) - 1)
    return "u" in kinds and "l" in kinds and _entropy(value) >= 3.5 and switches >= 0.3


def _placeholder(value: str) -> bool:
    return bool(_helpers()[0].fullmatch(value))


def _symbolic(value: str) -> bool:
    """A placeholder of symbols (``****``, ``<password>``, ``${PASS}``); words count as values here."""
    return bool(_helpers()[4].fullmatch(value))


def _mixed(value: str) -> int:
    """How many of lower case, upper case and digits ``value`` uses."""
    return any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)


def _keylike(value: str) -> bool:
    """Random key material: two or more of lower case, upper case and digits, and high entropy."""
    return _mixed(value) >= 2 and _entropy(value) >= 3.5


def _hexlike(value: str) -> bool:
    """Random hex: both letters and digits (a run of one digit or of words is not a key)."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _plain_words(value: str) -> bool:
    """Words (any script) in one case, capitalized or CamelCase, joined by spaces, ``-``, ``_`` or ``'``."""
    parts = [p for p in re.split(r"[-_'\s]", value) if p]
    camel = re.compile(r"[A-Z]?[a-z]+(?:[A-Z][a-z]+)*")
    return bool(parts) and all(
        p.isalpha() and (p.islower() or p.isupper() or p.istitle() or bool(camel.fullmatch(p))) for p in parts
    )


def _password_like(value: str, *, weak_label: bool = False) -> bool:
    placeholder, _, code, _, _ = _helpers()
    core = value.strip().strip(_STRIP_CHECK)
    if len(core) < 4 or any(p.fullmatch(v) for p in (placeholder, code) for v in (value, core)):
        return False
    if not any(c.isalpha() for c in core):
        return core.isdigit() and len(core) >= 6  # "123456" is a password, "15/15" and "100%" are not
    if _plain_words(core):  # "Password: incorrect", "пароль: неверный", "password: SecretStr"
        return core.lower() in _WEAK_PASSWORDS and not weak_label
    if weak_label and re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+", core):  # "PASS: test_login_2fa"
        return False
    return True


def _token_like(value: str) -> bool:
    placeholder, uuid, code, _, _ = _helpers()
    core = value.strip(_STRIP_CHECK)
    if len(core) < 16 or any(c.isspace() for c in core) or uuid.fullmatch(core):
        return False
    return not any(p.fullmatch(v) for p in (placeholder, code) for v in (value, core)) and _random(core)


def _jwt_header(token: str) -> bool:
    import base64  # lazy: only drafts with a JWT-shaped string get here

    head = token.partition(".")[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except ValueError:
        return False
    return raw.lstrip().startswith(b"{") and b'"alg"' in raw


def _base64_private_key(blob: str) -> bool:
    """The blob decodes to a PEM private key block: its header and then key material (not a bare header,
    a certificate or a public key)."""
    import base64  # lazy, as in _jwt_header

    head = "".join(blob[:480].split())
    try:
        raw = base64.b64decode(head[: len(head) // 4 * 4]).decode("latin-1")
    except ValueError:
        return False
    header, material = _rules()[0]
    m = header.match(raw)
    return m is not None and material.match(raw, m.end()) is not None


def _basic_credentials(value: str) -> bool:
    """An ``Authorization: Basic`` value that decodes to printable ``user:password``, the password not a
    placeholder."""
    import base64

    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except ValueError:
        return False
    user, colon, password = raw.partition(":")
    return bool(colon and user and password) and raw.isprintable() and not _placeholder(password)


def _trim(value: str) -> str:
    """An unquoted value without the next query parameter (``&name=``), the sentence's trailing punctuation
    or an unbalanced closing bracket."""
    value = re.split(r"&(?=[A-Za-z_][\w.-]*=)", value, maxsplit=1)[0]
    while value and (value[-1] in ".,;:" or (value[-1] in _CLOSERS and _CLOSERS[value[-1]] not in value)):
        value = value[:-1]
    return value


def _hint(value: str, keep: int) -> str:
    return f"{value[:keep]}****" if keep else "****"


def _private_keys(text: str, header: re.Pattern[str], material: re.Pattern[str]) -> list[SecretFinding]:
    """Whole ``BEGIN … END`` blocks, or a header followed by key material up to the end (a cut paste); a
    bare header line is not a key. Linear: an END marker looked for once and missing is not looked for again."""
    found: list[SecretFinding] = []
    missing: set[str] = set()
    pos = 0
    while m := header.search(text, pos):
        label, pos = m.group(1), m.end()
        marker = f"-----END {label}-----"
        stop = -1 if label in missing else text.find(marker, pos)
        if stop >= 0:
            end = stop + len(marker)
        elif material.match(text, pos):
            end = len(text)
        else:
            missing.add(label)
            continue
        found.append(SecretFinding("private_key", m.start(), end, f"-----BEGIN {label}----- … (redacted)"))
        pos = end
    return found


def find_secrets(text: str) -> list[SecretFinding]:
    """Find credentials in ``text`` (the shapes in docs/decisions.md), in order, without overlaps."""
    pem, rules = _rules()
    not_credential = _helpers()[3]
    found = _private_keys(text, *pem)  # first: the rules below run in priority order too
    folded = text.lower()
    for kind, pattern, keep, check, gate in rules:
        hay = folded if pattern.flags & _IGNORECASE else text
        if not any(map(hay.__contains__, gate)):
            continue
        groups = [g for g in ("q1", "q2", "q3", "q4", "v") if g in pattern.groupindex]
        for m in pattern.finditer(text):
            group = next((g for g in groups if m.group(g) is not None), 0)
            start, end = m.span(group)
            value = m.group(group)
            if group == "v" and kind in ("password", "secret", "api_token"):
                value = _trim(value)
                end = start + len(value)
            if check is not None and not check(value):
                continue
            if kind == "api_token" and not_credential.search(text, max(0, m.start() - 16), m.start()):
                continue
            found.append(SecretFinding(kind, start, end, _hint(value, keep)))
    # A span claimed by a more specific rule stays with it ("password: ghp_…" is a GitHub token); kept spans
    # never overlap, so a new one needs checking against its two neighbours only.
    starts: list[int] = []
    kept: list[SecretFinding] = []
    for f in found:
        i = bisect.bisect_right(starts, f.start)
        if (i and kept[i - 1].end > f.start) or (i < len(kept) and kept[i].start < f.end):
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept


def describe_secrets(findings: Sequence[SecretFinding], where: str) -> str:
    """One sentence naming the kinds found and where, never a value: "an AWS access key and a password in
    comment_body"."""
    if not findings:
        return f"no secrets in {where}"
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    parts = []
    for kind, n in counts.items():
        one, many = _NAMES.get(kind, (f"a {kind}", f"{kind} findings"))
        parts.append(one if n == 1 else f"{_COUNTS[n] if n < len(_COUNTS) else n} {many}")
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"{listed} in {where}"
