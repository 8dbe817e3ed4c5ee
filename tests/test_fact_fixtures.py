"""Fact fixtures: arguments → the exact command a fact class builds; what the host printed
→ the value the fact class parses, or the error it fails with.

Every fact (each public ``FactBase`` subclass defined in a module of ``oxinfra.facts``) has a
folder ``tests/facts/<module>.<Fact>/`` of cases ``<case>.json``. A case holds:

- ``args``: the fact's arguments (``host.get_fact(Fact, **args)``);
- ``command``: the exact command ``Fact().command(**args)`` returns;
- ``stdout`` and ``rc`` (the exit status) the host gave, and optionally ``stderr``;
- ``value``: what ``parse`` makes of them, or ``error``: a substring of the message the
  engine fails the fact with (the exit status, the fact's detail, the last lines of stderr;
  output a parser cannot read fails the host: ``_engine/plan.py``, ``HostPlanner.store``).
  A failure is never "absent".

A case without ``command`` (nor ``stdout``, ``rc``) has ``error``: the fact refuses its
arguments when it builds the command.

Bytes that are not UTF-8: ``"stdout": {"bytes": "..."}``, each character one byte
(``"\\u00ff"`` is the byte 0xff). Datetimes in values: ``{"datetime": "2023-11-14T22:13:20"}``
(naive, UTC, as the file facts give them; with an offset, aware). Tuples: ``{"tuple": [...]}``;
dicts with int keys: ``{"int_keys": {"1": ...}}``; bytes: ``{"bytes": "..."}`` (as stdout); a
name that is not UTF-8, as ``os.fsdecode`` gives it (surrogates): ``{"fsdecode": "..."}``, its
bytes as ``bytes``'s (a JSON reader such as serde's refuses a lone surrogate). Values are compared with their types: ``1`` is not
``true``, ``[]`` is not ``null``.

The same command instance parses the output (facts may keep state between the two, as the
engine's requests do). ``cargo test`` reads the cases of facts whose parser is Rust too
(``rust/tests/fixtures.rs``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import oxinfra.facts
from oxinfra._engine.plan import HostPlanner
from oxinfra.api import FactBase
from oxinfra.api.facts import FactRequest
from oxinfra.exceptions import FactError, OutputParseError
from oxinfra.inventory.host import Host

ROOT = Path(__file__).parent / "facts"
CASES = sorted(ROOT.glob("*/*.json"))
KEYS = {"args", "command", "stdout", "rc", "stderr", "value", "error"}


def discover_facts() -> dict[str, type[FactBase[Any]]]:
    """Every public FactBase subclass defined in a module of ``oxinfra.facts``, by its name
    (``files.File``). Private bases (``_Line``) share their subclasses' cases."""
    found: dict[str, type[FactBase[Any]]] = {}
    prefix = oxinfra.facts.__name__ + "."
    for info in pkgutil.walk_packages(oxinfra.facts.__path__, prefix):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, FactBase)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                assert value.name not in found, f"two facts named {value.name}"
                found[value.name] = value
    return found


FACTS = discover_facts()


def raw(text: Any) -> bytes:
    """A fixture's stdout or stderr as bytes."""
    if isinstance(text, dict):
        (chars,) = text.values()
        assert list(text) == ["bytes"], f"unknown encoding {list(text)}"
        return chars.encode("latin-1")  # fails on a character above U+00FF
    return text.encode("utf-8")


