"""Build the container image offline with podman: a Debian base, a wheelhouse, then the Containerfile.

No registry is needed. The base image is made from Debian packages with mmdebstrap (from the Debian
sources the host's apt uses) and imported into podman; it is built once per recipe and kept under a tag
that names the recipe. The wheelhouse (``build/image/wheels/``) holds the project's wheel and every
dependency for the base image's Python, version and platform, at the versions of
``devtools/constraints.txt``, and a ``requirements.txt`` pinning each with its sha256: the build installs
exactly those, with ``--no-index``.

    python devtools/image/build.py image [--base IMAGE] [--refresh-base]   # make image
    python devtools/image/build.py redis                                     # the test Redis (make image-test)

``CONTAINERS_CONF`` should point at ``devtools/image/containers.conf`` (the Makefile sets it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "build" / "image" / "wheels"
CONSTRAINTS = ROOT / "devtools" / "constraints.txt"
IMAGE = "localhost/tickets-mcp"
SUITE = "bookworm"
EXTRAS = "redis,otel"  # the image serves replicas (Redis) and exports telemetry (OTLP)

# Debian's slim images drop the same: documentation (but the copyright files), manuals and translations.
SLIM = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
)
# name → (variant, packages): the image's base, and the Redis the image test runs replicas against.
RECIPES = {
    "base": ("apt", ("python3", "python3-venv", "ca-certificates")),
    "redis": ("essential", ("redis-server",)),
}


def log(message: str) -> None:
    print(f"build.py: {message}", file=sys.stderr, flush=True)


def run(*command: str, capture: bool = False) -> str:
    """``command``'s stdout if ``capture``; its output is shown only if it fails."""
    result = subprocess.run(command, text=True, capture_output=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"build.py: {command[0]} {command[1]} exited {result.returncode}")
    return result.stdout if capture else ""


def debian_sources() -> Path:
    """The host's Debian sources (deb822 or one-line), so the base gets the same mirror and security updates."""
    given = os.environ.get("TICKETS_MCP_DEBIAN_SOURCES")
    for candidate in (given, "/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit(
        "build.py: no Debian sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list); "
        "set TICKETS_MCP_DEBIAN_SOURCES to a sources file"
    )


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag]).returncode == 0


def debian_image(name: str, *, refresh: bool = False) -> str:
    """A podman image made with mmdebstrap from ``RECIPES[name]``; its tag names the recipe, so a changed
    recipe (packages, options, sources) builds a new one and an unchanged one is reused."""
    variant, packages = RECIPES[name]
    sources = debian_sources()
    recipe = json.dumps([SUITE, variant, packages, SLIM, sources.read_text()])
    tag = f"localhost/tickets-mcp-{name}:{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if image_exists(tag) and not refresh:
        return tag
    log(f"making {tag} with mmdebstrap ({', '.join(packages)})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tickets-mcp-image-") as tmp:
        tarball = Path(tmp) / f"{name}.tar"
        run(
            "mmdebstrap",
            "--quiet",
            f"--variant={variant}",
            # merged /usr through the usr-is-merged package: the usrmerge package would pull in all of Perl
            "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
            f"--include={','.join(packages)}",
            *(f"--dpkgopt={option}" for option in SLIM),
            SUITE,
            str(tarball),
            str(sources),
        )
        run("podman", "import", "--quiet", str(tarball), tag, capture=True)
    log(f"{tag} made in {time.monotonic() - started:.0f} s")
    return tag


def interpreter(base: str) -> dict[str, str]:
    """The base image's Python: version, ABI, C library and machine, for the wheelhouse."""
    probe = (
        "import json, platform, sys; libc = platform.libc_ver(); print(json.dumps({"
        "'version': '%d.%d' % sys.version_info[:2], 'abi': 'cp%d%d' % sys.version_info[:2], "
        "'libc': libc[0], 'libc_version': libc[1], 'machine': platform.machine()}))"
    )
    found: dict[str, str] = json.loads(
        run("podman", "run", "--rm", "--network=none", base, "python3", "-c", probe, capture=True)
    )
    if found["libc"] != "glibc":
        raise SystemExit(f"build.py: the base image's C library is {found['libc']!r}; glibc is needed")
    return found


