"""pyinfra's deploy API on the Debian container hosts: config.py's ``config.SUDO`` and
``config.SUDO_PASSWORD`` for a user whose sudo asks for a password, and ``oxinfra INVENTORY
fact`` printing what pyinfra 3.10 prints for the same hosts (run from its own venv over the
same SSH settings)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import PYINFRA_CLI, require_pyinfra, run_cli, write_deploy

pytestmark = pytest.mark.containers

PYINFRA = Path(PYINFRA_CLI)


def test_config_py_sudo_with_a_password(container_fleet: Any, tmp_path: Path) -> None:
    from oxinfra.testing.containers import TEST_PASSWORD

    container_fleet.write_inventory(tmp_path / "inventory.py", user="pwuser")
    (tmp_path / "config.py").write_text(
        f"from oxinfra import config\nconfig.SUDO = True\nconfig.SUDO_PASSWORD = {TEST_PASSWORD!r}\n"
    )
    write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import User
        from oxinfra.operations import files, server
        files.line(name="etc line", path="/etc/oxinfra-test-config", line="by " + host.get_fact(User))
        server.shell(name="whoami", commands=["id -un > /etc/oxinfra-test-config-who"])
    """,
    )
    out = run_cli("--json", "-y", "inventory.py", "deploy.py", cwd=tmp_path, timeout=180)
    assert out.code == 0, out.describe()
    assert TEST_PASSWORD not in out.stdout + out.stderr
    for h in container_fleet.hosts:
        made = container_fleet.sh(h, "stat -c %U /etc/oxinfra-test-config; cat /etc/oxinfra-test-config*")
        assert made == "root\nby root\nroot\n", h
    again = run_cli("--json", "-y", "inventory.py", "deploy.py", cwd=tmp_path, timeout=180)
    assert again.code == 0, again.describe()
    for h in container_fleet.hosts:
        assert again.statuses(h) == {"etc line": "unchanged", "whoami": "changed"}


FACTS = ["server.Os", "server.Arch", "server.Hostname", "server.User", "server.Home", "server.Which", "command=sh"]
FACTS += ["files.File", "path=/etc/hostname", "files.Directory", "path=/etc", "files.Link", "path=/bin"]


def test_fact_command_prints_what_pyinfra_prints(container_fleet: Any, tmp_path: Path) -> None:
    require_pyinfra()
    inventory = container_fleet.write_inventory(tmp_path / "inventory.py")
    ours = run_cli(inventory, "fact", *FACTS, "--json", timeout=180)
    assert ours.code == 0, ours.describe()
    proc = subprocess.run(
        [str(PYINFRA), str(inventory), "fact", *FACTS, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = json.loads(proc.stdout)
    mine = json.loads(ours.stdout)
    assert list(mine) == list(theirs)  # the same fact names, in order
    assert mine == theirs
    assert sorted(mine["server.Os"]) == sorted(container_fleet.hosts)


def test_fact_command_with_sudo_and_a_password(container_fleet: Any, tmp_path: Path) -> None:
    from oxinfra.testing.containers import TEST_PASSWORD

    inventory = container_fleet.write_inventory(tmp_path / "inventory.py", user="pwuser")
    plain = run_cli(inventory, "fact", "server.User", "--json", timeout=180)
    assert plain.code == 0, plain.describe()
    assert set(json.loads(plain.stdout)["server.User"].values()) == {"pwuser"}
    out = run_cli(inventory, "fact", "server.User", "--sudo", "--sudo-password", TEST_PASSWORD, "--json", timeout=180)
    assert out.code == 0, out.describe()
    assert set(json.loads(out.stdout)["server.User"].values()) == {"root"}
    assert TEST_PASSWORD not in out.stdout + out.stderr
    wrong = run_cli(inventory, "fact", "server.User", "--sudo", "--sudo-password", "not-it", "--json", timeout=180)
    assert wrong.code == 1, wrong.describe()
    assert set(json.loads(wrong.stdout)["server.User"].values()) == {None}
    assert "could not run as sudo" in wrong.stderr and "not-it" not in wrong.stdout + wrong.stderr, wrong.describe()
