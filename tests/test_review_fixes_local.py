"""Fixes from a security review, each run for real on ``@local`` (this machine's ``sh`` is
dash): server.kill's command line under dash, git.repo's checkout of a branch named like a
path, apt.deb's download directory, files.download's temporary file, and Secrets given in an
operation's arguments kept out of the output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signal", [9, "KILL"])
def test_kill_runs_under_dash(tmp_path: Path, signal: object) -> None:
    assert os.path.realpath("/bin/sh").endswith("dash")
    proc = subprocess.Popen(["sleep", "300"])
    try:
        deploy = write_deploy(
            tmp_path,
            f"""
            from oxinfra.operations import server
            server.kill(name="kill", pid={proc.pid}, signal={signal!r})
            """,
        )
        out = run_deploy("@local", deploy)
        assert out.code == 0 and out.statuses("@local")["kill"] == "changed", out.describe()
        proc.wait(timeout=10)
        assert proc.returncode == -9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _as_nobody(script: str) -> None:
    subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", script], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to act as another user (nobody)")
@pytest.mark.parametrize("plant", ["file", "link"])
def test_download_into_a_shared_directory_ignores_a_planted_temp_file(
    tmp_path: Path, http_dir: tuple[str, Path], shared_dir: Path, plant: str
) -> None:
    """Another user pre-creates the download's temporary name (``.NAME.oxinfra-download``)
    in a world-writable directory -- a file of theirs, mode 666, or a link to a file of
    root's: the result is root's own file with the served content, the link's target is
    untouched."""
    base, served = http_dir
    (served / "data.txt").write_text("served content\n")
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    temp = shared_dir / ".data.txt.oxinfra-download"
    if plant == "file":
        _as_nobody(f"umask 0 && printf planted > {temp}")
    else:
        tmp_path.chmod(0o755)
        _as_nobody(f"ln -s {victim} {temp}")
    dest = shared_dir / "data.txt"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.download(name="dl", src="{base}/data.txt", dest={str(dest)!r})
        """,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0 and out.statuses("@local")["dl"] == "changed", out.describe()
    info = dest.lstat()
    assert dest.read_text() == "served content\n"
    assert info.st_uid == 0 and not dest.is_symlink() and info.st_mode & 0o022 == 0
    assert victim.read_text() == "root's file\n"
    assert not temp.exists() and not temp.is_symlink()


SECRET_HASH = "$6$saltsalt$SECRETHASHTEXTxyz"
SECRET_TOKEN = "Bearer SECRETTOKEN12345"


@pytest.mark.parametrize("shards", ["1", "2"])
def test_secrets_in_operation_arguments_are_never_shown(
    tmp_path: Path, http_dir: tuple[str, Path], shards: str
) -> None:
    """A ``Secret`` given in an operation's arguments (also inside a dict or list) is masked
    like the inventory's: in the commands shown at ``-vvv``, in ``--json`` events, in the
    report and in the error of a failing command. Run through the CLI as a child process."""
    from e2e_helpers import run_cli

    base, served = http_dir
    (served / "data.txt").write_text("data\n")
    user = "oxsecretuser"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.api import Secret, host
        from oxinfra.operations import files, server
        suffix = "a" if host.name == "@local" else "b"
        files.download(
            name="dl",
            src="{base}/data.txt",
            dest={str(tmp_path / "data.txt")!r} + suffix,
            headers={{"Authorization": Secret({SECRET_TOKEN!r})}},
        )
        server.user(name="user", user={user!r} + suffix, password=Secret({SECRET_HASH!r}), create_home=False)
        server.shell(
            name="fail", commands=['echo "$TOK" >&2; exit 3'], _env={{"TOK": Secret("SECRETSHELLWORD")}}
        )
        """,
    )
    inventory = tmp_path / "inventory.py"
    two = "hosts = ['@local', ('second', {'connector': 'local'})]\n"
    inventory.write_text(two if shards == "2" else "hosts = ['@local']\n")
    report = tmp_path / "report.json"
    try:
        for flags in (["--dry", "-vvv"], ["-y", "-vvv"], ["--json", "-y", "--report", str(report)]):
            out = run_cli(*flags, "--shards", shards, inventory, deploy, cwd=tmp_path, timeout=120)
            shown = out.stdout + out.stderr + (report.read_text() if report.exists() else "")
            for text in ("SECRETTOKEN12345", "SECRETHASHTEXT", "SECRETSHELLWORD"):
                assert text not in shown, (flags, shown)
            assert "***" in shown, (flags, shown)
            assert "user" in shown and "dl" in shown
    finally:
        for suffix in "ab":
            subprocess.run(["userdel", user + suffix], capture_output=True)
