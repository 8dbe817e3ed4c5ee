"""Run things on the host: ``server.script``, ``server.script_template``, ``server.wait``,
``server.kill``. None of them can know whether it changes anything: each always counts as a
change (``is_idempotent=False``), as in pyinfra."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import OperationGenerator, Reconnect, op_memo, operation
from oxinfra.exceptions import OperationValueError
from oxinfra.operations.files.templates import render_template
from oxinfra.operations.util.files import local_path
from oxinfra.quoting import Interpolated, and_then, command, group, or_else, quote, with_umask, write_to

__all__ = ["script", "script_template", "wait", "kill", "reboot"]

#: The script's place: a directory of its own (``mktemp -d``, mode 700), removed afterwards.
_SCRIPT = Interpolated("$__ox_d/script")
_MAKE_DIR = '__ox_d="$(mktemp -d)"'
_RUN = '"$__ox_d/script" "$@"'
_KEEP_STATUS = "__ox_r=$?"
_EXIT = "exit $__ox_r"


def _args(args: Any, op: str) -> list[str]:
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        raise OperationValueError(f"{op}: args must be a list of arguments, not {args!r}")
    return [str(a) for a in args]


def _src(src: Any, op: str) -> str:
    if not isinstance(src, str) or not src or "\x00" in src:
        raise OperationValueError(f"{op}: src {src!r} must name a local file (a non-empty path, no NUL byte)")
    return src


def _run_script(data: bytes, args: list[str], op: str) -> str:
    """Write ``data`` into a new private directory, run it with ``args`` (handed over with
    ``set --``: never read as options of anything but the script), remove the directory and
    keep the script's exit status. The content is written by the shell's ``printf`` (no
    process holds it)."""
    if b"\x00" in data:
        raise OperationValueError(f"{op}: the script holds NUL bytes: it must be text")
    text = data.decode("utf-8", "surrogateescape")
    remove = command("rm", "-rf", "--", Interpolated("$__ox_d"))
    steps = group(
        with_umask("077", write_to(command("printf", "%s", text), _SCRIPT)),
        command("chmod", "700", "--", _SCRIPT),
        command("set", "--", *args),
        _RUN,
    )
    return and_then(_MAKE_DIR, group(or_else(steps, group(_KEEP_STATUS, remove, _EXIT)), remove))


@operation(is_idempotent=False)
def script(src: str, args: list[str] | tuple[str, ...] = ()) -> OperationGenerator:
    """Upload a local script and run it on the host (its ``#!`` line says with what).

    It is written into a new private directory (``mktemp -d``), run there with ``args``, and
    removed again whatever its exit status; the operation fails with the script's status.

    + src: the local script, relative to the deploy file's directory
    + args: its arguments

    Example::

        server.script(name="Hello", src="files/hello.sh", args=["--greet", "world"])
    """
    path = local_path(_src(src, "server.script"))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise OperationValueError(
            f"server.script: cannot read the local script {src} ({path}): {exc.strerror}"
        ) from None
    yield _run_script(data, _args(args, "server.script"), "server.script")


@operation(is_idempotent=False)
def script_template(src: str, args: list[str] | tuple[str, ...] = (), **data: Any) -> OperationGenerator:
    """Render a local jinja2 template into a script and run it on the host, as
    :func:`script` does.

    + src: the local template, relative to the deploy file's directory
    + args: the script's arguments
    + **data: template variables (the template also sees ``host``)

    Example::

        server.script_template(name="Migrate", src="templates/migrate.sh.j2", version="2.1")
    """
    _src(src, "server.script_template")
    arguments = _args(args, "server.script_template")
    memo = op_memo()
    rendered = memo.get("rendered")
    if rendered is None:
        rendered = memo["rendered"] = render_template(src, data, op="server.script_template").encode("utf-8")
    yield _run_script(rendered, arguments, "server.script_template")


def _port(port: Any, op: str) -> int:
    if isinstance(port, bool) or not re.fullmatch(r"[0-9]{1,5}", str(port)) or not 0 < int(str(port)) < 65536:
        raise OperationValueError(f"{op}: port {port!r} must be a number from 1 to 65535")
    return int(str(port))


#: Until something listens on TCP port ``$__ox_p`` (``ss``, else ``netstat``), once a second.
_WAIT = (
    "command -v ss >/dev/null || command -v netstat >/dev/null "
    "|| { echo 'server.wait: neither ss nor netstat is installed' >&2; exit 127; }; "
    'until { ss -Hltn 2>/dev/null || netstat -ltn 2>/dev/null; } | grep -Eq "[:.]$__ox_p[[:space:]]"; '
    'do echo "waiting for port $__ox_p..."; sleep 1; done'
)


@operation(is_idempotent=False)
def wait(port: int | str) -> OperationGenerator:
    """Wait until something listens on a TCP port of the host, checking once a second
    (with ``ss``, or ``netstat``). Bound the wait with ``_timeout=SECONDS``.

    + port: the port

    Example::

        server.wait(name="Web server up", port=80, _timeout=60)
    """
    number = _port(port, "server.wait")
    yield and_then("__ox_p=" + quote(str(number)), _WAIT)


_SIGNAL = re.compile(r"(?:SIG)?([A-Z][A-Z0-9+-]*|[0-9]{1,2})\Z")


@operation(is_idempotent=False)
def kill(pid: int | str, signal: str | int = "TERM") -> OperationGenerator:
    """Send a signal to a process.

    + pid: the process id
    + signal: the signal's name (``TERM``, ``KILL``, ``HUP``, with or without ``SIG``) or number

    Example::

        server.kill(name="Stop the old worker", pid=1234, signal="KILL")
    """
    if isinstance(pid, bool) or not re.fullmatch(r"[0-9]{1,10}", str(pid)) or int(str(pid)) < 1:
        raise OperationValueError(f"server.kill: pid {pid!r} must be a process id (a whole number from 1)")
    match = _SIGNAL.match(str(signal).upper()) if isinstance(signal, (str, int)) else None
    if match is None:
        raise OperationValueError(f"server.kill: signal {signal!r} must be a name such as TERM or KILL, or a number")
    name = match.group(1)
    flag = ["-" + name] if name.isdigit() else ["-s", name]
    # no ``--`` before the pid: dash's kill builtin reads it as a pid ("Illegal number: -");
    # the pid is validated digits, so it cannot be read as an option
    yield command("kill", *flag, str(int(str(pid))))


#: Reboot a second from now, in the background and deaf to the session's end: the script
#: that starts it ends first, so its outcome comes back before the connection goes.
_REBOOT = "(trap '' HUP; sleep 1; reboot || shutdown -r now) >/dev/null 2>&1 </dev/null &"


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value > 86400:
        raise OperationValueError(f"server.reboot: {what} {value!r} must be a number of seconds (0 to 86400)")
    return float(value)


@operation(is_idempotent=False)
def reboot(delay: int | float = 10, interval: int | float = 1, reboot_timeout: int | float = 300) -> OperationGenerator:
    """Reboot the host, then connect to it again and go on with the deploy.

    The reboot starts a second after the operation's command returns; the connection is
    then closed, and after ``delay`` seconds oxinfra connects again every ``interval``
    seconds until the host answers, for at most ``reboot_timeout`` seconds (then the host is
    unreachable). Every fact is read again after it. ``delay`` must be longer than the host
    takes to stop answering, or the old system may answer. Run it with ``_sudo=True``.

    + delay: seconds to wait before the first try to connect again
    + interval: seconds between tries
    + reboot_timeout: seconds to keep trying

    Example::

        server.reboot(name="Reboot for the new kernel", delay=20, reboot_timeout=600, _sudo=True)
    """
    wait_first = _seconds(delay, "delay")
    every = _seconds(interval, "interval") or 1.0
    limit = _seconds(reboot_timeout, "reboot_timeout")
    yield _REBOOT
    yield Reconnect(wait_first, every, limit)
