"""Ticket creation without duplicates: the ambiguous-failure lookup (policy: ``client.py``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tickets_mcp.api import dedup
from tickets_mcp.api.errors import TicketsApiError
from tickets_mcp.api.models import CreateTicketRequest, CreateTicketResult, TicketV2

if TYPE_CHECKING:
    from tickets_mcp.api.client import TicketsClient

logger = logging.getLogger("tickets_mcp.api")


async def create(
    client: TicketsClient, request: CreateTicketRequest, body: dict[str, Any]
) -> CreateTicketResult:
    """Send the create once; after an ambiguous failure, look for the ticket before giving up."""
    started = datetime.now(UTC)
    try:
        ticket = await client._call("create_ticket", TicketV2.model_validate, json=body)
    except TicketsApiError as exc:
        if not exc.outcome_unknown:
            raise
        logger.warning("create_ticket: outcome unknown (%s); looking for the ticket", type(exc).__name__)
        try:
            found = await recover(client, request, started)
        except TicketsApiError:
            logger.warning("create_ticket: the lookup after an ambiguous failure failed too")
            exc.message += " (The lookup for it failed as well.)"
            raise exc from None
        if found is None:
            exc.message += " (No ticket with this summary was found just now.)"
            raise
        dedup.remember_number(client.credential, found.number)
        return CreateTicketResult(ticket=found, recovered=True)
    dedup.remember_number(client.credential, ticket.number)
    return CreateTicketResult(ticket=ticket)


async def recover(client: TicketsClient, request: CreateTicketRequest, started: datetime) -> TicketV2 | None:
    """The ticket an ambiguous create may have made, if a search finds exactly that."""
    page = await client.search_tickets(q=request.summary, items_per_page=20)
    cutoff = started - timedelta(seconds=client.recover_window)
    known = dedup.known_numbers(client.credential)
    for item in page.items:
        if item.summary != request.summary or item.number in known:
            continue
        created = item.created_at
        if isinstance(created, datetime):
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            if created < cutoff:
                continue
        if item.categories and set(item.categories) != set(request.categories):
            continue
        logger.info("create_ticket: found ticket %s after the ambiguous failure", item.number)
        try:
            return await client.get_ticket(item.number)
        except TicketsApiError:
            return TicketV2.model_validate(item.model_dump())
    return None
