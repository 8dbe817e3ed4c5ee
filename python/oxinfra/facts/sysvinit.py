"""Facts about SysV init scripts (``/etc/init.d``)."""

from __future__ import annotations

import re

from oxinfra.api import FactBase
from oxinfra.exceptions import FactError
from oxinfra.quoting import command, invoke, quote

__all__ = ["InitdStatus", "InitdScriptStatus", "InitdStartLinks"]

# Every script with an LSB header is asked for its status, stdin closed (the host's shell
# reads this very script from its stdin: a status script that read it would eat the rest).
# The loop always ends with status 0: a script's status is its output, not the fact's.
_STATUS_SCRIPT = (
    "for s in /etc/init.d/*; do "
    'if [ -f "$s" ] && grep -q \'### BEGIN INIT INFO\' "$s" 2>/dev/null; then '
    '"$s" status </dev/null >/dev/null 2>&1; echo "${s##*/}=$?"; '
    "fi; done; true"
)
_LINE = re.compile(r"([a-zA-Z0-9\-]+)=([0-9]+)")


class InitdStatus(FactBase[dict[str, "bool | None"]]):
    """Whether each ``/etc/init.d`` script with an LSB header reports its service running:
    ``{"cron": True, "ssh": False}``, from ``/etc/init.d/NAME status`` -- exit 0: True; 1 to 3
    (LSB: dead, or not running): False; anything else (unknown, or no ``status``): None. As
    pyinfra 3, only names of letters, digits and ``-`` are listed (``hwclock.sh`` is not).

    Every script's ``status`` runs on each read, as in pyinfra; scripts whose ``status``
    does more than report are the script's problem, not the fact's.
    """

    shell_safe = False  # the loop assigns a variable: it runs in a subshell

    def command(self) -> str:
        return _STATUS_SCRIPT

    def default(self) -> dict[str, bool | None]:
        return {}

    def process(self, output: list[str]) -> dict[str, bool | None]:
        services: dict[str, bool | None] = {}
        for line in output:
            found = _LINE.match(line)
            if found:
                status = int(found.group(2))
                services[found.group(1)] = True if status == 0 else False if status < 4 else None
        return services


class InitdScriptStatus(FactBase["bool | None"]):
    """Whether ``/etc/init.d/SERVICE status`` reports the service running: exit 0: True; 1 to
    3 (LSB: dead, or not running): False; anything else (unknown, or no ``status``): None;
    None too when there is no such script. Any script, whatever its name or header (the one
    ``sysvinit.service`` manages): ``sysvinit.InitdStatus`` lists only names of letters,
    digits and ``-`` with an LSB header, as pyinfra's does (``php8.2-fpm`` is not there).

    oxinfra's own. + service: the script's name in ``/etc/init.d``
    """

    shell_safe = True  # the script runs as a process

    def command(self, service: str) -> str:
        if not isinstance(service, str) or not service or "/" in service or service in (".", ".."):
            raise FactError(f"{service!r} is not an init script name (it cannot be empty, '.', '..' or hold a '/')")
        script = invoke("/etc/init.d/" + service, "status")
        # stdin closed: the host's shell reads this very script from its stdin
        return f"if [ -f {quote('/etc/init.d/' + service)} ]; then {script} </dev/null >/dev/null 2>&1; echo $?; fi"

    def default(self) -> None:
        return None

    def process(self, output: list[str]) -> bool | None:
        text = "".join(output).strip()
        if not text.isdigit():
            return None
        status = int(text)
        return True if status == 0 else False if status < 4 else None


class InitdStartLinks(FactBase[list[str]]):
    """The start links of the script ``/etc/init.d/SERVICE``: the symbolic links
    ``/etc/rc?.d/SNNSERVICE`` (``?`` a runlevel ``0``-``6`` or ``S``, ``NN`` two digits),
    sorted; ``[]`` when there are none (the service does not start at boot).

    oxinfra's own: pyinfra's ``sysvinit.service`` reads ``files.FindLinks`` with the
    pattern ``/etc/rc*.d/S*SERVICE``, which also matches another service whose name ends
    in this one (``S01openssh`` for ``ssh``); this fact matches the name exactly.

    + service: the script's name in ``/etc/init.d``
    """

    shell_safe = True  # find runs as a process

    def command(self, service: str) -> str:
        if not isinstance(service, str) or not service or "/" in service or service in (".", ".."):
            raise FactError(f"{service!r} is not an init script name (it cannot be empty, '.', '..' or hold a '/')")
        # find matches the name literally (its pattern characters escaped); it descends
        # only into /etc/rc?.d, so a directory of /etc it may not read is never an error.
        literal = "".join("\\" + c if c in "*?[]\\" else c for c in service)
        prune = ("-path", "/etc/*", "!", "-path", "/etc/rc[0-6S].d", "!", "-path", "/etc/rc[0-6S].d/*", "-prune")
        match = ("-path", "/etc/rc[0-6S].d/S[0-9][0-9]" + literal, "-type", "l", "-print")
        return command("find", "/etc", "-maxdepth", "2", *prune, "-o", *match)

    def default(self) -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return sorted(line for line in output if line)
