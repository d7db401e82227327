"""Command line: argument parsing → settings → run (stdio | http | sandbox | demo | doctor).

Exit codes: 0 success; 1 a check failed (doctor, demo); 2 bad configuration or usage
(missing credentials, invalid setting). Logs go to stderr only: in stdio mode stdout is the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from tickets_mcp import __version__

EPILOG = """\
modes:
  tickets-mcp                      serve MCP over stdio (needs credentials)
  tickets-mcp --sandbox            serve MCP over stdio against the embedded sandbox (no credentials)
  tickets-mcp --transport http     serve streamable HTTP on 127.0.0.1:8000/mcp (/healthz answers)
  tickets-mcp sandbox --port 8765  run only the sandbox Tickets API
  tickets-mcp demo                 a scripted assistant session against the sandbox
  tickets-mcp doctor               check settings and credentials

credentials (any one):
  SELECTEL_TOKEN                   static token (X-Token)
  SELECTEL_IAM_TOKEN               IAM token (X-Auth-Token)
  SELECTEL_USERNAME, SELECTEL_PASSWORD, SELECTEL_ACCOUNT_ID   service user (Keystone login)
  SELECTEL_TICKETS_URL             API base URL (default https://api.selectel.ru/support)

exit codes: 0 ok, 1 a check failed, 2 bad configuration or usage
"""

# Flag name → Settings field; store_true flags only override when given.
_FLAGS: dict[str, dict[str, Any]] = {
    "--sandbox": {"action": "store_true", "default": None, "help": "use the embedded sandbox API"},
    "--read-only": {"action": "store_true", "default": None, "help": "list and serve read tools only"},
    "--require-consent": {
        "action": "store_true",
        "default": None,
        "help": "refuse consent-gated writes when the client cannot ask the user",
    },
    "--no-apps": {
        "action": "store_false",
        "dest": "apps",
        "default": None,
        "help": "serve no MCP App views (the draft form, the thread view)",
    },
    "--toolsets": {"help": "comma list of tickets,comments,catalog,legacy or all"},
    "--language": {"choices": ["en", "ru"], "help": "language of localized names"},
    "--transport": {"choices": ["stdio", "http"], "help": "stdio (default) or streamable http"},
    "--host": {"help": "HTTP bind address (default 127.0.0.1)"},
    "--port": {"type": int, "help": "HTTP port (default 8000)"},
    "--credentials": {
        "choices": ["server", "per-request"],
        "help": "server: this server's own Selectel credential (default); per-request: each HTTP request "
        "carries its user's (X-Selectel-Token or X-Selectel-Auth-Token)",
    },
    "--behind-auth-proxy": {
        "action": "store_true",
        "default": None,
        "help": "allow a non-loopback HTTP bind without TICKETS_MCP_HTTP_TOKEN: only behind a proxy that "
        "authenticates every request",
    },
    "--oauth-issuer": {"help": "OAuth 2.1 resource-server mode: the authorization server's issuer URL"},
    "--oauth-jwks-url": {"help": "the issuer's JWKS URL (signature keys of its access tokens)"},
    "--oauth-audience": {"help": "this server's resource URL: the audience access tokens must carry"},
    "--redis-url": {
        "help": "Redis URL for state shared by replicas (pacing, dedup, call limits, subscriptions)"
    },
    "--tools": {"help": "comma list: serve exactly these tools (from any toolset without --toolsets)"},
    "--exclude-tools": {"help": "comma list: tools not to serve"},
    "--stateless": {"action": "store_true", "default": None, "help": "stateless streamable HTTP"},
    "--json-response": {
        "action": "store_true",
        "default": None,
        "help": "answer HTTP POSTs with plain JSON instead of SSE (faster; progress and consent "
        "questions then need the client's GET stream)",
    },
    "--token-budget": {"type": int, "help": "token budget of one tool result (default 8000)"},
    "--poll-interval": {"type": float, "help": "seconds between polls of subscribed threads (default 60)"},
    "--calls-per-minute": {"type": int, "help": "tool calls allowed per session per minute (0 = off)"},
    "--log-level": {"help": "DEBUG, INFO, WARNING (default) or ERROR"},
    "--log-format": {"choices": ["text", "json"], "help": "text (default) or json: one JSON object per line"},
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickets-mcp",
        description="MCP server for the Selectel / Servercore support Tickets API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tickets-mcp {__version__}")
    for flag, options in _FLAGS.items():
        parser.add_argument(flag, **options)
    sub = parser.add_subparsers(dest="command")
    from tickets_mcp.sandbox.cli import add_parser as add_sandbox_parser

    add_sandbox_parser(sub)
    sub.add_parser("demo", help="run a scripted assistant session against the sandbox")
    sub.add_parser("doctor", help="check settings and credentials")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = [options.get("dest", flag[2:].replace("-", "_")) for flag, options in _FLAGS.items()]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def load_settings(args: argparse.Namespace) -> Any:
    """Settings from flags, then environment, then defaults; exits 2 with a clear message."""
    from pydantic import ValidationError

    from tickets_mcp.settings import Settings

    try:
        settings = Settings(**_overrides(args))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        print(f"tickets-mcp: invalid configuration: {problems}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.tools or settings.exclude_tools:  # the tool registry is imported only when they are set
        from tickets_mcp.mcp_server.tools import filter_problem

        problem = filter_problem(settings)
        if problem is not None:
            print(f"tickets-mcp: invalid configuration: {problem}", file=sys.stderr)
            raise SystemExit(2)
    return settings


def serve(settings: Any) -> int:
    if settings.auth_mode == "none" and settings.credentials != "per-request":
        print(
            "tickets-mcp: no Tickets API credentials. Set SELECTEL_TOKEN (static token), or SELECTEL_IAM_TOKEN, "
            "or SELECTEL_USERNAME + SELECTEL_PASSWORD + SELECTEL_ACCOUNT_ID (service user); "
            "or run `tickets-mcp --sandbox` to try it against the embedded sandbox.",
            file=sys.stderr,
        )
        return 2
    from tickets_mcp.settings import exposure_problem, is_loopback

    problem = exposure_problem(settings)
    if problem is not None:
        print(f"tickets-mcp: refusing to start: {problem}", file=sys.stderr)
        return 2
    gated = settings.http_token is not None or settings.oauth_enabled
    if settings.transport == "http" and not is_loopback(settings.host) and not gated:
        logging.getLogger("tickets_mcp").warning(
            "HTTP listens on %s WITHOUT an auth gate (--behind-auth-proxy): every request must be "
            "authenticated by the proxy in front of this server, or anyone reaching port %s acts with "
            "its Selectel credentials",
            settings.host,
            settings.port,
        )
    from tickets_mcp.runtime import embedded_sandbox

    with embedded_sandbox(settings) as ready:
        from tickets_mcp.mcp_server.server import build_server

        server = build_server(ready)
        if ready.transport == "http":
            from tickets_mcp.mcp_server.server import run_http

            run_http(server, ready)
        else:
            server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        from tickets_mcp.sandbox.cli import run as run_sandbox_cli

        return run_sandbox_cli(args)
    settings = load_settings(args)
    from tickets_mcp import telemetry
    from tickets_mcp.logs import configure_logging

    configure_logging(
        settings.log_level, settings.secrets() + telemetry.header_secrets(), settings.log_format
    )
    stop_telemetry = telemetry.start()  # None (and nothing imported) unless an OTLP endpoint is set
    try:
        if args.command == "demo":
            from tickets_mcp.demo import run_demo

            return run_demo(settings)
        if args.command == "doctor":
            from tickets_mcp.doctor import run_doctor

            return run_doctor(settings)
        return serve(settings)
    except KeyboardInterrupt:
        return 0
    finally:
        if stop_telemetry is not None:
            stop_telemetry()
