"""Python inventories: inventory files, ``module:function`` callables and group_data files.

An inventory file is run as Python; each public module-level list or tuple is a group,
in the order the file first assigns them::

    web = ["web[01:20].example.com", ("web-canary", {"canary": True})]
    db = (["db[a:c]"], {"ssh_user": "postgres"})     # (entries, group data)
    all = ([], {"ssh_port": 22})                     # data for every host

A callable named ``module:function`` returns a mapping of the same shape,
``{"web": [...], "db": ([...], {...})}``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
import types
from typing import Any, Mapping

from oxinfra.exceptions import InventoryError, exit_called
from oxinfra.inventory.source import GroupSpec, InventorySource

__all__ = ["read_python_file", "read_dynamic", "load_group_data"]

_ENTRY_HELP = 'write "host" or ("host", {data})'


def _run_file(path: str, run_name: str, what: str) -> dict[str, Any]:
    """Run a Python file; errors name file:line, say what failed and how to fix it."""
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        code = compile(source, path, "exec")
    except OSError as exc:
        raise InventoryError(f"cannot read {what} {path}: {exc.strerror}") from None
    except SyntaxError as exc:
        raise InventoryError(f"{path}:{exc.lineno}: syntax error in {what}: {exc.msg}; fix the file") from None
    namespace: dict[str, Any] = {"__name__": run_name, "__file__": path}
    try:
        exec(code, namespace)
    except SystemExit as exc:
        raise InventoryError(f"{_where(exc, path)}: {exit_called(exc, f'while the {what} was loaded')}") from None
    except Exception as exc:
        raise InventoryError(
            f"{_where(exc, path)}: {what} failed to load: {type(exc).__name__}: {exc}; fix the file"
        ) from None
    return namespace


def _where(exc: BaseException, path: str) -> str:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return f"{path}:{line}" if line else path


def _user_frame(exc: BaseException, default: str) -> str:
    """file:line of the innermost frame of ``exc`` outside importlib (the user's code)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    return f"{os.path.relpath(frames[-1].filename)}:{frames[-1].lineno}" if frames else default


def _assignment_lines(source: str) -> dict[str, int]:
    """Line of the first top-level assignment of each name (a cheap scan, no AST)."""
    lines: dict[str, int] = {}
    line, counted = 1, 0
    for match in re.finditer(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)", source, re.M):
        line += source.count("\n", counted, match.start())
        counted = match.start()
        lines.setdefault(match.group(1), line)
    return lines


def read_python_file(path: str) -> InventorySource:
    namespace = _run_file(path, "__oxinfra_inventory__", "inventory")
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = _assignment_lines(handle.read())

    def origin(name: str) -> str:
        line = lines.get(name)
        return f"{path}:{line}: group {name!r}" if line else f"{path}: group {name!r}"

    groups = groups_from_mapping(namespace, origin)
    if not any(g.patterns for g in groups):
        raise InventoryError(f'{path} defines no hosts: add a module-level list such as web = ["host1"]')
    file_group = os.path.splitext(os.path.basename(path))[0]
    if file_group not in {g.name for g in groups} and file_group.isidentifier():
        groups.insert(0, GroupSpec(file_group, f"{path}: group {file_group!r} (the file's own group)", None))
    return InventorySource(path, groups, os.path.dirname(os.path.abspath(path)))


def read_dynamic(spec: str) -> InventorySource:
    """``module:function``: import the module (the current directory first on the path) and
    call the function; it returns ``{group: entries}`` like an inventory file's groups."""
    module_name, _, func_name = spec.partition(":")
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InventoryError(
            f"dynamic inventory {spec}: cannot import {module_name!r} ({exc}); "
            "run from the directory holding it or put it on PYTHONPATH"
        ) from None
    except SyntaxError as exc:
        raise InventoryError(
            f"{exc.filename}:{exc.lineno}: syntax error in dynamic inventory {spec}: {exc.msg}"
        ) from None
    except (Exception, SystemExit) as exc:
        where = _user_frame(exc, module_name)
        if isinstance(exc, SystemExit):
            raise InventoryError(
                f"{where}: {exit_called(exc, f'while dynamic inventory {spec} was imported')}"
            ) from None
        raise InventoryError(
            f"{where}: dynamic inventory {spec} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    func = getattr(module, func_name, None)
    if not callable(func):
        raise InventoryError(f"dynamic inventory {spec}: {module_name} has no function {func_name!r}")
    try:
        result = func()
    except SystemExit as exc:
        where = _user_frame(exc, spec)
        raise InventoryError(f"{where}: {exit_called(exc, f'by dynamic inventory {spec}')}") from None
    except Exception as exc:
        raise InventoryError(f"dynamic inventory {spec}: {func_name}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(result, Mapping):
        raise InventoryError(
            f"dynamic inventory {spec}: {func_name}() returned {type(result).__name__}; "
            'return a dict of groups, e.g. {"web": ["web1", "web2"]}'
        )
    groups = groups_from_mapping(result, lambda name: f"{spec}: group {name!r}", strict=True)
    if not any(g.patterns for g in groups):
        raise InventoryError(f"dynamic inventory {spec}: {func_name}() returned no hosts")
    return InventorySource(spec, groups)


def groups_from_mapping(values: Mapping[str, Any], origin: Any, strict: bool = False) -> list[GroupSpec]:
    """Groups from a namespace: lists/tuples of entries, or (entries, data) pairs.

    Other values are not groups (skipped, or an error when ``strict``): a list that holds no
    host at all (``ports = [22, 80]`` beside the groups of an inventory file). A list that
    holds one is a group, and each of its entries must be a host: one that is not is an
    error naming it, never a group that silently disappears."""
    groups: list[GroupSpec] = []
    for name, value in values.items():
        if not isinstance(name, str):
            if strict:
                raise InventoryError(
                    f"{origin(name)}: a group name must be a string, not {type(name).__name__}; "
                    'name each group with a string, e.g. {"web": ["web1"]}'
                )
            continue
        if name.startswith("_"):
            continue
        parsed = _group_value(value)
        if parsed is None:
            if strict:
                raise InventoryError(
                    f"{origin(name)}: {type(value).__name__} is not a group; write a list of entries "
                    "or (entries, {group data})"
                )
            continue
        entries, data = parsed
        where = origin(name)
        if not isinstance(data, dict):
            raise InventoryError(
                f"{where}: group data {data!r} is not a dict: write (entries, {{group data}}) or a list of entries"
            )
        patterns: list[str] = []
        host_data: list[dict[str, Any] | None] = []
        for entry in entries:
            if type(entry) is str:
                patterns.append(entry)
                host_data.append(None)
            elif _is_host_with_data(entry):
                patterns.append(entry[0])
                host_data.append(entry[1])
            else:
                raise InventoryError(f"{where}: entry {entry!r} is not a host: {_ENTRY_HELP}")
        any_data = any(d is not None for d in host_data)
        groups.append(GroupSpec(name, where, patterns, host_data if any_data else None, data=data))
    return groups


def _is_host_with_data(entry: Any) -> bool:
    return isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], dict)


def _holds_a_host(entries: Any) -> bool:
    return isinstance(entries, (list, tuple)) and any(type(e) is str or _is_host_with_data(e) for e in entries)


def _group_value(value: Any) -> tuple[list[Any], Any] | None:
    """A group value as (entries, group data), or None when the value is not a group. The
    data is what the value gives (a dict unless the value is wrong: the caller says so)."""
    if not isinstance(value, (list, tuple)):
        return None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (list, tuple)):
        if isinstance(value[1], dict) or _holds_a_host(value[0]):
            return list(value[0]), value[1]  # (entries, data)
    if _is_host_with_data(value):
        return None  # a lone ("host", {data}) tuple is not a group
    if not value or all(isinstance(e, (str, tuple)) for e in value) or _holds_a_host(value):
        return list(value), {}
    return None


def load_group_data(path: str) -> dict[str, Any]:
    """A group_data file's public module-level values (modules, functions, classes left out)."""
    namespace = _run_file(path, "__oxinfra_group_data__", "group data file")
    return {
        key: value
        for key, value in namespace.items()
        if not key.startswith("_") and not isinstance(value, (types.ModuleType, types.FunctionType, type))
    }
