"""The token estimate every budget is measured with: a cheap, pessimistic count of o200k tokens.

No tokenizer vocabulary is loaded (cold start is measured): one regex splits the text roughly the way the
o200k pre-tokenizer does, and each piece is priced by its kind. `tests/unit/mcp_server/test_tokens.py`
holds it against the real o200k counts: never under 0.9× on any kind of text, short or long, and about
1.1-1.35× on English and Russian prose, logs and JSON.

- **Words** (lower case, Capitalized, UPPER CASE, CamelCase, `eth1`): one token each, long ones a few; a
  run of 24 letters or more is no word.
- **Letters and digits mixed at random** (base64, hex, keys): o200k cuts them at every change of case or
  between letters and digits, and random letters make short tokens, so each piece is priced by its length.
- **Russian words** (with a vowel): one token, plus one per five letters; in UPPER CASE 0.9 a letter.
- **A short text** (under `_SHORT` tokens): its words and punctuation are priced as if each were rare (a
  name, a typo: a token per two or three letters; a token per mark), since one such piece is too large a
  part of it for the 10% margin.
- **Any other character** (CJK, emoji, other scripts, symbols): its UTF-8 length, one less in the blocks
  whose lead bytes o200k merges (`_MERGED`). No character is ever more tokens than its UTF-8 bytes, and
  common text in those blocks (CJK prose) is much less, so it is the pessimistic side that costs there.
- Punctuation runs, white space and numbers as o200k splits them (a space before digits is a token).
"""

from __future__ import annotations

import re

_PIECES = re.compile(
    r"(?=[ ]?[A-Za-z0-9]) ?(?<![^\W_])(?:"
    r"([0-9]+)"  # 1 a number
    r"|(?![A-Fa-f]{4,}(?![^\W_]))(?:([A-Z]?[a-z]+)|([A-Z]+))"  # 2 a word, 3 UPPER CASE (not hex-only)
    r"|(?<![-+/=_])((?:[A-Z]?[a-z]+|[A-Z]+(?=[A-Z][a-z]{2}))"  # 4 CamelCase: humps of 3+ letters,
    r"(?:[AEIOU][a-z]{2,}|[A-Z](?=[a-z]*[aeiou])[a-z]{2,})+)(?![-+/=_])"  # each with a vowel
    r"|((?![A-Fa-f]+[0-9])(?:[A-Z]?[a-z]+|[A-Z]+)[0-9]+)"  # 5 a word with a number: eth1, python3, CL25
    r")(?![^\W_])"
    r"|(?=[ ]?[А-яЁё])( ?(?<![^\W\d_])"  # 6 a Russian word (with a vowel, or UPPER CASE)
    r"(?:(?=[А-ЯЁ]?[а-яё]*[аеёиоуыэюяАЕЁИОУЫЭЮЯ])[А-ЯЁ]?[а-яё]+|[А-ЯЁ]+)(?![^\W\d_]))"
    r"|(\\u[0-9A-Fa-f]{4})"  # 7 a JSON escape
    r"|((?<=[^\W_])[-./:@_(](?=[^\W\d_]))"  # 8 a mark that joins words: `.example`, `_id`, `(self` (free)
    r"|( ?[!-/:-@\[-`{-~]+[\r\n]*)"  # 9 ASCII punctuation, and the line breaks right after it
    r"|([\t\x0b\x0c\r ]*[\r\n][\t\n\x0b\x0c\r ]*)"  # 10 line breaks (and the indent after them)
    r"|( ?[A-Za-z0-9]+)"  # 11 letters and digits mixed at random: base64, hex, keys
    r"|( ?[^\x00-\x7fА-яЁё]+|[А-яЁё]+)"  # 12 any other characters (Russian letters in random text)
    r"|([\t\x0b\x0c ]+)"  # 13 spaces
    r"|([\x00-\x7f])"  # 14 a control character
)
# The pieces o200k cuts random letters and digits into, and their cost in tenths of a token by length
# (o200k on base64: 1.0, 1.17, 1.93, 2.41, 2.98, 3.58, 4.08, 4.69, ... tokens; priced a little above).
_RANDOM_LETTERS = re.compile(r"[A-Z]{0,32}[a-z]{1,32}|[A-Z]{1,32}")
_MEASURED = (0, 10, 15, 22, 27, 33, 40, 46, 52, 59, 65, 72, 78, 85, 91, 98, 104)  # up to 16 letters
_RANDOM_COST = (*_MEASURED, *(6 * n + 7 for n in range(17, 65)))  # then 0.6 a letter
_DIGITS = re.compile(r"[0-9]{1,3}")
_LONGEST = 24  # letters of a word; a longer run of letters is no word and is priced as random letters
_UPPER = re.compile(r"[A-Z]")
# Below this many tokens a text is short: its words are priced as if rare (the 10% margin cannot absorb one
# rare word in three); above it, common words are most of any text and the margin covers the rare ones.
_SHORT = 16
# Characters one token below their UTF-8 length at most: Latin-1 letters and Russian letters (1 token),
# the 3-byte blocks whose first two bytes o200k always merges (≤ 2 tokens; the others reach 3, e.g.
# CJK Extension A and a third of Hangul), emoji and symbols (≤ 3).
_MERGED = re.compile(
    "[\u00a0-\u00da\u00dc-\u00ff\u0401\u0410-\u044f\u0451"
    "\u0900-\u0fbf\u1000-\u10ff\u1200-\u137f\u1780-\u17ff\u1d00-\u1d3f\u1e00-\u1f7f\u1fc0-\u233f"
    "\u2440-\u26bf\u2700-\u27bf\u2b00-\u2b3f\u3000-\u317f\u3200-\u323f\u3380-\u33bf\u4e00-\u5d3f"
    "\u5dc0-\u6abf\u6b00-\u877f\u87c0-\u87ff\u8840-\u977f\u97c0-\u9bbf\u9c80-\u9cff\u9e00-\u9fbf"
    "\uac00-\uad7f\uadc0-\uae7f\uaec0-\uaf3f\ub000-\ub1bf\ub200-\ub23f\ub280-\ub37f\ub3c0-\ub47f"
    "\ub4c0-\ub53f\ub580-\ub5bf\ub680-\ub6bf\ub700-\ub87f\ub8c0-\ubabf\ubb00-\ubb3f\ubbc0-\ubc3f"
    "\ubc80-\ubd3f\ubd80-\ube7f\uc040-\uc2ff\uc340-\uc37f\uc500-\uc7bf\uc800-\uc93f\uc980-\uc9ff"
    "\uca40-\uca7f\ucc00-\ucd3f\ucd80-\ucdbf\uce00-\ucf7f\ucfc0-\ud1bf\ud200-\ud23f\ud280-\ud33f"
    "\ud380-\ud3ff\ud480-\ud4bf\ud500-\ud6bf\ud740-\ud7bf\ue000-\ue03f\ue600-\ue63f\ue900-\ue93f"
    "\uf000-\uf0ff\ufb00-\ufb3f\ufd00-\ufd3f\ufe00-\uffff"
    "\U0001d000-\U0001dfff\U0001f000-\U0001ffff]+"
)


