"""What an operation yields besides shell command strings, and what its call returns."""

from __future__ import annotations

from typing import Any, Callable, Generator, Iterable, TypeAlias, Union

from oxinfra.api.context import current_recorder, note_host_read
from oxinfra.exceptions import OperationError
from oxinfra.quoting import quote

__all__ = [
    "FileUpload",
    "FunctionCommand",
    "Reconnect",
    "OperationMeta",
    "StringCommand",
    "QuoteString",
    "OperationCommand",
    "OperationGenerator",
]


class QuoteString:
    """A value for :class:`StringCommand` to quote (pyinfra's ``QuoteString``)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return f"QuoteString({self.obj!r})"


class StringCommand(str):
    """A shell command made of parts (pyinfra's ``StringCommand``): plain strings are shell
    text as written, :class:`QuoteString` values are quoted with
    :func:`oxinfra.quoting.quote`, joined with ``separator``. It is the command text itself
    (a ``str``), so operations may yield it::

        yield StringCommand("mkdir", "-p", "--", QuoteString(path))
    """

    def __new__(cls, *bits: Any, separator: str = " ") -> "StringCommand":
        return super().__new__(cls, separator.join(_bit(b) for b in bits))


def _bit(bit: Any) -> str:
    if isinstance(bit, QuoteString):
        inner = bit.obj
        return quote(str(inner) if isinstance(inner, StringCommand) else inner)
    return bit if isinstance(bit, str) else str(bit)


_NOT_CALLED = object()


class FileUpload:
    """Yielded by an operation: write ``data`` to ``dest`` on the host (atomically, by rename).
    ``umask`` (octal text, see ``operations.util.files.creation_umask``): create the file under it,
    so it gets its mode without a ``chmod``; None: the shell's own umask. ``user``/``group``
    (names) and ``mode`` (octal digits read as decimal, e.g. 755) are set on the temporary file
    before the rename, owner first (a chown clears set-user-ID bits): a name the host does not
    have fails the upload with what was at ``dest`` untouched. ``keep_owner``: ``dest`` exists,
    and the new file gets its owner and group (by number, read when the upload runs) where
    ``user``/``group`` do not name them; one that cannot be given fails the upload the same way."""

    __slots__ = ("data", "dest", "umask", "mode", "user", "group", "keep_owner")

    def __init__(
        self,
        data: bytes,
        dest: str,
        umask: str | None = None,
        mode: int | None = None,
        user: str | None = None,
        group: str | None = None,
        keep_owner: bool = False,
    ) -> None:
        self.data = data
        self.dest = dest
        self.umask = umask
        self.mode = mode
        self.user = user
        self.group = group
        self.keep_owner = keep_owner

    def __repr__(self) -> str:
        under = f", umask {self.umask}" if self.umask else ""
        mode = f", mode {self.mode:03d}" if self.mode is not None else ""
        owner = f", owner {self.user or ''}:{self.group or ''}" if self.user or self.group else ""
        if self.keep_owner and not (self.user and self.group):
            owner += ", keeps the old owner"
        return f"FileUpload({len(self.data)} bytes -> {self.dest!r}{under}{mode}{owner})"


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


#: What an operation's generator may yield: shell command text (a ``str``, e.g. built with
#: :func:`oxinfra.quoting.command` or a :class:`StringCommand`), a :class:`FileUpload`, or a
#: :class:`FunctionCommand` (:class:`Reconnect` included).
OperationCommand: TypeAlias = Union[str, FileUpload, FunctionCommand]

#: The return type of an operation's generator function, for mypy and IDEs::
#:
#:     @operation()
#:     def touched(path: str) -> OperationGenerator:
#:         yield command("touch", "--", path)
#:
#: (the engine sends nothing into it and ignores what it returns).
OperationGenerator: TypeAlias = Generator[OperationCommand, None, None]


class OperationMeta:
    """What an operation call returns: its outcome on the host it was called for.

    While deploy files run (pyinfra 3's semantics): ``will_change`` and ``changed`` plan the
    operation from the host's facts as they were before the run (pyinfra, too, prepares
    every operation before any runs) -- an operation that reads facts then costs what a fact
    read by deploy code costs (docs/architecture.md, "Operation results in deploy code");
    ``did_change()`` and the other results are not known yet (an error). In ``_if=`` of a
    later operation (``_if=op.did_change``, ``any_changed(a, b)``) they are answered when
    that operation is planned, after this one; in callbacks that run while the host executes
    (``python.call``), once this one has run.
    """

    __slots__ = (
        "op_name",
        "_host_name",
        "status",
        "_will_change",
        "_probe",
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
        self._will_change: bool | None = None
        #: Plans the operation from the facts deploy code may read (set while deploy files run).
        self._probe: Callable[[], bool] | None = None
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

    @property
    def will_change(self) -> bool | None:
        """Whether the operation will change something: planned from the facts before the
        run while deploy files run; what the plan found once it was planned."""
        found = self._will_change
        if found is None and self.status is None and self._probe is not None and current_recorder() is not None:
            found = self._will_change = bool(self._probe())
        return found

    @will_change.setter
    def will_change(self, value: bool | None) -> None:
        self._will_change = value

    def _require(self, what: str) -> None:
        if self._will_change is None and self.status is None:
            raise OperationError(
                f"{what} of {self.op_name!r} on {self.host_name} is not known yet: the operation "
                "has not been planned; use it in _if= of a later operation (or read op.will_change)"
            )

    def did_change(self) -> bool:
        if current_recorder() is not None:  # deploy code: nothing has run (pyinfra raises too)
            self._require_executed("did_change()")
        self._require("did_change()")
        if self.status is not None and self.status != "changed":
            return False
        return bool(self._will_change)

    def _require_executed(self, what: str) -> None:
        raise OperationError(
            f"{what} of {self.op_name!r} is not known while deploy files run: nothing has run yet; "
            f"pass it to a later operation's _if= (_if=op.did_change), or read op.will_change"
        )

    def did_not_change(self) -> bool:
        return not self.did_change()

    def did_succeed(self) -> bool:
        if current_recorder() is not None:
            self._require_executed("did_succeed()")
        self._require("did_succeed()")
        return self.status in (None, "changed", "unchanged")

    def did_error(self) -> bool:
        return not self.did_succeed()

    @property
    def changed(self) -> bool:
        """pyinfra 3's ``op.changed``: ``will_change`` until the operation is planned, then
        ``did_change()``."""
        if current_recorder() is not None:
            return bool(self.will_change)
        return self.did_change()

    @property
    def stdout_lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def __repr__(self) -> str:
        return f"OperationMeta({self.op_name!r}, {self._host_name}, status={self.status})"
