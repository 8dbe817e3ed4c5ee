"""Facts about the server: who we are, where home is, what it runs on."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import FactBase
from oxinfra.exceptions import FactError
from oxinfra.facts.crontab import Crontab
from oxinfra.facts.server.settings import KernelModules, Locales, Mounts, SecurityLimits, Sysctl
from oxinfra.facts.server.users import Groups, Users

__all__ = [
    "User",
    "Home",
    "Os",
    "Kernel",
    "Arch",
    "Hostname",
    "Command",
    "Which",
    "Users",
    "Groups",
    "Sysctl",
    "SecurityLimits",
    "Crontab",
    "KernelModules",
    "Locales",
    "Mounts",
]

_USERNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?\Z")


class _Line(FactBase[Any]):
    shell_safe = True

    def process(self, output: list[str]) -> Any:
        return output[0].strip() if output else None


class User(_Line):
    """The name of the user commands run as."""

    def command(self) -> str:
        return "id -un"


class Home(_Line):
    """The home directory of ``user``, or of the current user when none is given; ``None``
    when there is no such user."""

    def command(self, user: str = "") -> str:
        # ~user must stay an unquoted word for the shell to expand it: validate instead.
        if user and not _USERNAME.match(user):
            raise FactError(f"not a valid user name for server.Home: {user!r}")
        return f"echo ~{user}"

    def process(self, output: list[str]) -> Any:
        home = super().process(output)
        # The shell leaves ~name as it is when there is no user of that name.
        return None if home is None or home.startswith("~") else home


class Os(_Line):
    """The operating system name as ``uname -s`` prints it (``Linux``)."""

    def command(self) -> str:
        return "uname -s"


class Kernel(Os):
    """The kernel name as ``uname -s`` prints it."""


class Arch(_Line):
    """The machine architecture as ``uname -m`` prints it (``x86_64``)."""

    def command(self) -> str:
        return "uname -m"


class Hostname(_Line):
    """The host's name as ``uname -n`` prints it."""

    def command(self) -> str:
        return "uname -n"


class Command(FactBase[Any]):
    """The output of an arbitrary command (the command is code, given by the deploy)."""

    shell_safe = False

    def command(self, command: str) -> str:
        return command


class Which(_Line):
    """The path of an executable, or ``None``."""

    #: ``command -v`` finds nothing: 1 (bash, busybox) or 127 (dash).
    absent_status = frozenset({1, 127})

    def command(self, command: str) -> str:
        from oxinfra.quoting import quote

        return f"command -v {quote(command)}"


# Facts of submodules, re-exported: the family stays ``server``.
from oxinfra.facts.server.release import (  # noqa: E402
    LinuxDistribution as LinuxDistribution,
    LinuxName as LinuxName,
    LsbRelease as LsbRelease,
    OsRelease as OsRelease,
)
from oxinfra.facts.server.processes import Port as Port, Processes as Processes  # noqa: E402
from oxinfra.facts.server.system import (  # noqa: E402
    Date as Date,
    KernelVersion as KernelVersion,
    OsVersion as OsVersion,
    Path as Path,
    RebootRequired as RebootRequired,
    Selinux as Selinux,
    Timezone as Timezone,
    TmpDir as TmpDir,
    Uptime as Uptime,
)
