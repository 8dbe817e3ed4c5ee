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


DOCS = REPO / "docs"


def test_cli_page_has_a_section_for_every_subcommand() -> None:
    """docs/cli.md's options are written from the click command (checked above); the words
    the command dispatches on (``exec``, ``fact``, ``debug-inventory``) are not click
    options, so each needs its own hand-written section."""
    import re

    source = (REPO / "python" / "oxinfra" / "cli" / "__init__.py").read_text()
    subcommands = set(re.findall(r'targets\[0\] == "([\w-]+)"', source))
    assert {"exec", "fact", "debug-inventory"} <= subcommands
    page = (DOCS / "cli.md").read_text()
    missing = sorted(name for name in subcommands if f"\n## `{name}`\n" not in page)
    assert not missing, f"docs/cli.md has no '## `NAME`' section for {missing}"


def test_cli_page_lists_exactly_the_exit_codes_the_code_uses() -> None:
    import re

    from oxinfra.cli import outcome

    used = {getattr(outcome, name) for name in outcome.__all__ if isinstance(getattr(outcome, name), int)}
    page = (DOCS / "cli.md").read_text()
    table = page.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == used, f"docs/cli.md's exit codes {sorted(documented)}, oxinfra.cli.outcome's {sorted(used)}"
