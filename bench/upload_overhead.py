"""Upload overhead: `TicketsClient.upload_file` vs a raw httpx2 multipart POST, on the embedded sandbox.

Not a test (no timed assertions anywhere): run it and read the ratio.

    .venv/bin/python bench/upload_overhead.py [N] [SIZE_BYTES ...]

Both sides use one pooled httpx2.AsyncClient over loopback and post the same file to the sandbox's
Attachments API (its limits lifted, the client's pacing and dedup off, so neither waits); the client adds
the argument checks, the sha256 of the content (its dedup key), the content-type guess, the pacing and
dedup machinery, the retry loop and reading the UUID out of the answer. Interleaved, so drift hits both
sides alike; prints the median and p90 of each per size, the ratio and the overhead per upload.
TCP_NODELAY is forced as in `client_overhead.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
import httpx2
from client_overhead import force_nodelay, summary

from tickets_mcp.api import PacingPolicy, StaticToken, TicketsClient
from tickets_mcp.sandbox import run_sandbox

SIZES = (1_000, 100_000, 5_000_000)


async def main(n: int, sizes: tuple[int, ...]) -> None:
    with run_sandbox(uploads_per_minute=10**9, seed=False) as sb:
        pacing = PacingPolicy(enabled=False)
        async with (
            TicketsClient(sb.base_url, StaticToken(sb.token), pacing=pacing, dedup_window=0) as client,
            httpx2.AsyncClient(headers={"X-Token": sb.token}) as raw,
        ):
            url = sb.files_url + "/public/files"

            async def raw_upload(content: bytes) -> str:
                response = await raw.post(url, files={"file": ("bench.log", content, "text/plain")})
                response.raise_for_status()
                return str(response.json()["uuid"])

            for size in sizes:
                content = (b"2026-12-01T10:00:01Z kernel: nvme0n1: I/O error\n" * (size // 48 + 1))[:size]
                for _ in range(min(20, n)):  # warm both pools and the sandbox
                    await raw_upload(content)
                    await client.upload_file("bench.log", content)
                raw_samples: list[float] = []
                client_samples: list[float] = []
                for _ in range(n):
                    start = time.perf_counter()
                    await raw_upload(content)
                    raw_samples.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    await client.upload_file("bench.log", content)
                    client_samples.append(time.perf_counter() - start)
                print(f"-- {size} bytes")
                raw_median = summary("raw httpx2", raw_samples)
                client_median = summary("TicketsClient", client_samples)
                print(f"ratio of medians (client / raw): {client_median / raw_median:.3f}")
                print(f"overhead per upload: {(client_median - raw_median) * 1e6:.0f} µs")


if __name__ == "__main__":
    force_nodelay()
    args = [int(a) for a in sys.argv[1:]]
    anyio.run(main, args[0] if args else 200, tuple(args[1:]) or SIZES)