def from_json(value: Any) -> Any:
    """A fixture's value as the fact gives it (datetimes decoded)."""
    if isinstance(value, dict):
        if list(value) == ["datetime"]:
            return datetime.fromisoformat(value["datetime"])
        if list(value) == ["tuple"]:
            return tuple(from_json(v) for v in value["tuple"])
        if list(value) == ["int_keys"]:
            return {int(k): from_json(v) for k, v in value["int_keys"].items()}
        if list(value) == ["bytes"]:
            return raw(value)
        if list(value) == ["fsdecode"]:
            return raw({"bytes": value["fsdecode"]}).decode("utf-8", "surrogateescape")
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def same(got: Any, want: Any) -> bool:
    """Equal, with equal types all the way down (``1 != True``, ``[] != None``)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    return bool(got == want)


def engine_error(cls: type[FactBase[Any]], args: dict[str, Any], stdout: bytes, rc: int, stderr: bytes) -> str | None:
    """The message the engine fails the fact with (None: no failure): kept for whoever reads
    the fact, or, for output a parser cannot read, raised for the whole host."""
    planner = HostPlanner(Host("testhost", {}))
    request = FactRequest(cls, dict(args), ())
    try:
        planner.store(request, stdout, rc, stderr)
    except OutputParseError as exc:
        return str(exc)
    return planner.facts[request.key].error


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_fact_fixture(case: Path) -> None:
    spec = json.loads(case.read_text(encoding="utf-8"))
    assert spec.keys() <= KEYS, f"unknown keys {sorted(spec.keys() - KEYS)}"
    assert ("value" in spec) != ("error" in spec), "a case has a value or an error, not both"
    cls = FACTS.get(case.parent.name)
    assert cls is not None, f"{case.parent.name} names no fact of oxinfra.facts"
    fact = cls()
    if "command" not in spec:
        assert "error" in spec and not {"stdout", "rc", "stderr"} & spec.keys(), (
            "a case without command is one whose arguments the fact refuses: error only"
        )
        with pytest.raises(FactError) as info:
            fact.command(**spec["args"])
        assert spec["error"] in str(info.value)
        return
    assert fact.command(**spec["args"]) == spec["command"]
    stdout, rc, stderr = raw(spec["stdout"]), spec["rc"], raw(spec.get("stderr", ""))
    if "error" in spec:
        with pytest.raises((FactError, ValueError)):
            fact.parse(stdout, rc)
        message = engine_error(cls, spec["args"], stdout, rc, stderr)
        assert message is not None and spec["error"] in message, message
        return
    got = fact.parse(stdout, rc)
    if hasattr(got, "to_json"):  # an object with a JSON form (pyinfra's CrontabFile): compared by it
        got = got.to_json()
    want = from_json(spec["value"])
    assert same(got, want), f"{got!r} != {want!r}"
    assert engine_error(cls, spec["args"], stdout, rc, stderr) is None


def test_every_fact_has_fixtures() -> None:
    assert {"files.File", "server.Which"} <= FACTS.keys()  # discovery finds them
    folders = {p.name for p in ROOT.iterdir() if p.is_dir()}
    missing = sorted(FACTS.keys() - {c.parent.name for c in CASES})
    assert not missing, f"facts without fixtures (add tests/facts/<name>/<case>.json): {missing}"
    stale = sorted(folders - FACTS.keys())
    assert not stale, f"fixture folders that name no fact: {stale}"


def test_every_fact_has_a_failing_case() -> None:
    """A tool's error is never "absent": each fact shows what it does with one."""
    failing = {c.parent.name for c in CASES if "error" in json.loads(c.read_text(encoding="utf-8"))}
    assert not sorted(FACTS.keys() - failing), sorted(FACTS.keys() - failing)


def test_the_comparison_is_strict() -> None:
    assert not same(1, True) and not same([], None) and not same({"a": 1}, {"a": 1.0})
    assert same(from_json({"t": {"datetime": "2023-11-14T22:13:20"}}), {"t": datetime(2023, 11, 14, 22, 13, 20)})
    assert raw({"bytes": "a\u00ffb"}) == b"a\xffb"
    assert same(from_json({"tuple": ["a", 1]}), ("a", 1)) and not same(from_json({"tuple": []}), [])
    assert same(from_json({"int_keys": {"1": "a"}}), {1: "a"}) and not same({"1": "a"}, {1: "a"})


def test_home_of_an_unknown_user_on_a_real_shell() -> None:
    """The shell prints ``~name`` unexpanded for a user that does not exist: no home."""
    import pwd
    import subprocess

    from oxinfra.facts.server import Home

    for user, want in (("no-such-user-here", None), ("root", pwd.getpwnam("root").pw_dir)):
        fact = Home()
        out = subprocess.run(["sh", "-c", fact.command(user=user)], capture_output=True, check=True)
        assert fact.parse(out.stdout, out.returncode) == want
