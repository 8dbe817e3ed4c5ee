"""What an operation yields besides shell command strings, and what its call returns."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from oxinfra.api.context import note_host_read
from oxinfra.exceptions import OperationError

__all__ = ["FileUpload", "FunctionCommand", "Reconnect", "OperationMeta"]

_NOT_CALLED = object()


class FileUpload:
    """Yielded by an operation: write ``data`` to ``dest`` on the host (atomically, by rename).
    ``umask`` (octal text, see ``operations.util.files.creation_umask``): create the file under it,
    so it gets its mode without a ``chmod``; None: the shell's own umask."""

    __slots__ = ("data", "dest", "umask")

    def __init__(self, data: bytes, dest: str, umask: str | None = None) -> None:
        self.data = data
        self.dest = dest
        self.umask = umask

    def __repr__(self) -> str:
        under = f", umask {self.umask}" if self.umask else ""
        return f"FileUpload({len(self.data)} bytes -> {self.dest!r}{under})"


class FunctionCommand:
    """Yielded by an operation: call ``function(*args, **kwargs)`` on the controller at that
    point of the host's execution (earlier commands have run, later ones wait).

    While it runs, ``oxinfra.host`` is the host and ``host.get_fact(...)`` reads the host as it
    is then (one round trip per batch of facts not read since the host last changed); what it
    returns is the operation's ``return_value`` (the last callback's), readable by later
    operations' ``_if=`` and callbacks: they are planned after it ran."""

    __slots__ = ("function", "args", "kwargs")

    def __init__(self, function: Callable[..., Any], args: Iterable[Any] = (), kwargs: dict[str, Any] | None = None):
        self.function = function
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})

    def __repr__(self) -> str:
        return f"FunctionCommand({getattr(self.function, '__name__', self.function)!r})"


class Reconnect(FunctionCommand):
    """Yielded by an operation (``server.reboot``): the host's connection is going away.
    The engine closes it, waits ``delay`` seconds, then connects again every ``interval``
    seconds until it can, for at most ``timeout`` seconds (then the host is unreachable).
    Every fact is read again afterwards; the host's lock and prelude run on the new shell."""

    __slots__ = ("delay", "interval", "timeout")

    def __init__(self, delay: float, interval: float, timeout: float) -> None:
        super().__init__(lambda: None)
        self.delay = delay
        self.interval = interval
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Reconnect(delay={self.delay}, interval={self.interval}, timeout={self.timeout})"


class OperationMeta:
    """What an operation call returns: its outcome on the host it was called for.

    ``did_change()`` is usable in ``_if=`` of later operations: it is answered when those
    operations are planned, after this one.
    """

    __slots__ = (
        "op_name",
        "_host_name",
        "status",
        "will_change",
        "stdout",
        "stderr",
        "error",
        "noop_reasons",
        "_return_value",
    )

    def __init__(self, op_name: str, host_name: str) -> None:
        self.op_name = op_name
        self._host_name = host_name
        self.status: str | None = None  # "changed" | "unchanged" | "failed" | "skipped"
        self.will_change: bool | None = None
        self.stdout = ""
        self.stderr = ""
        self.error: str | None = None
        self.noop_reasons: list[str] | tuple[str, ...] = ()
        self._return_value: Any = _NOT_CALLED

    @property
    def return_value(self) -> Any:
        """What the operation's Python callback returned (``python.call``): readable once it
        ran, so in ``_if=`` of a later operation or in a later callback."""
        if self._return_value is _NOT_CALLED:
            raise OperationError(
                f"the return value of {self.op_name!r} on {self._host_name} is not known: its callback has not run (a --dry run calls none) "
                "(read it in _if= of a later operation, or in a later callback)"
            )
        return self._return_value

    @property
    def host_name(self) -> str:
        note_host_read("name")  # deploy code reading it depends on the host
        return self._host_name

    def _require(self, what: str) -> None:
        if self.will_change is None and self.status is None:
            raise OperationError(
                f"{what} of {self.op_name!r} on {self.host_name} is not known yet: the operation "
                "has not been planned; use it in _if= of a later operation instead"
            )

    def did_change(self) -> bool:
        self._require("did_change()")
        if self.status is not None and self.status != "changed":
            return False
        return bool(self.will_change)

    def did_not_change(self) -> bool:
        return not self.did_change()

    def did_succeed(self) -> bool:
        self._require("did_succeed()")
        return self.status in (None, "changed", "unchanged")

    def did_error(self) -> bool:
        return not self.did_succeed()

    @property
    def changed(self) -> bool:
        return self.did_change()

    def __repr__(self) -> str:
        return f"OperationMeta({self.op_name!r}, {self.host_name}, status={self.status})"
