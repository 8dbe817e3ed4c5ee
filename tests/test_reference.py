"""The reference pages (docs/reference/) are what the code says, and every operation's
docstring has an example (issue 10: "a docstring with an example, in the generated reference")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from oxinfra.testing.plan import discover_operations

REPO = Path(__file__).resolve().parent.parent


def test_reference_pages_are_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "docs" / "gen_reference.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_every_operation_documents_its_arguments_with_an_example() -> None:
    missing = [name for name, op in discover_operations().items() if "Example::" not in (op.__doc__ or "")]
    assert not missing, f"operations without an Example:: block in their docstring: {missing}"


def test_every_operation_and_fact_is_in_the_reference() -> None:
    operations = (REPO / "docs" / "reference" / "operations.md").read_text()
    for name in discover_operations():
        assert f"### `{name}(" in operations, name
