"""Python packages with pip, and virtualenvs."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation, touches
from oxinfra.exceptions import FactError, OperationValueError
from oxinfra.facts.files import Directory, File
from oxinfra.facts.pip import PipPackages, pip_command
from oxinfra.operations import files
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.files import check_path
from oxinfra.operations.util.packaging import (
    PackageManager,
    check_packages,
    ensure_packages,
    option_words,
    pep440_release,
    pep503_name,
)
from oxinfra.quoting import path_operand

__all__ = ["virtualenv", "venv", "packages"]

#: A PEP 508 name, optionally ``==VERSION``.
_SPEC = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:==([A-Za-z0-9.+!_-]+))?\Z")


def _program(op: str, key: str, value: str, *args: str) -> str:
    try:
        return pip_command(op + ": " + key + "=", value, *args)
    except FactError as exc:
        raise OperationValueError(str(exc)) from None


def _venv_path(op: str, path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") == "":
        raise OperationValueError(f"{op}: the virtualenv's path must be an absolute directory path, not {path!r}")
    check_path(path)
    return path.rstrip("/")


@operation()
def virtualenv(
    path: str,
    python: str | None = None,
    venv: bool = False,
    site_packages: bool = False,
    always_copy: bool = False,
    present: bool = True,
) -> OperationGenerator:
    """Create or remove a Python virtualenv (with ``virtualenv``, or ``python -m venv``).

    A virtualenv counts as there when ``PATH/bin/activate`` is a file (an empty directory
    is not one).

    + path: the virtualenv's directory (absolute)
    + python: the interpreter (a name on PATH or an absolute path): ``virtualenv -p``, or
      the one that runs ``-m venv``
    + venv: use the standard library's ``venv`` instead of ``virtualenv``
    + site_packages: give it the system's site-packages (``--system-site-packages``)
    + always_copy: copy files instead of linking them (``--always-copy`` / ``--copies``)
    + present: whether it should exist (False: the directory is removed)

    Example::

        pip.virtualenv(name="App env", path="/srv/app/venv", venv=True, python="python3")
    """
    op = "pip.virtualenv"
    path = _venv_path(op, path)
    check_flags(op, venv=venv, site_packages=site_packages, always_copy=always_copy, present=present)
    if python is not None:
        _program(op, "python", python)
    activate = path + "/bin/activate"
    facts: list[tuple[Any, dict[str, Any]]] = [(File, {"path": activate})]
    if not present:
        facts.append((Directory, {"path": path}))  # files.directory's own fact, read in this batch
    made, *_ = get_facts(host, facts)
    if not present:
        if made:
            yield from files.directory._inner(path, present=False)
        else:
            noop(f"virtualenv {path} does not exist")
        return
    touches(path, ancestors=True, subtree=True)
    if made:
        noop(f"virtualenv {path} exists")
        return
    options = (["--system-site-packages"] if site_packages else []) + (
        (["--copies"] if venv else ["--always-copy"]) if always_copy else []
    )
    if venv:
        yield _program(op, "python", python or "python3", "-m", "venv", *options, "--", path)
    else:
        yield _program(op, "virtualenv", "virtualenv", *(["-p", python] if python else []), *options, "--", path)


_virtualenv = virtualenv._inner  # pip.packages' argument virtualenv= hides the operation's name


@operation()
def venv(
    path: str,
    python: str | None = None,
    site_packages: bool = False,
    always_copy: bool = False,
    present: bool = True,
) -> OperationGenerator:
    """Create or remove a virtualenv with the standard library's ``venv``
    (``pip.virtualenv(venv=True)``).

    + path: the virtualenv's directory (absolute)
    + python: the interpreter that runs ``-m venv`` (default ``python3``)
    + site_packages: give it the system's site-packages
    + always_copy: copy files instead of linking them (``--copies``)
    + present: whether it should exist

    Example::

        pip.venv(name="App env", path="/srv/app/venv")
    """
    yield from _virtualenv(
        path=path, python=python, venv=True, site_packages=site_packages, always_copy=always_copy, present=present
    )


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    requirements: str | None = None,
    pip: str = "pip",
    virtualenv: str | None = None,
    virtualenv_kwargs: dict[str, Any] | None = None,
    extra_install_args: str | None = None,
) -> OperationGenerator:
    """Install or remove Python packages with pip, optionally in a virtualenv (made first).

    Names compare as pip compares them (case and ``-_.`` alike); ``name==version`` pins one
    version. ``requirements`` runs ``pip install -r FILE`` (``uninstall -r`` when not
    ``present``) every time: oxinfra cannot tell what it would change.

    + packages: names, or ``name==version``
    + present: whether they should be installed
    + latest: upgrade installed packages asked for without a version (runs every time)
    + requirements: a requirements file on the host
    + pip: the pip to run (a name on PATH, or an absolute path); with ``virtualenv``, the
      name of the pip in its ``bin``
    + virtualenv: a virtualenv (created when missing, ``pip.virtualenv``) to install into
    + virtualenv_kwargs: arguments for ``pip.virtualenv`` (``{"venv": True}``)
    + extra_install_args: more options for ``pip install`` (``"--no-index --find-links
      /srv/wheels"``), each one argument

    Example::

        pip.packages(name="App deps", packages=["requests==2.32.3", "gunicorn"], virtualenv="/srv/app/venv",
                     virtualenv_kwargs={"venv": True})
    """
    op = "pip.packages"
    check_flags(op, present=present, latest=latest)
    if isinstance(packages, str):
        packages = [packages]
    if packages is not None and not isinstance(packages, (list, tuple)):
        raise OperationValueError(f"{op}: packages= must be a name or a list of names, not {packages!r}")
    wanted: list[str | tuple[str, str]] = []
    for item in packages or []:
        found = _SPEC.match(item) if isinstance(item, str) else None
        if found is None:
            raise OperationValueError(f"{op}: a package is NAME or NAME==VERSION, not {item!r}")
        wanted.append((found.group(1), found.group(2)) if found.group(2) else found.group(1))
    if requirements is not None and (not isinstance(requirements, str) or not requirements):
        raise OperationValueError(f"{op}: requirements= must be a file path, not {requirements!r}")
    extra = option_words(op, "extra_install_args", extra_install_args)
    if virtualenv_kwargs is not None and not isinstance(virtualenv_kwargs, dict):
        raise OperationValueError(f"{op}: virtualenv_kwargs= must be a dict, not {virtualenv_kwargs!r}")
    unknown = sorted(set(virtualenv_kwargs or {}) - {"python", "venv", "site_packages", "always_copy"})
    if unknown:
        raise OperationValueError(
            f"{op}: virtualenv_kwargs= takes python, venv, site_packages and always_copy, not {', '.join(unknown)}"
        )
    if not isinstance(pip, str) or not pip:
        raise OperationValueError(f"{op}: pip= must be a program name or path, not {pip!r}")
    env_path = None
    if virtualenv is not None:
        env_path = _venv_path(op, virtualenv)
        if "/" in pip or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", pip):
            raise OperationValueError(f"{op}: with virtualenv=, pip= is the name of the pip in its bin, not {pip!r}")
        pip = posixpath.join(env_path, "bin", pip)
    _program(op, "pip", pip)
    # a name on PATH is the command word; an absolute path is a value, run quoted (path=)
    word = "pip" if pip.startswith("/") else pip
    manager = PackageManager(
        install=(word, "install", *extra),
        uninstall=(word, "uninstall", "--yes"),
        upgrade=(word, "install", *extra, "--upgrade"),
        version_join="==",
        normalise=pep503_name,
        same_version=pep440_release,
        tool="pip",
        path=pip if pip.startswith("/") else None,
    )
    check_packages(manager, wanted)

    facts: list[tuple[Any, dict[str, Any]]] = [(PipPackages, {"pip": pip})] if wanted else []
    if env_path is not None:  # pip.virtualenv's own fact, read in this batch
        facts.append((File, {"path": env_path + "/bin/activate"}))
    current = get_facts(host, facts)[0] if facts else {}
    if env_path is not None:
        yield from _virtualenv(env_path, **(virtualenv_kwargs or {}))
    if requirements is not None:
        if present:
            words = manager.upgrade if latest else manager.install
        else:
            words = manager.uninstall
        assert words is not None
        yield _program(op, "pip", pip, *words[1:], "-r", path_operand(requirements))
    if wanted:
        yield from ensure_packages(manager, wanted, current or {}, present=present, latest=latest)
