"""The temporary files writes go through (``files.put``/``template`` uploads, ``files.block``'s
rewrite): created exclusively (``set -C``: never through a link or file planted at the name)
and never more readable than the file they become, on a real shell.

Found by a hostile review: ``files.block``'s fixed temporary name, written with a plain ``>``
and then chowned and chmodded, let a user who can write a file's directory plant a link there
and have root write, chown and chmod the file it leads to; an upload without a mode wrote
through a link at its name; an upload with a mode that has execute bits (700) was created
under the shell's umask (644: readable by all) and chmodded only after its contents were in."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import run_deploy, write_deploy
from oxinfra._engine import hostrun
from oxinfra._engine.script import render_upload, upload_temp_name
from oxinfra.api.commands import FileUpload

NONCE = "deadbeef" * 3


def _sh(text: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", text], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    "upload",
    [
        FileUpload(b"new\n", "DEST"),
        FileUpload(b"new\n", "DEST", mode=700),
        FileUpload(b"new\n", "DEST", umask="077"),
        FileUpload(b"new\x00bin\n", "DEST"),
        FileUpload(b"new\x00bin\n", "DEST", mode=750),
    ],
    ids=["no-mode", "mode-700", "umask", "binary", "binary-750"],
)
def test_an_upload_never_writes_through_a_link_at_its_temporary_name(tmp_path: Path, upload: FileUpload) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's\n")
    victim.chmod(0o600)
    dest = tmp_path / "dest"
    dest.write_text("old\n")
    upload.dest = str(dest)
    planted = tmp_path / upload_temp_name(str(dest), NONCE)
    planted.symlink_to(victim)
    done = _sh(render_upload(upload, NONCE), tmp_path)
    assert done.returncode != 0, done
    assert victim.read_text() == "root's\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert dest.read_text() == "old\n"  # the file is as it was


@pytest.mark.parametrize("mode", [700, 750, 711, 755, 2750, 600, 640])
def test_an_upload_is_created_no_more_readable_than_its_mode(tmp_path: Path, mode: int) -> None:
    """``chmod`` and ``mv`` are wrapped: the wrapper records the temporary file's mode as it
    is when they run, i.e. once its contents are in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "modes"
    pick = {"chmod": "for a; do f=$a; done", "mv": 'eval "f=\\${$(($# - 1))}"'}  # the temporary file
    for tool, find in pick.items():
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\n{find}\nstat -c "{tool} %a" -- "$f" >> {log}\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
    dest = tmp_path / "dest"
    upload = FileUpload(b"secret\n", str(dest), mode=mode)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    done = _sh("umask 022; " + render_upload(upload, NONCE), tmp_path, env)
    assert done.returncode == 0, done
    assert stat.S_IMODE(dest.stat().st_mode) == int(str(mode), 8)
    allowed = int(str(mode), 8) & 0o777
    for line in log.read_text().splitlines():
        seen = int(line.split()[1], 8) & 0o777
        assert seen & ~allowed == 0, f"{line}: more than {mode} while the contents were in"


def _planting_deploy(tmp_path: Path, body: str) -> Path:
    return write_deploy(tmp_path, "from oxinfra.operations import files\n" + body)


def test_block_never_writes_chowns_or_chmods_through_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    target.mkdir()
    rc = target / ".bashrc"
    rc.write_text("alias ll='ls -l'\n")
    rc.chmod(0o644)
    victim = tmp_path / "victim"
    victim.write_text("root only\n")
    victim.chmod(0o600)
    for name in os.listdir(target):
        assert not name.endswith(".oxinfra-block")
    # every name the rewrite could use (its old fixed name, too) leads to the victim
    (target / "..bashrc.oxinfra-block").symlink_to(victim)
    deploy = _planting_deploy(tmp_path, f'files.block(name="b", path={str(rc)!r}, content="export X=1")\n')
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert victim.read_text() == "root only\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert not rc.is_symlink()
    if out.code == 0:  # the rewrite used a name nobody could know: the file has the block
        assert "export X=1" in rc.read_text()
    else:  # it met the planted name: nothing changed, the operation says why
        assert rc.read_text() == "alias ll='ls -l'\n"
        assert "exists" in out.describe().lower(), out.describe()


def test_an_upload_without_a_mode_never_writes_through_a_planted_link(tmp_path: Path, monkeypatch: Any) -> None:
    """The temporary name is known (the connection's nonce, fixed here): a link planted
    there is not written through."""
    monkeypatch.setattr(hostrun, "new_nonce", lambda: NONCE)
    (tmp_path / "src.txt").write_text("new\n")
    dest = tmp_path / "run.conf"  # new: no mode to keep, the upload gets none
    victim = tmp_path / "victim"
    victim.write_text("root only\n")
    victim.chmod(0o600)
    (tmp_path / upload_temp_name(str(dest), NONCE)).symlink_to(victim)
    deploy = _planting_deploy(tmp_path, f'files.put(name="p", src="src.txt", dest={str(dest)!r})\n')
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert victim.read_text() == "root only\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert out.code != 0 and not dest.exists(), out.describe()


def test_a_download_again_keeps_the_files_mode_and_is_never_more_readable(
    tmp_path: Path, http_dir: tuple[str, Path]
) -> None:
    """``force=True`` over a key file of mode 600, no ``mode=`` given: it came back 644
    (the temporary file's), readable by all; with ``mode="600"`` the temporary file was 644
    while the download was written into it."""
    base, directory = http_dir
    (directory / "key").write_text("new secret\n")
    dest = tmp_path / "out.key"
    dest.write_text("old secret\n")
    dest.chmod(0o600)
    deploy = _planting_deploy(
        tmp_path, f'files.download(name="dl", src="{base}/key", dest={str(dest)!r}, force=True)\n'
    )
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    assert dest.read_text() == "new secret\n" and stat.S_IMODE(dest.stat().st_mode) == 0o600
    # the temporary file as the downloader writes into it: a wrapper of curl records its mode
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "modes"
    for tool in ("curl", "wget"):
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if real:
            wrapper = bin_dir / tool
            wrapper.write_text(
                '#!/bin/sh\nfor a; do case $a in *oxinfra-download*) stat -c %a -- "$a" >> '
                f'{log};; esac; done\nexec {real} "$@"\n'
            )
            wrapper.chmod(0o755)
    new = tmp_path / "new.key"
    deploy = _planting_deploy(tmp_path, f'files.download(name="dl", src="{base}/key", dest={str(new)!r}, mode="600")\n')
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}:{path}"
    try:
        out = run_deploy("@local", deploy, "--no-host-lock")
    finally:
        os.environ["PATH"] = path
    assert out.code == 0, out.describe()
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert log.read_text().split() == ["600"], "the temporary file while the download is written into it"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown)")
@pytest.mark.parametrize("data", [b"new\n", b"new\x00bin\n"], ids=["text", "binary"])
def test_an_upload_over_a_file_keeps_its_owner_by_number(tmp_path: Path, data: bytes) -> None:
    """``keep_owner``: the replaced file's uid and gid, read with ``ls -n`` as the upload
    runs (no account has 4242), are given to the new file before the rename."""
    dest = tmp_path / "dest *"  # a name the shell would split and glob
    dest.write_text("old\n")
    os.chown(dest, 4242, 4343)
    done = _sh(render_upload(FileUpload(data, str(dest), umask="022", keep_owner=True), NONCE), tmp_path)
    assert done.returncode == 0, done
    assert dest.read_bytes() == data and (dest.stat().st_uid, dest.stat().st_gid) == (4242, 4343)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest *"]