def wheelhouse(base: str) -> None:
    """``build/image/wheels``: the project's wheel, its dependencies for ``base``, and requirements.txt.

    pip on the host downloads wheels for the base's Python and platform, but it evaluates environment
    markers against the host's interpreter (``python_full_version < "3.11.3"`` is false on 3.11.7, true in
    Debian's 3.11.2). So the base image's own pip resolves the wheelhouse, offline; whatever it finds
    missing is downloaded and it resolves again. Its answer is the list of pins."""
    target = interpreter(base)
    shutil.rmtree(WHEELS, ignore_errors=True)
    WHEELS.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="tickets-mcp-src-") as src:
        # Built from a copy: a stale build/lib or egg-info of the checkout never reaches the wheel.
        for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
            shutil.copy(ROOT / name, Path(src) / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "prompts")
        shutil.copytree(ROOT / "server", Path(src) / "server", ignore=ignore)
        shutil.copytree(ROOT / "prompts", Path(src) / "prompts")
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(WHEELS), src)
    (wheel,) = WHEELS.glob("tickets_mcp-*.whl")
    download(target, f"{wheel}[{EXTRAS}]")
    for _ in range(10):
        report, missing = resolve_in(base)
        if report is not None:
            break
        log(f"the base's Python also needs {missing}")
        download(target, missing, deps=False)
    else:
        raise SystemExit("build.py: the wheelhouse does not resolve in the base image")
    wanted = {(item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]}
    lines = []
    for path in sorted(WHEELS.glob("*.whl")):
        name, version = path.name.split("-")[:2]
        if not any(canonical(name) == canonical(n) and version == v for n, v in wanted):
            path.unlink()  # needed only under the host's markers
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{name}=={version} --hash=sha256:{digest}")
    if len(lines) != len(wanted):
        raise SystemExit(f"build.py: {len(wanted)} distributions resolved, {len(lines)} wheels found")
    (WHEELS / "requirements.txt").write_text(
        "# Generated by devtools/image/build.py: every wheel of the image, pinned with its hash.\n"
        + "\n".join(lines)
        + "\n"
    )
    log(
        f"wheelhouse: {len(lines)} wheels for Python {target['version']} ({target['libc']} {target['libc_version']})"
    )


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def download(target: dict[str, str], requirement: str, *, deps: bool = True) -> None:
    """Wheels of ``requirement`` (and its dependencies) built for ``target``, at the pinned versions."""
    major, minor = (int(part) for part in target["libc_version"].split("."))
    machine = target["machine"]
    platforms = [f"manylinux_{major}_{m}_{machine}" for m in range(17, minor + 1)]
    platforms += [f"manylinux2014_{machine}", f"linux_{machine}"]
    run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",  # built for the target's Python, ABI and platform, whatever the host's are
        "--python-version",
        target["version"],
        "--implementation",
        "cp",
        *(arg for abi in (target["abi"], "abi3", "none") for arg in ("--abi", abi)),
        *(arg for platform in platforms for arg in ("--platform", platform)),
        *(() if deps else ("--no-deps",)),
        "--constraint",
        str(CONSTRAINTS),
        "--dest",
        str(WHEELS),
        requirement,
    )


def resolve_in(base: str) -> tuple[dict | None, str]:
    """What the base image's pip would install from the wheelhouse alone (a pip report), or the first
    requirement it cannot satisfy there (without its marker, which is true for the base)."""
    script = (
        "python3 -m venv /tmp/venv && /tmp/venv/bin/python -m pip install --quiet --dry-run --no-index "
        f"--find-links /wheels --report - 'tickets-mcp[{EXTRAS}]'"
    )
    found = subprocess.run(
        [
            "podman",
            "run",
            "--rm",
            "--network=none",
            "--volume",
            f"{WHEELS}:/wheels:ro",
            base,
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
    )
    if found.returncode == 0:
        return json.loads(found.stdout), ""
    marker = "No matching distribution found for "
    for line in found.stderr.splitlines():
        if marker in line:
            return None, line.split(marker, 1)[1].split(";")[0].strip()
    raise SystemExit(f"build.py: pip in the base image failed:\n{found.stderr}")


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def revision() -> str:
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def source_url() -> str:
    return str(json.loads((ROOT / "server.json").read_text())["repository"]["url"])


def image_id(tag: str) -> str | None:
    found = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True
    )
    return found.stdout.strip() or None


def build_image(base: str, tag: str) -> None:
    wheelhouse(base)
    started = time.monotonic()
    previous = {found for found in (image_id(tag), image_id(f"{IMAGE}:latest")) if found is not None}
    run(
        "podman",
        "build",
        "--quiet",
        "--format=docker",  # the OCI format has no HEALTHCHECK: podman would drop it
        "--network=none",  # everything comes from the wheelhouse
        "--pull=never",
        "--layers=false",  # no intermediate images left behind (the builder stage's, each rebuild's)
        "--file",
        str(ROOT / "Containerfile"),
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        f"VERSION={version()}",
        "--build-arg",
        f"REVISION={revision()}",
        "--build-arg",
        f"SOURCE={source_url()}",
        "--tag",
        tag,
        "--tag",
        f"{IMAGE}:latest",
        str(ROOT),
        capture=True,
    )
    for old in previous - {image_id(tag)}:  # the image this build replaced, if nothing else uses it
        subprocess.run(["podman", "image", "rm", old], capture_output=True)
    size = int(run("podman", "image", "inspect", "--format", "{{.Size}}", tag, capture=True))
    log(f"{tag} built in {time.monotonic() - started:.0f} s on {base}: {size / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    image = sub.add_parser("image", help="build the tickets-mcp image")
    image.add_argument("--base", help="use this base image instead of making one from Debian packages")
    image.add_argument("--refresh-base", action="store_true", help="make the Debian base again (updates)")
    image.add_argument("--tag", default=f"{IMAGE}:{version()}", help="the image's tag")
    redis = sub.add_parser("redis", help="make the Redis image the image test runs replicas against")
    redis.add_argument("--refresh", action="store_true", help="make it again")
    args = parser.parse_args(argv)
    if args.command == "image":
        build_image(args.base or debian_image("base", refresh=args.refresh_base), args.tag)
    else:
        print(debian_image("redis", refresh=args.refresh))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
