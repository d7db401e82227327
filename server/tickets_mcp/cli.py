"""Command line: argument parsing → settings → run (stdio | http | sandbox | demo | doctor)."""

from __future__ import annotations

import argparse
import sys

from tickets_mcp import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickets-mcp",
        description="MCP server for the Selectel / Servercore support Tickets API.",
    )
    parser.add_argument("--version", action="version", version=f"tickets-mcp {__version__}")
    sub = parser.add_subparsers(dest="command")
    from tickets_mcp.sandbox.cli import add_parser as add_sandbox_parser

    add_sandbox_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        from tickets_mcp.sandbox.cli import run as run_sandbox

        return run_sandbox(args)
    parser.print_help(sys.stderr)
    return 2
