"""Facts about dnf's modules (application streams) on RHEL 8+ and Fedora.

Proven by fixtures only: no dnf host can be built here. The listings are ``dnf module list
--enabled`` / ``--disabled``: one table per repository, a row ``NAME STREAM [FLAGS] PROFILES
SUMMARY`` per stream, where the stream's flags are ``[d]`` (default), ``[e]`` (enabled),
``[x]`` (disabled) and ``[a]`` (active), written apart (``16 [e]``) or together
(``8 [d][e]``); profiles carry ``[d]``/``[i]`` only. The closing ``Hint: [d]efault,
[e]nabled, ...`` line names the flags but holds none of them as a flag. Any exit status
other than 0 fails the fact (dnf exits 0, printing no row, when no module matches).
"""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import FactBase
from oxinfra.quoting import command

__all__ = ["DnfEnabledModules", "DnfDisabledModules"]


def _rows(output: list[str], flag: str) -> list[list[str]]:
    """The rows (split in words) that carry ``flag`` (``e`` or ``x``) on their stream."""
    marker = re.compile(r"\[" + flag + r"\](?![A-Za-z])")
    rows = []
    for line in output:
        words = line.split()
        if len(words) < 2 or words[1].startswith("[") or not marker.search(line):
            continue
        rows.append(words)
    return rows


class DnfEnabledModules(FactBase[Any]):
    """The enabled module streams: ``{"postgresql": "16", "nodejs": "20"}``."""

    shell_safe = True

    def command(self) -> str:
        return command("dnf", "module", "list", "--enabled")

    def default(self) -> Any:
        return {}

    def process(self, output: list[str]) -> Any:
        return {words[0]: words[1] for words in _rows(output, "e")}


class DnfDisabledModules(FactBase[Any]):
    """The disabled modules, sorted: ``["php", "ruby"]``."""

    shell_safe = True

    def command(self) -> str:
        return command("dnf", "module", "list", "--disabled")

    def default(self) -> Any:
        return []

    def process(self, output: list[str]) -> Any:
        return sorted({words[0] for words in _rows(output, "x")})
