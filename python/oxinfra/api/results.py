"""Typed results and events of :func:`oxinfra.api.run` / :func:`oxinfra.api.run_async`.

Every value is a frozen dataclass (``repr``, equality, hashable where its fields are), every
status a ``Literal``::

    result = run(Inventory.from_hosts(["@local"]), deploy)
    for host in result.hosts.values():          # HostResult, in inventory order
        for op in host.ops:                      # OperationResult, in the order they ran
            print(host.name, op.op, op.status, op.commands, op.stdout)

Statuses are Python identifiers (``"not_run"``, ``"not_started"``); the ``--json`` events
(schema: docs/events.md) spell two of them with a space, as they always have: see
:data:`JSON_STATUS`. Events are the ``--json`` events, typed: :func:`event_from_json` turns
one into its dataclass, ``event.to_json()`` gives it back exactly.

What operations show is what the CLI shows: the text of every known secret (host data under
secret-looking keys, ``Secret`` values, the sudo password; docs/secrets.md) is ``***`` in
commands, outputs, errors, no-op texts and diffs -- ``f"echo {host.data.db_password}"`` is
``echo ***`` -- and an operation run with ``_sensitive=True`` has all of its commands,
outputs and no-op texts as ``***``. Outputs are
capped (the engine keeps the first and last 32 KiB of each; ``stdout_dropped`` counts what
was left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Literal, Mapping, Union, cast

__all__ = [
    "OpStatus",
    "HostStatus",
    "ErrorCategory",
    "OperationResult",
    "HostResult",
    "RunResult",
    "Event",
    "PlanEvent",
    "ConnectedEvent",
    "UnreachableEvent",
    "NoticeEvent",
    "HostFailedEvent",
    "OperationEvent",
    "StoppingEvent",
    "InterruptedEvent",
    "HostDoneEvent",
    "event_from_json",
    "EVENT_SCHEMA_VERSION",
    "JSON_STATUS",
]

#: How an operation ended on a host.
OpStatus = Literal["changed", "unchanged", "failed", "skipped", "not_run"]
#: How a host ended (docs/faults.md, :mod:`oxinfra.cli.outcome`).
HostStatus = Literal["success", "failed", "unreachable", "error", "interrupted", "stopped", "not_started"]
#: What kind of error ended an operation or a host (None: no error).
#: ``command``: a command exited non-zero; ``operation``: the operation refused its
#: arguments or the host's state (planning); ``privilege``: sudo/su could not run;
#: ``fact``: a fact failed; ``lock``: another run holds the host; ``connect``: connecting or
#: the connection failed; ``timeout``: ``host_timeout``/``round_trip_timeout``;
#: ``interrupted``/``stopped``: the run was interrupted / stopped starting work
#: (``fail_percent``); ``internal``: unparsable output or a bug.
ErrorCategory = Literal[
    "command", "operation", "privilege", "fact", "lock", "connect", "timeout", "interrupted", "stopped", "internal"
]

#: Version of the event schema (docs/events.md). New event kinds and new fields do not
#: change it; a changed or removed field does.
EVENT_SCHEMA_VERSION = 1
#: Typed status -> how ``--json`` (schema 1) spells it, where it differs.
JSON_STATUS = {"not_run": "not run", "not_started": "not started"}
_FROM_JSON = {v: k for k, v in JSON_STATUS.items()}


def _status(text: str) -> Any:
    return _FROM_JSON.get(text, text)


def _category(status: str, error: str | None) -> ErrorCategory | None:
    """The category of an engine error text (the engine words its errors; see ErrorCategory)."""
    text = error or ""
    if status == "interrupted":
        return "interrupted"
    if status in ("stopped", "not_started", "not started"):
        return "interrupted" if "interrupted" in text else "stopped"
    if not text:
        return None
    if status == "error":
        return "internal"
    if status == "unreachable":
        return "timeout" if ("timeout" in text or "no answer within" in text) else "connect"
    if "could not run as" in text:
        return "privilege"
    if "holds this host's lock" in text or "cannot open the host lock" in text:
        return "lock"
    if "exit code" in text:
        return "command"
    if re.search(r"\bfact \S+ failed \(", text):
        return "fact"
    return "operation"


@dataclass(frozen=True)
class OperationResult:
    """One operation on one host.

    ``commands``: the shell commands it ran (or, dry, would run), as the CLI shows them
    (secrets' texts ``***``; all ``***`` when sensitive); empty for a sharded run (``shards``
    > 1), whose workers keep none. ``stdout``/``stderr``: what its commands printed, capped. ``finished_at``: seconds
    after the host started when its outcome was known (one script runs several operations:
    this is when its answer came, not the operation's own duration). ``diff``: with
    ``RunControl(diff=True)``, what it changed (dry: would change) in files, as a unified
    diff (docs/events.md)."""

    op: str
    key: str
    index: int
    status: OpStatus
    commands: tuple[str, ...] = ()
    noop: str | None = None
    error: str | None = None
    error_category: ErrorCategory | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_dropped: int = 0
    stderr_dropped: int = 0
    finished_at: float | None = field(default=None, compare=False)
    diff: str | None = None

    @property
    def changed(self) -> bool:
        """It changed the host (dry: it would)."""
        return self.status == "changed"

    # The records of oxinfra < 0.x were dicts: ``op["status"]`` still reads them, with the
    # record's old spellings ("not run"); prefer the attributes.
    def __getitem__(self, key: str) -> Any:
        record = self._record()
        return record[key]

    def __contains__(self, key: object) -> bool:
        return key in self._record()

    def get(self, key: str, default: Any = None) -> Any:
        return self._record().get(key, default)

    def _record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"op": self.op, "key": self.key, "index": self.index}
        record["status"] = JSON_STATUS.get(self.status, self.status)
        if self.commands:
            record["commands"] = len(self.commands)
        for name in ("noop", "error", "diff"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        if self.status == "failed":
            record["stdout"], record["stderr"] = self.stdout, self.stderr
        return record


@dataclass(frozen=True)
class HostResult:
    """One host: how it ended, its operations, round trips and time (``timings``: seconds per
    phase, see :mod:`oxinfra._engine.report`)."""

    name: str
    status: HostStatus
    ops: tuple[OperationResult, ...]
    error: str | None = None
    error_category: ErrorCategory | None = None
    round_trips: int = 0
    seconds: float = field(default=0.0, compare=False)
    timings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    @property
    def success(self) -> bool:
        return self.status == "success"

    @property
    def changed(self) -> int:
        return self.count("changed")

    def count(self, status: OpStatus) -> int:
        return sum(1 for op in self.ops if op.status == status)

    def counts(self) -> dict[str, int]:
        """Operations per status (every :data:`OpStatus`, zeros included)."""
        counts = {"changed": 0, "unchanged": 0, "failed": 0, "skipped": 0, "not_run": 0}
        for op in self.ops:
            counts[op.status] += 1
        return counts


@dataclass(frozen=True)
class RunResult:
    """A whole run: every host's result in inventory order, the operations' global order.

    ``interrupted``: the signal that interrupted the run, or None; ``stopped``: why it
    stopped starting hosts (``fail_percent``), or None; ``timings``: seconds per run phase."""

    hosts: Mapping[str, HostResult]
    order: tuple[str, ...]
    dry: bool
    interrupted: str | None = None
    stopped: str | None = None
    timings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    @property
    def success(self) -> bool:
        return all(h.status == "success" for h in self.hosts.values())

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        return tuple(name for name, h in self.hosts.items() if h.status != "success")

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for h in self.hosts.values():
            counts[h.status] = counts.get(h.status, 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"RunResult(dry={self.dry}, hosts={len(self.hosts)} ({shown}), operations={len(self.order)})"


def _command_text(command: Any) -> str:
    return command if isinstance(command, str) else repr(command)


def convert(engine_result: Any) -> RunResult:
    """The typed result of an engine :class:`oxinfra._engine.hostrun.RunResult`."""
    from oxinfra.api.commands import FunctionCommand

    hosts: dict[str, HostResult] = {}
    for name, host in engine_result.hosts.items():
        details = host.details or {}
        ops = []
        for record in host.ops:
            shown, extra, at = details.get(record["index"], (None, None, None))
            commands: tuple[str, ...] = ()
            if shown is not None:
                commands = tuple(_command_text(c) for c in shown.commands if not isinstance(c, FunctionCommand))
            out = extra if extra is not None else record
            status = _status(record["status"])
            error = record.get("error")
            ops.append(
                OperationResult(
                    op=record["op"],
                    key=record["key"],
                    index=record["index"],
                    status=status,
                    commands=commands,
                    noop=record.get("noop"),
                    error=error,
                    error_category=_category(status, error) if error else None,
                    stdout=out.get("stdout", "") or "",
                    stderr=out.get("stderr", "") or "",
                    stdout_dropped=out.get("stdout_dropped", 0),
                    stderr_dropped=out.get("stderr_dropped", 0),
                    finished_at=at,
                    diff=record.get("diff"),
                )
            )
        status = _status(host.status)
        hosts[name] = HostResult(
            name=name,
            status=status,
            ops=tuple(ops),
            error=host.error,
            error_category=_category(status, host.error) if status != "success" else None,
            round_trips=host.round_trips,
            seconds=host.seconds,
            timings=MappingProxyType(dict(host.timings)),
        )
    return RunResult(
        hosts=MappingProxyType(hosts),
        order=tuple(engine_result.order),
        dry=engine_result.dry,
        interrupted=engine_result.interrupted,
        stopped=engine_result.stopped,
        timings=MappingProxyType(dict(engine_result.timings)),
    )


# -- events ---------------------------------------------------------------------------------


class _EventBase:
    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The event exactly as ``--json`` prints it (schema 1, docs/events.md)."""
        out: dict[str, Any] = {"event": self.kind}
        for spec in fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if value is None and spec.default is None:
                continue
            if spec.name == "status":
                value = JSON_STATUS.get(value, value)
            elif spec.name == "operations":
                value = list(value)
            out[spec.name] = value
        return out


@dataclass(frozen=True)
class PlanEvent(_EventBase):
    """Every host was evaluated; ``operations`` in their global order."""

    kind: ClassVar[str] = "plan"
    hosts: int
    operations: tuple[str, ...]
    dry: bool


@dataclass(frozen=True)
class ConnectedEvent(_EventBase):
    kind: ClassVar[str] = "connected"
    host: str


@dataclass(frozen=True)
class UnreachableEvent(_EventBase):
    kind: ClassVar[str] = "unreachable"
    host: str
    error: str


@dataclass(frozen=True)
class NoticeEvent(_EventBase):
    """Something to know that is not an error: about a host, or (``host`` None) the run."""

    kind: ClassVar[str] = "notice"
    message: str
    host: str | None = None


@dataclass(frozen=True)
class HostFailedEvent(_EventBase):
    """A fact the deploy code read failed on this host: it alone fails."""

    kind: ClassVar[str] = "host_failed"
    host: str
    error: str


@dataclass(frozen=True)
class OperationEvent(_EventBase):
    """One operation's outcome on one host. ``commands``: how many commands it ran (its
    texts are in the run's :class:`OperationResult`); ``stdout``/``stderr`` only when it
    failed (as in ``--json``); ``diff``: what it changed in files (``--diff``)."""

    kind: ClassVar[str] = "operation"
    host: str
    op: str
    key: str
    index: int
    status: OpStatus
    commands: int | None = None
    noop: str | None = None
    error: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    diff: str | None = None


@dataclass(frozen=True)
class StoppingEvent(_EventBase):
    """``fail_percent`` was passed: no new host starts."""

    kind: ClassVar[str] = "stopping"
    reason: str
    failed: int | None = None
    hosts: int | None = None


@dataclass(frozen=True)
class InterruptedEvent(_EventBase):
    kind: ClassVar[str] = "interrupted"
    signal: str
    running: int | None = None
    again: bool | None = None


@dataclass(frozen=True)
class HostDoneEvent(_EventBase):
    kind: ClassVar[str] = "host_done"
    host: str
    status: HostStatus
    changed: int
    unchanged: int
    failed: int
    skipped: int
    not_run: int
    round_trips: int
    seconds: float
    error: str | None = None


Event = Union[
    PlanEvent,
    ConnectedEvent,
    UnreachableEvent,
    NoticeEvent,
    HostFailedEvent,
    OperationEvent,
    StoppingEvent,
    InterruptedEvent,
    HostDoneEvent,
]

_KINDS: dict[str, Any] = {
    cls.kind: cls
    for cls in (
        PlanEvent,
        ConnectedEvent,
        UnreachableEvent,
        NoticeEvent,
        HostFailedEvent,
        OperationEvent,
        StoppingEvent,
        InterruptedEvent,
        HostDoneEvent,
    )
}
_FIELDS: dict[str, frozenset[str]] = {
    kind: frozenset(cls.__dataclass_fields__) - {"kind"} for kind, cls in _KINDS.items()
}


def event_from_json(event: Mapping[str, Any]) -> Event | None:
    """The typed event of an engine (or ``--json``) event dict; None for a kind this version
    does not know (readers should skip those: new kinds are not a new schema version). Fields
    this version does not know (``stdout_b64``, ...) are left out."""
    kind = event.get("event")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    fields = _FIELDS[cast(str, kind)]
    values = {k: v for k, v in event.items() if k in fields}
    if "status" in values:
        values["status"] = _status(values["status"])
    if "operations" in values:
        values["operations"] = tuple(values["operations"])
    try:
        return cast(Event, cls(**values))
    except TypeError:  # a required field missing: not an event of this schema
        return None


EventCallback = Callable[[Event], object]
