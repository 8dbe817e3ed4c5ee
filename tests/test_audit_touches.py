"""Audit: what an operation changes on a host is what it declared it may change (``touches``).

The engine re-reads a fact only when a change planned since it was read may have touched
it (``_engine/plan.py``): an operation that changes a path it did not declare leaves later
operations planning from stale facts. So every ``@operation`` of every module of
``oxinfra.operations`` is applied, with each of its fixtures' arguments
(``tests/operations/<module>.<op>/*.json``, absolute paths moved under a root of their
own), to a simulated host (``@sim``) seeded six ways at the operation's target: absent,
a file with content, a directory (with a file in it), a symbolic link to a file, one to a
directory, and its parent directory missing. The host's filesystem is compared before and after (kind, mode,
owner, group, content, link target, existence); every path that changed must be covered by
the plan's ``touched`` (``(exact paths, subtree roots)``): in the exact set or under a
subtree root. A path that appeared or went away changes its parent directory's listing,
which must be covered too (``touches(path)`` adds the parent for that). An operation of
``oxinfra.operations.files`` must declare (``touched`` not None) whenever it changes anything.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import pytest

from oxinfra.testing.plan import discover_operations

from oxinfra._engine.run import run  # the engine's run: these tests read its internal plans
from oxinfra.api import load_inventory
from oxinfra.testing import sim
from oxinfra.testing.sim import Node

FIXTURES = Path(__file__).parent / "operations"
ROOT = "/case"
MACHINE = "audit"
SEEDS = ("absent", "file", "directory", "link", "link_to_directory", "parent_missing")

Snapshot = dict[str, tuple[Any, ...]]
Touched = tuple[frozenset[str], tuple[str, ...]] | None


# -- the checker ------------------------------------------------------------


def snapshot(host: sim.SimHost) -> Snapshot:
    return {path: (n.kind, n.mode, n.user, n.group, n.data, n.target) for path, n in host.fs.items()}


def changed_paths(before: Snapshot, after: Snapshot) -> dict[str, str]:
    """Every path whose state changed, with why; a path that appeared or went away also
    changes its parent directory's listing."""
    changed: dict[str, str] = {}
    for path in before.keys() | after.keys():
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None or new is None:
            changed[path] = "created" if old is None else "removed"
            parent = posixpath.dirname(path)
            if parent != path:
                changed.setdefault(parent, f"listing (entry {posixpath.basename(path)} {changed[path]})")
        else:
            fields = ("kind", "mode", "user", "group", "content", "link target")
            changed[path] = ", ".join(f for f, a, b in zip(fields, old, new) if a != b)
    return changed


def covered(path: str, touched: Touched) -> bool:
    if touched is None:
        return True
    exact, subtrees = touched
    return path in exact or any(path == root or path.startswith(root.rstrip("/") + "/") for root in subtrees)


def uncovered(before: Snapshot, after: Snapshot, touched: Touched) -> dict[str, str]:
    """The changes the declaration ``touched`` does not cover."""
    return {path: why for path, why in sorted(changed_paths(before, after).items()) if not covered(path, touched)}


def _state(**paths: tuple[Any, ...]) -> Snapshot:
    base = {"/": ("d", 0o755, "root", "root", "", ""), "/a": ("d", 0o755, "root", "root", "", "")}
    return {**base, **{p.replace("_", "/"): v for p, v in paths.items()}}


FILE = ("f", 0o644, "root", "root", "x\n", "")


