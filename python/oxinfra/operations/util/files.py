"""Small helpers shared by operations: modes, ownership, local paths, sed scripts."""

from __future__ import annotations

import os
import posixpath
import time
from typing import Any

from oxinfra.api import current_deploy_dir
from oxinfra.exceptions import OperationValueError
from oxinfra.quoting import command, quote, quote_interpolated

__all__ = [
    "parse_mode", "creation_umask", "mode_commands", "owner_commands", "local_path", "parent_dir",
    "sed_replace", "sed_delete", "backup_or_remove", "escape_sed",
]


def parse_mode(mode: Any) -> int | None:
    """``644``, ``"644"``, ``"0644"`` → 644 (octal digits read as decimal, as facts report)."""
    if mode is None:
        return None
    text = str(mode).strip()
    if isinstance(mode, bool) or not text.isdigit() or any(c in "89" for c in text) or len(text.lstrip("0")) > 4:
        raise OperationValueError(f"mode must be octal digits such as 644 or '0755', not {mode!r}")
    return int(text.lstrip("0") or "0")


def creation_umask(mode: int | None) -> str | None:
    """The umask (octal text) under which a file created by the shell (with 666) gets exactly
    ``mode``, or None when it cannot: no mode asked for, or one with execute or special bits
    (those need ``chmod``). Creating under a umask costs no process; chmod costs one."""
    if mode is None:
        return None
    bits = int(str(mode), 8)
    if bits & ~0o666:
        return None
    return f"{0o777 & ~bits:03o}"


def mode_commands(path: str, mode: int | None, current: dict[str, Any] | None, recursive: bool = False) -> list[str]:
    if mode is None or (current is not None and current.get("mode") == mode):
        return []
    flags = ["-R"] if recursive else []
    return [command("chmod", *flags, f"{mode:03d}", "--", path)]


def owner_commands(
    path: str, user: str | None, group: str | None, current: dict[str, Any] | None,
    recursive: bool = False, link: bool = False,
) -> list[str]:
    want_user = user if user and (current is None or current.get("user") != user) else None
    want_group = group if group and (current is None or current.get("group") != group) else None
    if not want_user and not want_group:
        return []
    flags = (["-R"] if recursive else []) + (["-h"] if link else [])
    if want_user:
        spec = f"{user}:{group}" if group else user
        return [command("chown", *flags, spec, "--", path)]
    return [command("chgrp", *flags, group, "--", path)]


def local_path(src: str, add_deploy_dir: bool = True) -> str:
    """A local file named relative to the deploy file's directory (then the working dir)."""
    if os.path.isabs(src) or not add_deploy_dir:
        return src
    base = current_deploy_dir()
    if base:
        candidate = os.path.join(base, src)
        if os.path.exists(candidate) or not os.path.exists(src):
            return candidate
    return src


def parent_dir(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) or "/"


def backup_or_remove(path: str, backup: bool, backup_dir: str | None) -> str:
    if not backup:
        return command("rm", "-rf", "--", path)
    stamp = time.strftime("%Y%m%d%H%M%S")
    name = f"{posixpath.basename(path.rstrip('/'))}.{stamp}"
    target = posixpath.join(backup_dir, name) if backup_dir else f"{path.rstrip('/')}.{stamp}"
    return command("mv", "--", path, target)


def escape_sed(text: str, delimiter: str = "/") -> str:
    """Escape the delimiter (and newlines) for use inside an s/// or /re/ sed expression."""
    return text.replace(delimiter, "\\" + delimiter).replace("\n", "\\n")


def _sed(script: str, path: str, interpolate: bool, backup: bool) -> str:
    quoted = quote_interpolated(script) if interpolate else quote(script)
    backup_cmd = ""
    if backup:
        backup_cmd = command("cp", "-p", "--", path, f"{path}.{time.strftime('%Y%m%d%H%M%S')}") + " && "
    return f"{backup_cmd}sed -i -e {quoted} -- {quote(path)}"


def sed_replace(path: str, pattern: str, replacement: str, flags: str = "", interpolate: bool = False,
                backup: bool = False) -> str:
    return _sed(f"s/{escape_sed(pattern)}/{escape_sed(replacement)}/{flags}", path, interpolate, backup)


def sed_delete(path: str, pattern: str, interpolate: bool = False, backup: bool = False) -> str:
    return _sed(f"/{escape_sed(pattern)}/d", path, interpolate, backup)
