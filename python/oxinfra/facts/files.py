"""Facts about files on the host: existence, type, owner, mode, checksums and content matches.

The shell side is ``stat``/``readlink``/``sha*sum``/``grep``; the parsing is Rust
(:mod:`oxinfra._core`), shared with the JSON fixtures under ``tests/facts/``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from oxinfra import _core
from oxinfra.api.facts import FactBase
from oxinfra.quoting import quote, quote_interpolated

__all__ = ["File", "Directory", "Link", "Socket", "Sha1File", "Sha256File", "FindInFile"]

_STAT_FORMAT = "%F|%U|%G|%a|%s|%X|%Y|%Z"


def _datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


class File(FactBase[Any]):
    """A regular file's ``user``, ``group``, ``mode`` (e.g. ``644``), ``size`` and times.

    ``None`` if the path does not exist, ``False`` if it exists but is another type::

        {"user": "app", "group": "app", "mode": 644, "size": 5536,
         "atime": datetime(...), "mtime": datetime(...), "ctime": datetime(...)}
    """

    type = "file"
    shell_safe = True

    def command(self, path: str) -> str:  # type: ignore[override]
        p = quote(path)
        return f"stat -c '{_STAT_FORMAT}' -- {p} && {{ [ ! -L {p} ] || readlink -- {p}; }}"

    def parse(self, stdout: bytes, rc: int) -> Any:
        value = _core.parse_stat(self.type, stdout, rc)
        if isinstance(value, dict):
            for key in ("atime", "mtime", "ctime"):
                value[key] = _datetime(value[key])
        return value


class Directory(File):
    """Like :class:`File`, for a directory."""

    type = "directory"


class Link(File):
    """Like :class:`File`, for a symbolic link, with ``link_target`` added."""

    type = "link"


class Socket(File):
    """Like :class:`File`, for a unix socket."""

    type = "socket"


class _HashFile(FactBase[Any]):
    shell_safe = True
    digits = 0
    programs: tuple[str, ...] = ()

    def command(self, path: str) -> str:  # type: ignore[override]
        p = quote(path)
        tries = " || ".join(f"{prog} < {p}" for prog in self.programs)
        return f"[ -f {p} ] && {{ {tries}; }}"

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            return None
        return _core.parse_hash(stdout, self.digits)


class Sha1File(_HashFile):
    """The SHA-1 hex digest of a file, or ``None`` if it is not a file."""

    digits = 40
    programs = ("sha1sum", "shasum", "openssl sha1 -r")


class Sha256File(_HashFile):
    """The SHA-256 hex digest of a file, or ``None`` if it is not a file."""

    digits = 64
    programs = ("sha256sum", "shasum -a 256", "openssl sha256 -r")


_ABSENT_RC = 100


class FindInFile(FactBase[Any]):
    """The lines of a file matching a (grep) pattern: a list, empty if none match.

    ``None`` if the file does not exist.
    """

    shell_safe = True

    def command(  # type: ignore[override]
        self, path: str, pattern: str, interpolate_variables: bool = False, extended_regex: bool = False
    ) -> str:
        p = quote(path)
        pat = quote_interpolated(pattern) if interpolate_variables else quote(pattern)
        grep = "grep -E" if extended_regex else "grep"
        return f"if [ -f {p} ]; then {grep} -e {pat} -- {p}; [ $? -le 1 ]; else (exit {_ABSENT_RC}); fi"

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc not in (0, _ABSENT_RC):
            return None
        return _core.parse_lines(stdout, rc, _ABSENT_RC)
