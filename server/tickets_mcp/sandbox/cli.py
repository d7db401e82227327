"""``tickets-mcp sandbox``: serve the sandbox API until Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import Any

from tickets_mcp.sandbox.config import SandboxConfig
from tickets_mcp.sandbox.faults import FaultSpecError, parse_cli_spec

log = logging.getLogger("tickets_mcp.sandbox")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="serve the embedded sandbox of the Tickets API",
        description="Serve an emulation of the Tickets API (demo data, rate limits, faults, journal).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = a free port)")
    parser.add_argument("--db", metavar="PATH", help="SQLite file that keeps data across restarts")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply every sandbox duration (e.g. 0.0333 makes the minute 2 s)",
    )
    parser.add_argument(
        "--retry-after", choices=["delta", "date"], default="delta", help="Retry-After form on 429 answers"
    )
    parser.add_argument(
        "--auto-reply",
        type=float,
        metavar="SECONDS",
        help="add a support reply this long after each client comment",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="fault rule: JSON, KIND[,KIND] (sequence) or P:KIND[,KIND] (probability)",
    )
    parser.add_argument(
        "--static-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="accept this X-Token (repeatable; default: the demo token). A token ending in _<digits> counts "
        "its rate limits for that account number",
    )
    parser.add_argument("--no-seed", action="store_true", help="do not load demo data into an empty store")
    parser.add_argument(
        "--expose",
        action="store_true",
        help="allow a non-loopback --host: the sandbox has no access control (its admin API needs no token)",
    )
    return parser


def _loopback(host: str) -> bool:
    """Binding ``host`` reaches only this machine. (The server's own check is in settings.py; the sandbox
    imports nothing of the server.)"""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from tickets_mcp.sandbox.app import create_app
    from tickets_mcp.sandbox.runner import bind_socket

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if not _loopback(args.host):
        if not args.expose:
            print(
                f"tickets-mcp sandbox: refusing to listen on {args.host}: the sandbox has no access control "
                "(anyone reaching the port can read and change its data and fault plan). Bind 127.0.0.1, or "
                "pass --expose to serve it on this address on purpose.",
                file=sys.stderr,
            )
            return 2
        log.warning("the sandbox listens on %s with no access control (--expose)", args.host)
    try:
        rules = [parse_cli_spec(spec) for spec in args.fault]
        config = SandboxConfig(
            host=args.host,
            port=args.port,
            db_path=args.db,
            time_scale=args.time_scale,
            retry_after_format=args.retry_after,
            auto_reply_after=args.auto_reply,
            seed=not args.no_seed,
            static_tokens=tuple(args.static_token) if args.static_token else SandboxConfig.static_tokens,
            faults=[r for spec in rules for r in (spec["rules"] if "rules" in spec else [spec])] or None,
        )
        app = create_app(config)
    except (FaultSpecError, ValueError) as exc:
        print(f"tickets-mcp sandbox: {exc}", file=sys.stderr)
        return 2
    state = app.state.sandbox
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"tickets-mcp sandbox: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        state.close()
        return 1
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    root = f"http://{host}:{port}"
    print(
        f"Tickets API sandbox\n"
        f"  base URL:     {root}/support\n"
        f"  files URL:    {root}/files (the Attachments API)\n"
        f"  identity URL: {root}/identity/v3\n"
        f"  admin URL:    {root}/_sandbox\n"
        f"  X-Token:      {config.static_tokens[0]}\n"
        f"  service user: {config.username} / {config.password} (account {config.account_id})\n"
        f"  data:         {args.db or 'in memory'}; Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
    )
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        state.stopping.set()
        sock.close()
        state.close()
    return 0