def estimate_tokens(text: str) -> int:
    """A cheap, pessimistic estimate of the o200k token count of ``text`` (see the module docstring)."""
    tenths = 0
    rare = 0  # what the words would cost more if each were rare (a name, a typo): tenths
    for m in _PIECES.finditer(text):
        group = m.lastindex
        if group == 2:  # a word: one token; from ten letters on, one more per three
            size = m.end() - m.start()
            size -= text[m.start()] == " "
            price = 10 if size < 9 else 10 + (size - 7) // 3 * 10 if size < _LONGEST else 6 * size + 7
            tenths += price
            rare += max(0, (size + 2) // 3 * 10 if size > 3 else 20 if size == 3 else 10, price) - price
        elif group == 9:  # punctuation: common pairs such as `":`, `},` or `.\n` are one token
            start, end = m.span()
            size = end - start - (text[start] == " ")
            breaks = 0
            if text[end - 1] in "\r\n":
                breaks = end - start - len(m.group().rstrip("\r\n"))
                size -= breaks
                tenths += breaks // 16 * 10
            mark = text[end - breaks - 1]
            if size > 3 and mark in "-=*#._/~+%" and text.count(mark, end - breaks - size, end) == size:
                tenths += 20 + size // 16 * 10  # a ruler such as ------ or ======: a few long tokens
            else:
                price = (2 * size + 1) // 3 * 10
                tenths += price
                rare += (size + breaks) * 10 - price  # an uncommon pair (`:!`) is a token a mark
        elif group == 1:  # digits in groups of three; o200k does not join a space to them
            start, end = m.span()
            spaced = text[start] == " "
            tenths += (end - start - spaced + 2) // 3 * 10 + spaced * 10
        elif group == 6:  # a Russian word: one token, one more per five letters (a letter each past them)
            start, end = m.span()
            size = end - start - (text[start] == " ")
            if size > 1 and text[end - 2] <= "Я":  # UPPER CASE: o200k knows few such words (0.9 a letter)
                tenths += 9 * size + 2
                rare += size - 2
            else:
                price = 10 + size // 5 * 10 if size < _LONGEST else size * 10
                tenths += price
                rare += max(0, min(size, (size + 3) // 2) * 10 - price)
        elif group == 10:  # a line break, one more token for an indent, one more if digits follow it
            piece = m.group()
            if piece[-1] in "\r\n":
                tenths += 10 + len(piece) // 16 * 10
            else:
                indent = len(piece) - 1 - max(piece.rfind("\n"), piece.rfind("\r"))
                tenths += (20 if indent > 1 else 10) + len(piece) // 16 * 10
                if m.end() < len(text) and "0" <= text[m.end()] <= "9":
                    tenths += 10
        elif group == 13:  # one space joins the next piece; a run of them is a token (two before digits)
            start, end = m.span()
            if end - start > 1:  # o200k has tokens of up to 80 spaces, of 16 tabs
                size = end - start
                tenths += 10 + size // (64 if text.count(" ", start, end) == size else 16) * 10
                if end < len(text) and "0" <= text[end] <= "9":
                    tenths += 10
            elif end == len(text) or (text[start] != " " and not text[end].isalpha()):
                tenths += 10  # a space at the end, a tab or a form feed alone but before a word
            elif text[start] != " ":
                rare += 10  # a tab or a form feed before a word: joined to it if the word is common
        elif group == 12:  # any other characters: their UTF-8 length, less where o200k merges lead bytes
            start, end = m.span()
            piece = text[start + 1 : end] if text[start] == " " else m.group()
            tenths += (len(piece.encode()) - len(piece) + len(_MERGED.sub("", piece))) * 10
        elif group == 11:  # letters and digits at random: priced piece by piece
            start, end = m.span()
            if text[start] == " ":
                start += 1
                if text[start] <= "9":
                    tenths += 10
            letters = _RANDOM_LETTERS.findall(text, start, end)
            tenths += sum(map(_RANDOM_COST.__getitem__, map(len, letters)))
            tenths += len(_DIGITS.findall(text, start, end)) * 10
        elif group == 3:  # UPPER CASE: one token up to four letters, then one more per three
            size = m.end() - m.start() - (text[m.start()] == " ")
            price = 10 + max(0, size - 2) // 3 * 10 if size < _LONGEST else 6 * size + 7
            tenths += price
            rare += max(0, (size + 1) // 2 * 10 - price)
        elif group == 4:  # CamelCase: a token per hump (past 48 letters it is no name: random letters)
            start, end = m.span()
            if text[start] == " ":
                start += 1
            if end - start < 2 * _LONGEST:
                humps = len(_UPPER.findall(text, start, end)) + (text[start] >= "a")
                tenths += (humps + (end - start) // 12) * 10
            else:
                tenths += sum(
                    map(_RANDOM_COST.__getitem__, map(len, _RANDOM_LETTERS.findall(text, start, end)))
                )
        elif group == 5:  # a word with a number
            piece = m.group().lstrip(" ")
            digits = len(piece) - len(piece.rstrip("0123456789"))
            tenths += (1 + max(0, len(piece) - digits - 7) // 3 + (digits + 2) // 3) * 10
        elif group == 7:  # a JSON escape such as \u00e9 (3.3 tokens on average)
            tenths += 40
        elif group == 14:  # a control character
            tenths += 10
        elif group == 8:  # a mark that joins words: free after a common word, a token after a rare one
            rare += 10
    total = tenths // 10
    estimate = total + total // 10 + 1  # a margin of 10%: some sentences cost more than their words say
    # In a text of a few words one rare word is a large part: price the words as if rare, up to _SHORT.
    return max(estimate, min((tenths + rare) // 10 + 1, _SHORT))


def longest_prefix(text: str, budget: int) -> int:
    """The length of the longest start of ``text`` estimated within ``budget`` tokens (a binary search: the
    estimate grows with the text)."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if estimate_tokens(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return low
