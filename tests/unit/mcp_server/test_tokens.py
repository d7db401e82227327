"""`tokens.estimate_tokens` against o200k itself (bpe-openai, offline): the budgets hold on any kind of text.

The estimate never undercounts by more than 10%, also on a text of a few tokens (a single bare word such as
"cyrillic" is 4 tokens, so a short text's words are priced as if rare), on fixed corpora and on generated
text of each kind: base64, hex, CJK, Cyrillic, English, JSON, logs, emoji, random Unicode
and mixtures of them. It stays close on what most tickets hold: at most 1.6× on prose, logs and JSON.

Prose is generated from real sentences, not from random letters: gibberish words cost o200k two or three
times what words do, and an estimate that priced every word so would waste the budget on real prose. Random
letters mixed with digits, case changes and symbols (base64, hex, keys) are priced as such.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import time
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import support.tickets as fx
from tickets_mcp.mcp_server import tokens
from tickets_mcp.mcp_server.tokens import estimate_tokens

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:bpe_openai.*")
EXAMPLES = int(os.environ.get("TICKETS_MCP_TOKENS_EXAMPLES", "150"))


@cache
def _encoder() -> Any:
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")


def real(text: str) -> int:
    return len(_encoder().encode_ordinary(text))


def assert_not_under(text: str) -> None:
    est, count = estimate_tokens(text), real(text)
    assert est >= 0.9 * count, (est, count, text[:300])


# --- corpora ---------------------------------------------------------------------------------------------

EN = """Hi team, we are seeing intermittent packet loss on our cloud server in the ru-9 region since yesterday \
evening. The loss is around five to ten percent and it mostly affects traffic to external networks; the private \
network looks fine. We have already restarted the network service and checked the firewall rules, but nothing \
changed. Could you please check whether there is a known issue with the uplink in this availability zone? Our \
monitoring shows that the problem started at about 21:30 and comes in waves every fifteen or twenty minutes. \
Hello, thank you for the details. Our network engineers have confirmed a problem with one of the aggregation \
switches in that zone. Traffic has been moved to the backup path, and the faulty line card will be replaced \
during the maintenance window tonight. Please let us know if you still see any loss after the switchover. \
Thanks, the loss is gone now. One more question: we would like to move the server to a larger configuration \
with more memory. Is it possible to do that without reinstalling the operating system? Yes, you can change the \
configuration in the control panel. The server will be stopped, its resources will be changed, and then it \
will be started again; usually this takes a few minutes. We recommend making a snapshot before the change."""

RU = """Добрый день! Мы арендуем у вас выделенный сервер в дата-центре в Санкт-Петербурге. Сегодня утром, \
примерно в 07:15 по московскому времени, сервер перестал отвечать на запросы. Перезагрузка через панель \
управления не помогла: консоль показывает ошибку инициализации контроллера дисков. Прошу проверить \
оборудование и сообщить, сколько времени займёт восстановление. На сервере работает база данных \
интернет-магазина, поэтому простой для нас очень критичен. Здравствуйте. Специалисты дата-центра провели \
диагностику: один из накопителей в массиве вышел из строя, контроллер перевёл массив в деградированный режим. \
Мы можем заменить накопитель в течение часа, после чего начнётся перестроение массива. Спасибо за быстрый \
ответ! Подтверждаем замену. Подскажите, пожалуйста, нужно ли нам что-то сделать со своей стороны до начала \
работ? Рекомендуем заранее сделать резервную копию важных данных и остановить ресурсоёмкие задачи. Накопитель \
заменён, перестроение массива запущено. Текущий прогресс — двенадцать процентов. Ещё вопрос по счёту за \
прошлый месяц: в детализации указано списание за дополнительный IP-адрес, хотя мы его не заказывали. Если \
адрес вам не нужен, его можно отключить в разделе «Сетевые услуги», списания прекратятся со следующего дня."""

ZH = (
    "您好！我们在莫斯科数据中心的云服务器从今天早上开始无法访问。控制面板显示服务器正在运行，但是无法通过SSH连接，"
    "也无法ping通。我们已经尝试重启服务器，但问题仍然存在。请帮忙检查网络设备，并告诉我们大概需要多长时间才能恢复。"
    "这台服务器上运行着我们的在线商店，所以问题非常紧急。谢谢！"
)
JA = (
    "お世話になっております。本日午前九時ごろから、サンクトペテルブルクのデータセンターにある専用サーバーに接続できなく"
    "なりました。コントロールパネルから再起動しましたが、状況は変わりません。コンソールにはディスクコントローラーの"
    "エラーが表示されています。ハードウェアの確認をお願いできますでしょうか。よろしくお願いいたします。"
)
KO = (
    "안녕하세요. 오늘 아침부터 클라우드 서버에 접속할 수 없습니다. 제어판에서는 서버가 실행 중으로 표시되지만 SSH "
    "연결과 핑이 모두 실패합니다. 서버를 재부팅해 보았지만 문제가 계속됩니다. 네트워크 장비를 확인해 주시고 복구까지 "
    "얼마나 걸리는지 알려 주세요. 감사합니다."
)
EMOJI = "🔥🚀😀👍🏽👨‍👩‍👧‍👦🇷🇺✅❌🎉💾1️⃣❤️🙏🏻"


def _logs(rnd: random.Random, lines: int) -> str:
    def ip() -> str:
        return ".".join(str(rnd.randrange(256)) for _ in range(4))

    out: list[str] = []
    for i in range(lines):
        h, m, s = rnd.randrange(24), rnd.randrange(60), rnd.randrange(60)
        stamp = f"{h:02d}:{m:02d}:{s:02d}"
        kinds = [
            f"Nov 30 {stamp} cl25-nvme sshd[{rnd.randrange(60000)}]: Failed password for invalid user admin "
            f"from {ip()} port {rnd.randrange(1024, 65535)} ssh2",
            f'{ip()} - - [30/Nov/2026:{stamp} +0300] "GET /api/v2/tickets?page={rnd.randrange(50)} HTTP/1.1" '
            f'{rnd.choice([200, 304, 404, 502])} {rnd.randrange(10000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"',
            f"[{rnd.randrange(100000):6d}.{rnd.randrange(1000000):06d}] nvme nvme0: I/O {rnd.randrange(1000)} "
            f"QID {rnd.randrange(64)} timeout, aborting",
            f"[{rnd.randrange(100000):6d}.{rnd.randrange(1000000):06d}] RIP: 0010:nvme_poll+0x{rnd.randrange(256):x}"
            f"/0x90 [nvme] RSP: 0018:ffffa{rnd.randrange(16**10):010x} EFLAGS: 00010246",
            f"2026-11-30T{stamp}.{rnd.randrange(1000):03d}Z ERROR [main] o.s.b.SpringApplication - Application run "
            "failed: java.lang.IllegalStateException: Failed to load ApplicationContext",
            f"\tat org.springframework.beans.factory.support.AbstractBeanFactory.getBean(AbstractBeanFactory.java:"
            f"{rnd.randrange(900)})",
            f'  File "/usr/lib/python3/dist-packages/app/db.py", line {rnd.randrange(900)}, in connect\n'
            '    raise ConnectionError(f"cannot reach {host}:{port}")',
            f"Dec 01 {stamp} node-{i % 9} kubelet[{rnd.randrange(999)}]: E1130 pod_workers.go:{rnd.randrange(2000)}] "
            f'"Error syncing pod" pod="default/web-{rnd.randbytes(5).hex()}" err="CrashLoopBackOff"',
            f"{rnd.randrange(1, 255):3d} Reallocated_Sector_Ct   0x0033   100   100   010    Pre-fail  Always"
            f"       -       {rnd.randrange(100)}",
        ]
        out.append(kinds[i % len(kinds)])
    return "\n".join(out)


def _thread_json(**dump: Any) -> str:
    _ticket, comments = fx.thread()
    return json.dumps(comments, **dump)


def _corpora() -> dict[str, str]:
    rnd = random.Random(2026)
    core = bytearray(rnd.randbytes(30_000))
    for start in range(0, len(core), 1500):  # a core dump: zero pages between the data
        core[start : start + 400] = bytes(400)
    hexdump = "\n".join(
        f"{i * 16:08x}: " + " ".join(rnd.randbytes(2).hex() for _ in range(8)) + "  ................"
        for i in range(400)
    )
    return {
        "base64_50k": base64.b64encode(rnd.randbytes(37_500)).decode(),
        "base64_mime": base64.encodebytes(rnd.randbytes(20_000)).decode(),
        "base64_core_dump": base64.b64encode(bytes(core)).decode(),
        "hex": rnd.randbytes(10_000).hex(),
        "hex_upper": rnd.randbytes(10_000).hex().upper(),
        "hexdump": hexdump,
        "chinese": ZH * 3,
        "japanese": JA * 3,
        "korean": KO * 3,
        "emoji": EMOJI * 40,
        "emoji_in_russian": "Сервер снова упал 😡🔥 — после перезагрузки всё ок ✅👍🏽 Спасибо! 🙏🇷🇺\n" * 20,
        "json": _thread_json(),
        "json_utf8": _thread_json(ensure_ascii=False),
        "json_indent": _thread_json(ensure_ascii=False, indent=2),
        "logs": _logs(rnd, 900),
        "english": EN,
        "russian": RU,
        "thread_bodies": "\n\n".join(fx.BODIES_EN + fx.BODIES_RU),
        "mixed": "\n\n".join(
            [
                RU[:700],
                _logs(rnd, 30),
                _thread_json(ensure_ascii=False)[:1500],
                EN[:700],
                base64.encodebytes(rnd.randbytes(1500)).decode(),
                ZH,
                EMOJI * 3,
            ]
        ),
    }


CORPORA = _corpora()
CLOSE = ("english", "russian", "thread_bodies", "logs", "json", "json_utf8", "json_indent")


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_no_corpus_is_undercounted(name: str) -> None:
    text = CORPORA[name]
    assert estimate_tokens(text) >= 0.9 * real(text), (name, estimate_tokens(text), real(text))


def test_the_50000_character_base64_comment_counts_at_least_its_real_tokens() -> None:
    text = CORPORA["base64_50k"]
    assert len(text) == 50_000 and real(text) > 30_000
    assert 1.0 <= estimate_tokens(text) / real(text) <= 1.3  # a part cut to the budget stays within it


@pytest.mark.parametrize("name", CLOSE)
def test_prose_logs_and_json_are_not_overcounted(name: str) -> None:
    text = CORPORA[name]
    assert estimate_tokens(text) <= 1.6 * real(text), (name, estimate_tokens(text), real(text))


PROSE_WORDS = sorted({w for t in (EN, RU, *fx.BODIES_EN, *fx.BODIES_RU) for w in re.findall(r"[^\W\d_]+", t)})


def test_no_word_alone_is_undercounted() -> None:
    """A text of one or two words (a name, a reply such as "Thanks", a shouted ЗДРАВСТВУЙТЕ): each word of the
    prose corpora, as is, in lower, Capitalized and UPPER case, and twice."""
    under = [
        (form, estimate_tokens(form), real(form))
        for word in PROSE_WORDS
        for form in (word, word.lower(), word.capitalize(), word.upper(), f" {word}", f"{word} {word}")
        if estimate_tokens(form) < 0.9 * real(form)
    ]
    assert len(PROSE_WORDS) > 300 and under == []


@pytest.mark.parametrize("text", [":!\r", "\x0cA/¹", "?!", "a/b", "\tIt", "x.y;z"])
def test_a_short_text_of_marks_is_not_undercounted(text: str) -> None:
    """In a few characters an uncommon pair of marks, a joining mark or a tab before a word is a token each:
    texts the property test once found under."""
    assert_not_under(text)


def test_upper_case_russian_is_not_undercounted() -> None:
    text = RU.upper()
    assert 0.9 * real(text) <= estimate_tokens(text) <= 1.6 * real(text)


# --- generated text of each kind -------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def _joined(parts: st.SearchStrategy[str], *, seps: tuple[str, ...] = (" ", "\n", "\n\n")) -> Any:
    return st.lists(st.tuples(parts, st.sampled_from(seps)), min_size=1, max_size=40).map(
        lambda pairs: "".join(part + sep for part, sep in pairs)
    )


# From 48 bytes: a shorter base64 text can be a word or two of random letters, priced as words.
binaries = st.one_of(
    st.binary(min_size=48, max_size=4000),
    st.lists(  # binary files: data with runs of zero bytes
        st.one_of(st.binary(max_size=200), st.integers(1, 300).map(bytes)), min_size=1, max_size=40
    ).map(b"".join),
).filter(lambda b: len(b) >= 48)
base64_texts = st.tuples(
    binaries, st.sampled_from([base64.b64encode, base64.urlsafe_b64encode, base64.encodebytes])
).map(lambda t: t[1](t[0]).decode())
hex_texts = st.tuples(
    st.binary(min_size=4, max_size=3000), st.sampled_from([bytes.hex, lambda b: b.hex().upper()])
).map(lambda t: t[1](t[0])) | st.binary(min_size=4, max_size=600).map(lambda b: b.hex(" ", 2))

CJK_RANGES = [(0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF)]
cjk_chars = st.one_of(*(st.characters(min_codepoint=a, max_codepoint=b) for a, b in CJK_RANGES))
cjk_texts = st.one_of(
    st.text(alphabet=cjk_chars | st.sampled_from(" ,.\n"), min_size=1, max_size=2000),
    _joined(st.sampled_from([*_sentences(ZH), *_sentences(JA), *_sentences(KO), ZH, JA, KO])),
)
cyrillic_texts = st.one_of(
    _joined(st.sampled_from(_sentences(RU) + _sentences(" ".join(fx.BODIES_RU)))),
    st.text(alphabet=st.characters(min_codepoint=0x400, max_codepoint=0x52F) | st.just(" "), max_size=800),
)
english_texts = _joined(st.sampled_from(_sentences(EN) + _sentences(" ".join(fx.BODIES_EN))))
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(_sentences(EN) + _sentences(RU)),
)
json_texts = st.tuples(
    st.recursive(
        _leaves,
        lambda inner: (
            st.lists(inner, max_size=6)
            | st.dictionaries(
                st.text(max_size=12) | st.sampled_from(["id", "body", "ticket_number"]), inner, max_size=6
            )
        ),
        max_leaves=60,
    ),
    st.booleans(),
    st.sampled_from([None, 2]),
).map(lambda t: json.dumps(t[0], ensure_ascii=t[1], indent=t[2]))
log_texts = st.integers(0, 2**32).flatmap(
    lambda seed: st.integers(1, 120).map(lambda n: _logs(random.Random(seed), n))
)
emoji_chars = st.one_of(
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
    st.characters(min_codepoint=0x2600, max_codepoint=0x27BF),
    st.sampled_from(["\u200d", "\ufe0f", "\U0001f3fb", "\U0001f3fd", "🇷🇺", "👨‍👩‍👧‍👦", "1️⃣", " ", "\n"]),
)
emoji_texts = st.lists(emoji_chars, min_size=1, max_size=1000).map("".join)
unicode_texts = st.text(max_size=2000)
KINDS: dict[str, st.SearchStrategy[str]] = {
    "base64": base64_texts,
    "hex": hex_texts,
    "cjk": cjk_texts,
    "cyrillic": cyrillic_texts,
    "english": english_texts,
    "json": json_texts,
    "logs": log_texts,
    "emoji": emoji_texts,
    "unicode": unicode_texts,
}
KINDS["mixed"] = st.tuples(
    st.lists(st.one_of(*KINDS.values()), min_size=2, max_size=6), st.sampled_from(["", " ", "\n", "\n\n"])
).map(lambda t: t[1].join(t[0]))


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_generated_text_is_undercounted(kind: str, data: st.DataObject) -> None:
    assert_not_under(data.draw(KINDS[kind], label=kind))


@pytest.mark.parametrize("char", list("azAQ0жЯ&}|-=_~ 中😀\n\t"))
def test_a_run_of_one_character_is_not_undercounted(char: str) -> None:
    """A stuck key or a ruler: "zzzz" is two letters a token, "жжжж" one, "----" 64 to a token. (A short
    run of letters is a word to the estimate: from 24 letters on it is priced as random letters.)"""
    letter = char.isalpha() and char != "中"
    for size in (24, 64, 512) if letter else (4, 8, 24, 64, 512):
        assert_not_under(char * size)
        assert_not_under(f"x {char * size} y")
        assert estimate_tokens(char * size) <= 8 * real(char * size) + 3


def test_no_character_costs_more_tokens_than_its_weight() -> None:
    """Any other character is priced at its UTF-8 length, one less in `_MERGED`: never below o200k's count
    for it (all of the BMP, and a sample of the other planes)."""
    rnd = random.Random(7)
    chars = [chr(c) for c in range(0x80, 0x10000) if not 0xD800 <= c < 0xE000]
    chars += [chr(rnd.randrange(0x10000, 0x110000)) for _ in range(20_000)]
    over = [
        (hex(ord(c)), real(c)) for c in chars if len(c.encode()) - bool(tokens._MERGED.match(c)) < real(c)
    ]
    assert over == []


# --- speed and shape -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        CORPORA["base64_50k"],
        (EN * 40)[:50_000],
        (RU * 30)[:50_000],
        CORPORA["logs"][:50_000],
        " " * 50_000,
        "a" * 50_000,
        "aA1" * 16_000,
        "AbcDef" * 8_000 + "_",
        "\r" * 50_000,
        "я " * 25_000,
        "中" * 50_000,
    ],
    ids=["base64", "english", "russian", "logs", "spaces", "a", "aA1", "camel", "cr", "ru", "cjk"],
)
def test_50_kb_is_estimated_fast(text: str) -> None:
    """No regex backtracking blows up: 50 KB in well under 100 ms (about 5-10 ms on a laptop)."""
    start = time.perf_counter()
    estimate_tokens(text)
    assert time.perf_counter() - start < 0.1


def test_a_longer_text_never_counts_less() -> None:
    """The estimate grows with the text (a prefix search for the longest part within the budget relies on it)."""
    text = CORPORA["mixed"]
    counts = [estimate_tokens(text[:end]) for end in range(0, len(text), 97)]
    assert all(b >= a - 2 for a, b in itertools.pairwise(counts))
