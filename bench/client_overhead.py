"""Client overhead: `TicketsClient.get_ticket` vs a raw httpx2 GET, on the embedded sandbox.

Not a test (no timed assertions anywhere): run it and read the ratio.

    .venv/bin/python bench/client_overhead.py [N]

Both sides use one pooled httpx2.AsyncClient over loopback and the same ticket; the client adds
argument validation, auth headers, the retry loop, response parsing into `TicketV2`. Prints the
median and p90 of each and the ratio of medians.

Loopback caveat: the sandbox binds its listening socket with protocol 0, so asyncio does not set
TCP_NODELAY on accepted connections, and back-to-back keep-alive requests then stall ~40 ms on
Nagle + delayed ACK, whichever client sends them. That would measure the kernel, not the client,
so this script sets TCP_NODELAY on every asyncio stream socket (pass ``--as-is`` to skip that).
"""

from __future__ import annotations

import asyncio.base_events
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

import anyio
import httpx2

from tickets_mcp.api import StaticToken, TicketsClient
from tickets_mcp.sandbox import run_sandbox


def force_nodelay() -> None:
    def set_nodelay(sock: socket.socket) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    asyncio.base_events._set_nodelay = set_nodelay  # type: ignore[attr-defined]


def summary(name: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p90 = ordered[int(len(ordered) * 0.9)]
    print(f"{name:>16}: median {median * 1e3:7.3f} ms   p90 {p90 * 1e3:7.3f} ms   (n={len(samples)})")
    return median


async def main(n: int) -> None:
    with run_sandbox() as sb:
        raw_samples: list[float] = []
        client_samples: list[float] = []
        async with TicketsClient(sb.base_url, StaticToken(sb.token)) as client:
            number = (await client.search_tickets(items_per_page=1)).items[0].number
            async with httpx2.AsyncClient(base_url=sb.base_url + "/", headers={"X-Token": sb.token}) as raw:
                for _ in range(50):  # warm both pools and the sandbox
                    await raw.get(f"v2/tickets/{number}")
                    await client.get_ticket(number)
                for _ in range(n):  # interleaved, so drift hits both sides alike
                    start = time.perf_counter()
                    response = await raw.get(f"v2/tickets/{number}")
                    response.raise_for_status()
                    response.json()
                    raw_samples.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    await client.get_ticket(number)
                    client_samples.append(time.perf_counter() - start)
        raw_median = summary("raw httpx2", raw_samples)
        client_median = summary("TicketsClient", client_samples)
        print(f"ratio of medians (client / raw): {client_median / raw_median:.3f}")
        print(f"overhead per call: {(client_median - raw_median) * 1e6:.0f} µs")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--as-is"]
    if "--as-is" not in sys.argv:
        force_nodelay()
    anyio.run(main, int(args[0]) if args else 1000)
