"""Untrusted text: sanitizing, fencing, secret scanning and log redaction.

Ticket summaries, comment bodies and support replies are written by people outside this process. Before an
agent sees them they are

1. **sanitized** by :func:`sanitize`: invisible characters that can hide instructions are removed (zero-width
   and bidi controls, Unicode tag characters, other format (Cf) characters, C0/C1 controls except ``\\n``
   and ``\\t``, orphan or repeated variation selectors); ``\\r\\n``, lone ``\\r`` and U+2028/U+2029 become
   ``\\n``.
   A zero-width joiner between two emoji is kept, so 👩‍💻 survives; tag characters are always removed, so
   subdivision flags degrade to a plain black flag (they are also the "ASCII smuggling" channel).
2. **fenced** by :func:`fence`, which produces::

       ```support 9100071 Anna Smirnova 11-01 10:00
       <sanitized body>
       ```

   The fence is made of backticks and is one longer than the longest backtick run in the body (at least
   three), so no line of the body can close it; a ``~~~`` line cannot close a backtick fence either. Its info
   string starts with the author's role, ``client`` or ``support``, then a one-line label (sanitized,
   backticks replaced, whitespace collapsed). Text inside such a fence is data written by a ticket
   participant, never instructions (the server's instructions tell the model so).

:func:`find_secrets` spots credentials pasted into outbound text. Keeping secrets out of logs is
``tickets_mcp.logs``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "SecretFinding",
    "fence",
    "find_secrets",
    "one_line",
    "sanitize",
]

# --- sanitize -------------------------------------------------------------------------------------------

# Every Cf (format) character of Unicode 14 (Python 3.11) except U+200D (ZWJ, handled below), plus the
# invisible combining grapheme joiner, C0/C1 controls other than \t and \n, and the unassigned rest of the
# tag block. Listed explicitly: scanning unicodedata at import would cost cold-start time.
_DENY_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e00ff"
)
_DENY = re.compile(f"[{_DENY_CLASS}]+")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029]")
_ASCII_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_VS_CLASS = "\ufe00-\ufe0f\u180b-\u180d\u180f\U000e0100-\U000e01ef"
_VS_RUN = re.compile(f"[{_VS_CLASS}]+")
# Emoji-ish code points: a ZWJ is kept only between two of these (VS16 may precede it).
_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u2300-\u23ff\u2460-\u27bf\u2900-\u2bff"
    "\U0001f000-\U0001faff"
)
_ZWJ_BAD = re.compile(f"(?<![{_EMOJI}\ufe0f])\u200d|\u200d(?![{_EMOJI}])")


def _keep_first_vs(match: re.Match[str]) -> str:
    start = match.start()
    if start == 0:
        return ""
    base = match.string[start - 1]
    if base.isspace() or base == "\u200d":
        return ""
    return match.group()[0]


def sanitize(text: str) -> str:
    """Remove invisible and control characters that can hide or reorder text; idempotent."""
    if text.isascii() and not _ASCII_UNSAFE.search(text):
        return text
    text = _NEWLINES.sub("\n", text)
    text = _DENY.sub("", text)
    if _VS_RUN.search(text):
        text = _VS_RUN.sub(_keep_first_vs, text)
    if "\u200d" in text:
        text = _ZWJ_BAD.sub("", text)
    return text


# --- fence ----------------------------------------------------------------------------------------------

_BACKTICK_RUN = re.compile("`+")
_SPACES = re.compile(r"\s+")


def one_line(text: str, limit: int = 200) -> str:
    """Sanitized, on one line, at most ``limit`` characters, backticks replaced (safe in a fence's info string)."""
    text = _SPACES.sub(" ", sanitize(text)).strip().replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fence(body: str, *, role: Literal["client", "support"], label: str = "") -> str:
    """Sanitize ``body`` and wrap it in a backtick fence it cannot close; the info string is the author's
    role, then an optional one-line ``label`` (who, when)."""
    if role not in ("client", "support"):
        raise ValueError(f"role must be 'client' or 'support', not {role!r}")
    body = sanitize(body)
    longest = max((len(m) for m in _BACKTICK_RUN.findall(body)), default=0)
    ticks = "`" * max(3, longest + 1)
    if body and not body.endswith("\n"):
        body += "\n"
    info = f"{role} {one_line(label)}".rstrip()
    return f"{ticks}{info}\n{body}{ticks}"


# --- find_secrets ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """A credential found in text: its kind, the span of the secret value, and a redacted preview."""

    kind: str
    start: int
    end: int
    hint: str


@functools.cache
def _secret_patterns() -> tuple[
    re.Pattern[str], re.Pattern[str], tuple[tuple[str, re.Pattern[str], int], ...]
]:
    """(private key, placeholder, token patterns), compiled on first use: only drafts need them."""
    pem = re.compile(
        r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
        r"(?:.*?-----END \1-----|[\s\S]*\Z)",
        re.DOTALL,
    )
    placeholder = re.compile(
        r"^(?:[*x.•]+|<[^>]*>|\$\{?[A-Za-z_][\w]*\}?|\{\{?[^}]*\}?\}|%\w+%|\.\.\.)$", re.I
    )
    tokens: tuple[tuple[str, re.Pattern[str], int], ...] = (
        (
            "aws_access_key",
            re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"),
            4,
        ),
        (
            "aws_secret_key",
            re.compile(
                r"(?i)aws.{0,24}?(?:secret|sk).{0,24}?[=:]\s*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
            ),
            0,
        ),
        ("github_token", re.compile(r"\b(?:gh[pousr])_[A-Za-z0-9]{36,255}\b"), 4),
        ("github_token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{50,255}\b"), 11),
        ("gitlab_token", re.compile(r"\bgl(?:pat|dt|rt|ptt|cbt)-[A-Za-z0-9_\-]{20,}"), 6),
        ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 5),
        ("slack_webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"), 0),
        ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 3),
        (
            "connection_string",
            re.compile(r"\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@\"'<>]*:(?P<v>[^\s@/\"'<>]+)@[^\s/\"'<>]+", re.I),
            0,
        ),
        (
            "api_token",
            re.compile(
                r"(?i)\b(?:api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|bearer[_-]?token"
                r"|client[_-]?secret|secret[_-]?key|secret|token|x-auth-token|x-token)[\"']?\s*[:=]\s*[\"']?"
                r"(?P<v>[A-Za-z0-9_\-./+=]{16,})"
            ),
            0,
        ),
        (
            "password",
            re.compile(
                r"(?i)(?<![\w-])(?:password|passwd|passphrase|pwd|пароль)[\"']?\s*[:=]\s*[\"']?"
                r"(?P<v>[^\s\"']{4,})"
            ),
            0,
        ),
    )
    return pem, placeholder, tokens


