"""Each form of the command has its own ``--help`` (``oxinfra INV exec --help``, ``fact``,
``debug-inventory``, ``MODULE.OP``); every invocation the forms had keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_helpers import assert_no_traceback, run_cli


@pytest.mark.parametrize(
    ("argv", "usage", "text"),
    [
        (["@local", "exec", "--help"], "INVENTORY exec [--] COMMAND...", "Run COMMAND on every host"),
        (["@local", "exec", "-h"], "INVENTORY exec [--] COMMAND...", "--help included"),
        (["exec", "--help"], "INVENTORY exec [--] COMMAND...", "Run COMMAND on every host"),
        (["--help", "@local", "exec"], "INVENTORY exec [--] COMMAND...", "Run COMMAND on every host"),
        (["@local", "--limit", "exec", "fact", "--help"], "INVENTORY fact MODULE.Fact", "Read facts on every host"),
        (["web1", "fact", "server.Os", "--help"], "INVENTORY fact MODULE.Fact", "arguments of the fact before them"),
        (["web1", "debug-inventory", "--help"], "INVENTORY debug-inventory", "Connects to nothing"),
        (["web1", "files.line", "--help"], "INVENTORY files.line path=VALUE line=VALUE", "+ present: whether"),
        (["web1", "server.shell", "-yh"], "INVENTORY server.shell", "Example::"),
    ],
)
def test_each_form_has_its_own_help(tmp_path: Path, argv: list[str], usage: str, text: str) -> None:
    out = run_cli(*argv, cwd=tmp_path)
    assert out.code == 0, out.describe()
    words = " ".join(out.stdout.split())
    assert usage in words and text in words, out.describe()
    assert "Options (the form's main ones" in out.stdout
    assert out.stderr == "" and not (tmp_path / ".oxinfra").exists()


def test_fact_form_help_names_its_output() -> None:
    out = run_cli("web1", "fact", "--help")
    assert out.code == 0 and '{"<host>": value}' in out.stdout and "--json" in out.stdout, out.describe()


def test_help_after_dashes_is_the_commands(tmp_path: Path) -> None:
    out = run_cli("--no-host-lock", "@local", "exec", "--", "echo", "--help", cwd=tmp_path)
    assert out.code == 0 and "[@local] --help" in out.stdout, out.describe()


def test_deploy_files_and_no_form_get_the_main_help(tmp_path: Path) -> None:
    for argv in (["--help"], ["@local", "deploy.py", "--help"], ["@local", "-h"]):
        out = run_cli(*argv, cwd=tmp_path)
        assert out.code == 0 and "INVENTORY TARGETS..." in out.stdout and "Exit codes:" in out.stdout, out.describe()
        assert "oxinfra INVENTORY exec --help" in " ".join(out.stdout.split())


def test_help_of_an_unknown_operation_is_one_line_exit_2() -> None:
    out = run_cli("web1", "files.nope", "--help")
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    assert out.stderr.strip().splitlines() == [
        "oxinfra: error: files.nope: oxinfra.operations.files has no operation 'nope' (its operations: "
        "block, copy, directory, download, file, get, line, link, move, put, replace, sync, template)"
    ]
    assert out.stdout == ""
