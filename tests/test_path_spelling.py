"""How a path is spelled must not change what an operation removes or overwrites, on ``@local``
(this machine: real files).

Found by a hostile review:

* a trailing ``/`` on a link to a directory (``lnk/``) made ``files.directory(present=False)``
  run ``rm -rf -- lnk/``: the contents of the directory it leads to were deleted, the link
  stayed, and every later run did it again; ``files.link(path="current/", force=True,
  force_backup=False)`` deleted what the old target held and left a stray link in it;
* a relative path with ``_chdir``: the facts were read in the shell's directory, the commands
  ran in ``_chdir``, so ``files.file``/``files.line`` truncated an existing file there
  (``true > x``, ``printf ... > app.env``)."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy


def _run(tmp_path: Path, body: str) -> object:
    deploy = write_deploy(tmp_path, "from oxinfra.operations import files\n" + body)
    return run_deploy("@local", deploy, "--no-host-lock")


def test_removing_a_directory_through_a_trailing_slash_on_a_link_removes_nothing_it_leads_to(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "data").write_text("keep\n")
    (tmp_path / "lnk").symlink_to(real)
    out = _run(tmp_path, f'files.directory(name="d", path="{tmp_path}/lnk/", present=False)\n')
    assert (real / "data").read_text() == "keep\n"
    assert out.code != 0 and "not a directory" in out.describe(), out.describe()  # as for "lnk"


def test_a_link_path_with_a_trailing_slash_is_the_link(tmp_path: Path) -> None:
    old = tmp_path / "rel1"
    old.mkdir()
    (old / "app").write_text("release 1\n")
    new = tmp_path / "rel2"
    new.mkdir()
    current = tmp_path / "current"
    current.symlink_to(old)
    body = f'files.link(name="l", path="{current}/", target="{new}", force=True, force_backup=False)\n'
    out = _run(tmp_path, body)
    assert out.code == 0, out.describe()  # type: ignore[attr-defined]
    assert (old / "app").read_text() == "release 1\n" and sorted(p.name for p in old.iterdir()) == ["app"]
    assert current.is_symlink() and current.resolve() == new
    again = _run(tmp_path, body)
    assert again.code == 0 and again.statuses("@local") == {"l": "unchanged"}, again.describe()  # type: ignore[attr-defined]


def test_a_relative_path_with_chdir_never_truncates_a_file_there(tmp_path: Path) -> None:
    there = tmp_path / "D"
    there.mkdir()
    (there / "x").write_text("important data\n")
    (there / "app.env").write_text("DB=prod\nSECRET=abc\n")
    out = _run(
        tmp_path,
        f'files.file(name="f", path="x", _chdir="{there}")\n'
        f'files.line(name="l", path="app.env", line="X=1", _chdir="{there}")\n',
    )
    assert (there / "x").read_text() == "important data\n"
    env = (there / "app.env").read_text()
    assert env.startswith("DB=prod\nSECRET=abc\n"), env
    assert env == "DB=prod\nSECRET=abc\n"
    assert out.code != 0 and "relative and _chdir" in out.describe(), out.describe()  # type: ignore[attr-defined]


def test_a_line_replaced_where_nothing_matches_is_appended_once(tmp_path: Path) -> None:
    """``files.line(line="^MODE=staging$", replace="MODE=production")`` on a file without
    either: the replacement was appended on every run (three runs, three lines)."""
    env = tmp_path / "env"
    env.write_text("A=1\n")
    body = f'files.line(name="l", path="{env}", line="^MODE=staging$", replace="MODE=production")\n'
    first = _run(tmp_path, body)
    assert first.code == 0, first.describe()  # type: ignore[attr-defined]
    for _ in range(2):
        again = _run(tmp_path, body)
        assert again.code == 0 and again.statuses("@local") == {"l": "unchanged"}, again.describe()  # type: ignore[attr-defined]
    assert env.read_text() == "A=1\nMODE=production\n"


def test_a_line_with_a_newline_is_refused(tmp_path: Path) -> None:
    """``replace="X=1\\nY=2"`` never equals the line found: sed added another Y=2 every run."""
    env = tmp_path / "env"
    env.write_text("X=0\n")
    out = _run(tmp_path, f'files.line(name="l", path="{env}", line="^X=", replace="X=1\\nY=2")\n')
    assert out.code != 0 and "one line" in out.describe(), out.describe()  # type: ignore[attr-defined]
    assert env.read_text() == "X=0\n"


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("su") is None, reason="needs root, to run operations as nobody (_su_user)"
)


def _nobodys(directory: Path, name: str, text: str) -> Path:
    """``directory`` made and given to ``nobody``, holding the file ``name`` of theirs."""
    user = pwd.getpwnam("nobody")
    directory.mkdir()
    (directory / name).write_text(text)
    for path in (directory, directory / name):
        os.chown(path, user.pw_uid, user.pw_gid)
    return directory


@needs_root
def test_move_over_a_file_it_may_not_replace_keeps_the_old_one(tmp_path: Path, shared_dir: Path) -> None:
    """``files.move(overwrite=True)`` removed the old target first, then ``mv`` failed (the
    source's directory is not the user's): the old file was gone."""
    ro = shared_dir / "ro"
    ro.mkdir()
    (ro / "cfg").write_text("NEW\n")  # in a directory of root's: nobody cannot move it out
    dest = _nobodys(shared_dir / "dst", "cfg", "IMPORTANT-OLD\n")
    out = _run(tmp_path, f'files.move(name="m", src="{ro}/cfg", dest="{dest}", overwrite=True, _su_user="nobody")\n')
    assert out.code != 0, out.describe()  # type: ignore[attr-defined]
    assert (dest / "cfg").read_text() == "IMPORTANT-OLD\n"
    assert sorted(p.name for p in dest.iterdir()) == ["cfg"]


@needs_root
def test_copy_that_fails_keeps_what_was_there(tmp_path: Path, shared_dir: Path) -> None:
    """``files.copy(overwrite=True)`` of a directory over a file: ``rm -rf`` then ``cp``, which
    failed (a directory nobody may read): the file was replaced by an empty directory."""
    src = shared_dir / "srcd"
    src.mkdir()
    (src / "inner").write_text("x\n")
    src.chmod(0o700)  # root's: nobody cannot read it
    dest = _nobodys(shared_dir / "dst2", "srcd", "OLD FILE\n")
    out = _run(tmp_path, f'files.copy(name="c", src="{src}", dest="{dest}", overwrite=True, _su_user="nobody")\n')
    assert out.code != 0, out.describe()  # type: ignore[attr-defined]
    assert (dest / "srcd").read_text() == "OLD FILE\n"
    assert sorted(p.name for p in dest.iterdir()) == ["srcd"]


def test_move_and_copy_over_what_is_there(tmp_path: Path) -> None:
    """The replacements themselves: a file over a file, a directory over a directory (moved
    and copied), and again: nothing to do."""
    a = tmp_path / "a"
    a.mkdir()
    (a / "cfg").write_text("new\n")
    (a / "tree").mkdir()
    (a / "tree" / "f").write_text("new tree\n")
    b = tmp_path / "b"
    b.mkdir()
    (b / "cfg").write_text("old\n")
    (b / "tree").mkdir()
    (b / "tree" / "stale").write_text("old tree\n")
    c = tmp_path / "c"
    c.mkdir()
    (c / "tree").mkdir()
    (c / "tree" / "stale").write_text("old\n")
    body = (
        f'files.copy(name="ct", src="{a}/tree", dest="{c}", overwrite=True)\n'
        f'files.move(name="mf", src="{a}/cfg", dest="{b}", overwrite=True)\n'
        f'files.move(name="mt", src="{a}/tree", dest="{b}", overwrite=True)\n'
    )
    out = _run(tmp_path, body)
    assert out.code == 0, out.describe()  # type: ignore[attr-defined]
    assert (b / "cfg").read_text() == "new\n" and sorted(p.name for p in b.iterdir()) == ["cfg", "tree"]
    assert sorted(p.name for p in (b / "tree").iterdir()) == ["f"]
    assert sorted(p.name for p in (c / "tree").iterdir()) == ["f"] and sorted(p.name for p in c.iterdir()) == ["tree"]
    assert sorted(p.name for p in a.iterdir()) == []


def test_backups_made_in_the_same_second_keep_the_original(tmp_path: Path) -> None:
    """Two operations backing up one file in the same second wrote the same backup name: the
    second copy (already edited) replaced the first (the original). And ``backup=True`` made
    no copy when a line was appended."""
    env = tmp_path / "env"
    env.write_text("A=orig\nB=orig\n")
    out = _run(
        tmp_path,
        f'files.line(name="l", path="{env}", line="^A=", replace="A=new", backup=True)\n'
        f'files.replace(name="r", path="{env}", text="B=orig", replace="B=new", backup=True)\n'
        f'files.line(name="a", path="{env}", line="C=1", backup=True)\n',
    )
    assert out.code == 0, out.describe()  # type: ignore[attr-defined]
    assert env.read_text() == "A=new\nB=new\nC=1\n"
    copies = sorted((p for p in tmp_path.iterdir() if p.name.startswith("env.")), key=lambda p: p.stat().st_mtime_ns)
    contents = {p.read_text() for p in copies}
    assert "A=orig\nB=orig\n" in contents, contents  # the original is kept
    assert contents >= {"A=orig\nB=orig\n", "A=new\nB=orig\n", "A=new\nB=new\n"}, contents


def test_move_and_copy_over_a_file_with_a_long_name(tmp_path: Path) -> None:
    """A name of 250 bytes is allowed (NAME_MAX is 255), but ``.NAME.oxinfra-old`` beside it
    is not: the replacement failed with "File name too long". Such a name is hashed, as the
    temporary names of block and download are."""
    name = "n" * 250
    a = tmp_path / "a"
    a.mkdir()
    (a / name).write_text("new\n")
    (a / "copied").mkdir()
    (a / "copied" / name).write_text("copy\n")
    b = tmp_path / "b"
    b.mkdir()
    (b / name).write_text("old\n")
    out = _run(
        tmp_path,
        f'files.move(name="m", src="{a}/{name}", dest="{b}", overwrite=True)\n'
        f'files.copy(name="c", src="{a}/copied/{name}", dest="{a}", overwrite=True)\n',
    )
    assert out.code == 0, out.describe()  # type: ignore[attr-defined]
    assert (b / name).read_text() == "new\n" and sorted(p.name for p in b.iterdir()) == [name]
    assert (a / name).read_text() == "copy\n" and sorted(p.name for p in a.iterdir()) == ["copied", name]