def test_checker_reports_changes_outside_the_declaration() -> None:
    before = _state(_a_f=FILE)
    assert uncovered(before, dict(before), (frozenset(), ())) == {}
    content = _state(_a_f=FILE[:4] + ("y\n", ""))
    assert uncovered(before, content, (frozenset({"/a"}), ())) == {"/a/f": "content"}
    assert uncovered(before, content, (frozenset({"/a/f", "/a"}), ())) == {}
    mode = _state(_a_f=("f", 0o600, "u", "root", "x\n", ""))
    assert uncovered(before, mode, (frozenset(), ())) == {"/a/f": "mode, user"}
    # Created or removed: the parent's listing changed too.
    created = _state(_a_f=FILE, _a_g=FILE)
    assert uncovered(before, created, (frozenset({"/a/g"}), ())) == {"/a": "listing (entry g created)"}
    assert uncovered(before, created, (frozenset({"/a/g", "/a"}), ())) == {}
    removed = _state()
    assert uncovered(before, removed, (frozenset({"/a/f"}), ())) == {"/a": "listing (entry f removed)"}
    # A subtree root covers everything below it, itself included; not its parent.
    assert uncovered(before, created, (frozenset(), ("/a",))) == {}
    assert uncovered(before, created, (frozenset(), ("/a/g",))) == {"/a": "listing (entry g created)"}
    assert uncovered(before, created, (frozenset(), ("/ab",))) == {"/a": "listing (entry g created)", "/a/g": "created"}
    assert uncovered(before, created, None) == {}  # "anything"


# -- the audit --------------------------------------------------------------

OPERATIONS = discover_operations()

# Known undeclared changes (each fails today; strict: fixing one makes its entry fail until removed).
KNOWN: dict[str, str] = {}


def _cases() -> list[Any]:
    cases = []
    for name in sorted(OPERATIONS):
        for fixture in sorted((FIXTURES / name).glob("*.json")):
            spec = json.loads(fixture.read_text())
            if "error" in spec:
                continue  # refused while planning: nothing runs
            for seed in SEEDS:
                case_id = f"{name}/{fixture.stem}/{seed}"
                marks = [pytest.mark.xfail(strict=True, reason=KNOWN[case_id])] if case_id in KNOWN else []
                cases.append(pytest.param(name, fixture, seed, id=case_id, marks=marks))
    return cases


def _moved(value: Any, fixture: Path, key: str) -> Any:
    if isinstance(value, str) and value.startswith("/"):
        return ROOT + value
    if key == "src" and isinstance(value, str) and (fixture.parent / value).exists():
        return str(fixture.parent / value)  # a local file beside the fixture (apt.repo's src is a line)
    if isinstance(value, list):
        return [_moved(v, fixture, "") for v in value]
    return value


def _target(args: dict[str, Any]) -> str | None:
    for key in ("path", "dest"):
        if isinstance(args.get(key), str) and args[key].startswith("/"):
            return posixpath.normpath(args[key])
    return None


def seed_text(spec: dict[str, Any]) -> str:
    """A file's content: a line of its own, and the lines the fixture says a search finds
    (so that replacing and removing operations have something to change)."""
    found = [
        line
        for fact in spec.get("facts", [])
        if isinstance(fact.get("value"), list)
        for line in fact["value"]
        if isinstance(line, str)
    ]
    return "".join(f"{line}\n" for line in ["seed line", *found])


def seed(host: sim.SimHost, target: str | None, how: str, text: str) -> None:
    """Put ``how`` at ``target`` (its parent exists unless ``parent_missing``); a file, and
    the file a link points to, hold ``text``."""
    host.pristine = None
    if target is None or how == "parent_missing":
        return
    parent = posixpath.dirname(target)
    host._mkdirs(parent, "root", 0)
    if how == "file":
        host.write_file(target, text, mode=0o600, user="nobody")
    elif how == "directory":
        host._mkdirs(target, "root", 0)
        host.write_file(target + "/inside", text)
    elif how == "link":
        host.write_file(parent + "/link-target", text)
    elif how == "link_to_directory":
        host.write_file(parent + "/link-target/inside", text)
    if how.startswith("link"):
        host.fs[target] = Node("l", 0o777, "root", "root", 0, target="link-target")


@pytest.fixture(autouse=True)
def _fresh_machines() -> Any:
    sim.reset()
    yield
    sim.reset()


