"""Defaults of command-line options from ``oxinfra.toml`` or the ``[tool.oxinfra]`` table of
``pyproject.toml`` in the working directory (after ``--chdir``)::

    # oxinfra.toml
    parallel = 20
    fail_percent = 10
    ssh_user = "deploy"
    sudo = true
    data = { env = "staging", workers = 4 }

Which wins, first to last: the command line, the option's environment variable
(``OXINFRA_SHARDS``...), ``oxinfra.toml``, ``[tool.oxinfra]``, ``config.py``
(``config.PARALLEL``, ``config.FAIL_PERCENT``, the global arguments it sets), the built-in
default. The settings files are declarative and oxinfra's own, so they sit above pyinfra's
``config.py``, whose Python can only be more specific to one deploy; a key set in both
``oxinfra.toml`` and ``pyproject.toml`` takes ``oxinfra.toml``'s value. ``data`` and
``group_data`` add up with the command line's ``--data`` / ``--group-data``, which win (a
``--data`` key replaces the file's value of that key; a ``--group-data`` directory is read
after the file's).

Keys are the long options' names, ``_`` or ``-`` alike (:data:`SETTINGS`). What decides what a
run does to which hosts right now -- ``yes``, ``dry``, ``limit``, ``exclude``,
``retry_failed`` -- and passwords (files on disk are where secrets leak) are refused with the
reason. An unknown key, a value of the wrong type or a file that is not TOML is one line
naming the file, the key and what is valid, exit code 2, before anything runs.
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import Any

import click

__all__ = ["SETTINGS", "read_settings"]

#: Setting -> the option's parameter name.
SETTINGS = {
    "config": "config_file",
    "data": "data",
    "fail_percent": "fail_percent",
    "group_data": "group_data",
    "host_timeout": "host_timeout",
    "lock_timeout": "lock_timeout",
    "parallel": "parallel",
    "round_trip_timeout": "round_trip_timeout",
    "serial": "serial",
    "shards": "shards",
    "ssh_config": "ssh_config",
    "ssh_key": "ssh_key",
    "ssh_port": "ssh_port",
    "ssh_user": "ssh_user",
    "state_file": "state_file",
    "su_user": "su_user",
    "sudo": "sudo",
    "sudo_user": "sudo_user",
}

_REFUSED = {
    "yes": "whether to execute without asking is decided on the command line (-y)",
    "dry": "a dry run is asked for on the command line (--dry)",
    "limit": "the hosts a run touches are chosen on its command line (--limit)",
    "exclude": "the hosts a run touches are chosen on its command line (--exclude)",
    "retry_failed": "retrying is asked for on the command line (--retry-failed)",
    "chdir": "the settings are read from the directory --chdir names",
    "sudo_password": "passwords are never read from files: OXINFRA_SUDO_PASSWORD or --ask-sudo-password",
    "ssh_password": "passwords are never read from files: OXINFRA_SSH_PASSWORD or --ssh-password-prompt",
    "ssh_key_password": "passwords are never read from files: OXINFRA_SSH_KEY_PASSWORD or --ask-ssh-key-password",
}


class SettingsError(Exception):
    """One line: the file, the key and what is valid."""


def _table(directory: str) -> list[tuple[str, dict[str, Any]]]:
    """(file name, its settings), lowest precedence first."""
    found = []
    for name, section in (("pyproject.toml", ("tool", "oxinfra")), ("oxinfra.toml", ())):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                table: Any = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{name}: not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:  # TOML is UTF-8
            raise SettingsError(f"{name}: not UTF-8 ({_where_bytes(path, exc.start)}): save it as UTF-8") from None
        except OSError as exc:
            raise SettingsError(f"{name}: cannot read it: {exc.strerror or exc}") from None
        where = name
        for key in section:
            table = table.get(key, {}) if isinstance(table, dict) else {}
            where = f"{name} [tool.oxinfra]"
        if not isinstance(table, dict):
            raise SettingsError(f"{where}: must be a table of settings")
        if table:
            found.append((where, table))
    return found


def _where_bytes(path: str, offset: int) -> str:
    """``line N`` of the byte at ``offset`` of the file at ``path``."""
    try:
        with open(path, "rb") as handle:
            line = handle.read(offset).count(b"\n") + 1
    except OSError:
        return f"byte {offset}"
    return f"line {line}"


def _value(where: str, key: str, value: Any, param: click.Option, ctx: click.Context) -> Any:
    def bad(what: str) -> SettingsError:
        return SettingsError(f"{where}: {key} = {value!r}: {what}")

    if key == "data":
        if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier() for k in value):
            raise bad("must be a table of host data, { NAME = VALUE, ... } with NAME a Python identifier")
        return [f"{k}={json.dumps(v, default=str)}" for k, v in value.items()]
    if param.multiple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            raise bad("must be a text or a list of texts")
        return items
    if param.is_flag:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if isinstance(param.type, (click.types.StringParamType, click.Path)):
        if not isinstance(value, str) or not value:
            raise bad("must be a non-empty text")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad("must be a number")
    try:
        return param.type.convert(value, param, None)
    except click.BadParameter as exc:
        raise bad(exc.message.rstrip(".")) from None


def read_settings(command: click.Command, ctx: click.Context, directory: str) -> dict[str, Any]:
    """The option defaults the settings files in ``directory`` give (a click ``default_map``);
    :class:`SettingsError` for bad ones."""
    params = {p.name: p for p in command.params if isinstance(p, click.Option)}
    defaults: dict[str, Any] = {}
    for where, table in _table(directory):
        for raw_key, value in table.items():
            key = str(raw_key).replace("-", "_")
            if key in _REFUSED:
                raise SettingsError(f"{where}: {raw_key} is not a setting: {_REFUSED[key]}")
            name = SETTINGS.get(key)
            if name is None:
                raise SettingsError(f"{where}: unknown key {raw_key!r} (settings: {', '.join(SETTINGS)})")
            defaults[name] = _value(where, raw_key, value, params[name], ctx)
    return defaults
