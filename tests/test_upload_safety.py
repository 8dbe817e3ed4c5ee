"""Uploads and ownership over real SSH (issue 8): an upload to a name of up to NAME_MAX (255)
bytes works (its temporary name beside it once overflowed NAME_MAX from 238 bytes on), and an
owner or group the host does not have fails the operation with chown's own words WITHOUT
replacing or changing what is there (the temporary file is chowned before it is renamed into
place; an existing file's owner is set before its mode), and leaves nothing new behind.

The loopback fleet logs in as an unprivileged user: chown to itself works, to a name that
does not exist fails as it would for root ("invalid user").
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import run_deploy, target, write_deploy, write_inventory

__all__ = ["target"]  # fixtures used here

HOST = "127.0.0.1"
KEEP = "first = 1\nsecond = 2\n"
NO_USER = "oxinfra-no-such-user"
NO_GROUP = "oxinfra-no-such-group"


@pytest.fixture
def one_host(tmp_path: Path, sshd_fleet: Any) -> Path:
    return write_inventory(tmp_path, sshd_fleet, name="one.py", groups={"one": sshd_fleet.hosts[:1]})


def _mine(sshd_fleet: Any, *paths: Path) -> None:
    pw = pwd.getpwnam(sshd_fleet.user)
    for path in paths:
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _entries(root: Path) -> dict[str, Any]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else "dir", stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("length", [237, 238, 250, 255])
def test_upload_to_a_long_name(tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any, length: int) -> None:
    (tmp_path / "blob.txt").write_text("blob\n")
    (tmp_path / "t.j2").write_text("v={{ v }}\n")
    _mine(sshd_fleet, target)
    put_name, tpl_name = "p" * length, "t" * length
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.put(name="put", src="blob.txt", dest="@ROOT@/{put_name}", mode="640")
        files.template(name="template", src="t.j2", dest="@ROOT@/{tpl_name}", v=1)
    """,
        target,
    )
    for expected in ("changed", "unchanged"):
        out = run_deploy(one_host, deploy)
        assert out.statuses(HOST) == {"put": expected, "template": expected}, out.describe()
    assert (target / put_name).read_text() == "blob\n"
    assert stat.S_IMODE((target / put_name).stat().st_mode) == 0o640
    assert (target / tpl_name).read_text() == "v=1\n"
    assert sorted(p.name for p in target.iterdir()) == sorted([put_name, tpl_name])  # no temporary left


CASES = {
    "put-user": (
        'files.put(name="op", src="blob.txt", dest="@ROOT@/conf", user=@NO_USER@, _ignore_errors=True)',
        "user",
    ),
    "put-group-mode": (
        'files.put(name="op", src="blob.txt", dest="@ROOT@/conf", group=@NO_GROUP@, mode="755", _ignore_errors=True)',
        "group",
    ),
    "template-user": (
        'files.template(name="op", src="t.j2", dest="@ROOT@/conf", user=@NO_USER@, v=1, _ignore_errors=True)',
        "user",
    ),
    "file-mode-user": (
        'files.file(name="op", path="@ROOT@/conf", mode="600", user=@NO_USER@, _ignore_errors=True)',
        "user",
    ),
    "directory-mode-group": (
        'files.directory(name="op", path="@ROOT@/dir", mode="700", group=@NO_GROUP@, _ignore_errors=True)',
        "group",
    ),
    "new-file-user": ('files.file(name="op", path="@ROOT@/new", user=@NO_USER@, _ignore_errors=True)', "user"),
    "new-file-mode-group": (
        'files.file(name="op", path="@ROOT@/new", mode="640", group=@NO_GROUP@, _ignore_errors=True)',
        "group",
    ),
    "new-directory-user": (
        'files.directory(name="op", path="@ROOT@/newdir", user=@NO_USER@, _ignore_errors=True)',
        "user",
    ),
    "new-put-user": (
        'files.put(name="op", src="blob.txt", dest="@ROOT@/new", user=@NO_USER@, _ignore_errors=True)',
        "user",
    ),
    "new-put-exec-mode-group": (
        'files.put(name="op", src="blob.txt", dest="@ROOT@/new", mode="750", group=@NO_GROUP@, _ignore_errors=True)',
        "group",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_owner_the_host_lacks_changes_nothing(
    tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any, case: str
) -> None:
    call, kind = CASES[case]
    (tmp_path / "blob.txt").write_text("new content\n")
    (tmp_path / "t.j2").write_text("v={{ v }}\n")
    (target / "conf").write_text(KEEP)
    os.chmod(target / "conf", 0o644)
    (target / "dir").mkdir()
    (target / "dir" / "inside").write_text(KEEP)
    _mine(sshd_fleet, target, target / "conf", target / "dir", target / "dir" / "inside")
    before = _entries(target)
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        {call.replace("@NO_USER@", repr(NO_USER)).replace("@NO_GROUP@", repr(NO_GROUP))}
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.statuses(HOST) == {"op": "failed", "after": "changed"}, out.describe()
    event = out.op(HOST, "op")
    assert f"invalid {kind}" in (event.get("stderr") or ""), out.describe()  # chown's own words
    (target / "after").unlink()
    assert _entries(target) == before, out.describe()


def test_a_new_link_with_an_owner_the_host_lacks_is_not_left(
    tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any
) -> None:
    _mine(sshd_fleet, target)
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.link(name="op", path="@ROOT@/link", target="/etc", user={NO_USER!r}, _ignore_errors=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.statuses(HOST) == {"op": "failed", "after": "changed"}, out.describe()
    assert "invalid user" in (out.op(HOST, "op").get("stderr") or ""), out.describe()
    assert sorted(p.name for p in target.iterdir()) == ["after"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root on @local to give files away")
def test_owner_then_mode_keeps_set_user_id_bits(tmp_path: Path) -> None:
    """As root (@local): the owner is set before the mode -- a chown clears set-user-ID
    bits, so chmod 4755 then chown left 0755."""
    from e2e_helpers import run_cli

    (tmp_path / "tool").write_text("#!/bin/sh\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.put(name="put", src="tool", dest="@ROOT@/out/tool", user="nobody", group="nogroup", mode="4755")
        files.file(name="file", path="@ROOT@/out/marker", user="nobody", mode="2755")
    """,
        tmp_path,
    )
    out = run_cli("-y", "@local", deploy, timeout=60)
    assert out.code == 0, out.describe()
    tool, marker = (tmp_path / "out" / "tool").stat(), (tmp_path / "out" / "marker").stat()
    assert (pwd.getpwuid(tool.st_uid).pw_name, stat.S_IMODE(tool.st_mode)) == ("nobody", 0o4755)
    assert (pwd.getpwuid(marker.st_uid).pw_name, stat.S_IMODE(marker.st_mode)) == ("nobody", 0o2755)
