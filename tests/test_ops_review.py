"""A hostile review of operation arguments and Python inventories: bad input is refused
while the deploy (or the inventory) is read, with one line naming where and what, before
any host changes.

- an argument of the wrong type (the operation's annotation says what it takes: ``str``,
  ``bool``, ``str | None``, ``str | list[str]`` ...) is refused when the call is recorded,
  never at execution time after earlier operations applied;
- a numeric owner (``user="5"``) is refused: the File fact holds names, so it would never
  settle;
- a Python inventory group holding one entry that is not a host is an error, not a group
  that silently disappears; a dynamic inventory's group name must be a string.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, invoke, run_cli, write_deploy

from oxinfra.exceptions import InventoryError, OperationValueError
from oxinfra.inventory.model import read_source
from oxinfra.operations.util.files import check_path
from oxinfra.testing.plan import discover_operations


def _one_line(out: Any) -> str:
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.describe()
    assert lines[0].startswith("oxinfra: error: "), out.describe()
    return lines[0][len("oxinfra: error: ") :]


# --------------------------------------------------------------------------------------------
# 1, 2: arguments of the wrong type, refused while the deploy is evaluated
# --------------------------------------------------------------------------------------------

BAD_CALLS = [
    ("files.directory(path=None)", "files.directory: path must be a string, not None"),
    ("files.directory(path=5)", "files.directory: path must be a string, not 5"),
    ('files.file(path=["/a"])', "files.file: path must be a string, not ['/a']"),
    ('files.line(path=None, line="x")', "files.line: path must be a string, not None"),
    ('files.line(path="@ROOT@/f", line=None)', "files.line: line must be a string, not None"),
    ('files.line(path="@ROOT@/f", line=5)', "files.line: line must be a string, not 5"),
    ('files.template(src=None, dest="@ROOT@/t")', "files.template: src must be a string, not None"),
    ('files.file(path="@ROOT@/f", present="no")', "files.file: present must be True or False, not 'no'"),
    ('files.directory(path="@ROOT@/d", recursive=1)', "files.directory: recursive must be True or False, not 1"),
    (
        'files.sync(src="x", dest="@ROOT@/s", exclude=["a", 5])',
        "files.sync: exclude must be a string, a list of strings or None, not a list holding 5",
    ),
    ('files.file(path="@ROOT@/f", user=5)', "files.file: user must be a string or None, not 5"),
]


@pytest.mark.parametrize(("call", "expected"), BAD_CALLS, ids=[c for c, _ in BAD_CALLS])
def test_wrong_argument_type_is_refused_before_anything_runs(tmp_path: Path, call: str, expected: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    deploy = write_deploy(
        tmp_path,
        f"""\
        from oxinfra.operations import files
        files.directory(path="@ROOT@/pre")
        {call}
        """,
        root,
    )
    message = _one_line(invoke("-y", "@local", deploy, json_events=False))
    assert "deploy.py:3" in message, message
    assert expected in message, message
    assert list(root.iterdir()) == []  # not even the operation before ran


def test_the_value_is_not_shown_under_sensitive(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """\
        from oxinfra.operations import files
        files.file(path="@ROOT@/never", present="hunter2", _sensitive=True)
        """,
        tmp_path,
    )
    message = _one_line(invoke("-y", "@local", deploy, json_events=False))
    assert "present must be True or False, not str" in message and "hunter2" not in message, message


def test_the_cli_exits_2_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    deploy = write_deploy(
        tmp_path,
        """\
        from oxinfra.operations import files
        files.directory(path="@ROOT@/pre")
        files.directory(path=None)
        """,
        root,
    )
    out = run_cli("@local", deploy, "-y")
    assert "deploy.py:3: files.directory: path must be a string, not None" in _one_line(out)
    assert list(root.iterdir()) == []


def test_composed_parts_refuse_a_path_that_is_not_a_string() -> None:
    """``op._inner`` skips the call's checks: the paths are checked again by the operation."""
    for value in (None, 5, ["/a"]):
        with pytest.raises(OperationValueError, match="path must be a string"):
            check_path(value)


