"""A grep that fails (an invalid regular expression) is an error, never "no such file":
``files.line`` would otherwise create the file, over the content that is there."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
