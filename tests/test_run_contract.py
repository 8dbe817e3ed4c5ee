"""What docs/architecture.md says about a run, checked on simulated hosts: which hosts connect
before the evaluation barrier, that ``--parallel`` bounds those connections too, in which
order operation events come out, and what a dry run plans from."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from e2e_helpers import invoke
from oxinfra.api import load_inventory, run
from oxinfra.testing import sim


def _deploy(tmp_path: Path, source: str) -> str:
    path = tmp_path / "deploy.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def _fresh(*names: str) -> str:
    sim.reset(names)
    return ",".join(f"@sim/{name}" for name in names)


def _connected_at_barrier(inventory: str, deploy: str, names: tuple[str, ...]) -> set[str]:
    """The hosts that had connected when the run passed the barrier (the ``plan`` event comes
    after every host is evaluated and before any host runs): a simulated machine exists from
    its host's first connection."""
    seen: set[str] = set()

    def on_event(event: Any) -> None:
        if event.kind == "plan":
            seen.update(n for n in names if n in sim.machines())

    result = run(load_inventory(inventory), [deploy], on_event=on_event)
    assert result.success
    assert all(n in sim.machines() for n in names)  # every host ran in the end
    return seen


def test_only_hosts_whose_deploy_reads_facts_connect_before_the_barrier(tmp_path: Path) -> None:
    names = ("bar-a", "bar-b", "bar-c")
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.files import File
        from oxinfra.operations import files

        if host.name.endswith("a"):
            host.get_fact(File, path="/tmp")
        files.directory(path="/tmp/d")
    """,
    )
    assert _connected_at_barrier(_fresh(*names), deploy, names) == {"bar-a"}


def test_a_fact_read_at_top_level_connects_every_host_before_the_barrier(tmp_path: Path) -> None:
    names = ("top-a", "top-b", "top-c")
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.files import File
        from oxinfra.operations import files

        if host.get_fact(File, path="/tmp"):
            files.directory(path="/tmp/d")
    """,
    )
    assert _connected_at_barrier(_fresh(*names), deploy, names) == set(names)
    # A deploy that reads no fact connects nobody before the barrier.
    plain = _deploy(tmp_path, "from oxinfra.operations import files\nfiles.directory(path='/tmp/d')\n")
    assert _connected_at_barrier(_fresh(*names), plain, names) == set()


def test_parallel_also_bounds_the_hosts_evaluated_with_facts(tmp_path: Path) -> None:
    """--parallel 1: hosts whose deploy reads facts are evaluated one at a time, each waiting
    for its fact round trip (0.3 s of simulated latency), not all at once."""
    names = ("par-a", "par-b", "par-c")
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        f"hosts = [{', '.join(repr(f'@sim/{n}') for n in names)}]\nall = ([], {{'sim_latency': 0.3}})\n"
    )
    sim.reset(names)
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import User
        from oxinfra.operations import server

        server.shell(commands=[f"echo {host.get_fact(User)}"])
    """,
    )
    result = run(load_inventory(str(inventory)), [deploy], parallel=1)
    assert result.success
    assert result.timings["evaluate"] >= 0.85  # three fact round trips one after the other


def test_operation_events_come_as_each_host_reports_them(tmp_path: Path) -> None:
    """Output does not wait for the global order: a host slowed down by latency reports
    after a fast one, while the plan event and the summary list the global order."""
    inventory = tmp_path / "inventory.py"
    sim.reset(["out-slow", "out-fast"])
    inventory.write_text("hosts = [('@sim/out-slow', {'sim_latency': 0.3}), '@sim/out-fast']\n")
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server

        files.directory(name="one", path="/tmp/one")
        server.shell(name="two", commands=["true"])
    """,
    )
    out = invoke("-y", inventory, deploy)
    assert out.code == 0, out.describe()
    hosts = [e["host"] for e in out.events if e["event"] == "operation"]
    assert hosts == ["@sim/out-fast"] * 2 + ["@sim/out-slow"] * 2
    plan = next(e for e in out.events if e["event"] == "plan")
    summary = out.events[-1]
    assert summary["event"] == "summary"
    assert [name.split(":")[0] for name in plan["operations"]] == ["deploy.py"] * 2
    assert summary["operations"] == plan["operations"]


def test_dry_runs_plan_from_the_state_before_the_run_and_the_plans_own_contents(tmp_path: Path) -> None:
    """A dry run gathers facts once and checks nothing again: a later operation sees the
    host as it was before the run, except file contents earlier operations write (predicted
    as in a real run)."""
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra.operations import files

        files.line(name="line", path="/tmp/x/conf", line="A=1")
        files.replace(name="replace", path="/tmp/x/conf", text="A=1", replace="A=2")
        files.directory(name="dir", path="/tmp/x")
    """,
    )

    def statuses(name: str, dry: bool) -> dict[str, str]:
        result = run(load_inventory(_fresh(name)), [deploy], dry=dry)
        return {op["op"]: op["status"] for op in result.hosts[f"@sim/{name}"].ops}

    # Before the run /tmp/x/conf does not exist: replace is planned from the content line
    # writes (so it would change), dir from the state before the run (missing).
    assert statuses("dry-x", dry=True) == {"line": "changed", "replace": "changed", "dir": "changed"}
    # The run checks on the host: line made /tmp/x, so dir has nothing to do.
    assert statuses("run-x", dry=False) == {"line": "changed", "replace": "changed", "dir": "unchanged"}
