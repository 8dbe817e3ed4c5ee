"""files.sync(delete=True) and files.block on real files under /tmp, run on ``@local`` (a
real shell): the cases a security review reproduced (a crafted name under dest, excluded
remote files, a full disk, a begin marker with no end, two blocks, content holding a marker).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy


def sync_deploy(tmp_path: Path, src: Path, dest: Path, extra: str = "") -> Path:
    return write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.sync(name="sync", src={str(src)!r}, dest={str(dest)!r}, delete=True{extra})
        """,
    )


def test_sync_delete_a_crafted_name_removes_nothing_outside_dest(tmp_path: Path) -> None:
    src, dest, victim = tmp_path / "src", tmp_path / "dest", tmp_path / "victim-dir"
    src.mkdir()
    (src / "keep.txt").write_text("keep\n")
    victim.mkdir()
    (victim / "f").write_text("precious\n")
    crafted = dest / f"x\n{victim}"  # a directory whose name, listed one per line, reads as two paths
    crafted.mkdir(parents=True)
    (crafted / "f").write_text("planted\n")
    out = run_deploy("@local", sync_deploy(tmp_path, src, dest))
    assert out.code == 0, out.describe()
    assert (victim / "f").read_text() == "precious\n"  # outside dest: untouched
    assert not (crafted / "f").exists()  # the extra file under dest, removed as the one path it is
    assert (dest / "keep.txt").read_text() == "keep\n"
    again = run_deploy("@local", sync_deploy(tmp_path, src, dest))
    assert again.statuses("@local") == {"sync": "unchanged"}, again.describe()


