"""Operation fixtures: arguments + fact values → the commands an operation yields.

Each ``tests/operations/<module>.<op>/<case>.json`` holds ``args``, ``facts`` (a list of
``{"fact", "args", "value"}``), the expected ``commands`` (strings, or ``{"upload": dest,
"sha1": hex}`` for file uploads, plus ``"umask"`` when the file is created under one) and
optionally ``noop`` (a substring of the reason) or ``error`` (a substring of the error). Local files named by ``src`` live beside the case.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api import FileUpload
from oxinfra.exceptions import OperationError
from oxinfra.testing.plan import plan_operation

ROOT = Path(__file__).parent / "operations"
CASES = sorted(ROOT.glob("*/*.json"))


def _render(command: Any) -> Any:
    if isinstance(command, FileUpload):
        upload = {"upload": command.dest, "sha1": hashlib.sha1(command.data).hexdigest()}
        if command.umask is not None:
            upload["umask"] = command.umask
        return upload
    return command


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_operation_fixture(case: Path) -> None:
    spec = json.loads(case.read_text())
    module_name, op_name = case.parent.name.split(".")
    op = getattr(importlib.import_module(f"oxinfra.operations.{module_name}"), op_name)
    facts = [(f["fact"], f["args"], f["value"]) for f in spec.get("facts", [])]
    if "error" in spec:
        with pytest.raises(OperationError) as info:
            plan_operation(op, spec["args"], facts, local_dir=str(case.parent))
        assert spec["error"] in str(info.value)
        return
    commands, noops = plan_operation(op, spec["args"], facts, local_dir=str(case.parent))
    assert [_render(c) for c in commands] == spec["commands"]
    if "noop" in spec:
        assert any(spec["noop"] in reason for reason in noops), noops
    else:
        assert commands, "a case without commands must say why (noop)"


def test_there_are_fixtures_for_every_operation() -> None:
    names = {c.parent.name for c in CASES}
    for op in ("files.directory", "files.file", "files.put", "files.template", "files.line",
               "files.replace", "files.link", "server.shell"):
        assert op in names, f"no fixture for {op}"
