"""Writes through symbolic links are declared where they land (issue 8): ``files.line``
appends (``>>``) to the file a link leads to, ``files.put`` into a directory given as a link
writes under the link's target. Both declare that path too (``files.LinkTarget``), so a later
operation of the same deploy on the real path reads its facts after the write instead of
acting on what was there before. On a real shell (``@local``) and on the simulator."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from oxinfra.api import load_inventory, run
from oxinfra.testing import sim


def _deploy(tmp_path: Path) -> Path:
    (tmp_path / "blob.txt").write_text("blob\n")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(f"""
        from oxinfra import host
        from oxinfra.operations import files
        base = {str(tmp_path)!r} + "/" + host.name.replace("/", "_")
        files.line(name="via link", path=base + "/env.link", line="A=1")
        files.line(name="real file", path=base + "/real/env", line="A=1")
        files.put(name="put via link", src={str(tmp_path / "blob.txt")!r}, dest=base + "/dir.link/blob.txt")
        files.put(name="put real", src={str(tmp_path / "blob.txt")!r}, dest=base + "/real/blob.txt", mode="600")
    """)
    )
    return deploy


@pytest.mark.parametrize("inventory", ["@local", "@sim/links"])
def test_a_later_operation_sees_what_was_written_through_a_link(tmp_path: Path, inventory: str) -> None:
    deploy = _deploy(tmp_path)
    base = f"{tmp_path}/{inventory.replace('/', '_')}"
    sim.reset()
    try:
        if inventory == "@local":
            Path(base, "real").mkdir(parents=True)
            Path(base, "real", "env").write_text("X=0\n")
            os.symlink("real/env", f"{base}/env.link")
            os.symlink("real", f"{base}/dir.link")
        else:
            machine = sim.machine("links")
            machine.write_file(f"{base}/real/env", b"X=0\n")
            from oxinfra.testing.sim.fs import Node

            machine.fs[f"{base}/env.link"] = Node("l", 0o777, "root", "root", 0, target="real/env")
            machine.fs[f"{base}/dir.link"] = Node("l", 0o777, "root", "root", 0, target="real")
        host = run(load_inventory(inventory), [str(deploy)]).hosts[inventory]
        statuses = {op["op"]: op["status"] for op in host.ops}
        # what the first of each pair wrote, the second finds: no second append, and only
        # the mode left to set
        assert statuses == {
            "via link": "changed",
            "real file": "unchanged",
            "put via link": "changed",
            "put real": "changed",
        }, host.ops
        if inventory == "@local":
            assert Path(base, "real", "env").read_text() == "X=0\nA=1\n"
            assert Path(base, "real", "blob.txt").read_text() == "blob\n"
            assert oct(Path(base, "real", "blob.txt").stat().st_mode & 0o777) == "0o600"
            assert Path(base, "env.link").is_symlink() and Path(base, "dir.link").is_symlink()
        else:
            fs = sim.machine("links").fs
            assert fs[f"{base}/real/env"].content() == b"X=0\nA=1\n"
            assert fs[f"{base}/real/blob.txt"].content() == b"blob\n"
    finally:
        sim.reset()


def _run_local(tmp_path: Path, body: str) -> dict[str, str]:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from oxinfra.operations import files\n" + textwrap.dedent(body).replace("@ROOT@", str(tmp_path)))
    host = run(load_inventory("@local"), [str(deploy)]).hosts["@local"]
    return {op["op"]: op["status"] for op in host.ops}


def test_an_edit_through_a_link_made_earlier_sees_the_file_under_it(tmp_path: Path) -> None:
    """A release pattern: a file put into ``releases/1``, ``current`` pointed at it, then
    ``current/app.conf`` edited. Before, the facts about ``current/app.conf`` were read before
    the link existed ("absent") and not re-read: ``files.line`` created the file anew with
    ``>``, and the put's contents were gone."""
    (tmp_path / "app.conf").write_text("a=1\n")
    statuses = _run_local(
        tmp_path,
        """
        files.put(name="put", src="@ROOT@/app.conf", dest="@ROOT@/releases/1/app.conf")
        files.link(name="link", path="@ROOT@/current", target="@ROOT@/releases/1")
        files.line(name="line", path="@ROOT@/current/app.conf", line="b=2")
        files.file(name="mode", path="@ROOT@/current/app.conf", mode="600")
        """,
    )
    assert statuses == {"put": "changed", "link": "changed", "line": "changed", "mode": "changed"}
    released = tmp_path / "releases" / "1" / "app.conf"
    assert released.read_text() == "a=1\nb=2\n"
    assert oct(released.stat().st_mode & 0o777) == "0o600"


def test_an_edit_through_a_link_sees_what_an_earlier_write_to_the_real_path_did(tmp_path: Path) -> None:
    """``link -> real`` exists; a file put at ``real/app.conf``, then edited as
    ``link/app.conf`` (merged /usr: ``/lib`` and ``/usr/lib``)."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "app.conf").write_text("a=1\n")
    statuses = _run_local(
        tmp_path,
        """
        files.put(name="put", src="@ROOT@/app.conf", dest="@ROOT@/real/app.conf")
        files.line(name="line", path="@ROOT@/link/app.conf", line="b=2")
        """,
    )
    assert statuses == {"put": "changed", "line": "changed"}
    assert (tmp_path / "real" / "app.conf").read_text() == "a=1\nb=2\n"


def test_an_edit_of_a_linked_file_edits_the_file_and_keeps_the_link(tmp_path: Path) -> None:
    """``sed -i`` replaces the file it is given by a new one: given the link, the link became a
    regular file with the edit and the file it led to kept the old text (pyinfra 3.10 too),
    while an append (``>>``) went through the link. Every edit now goes where the link leads."""
    (tmp_path / "env").write_text("MODE=staging\nDROP=1\n")
    (tmp_path / "env.link").symlink_to("env")
    statuses = _run_local(
        tmp_path,
        """
        files.line(name="replace", path="@ROOT@/env.link", line="^MODE=.*", replace="MODE=production")
        files.line(name="remove", path="@ROOT@/env.link", line="DROP=1", present=False)
        """,
    )
    assert statuses == {"replace": "changed", "remove": "changed"}
    assert (tmp_path / "env.link").is_symlink()
    assert (tmp_path / "env").read_text() == "MODE=production\n"


def test_line_with_the_i_flag_matches_either_case(tmp_path: Path) -> None:
    """``flags=["I"]`` made sed match either case, but the check before it (a grep) did
    not: nothing matched, and the line was appended instead of replaced."""
    (tmp_path / "env").write_text("MODE=staging\n")
    body = 'files.line(name="i", path="@ROOT@/env", line="^mode=.*", replace="MODE=production", flags=["I"])\n'
    assert _run_local(tmp_path, body) == {"i": "changed"}
    assert (tmp_path / "env").read_text() == "MODE=production\n"
    assert _run_local(tmp_path, body) == {"i": "unchanged"}
    assert (tmp_path / "env").read_text() == "MODE=production\n"
