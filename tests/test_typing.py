"""mypy on small snippets: operations keep their parameters (ParamSpec), global arguments
and name= type-check with oxinfra.mypy_plugin, what an operation annotated
``-> OperationGenerator`` yields is checked, run()/run_async() have explicit keywords, results
and events are typed. Each "bad" line must be an error on that line, and only those lines.
The package itself passes ``mypy --strict`` (.ci/test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

GOOD = """
from typing import Generator
import asyncio
from oxinfra.api import FileUpload, Inventory, OperationGenerator, OperationResult, RunResult, operation, run, run_async
from oxinfra.api.results import OpStatus, OperationEvent, Event
from oxinfra.operations import apt, files, pacman, server
from oxinfra.quoting import command

@operation()
def mine(path: str, mode: int = 0o644) -> Generator[str, None, None]:
    yield "true"

@operation()
def composed(path: str) -> OperationGenerator:
    yield from files.directory._inner(path=path)
    yield command("touch", "--", path + "/a")
    yield FileUpload(b"text", path + "/b")

def deploy() -> None:
    files.directory(path="/srv", _sudo=True, _sudo_user="root", name="make /srv")
    server.shell(commands=["true"], _env={"A": "1"}, _ignore_errors=True)
    mine("/x", mode=1, _sensitive=True)
    composed("/srv", name="composed")
    apt.packages(packages=["vim"], update=True, _sudo=True)
    pacman.update(name="refresh")
    meta = mine(path="/x")
    assert meta.changed is None or isinstance(meta.changed, bool)

def on_event(event: Event) -> None:
    if isinstance(event, OperationEvent):
        status: OpStatus = event.status

result: RunResult = run(Inventory.from_hosts(["@sim/a"], groups={"web": ["@sim/b"]}), deploy, dry=True,
                        on_event=on_event, global_args={"_sudo": True})
op: OperationResult = result.hosts["@sim/a"].ops[0]
status: OpStatus = op.status
commands: tuple[str, ...] = op.commands
again = asyncio.run(run_async(["@sim/a"], [deploy, "deploy.py"], parallel=10, limit=["@sim/a"]))
isolated = asyncio.run(run_async(["@sim/a"], "deploy.py", isolation="process"))
"""

BAD = """
from typing import Generator
from oxinfra.api import OperationGenerator, operation, run, run_async
from oxinfra.api.results import OperationResult
from oxinfra.operations import apt, files, pacman, server

@operation()
def mine(path: str, mode: int = 0o644) -> Generator[str, None, None]:
    yield "true"

@operation()
def yields_a_number(path: str) -> OperationGenerator:
    yield 1  # E: Incompatible types in "yield"

def deploy() -> None:
    files.directory(pth="/srv")  # E: Unexpected keyword argument "pth"
    apt.packages(packages=["vim"], presnt=True)  # E: Unexpected keyword argument "presnt"
    server.user(user=1)  # E: Argument "user"
    pacman.update(force=True)  # E: Unexpected keyword argument "force"
    files.put(src="a", dest="/b", name=1)  # E: Argument "name"
    mine(path=1)  # E: Argument "path"
    mine(path="/x", _sudo="yes")  # E: Argument "_sudo"
    mine(path="/x", _sduo=True)  # E: Unexpected keyword argument "_sduo"
    mine()  # E: Missing positional argument "path"

run(["@sim/a"], deploy, dyr=True)  # E: Unexpected keyword argument "dyr"
run(["@sim/a"], deploy, parallel="10")  # E: Argument "parallel"
run(["@sim/a"], deploy, global_args={"_sudo": "yes"})  # E: Argument "global_args"
run(["@sim/a"], deploy, global_args={"sudo": True})  # E: Argument "global_args"
run_async(["@sim/a"], deploy, isolation="proc")  # E: Argument "isolation"
def check(op: OperationResult) -> None:
    if op.status == "not run":  # E: Non-overlapping equality check
        pass
    op.status = "failed"  # E: Property "status"
"""


def _mypy(tmp_path: Path, files: dict[str, str], plugin: bool = True) -> dict[tuple[str, int], str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text.lstrip("\n"))
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict_equality = True\n" + ("plugins = oxinfra.mypy_plugin\n" if plugin else ""))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / ".cache")]
        + "--no-error-summary --hide-error-context --show-error-codes".split()
        + sorted(files),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert "INTERNAL ERROR" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    errors: dict[tuple[str, int], str] = {}
    for line in proc.stdout.splitlines():
        match = re.match(r"(\S+?):(\d+): error: (.*)", line)
        if match:
            key = (match.group(1), int(match.group(2)))
            errors[key] = errors.get(key, "") + match.group(3)
    return errors


def _expected(text: str) -> dict[int, str]:
    return {n: line.split("# E: ", 1)[1] for n, line in enumerate(text.lstrip("\n").splitlines(), 1) if "# E: " in line}


def test_mypy_catches_wrong_arguments_and_accepts_global_arguments(tmp_path: Path) -> None:
    errors = _mypy(tmp_path, {"good.py": GOOD, "bad.py": BAD})
    assert not {k: v for k, v in errors.items() if k[0] == "good.py"}, errors
    expected = _expected(BAD)
    found = {line: message for (name, line), message in errors.items() if name == "bad.py"}
    assert set(found) == set(expected), (found, expected)
    for line, words in expected.items():
        assert words in found[line], (line, words, found[line])


def test_without_the_plugin_global_arguments_are_errors_as_documented(tmp_path: Path) -> None:
    snippet = (
        'from oxinfra.operations import files\nfiles.directory(path="/srv", _sudo=True)\nfiles.directory(pth="/srv")\n'
    )
    errors = _mypy(tmp_path, {"plain.py": snippet}, plugin=False)
    assert set(errors) == {("plain.py", 2), ("plain.py", 3)}, errors
    assert '"_sudo"' in errors[("plain.py", 2)] and '"pth"' in errors[("plain.py", 3)]


def test_global_arguments_type_lists_every_global_argument() -> None:
    from oxinfra.api.arguments import GLOBAL_ARG_NAMES
    from oxinfra.api.typed import GlobalArguments

    assert set(GlobalArguments.__annotations__) == set(GLOBAL_ARG_NAMES)
