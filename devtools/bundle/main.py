"""MCP Bundle entry point: puts the bundled package (server/) and its vendored dependencies (server/lib)
on sys.path, then runs the normal command line. Copied to ``server/main.py`` by ``make bundle``."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "lib")]

from tickets_mcp.cli import main  # noqa: E402

raise SystemExit(main())
