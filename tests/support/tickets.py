"""Realistic ticket, thread and catalog data shaped like the client's ``model_dump(mode="json")`` output."""

from __future__ import annotations

from functools import cache
from typing import Any

BODIES_EN = [
    "Hello! Since about 09:40 UTC our dedicated server CL25-NVMe in ru-2 does not answer ping or SSH. "
    "The IPMI console shows a kernel panic after the last reboot. Could you check the hardware, please?",
    "Good day. We have checked the server: the RAID controller reported a failed disk in slot 2. "
    "We can replace it in the next 2 hours; the server will be powered off for about 15 minutes. "
    "Do you agree?",
    "Yes, please go ahead with the replacement. Is there anything we need to prepare on our side?",
    "The disk was replaced and the array is rebuilding now (about 3 hours). Please check that the OS boots.",
    "It boots, thanks. But the network interface eth1 is down, and the private network does not work.",
    "We see that the port on the switch was disabled during the works. "
    "We have enabled it; please check again.",
]
BODIES_RU = [
    "Здравствуйте! После замены диска сервер загрузился, но скорость записи упала примерно в два раза. "
    "Подскажите, это связано с ребилдом массива?",
    "Добрый день. Да, во время ребилда производительность снижается. Он завершится примерно через час, "
    "после этого скорость должна восстановиться.",
    "Спасибо, подождём. Напишу, если проблема останется.",
    "Ребилд завершён, массив в состоянии Optimal. Проверьте, пожалуйста, скорость записи ещё раз.",
]


def comment(i: int) -> dict[str, Any]:
    client = i % 2 == 0
    bodies = BODIES_EN + BODIES_RU
    c: dict[str, Any] = {
        "id": 880100 + i,
        "ticket_number": 4242,
        "body": bodies[i % len(bodies)],
        "is_client_author": client,
        "is_client_read": True,
        "sent_at": f"2026-11-01T{8 + i * 13 // 60:02d}:{i * 13 % 60:02d}:00Z",
        "files": [],
    }
    if client:
        c["client_author_id"] = "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    else:
        c["admin_author"] = {"name": "Anna Petrova" if i % 4 == 1 else "Дмитрий"}
    if i == 3:
        c["files"] = ["c45035c7-27b3-4ed6-81aa-a57fc9112a35"]
    return c


def ticket(number: int = 4242, **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "number": number,
        "summary": "Dedicated server CL25-NVMe in ru-2 does not respond after reboot",
        "status": "awaiting_client",
        "access_level": "account_users",
        "categories": ["server_problem"],
        "products": ["dedicated"],
        "keystone_projects": [],
        "notification_categories": ["technical"],
        "created_at": "2026-11-01T08:00:00Z",
        "updated_at": "2026-11-01T13:10:00Z",
        "is_await_client": True,
        "is_await_support": False,
        "is_can_be_voted": False,
        "is_client_read": False,
        "is_closed_by_system": False,
        "is_from_mailing": False,
        "notice_id": 0,
        "unread_comments_count": 1,
        "vote_type": "plus_minus",
    }
    t.update(extra)
    return t


def thread(n: int = 20) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return ticket(), [comment(i) for i in range(n)]


SUMMARIES = [
    "Dedicated server does not respond after reboot",
    "Не работает приватная сеть между серверами в ru-3",
    "Request to increase the quota for cloud volumes in ru-9",
    "Счёт за октябрь: вопрос по начислению за трафик",
    "SSL certificate renewal fails for example.com | urgent",
]


def ticket_list(n: int = 20) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        t = ticket(
            5000 + i,
            summary=SUMMARIES[i % len(SUMMARIES)],
            status=["in_progress", "awaiting_client", "closed"][i % 3],
            is_await_client=i % 3 == 1,
            is_await_support=i % 3 == 0,
            unread_comments_count=(i % 4 == 0 and 2) or 0,
            updated_at=f"2026-10-{1 + i:02d}T12:{i:02d}:00Z",
        )
        t.pop("is_closed_by_system")
        items.append(t)
    return items


CATEGORIES = [
    {
        "id": 1,
        "key": "server_problem",
        "names": {"en": "Server problem", "ru": "Проблема с сервером"},
        "descriptions": {"en": "Hardware or network trouble with a server", "ru": "Неполадки сервера"},
    },
    {"id": 2, "key": "billing", "names": {"en": "Billing", "ru": "Финансы"}, "descriptions": {}},
    {"id": 3, "key": "pass_to_data_center", "names": {"ru": "Пропуск в дата-центр"}},
]
FIELDS = [
    {
        "key": "region",
        "names": {"en": "Region", "ru": "Регион"},
        "is_required": True,
        "type": "select",
        "values": [
            {"key": "ru-1", "localizations": {"en": "Saint Petersburg", "ru": "Санкт-Петербург"}},
            {"key": "ru-2", "localizations": {"en": "Moscow", "ru": "Москва"}},
        ],
    },
    {"key": "server_id", "names": {"en": "Server ID"}, "is_required": False, "type": "text", "values": []},
]
PRODUCTS = [
    {"id": 1, "key": "dedicated", "names": {"en": "Dedicated servers", "ru": "Выделенные серверы"}},
    {"id": 2, "key": "cloud", "names": {"ru": "Облачная платформа"}},
]


# -- the same data as the client's models, and as views ---------------------------------------------


def ticket_model(**extra: Any) -> Any:
    from tickets_mcp.api.models import TicketV2

    return TicketV2.model_validate(ticket(**extra))


def comment_models(n: int = 20, *, agent: str | None = None, **bodies: str) -> list[Any]:
    """``n`` comments; ``bodies`` maps a position (``c3``) to a body that replaces the usual one;
    ``agent`` names one engineer for every support reply."""
    from tickets_mcp.api.models import Comment

    out = []
    for i in range(n):
        data = comment(i)
        if f"c{i}" in bodies:
            data["body"] = bodies[f"c{i}"]
        if agent and "admin_author" in data:
            data["admin_author"] = {"name": agent}
        out.append(Comment.model_validate(data))
    return out


def ticket_view(**extra: Any) -> Any:
    from tickets_mcp.mcp_server.outputs import ticket_view as view

    return view(ticket_model(**extra))


def list_views(n: int = 20) -> list[Any]:
    from tickets_mcp.api.models import TicketV2ListItem
    from tickets_mcp.mcp_server.outputs import brief, ticket_view

    return [brief(ticket_view(TicketV2ListItem.model_validate(t))) for t in ticket_list(n)]


@cache
def _encoder() -> Any:
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")


def real_tokens(text: str) -> int:
    """o200k tokens, as the bench counts them."""
    return len(_encoder().encode(text))
