"""MCP Bundle entry point (manifest 0.4, ``server.type: "uv"``): the host runs it with uv in the bundle's
folder (``uv run --directory <bundle> server/main.py``), in an environment uv made from the bundle's
pyproject.toml. It puts the bundled package (``server/tickets_mcp``) on sys.path and runs the normal
command line. ``devtools/bundle/stage.py`` copies it to ``server/main.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tickets_mcp.cli import main

raise SystemExit(main())