def test_every_fixture_call_matches_the_annotations() -> None:
    """The annotations are what the operations take: every fixture that plans passes them."""
    from oxinfra.api.argtypes import argument_errors

    operations = discover_operations()
    root = Path(__file__).parent / "operations"
    checked = 0
    for case in sorted(root.glob("*/*.json")):
        data = json.loads(case.read_text())
        if "error" in data or case.parent.name not in operations:
            continue
        args = {k: v for k, v in data["args"].items() if not (isinstance(v, dict) and list(v) == ["python"])}
        errors = argument_errors(operations[case.parent.name], (), args)
        assert not errors, f"{case}: {errors}"
        checked += 1
    assert checked > 300


def test_optional_and_union_annotations() -> None:
    from oxinfra.api.argtypes import argument_errors
    from oxinfra.operations import files, server

    assert argument_errors(files.file, (), {"path": "/a", "user": None, "present": False}) == []
    assert argument_errors(server.shell, (), {"commands": ["a", "b"]}) == []
    assert argument_errors(server.shell, ("a",), {}) == []
    assert argument_errors(files.sync, (), {"src": "a", "dest": "/b", "exclude": ("x", "y")}) == []
    assert argument_errors(files.template, (), {"src": "a", "dest": "/b", "anything": object()}) == []
    assert argument_errors(server.shell, (None,), {}) == ["commands must be a string or a list of strings, not None"]


# --------------------------------------------------------------------------------------------
# 5: numeric owners never settle: refused
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        'files.file(path="@ROOT@/f", user="5")',
        'files.directory(path="@ROOT@/d", user="0")',
        'files.file(path="@ROOT@/f", group="5")',
        'files.put(src="deploy.py", dest="@ROOT@/p", group="100")',
    ],
)
def test_a_numeric_owner_is_refused(tmp_path: Path, call: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    deploy = write_deploy(tmp_path, f"from oxinfra.operations import files\n{call}\n", root)
    message = _one_line(invoke("-y", "@local", deploy, json_events=False))
    assert "deploy.py:2" in message and "is a numeric id" in message and "name" in message, message
    assert list(root.iterdir()) == []


# --------------------------------------------------------------------------------------------
# 3, 4: Python inventories
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("web", "entry"),
    [
        ('["@local", 1]', "1"),
        ('["@local", None]', "None"),
        ('(["@local"], [1])', "[1]"),
        ('("@local", [1, 2])', "[1, 2]"),
        ('["@local", ["@local"]]', "['@local']"),
    ],
)
def test_a_group_with_an_entry_that_is_not_a_host_is_an_error(tmp_path: Path, web: str, entry: str) -> None:
    path = tmp_path / "mix2.py"
    path.write_text(f'web = {web}\ndb = ["@local"]\n')
    with pytest.raises(InventoryError) as err:
        read_source(str(path))
    message = str(err.value)
    assert f"{path}:1: group 'web'" in message and entry in message, message
    out = run_cli(path, "debug-inventory")
    assert "mix2.py:1: group 'web'" in _one_line(out)


def test_a_single_group_file_with_a_bad_entry_names_it(tmp_path: Path) -> None:
    path = tmp_path / "one.py"
    path.write_text('hosts = ["@local", 1]\n')
    with pytest.raises(InventoryError, match=r"one.py:1: group 'hosts': entry 1 is not a host"):
        read_source(str(path))


def test_lists_that_hold_no_host_are_still_not_groups(tmp_path: Path) -> None:
    path = tmp_path / "inv.py"
    path.write_text('ports = [22, 80]\nweb = ["@local"]\n')
    assert [g.name for g in read_source(str(path)).groups if g.patterns] == ["web"]


def test_a_dynamic_group_name_must_be_a_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dyninv.py").write_text('def hosts():\n    return {5: ["@local"], "db": ["@local"]}\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InventoryError, match=r"dyninv:hosts: group 5: a group name must be a string, not int"):
        read_source("dyninv:hosts")
