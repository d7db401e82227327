"""Drive every kind of output a client can see, in normal operation, under faults and with a refused
credential, and return it all as one text to search for a canary secret."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client

from tickets_mcp.sandbox import SandboxHandle

FAULT_KINDS = ["429", "429-date", "429-none", "500", "502", "503", "504", "drop", "timeout", "malformed"]
SERVER_ENV = {
    "TICKETS_MCP_LOG_LEVEL": "DEBUG",
    "TICKETS_MCP_READ_TIMEOUT": "0.5",
    "TICKETS_MCP_RETRY_BUDGET": "1",
    "TICKETS_MCP_CATALOG_TTL": "0",
    "TICKETS_MCP_CREATES_PER_MINUTE": "1000",
    "TICKETS_MCP_CALLS_PER_MINUTE": "0",
}
NUMBER = 2401007


def _dump(result: Any) -> str:
    text = "\n".join(getattr(b, "text", "") for b in result.content)
    return text + "\n" + json.dumps(result.structured_content, ensure_ascii=False)


async def exercise(c: Client, tag: str) -> str:
    """Tool results, error texts, resources and prompts, concatenated."""
    seen = [json.dumps([t.model_dump(mode="json") for t in (await c.list_tools()).tools])]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search_tickets", {"q": "backup"}),
        ("count_tickets", {"is_only_opened": True}),
        ("get_ticket", {"number": NUMBER, "include_comments": True}),
        ("list_comments", {"number": NUMBER}),
        ("get_comment", {"comment_id": 9100020}),
        ("list_categories", {}),
        ("get_category_fields", {"category": "cloud_servers"}),
        ("list_products", {}),
        (
            "create_ticket",
            {
                "summary": f"canary check {tag}",
                "categories": ["cloud_servers"],
                "category_fields": [{"key": "region", "values": ["ru-3"]}],
                "comment_body": "Checking that secrets stay secret.",
            },
        ),
        ("add_comment", {"number": NUMBER, "body": f"canary comment {tag}"}),
        ("get_ticket", {"number": 999}),
        ("get_ticket", {"number": "not a number"}),
    ]
    for name, args in calls:
        seen.append(_dump(await c.call_tool(name, args)))
    uris = [f"tickets://{NUMBER}", "catalog://categories", "catalog://products"]
    try:
        uris += [str(r.uri) for r in (await c.list_resources()).resources][:5]
    except Exception as exc:  # an error text is output too
        seen.append(str(exc))
    for uri in uris:
        try:
            seen += [getattr(x, "text", "") for x in (await c.read_resource(uri)).contents]
        except Exception as exc:
            seen.append(str(exc))
    try:
        prompt = await c.get_prompt("summarize_thread", {"number": str(NUMBER)})
        seen.append(json.dumps([m.model_dump(mode="json") for m in prompt.messages], ensure_ascii=False))
    except Exception as exc:
        seen.append(str(exc))
    return "\n".join(seen)


async def three_phases(c: Client, sb: SandboxHandle) -> dict[str, str]:
    """Normal, then faults (every kind), then every credential refused (401)."""
    out = {"normal": await exercise(c, "normal")}
    # Every kind once, on the first ten requests: retries, an ambiguous write, a failed read.
    sb.set_faults({"sequence": FAULT_KINDS, "delay": 0.6, "retry_after": 0})
    try:
        out["faults"] = await exercise(c, "faults")
    finally:
        sb.clear_faults()
    accepted = sb.config.static_tokens
    sb.config.static_tokens = ("somebody-else",)
    try:
        out["auth"] = await exercise(c, "auth")
    finally:
        sb.config.static_tokens = accepted
    return out


def check_phases(outputs: dict[str, str], secrets: list[str]) -> None:
    for phase, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"secret leaked in {phase} output"
    # The phases did what they claim, so the absence above means something.
    assert "Backup job to S3" in outputs["normal"]
    assert "refused the credentials" in outputs["auth"]
    assert any(word in outputs["faults"] for word in ("outcome is unknown", "after retries", "Try again"))
