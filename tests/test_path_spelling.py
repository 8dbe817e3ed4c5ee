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

from pathlib import Path

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
