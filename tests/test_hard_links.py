"""``files.link(symbolic=False)``: a hard link is the same file (device and inode) as its
target, on a real file system.

Before: any regular file at ``path`` counted as the hard link. ``present=False`` removed
``path`` even when it was an unrelated file (its only copy of its data), and
``present=True`` reported "already points to" a file that was not linked to the target."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import run_deploy, write_deploy


def _deploy(tmp_path: Path, body: str) -> Path:
    return write_deploy(tmp_path, "from oxinfra.operations import files\n" + body, root=tmp_path)


def test_removing_a_hard_link_leaves_a_file_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("target\n")
    (tmp_path / "other").write_text("the only copy\n")
    deploy = _deploy(
        tmp_path,
        'files.link(name="rm", path="@ROOT@/other", target="@ROOT@/target", symbolic=False, present=False)\n',
    )
    done = run_deploy("@local", deploy)
    assert done.code == 0, done.describe()
    assert (tmp_path / "other").read_text() == "the only copy\n"
    assert done.statuses("@local") == {"rm": "unchanged"}


def test_removing_a_hard_link_removes_it(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("target\n")
    (tmp_path / "linked").hardlink_to(tmp_path / "target")
    deploy = _deploy(
        tmp_path,
        'files.link(name="rm", path="@ROOT@/linked", target="@ROOT@/target", symbolic=False, present=False)\n',
    )
    done = run_deploy("@local", deploy)
    assert done.code == 0, done.describe()
    assert not (tmp_path / "linked").exists() and (tmp_path / "target").read_text() == "target\n"


def test_a_file_that_is_not_the_hard_link_is_not_taken_for_it(tmp_path: Path) -> None:
    """Without ``force`` the operation fails and the file stays; with it, the file is backed
    up and the link made; a second run changes nothing."""
    (tmp_path / "target").write_text("target\n")
    (tmp_path / "other").write_text("mine\n")
    make = 'files.link(name="ln", path="@ROOT@/other", target="@ROOT@/target", symbolic=False{})\n'
    refused = run_deploy("@local", _deploy(tmp_path, make.format("")))
    assert refused.code != 0, refused.describe()
    assert "not a hard link" in refused.stdout + refused.stderr, refused.describe()
    assert (tmp_path / "other").read_text() == "mine\n"

    forced = _deploy(tmp_path, make.format(", force=True"))
    done = run_deploy("@local", forced)
    assert done.code == 0, done.describe()
    assert (tmp_path / "other").samefile(tmp_path / "target")
    backups = [p for p in tmp_path.iterdir() if p.name.startswith("other.")]
    assert [p.read_text() for p in backups] == ["mine\n"]
    again = run_deploy("@local", forced)
    assert again.code == 0 and again.statuses("@local") == {"ln": "unchanged"}, again.describe()


def test_making_a_hard_link_twice_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("target\n")
    deploy = _deploy(tmp_path, 'files.link(name="ln", path="@ROOT@/linked", target="@ROOT@/target", symbolic=False)\n')
    done = run_deploy("@local", deploy)
    assert done.code == 0 and done.statuses("@local") == {"ln": "changed"}, done.describe()
    assert (tmp_path / "linked").samefile(tmp_path / "target")
    again = run_deploy("@local", deploy)
    assert again.code == 0 and again.statuses("@local") == {"ln": "unchanged"}, again.describe()
