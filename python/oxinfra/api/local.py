"""``oxinfra.local``: pyinfra 3's ``local.include`` and ``local.shell`` for deploy code.

``local.include(path, data=...)`` runs another deploy file as part of this one, for the
host being evaluated: its operations are recorded where the include is called (their call
sites are the chain of both files' lines), ``data`` is the lowest layer of ``host.data``
while it runs (like ``@deploy(data_defaults=...)``), and what it sets in ``config`` is
undone when it ends. A relative path is found as pyinfra finds it -- ``./x.py`` beside the
including file, anything else from the working directory -- and, when it is not there,
beside the including file (oxinfra's rule for every local path of a deploy).

``local.shell(commands)`` runs commands on the controller (``sh -c``) and returns their
output. Deploy code runs once per host (or once per distinct host data, and again after
facts it reads are gathered: docs/architecture.md), so these commands may run more than
once: keep them free of side effects.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from oxinfra.api.context import current_data_defaults, current_deploy_dir, current_recorder, scope
from oxinfra.exceptions import DeployError

__all__ = ["include", "shell"]

# path -> (mtime_ns, size, code): an included file is compiled once per run, not per host.
_COMPILED: dict[str, tuple[int, int, Any]] = {}


def _find(filename: str) -> str:
    if not isinstance(filename, (str, os.PathLike)):
        raise DeployError(f"local.include() takes a file path, not {type(filename).__name__}")
    filename = os.fspath(filename)
    if os.path.isabs(filename):
        return filename
    here = current_deploy_dir() or os.getcwd()
    if filename.startswith("./"):
        return os.path.join(here, filename)
    from_cwd = os.path.join(os.getcwd(), filename)
    if os.path.exists(from_cwd):
        return from_cwd
    return os.path.join(here, filename)


def _compiled(path: str) -> Any:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise DeployError(f"local.include: no file {path}") from None
    except OSError as exc:
        raise DeployError(f"local.include: cannot read {path}: {exc.strerror}") from None
    found = _COMPILED.get(path)
    if found is not None and found[:2] == (stat.st_mtime_ns, stat.st_size):
        return found[2]
    try:
        with open(path, "rb") as handle:
            code = compile(handle.read(), path, "exec")
    except SyntaxError as exc:
        raise DeployError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except OSError as exc:
        raise DeployError(f"local.include: cannot read {path}: {exc.strerror}") from None
    _COMPILED[path] = (stat.st_mtime_ns, stat.st_size, code)
    return code


def include(filename: str, data: dict[str, Any] | None = None) -> None:
    """Run the deploy file ``filename`` here, for the host being evaluated."""
    recorder = current_recorder()
    if recorder is None:
        raise DeployError("local.include() is for deploy code: run the file with the oxinfra CLI or oxinfra.api.run()")
    if data is not None and not isinstance(data, dict):
        raise DeployError(f"local.include(data=...) takes a dict, not {type(data).__name__}")
    path = os.path.abspath(_find(filename))
    code = _compiled(path)
    layers = (data, *current_data_defaults()) if data else current_data_defaults()
    saved = recorder.config.values()
    try:
        with scope(deploy_dir=os.path.dirname(path), data_defaults=layers):
            exec(code, {"__name__": "__oxinfra_deploy__", "__file__": path})
    finally:
        recorder.restore_config(saved)


def shell(
    commands: str | list[str],
    splitlines: bool = False,
    ignore_errors: bool = False,
    print_output: bool = False,
    print_input: bool = False,
) -> Any:
    """Run ``commands`` (one or a list) on the controller, one ``sh -c`` each, in order;
    return their stdout joined (``splitlines=True``: as a list of lines). A command that
    fails raises DeployError with its stderr, unless ``ignore_errors``."""
    if isinstance(commands, str):
        commands = [commands]
    lines: list[str] = []
    for command in commands:
        if not isinstance(command, str):
            raise DeployError(f"local.shell() takes command strings, not {type(command).__name__}")
        if print_input:
            print(f"localhost: >>> {command}")
        proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if print_output and proc.stdout:
            print("".join(f"localhost: {line}\n" for line in proc.stdout.splitlines()), end="")
        if proc.returncode != 0 and not ignore_errors:
            detail = " ".join(proc.stderr.split())[-400:]
            raise DeployError(
                f"local command failed (exit {proc.returncode}): {command}" + (f": {detail}" if detail else "")
            )
        lines.extend(proc.stdout.splitlines())
    return lines if splitlines else "\n".join(lines)
