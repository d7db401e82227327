"""Untrusted text in both directions: sanitizing, fencing, outbound cleaning and secret scanning.

**The character rule** (one rule, applied to text the server reads and to text it sends): these characters
are removed

- NUL and every other C0/C1 control character except tab (``\\t``) and newline (``\\n``);
- invisible format (Cf) characters: zero-width space/joiner/non-joiner, BOM, soft hyphen, word joiner,
  invisible operators and the like; a zero-width joiner between two emoji is kept, so 👩‍💻 survives;
- Unicode tag characters (the U+E0000 block, the "ASCII smuggling" carrier), so subdivision flags
  degrade to a plain black flag;
- bidi controls (LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI, LRM/RLM/ALM);
- orphan variation selectors (at the start, after whitespace, or repeated after the first);

and ``\\r\\n``, a lone ``\\r``, U+2028 and U+2029 become ``\\n``. Applying the rule twice changes
nothing.

Inbound, ticket summaries, comment bodies and support replies are written by people outside this
process. Before an agent sees them they are

1. **sanitized** by :func:`sanitize` (the rule above);
2. **fenced** by :func:`fence`, which produces::

       ```support 9100071 Anna Smirnova 11-01 10:00
       <sanitized body>
       ```

   The fence is made of backticks and is one longer than the longest backtick run in the body (at least
   three), so no line of the body can close it; a ``~~~`` line cannot close a backtick fence either. Its info
   string starts with the author's role, ``client`` or ``support``, then a one-line label (sanitized,
   backticks replaced, whitespace collapsed). Text inside such a fence is data written by a ticket
   participant, never instructions (the server's instructions tell the model so).

   Shorter untrusted text inside the server's own sentences (an error message of the API, another ticket's
   summary in a hint) is **quoted** by :func:`quoted` instead: sanitized, on one line, in JSON quotes, cut.

Outbound, text the server sends to the Tickets API (ticket summaries, comment bodies, close and rate
comments) goes through :func:`clean_outbound`: the same rule, plus ``removed``, the number of input
characters that did not survive as themselves (a removed character counts 1, a replaced line separator
counts 1, a ``\\r\\n`` pair that became ``\\n`` counts 1).

:func:`find_secrets` spots credentials pasted into outbound text and :func:`describe_secrets` names them
without echoing a value (the shapes are listed in ``tickets_mcp.mcp_server.secrets``). Keeping secrets out of
logs is ``tickets_mcp.logs``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from tickets_mcp.mcp_server.secrets import SecretFinding, describe_secrets, find_secrets

__all__ = [
    "Cleaned",
    "SecretFinding",
    "clean_outbound",
    "describe_secrets",
    "fence",
    "find_secrets",
    "one_line",
    "quoted",
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


@dataclass(frozen=True, slots=True)
class Cleaned:
    """Outbound text after the character rule, and how many input characters did not survive as
    themselves (removed, or a line separator replaced by ``\\n``)."""

    text: str
    removed: int


def clean_outbound(text: str) -> Cleaned:
    """Apply the module's character rule to text the server sends; count what it removed or replaced."""
    cleaned = sanitize(text)
    if cleaned is text:
        return Cleaned(text, 0)
    # Only deletions shorten the text; a lone \r or U+2028/U+2029 is replaced one for one, and a \r\n pair
    # becomes one \n (already one shorter).
    replaced = text.count("\r") - text.count("\r\n") + text.count("\u2028") + text.count("\u2029")
    return Cleaned(cleaned, len(text) - len(cleaned) + replaced)


# --- fence ----------------------------------------------------------------------------------------------

_BACKTICK_RUN = re.compile("`+")
_SPACES = re.compile(r"\s+")


def one_line(text: str, limit: int = 200) -> str:
    """Sanitized, on one line, at most ``limit`` characters, backticks replaced (safe in a fence's info string)."""
    text = _SPACES.sub(" ", sanitize(text)).strip().replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int) -> str:
    """Untrusted text inside one of the server's own sentences: sanitized, on one line, in JSON quotes it
    cannot close (a quote in it is escaped), and at most ``limit`` characters, a cut said after the quote."""
    line = _SPACES.sub(" ", sanitize(text)).strip()
    if len(line) <= limit:
        return json.dumps(line, ensure_ascii=False)
    return (
        json.dumps(line[:limit].rstrip(), ensure_ascii=False) + f" (cut: {len(line) - limit} more characters)"
    )


def fence(body: str, *, role: Literal["client", "support", "file"], label: str = "") -> str:
    """Sanitize ``body`` and wrap it in a backtick fence it cannot close; the info string is the author's
    role (``file`` for an attachment's text, whoever attached it), then an optional one-line ``label``."""
    if role not in ("client", "support", "file"):
        raise ValueError(f"role must be 'client', 'support' or 'file', not {role!r}")
    body = sanitize(body)
    longest = max((len(m) for m in _BACKTICK_RUN.findall(body)), default=0)
    ticks = "`" * max(3, longest + 1)
    if body and not body.endswith("\n"):
        body += "\n"
    info = f"{role} {one_line(label)}".rstrip()
    return f"{ticks}{info}\n{body}{ticks}"
