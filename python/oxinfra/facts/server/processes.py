"""Facts about running processes: ``Processes`` (by PID) and ``Port`` (who listens on a port).

pyinfra 3.10 picks its command from other facts (the kernel; whether ``busybox`` or ``ss``
is there); here one command makes the same choice on the host and says which in its first
line, so each fact stays one command in the host's one batch.

No exit status of these facts means "absent" (``absent_status`` is empty): where a thing can
be missing (a file, ``lsb_release``, ``sestatus``, ``vmstat``) the command itself says so
(status 0 and no output); every other status fails the fact with the tool's stderr.
"""

from __future__ import annotations

from typing import Any

from oxinfra.api import FactBase, FactFailed
from oxinfra.exceptions import FactError
from oxinfra.quoting import quote

__all__ = ["Processes", "Port"]

_FULL = "pid,user,stat,%cpu,%mem,comm,args"
_BUSYBOX = "pid,user,vsz,stat,args"


class Processes(FactBase[Any]):
    """Running processes by PID (an ``int``)::

        {1: {"user": "root", "state": "Ss", "cpu_percent": 0.0, "mem_percent": 0.1,
             "command": "init", "args": "/sbin/init"}}

    Where ``busybox`` is installed (Alpine) its ``ps`` columns are read: ``cpu_percent`` and
    ``mem_percent`` are then ``0.0`` and ``command`` is the program's file name. Lines that
    are not a process (no PID) are skipped; ``ps``'s own failure fails the fact.
    """

    #: ``LANG=C ps``: an assignment before a command (the audit's rule counts it).
    shell_safe = False

    def command(self) -> str:
        return (
            "case $(uname -s) in FreeBSD|Darwin) echo full; LANG=C ps -eo " + _FULL + ";; "
            "*) if command -v busybox >/dev/null 2>&1; then echo busybox; LANG=C ps -o " + _BUSYBOX + "; "
            "else echo full; LANG=C ps -eo " + _FULL + " --no-headers; fi;; esac"
        )

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        lines = stdout.decode("utf-8", "replace").split("\n")
        kind, body = lines[0], lines[1:]
        if kind not in ("full", "busybox"):
            raise FactFailed(rc, f"unexpected first line {kind[:60]!r}")
        processes: dict[int, Any] = {}
        for line in body:
            line = line.strip()
            if not line or line.startswith("PID"):
                continue
            parts = line.split(None, 6 if kind == "full" else 4)
            if len(parts) < (6 if kind == "full" else 5) or not parts[0].isdigit():
                continue
            pid = int(parts[0])
            if kind == "full":
                try:
                    cpu, mem = float(parts[3]), float(parts[4])
                except ValueError:
                    raise FactFailed(rc, f"not a percentage in {line[:80]!r}") from None
                processes[pid] = {
                    "user": parts[1],
                    "state": parts[2],
                    "cpu_percent": cpu,
                    "mem_percent": mem,
                    "command": parts[5],
                    "args": parts[6] if len(parts) > 6 else parts[5],
                }
            else:
                args = parts[4]
                processes[pid] = {
                    "user": parts[1],
                    "state": parts[3],
                    "cpu_percent": 0.0,
                    "mem_percent": 0.0,
                    "command": args.split()[0].rsplit("/", 1)[-1],
                    "args": args,
                }
        return processes


class Port(FactBase[Any]):
    """The program listening on a port and its PID, a tuple ``("sshd", 812)``; ``None`` when
    nothing listens there (as pyinfra 3.10 gives it on Linux), ``(None, None)`` when something
    does but its process is not ours to see (read it with ``_sudo=True``), and on FreeBSD when
    nothing listens. ``protocol``: ``"tcp"`` (the default) or ``"udp"``.

    Read with ``ss`` (else ``netstat``) on Linux, ``sockstat`` on FreeBSD.
    """

    shell_safe = True

    def command(self, port: int, protocol: str = "tcp") -> str:
        if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit():
            raise FactError(f"server.Port: port must be a number, not {port!r}")
        if not 0 < int(port) < 65536:
            raise FactError(f"server.Port: port {port} is out of range (1-65535)")
        if protocol not in ("tcp", "udp"):
            raise FactError(f"server.Port: protocol must be 'tcp' or 'udp', not {protocol!r}")
        n = int(port)
        flag = protocol[0]
        # Every listener is printed; the port's lines are picked here (so the tool's own
        # failure is its exit status, never "nothing listens").
        self._port = n
        return (
            f"case $(uname -s) in FreeBSD) echo sockstat; sockstat -l -p {n} -P {quote(protocol)};; "
            f"*) if command -v ss >/dev/null 2>&1; then echo ss; ss -lp{flag}n; "
            f"else echo netstat; netstat -{flag}lnp; fi;; esac"
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        lines = stdout.decode("utf-8", "replace").split("\n")
        tool, body = lines[0], [line for line in lines[1:] if line.strip()]
        port = getattr(self, "_port", None)
        if tool == "ss":
            body = [line for line in body if f":{port} " in line]
            if not body:
                return None
            for line in body:
                if '"' in line and "pid=" in line:
                    pid = line.split("pid=", 1)[1].split(",", 1)[0]
                    if not pid.isdigit():
                        raise FactFailed(rc, f"no PID in {line[:80]!r}")
                    return (line.split('"')[1], int(pid))
        elif tool == "netstat":
            body = [line for line in body if len(line.split()) > 3 and line.split()[3].endswith(f":{port}")]
            if not body:
                return None
            for line in body:
                for part in line.split():
                    if "/" in part:
                        pid, program = part.split("/", 1)
                        if pid.isdigit():
                            return (program, int(pid))
                        break
        elif tool == "sockstat":
            for line in body:
                parts = line.split()
                if parts[0] != "USER" and len(parts) >= 3:
                    if not parts[2].isdigit():
                        raise FactFailed(rc, f"no PID in {line[:80]!r}")
                    return (parts[1], int(parts[2]))
        else:
            raise FactFailed(rc, f"unexpected first line {tool[:60]!r}")
        return (None, None)
