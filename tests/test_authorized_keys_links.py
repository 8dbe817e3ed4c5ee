"""``server.user_authorized_keys`` writes into a directory its user controls (``~/.ssh``, in
their home), as root: what it runs must not follow a link the user puts there between the
check and the write.

Found by a hostile review: a loop swapping ``~/.ssh/authorized_keys`` for a link to a root
file while root ran the deploy made root truncate that file (``true > file`` to create it),
chgrp it to the user (readable: ``/etc/shadow``) and append the key to it.

The commands are planned from facts that show a safe state (a directory, a regular file),
then run on a real shell against the hostile state: whatever they do, the victim's bytes,
owner and mode stay as they were, and nothing is created in the victim directory."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from oxinfra.operations import server
from oxinfra.testing.plan import plan_operation

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to nobody)")

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIoxinfratest test@x"
OLD = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIoldkeyoldkey old@x\n"


def _nobody() -> tuple[str, str]:
    entry = pwd.getpwnam("nobody")
    import grp

    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


def _plan(ssh: Path, dir_exists: bool, file_mode: int | None, delete_keys: bool = False) -> list[Any]:
    user, group = _nobody()
    info = {"mode": 700, "user": user, "group": group, "size": 4096}
    file_info = None if file_mode is None else {"mode": file_mode, "user": user, "group": group, "size": len(OLD)}
    key_file = str(ssh / "authorized_keys")
    facts = [
        ("files.Directory", {"path": str(ssh)}, info if dir_exists else None),
        ("files.File", {"path": key_file}, file_info),
        (
            "files.FileBytes",
            {"path": key_file},
            None
            if file_mode is None
            else {"base64": "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSW9sZGtleW9sZGtleSBvbGRAeAo="},
        ),
    ]
    planned = plan_operation(
        server.user_authorized_keys,
        {
            "user": user,
            "group": group,
            "public_keys": [KEY],
            "authorized_key_directory": str(ssh),
            "delete_keys": delete_keys,
        },
        facts,
    )
    assert all(isinstance(c, str) for c in planned.commands), planned.commands
    return planned.commands


def _run(commands: list[Any], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = "\n".join(f"{{ {c}\n}} || exit $?" for c in commands)
    return subprocess.run(["sh", "-c", script], cwd=cwd, capture_output=True, text=True)


def _state(path: Path) -> tuple[bytes, int, int, int]:
    info = path.lstat()
    return path.read_bytes(), info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    root_dir = tmp_path / "rootdir"
    root_dir.mkdir(mode=0o700)
    shadow = root_dir / "shadow"
    shadow.write_bytes(b"root:$6$hash:19000::::::\n")
    shadow.chmod(0o640)
    return shadow


@pytest.mark.parametrize("file_mode", [600, 644], ids=["append", "append-and-mode"])
@pytest.mark.parametrize("delete_keys", [False, True], ids=["add", "delete_keys"])
def test_a_key_file_swapped_for_a_link_is_never_written_through(
    tmp_path: Path, victim: Path, file_mode: int, delete_keys: bool
) -> None:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    commands = _plan(ssh, dir_exists=True, file_mode=file_mode, delete_keys=delete_keys)
    (ssh / "authorized_keys").symlink_to(victim)  # the swap, after the facts were read
    before = _state(victim)
    _run(commands, tmp_path)
    assert _state(victim) == before


def test_a_missing_key_file_made_a_link_before_it_is_created(tmp_path: Path, victim: Path) -> None:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    commands = _plan(ssh, dir_exists=True, file_mode=None)
    (ssh / "authorized_keys").symlink_to(victim)
    before = _state(victim)
    _run(commands, tmp_path)
    assert _state(victim) == before


@pytest.mark.parametrize("dir_exists", [True, False], ids=["dir-was-there", "dir-was-missing"])
def test_a_key_directory_swapped_for_a_link_is_never_written_into(
    tmp_path: Path, victim: Path, dir_exists: bool
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ssh = home / ".ssh"
    commands = _plan(ssh, dir_exists=dir_exists, file_mode=None)
    ssh.symlink_to(victim.parent)  # ~/.ssh -> a directory of root's
    listing = sorted(p.name for p in victim.parent.iterdir())
    parent = victim.parent.stat()
    before = _state(victim)
    done = _run(commands, tmp_path)
    assert done.returncode != 0, done
    assert sorted(p.name for p in victim.parent.iterdir()) == listing
    after = victim.parent.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (
        parent.st_uid,
        parent.st_gid,
        stat.S_IMODE(parent.st_mode),
    )
    assert _state(victim) == before


def test_the_safe_state_gets_the_key_owner_and_mode(tmp_path: Path) -> None:
    """The same commands against the state the facts showed: the key is added after the old
    one, the file is the user's and 600."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True, mode=0o700)
    user = pwd.getpwnam("nobody")
    os.chown(ssh, user.pw_uid, user.pw_gid)
    key_file = ssh / "authorized_keys"
    key_file.write_text(OLD)
    key_file.chmod(0o644)
    commands = _plan(ssh, dir_exists=True, file_mode=644)
    done = _run(commands, tmp_path)
    assert done.returncode == 0, done
    assert key_file.read_text() == OLD + KEY + "\n"
    info = key_file.lstat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (user.pw_uid, user.pw_gid, 0o600)
    assert sorted(p.name for p in ssh.iterdir()) == ["authorized_keys"]
