"""Ticket creation without duplicates: the lookup after an ambiguous failure (policy: ``client.py``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tickets_mcp.api.errors import TicketsApiError
from tickets_mcp.api.models import CreateTicketResult, TicketV2, TicketV2Page
from tickets_mcp.api.shared import SharedState

logger = logging.getLogger("tickets_mcp.api")


class Client(Protocol):
    """What creating and looking up needs of `TicketsClient`."""

    credential: str
    recover_window: float
    shared: SharedState

    async def _create_ticket(self, **body: Any) -> TicketV2: ...
    async def search_tickets(self, **query: Any) -> TicketV2Page: ...
    async def get_ticket(self, number: int) -> TicketV2: ...


async def create(client: Client, body: dict[str, Any]) -> CreateTicketResult:
    """Send the create once; after an ambiguous failure, look for the ticket before giving up."""
    started = datetime.now(UTC)
    dedup = client.shared.dedup
    try:
        ticket = await client._create_ticket(**body)
    except TicketsApiError as exc:
        if not exc.outcome_unknown:
            raise
        logger.warning("create_ticket: outcome unknown (%s); looking for the ticket", type(exc).__name__)
        try:
            found = await recover(client, body, started)
        except TicketsApiError:
            logger.warning("create_ticket: the lookup after an ambiguous failure failed too")
            exc.message += " (The lookup for it failed as well.)"
            raise exc from None
        if found is None:
            exc.message += " (No ticket with this summary was found just now.)"
            raise
        await dedup.remember_number(client.credential, found.number)
        return CreateTicketResult(ticket=found, recovered=True)
    await dedup.remember_number(client.credential, ticket.number)
    return CreateTicketResult(ticket=ticket)


async def recover(client: Client, body: dict[str, Any], started: datetime) -> TicketV2 | None:
    """The ticket an ambiguous create may have made, if a search finds exactly that."""
    summary, categories = body["summary"], set(body["categories"])
    page = await client.search_tickets(q=summary, items_per_page=20)
    cutoff = started - timedelta(seconds=client.recover_window)
    known = await client.shared.dedup.known_numbers(client.credential)
    for item in page.items:
        if item.summary != summary or item.number in known:
            continue
        created = item.created_at
        if isinstance(created, datetime):
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            if created < cutoff:
                continue
        if item.categories and set(item.categories) != categories:
            continue
        logger.info("create_ticket: found ticket %s after the ambiguous failure", item.number)
        try:
            return await client.get_ticket(item.number)
        except TicketsApiError:
            return TicketV2.model_validate(item.model_dump())
    return None
