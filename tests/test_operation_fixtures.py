"""Operation fixtures: arguments + fact values → the commands an operation yields and what it
declares about itself.

Every operation (each ``@operation`` in a module of ``oxinfra.operations``) has a folder
``tests/operations/<module>.<op>/`` of cases ``<case>.json``; local files named by ``src``
live beside them. A case holds:

- ``args``: the operation's arguments; a value ``{"python": "module:name"}`` is that Python
  object (``python.call``'s function);
- ``facts``: a list of ``{"fact", "args", "value"}``, the values the facts parse to (a
  ``{"datetime": "2024-01-01T00:00:00+00:00"}`` in a value is that datetime, see
  ``oxinfra.testing.plan.plan_operation``). Every fact given must be read;
- either ``error`` (a substring of the error the operation raises), or:
- ``commands``: the commands, in order: strings, or ``{"upload": dest, "sha1": hex}`` for
  file uploads, plus ``"umask"`` when the file is created under one and ``"mode"``,
  ``"user"``, ``"group"`` when they are set on the temporary file before the rename,
  ``"keep_owner": true`` when it gets the replaced file's owner and group, or
  ``{"call": qualified name, "args": [...], "kwargs": {...}}`` for a Python callback;
- ``noop`` (optional): a substring of the reason it gives for doing nothing; a case with no
  commands must have one;
- ``declares``: what the plan declared (oxinfra/api/effects.py), as the engine reads it:
  ``touches`` (the paths its commands may change, with the parents or ancestors it added;
  sorted), ``subtrees`` (the roots it may change everything below of), ``directories`` (the
  directories its commands create, ``ensure_directory``/``mark_directory``, in order) and
  ``contents`` (``{path: sha1 of the bytes}``, from ``predict_content``). ``"anything"``
  when it declares no path: the engine then takes it to change anything, and ignores any
  directory or content it declared (such a declaration fails the case: it would be lost).

Facts are handed over in batches, as the engine gathers them (oxinfra.testing.plan): an
operation that reads facts in more batches than its ``@operation(fact_batches=...)`` says
(1 unless it gives a reason) fails.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api import FileUpload, FunctionCommand, Reconnect, host, operation
from oxinfra.exceptions import OperationError
from oxinfra.facts.files import File, Link
from oxinfra.testing.plan import discover_operations, PlannedOperation, plan_operation

ROOT = Path(__file__).parent / "operations"
CASES = sorted(ROOT.glob("*/*.json"))
RESULT_KEYS = {"commands", "noop", "declares"}


OPERATIONS = discover_operations()


def resolve_args(args: dict[str, Any]) -> dict[str, Any]:
    """A case's arguments with ``{"python": "module:name"}`` values made the objects they name."""
    import importlib

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and value.keys() == {"python"}:
            module, _, name = value["python"].partition(":")
            return getattr(importlib.import_module(module), name)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return {k: resolve(v) for k, v in args.items()}


def _render(command: Any) -> Any:
    if isinstance(command, Reconnect):
        return {"reconnect": {"delay": command.delay, "interval": command.interval, "timeout": command.timeout}}
    if isinstance(command, FunctionCommand):
        return {
            "call": f"{command.function.__module__}:{command.function.__qualname__}",
            "args": list(command.args),
            "kwargs": command.kwargs,
        }
    if isinstance(command, FileUpload):
        upload = {"upload": command.dest, "sha1": hashlib.sha1(command.data).hexdigest()}
        if command.umask is not None:
            upload["umask"] = command.umask
        for key in ("mode", "user", "group"):  # set on the temporary file before the rename
            if getattr(command, key) is not None:
                upload[key] = getattr(command, key)
        if command.keep_owner:
            upload["keep_owner"] = True
        return upload
    return command


def declarations(planned: PlannedOperation) -> Any:
    """What the plan declared, in the fixtures' form (see the module docs)."""
    if not planned.declared:
        return "anything"
    return {
        "touches": sorted(planned.touched),
        "subtrees": planned.subtrees,
        "directories": planned.created_dirs,
        "contents": {path: hashlib.sha1(data).hexdigest() for path, data in sorted(planned.contents.items())},
    }


