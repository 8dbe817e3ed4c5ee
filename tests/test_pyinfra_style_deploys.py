"""Deploy files written for pyinfra 3 in the style of its documentation (our own text: roles
included per group, config.py and config set in deploy code, data from inventory and
``@deploy`` defaults, facts and operation results read by deploy code, ``_if``/``host.when``,
global arguments) run with their imports changed from ``pyinfra`` to ``oxinfra``.

Each project is run by oxinfra against ``@local`` and, when pyinfra 3.10 is installed in its
own venv (/work/venvs/pyinfra), by pyinfra against ``@local`` into a second directory: the
two trees must be equal (names, kinds, contents, modes). Then oxinfra runs again and changes
only what always changes (``server.shell``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from e2e_helpers import run_cli

PYINFRA = Path("/work/venvs/pyinfra/bin/pyinfra")

# A project: file name -> pyinfra 3 source. @ROOT@ is where it writes.
ROLES = {
    "inventory.py": """
        web_servers = [("@local", {"app_port": 8080})]
        db_servers = []
    """,
    "group_data/all.py": """
        app_name = "shop"
        log_level = "info"
    """,
    "config.py": """
        from pyinfra import config

        config.IGNORE_ERRORS = False
        config.RETRY_DELAY = 0
    """,
    "deploy.py": """
        from pyinfra import config, host, inventory, local, logger, state
        from pyinfra.facts.files import File
        from pyinfra.operations import files, server

        logger.info("deploying %s", host.data.app_name)
        files.directory(name="Base directory", path="@ROOT@/srv", mode="755")

        if "web_servers" in host.groups:
            local.include("tasks/web.py")

        if "db_servers" in host.groups:
            local.include("tasks/database.py")

        marker = host.get_fact(File, path="@ROOT@/srv/installed")
        server.shell(
            name="First install marker",
            commands=["echo first > @ROOT@/srv/installed"],
            _if=lambda: marker is None,
        )
        server.shell(name="Runs everywhere", commands=["echo ran >> @ROOT@/srv/runs"])
    """,
    "tasks/web.py": """
        from pyinfra import host
        from pyinfra.api import deploy
        from pyinfra.operations import files, server
        from pyinfra.operations.util import any_changed

        @deploy("Web role", data_defaults={"workers": 2})
        def web_role():
            conf = files.template(
                name="App config",
                src="templates/app.conf.j2",
                dest="@ROOT@/srv/app.conf",
                mode="640",
            )
            env = files.line(name="Env line", path="@ROOT@/srv/env", line=f"LOG={host.data.log_level}")
            server.shell(
                name="Reload app",
                commands=["echo reloaded >> @ROOT@/srv/reloads"],
                _if=any_changed(conf, env),
            )
            with host.when(conf.did_change):
                files.line(name="Config changed note", path="@ROOT@/srv/notes", line="config changed")

        web_role()
    """,
    "tasks/database.py": """
        from pyinfra.operations import server

        server.shell(name="Never here", commands=["echo db > @ROOT@/srv/db"])
    """,
    "templates/app.conf.j2": """
        # {{ host.data.app_name }}
        port = {{ host.data.app_port }}
        workers = {{ host.data.workers }}
    """,
}

CONFIG_IN_DEPLOY = {
    "deploy.py": """
        from pyinfra import config, host
        from pyinfra.api.exceptions import OperationError
        from pyinfra.operations import files, server

        config.SUDO = False
        config.IGNORE_ERRORS = True

        failing = server.shell(name="May fail", commands=["exit 3"])
        config.IGNORE_ERRORS = False

        for name in host.loop(["alpha", "beta"]):
            files.directory(name=f"Dir {name}", path=f"@ROOT@/{name}")
            files.put(name=f"File {name}", src="files/motd", dest=f"@ROOT@/{name}/motd", mode="600")

        changed = files.line(name="Line", path="@ROOT@/alpha/list", line="first")
        files.line(name="Line 2", path="@ROOT@/alpha/list", line="second", _if=changed.did_change)
        server.shell(
            name="Tolerant",
            commands=["grep -q nothing @ROOT@/alpha/list"],
            _success_exit_codes=[0, 1],
        )
        try:
            failing.did_change()
        except Exception as exc:  # not known while the deploy file runs, in both tools
            assert not isinstance(exc, OperationError) or "not known" in str(exc)
    """,
    "files/motd": """
        Welcome.
    """,
}


def _write(project: dict[str, str], directory: Path, root: Path, package: str) -> None:
    for name, source in project.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(source).lstrip("\n").replace("@ROOT@", str(root))
        # the imports only (the paths may name pyinfra too)
        path.write_text(re.sub(r"^(from|import) pyinfra\b", rf"\1 {package}", text, flags=re.M))


def _tree(root: Path) -> dict[str, tuple[str, str, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            mode = path.lstat().st_mode & 0o7777
            if path.is_dir():
                out[rel] = ("dir", "", mode)
            else:
                out[rel] = ("file", path.read_text(), mode)
    return out


def _oxinfra(directory: Path, *args: str) -> object:
    return run_cli("--json", "-y", "--no-host-lock", *args, cwd=directory, timeout=120)


@pytest.mark.parametrize("project", [ROLES, CONFIG_IN_DEPLOY], ids=["roles", "config-in-deploy"])
def test_pyinfra_style_project_runs_with_imports_changed(tmp_path: Path, project: dict[str, str]) -> None:
    ox_root = tmp_path / "ox-out"
    ox_dir = tmp_path / "ox"
    ox_root.mkdir()
    _write(project, ox_dir, ox_root, "oxinfra")
    inventory = "inventory.py" if "inventory.py" in project else "@local"
    dry = run_cli("--json", "--dry", "--no-host-lock", inventory, "deploy.py", cwd=ox_dir, timeout=120)
    assert dry.code == 0, dry.describe()
    assert list(ox_root.iterdir()) == [], "a dry run changes nothing"
    out = _oxinfra(ox_dir, inventory, "deploy.py")
    assert out.code == 0, out.describe()  # type: ignore[attr-defined]
    first = _tree(ox_root)
    assert first

    if PYINFRA.exists():
        py_root = tmp_path / "py-out"
        py_dir = tmp_path / "py"
        py_root.mkdir()
        _write(project, py_dir, py_root, "pyinfra")
        proc = subprocess.run(
            [str(PYINFRA), "-y", inventory, "deploy.py"], cwd=py_dir, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        theirs = _tree(py_root)
        assert first == theirs

    again = _oxinfra(ox_dir, inventory, "deploy.py")
    assert again.code == 0, again.describe()  # type: ignore[attr-defined]
    changed = {
        e["op"]
        for e in again.events
        if e["event"] == "operation" and e["status"] == "changed"  # type: ignore[attr-defined]
    }
    shells = {name for name in changed if name in ("Runs everywhere", "May fail", "Tolerant")}
    assert changed == shells, changed


def test_the_projects_use_no_name_oxinfra_lacks(tmp_path: Path) -> None:
    """Every ``from pyinfra... import`` of the projects resolves under oxinfra."""
    import importlib

    for project in (ROLES, CONFIG_IN_DEPLOY):
        for source in project.values():
            for module, names in re.findall(r"from (pyinfra[\w.]*) import ([\w, ]+)", source):
                found = importlib.import_module(module.replace("pyinfra", "oxinfra"))
                for name in (n.strip() for n in names.split(",")):
                    if not hasattr(found, name):  # a submodule (operations.files)
                        importlib.import_module(f"{found.__name__}.{name}")


@pytest.fixture(autouse=True)
def _clean_pyinfra_debug_log(tmp_path: Path):
    yield
    shutil.rmtree(tmp_path / "py", ignore_errors=True)
