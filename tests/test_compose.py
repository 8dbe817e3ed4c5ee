"""Operations composed through their raw generator (``op._inner``), run for real on ``@local``
and on the simulator: the composed parts read the caller's facts in one batch, their
effects (``touches``, ``noop``, predicted contents) are the caller's, a part that declares
nothing makes the whole caller "may change anything", and each part keeps its own memo."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from oxinfra.api import DeployError, OperationValueError, load_inventory, operation, run
from oxinfra.api.effects import PlanContext, plan_commands
from oxinfra.api.context import scope
from oxinfra.api.facts import FactMissing
from oxinfra.operations import files, server
from oxinfra.testing import sim

# A module beside the deploys: user-defined operations composing built-in ones.
MYOPS = '''
import io
from oxinfra.api import operation
from oxinfra.operations import files, server

@operation(shell_safe=True)
def app_file(directory, filename, text, mode="640"):
    """A directory and one file in it: two built-in operations as one."""
    yield from files.directory._inner(directory, mode="750")
    yield from files.put._inner(io.BytesIO(text.encode()), f"{directory}/{filename}", mode=mode)

@operation()
def dir_then_shell(directory, command):
    """A declared part, then a part that declares nothing."""
    yield from files.directory._inner(directory)
    yield from server.shell._inner(command)

@operation()
def dir_then_own(directory, command):
    """A declared part, then commands of its own that declare nothing."""
    yield from files.directory._inner(directory)
    yield command

@operation()
def two_templates(a, b):
    """The same operation composed twice: each part renders its own template."""
    yield from files.template._inner("one.j2", a, word="first")
    yield from files.template._inner("two.j2", b, word="second")

@operation(shell_safe=True)
def unsafe_inside(command):
    yield from server.shell._inner(command)

@operation(quiet=True)
def loud_inside(command):
    yield from server.shell._inner(command)
'''


@pytest.fixture
def deploy_dir(tmp_path: Path) -> Path:
    work = tmp_path / "deploy"
    work.mkdir()
    (work / "myops.py").write_text(MYOPS)
    (work / "one.j2").write_text("{{ word }} template\n")
    (work / "two.j2").write_text("{{ word }} one, {{ word }} again\n")
    return work


@pytest.fixture(autouse=True)
def fresh_sim() -> Iterator[None]:
    sim.reset()
    yield
    sim.reset()


def _deploy(work: Path, body: str) -> str:
    path = work / "deploy.py"
    path.write_text("import myops\nfrom oxinfra.operations import files, server\n" + textwrap.dedent(body))
    return str(path)


def _ops(result: Any, host: str) -> list[tuple[str, str]]:
    return [(op["op"], op["status"]) for op in result.hosts[host].ops]


def test_a_user_operation_composing_two_builtins_end_to_end(deploy_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "target"
    deploy = _deploy(
        deploy_dir,
        f"""
        myops.app_file(name="app", directory={str(root / "app")!r}, filename="x", text="it's $(id)\\n")
        files.file(name="marker", path={str(root / "app" / "marker")!r})
    """,
    )
    inventory = load_inventory("@local")
    first = run(inventory, [deploy])
    assert first.success, first.hosts["@local"].ops
    assert _ops(first, "@local") == [("app", "changed"), ("marker", "changed")]
    # one batch of facts for both composed parts (and the marker), then one script
    assert first.hosts["@local"].round_trips == 2
    assert (root / "app" / "x").read_text() == "it's $(id)\n"
    assert (root / "app").stat().st_mode & 0o777 == 0o750
    assert (root / "app" / "x").stat().st_mode & 0o777 == 0o640

    second = run(inventory, [deploy])
    assert _ops(second, "@local") == [("app", "unchanged"), ("marker", "unchanged")]
    assert second.hosts["@local"].round_trips == 1  # facts only: nothing to run
    # both parts said why they did nothing, as the caller's reasons
    noop = second.hosts["@local"].ops[0]["noop"]
    assert "already exists" in noop and "already up to date" in noop, noop


def test_the_composed_parts_facts_are_asked_for_together() -> None:
    """Discovery keeps going past a composed part whose facts are missing: one batch."""
    from oxinfra.inventory.host import Host

    @operation(shell_safe=True)
    def pair(a: str, b: str) -> Iterator[Any]:
        yield from files.directory._inner(a)
        yield from files.put._inner(io.BytesIO(b"x"), b)

    ctx = PlanContext(shell_safe=True)

    def no_facts(host: Any, request: Any) -> Any:
        raise FactMissing(request)

    with pytest.raises(FactMissing) as info, scope(facts=no_facts, privilege=(), plan=ctx, host=Host("h", {})):
        plan_commands(ctx, pair.__wrapped__, ("/srv/a", "/srv/a/f"), {})
    asked = [(r.cls.name, r.kwargs["path"]) for r in info.value.requests]
    assert asked == [
        ("files.Directory", "/srv/a"),
        ("files.File", "/srv/a/f"),
        ("files.Sha1File", "/srv/a/f"),
        ("files.LinkTarget", "/srv/a/f"),
    ]


def test_drained_another_way_a_missing_fact_raises_at_once() -> None:
    """Only plan_commands collects the composed parts' facts: any other code that runs an
    operation's generator (a test planner, an audit) sees the first missing fact raised, never
    a composed part silently planned as "nothing to do"."""
    from oxinfra.inventory.host import Host

    ctx = PlanContext()

    def no_facts(host: Any, request: Any) -> Any:
        raise FactMissing(request)

    @operation(shell_safe=True)
    def wrapped(dest: str) -> Iterator[Any]:
        yield from files.put._inner(io.BytesIO(b"x"), dest)

    with pytest.raises(FactMissing) as info, scope(facts=no_facts, privilege=(), plan=ctx, host=Host("h", {})):
        list(wrapped.__wrapped__("/srv/x"))
    assert [r.cls.name for r in info.value.requests] == ["files.File", "files.Sha1File", "files.LinkTarget"]
    assert ctx.missing == []


@pytest.mark.parametrize("composite", ["dir_then_shell", "dir_then_own"])
def test_a_part_that_declares_nothing_makes_the_caller_change_anything(deploy_dir: Path, composite: str) -> None:
    """The shell part writes /srv/env behind the plan's back. Were the caller taken to change
    only the directory it declared, files.line would use the pre-run fact (no file) unguarded
    and overwrite the file, losing A=1; instead the fact is checked on the host and re-read."""
    deploy = _deploy(
        deploy_dir,
        f"""
        myops.{composite}(name="both", directory="/srv/d", command="printf 'A=1\\\\nB=2\\\\n' > /srv/env")
        files.line(name="line", path="/srv/env", line="B=2")
    """,
    )
    result = run(load_inventory("@sim/c"), [deploy])
    assert result.success, result.hosts["@sim/c"].ops
    assert _ops(result, "@sim/c") == [("both", "changed"), ("line", "unchanged")]
    assert sim.machine("c").fs["/srv/env"].content() == b"A=1\nB=2\n"


def test_composed_parts_keep_their_own_memo(deploy_dir: Path) -> None:
    deploy = _deploy(
        deploy_dir,
        """
        myops.two_templates(name="two", a="/srv/a.conf", b="/srv/b.conf")
    """,
    )
    result = run(load_inventory("@sim/m"), [deploy])
    assert result.success, result.hosts["@sim/m"].ops
    fs = sim.machine("m").fs
    assert fs["/srv/a.conf"].content() == b"first template\n"
    assert fs["/srv/b.conf"].content() == b"second one, second again\n"
    again = run(load_inventory("@sim/m"), [deploy])
    assert _ops(again, "@sim/m") == [("two", "unchanged")]


def test_a_shell_safe_operation_cannot_compose_one_that_is_not(deploy_dir: Path) -> None:
    deploy = _deploy(
        deploy_dir,
        """
        myops.unsafe_inside(name="bad", command="cd /")
    """,
    )
    with pytest.raises(DeployError, match="shell_safe=True composes server.shell, which is not shell-safe"):
        run(load_inventory("@sim/u"), [deploy])


def test_a_quiet_operation_cannot_compose_one_that_is_not(deploy_dir: Path) -> None:
    deploy = _deploy(
        deploy_dir,
        """
        myops.loud_inside(name="bad", command="echo hello")
    """,
    )
    with pytest.raises(DeployError, match="quiet=True composes server.shell, which is not quiet"):
        run(load_inventory("@sim/q"), [deploy])


def test_inner_outside_planning_is_the_plain_generator() -> None:
    assert list(server.shell._inner(["true", "false"])) == ["true", "false"]
    assert files.put._inner.__wrapped__ is files.put.__wrapped__


def test_put_takes_a_file_object() -> None:
    from oxinfra.inventory.host import Host

    facts = {"files.File": None, "files.Sha1File": None, "files.LinkTarget": None}
    ctx = PlanContext(shell_safe=True)
    with scope(facts=lambda host, request: facts[request.cls.name], privilege=(), plan=ctx, host=Host("h", {})):
        commands = plan_commands(ctx, files.put.__wrapped__, (io.StringIO("ünï\n"), "/srv/x"), {"mode": "600"})
        with pytest.raises(OperationValueError, match="name the file"):
            plan_commands(ctx, files.put.__wrapped__, (io.BytesIO(b""), "/srv/"), {})
    assert commands[-1].data == "ünï\n".encode() and commands[-1].umask == "177"
    assert ctx.contents == {"/srv/x": "ünï\n".encode()}


def test_the_parts_declarations_and_predictions_are_the_callers() -> None:
    """Planned with facts: what the composed parts declare is what the caller declares."""
    from oxinfra.inventory.host import Host

    @operation(shell_safe=True)
    def pair(d: str, f: str) -> Iterator[Any]:
        yield from files.directory._inner(d)
        yield from files.put._inner(io.BytesIO(b"data"), f)

    @operation()
    def pair_and_own(d: str, f: str) -> Iterator[Any]:
        yield from pair._inner(d, f)
        yield "true"

    @operation(shell_safe=True)
    def pair_only(d: str, f: str) -> Iterator[Any]:
        yield from pair._inner(d, f)

    facts = {"files.Directory": None, "files.File": None, "files.Sha1File": None, "files.LinkTarget": None}

    def plan(op: Any) -> PlanContext:
        ctx = PlanContext(shell_safe=op is not pair_and_own)
        with scope(facts=lambda host, r: facts[r.cls.name], privilege=(), plan=ctx, host=Host("h", {})):
            plan_commands(ctx, op.__wrapped__, ("/srv/a", "/srv/b/f"), {})
        return ctx

    ctx = plan(pair)
    assert ctx.declared and {"/srv/a", "/srv/b/f", "/srv/b", "/srv", "/"} <= ctx.touched
    assert ctx.contents == {"/srv/b/f": b"data"} and ctx.created_dirs == ["/srv/a", "/srv/b"]
    assert plan(pair_only).declared and plan(pair_only).touched == ctx.touched
    nested = plan(pair_and_own)  # composed twice deep, then a command of its own
    assert nested.touched == ctx.touched and not nested.declared
