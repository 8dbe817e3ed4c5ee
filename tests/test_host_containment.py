"""What one host's user code or answers do stays with that host: ``sys.exit()`` in an ``_if``
condition or in an operation's code fails that operation; a host that ends in error reports
its remaining operations as not run; the other hosts finish."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import run_deploy, write_deploy


def test_sys_exit_in_an_if_condition_fails_that_operation_only(tmp_path: Path) -> None:
    deploy = write_deploy(tmp_path, """
        import sys
        from oxinfra import host
        from oxinfra.operations import server

        def cond():
            if host.name == "@sim/exit-if-b":
                sys.exit("no thanks")
            return True

        server.shell(name="guarded", commands=["true"], _if=cond)
        server.shell(name="after", commands=["true"])
    """)
    out = run_deploy("@sim/exit-if-a,@sim/exit-if-b", deploy)
    assert out.statuses("@sim/exit-if-a") == {"guarded": "changed", "after": "changed"}, out.describe()
    assert out.statuses("@sim/exit-if-b") == {"guarded": "failed", "after": "not run"}, out.describe()
    assert "SystemExit: no thanks" in out.op("@sim/exit-if-b", "guarded")["error"]


def test_sys_exit_in_operation_code_after_a_fact_fails_that_operation_only(tmp_path: Path) -> None:
    # The code reads a fact first: discovery (no facts) stops there, and sys.exit() runs while
    # the host's operations are planned.
    deploy = write_deploy(tmp_path, """
        import sys
        from oxinfra import host
        from oxinfra.api import get_facts, operation
        from oxinfra.facts.files import File
        from oxinfra.operations import server

        @operation()
        def picky(path: str):
            (info,) = get_facts(host, [(File, {"path": path})])
            if info is None:
                sys.exit(f"{path} is missing")
            yield "true"

        picky(name="picky", path="/tmp")
        picky(name="missing", path="/nonexistent-oxinfra-path")
        server.shell(name="after", commands=["true"])
    """)
    out = run_deploy("@sim/exit-op", deploy)
    assert out.statuses("@sim/exit-op") == {"picky": "changed", "missing": "failed", "after": "not run"}, \
        out.describe()
    assert "SystemExit: /nonexistent-oxinfra-path is missing" in out.op("@sim/exit-op", "missing")["error"]
