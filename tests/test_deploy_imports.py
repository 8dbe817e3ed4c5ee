"""Modules a deploy imports from beside it (``import helpers``) belong to that run: a second
run in the same process -- a library caller's -- imports its own deploy's helpers afresh,
not the module an earlier run left in ``sys.modules``. What the application imported itself
stays as it was."""

from __future__ import annotations

import sys
from pathlib import Path

from oxinfra.api import Inventory, run

DEPLOY = """
from oxinfra.operations import server
import @MODULE@ as helpers
server.shell(name="say", commands=["echo " + helpers.VALUE])
"""


def _said(deploy: Path) -> str:
    result = run(Inventory.from_hosts(["@local"]), str(deploy))
    assert result.success, result.hosts
    return result.hosts["@local"].ops[0].stdout


def _project(directory: Path, value: str, module: str = "helpers") -> Path:
    directory.mkdir(exist_ok=True)
    (directory / f"{module}.py").write_text(f"VALUE = {value!r}\n")
    deploy = directory / "deploy.py"
    deploy.write_text(DEPLOY.replace("@MODULE@", module))
    return deploy


def test_each_run_imports_its_own_deploys_helpers(tmp_path: Path) -> None:
    first = _project(tmp_path / "a", "from-a")
    second = _project(tmp_path / "b", "from-b")
    try:
        assert _said(first) == "from-a\n"
        assert _said(second) == "from-b\n"  # not a's helpers, which have the same name
        (tmp_path / "b" / "helpers.py").write_text("VALUE = 'changed since'\n")
        assert _said(second) == "changed since\n"
        assert "helpers" not in sys.modules
    finally:
        sys.modules.pop("helpers", None)


def test_modules_the_application_imported_itself_stay(tmp_path: Path) -> None:
    deploy = _project(tmp_path / "app", "mine", module="app_helpers_7f3a")
    sys.path.insert(0, str(tmp_path / "app"))
    try:
        import app_helpers_7f3a  # type: ignore[import-not-found]

        assert _said(deploy) == "mine\n"
        assert sys.modules["app_helpers_7f3a"] is app_helpers_7f3a
    finally:
        sys.path.remove(str(tmp_path / "app"))
        sys.modules.pop("app_helpers_7f3a", None)


def test_packages_beside_the_deploy_go_and_libraries_below_it_stay(tmp_path: Path) -> None:
    """A package beside the deploy leaves with its submodules; a library first imported by
    the run from deeper in the project (a virtualenv's site-packages inside it, on sys.path
    as the application's own) stays: importing it again would make a second copy of it."""
    project = tmp_path / "project"
    (project / "tasks_pkg_5c1d").mkdir(parents=True)
    (project / "tasks_pkg_5c1d" / "__init__.py").write_text("")
    (project / "tasks_pkg_5c1d" / "words.py").write_text("VALUE = 'pkg'\n")
    site = project / ".venv" / "site-packages"
    site.mkdir(parents=True)
    (site / "deeplib_5c1d.py").write_text("VALUE = 'lib'\n")
    deploy = project / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import server\n"
        "from tasks_pkg_5c1d import words\n"
        "import deeplib_5c1d\n"
        "server.shell(name='say', commands=['echo ' + words.VALUE + deeplib_5c1d.VALUE])\n"
    )
    sys.path.insert(0, str(site))
    try:
        assert _said(deploy) == "pkglib\n"
        assert "tasks_pkg_5c1d" not in sys.modules and "tasks_pkg_5c1d.words" not in sys.modules
        assert "deeplib_5c1d" in sys.modules
    finally:
        sys.path.remove(str(site))
        for name in ("tasks_pkg_5c1d", "tasks_pkg_5c1d.words", "deeplib_5c1d"):
            sys.modules.pop(name, None)