def apply(
    deploy_source: str, target: str | None, how: str, text: str, tmp_path: Path, must_declare: bool = True
) -> list[str]:
    """Run a deploy of one operation on a fresh simulated host seeded ``how`` at ``target``;
    what is wrong with what it declared against what it changed (nothing: []). An operation
    that ``must_declare`` may not take "may change anything" for a change."""
    sim.reset()
    deploy = tmp_path / f"deploy{len(list(tmp_path.glob('deploy*.py')))}.py"  # a new file: a new deploy
    deploy.write_text(deploy_source)
    host = sim.machine(MACHINE)
    seed(host, target, how, text)
    before = snapshot(host)
    events: list[dict[str, Any]] = []
    run(
        load_inventory(f"@sim/{MACHINE}"),
        [str(deploy)],
        on_event=lambda e: events.append(e) if e.get("event") == "operation" else None,
    )
    after = snapshot(sim.machine(MACHINE))
    assert len(events) == 1, events
    event = events[0]
    changes = changed_paths(before, after)
    plan = event.get("_plan")
    if plan is None:
        return [f"{event['op']} was not planned ({event.get('error')}) but changed {changes}"] if changes else []
    touched: Touched = plan.touched
    if touched is None:
        if changes and must_declare:
            return [f"{event['op']} declares nothing (may change anything) but changed {changes}"]
        return []
    missed = uncovered(before, after, touched)
    if missed:
        return [
            f"{event['op']} ({how}) changed paths it did not declare: {missed}; declared "
            f"{sorted(touched[0])}, subtrees {list(touched[1])}"
        ]
    return []


_LYING = """
from oxinfra.api import operation, touches
from oxinfra.quoting import command, write_to

@operation()
def files_{name}(path):
    {declare}
    yield write_to(command("printf", "%s", "x"), path + ".other")

files_{name}(path="/case/d/f")
"""


def test_apply_reports_an_operation_that_changes_what_it_did_not_declare(tmp_path: Path) -> None:
    wrong = apply(_LYING.format(name="wrong", declare="touches(path)"), "/case/d/f", "absent", "", tmp_path)
    assert wrong == [
        "__oxinfra_deploy__.files_wrong (absent) changed paths it did not declare: {'/case/d/f.other': "
        "'created'}; declared ['/case/d', '/case/d/f'], subtrees []"
    ]
    right = apply(_LYING.format(name="right", declare="touches(path + '.other')"), "/case/d/f", "absent", "", tmp_path)
    assert right == []
    silent = _LYING.format(name="silent", declare="pass")
    assert apply(silent, "/case/d/f", "absent", "", tmp_path) == [
        "__oxinfra_deploy__.files_silent declares nothing (may change anything) but changed "
        "{'/case/d/f.other': 'created', '/case/d': 'listing (entry f.other created)'}"
    ]
    assert apply(silent, "/case/d/f", "absent", "", tmp_path, must_declare=False) == []


@pytest.mark.parametrize(("name", "fixture", "how"), _cases())
def test_changes_are_declared(name: str, fixture: Path, how: str, tmp_path: Path) -> None:
    spec = json.loads(fixture.read_text())
    args = {key: _moved(value, fixture, key) for key, value in spec["args"].items()}
    module, _, op_name = name.rpartition(".")
    source = (
        "import importlib, json\n"
        f"op = getattr(importlib.import_module({'oxinfra.operations.' + module!r}), {op_name!r})\n"
        # {"python": "module:name"} in a fixture is that object (tests/test_operation_fixtures.py)
        "def obj(v):\n"
        "    if isinstance(v, dict) and list(v) == ['python']:\n"
        "        m, _, n = v['python'].partition(':')\n"
        "        return getattr(importlib.import_module(m), n)\n"
        "    return v\n"
        f"op(**{{k: obj(v) for k, v in json.loads({json.dumps(args)!r}).items()}})\n"
    )
    assert apply(source, _target(args), how, seed_text(spec), tmp_path, must_declare=module == "files") == []
