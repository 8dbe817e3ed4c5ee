"""Python packages pip has installed."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import FactBase
from oxinfra.exceptions import FactError
from oxinfra.quoting import SPECIAL_BUILTINS, invoke, program_word, quote

__all__ = ["PipPackages", "Pip3Packages", "pip_command"]

#: A pip (or python) given as a name found on PATH: a plain word.
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*\Z")
_LINE = re.compile(r"([A-Za-z0-9_.+-]+)==(\S+)\Z")
#: Names the shell runs as builtins (POSIX's special ones, and dash's and bash's others)
#: whatever is on PATH: ``exec -m venv ...`` would replace or change the host's shell, not
#: run a program. A pip or python given by such a name is refused.
_BUILTINS = SPECIAL_BUILTINS | frozenset(
    "alias bg bind builtin caller cd command declare dirs disown echo enable false fc fg getopts hash help "
    "history jobs kill let local logout mapfile popd printf pushd pwd read readarray shopt source suspend "
    "test true type typeset ulimit umask unalias wait".split()
)
#: ``command -v`` found nothing / the program is not there.
_ABSENT = 10


def pip_command(what: str, program: str, *args: str) -> str:
    """``program`` (a name on PATH, or an absolute path: a value, quoted) with quoted
    arguments; anything else is refused (``what``: the argument, for the message)."""
    if isinstance(program, str) and program.startswith("/"):
        return invoke(program, *args)
    if not isinstance(program, str) or not _WORD.match(program):
        raise FactError(f"{what} must be a program name (pip, pip3) or an absolute path, not {program!r}")
    if program in _BUILTINS:
        raise FactError(
            f"{what} {program!r} is a shell builtin, not a program: name the program (pip3, python3) or its absolute path"
        )
    return " ".join([program_word(program), *(quote(a) for a in args)])


class PipPackages(FactBase[Any]):
    """The installed packages, ``{"name": ["version"]}``, as ``pip`` (a name on PATH, or the
    path of a virtualenv's pip) lists them; ``{}`` when there is no such pip. pyinfra 3.10
    runs ``pip freeze --all``, which names a package installed from a file or URL as
    ``name @ URL`` (and leaves it out here); oxinfra reads ``pip list --format=freeze``,
    which names every package with its version."""

    shell_safe = True
    absent_status = frozenset({_ABSENT})
    pip_command = "pip"

    def default(self) -> Any:
        return {}

    def command(self, pip: str | None = None) -> str:
        program = pip or self.pip_command
        listing = pip_command("pip=", program, "list", "--format=freeze", "--disable-pip-version-check")
        # `command -v` finds a name on PATH, and an absolute path when it is executable
        return f"if command -v {quote(program)} >/dev/null; then {listing}; else (exit {_ABSENT}); fi"

    def process(self, output: list[str]) -> Any:
        packages: dict[str, list[str]] = {}
        for line in output:
            found = _LINE.match(line.strip())
            if found:
                versions = packages.setdefault(found.group(1), [])
                if found.group(2) not in versions:
                    versions.append(found.group(2))
        return packages


class Pip3Packages(PipPackages):
    """Like :class:`PipPackages`, with ``pip3`` by default."""

    pip_command = "pip3"
