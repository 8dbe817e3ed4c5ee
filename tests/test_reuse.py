"""Compute once, reuse (oxinfra._engine.reuse): equal calls are discovered once, equal dry plans
planned once, deploys evaluated once per data chain -- and nothing is shared where hosts
differ (facts, data, name, templates naming ``host``, ``_if``, non-plain arguments)."""

from __future__ import annotations

import gc
import importlib
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from oxinfra._engine.run import run  # the engine's run: these tests read its internal plans
from oxinfra.api import DeployError, load_inventory
from oxinfra.api import FileUpload
from oxinfra.testing import sim

# Imported by the deploys (a module beside them): deploy files are run once per evaluation,
# so what is counted across hosts lives here.
HELPERS = r"""
import hashlib
from oxinfra import host
from oxinfra.api import FactBase, operation
from oxinfra.api import op_memo
from oxinfra.facts.files import File, Sha1File
from oxinfra.quoting import quote

CALLS = []  # one entry per run of an operation's generator body
EVALS = []  # one entry per evaluation of a deploy file that appends to it

class NodeName(FactBase):
    shell_safe = True
    def command(self):
        return "uname -n"
    def process(self, output):
        return output[0].strip()

class Target:
    def __init__(self, path):
        self.path = path

@operation()
def probe(path):
    CALLS.append(("probe", path))
    if host.get_fact(File, path=path):
        host.noop(f"{path} exists")
        return
    yield f": > {quote(path)}"

@operation()
def stamp(path):  # reads host data only after its fact
    CALLS.append(("stamp", path))
    have = host.get_fact(Sha1File, path=path)
    want = host.data.stamp
    if have == hashlib.sha1(f"{want}\n".encode()).hexdigest():
        host.noop("stamped")
        return
    yield f"printf '%s\\n' {quote(want)} > {quote(path)}"

@operation()
def named(path):  # reads the host's name only after its fact
    host.get_fact(File, path=path)
    yield f"printf '%s\\n' {quote(host.name)} > {quote(path)}"

@operation()
def node_name(path):
    name = host.get_fact(NodeName)
    yield f"printf '%s\\n' {quote(name)} > {quote(path)}"

@operation()
def touch_target(target):
    CALLS.append(("target", target.path))
    if host.get_fact(File, path=target.path):
        host.noop("there")
        return
    yield f": > {quote(target.path)}"

@operation()
def number(x):
    yield f"echo {x!r}"

@operation()
def memo_stamp(path):
    host.get_fact(File, path=path)
    memo = op_memo()  # "a dict kept with the operation call on this host"
    if "want" not in memo:
        memo["want"] = host.data.stamp
    yield f"printf '%s\\n' {quote(memo['want'])} > {quote(path)}"
"""


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    sim.reset()
    sys.modules.pop("reuse_helpers", None)
    assert gc.get_freeze_count() == 0
    yield
    sim.reset()
    sys.modules.pop("reuse_helpers", None)


def _deploy(tmp_path: Path, source: str, **templates: str) -> str:
    (tmp_path / "reuse_helpers.py").write_text(HELPERS)
    # imported here, before the run: a module the run itself imports from beside the deploy
    # leaves sys.modules when it ends (tests/test_deploy_imports.py), and these tests read
    # what the deploy's calls wrote into it
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("reuse_helpers")
    finally:
        sys.path.remove(str(tmp_path))
    for name, text in templates.items():
        (tmp_path / f"{name}.j2").write_text(text)
    path = tmp_path / "deploy.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def _inventory(tmp_path: Path, hosts: list[tuple[str, dict[str, Any]]]) -> Any:
    path = tmp_path / "inventory.py"
    path.write_text(f"hosts = {hosts!r}\n")
    return load_inventory(str(path))


def _helpers() -> Any:
    return sys.modules["reuse_helpers"]


