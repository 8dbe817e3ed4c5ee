"""Shell completion through click's protocol, as the shells' scripts call it
(``_OXINFRA_COMPLETE=bash_complete COMP_WORDS=... COMP_CWORD=N oxinfra``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_helpers import cli_env, run_cli

MAIN = "from oxinfra.cli import main; main(prog_name='oxinfra')"


def _complete(cwd: Path, line: str, shell: str = "bash") -> list[tuple[str, str]]:
    """(type, value) pairs for the last word of ``line`` (empty when it ends with a space)."""
    words = line.split(" ")
    env = {**cli_env(), "_OXINFRA_COMPLETE": f"{shell}_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    proc = subprocess.run([sys.executable, "-c", MAIN], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines() if proc.stdout.strip() else []
    if shell == "zsh":  # type, value, help: three lines per item
        return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 3)]
    return [(kind, value) for kind, _, value in (item.partition(",") for item in lines)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "inventory.py").write_text("web = ['web1']\n")
    (tmp_path / "deploy.py").write_text("")
    (tmp_path / "tasks").mkdir()
    return tmp_path


def test_the_scripts_are_there_and_bash_reads_its_own(project: Path) -> None:
    for shell, marker in (
        ("bash", "complete -o nosort -F _oxinfra_completion oxinfra"),
        ("zsh", "#compdef oxinfra"),
        ("fish", "complete --no-files --command oxinfra"),
    ):
        env = {**cli_env(), "_OXINFRA_COMPLETE": f"{shell}_source"}
        proc = subprocess.run([sys.executable, "-c", MAIN], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and marker in proc.stdout, (shell, proc.stdout, proc.stderr)
        if shell == "bash" and shutil.which("bash"):
            check = subprocess.run(["bash", "-n"], input=proc.stdout, capture_output=True, text=True)
            assert check.returncode == 0, check.stderr


def test_inventory_completes_as_a_file_and_local(project: Path) -> None:
    assert _complete(project, "oxinfra inv") == [("file", "inv")]
    assert _complete(project, "oxinfra @") == [("file", "@"), ("plain", "@local")]


def test_first_target_forms_operations_and_files(project: Path) -> None:
    found = _complete(project, "oxinfra inventory.py ")
    assert found[0] == ("file", "")  # zsh and fish complete files from this item
    plain = [value for kind, value in found if kind == "plain"]
    # bash completes files only when no word matched: they are listed among the words
    assert plain[:3] == ["exec", "fact", "debug-inventory"] and {"deploy.py", "inventory.py", "tasks/"} <= set(plain)
    zsh = [value for kind, value in _complete(project, "oxinfra inventory.py ", "zsh") if kind == "plain"]
    assert zsh == ["exec", "fact", "debug-inventory"]
    assert _complete(project, "oxinfra inventory.py dep") == [("file", "dep")]
    found = [value for _, value in _complete(project, "oxinfra inventory.py files.li")]
    assert found == ["files.li", "files.line", "files.link"]
    found = [value for _, value in _complete(project, "oxinfra inventory.py ser")]
    assert "server.shell" in found and "server.user" in found and "files.line" not in found


def test_fact_names_and_operation_arguments(project: Path) -> None:
    found = [value for _, value in _complete(project, "oxinfra inventory.py fact server.O")]
    assert {"server.Os", "server.OsVersion"} <= set(found) and all(v.startswith("server.O") for v in found)
    found = [value for _, value in _complete(project, "oxinfra inventory.py files.line path=/x ")]
    assert found[:2] == ["line=", "present="] and "path=" not in found
    assert _complete(project, "oxinfra inventory.py exec ") == []


def test_deploy_files_after_the_first_and_option_values(project: Path) -> None:
    assert _complete(project, "oxinfra inventory.py deploy.py ta") == [("file", "ta")]
    assert _complete(project, "oxinfra --chdir ") == [("dir", "")]
    assert _complete(project, "oxinfra inventory.py deploy.py --ssh-key ") == [("file", "")]
    assert ("plain", "--ssh-user") in _complete(project, "oxinfra inventory.py deploy.py --ssh-u")


def test_completion_ignores_a_broken_settings_file(project: Path) -> None:
    (project / "oxinfra.toml").write_text("paralel = [\n")
    assert _complete(project, "oxinfra inventory.py files.li")[1:] == [("plain", "files.line"), ("plain", "files.link")]


def test_help_says_how_to_enable_it() -> None:
    out = run_cli("--help")
    assert "_OXINFRA_COMPLETE=bash_source oxinfra" in out.stdout and "fish_source" in out.stdout, out.describe()