def lost_declarations(planned: PlannedOperation) -> str | None:
    """Directories or contents declared by a plan that declares no path: the engine takes
    such a plan to change anything and drops them (``_engine/plan.py``)."""
    if planned.declared or not (planned.created_dirs or planned.contents):
        return None
    return (
        f"directories {planned.created_dirs} or contents {sorted(planned.contents)} declared without "
        "touches(): the engine drops them; declare the paths the commands change"
    )


def batch_problem(op: Any, name: str, planned: PlannedOperation) -> str | None:
    """Why the facts ``op`` read are not acceptable, or None: more batches than it declares."""
    allowed = getattr(op, "fact_batches", 1)
    if len(planned.fact_batches) <= allowed:
        return None
    listing = "; ".join(
        f"batch {i}: " + ", ".join(f"{r.cls.name}({r.kwargs})" for r in batch)
        for i, batch in enumerate(planned.fact_batches, 1)
    )
    return (
        f"{name} reads facts in {len(planned.fact_batches)} batches ({listing}), but declares "
        f"{allowed}: read them together with get_facts(), or declare @operation(fact_batches=N, "
        "fact_batches_reason=...) saying why it cannot"
    )


def _fact_key(name: str, args: dict[str, Any]) -> tuple[str, str]:
    return name, json.dumps(args, sort_keys=True)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_operation_fixture(case: Path) -> None:
    spec = json.loads(case.read_text())
    op = OPERATIONS.get(case.parent.name)
    assert op is not None, f"{case.parent.name} names no operation of oxinfra.operations"
    facts = [(f["fact"], f["args"], f["value"]) for f in spec.get("facts", [])]
    if "error" in spec:
        assert not RESULT_KEYS & spec.keys(), f"an error case has no {sorted(RESULT_KEYS & spec.keys())}"
        with pytest.raises(OperationError) as info:
            plan_operation(op, resolve_args(spec["args"]), facts, local_dir=str(case.parent))
        assert spec["error"] in str(info.value)
        return
    planned = plan_operation(op, resolve_args(spec["args"]), facts, local_dir=str(case.parent))
    assert [_render(c) for c in planned.commands] == spec["commands"]
    if "noop" in spec:
        assert any(spec["noop"] in reason for reason in planned.noops), planned.noops
    else:
        assert planned.commands, "a case without commands must say why (noop)"
    assert "declares" in spec, f"no declares; the plan declared {json.dumps(declarations(planned))}"
    problem = lost_declarations(planned)
    assert problem is None, problem
    assert declarations(planned) == spec["declares"]
    read = {_fact_key(r.cls.name, r.kwargs) for batch in planned.fact_batches for r in batch}
    unread = [(name, args) for name, args, _ in facts if _fact_key(name, args) not in read]
    assert not unread, f"facts given but never read: {unread}"
    problem = batch_problem(op, case.parent.name, planned)
    assert problem is None, problem


def test_every_operation_has_fixtures() -> None:
    assert {"files.put", "server.shell"} <= OPERATIONS.keys()  # discovery finds them
    folders = {p.name for p in ROOT.iterdir() if p.is_dir()}
    missing = sorted(OPERATIONS.keys() - {c.parent.name for c in CASES})
    assert not missing, f"operations without fixtures (add tests/operations/<name>/<case>.json): {missing}"
    stale = sorted(folders - OPERATIONS.keys())
    assert not stale, f"fixture folders that name no operation: {stale}"


def test_declared_fact_batches_are_needed() -> None:
    """An operation that declares more than one batch has a case that needs them."""
    most: dict[str, int] = {}
    for case in CASES:
        spec = json.loads(case.read_text())
        if "error" in spec:
            continue
        facts = [(f["fact"], f["args"], f["value"]) for f in spec.get("facts", [])]
        planned = plan_operation(
            OPERATIONS[case.parent.name], resolve_args(spec["args"]), facts, local_dir=str(case.parent)
        )
        most[case.parent.name] = max(most.get(case.parent.name, 0), len(planned.fact_batches))
    problems = [unneeded_batches(op, name, most.get(name, 0)) for name, op in OPERATIONS.items()]
    assert not [p for p in problems if p], problems


def unneeded_batches(op: Any, name: str, most: int) -> str | None:
    """Why ``op`` declares more fact batches than its cases need (``most``), or None."""
    declared: int = getattr(op, "fact_batches", 1)
    if declared > 1 and most < declared:
        return (
            f"{name} declares fact_batches={declared}; its cases need at most {most}: add the case "
            "that needs them, or lower the declaration"
        )
    return None


