"""Attachments are checked before anything is uploaded: count, name, extension, size, base64, and the paths
(roots, HTTP, symlinks, ``..``, devices, FIFOs, /proc, a file that grows after its check)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tickets_mcp.mcp_server import attachments as a
from tickets_mcp.mcp_server.arguments import AttachmentArg
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio
ALLOWED = ["txt", "log", "png", "conf"]


class Catalog:
    def __init__(self) -> None:
        self.asked = 0

    async def file_extensions(self) -> list[str]:
        self.asked += 1
        return ALLOWED


def caller(*roots: Path) -> Any:
    return SimpleNamespace(
        settings=SimpleNamespace(file_roots=tuple(os.path.realpath(r) for r in roots), transport="stdio"),
        catalog=Catalog(),
    )


async def refusal(entries: list[dict[str, Any]], *roots: Path, files: Any = None, http: bool = False) -> str:
    given = [AttachmentArg(**e) for e in entries]
    with pytest.raises(a.NotAttachable) as caught:
        await a.prepare(caller(*roots), given, files, http=http)
    return caught.value.message


async def prepared(entries: list[dict[str, Any]], *roots: Path) -> a.Attachments:
    result = await a.prepare(caller(*roots), [AttachmentArg(**e) for e in entries], None, http=False)
    assert result is not None
    return result


# -- the entries -----------------------------------------------------------------------------------


async def test_none_is_no_attachments() -> None:
    assert await a.prepare(caller(), None, None, http=False) is None
    assert await a.prepare(caller(), [], ["x"], http=False) is None


async def test_eleven_are_refused_and_so_are_ten_with_one_uuid() -> None:
    one = {"filename": "a.txt", "text": "x"}
    assert "11" in await refusal([one] * 11) and "at most 10" in await refusal([one] * 11)
    message = await refusal([one] * 10, files=["3f2b8c1e-9a4d-4e7b-8c21-0d9e6f5a4b3c"])
    assert "10 attachment(s) and 1 file UUID(s) make 11" in message


async def test_a_name_is_needed_with_an_extension_the_api_takes() -> None:
    assert "filename is empty" in await refusal([{"filename": " ", "text": "x"}])
    assert "filename is empty" in await refusal([{"text": "x"}])
    assert "not a path" in await refusal([{"filename": "../etc/passwd.txt", "text": "x"}])
    assert "no extension" in await refusal([{"filename": "Makefile", "text": "x"}])
    message = await refusal([{"filename": "setup.exe", "content_base64": "TVo="}])
    assert message.startswith("attachments[0] (setup.exe): ") and ".exe" in message and "png" in message


async def test_an_entry_has_only_the_known_keys_with_text_values() -> None:
    given: list[Any] = [{"filename": "a.txt", "body": "x"}]
    with pytest.raises(a.NotAttachable, match=r"attachments\[0\]: unknown key\(s\) body"):
        await a.prepare(caller(), given, None, http=False)
    with pytest.raises(a.NotAttachable, match="text must be text"):
        await a.prepare(caller(), [{"filename": "a.txt", "text": 5}], None, http=False)
    result = await a.prepare(caller(), [{"filename": "a.txt", "text": "x"}], None, http=False)
    assert result is not None and result.items[0].content == b"x"


async def test_exactly_one_source() -> None:
    assert "exactly one" in await refusal([{"filename": "a.txt", "text": "x", "content_base64": "eA=="}])
    assert "got none" in await refusal([{"filename": "a.txt"}])


async def test_base64_must_be_valid_and_its_size_is_judged_before_decoding(monkeypatch: Any) -> None:
    assert "not valid base64" in await refusal([{"filename": "a.png", "content_base64": "not base64!"}])
    decoded: list[int] = []
    monkeypatch.setattr(a.base64, "b64decode", lambda *x, **k: decoded.append(1) or b"")
    huge = "A" * (4 * (a.MOST_BYTES // 3 + 2))  # just over 20 MB once decoded
    message = await refusal([{"filename": "a.png", "content_base64": huge}])
    assert "over the 20.0 MB" in message and decoded == []


async def test_a_text_over_the_limit_is_refused() -> None:
    assert "over the 20.0 MB" in await refusal([{"filename": "a.log", "text": "x" * (a.MOST_BYTES + 1)}])


async def test_the_failure_names_the_attachment_that_failed() -> None:
    message = await refusal([{"filename": "a.txt", "text": "x"}, {"filename": "b.bin", "text": "y"}])
    assert message.startswith("attachments[1] (b.bin): ")


async def test_a_text_is_cleaned_and_scanned_and_bytes_kept_as_they_are() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00").decode()
    result = await prepared(
        [
            {"filename": "app.log", "text": "ok\u200b line\r\npassword: Sup3rS3cret!x\n"},
            {"filename": "shot.png", "content_base64": png},
        ]
    )
    log, shot = result.items
    assert log.content == b"ok line\npassword: Sup3rS3cret!x\n" and log.cleaned == 2
    assert log.secrets and "attachments[0] (app.log)" in log.secrets and "Sup3r" not in log.secrets
    assert shot.content == b"\x89PNG\r\n\x1a\n\x00\x00" and shot.secrets is None
    assert shot.content_type == "image/png" and log.content_type == "text/plain"
    assert "app.log (" in result.question() and "looks like it contains" in result.question()


async def test_the_allow_list_is_asked_once_per_call() -> None:
    state = caller()
    await a.prepare(state, [AttachmentArg(filename=f"{i}.txt", text="x") for i in range(3)], None, http=False)
    assert state.catalog.asked == 1


# -- paths ----------------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "app.log").write_text("kernel: eth1 link down\n")
    (tmp_path / "outside.txt").write_text("not yours\n")
    return tmp_path / "root"


async def test_by_default_no_path_is_read_and_the_error_says_how_to_allow_it(root: Path) -> None:
    message = await refusal([{"path": str(root / "app.log")}])
    assert "reads no path" in message and "TICKETS_MCP_FILE_ROOTS" in message


async def test_over_http_a_path_is_always_refused(root: Path) -> None:
    message = await refusal([{"path": str(root / "app.log")}], root, http=True)
    assert "never read over HTTP" in message


async def test_a_file_under_a_root_is_read_by_absolute_or_relative_path(root: Path) -> None:
    for path in (str(root / "app.log"), "app.log", str(root / "sub" / ".." / "app.log")):
        if "sub" in path:
            (root / "sub").mkdir(exist_ok=True)
        item = (await prepared([{"path": path}], root)).items[0]
        assert item.filename == "app.log" and item.content == b"kernel: eth1 link down\n"


async def test_traversal_and_absolute_paths_outside_the_roots_are_refused(root: Path) -> None:
    for path in ("../outside.txt", str(root / ".." / "outside.txt"), str(root.parent / "outside.txt")):
        message = await refusal([{"path": path}], root)
        assert "outside the directories" in message, path


async def test_a_symlink_is_judged_by_where_it_points(root: Path) -> None:
    (root / "escape.txt").symlink_to(root.parent / "outside.txt")
    assert "outside the directories" in await refusal([{"path": str(root / "escape.txt")}], root)
    (root.parent / "link-dir").symlink_to(root.parent)  # a directory link into the parent
    assert "outside the directories" in await refusal([{"path": "../link-dir/outside.txt"}], root)
    (root / "inside.txt").symlink_to(root / "app.log")
    item = (await prepared([{"path": str(root / "inside.txt")}], root)).items[0]
    assert item.filename == "app.log"  # the real name is the one checked and sent


async def test_a_symlinked_name_cannot_hide_a_forbidden_extension(root: Path) -> None:
    (root / "tool.exe").write_bytes(b"MZ")
    (root / "tool.txt").symlink_to(root / "tool.exe")
    assert ".exe" in await refusal([{"path": str(root / "tool.txt")}], root)


async def test_devices_fifos_proc_sys_and_directories_are_refused(root: Path) -> None:
    os.mkfifo(root / "pipe.log")
    assert "not a regular file" in await refusal([{"path": str(root / "pipe.log")}], root)  # no hang
    assert "is a directory" in await refusal([{"path": str(root)}], root)
    everything = Path("/")
    for path in ("/proc/self/status", "/sys/kernel/notes", "/dev/null", "/dev/zero"):
        assert "never attached" in await refusal([{"path": path}], everything), path


async def test_a_missing_or_empty_file_is_refused(root: Path) -> None:
    assert "no file at" in await refusal([{"path": "missing.log"}], root)
    (root / "empty.log").write_text("")
    assert "is empty" in await refusal([{"path": "empty.log"}], root)


async def test_a_file_over_the_limit_is_refused_from_its_stat_before_reading(
    root: Path, monkeypatch: Any
) -> None:
    (root / "big.log").touch()
    os.truncate(root / "big.log", a.MOST_BYTES + 1)  # sparse: 20 MB + 1 byte, nothing written
    reads: list[int] = []
    monkeypatch.setattr(a, "_read_at_most", lambda fd, limit: reads.append(limit) or b"")
    assert "over the 20.0 MB" in await refusal([{"path": "big.log"}], root)
    assert reads == []


async def test_a_file_that_grows_after_its_check_is_refused_and_read_no_further(
    root: Path, monkeypatch: Any
) -> None:
    read = a._read_at_most
    limits: list[int] = []

    def growing(fd: int, limit: int) -> bytes:
        with open(root / "app.log", "a") as f:
            f.write("more lines\n" * 1000)  # written after the stat, before the read
        limits.append(limit)
        return read(fd, limit)

    monkeypatch.setattr(a, "_read_at_most", growing)
    assert "grew while it was read" in await refusal([{"path": "app.log"}], root)
    assert limits == [len("kernel: eth1 link down\n") + 1]  # never more than the checked size + 1


def test_file_roots_must_be_directories_and_are_resolved(root: Path) -> None:
    link = root.parent / "logs"
    link.symlink_to(root)
    settings = Settings(sandbox=True, file_roots=f"{link}{os.pathsep}{root}")
    assert settings.file_roots == (os.path.realpath(root), os.path.realpath(root))
    with pytest.raises(ValueError, match="not a directory"):
        Settings(sandbox=True, file_roots=str(root / "app.log"))
    assert Settings(sandbox=True).file_roots == ()


def test_a_files_text_is_scanned_up_to_its_cap_and_a_pasted_text_whole() -> None:
    secret = "\npassword: Sup3rS3cret!x\n"
    late = ("é" * (a.SCAN_BYTES // 2) + secret).encode()  # the secret past the cap
    assert a._scan("f", late) is None and a._scan("f", late, whole=True) is not None
    assert a._scan("f", (secret + "x" * a.SCAN_BYTES).encode()) is not None  # head cut mid-file
    assert a._scan("f", b"\x89PNG\x00" + secret.encode()) is None  # binary


async def test_a_name_on_two_lines_is_refused() -> None:
    assert "one line" in await refusal([{"filename": "a.txt\nb.txt", "text": "x"}])