def test_sync_delete_keeps_remote_files_exclude_matches(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    (src / "skip.pyc").write_text("local pyc\n")
    (dest / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.pyc", "sub/c.pyc", "old.txt"):
        (dest / name).write_text("remote\n")
    out = run_deploy("@local", sync_deploy(tmp_path, src, dest, ', exclude="*.pyc"'))
    assert out.code == 0, out.describe()
    assert (dest / "a.txt").read_text() == "a\n"
    assert (dest / "b.pyc").read_text() == "remote\n" and (dest / "sub" / "c.pyc").read_text() == "remote\n"
    assert not (dest / "old.txt").exists() and not (dest / "skip.pyc").exists()


def block_deploy(tmp_path: Path, path: Path, args: str) -> Path:
    return write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.block(name="block", path={str(path)!r}, {args})
        """,
    )


def test_block_keeps_owner_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    path.write_text("a\n# BEGIN PYINFRA BLOCK\nold\n# END PYINFRA BLOCK\nz\n")
    os.chmod(path, 0o640)
    out = run_deploy("@local", block_deploy(tmp_path, path, 'content="new"'))
    assert out.code == 0, out.describe()
    assert path.read_text() == "a\n# BEGIN PYINFRA BLOCK\nnew\n# END PYINFRA BLOCK\nz\n"
    assert oct(path.stat().st_mode & 0o7777) == "0o640"
    assert sorted(os.listdir(tmp_path)) == ["conf", "deploy.py"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_block_on_a_full_disk_leaves_the_file_whole(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        path = disk / "conf"
        original = "a\n# BEGIN PYINFRA BLOCK\nold\n# END PYINFRA BLOCK\n"
        path.write_text(original)
        fill = disk / "fill"
        fill.mkdir()
        pages = 0
        try:  # fill the disk page by page, then free 10 pages (40 KiB)
            while True:
                (fill / str(pages)).write_bytes(b"f" * 4096)
                pages += 1
        except OSError:
            pass
        for n in range(pages - 10, pages + 1):
            (fill / str(n)).unlink(missing_ok=True)
        # 30 KB of new content: the new file fits once (a copy written back over the file, the
        # old way, truncated it first and then did not fit: the file was lost)
        out = run_deploy("@local", block_deploy(tmp_path, path, 'content="y" * 30000'))
        assert out.code == 0, out.describe()
        new = "a\n# BEGIN PYINFRA BLOCK\n" + "y" * 30000 + "\n# END PYINFRA BLOCK\n"
        assert path.read_text() == new
        # 60 KB does not fit at all: the operation fails, the file is as it was, no temporary file
        out = run_deploy("@local", block_deploy(tmp_path, path, 'content="z" * 60000'))
        assert out.code != 0, out.describe()
        assert path.read_text() == new
        assert sorted(os.listdir(disk)) == ["conf", "fill"]
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("args", ['content="new"', "present=False"])
def test_block_refuses_a_begin_marker_without_end(tmp_path: Path, args: str) -> None:
    path = tmp_path / "conf"
    original = "a\n# BEGIN PYINFRA BLOCK\nold\nimportant\nlines\n"
    path.write_text(original)
    out = run_deploy("@local", block_deploy(tmp_path, path, args))
    assert out.code != 0, out.describe()
    assert "no end marker" in out.stdout + out.stderr and str(path) in out.stdout + out.stderr
    assert path.read_text() == original


def test_block_refuses_two_blocks_rather_than_rewrite_every_run(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    block = "# BEGIN PYINFRA BLOCK\nold\n# END PYINFRA BLOCK\n"
    original = "a\n" + block + "b\n" + block
    path.write_text(original)
    out = run_deploy("@local", block_deploy(tmp_path, path, 'content="old"'))
    assert out.code != 0, out.describe()
    assert "2 blocks" in out.stdout + out.stderr
    assert path.read_text() == original


def test_block_refuses_content_holding_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    path.write_text("a\n")
    out = run_deploy("@local", block_deploy(tmp_path, path, 'content="x\\n# END PYINFRA BLOCK\\ny"'))
    assert out.code != 0, out.describe()
    assert "marker" in out.stdout + out.stderr
    assert path.read_text() == "a\n"


def test_block_fills_an_empty_block_then_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    path.write_text("a\n# BEGIN PYINFRA BLOCK\n# END PYINFRA BLOCK\nz\n")
    deploy = block_deploy(tmp_path, path, 'content="new", line="^z", before=True')
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert path.read_text() == "a\n# BEGIN PYINFRA BLOCK\nnew\n# END PYINFRA BLOCK\nz\n"
    again = run_deploy("@local", deploy)
    assert again.statuses("@local") == {"block": "unchanged"}, again.describe()
    assert path.read_text() == "a\n# BEGIN PYINFRA BLOCK\nnew\n# END PYINFRA BLOCK\nz\n"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_sync_refuses_a_special_file_in_src_before_anything_runs(tmp_path: Path, kind: str) -> None:
    """A fifo in src hung the run (it was opened to be read, and nothing writes to it); a
    socket failed with a traceback. Either is one line naming the file, exit 2, nothing made."""
    import socket

    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a\n")
    special = src / "sub" / "special"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(special))
        sock.close()  # the socket file stays
    out = run_deploy("@local", sync_deploy(tmp_path, src, dest))
    assert out.code == 2, out.describe()
    assert f"{special}" in out.stderr + out.stdout and "not a regular file" in out.stderr + out.stdout, out.describe()
    assert "Traceback" not in out.stderr, out.describe()
    assert not dest.exists()


@pytest.mark.timeout(60)
def test_put_refuses_a_fifo_or_directory_as_src(tmp_path: Path) -> None:
    """files.put(src=<a fifo>) hung the run reading it; a directory was a bare OS error."""
    fifo, dest = tmp_path / "fifo", tmp_path / "dest.txt"
    os.mkfifo(fifo)
    for src in (fifo, tmp_path):
        deploy = write_deploy(
            tmp_path, f"from oxinfra.operations import files\nfiles.put(src={str(src)!r}, dest={str(dest)!r})\n"
        )
        out = run_deploy("@local", deploy)
        assert out.code == 2, out.describe()
        assert "is not a regular file" in out.stderr + out.stdout, out.describe()
        assert not dest.exists()