def _statuses(result: Any) -> dict[str, list[tuple[str, str]]]:
    return {name: [(op["op"], op["status"]) for op in h.ops] for name, h in result.hosts.items()}


def _plans(events: list[dict[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """host -> op -> its planned commands (uploads as their bytes), from the dry-run events."""
    out: dict[str, dict[str, list[Any]]] = {}
    for e in events:
        if e["event"] == "operation" and e["_plan"] is not None:
            out.setdefault(e["host"], {})[e["op"]] = [
                c.data if isinstance(c, FileUpload) else c for c in e["_plan"].commands
            ]
    return out


def _read(machine: str, path: str) -> str:
    return sim.machines()[machine].fs[path].data


UNIFORM = """
    import reuse_helpers
    from oxinfra.operations import files, server
    files.directory(name="dir", path="/srv/app")
    files.file(name="file", path="/srv/app/a")
    reuse_helpers.probe(name="probe", path="/srv/app/p")
    files.line(name="line", path="/srv/app/env", line="MODE=prod")
    server.shell(name="shell", commands=["true"])
"""


def test_equal_hosts_are_planned_once_and_as_if_alone(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, UNIFORM)
    names = [f"@sim/h{i:02d}" for i in range(20)]
    inventory = load_inventory(",".join(names))
    together = run(inventory, [deploy], dry=True)
    calls = _helpers().CALLS
    # 20 hosts: probe's body ran once to discover its facts and once to plan, not 40 times.
    assert calls == [("probe", "/srv/app/p")] * 2
    assert together.success
    for name in names[:4]:
        alone = run(load_inventory(name), [deploy], dry=True)
        assert together.hosts[name].ops == alone.hosts[name].ops  # records, commands, noops
    assert len(calls) == 2 + 2 * 4  # a run of one host reuses nothing
    assert all(s == "changed" for ops in _statuses(together).values() for _, s in ops)
    del calls[:]
    real = run(inventory, [deploy])
    assert _statuses(real) == _statuses(together)
    assert len(calls) == 1 + 20  # a real run shares discovery only: every host plans itself
    again = run(inventory, [deploy], dry=True)
    assert {s for ops in _statuses(again).values() for op, s in ops if op != "shell"} == {"unchanged"}


def test_hosts_with_other_facts_get_their_own_plan(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        """
        import reuse_helpers
        from oxinfra.operations import files
        files.directory(name="dir", path="/srv/app")
        files.template(name="conf", src="conf.j2", dest="/srv/app/app.conf", value=1)
        reuse_helpers.probe(name="probe", path="/srv/app/p")
    """,
        conf="x={{ value }}\n",
    )
    seeded = {"sim_files": {"/srv/app/app.conf": "x=1\n", "/srv/app/p": ""}}
    hosts = [("@sim/f1", {}), ("@sim/f2", {}), ("@sim/seeded", seeded), ("@sim/f3", {})]
    inventory = _inventory(tmp_path, hosts)
    dry = run(inventory, [deploy], dry=True)
    changed = [("dir", "changed"), ("conf", "changed"), ("probe", "changed")]
    unchanged = [("dir", "unchanged"), ("conf", "unchanged"), ("probe", "unchanged")]
    assert _statuses(dry) == {"@sim/f1": changed, "@sim/f2": changed, "@sim/seeded": unchanged, "@sim/f3": changed}
    assert dry.hosts["@sim/seeded"].ops[1]["noop"] == "file /srv/app/app.conf is already up to date"
    assert "noop" not in dry.hosts["@sim/f3"].ops[1]
    real = run(inventory, [deploy])
    assert _statuses(real) == _statuses(dry)
    for name in ("f1", "f2", "f3", "seeded"):
        assert _read(name, "/srv/app/app.conf") == "x=1\n"


def test_operation_reading_host_after_its_facts_is_planned_per_host(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        """
        import reuse_helpers
        reuse_helpers.stamp(name="stamp", path="/srv/stamp")
        reuse_helpers.named(name="named", path="/srv/name")
    """,
    )
    seed = {"/srv/stamp": "one\n"}  # equal facts on every host: only the data differs
    hosts = [(f"@sim/{n}", {"stamp": s, "sim_files": seed}) for n, s in (("a", "one"), ("b", "two"), ("c", "one"))]
    inventory = _inventory(tmp_path, hosts)
    events: list[dict[str, Any]] = []
    dry = run(inventory, [deploy], dry=True, on_event=events.append)
    assert {n: ops[0][1] for n, ops in _statuses(dry).items()} == {
        "@sim/a": "unchanged",
        "@sim/b": "changed",
        "@sim/c": "unchanged",
    }
    assert len(_helpers().CALLS) == 1 + 3  # discovery shared; the plan read the host, so each host planned
    plans = _plans(events)
    assert plans["@sim/b"]["stamp"] == ["printf '%s\\n' two > /srv/stamp"]
    for name in ("a", "b", "c"):
        assert plans[f"@sim/{name}"]["named"] == [f"printf '%s\\n' @sim/{name} > /srv/name"]
    real = run(inventory, [deploy])
    assert _statuses(real) == _statuses(dry)
    assert [_read(n, "/srv/stamp") for n in "abc"] == ["one\n", "two\n", "one\n"]
    assert [_read(n, "/srv/name") for n in "abc"] == ["@sim/a\n", "@sim/b\n", "@sim/c\n"]


def test_template_naming_host_renders_per_host_and_plain_one_is_shared_right(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.template(name="who", src="who.j2", dest="/srv/who", greeting="hi")
        files.template(name="plain", src="plain.j2", dest="/srv/plain", value=7)
    """,
        who="{{ greeting }} from {{ host.name }}\n",
        plain="value={{ value }}\n",
    )
    names = ["a", "b", "c"]
    inventory = load_inventory(",".join(f"@sim/{n}" for n in names))
    events: list[dict[str, Any]] = []
    run(inventory, [deploy], dry=True, on_event=events.append)
    plans = _plans(events)
    for n in names:
        assert f"hi from @sim/{n}\n".encode() in plans[f"@sim/{n}"]["who"]
        assert b"value=7\n" in plans[f"@sim/{n}"]["plain"]
    assert run(inventory, [deploy]).success
    assert [_read(n, "/srv/who") for n in names] == [f"hi from @sim/{n}\n" for n in names]
    assert [_read(n, "/srv/plain") for n in names] == ["value=7\n"] * 3


def test_deploy_reading_data_is_evaluated_once_per_data_and_name_per_host(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        """
        import reuse_helpers
        from oxinfra import host
        from oxinfra.operations import files
        reuse_helpers.EVALS.append(1)
        files.directory(name="dir", path=host.data.app_dir)
        files.file(name="marker", path=host.data.app_dir + "/marker")
    """,
    )
    inv = tmp_path / "groups.py"
    inv.write_text(
        'blue = (["@sim/b1", "@sim/b2", "@sim/b3"], {"app_dir": "/srv/blue"})\n'
        'green = (["@sim/g1", "@sim/g2"], {"app_dir": "/srv/green"})\n'
        'solo = [("@sim/s1", {"app_dir": "/srv/solo"})]\n'
    )
    inventory = load_inventory(str(inv))
    result = run(inventory, [deploy])
    assert result.success
    assert len(_helpers().EVALS) == 3  # one evaluation per distinct data chain, not per host
    dirs = {
        "b1": "/srv/blue",
        "b2": "/srv/blue",
        "b3": "/srv/blue",
        "g1": "/srv/green",
        "g2": "/srv/green",
        "s1": "/srv/solo",
    }
    for name, mine in dirs.items():
        fs = sim.machines()[name].fs
        assert fs[mine + "/marker"].kind == "f"
        assert [d for d in ("/srv/blue", "/srv/green", "/srv/solo") if d in fs] == [mine]
    # Deploy code that reads the name runs for every host; each gets its own path.
    sim.reset()
    del _helpers().EVALS[:]
    by_name = _deploy(
        tmp_path,
        """
        import reuse_helpers
        from oxinfra import host
        from oxinfra.operations import files
        reuse_helpers.EVALS.append(1)
        files.file(name="mine", path="/srv/" + host.name.split("/")[-1])
    """,
    )
    result = run(inventory, [by_name])
    assert len(_helpers().EVALS) == 6
    for name in dirs:
        assert [p for p in sim.machines()[name].fs if p.startswith("/srv/")] == [f"/srv/{name}"]
    assert {op["op"]: op["status"] for op in result.hosts["@sim/b2"].ops} == {"mine": "changed"}


def test_if_conditions_and_object_arguments_are_not_shared(tmp_path: Path) -> None:
    assert run(
        load_inventory("@sim/b"),
        [_deploy(tmp_path, 'from oxinfra.operations import files\nfiles.file(path="/srv/flag")\n')],
    ).success
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        flag = files.file(name="flag", path="/srv/flag")
        server.shell(name="after", commands=["true"], _if=flag.did_change)
    """,
    )
    inventory = load_inventory("@sim/a,@sim/b,@sim/c")  # one data chain: only b's machine differs
    fresh = [("flag", "changed"), ("after", "changed")]
    expected = {"@sim/a": fresh, "@sim/b": [("flag", "unchanged"), ("after", "skipped")], "@sim/c": fresh}
    assert _statuses(run(inventory, [deploy], dry=True)) == expected
    assert _statuses(run(inventory, [deploy])) == expected
    # An object argument (here built from host data) is never a shared call.
    deploy = _deploy(
        tmp_path,
        """
        import reuse_helpers
        from oxinfra import host
        reuse_helpers.touch_target(name="target", target=reuse_helpers.Target(host.data.get("t", "/tmp/t")))
    """,
    )
    inventory = _inventory(
        tmp_path, [("@sim/a", {}), ("@sim/b", {"t": "/srv/flag"}), ("@sim/c", {}), ("@sim/d", {"t": "/tmp/other"})]
    )
    dry = run(inventory, [deploy], dry=True)
    assert _statuses(dry) == {
        "@sim/a": [("target", "changed")],
        "@sim/b": [("target", "unchanged")],
        "@sim/c": [("target", "changed")],
        "@sim/d": [("target", "changed")],
    }
    # discovered and planned on every host, even the two making equal calls with equal facts
    assert (
        sorted(_helpers().CALLS)
        == [("target", "/srv/flag")] * 2 + [("target", "/tmp/other")] * 2 + [("target", "/tmp/t")] * 4
    )
    assert _statuses(run(inventory, [deploy])) == _statuses(dry)
    fs = {n: sim.machines()[n].fs for n in "abcd"}
    assert ["/tmp/t" in fs[n] for n in "abcd"] == [True, False, True, False]
    assert "/tmp/other" in fs["d"] and "/tmp/other" not in fs["a"]


def test_nothing_stays_frozen_after_a_run_or_a_deploy_error(tmp_path: Path) -> None:
    inventory = load_inventory("@sim/a,@sim/b")
    threshold = gc.get_threshold()
    assert run(inventory, [_deploy(tmp_path, UNIFORM)], dry=True).success
    assert gc.get_freeze_count() == 0
    bad = _deploy(tmp_path, 'from oxinfra.operations import files\nfiles.file(path="/srv/x", bogus=1)\n')
    with pytest.raises(DeployError, match="bogus"):
        run(inventory, [bad])
    assert gc.get_freeze_count() == 0
    assert gc.isenabled() and gc.get_threshold() == threshold


def test_nothing_stays_frozen_after_a_deploy_error_in_a_deploy_reading_facts(tmp_path: Path) -> None:
    bad = _deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.files import File
        from oxinfra.operations import files
        host.get_fact(File, path="/srv/x")
        files.file(path="/srv/x", bogus=1)
    """,
    )
    try:
        with pytest.raises(DeployError, match="bogus"):
            run(load_inventory("@sim/a,@sim/b"), [bad])
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()  # leave the process as it was for the other tests


def test_sim_answers_follow_the_machine_and_never_share_its_name(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, UNIFORM)
    first = load_inventory("@sim/a,@sim/b")
    assert {s for ops in _statuses(run(first, [deploy])).values() for _, s in ops} == {"changed"}
    # Fresh connections to changed machines read their real state; fresh machines are fresh.
    later = load_inventory("@sim/a,@sim/b,@sim/c,@sim/d")
    for dry in (True, False):
        statuses = _statuses(run(later, [deploy], dry=dry))
        for name in ("@sim/a", "@sim/b"):
            assert [s for op, s in statuses[name] if op != "shell"] == ["unchanged"] * 4
        if dry:
            assert {s for n in ("@sim/c", "@sim/d") for _, s in statuses[n]} == {"changed"}
    # A fact printing the machine's name: never answered from another machine's answer.
    sim.reset()
    names = ["n1", "n2", "n3", "n4"]
    inventory = load_inventory(",".join(f"@sim/{n}" for n in names))
    by_name = _deploy(tmp_path, 'import reuse_helpers\nreuse_helpers.node_name(name="n", path="/tmp/node")\n')
    events: list[dict[str, Any]] = []
    run(inventory, [by_name], dry=True, on_event=events.append)
    plans = _plans(events)
    assert [plans[f"@sim/{n}"]["n"] for n in names] == [[f"printf '%s\\n' {n} > /tmp/node"] for n in names]
    assert run(inventory, [by_name]).success
    assert [_read(n, "/tmp/node") for n in names] == [f"{n}\n" for n in names]


def test_sharded_run_gives_the_same_statuses(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, UNIFORM)
    seeded = {"sim_files": {"/srv/app/p": "", "/srv/app/env": "MODE=prod\n"}}
    hosts = [(f"@sim/s{i}", seeded if i % 3 == 0 else {}) for i in range(6)]
    inventory = _inventory(tmp_path, hosts)
    single = run(inventory, [deploy], dry=True)
    sharded = run(inventory, [deploy], dry=True, shards=2)
    assert _statuses(sharded) == _statuses(single)
    assert sharded.order == single.order
    assert _statuses(single)["@sim/s3"][2:4] == [("probe", "unchanged"), ("line", "unchanged")]
    assert _statuses(single)["@sim/s4"][2:4] == [("probe", "changed"), ("line", "changed")]
    real_sharded = run(inventory, [deploy], shards=2)  # the workers' machines, not this process's
    assert not sim.machines() or all("/srv/app/a" not in m.fs for m in sim.machines().values())
    assert _statuses(real_sharded) == _statuses(run(inventory, [deploy])) == _statuses(single)


def test_float_arguments_equal_but_different_are_not_shared(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, "import reuse_helpers\nfrom oxinfra import host\nreuse_helpers.number(x=host.data.v)\n")
    inventory = _inventory(tmp_path, [("@sim/a", {"v": 0.0}), ("@sim/b", {"v": -0.0})])
    events: list[dict[str, Any]] = []
    run(inventory, [deploy], dry=True, on_event=events.append)
    plans = _plans(events)
    assert plans["@sim/a"]["reuse_helpers.number"] == ["echo 0.0"]
    assert plans["@sim/b"]["reuse_helpers.number"] == ["echo -0.0"]


def test_op_memo_is_per_host(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, 'import reuse_helpers\nreuse_helpers.memo_stamp(name="m", path="/srv/m")\n')
    inventory = _inventory(tmp_path, [("@sim/a", {"stamp": "A"}), ("@sim/b", {"stamp": "B"})])
    events: list[dict[str, Any]] = []
    run(inventory, [deploy], dry=True, on_event=events.append)
    plans = _plans(events)
    assert plans["@sim/a"]["m"] == ["printf '%s\\n' A > /srv/m"]
    assert plans["@sim/b"]["m"] == ["printf '%s\\n' B > /srv/m"]


def test_replayed_outcomes_name_each_hosts_own_operation_and_call_site(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.api import deploy
        from oxinfra.operations import server
        @deploy("X")
        def x():
            server.shell(name="same", commands=["true"])
        @deploy("Y")
        def y():
            server.shell(name="same", commands=["true"])
        if host.data.get("side") == "a":
            server.shell(name="for A", commands=["true"])
            x()
        else:
            server.shell(name="for B", commands=["true"])
            y()
    """,
    )
    inventory = _inventory(tmp_path, [("@sim/a", {"side": "a"}), ("@sim/b", {"side": "b"}), ("@sim/c", {"side": "b"})])
    result = run(inventory, [deploy], dry=True)
    ops = {name: [(op["op"], op["key"]) for op in h.ops] for name, h in result.hosts.items()}
    assert ops["@sim/a"] == [("for A", "deploy.py:12"), ("X | same", "deploy.py:7")]
    assert ops["@sim/b"] == ops["@sim/c"] == [("for B", "deploy.py:15"), ("Y | same", "deploy.py:10")]


def test_the_host_as_text_is_a_host_read(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import server
        server.shell(name="str", commands=[f"echo {host}", "echo " + str(host)])
        meta = server.shell(name="meta", commands=["true"])
        server.shell(name="meta name", commands=["echo " + meta.host_name])
    """,
    )
    events: list[dict[str, Any]] = []
    run(load_inventory("@sim/a,@sim/b"), [deploy], dry=True, on_event=events.append)
    plans = _plans(events)
    for name in ("@sim/a", "@sim/b"):
        assert plans[name]["str"] == [f"echo {name}", f"echo {name}"]
        assert plans[name]["meta name"] == [f"echo {name}"]


def test_fact_arguments_of_classes_defined_in_the_deploy_file(tmp_path: Path) -> None:
    """A deploy that reads facts is evaluated again after gathering them; an Enum defined in it
    is a new class each time, so requests must still be recognised (by their text)."""
    deploy = _deploy(
        tmp_path,
        """
        import enum
        from oxinfra import host
        from oxinfra.api import FactBase
        from oxinfra.operations import server
        class Mode(enum.Enum):
            A = "a"
        class Echo(FactBase):
            def command(self, mode):
                return f"echo {mode.value}"
        seen = host.get_fact(Echo, mode=Mode.A)
        server.shell(name="seen", commands=[f"echo {seen}"])
    """,
    )
    events: list[dict[str, Any]] = []
    result = run(load_inventory("@sim/a,@sim/b"), [deploy], dry=True, on_event=events.append)
    assert result.success
    assert _plans(events)["@sim/b"]["seen"] == ["echo a"]


def test_an_empty_argument_name_is_a_clear_error(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, 'from oxinfra.operations import files\nfiles.file(path="/x", **{"": 1})\n')
    with pytest.raises(DeployError, match="unexpected keyword argument ''"):
        run(load_inventory("@sim/a"), [deploy], dry=True)


def test_overlapping_runs_leave_the_collector_as_it_was() -> None:
    from oxinfra._collect import fewer_collections

    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_machine_seeded_after_it_was_made_is_not_answered_like_a_fresh_one() -> None:
    fresh = sim.machine("fresh-a")
    assert fresh.pristine is not None
    seeded = sim.machine("seeded-b")
    seeded.write_file("/etc/motd", "hi\n")
    assert seeded.pristine is None
    made_with_seeds = sim.machine("seeded-c", {"sim_files": {"/etc/motd": "hi\n"}})
    assert made_with_seeds.pristine is not None and made_with_seeds.pristine != fresh.pristine
