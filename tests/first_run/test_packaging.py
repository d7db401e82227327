"""An installed wheel (not the source checkout) finds the prompt files: they ship as data files under
<prefix>/share/tickets-mcp/prompts, the prompts loader's third place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_prompts_and_an_install_finds_them(tmp_path: Path) -> None:
    dist, src = tmp_path / "dist", tmp_path / "src"
    # Build from a copy, so the in-tree build/ and egg-info never land in the checkout.
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "server", src / "server", ignore=ignore)
    shutil.copytree(ROOT / "prompts", src / "prompts")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("tickets_mcp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if "/share/tickets-mcp/prompts/" in n)
    assert shipped == sorted(p.name for p in (ROOT / "prompts").glob("*.md"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    probe = (
        "from tickets_mcp.tools.prompt_files import default_prompts_dir, load_prompts;"
        "print(default_prompts_dir()); print(len(load_prompts()))"
    )
    # The wheel's own code; its dependencies from this venv (PYTHONPATH entries run no .pth files, so the
    # editable install of the checkout stays out of it).
    deps = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    found = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=deps
    )
    assert found.returncode == 0, found.stderr
    folder, count = found.stdout.split()
    assert Path(folder) == venv / "share" / "tickets-mcp" / "prompts"
    assert int(count) == len(shipped)
