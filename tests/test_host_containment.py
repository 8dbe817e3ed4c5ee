"""What one host's user code or answers do stays with that host: ``sys.exit()`` in an ``_if``
condition or in an operation's code fails that operation; a host that ends in error reports
its remaining operations as not run; the other hosts finish."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy

#: An operation (named "interp") reading a shell-safe fact whose command ends the shell that
#: runs it, with a message on stderr: a fact that never answers.
VANISHING_FACT_OP = """
        from oxinfra.api import FactBase, get_facts, host, operation

        class Vanishing(FactBase):
            shell_safe = True

            def command(self):
                return "echo 'OXINFRA_TEST_UNSET: parameter not set' >&2; exit 2"

        @operation()
        def vanishing():
            get_facts(host, [(Vanishing, {})])
            yield "true"

        vanishing(name="interp")
"""


def test_sys_exit_in_an_if_condition_fails_that_operation_only(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        import sys
        from oxinfra import host
        from oxinfra.operations import server

        def cond():
            if host.name == "@sim/exit-if-b":
                sys.exit("no thanks")
            return True

        server.shell(name="guarded", commands=["true"], _if=cond)
        server.shell(name="after", commands=["true"])
    """,
    )
    out = run_deploy("@sim/exit-if-a,@sim/exit-if-b", deploy)
    assert out.statuses("@sim/exit-if-a") == {"guarded": "changed", "after": "changed"}, out.describe()
    assert out.statuses("@sim/exit-if-b") == {"guarded": "failed", "after": "not run"}, out.describe()
    assert "SystemExit: no thanks" in out.op("@sim/exit-if-b", "guarded")["error"]


def test_sys_exit_in_operation_code_after_a_fact_fails_that_operation_only(tmp_path: Path) -> None:
    # The code reads a fact first: discovery (no facts) stops there, and sys.exit() runs while
    # the host's operations are planned.
    deploy = write_deploy(
        tmp_path,
        """
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
    """,
    )
    out = run_deploy("@sim/exit-op", deploy)
    assert out.statuses("@sim/exit-op") == {"picky": "changed", "missing": "failed", "after": "not run"}, out.describe()
    assert "SystemExit: /nonexistent-oxinfra-path is missing" in out.op("@sim/exit-op", "missing")["error"]


def test_an_operation_left_not_run_with_no_failure_is_an_error_of_its_host(tmp_path: Path) -> None:
    # An operation that breaks its shell_safe promise and sets the script's stop flag: the
    # next operation's block does not run, and nothing failed. That must not read as success.
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.api import operation
        from oxinfra.operations import server

        @operation(shell_safe=True)
        def rogue():
            yield "__ox_s=1"

        rogue(name="rogue")
        server.shell(name="after", commands=["true"])
    """,
    )
    out = run_deploy("@local", deploy)
    assert out.statuses("@local") == {"rogue": "changed", "after": "not run"}, out.describe()
    host = out.host("@local")
    assert host["status"] == "error", out.describe()
    assert "after" in host["error"] and "was not run, and nothing failed" in host["error"], host


@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry"])
def test_a_fact_that_never_answers_fails_its_reader_with_the_shell_message(tmp_path: Path, dry: bool) -> None:
    # A shell-safe fact that ends the shell running it (as ${VAR?} of an unset variable did
    # before interpolated values were limited to $NAME): the captured fact batch's subshell,
    # so no section comes back for that fact (nor for the facts after it).
    lines = tmp_path / "lines"
    lines.write_text("A=1\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.file(name="before", path={str(tmp_path / "other")!r})
"""
        + VANISHING_FACT_OP,
    )
    out = run_deploy("@local", deploy, dry=dry)
    assert out.statuses("@local") == {"before": "changed", "interp": "failed"}, out.describe()
    error = out.op("@local", "interp")["error"]
    assert "Vanishing: no answer came back" in error and "OXINFRA_TEST_UNSET" in error, error
    assert out.host("@local")["round_trips"] <= 3, out.describe()
    assert lines.read_text() == "A=1\n"