# -- the batch rule itself, on operations made for it ----------------------


def _follow(path: str):
    """Reads the link, then the file it points to: two batches."""
    info = host.get_fact(Link, path=path)
    if info:
        target = host.get_fact(File, path=info["link_target"])
        if target is None:
            yield f"echo dangling {path}"


_LINK = {"user": "root", "group": "root", "mode": 777, "size": 4, "link_target": "/b"}
_FOLLOW_FACTS = [("files.Link", {"path": "/a"}, _LINK), ("files.File", {"path": "/b"}, None)]


def test_a_second_batch_fails_unless_declared() -> None:
    undeclared = operation()(_follow)
    planned = plan_operation(undeclared, {"path": "/a"}, _FOLLOW_FACTS)
    assert planned.commands == ["echo dangling /a"]
    assert [[r.cls.name for r in batch] for batch in planned.fact_batches] == [["files.Link"], ["files.File"]]
    problem = batch_problem(undeclared, "t.follow", planned)
    assert problem is not None
    assert "t.follow reads facts in 2 batches (batch 1: files.Link({'path': '/a'}); batch 2: files.File(" in problem
    declared = operation(fact_batches=2, fact_batches_reason="the link's target names the next fact")(_follow)
    assert batch_problem(declared, "t.follow", plan_operation(declared, {"path": "/a"}, _FOLLOW_FACTS)) is None
    # A declaration no case needs is reported too: a case with no link reads one batch.
    one = plan_operation(declared, {"path": "/a"}, [("files.Link", {"path": "/a"}, None)])
    assert len(one.fact_batches) == 1
    assert unneeded_batches(declared, "t.follow", 1) == (
        "t.follow declares fact_batches=2; its cases need at most 1: add the case that needs them, "
        "or lower the declaration"
    )
    assert unneeded_batches(declared, "t.follow", 2) is None
    assert unneeded_batches(undeclared, "t.follow", 1) is None


def test_facts_read_one_by_one_are_batches_too() -> None:
    """Two host.get_fact calls whose arguments are known up front still cost two batches;
    get_facts() makes them one."""

    def one_by_one(path: str):
        host.get_fact(Link, path=path)
        host.get_fact(File, path="/b")
        yield "true"

    def together(path: str):
        from oxinfra.api import get_facts

        get_facts(host, [(Link, {"path": path}), (File, {"path": "/b"})])
        yield "true"

    assert len(plan_operation(operation()(one_by_one), {"path": "/a"}, _FOLLOW_FACTS).fact_batches) == 2
    assert len(plan_operation(operation()(together), {"path": "/a"}, _FOLLOW_FACTS).fact_batches) == 1
    assert plan_operation(operation()(lambda: (yield "true")), {}).fact_batches == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"fact_batches": 2}, "needs fact_batches_reason="),
        ({"fact_batches": 2, "fact_batches_reason": "  "}, "needs fact_batches_reason="),
        ({"fact_batches": 0}, "whole number of 1 or more"),
        ({"fact_batches": True}, "whole number of 1 or more"),
        ({"fact_batches_reason": "why"}, "only for fact_batches of 2 or more"),
    ],
)
def test_fact_batches_declaration_is_checked(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(TypeError, match=needle):
        operation(**kwargs)


def test_directories_declared_without_a_path_are_reported() -> None:
    from oxinfra.api import ensure_directory, predict_content, touches

    def creates(path: str, declare: bool):
        if declare:
            touches(path, ancestors=True)
        predict_content(path + "/f", b"x")
        yield from ensure_directory(path)

    lost = plan_operation(operation()(creates), {"path": "/srv/d", "declare": False})
    assert lost.commands == ["mkdir -p -- /srv/d"] and declarations(lost) == "anything"
    assert lost_declarations(lost) == (
        "directories ['/srv/d'] or contents ['/srv/d/f'] declared without touches(): the engine drops them; "
        "declare the paths the commands change"
    )
    kept = plan_operation(operation()(creates), {"path": "/srv/d", "declare": True})
    assert lost_declarations(kept) is None
    assert declarations(kept) == {
        "touches": ["/", "/srv", "/srv/d"],
        "subtrees": [],
        "directories": ["/srv/d"],
        "contents": {"/srv/d/f": "11f6ad8ec52a2984abaafd7c3b516503785c2072"},
    }
