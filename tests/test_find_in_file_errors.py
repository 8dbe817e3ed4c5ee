"""A grep that fails (an invalid regular expression) is an error, never "no such file":
``files.line`` would otherwise create the file, over the content that is there."""

from __future__ import annotations

import os
import re
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, write_deploy
from oxinfra.facts.files import FindInFile
from oxinfra.exceptions import FactError


@pytest.mark.parametrize(
    "call",
    [
        'files.line(name="bad", path="@ROOT@/hosts", line="a\\\\(b")',
        'files.line(name="bad", path="@ROOT@/hosts", line="x[", present=False)',
        'files.replace(name="bad", path="@ROOT@/hosts", text="a\\\\{1", replace="b")',
    ],
    ids=["line", "line-absent", "replace"],
)
def test_invalid_pattern_keeps_the_file(tmp_path: Path, call: str) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("important\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        {call}
        files.file(name="after", path="@ROOT@/after")
    """,
        tmp_path,
    )
    out = run_cli("-y", "@local", deploy)
    assert out.code == 1, out.describe()
    assert_no_traceback(out)
    assert hosts.read_text() == "important\n"
    assert not (tmp_path / "after").exists()
    failed = [line for line in out.stdout.splitlines() if "failed:" in line]
    assert len(failed) == 1 and "[@local]" in failed[0] and "files.FindInFile" in failed[0], out.describe()
    assert "exit 2" in failed[0], out.describe()


def test_simulator_fails_like_grep(tmp_path: Path) -> None:
    from oxinfra.api import load_inventory, run
    from oxinfra.testing import sim

    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(f"""
        from oxinfra import host
        from oxinfra.operations import files
        path = {str(tmp_path / "t")!r} + "/" + host.name.replace("/", "_") + "/hosts"
        files.line(name="seed", path=path, line="important")
        files.line(name="bad", path=path, line="a\\\\(b")
    """)
    )
    sim.reset()
    try:
        real = run(load_inventory("@local"), [str(deploy)])
        fake = run(load_inventory("@sim/grep"), [str(deploy)])
        for result, name in ((real, "@local"), (fake, "@sim/grep")):
            host = result.hosts[name]
            assert host.status == "failed", host.summary()
            bad = [op for op in host.ops if op["op"] == "bad"]
            assert bad[0]["status"] == "failed" and "files.FindInFile" in bad[0]["error"], bad
        assert (tmp_path / "t" / "@local" / "hosts").read_text() == "important\n"
        assert sim.machine("grep").fs[f"{tmp_path}/t/@sim_grep/hosts"].content() == b"important\n"
    finally:
        sim.reset()


def test_parse_statuses() -> None:
    fact = FindInFile()
    fact.command(path="/f", pattern="x")
    assert fact.parse(b"x\n", 0) == ["x"]
    assert fact.parse(b"\n", 0) == [""]
    assert fact.parse(b"", 1) == []  # grep: no match
    assert fact.parse(b"", 0) is None  # no such file: nothing printed, status 0
    with pytest.raises(FactError, match="exit 2"):
        fact.parse(b"", 2)


@pytest.mark.parametrize("content", [b"MODE=x\n\x00\x01 data\n", b"MODE=x\nna\xefve\n"], ids=["nul", "not-utf8"])
def test_binary_file_is_not_absent(tmp_path: Path, content: bytes) -> None:
    """GNU grep (3.5+) reports a match in a file it takes for binary on stderr only, with
    status 0 and nothing on stdout: what "no such file" looks like, after which files.line
    would write its line over the file. On @local and on the simulator."""
    from oxinfra.api import load_inventory, run
    from oxinfra.testing import sim

    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(f"""
        from oxinfra import host
        from oxinfra.operations import files
        path = {str(tmp_path)!r} + "/" + host.name.replace("/", "_") + "/env"
        files.line(name="mode", path=path, line="MODE=x")
        files.line(name="other", path=path, line="OTHER=1")
    """)
    )
    (tmp_path / "@local").mkdir()
    (tmp_path / "@local" / "env").write_bytes(content)
    sim.reset()
    try:
        sim.machine("binary").write_file(f"{tmp_path}/@sim_binary/env", content)
        for name in ("@local", "@sim/binary"):
            result = run(load_inventory(name), [str(deploy)])
            host = result.hosts[name]
            assert host.status == "success", host.summary()
            assert [op["status"] for op in host.ops] == ["unchanged", "changed"], host.ops
        assert (tmp_path / "@local" / "env").read_bytes() == content + b"OTHER=1\n"
        assert sim.machine("binary").fs[f"{tmp_path}/@sim_binary/env"].content() == content + b"OTHER=1\n"
    finally:
        sim.reset()


# -- not a regular file, or no file at all (issue 8) --------------------------------------


def _run(name: str, deploy: Path) -> Any:
    from oxinfra.api import load_inventory, run

    return run(load_inventory(name), [str(deploy)]).hosts[name]


@pytest.mark.parametrize("inventory", ["@local", "@sim/notfile"])
@pytest.mark.parametrize(
    ("kind", "call"),
    [
        ("directory", 'files.replace(name="bad", path=path, text="MODE=.*", replace="MODE=x", _ignore_errors=True)'),
        ("directory", 'files.line(name="bad", path=path, line="MODE=x", _ignore_errors=True)'),
        ("missing", 'files.line(name="bad", path=path, line="MODE=a[b", _ignore_errors=True)'),
        ("missing", 'files.replace(name="bad", path=path, text="a\\\\(b", replace="x", _ignore_errors=True)'),
        ("missing", 'files.line(name="bad", path=path, line="x\\\\{1", present=False, _ignore_errors=True)'),
    ],
    ids=["dir-replace", "dir-line", "missing-line", "missing-replace", "missing-line-absent"],
)
def test_not_a_file_or_a_bad_pattern_on_a_missing_file_fails(
    tmp_path: Path, inventory: str, kind: str, call: str
) -> None:
    """FindInFile on a directory is not "absent" (files.replace reported "does not exist");
    on a missing file the pattern is still checked (grep against /dev/null), so an invalid
    one fails instead of files.line writing it as the file's only line. The host goes on."""
    from oxinfra.testing import sim

    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(f"""
        from oxinfra import host
        from oxinfra.operations import files
        base = {str(tmp_path)!r} + "/" + host.name.replace("/", "_")
        path = base + "/target"
        {call}
        files.file(name="after", path=base + "/after")
    """)
    )
    base = f"{tmp_path}/{inventory.replace('/', '_')}"
    sim.reset()
    try:
        if inventory == "@local":
            Path(base).mkdir()
            if kind == "directory":
                Path(base, "target").mkdir()
                Path(base, "target", "inside").write_text("MODE=1\n")
        else:
            sim.machine("notfile").write_file(f"{base}/keep", b"")
            if kind == "directory":
                sim.machine("notfile").write_file(f"{base}/target/inside", b"MODE=1\n")
        host = _run(inventory, deploy)
        statuses = {op["op"]: op["status"] for op in host.ops}
        assert statuses == {"bad": "failed", "after": "changed"}, host.ops
        error = [op for op in host.ops if op["op"] == "bad"][0]["error"]
        assert "files.FindInFile" in error, error
        if kind == "directory":
            assert "not a regular file" in error, error
        else:
            assert re.search(r"[Uu]nmatched|[Ii]nvalid", error), error
        if inventory == "@local":
            assert not Path(base, "target").is_file()
            if kind == "directory":
                assert Path(base, "target", "inside").read_text() == "MODE=1\n"
        else:
            fs = sim.machine("notfile").fs
            assert f"{base}/target" not in fs or kind == "directory", sorted(fs)
            if kind == "directory":
                assert fs[f"{base}/target/inside"].content() == b"MODE=1\n"
    finally:
        sim.reset()


@pytest.mark.parametrize("op", ["line", "replace"])
def test_a_fifo_fails_and_does_not_hang(tmp_path: Path, op: str) -> None:
    """A fifo is not a file: reading it (grep) or writing it (files.line's printf >) would
    wait forever for the other end."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    call = (
        f'files.line(name="bad", path={str(fifo)!r}, line="MODE=x", _ignore_errors=True)'
        if op == "line"
        else f'files.replace(name="bad", path={str(fifo)!r}, text="MODE", replace="x", _ignore_errors=True)'
    )
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        {call}
        files.file(name="after", path={str(tmp_path / "after")!r})
    """,
    )
    try:
        out = run_cli("--json", "-y", "@local", deploy, timeout=30)
    finally:  # a writer stuck opening the fifo (the bug) is let go, not left holding the host lock
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    assert_no_traceback(out)
    assert out.statuses("@local") == {"bad": "failed", "after": "changed"}, out.describe()
    assert "not a regular file" in out.op("@local", "bad")["error"], out.describe()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
