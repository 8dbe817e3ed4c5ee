"""A file ``files.put``/``files.template`` replaces keeps its owner and group unless
``user=``/``group=`` say otherwise, as it keeps its mode.

Before: the new contents went into a temporary file (owned by the connecting user) renamed
over the old one, so replacing ``/etc/app.conf`` (``root:app``, 640) left it ``root:root``:
the service that reads it through its group could no longer read its configuration. Owners
without a name (a uid no account has) are kept by number.

Where the owner cannot be kept (an unprivileged login replacing somebody else's file in a
directory it may write), the operation fails before the rename: the old file stays, whole."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root (chown)")

UID, GID = 4242, 4343  # no account or group has these numbers on the test machines


def _owned(path: Path, text: str, uid: int, gid: int, mode: int) -> Path:
    path.write_text(text)
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def _owner(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


@needs_root
def test_put_and_template_keep_the_owner_and_group_of_the_file_they_replace(tmp_path: Path) -> None:
    conf = _owned(tmp_path / "app.conf", "old\n", UID, GID, 0o640)
    tmpl = _owned(tmp_path / "app.ini", "old\n", UID, GID, 0o600)
    (tmp_path / "app.j2").write_text("value={{ value }}\n")
    deploy = write_deploy(
        tmp_path,
        """
        import io
        from oxinfra.operations import files
        files.put(name="conf", src=io.BytesIO(b"new\\n"), dest="@ROOT@/app.conf")
        files.template(name="ini", src="app.j2", dest="@ROOT@/app.ini", value=1)
        """,
        root=tmp_path,
    )
    done = run_deploy("@local", deploy)
    assert done.code == 0, done.describe()
    assert conf.read_text() == "new\n" and _owner(conf) == (UID, GID, 0o640)
    assert tmpl.read_text() == "value=1\n" and _owner(tmpl) == (UID, GID, 0o600)
    again = run_deploy("@local", deploy)
    assert again.code == 0 and set(again.statuses("@local").values()) == {"unchanged"}, again.describe()


@needs_root
def test_a_given_user_or_group_replaces_only_that_half(tmp_path: Path) -> None:
    by_user = _owned(tmp_path / "u", "old\n", UID, GID, 0o644)
    by_group = _owned(tmp_path / "g", "old\n", UID, GID, 0o644)
    deploy = write_deploy(
        tmp_path,
        """
        import io
        from oxinfra.operations import files
        files.put(name="u", src=io.BytesIO(b"new\\n"), dest="@ROOT@/u", user="root")
        files.put(name="g", src=io.BytesIO(b"new\\n"), dest="@ROOT@/g", group="root")
        """,
        root=tmp_path,
    )
    done = run_deploy("@local", deploy)
    assert done.code == 0, done.describe()
    assert _owner(by_user) == (0, GID, 0o644) and by_user.read_text() == "new\n"
    assert _owner(by_group) == (UID, 0, 0o644) and by_group.read_text() == "new\n"


@needs_root
def test_a_new_file_is_the_connecting_users(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        import io
        from oxinfra.operations import files
        files.put(name="new", src=io.BytesIO(b"new\\n"), dest="@ROOT@/new")
        """,
        root=tmp_path,
    )
    done = run_deploy("@local", deploy)
    assert done.code == 0, done.describe()
    assert _owner(tmp_path / "new")[:2] == (os.getuid(), os.getgid())


@needs_root
def test_an_owner_that_cannot_be_kept_fails_the_operation_and_keeps_the_file(shared_dir: Path) -> None:
    """An unprivileged login (``_su_user``) may replace a file of root's in a directory of
    its own, but not give the new one to root: the operation fails, the old file stays."""
    mine = shared_dir / "nobodys"
    mine.mkdir()
    os.chown(mine, 65534, 65534)  # nobody's directory: nobody may rename over what is in it
    kept = _owned(mine / "root.conf", "root's\n", 0, 0, 0o644)
    deploy = write_deploy(
        shared_dir,
        """
        import io
        from oxinfra.operations import files
        files.put(name="swap", src=io.BytesIO(b"nobody's\\n"), dest="@ROOT@/root.conf",
                  _su_user="nobody", _su_shell="/bin/sh")
        """,
        root=mine,
    )
    done = run_deploy("@local", deploy)
    assert done.code != 0, done.describe()
    assert kept.read_text() == "root's\n" and _owner(kept) == (0, 0, 0o644)
    assert sorted(p.name for p in mine.iterdir()) == ["root.conf"]  # no temporary file left


@needs_root
def test_download_again_keeps_the_owner_and_group(tmp_path: Path, http_dir: tuple[str, Path]) -> None:
    base, served = http_dir
    (served / "app.tgz").write_bytes(b"new\n")
    kept = _owned(tmp_path / "app.tgz", "old\n", UID, GID, 0o640)
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.download(name="dl", src="{base}/app.tgz", dest="@ROOT@/app.tgz", force=True)
        """,
        root=tmp_path,
    )
    done = run_deploy("@local", deploy)
    assert done.code == 0, done.describe()
    assert kept.read_text() == "new\n" and _owner(kept) == (UID, GID, 0o640)