def _entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and _entropy(value) >= 3.0


def _looks_like_password(value: str) -> bool:
    value = value.rstrip(".,;:!?)")
    if len(value) < 4 or _secret_patterns()[1].match(value):
        return False
    if value.isalpha():  # a plain word: "Password: incorrect", "пароль: неверный"
        return not (value.islower() or value.isupper() or value[1:].islower())
    return True


def _hint(kind: str, value: str, keep_prefix: int) -> str:
    if keep_prefix and len(value) >= keep_prefix + 8:
        return f"{value[:keep_prefix]}****{value[-4:]}"
    if kind in ("api_token", "aws_secret_key") and len(value) >= 20:
        return f"****{value[-4:]}"
    return "****"


def find_secrets(text: str) -> list[SecretFinding]:
    """Find private keys, API tokens, passwords and connection-string passwords in ``text``."""
    found: list[SecretFinding] = []
    pem, placeholder, tokens = _secret_patterns()
    for m in pem.finditer(text):
        hint = f"-----BEGIN {m.group(1)}----- … (redacted)"
        found.append(SecretFinding("private_key", m.start(), m.end(), hint))
    for kind, pattern, keep_prefix in tokens:
        for m in pattern.finditer(text):
            group = "v" if "v" in pattern.groupindex else 0
            value = m.group(group)
            start, end = m.span(group)
            if kind == "password" and not _looks_like_password(value):
                continue
            if kind == "password":
                value = value.rstrip(".,;:!?)")
                end = start + len(value)
            if kind == "api_token" and not _looks_random(value):
                continue
            if kind == "connection_string" and placeholder.match(value):
                continue
            found.append(SecretFinding(kind, start, end, _hint(kind, value, keep_prefix)))
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    result: list[SecretFinding] = []
    for f in found:  # earlier and longer spans win; overlapping later ones are the same secret
        if result and f.start < result[-1].end:
            continue
        result.append(f)
    return result
