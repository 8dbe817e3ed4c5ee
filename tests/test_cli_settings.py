"""Option defaults from ``oxinfra.toml`` and ``[tool.oxinfra]`` of ``pyproject.toml``: which
wins (command line > environment > oxinfra.toml > pyproject.toml > config.py > built-in), how
lists add up, and bad files as one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, cli_env, run_cli, target, write_deploy, write_inventory

__all__ = ["target"]  # fixtures used here

NO_STATE_ENV = {"OXINFRA_STATE_FILE": ""}  # empty: unset for click (the test session sets it)


def _data(tmp_path: Path, *argv: Any) -> dict[str, Any]:
    """web1's data as ``debug-inventory --json`` prints it (one indented object)."""
    argv = ("-m", "oxinfra", "--json", "web1", "debug-inventory", *map(str, argv))
    proc = subprocess.run([sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True, env=cli_env())
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout)["hosts"]["web1"]["data"])


def test_oxinfra_toml_wins_over_pyproject_and_the_command_line_over_both(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.oxinfra]\nssh_user = "from-pyproject"\nssh-port = 2222\n'
    )
    assert _data(tmp_path) == {"ssh_user": "from-pyproject", "ssh_port": 2222}
    (tmp_path / "oxinfra.toml").write_text('ssh_user = "from-toml"\ndata = { env = "staging", workers = 4, n = "5" }\n')
    assert _data(tmp_path) == {"ssh_user": "from-toml", "ssh_port": 2222, "env": "staging", "workers": 4, "n": "5"}
    # the command line wins; --data adds to the file's data, key by key
    assert _data(tmp_path, "--ssh-user", "cli", "--ssh-port", "22", "--data", "env=prod", "--data", "x=1") == {
        "ssh_user": "cli",
        "ssh_port": 22,
        "env": "prod",
        "workers": 4,
        "n": "5",
        "x": 1,
    }


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "oxinfra.toml").write_text('state_file = "from-toml.json"\n')
    for env, argv, where in (
        (NO_STATE_ENV, [], "from-toml.json"),
        ({"OXINFRA_STATE_FILE": "from-env.json"}, [], "from-env.json"),
        ({"OXINFRA_STATE_FILE": "from-env.json"}, ["--state-file", "from-cli.json"], "from-cli.json"),
    ):
        out = run_cli("--no-host-lock", *argv, "@local", "exec", "--", "true", cwd=tmp_path, env=env)
        assert out.code == 0, out.describe()
        assert (tmp_path / where).exists(), (where, sorted(p.name for p in tmp_path.iterdir()))
        (tmp_path / where).unlink()


def test_chdir_reads_the_settings_of_that_directory(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "oxinfra.toml").write_text('ssh_user = "project"\n')
    (tmp_path / "oxinfra.toml").write_text('ssh_user = "here"\n')
    assert _data(tmp_path, "--chdir", "project") == {"ssh_user": "project"}
    assert _data(tmp_path) == {"ssh_user": "here"}


# Each host notes when its command started and ended.
TIMED = """
    from oxinfra import host
    from oxinfra.operations import server
    server.shell(name="timed", commands=[
        f"date +%s.%N > @ROOT@/{host.name}.start; sleep 0.6; date +%s.%N > @ROOT@/{host.name}.end"])
"""


def _overlap(root: Path, hosts: list[str]) -> bool:
    spans = sorted((float((root / f"{h}.start").read_text()), float((root / f"{h}.end").read_text())) for h in hosts)
    return any(end > start for (_, end), (start, _) in zip(spans, spans[1:]))


def test_settings_win_over_config_py(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    write_inventory(tmp_path, sshd_fleet)
    write_deploy(tmp_path, TIMED, target)
    (tmp_path / "config.py").write_text("from oxinfra import config\nconfig.PARALLEL = 1\n")
    out = run_cli("-y", "inventory.py", "deploy.py", cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert not _overlap(target, sshd_fleet.hosts)  # config.py alone: one host at a time
    (tmp_path / "oxinfra.toml").write_text("parallel = 3\n")
    out = run_cli("-y", "inventory.py", "deploy.py", cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert _overlap(target, sshd_fleet.hosts)  # oxinfra.toml's parallel wins over config.py's
    (tmp_path / "oxinfra.toml").write_text("serial = true\nparallel = 3\n")
    out = run_cli("-y", "inventory.py", "deploy.py", cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert not _overlap(target, sshd_fleet.hosts)  # serial wins over a parallel that is not the command line's


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("oxinfra.toml", "paralel = 3\n", "oxinfra.toml: unknown key 'paralel' (settings: config, data, fail_percent,"),
        ("oxinfra.toml", 'parallel = "x"\n', "oxinfra.toml: parallel = 'x': 'x' is not a valid integer"),
        ("oxinfra.toml", "parallel = 0\n", "oxinfra.toml: parallel = 0: 0 is not in the range x>=1"),
        ("oxinfra.toml", "parallel = true\n", "oxinfra.toml: parallel = True: must be a number"),
        (
            "oxinfra.toml",
            "fail_percent = 120\n",
            "oxinfra.toml: fail_percent = 120: 120.0 is not in the range 0<=x<=100",
        ),
        ("oxinfra.toml", "sudo = 1\n", "oxinfra.toml: sudo = 1: must be true or false"),
        ("oxinfra.toml", "ssh_user = 5\n", "oxinfra.toml: ssh_user = 5: must be a non-empty text"),
        ("oxinfra.toml", "data = [1]\n", "oxinfra.toml: data = [1]: must be a table of host data"),
        ("oxinfra.toml", "group_data = [1]\n", "oxinfra.toml: group_data = [1]: must be a text or a list of texts"),
        (
            "oxinfra.toml",
            'ssh_password = "x"\n',
            "oxinfra.toml: ssh_password is not a setting: passwords are never read",
        ),
        ("oxinfra.toml", "yes = true\n", "oxinfra.toml: yes is not a setting: whether to execute without asking"),
        ("oxinfra.toml", 'limit = "web"\n', "oxinfra.toml: limit is not a setting: the hosts a run touches"),
        ("oxinfra.toml", "parallel = [\n", "oxinfra.toml: not valid TOML:"),
        ("pyproject.toml", "[tool]\noxinfra = 3\n", "pyproject.toml [tool.oxinfra]: must be a table of settings"),
        (
            "pyproject.toml",
            "[tool.oxinfra]\nshards = -1\n",
            "pyproject.toml [tool.oxinfra]: shards = -1: needs at least 1",
        ),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path, file: str, text: str, message: str) -> None:
    (tmp_path / file).write_text(text)
    out = run_cli("-y", "--no-host-lock", "@local", "exec", "--", "touch ran", cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oxinfra: error: ") and message in lines[0], out.describe()
    assert not (tmp_path / "ran").exists()
    as_json = run_cli("--json", "@local", "exec", "--", "true", cwd=tmp_path)
    assert as_json.code == 2 and as_json.events[0]["event"] == "error" and message in as_json.events[0]["error"]


def test_a_pyproject_without_the_table_sets_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 120\n')
    assert _data(tmp_path) == {}
