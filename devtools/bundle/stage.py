"""Finish a staged bundle: narrow the manifest's platforms to the one its vendored dependencies were built
for (pydantic-core is compiled), and check that the entry point and the prompts are in place."""

from __future__ import annotations

import json
import sys
from pathlib import Path

PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32"}


def main(stage: Path) -> int:
    manifest_path = stage / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["compatibility"]["platforms"] = [PLATFORMS.get(sys.platform, sys.platform)]
    py = f">={sys.version_info.major}.{sys.version_info.minor},<{sys.version_info.major}.{sys.version_info.minor + 1}"
    manifest["compatibility"]["runtimes"]["python"] = py  # compiled wheels are for this minor version
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    missing = [
        p
        for p in (manifest["server"]["entry_point"], "server/tickets_mcp/cli.py", "server/lib/mcp", "prompts")
        if not (stage / p).exists()
    ]
    if missing:
        print(f"bundle staging incomplete, missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"staged {stage} for {sys.platform}, Python {py}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
