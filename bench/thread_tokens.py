"""P4 of `make bench`: tokens of a 20-comment thread as tool/resource text vs the raw API JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
from harness import Row

# --- --------------------------------------------------------------------------------

CLIENT_BODIES = [
    "Добрый день! После перезагрузки сервера cs-web-01 (ru-9a) не поднимается сетевой интерфейс eth1, "
    "приватная сеть недоступна. В консоли вижу:\n```\n[  4.211] eth1: link is not ready\n```\nПодскажите, что проверить?",
    "Проверили: в netplan всё как было, MAC совпадает. Пробовали `ip link set eth1 up` — без изменений.",
    "We also see packet loss to 10.0.0.5 from the other servers in the project, about 30%. "
    "mtr output attached. Is there maintenance in ru-9a right now?",
    "Спасибо, порт в панели действительно был в статусе DOWN. Включили — интерфейс поднялся, но "
    "скорость 100 Мбит/с вместо 1 Гбит/с.",
    "ethtool shows `Speed: 100Mb/s, Duplex: Full, Auto-negotiation: on`. The tariff should give 1 Gbit/s.",
    "Да, можно перезагрузить в 02:00 по Москве, сервисы переключим на резерв заранее.",
    "After the reboot the speed is 1000Mb/s. Packet loss is gone too. Thanks!",
    "Одна просьба: пришлите, пожалуйста, причину инцидента для нашего отчёта для клиента.",
    "Ок, ждём отчёт. Тикет пока не закрываем.",
    "Получили, спасибо. Закрываем.",
]
SUPPORT_BODIES = [
    "Hello! Thank you for the details. We are checking the port of cs-web-01 on the switch side; "
    "it will take about 15 minutes. Please do not reboot the server meanwhile.",
    "Здравствуйте! Порт приватной сети в панели управления выключен (статус DOWN). Включите его в "
    "разделе «Сети» → «Порты» или подтвердите, и мы включим его сами.",
    "There is no maintenance in ru-9a. The packet loss is on the same port; it should disappear once the "
    "port is enabled. Please send the mtr output again afterwards.",
    "Скорость ограничена на стороне коммутатора после замены модуля. Для применения правильного профиля "
    "нужна перезагрузка сервера (около 5 минут простоя). Когда удобно?",
    "Понял, перезагрузку запланировали на 02:00 МСК. Перед работами пришлём уведомление.",
    "Reboot done at 02:04 MSK, the link came up at 1 Gbit/s, the switch profile is correct now. "
    "Please confirm on your side.",
    "Glad it works. The incident report will be ready within two business days.",
    "Отчёт: 26.11 в 14:10 МСК при плановой замене модуля коммутатора порт сервера был переведён в "
    "профиль 100 Мбит/с и выключен для приватной сети. Профиль исправлен, процедура замены дополнена "
    "проверкой профиля портов. Приносим извинения за неудобства.",
    "Если вопросов больше нет, тикет можно закрыть. Хорошего дня!",
    "Thank you for the rating! Closing the ticket.",
]


async def _p4(token_count: Any) -> dict[str, Any]:
    from mcp import Client
    from pydantic import SecretStr

    from tickets_mcp.mcp_server.server import build_server
    from tickets_mcp.sandbox import run_sandbox
    from tickets_mcp.settings import Settings

    async with run_sandbox() as sb:
        async with httpx2.AsyncClient(headers={"X-Token": sb.token}, timeout=10) as http:
            created = await http.post(
                sb.base_url + "/v2/tickets",
                json={
                    "summary": "Приватная сеть недоступна после перезагрузки cs-web-01",
                    "categories": ["cloud_servers"],
                    "category_fields": [{"key": "region", "values": ["ru-9"]}],
                    "products": ["cloud_servers"],
                    "access_level": "account_users",
                    "keystone_projects": [],
                    "files": [],
                    "secrets": [],
                    "comment_body": CLIENT_BODIES[0],
                },
            )
            created.raise_for_status()
            number = int(created.json()["number"])
            # 19 more: support and client alternate (mixed EN/RU, short and long), 20 comments in all.
            client_iter, support_iter = iter(CLIENT_BODIES[1:]), iter(SUPPORT_BODIES)
            for i in range(19):
                if i % 2 == 0:
                    r = await http.post(
                        f"{sb.admin_url}/tickets/{number}/support-reply", json={"body": next(support_iter)}
                    )
                else:
                    r = await http.post(
                        f"{sb.base_url}/tickets/{number}/comments", json={"body": next(client_iter)}
                    )
                r.raise_for_status()
            ticket = (await http.get(f"{sb.base_url}/v2/tickets/{number}")).json()
            comments = (await http.get(f"{sb.base_url}/tickets/{number}/comments")).json()
        settings = Settings(token=SecretStr(sb.token), base_url=sb.base_url, calls_per_minute=0)
        async with Client(build_server(settings), mode="legacy") as client:  # type: ignore[arg-type]
            result = await client.call_tool("get_ticket", {"number": number, "include_comments": True})
            resource = await client.read_resource(f"tickets://{number}")
    items = comments["items"] if isinstance(comments, dict) else comments
    assert len(items) == 20, len(items)
    raw = json.dumps({"ticket": ticket, "comments": comments}, separators=(",", ":"), ensure_ascii=False)
    tool_text = "\n".join(getattr(b, "text", "") for b in result.content)
    structured = json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)
    resource_text = "\n".join(getattr(c, "text", "") for c in resource.contents)
    bodies = "\n".join([ticket["summary"], *(c["body"] for c in items)])
    # The comment blocks: everything after the line that introduces them; their overhead is what is not body.
    blocks = tool_text.split("oldest first:\n", 1)[1]
    overhead = (token_count(blocks) - sum(token_count(c["body"] + "\n") for c in items)) / len(items)
    return {
        "header": token_count(tool_text.split("\nAll 20 comments")[0]),
        "per_comment": overhead,
        "number": number,
        "raw": token_count(raw),
        "tool_text": token_count(tool_text),
        "structured": token_count(structured),
        "resource_text": token_count(resource_text),
        "bodies_only": token_count(bodies),
        "raw_bytes": len(raw.encode()),
        "tool_bytes": len(tool_text.encode()),
        "truncated": bool(result.structured_content and result.structured_content["thread"].get("truncated")),
        "sample": tool_text[:1200],
    }


def p4_thread() -> tuple[Row, dict[str, Any]]:
    import bpe_openai

    enc = bpe_openai.get_encoding("o200k_base")
    d = asyncio.run(_p4(lambda text: len(enc.encode(text))))
    tool, res, raw = d["tool_text"] / d["raw"], d["resource_text"] / d["raw"], d["raw"]
    floor = d["bodies_only"] / raw
    d.update(tool_ratio=tool, resource_ratio=res, floor=floor)
    both = (d["tool_text"] + d["structured"]) / raw
    d.update(both_ratio=both, structured_ratio=d["structured"] / raw)
    row = Row(
        "P4",
        "20-comment thread (mixed EN/RU): text tokens of tool / resource output vs raw API JSON (compact); "
        "overhead per comment (label, fences, separators)",
        f"tool {tool:.2f}×, resource {res:.2f}× ({d['tool_text']} / {d['resource_text']} vs {raw} tokens; "
        f"bodies alone {floor:.2f}×); {d['per_comment']:.1f} tokens per comment",
        # Every comment carries its id (the agent needs it for get_comment, rate_comment and before=).
        "≤ 0.42×; ≤ 14 tokens",
        max(tool, res) <= 0.42 and d["per_comment"] <= 14,
    )
    return row, d
