"""Everything oxinfra keeps per context, in one place (no mutable globals).

Each value lives in a :class:`contextvars.ContextVar` of this module and is set only with
:class:`scope`, which restores the previous values when its block ends, however it ends::

    with scope(host=web1, deploy_dir="/srv/deploys"):
        ...  # oxinfra.host is web1 here

The values: ``host`` (the host whose deploy is evaluated or whose operation is planned),
``deploy_dir`` (the directory of the deploy file being run: relative local paths are found
from there), ``reads`` (notes reads of the host itself, see :func:`note_host_read`),
``facts`` (answers fact reads: ``(host, request) -> value``, or raises ``FactMissing``),
``privilege`` (the privilege settings fact reads start from: the operation's, or the run's
defaults while deploy code runs), ``recorder`` (records operation
calls while deploy files run), ``plan`` (what the operation being planned says about itself,
:class:`oxinfra.api.effects.PlanContext`), ``run_memo`` (what one run shares between hosts)
``data_defaults`` (the ``@deploy(data_defaults=...)`` layers, innermost first),
``inventory`` (the run's inventory, what ``oxinfra.inventory`` reads), ``config`` (the
:class:`oxinfra.api.config.Config` deploy code reads and sets as ``oxinfra.config``) and
``diff`` (the run shows file content changes, ``--diff``: see :func:`wants_diff`).

This module imports nothing of oxinfra at load time: everything else may import it.

``host`` (exported as ``oxinfra.host``) is a proxy: attribute access is forwarded to the
host in context.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable, Mapping

__all__ = [
    "scope",
    "host",
    "current_host",
    "current_deploy_dir",
    "note_host_read",
    "current_recorder",
    "current_plan",
    "current_fact_source",
    "current_privilege",
    "current_run_memo",
    "current_data_defaults",
    "current_inventory",
    "current_config",
    "wants_diff",
]

_host: ContextVar[Any] = ContextVar("oxinfra_current_host", default=None)
_deploy_dir: ContextVar[str | None] = ContextVar("oxinfra_deploy_dir", default=None)
# While an operation is discovered or planned, or a deploy file evaluated: ``[any, identity]``,
# set when that code reads the host itself. ``any``: anything (``host.name``, ``host.data``,
# ``current_host()``): an operation's result then belongs to that host alone and is never
# reused for another. ``identity``: anything but ``host.data`` (deploy code that reads only
# data gives the same calls on hosts with the same data). Fact reads are not host reads:
# they are keyed by their own values. See oxinfra._engine.reuse.
_reads: ContextVar[list[bool] | None] = ContextVar("oxinfra_host_reads", default=None)
_facts: ContextVar[Callable[[Any, Any], Any] | None] = ContextVar("oxinfra_fact_source", default=None)
# The privilege settings (oxinfra.api.arguments.Privilege, or ()) fact reads start from.
_privilege: ContextVar[tuple[Any, ...]] = ContextVar("oxinfra_fact_context", default=())
_recorder: ContextVar[Any] = ContextVar("oxinfra_recorder", default=None)
_plan: ContextVar[Any] = ContextVar("oxinfra_planning", default=None)
_run_memo: ContextVar[Any] = ContextVar("oxinfra_run_memo", default=None)
_data_defaults: ContextVar[tuple[Mapping[str, Any], ...]] = ContextVar("oxinfra_data_defaults", default=())
_inventory: ContextVar[Any] = ContextVar("oxinfra_inventory", default=None)
_config: ContextVar[Any] = ContextVar("oxinfra_config", default=None)
_diff: ContextVar[bool] = ContextVar("oxinfra_diff", default=False)

_VARS: dict[str, ContextVar[Any]] = {
    "host": _host,
    "deploy_dir": _deploy_dir,
    "reads": _reads,
    "facts": _facts,
    "privilege": _privilege,
    "recorder": _recorder,
    "plan": _plan,
    "run_memo": _run_memo,
    "data_defaults": _data_defaults,
    "inventory": _inventory,
    "config": _config,
    "diff": _diff,
}


class scope:
    """Set some context values for the duration of a ``with`` block; the previous values come
    back when it ends, on errors too. Names: see the module docs."""

    __slots__ = ("_pairs", "_tokens")

    def __init__(self, **values: Any) -> None:
        # Several scopes per operation and host: the variables are looked up once, here.
        try:
            self._pairs = [(_VARS[name], value) for name, value in values.items()]
        except KeyError as exc:
            raise TypeError(
                f"scope() got an unknown context value {exc.args[0]!r} (known: {', '.join(_VARS)})"
            ) from None
        self._tokens: list[tuple[ContextVar[Any], Any]] = []

    def __enter__(self) -> "scope":
        self._tokens = [(var, var.set(value)) for var, value in self._pairs]
        return self

    def __exit__(self, *exc: Any) -> None:
        tokens, self._tokens = self._tokens, []
        for var, token in reversed(tokens):
            var.reset(token)


# Readers of the context values (bound ``ContextVar.get`` methods: no call of ours on hot paths).
#: The recorder of the deploy being evaluated, or None.
current_recorder: Callable[[], Any] = _recorder.get
#: The PlanContext of the operation being planned, or None.
current_plan: Callable[[], Any] = _plan.get
#: What answers fact reads now, or None outside a run.
current_fact_source: Callable[[], Callable[[Any, Any], Any] | None] = _facts.get
#: The privilege settings fact reads start from: () or an oxinfra.api.arguments.Privilege.
current_privilege: Callable[[], tuple[Any, ...]] = _privilege.get
#: The reuse tables of the run in progress (oxinfra._engine.reuse.RunMemo), or None.
current_run_memo: Callable[[], Any] = _run_memo.get
#: The ``@deploy(data_defaults=...)`` layers in force, innermost first.
current_data_defaults: Callable[[], tuple[Mapping[str, Any], ...]] = _data_defaults.get
#: The inventory of the run in progress, or None.
current_inventory: Callable[[], Any] = _inventory.get
#: The Config of the deploy being evaluated (or of the config file being read), or None.
current_config: Callable[[], Any] = _config.get
#: Whether the run shows what operations change in files (``--diff``): operations that write
#: files then also read what the files hold now, in the same batch as their other facts
#: (``oxinfra.operations.util.files.diff_facts``), and say what they will hold
#: (:func:`oxinfra.api.effects.content_change`). False otherwise: nothing more is read.
wants_diff: Callable[[], bool] = _diff.get


def current_deploy_dir() -> str | None:
    """The directory of the deploy file being run (or whose operation is being planned):
    relative local paths (``files.put`` sources, templates) are found from here first."""
    return _deploy_dir.get()


def note_host_read(attr: str = "") -> None:
    """Record that the code being run depends on the host itself (``attr`` read, or the
    host object as a whole)."""
    cell = _reads.get()
    if cell is not None:
        cell[0] = True
        if attr != "data":
            cell[1] = True


def current_host() -> Any:
    """The host in context (the real object, not the proxy), counted as a read of the host
    itself; a clear error outside a deploy."""
    note_host_read()
    return _host_in_context()


def _host_in_context() -> Any:
    found = _host.get()
    if found is None:
        from oxinfra.exceptions import DeployError

        raise DeployError(
            "`host` is only available while a deploy runs: use the oxinfra CLI or oxinfra.api.run() to run this file"
        )
    return found


# Reading facts, saying why nothing changes, looping (``host.loop``) or giving later
# operations arguments (``host.when``, ``host.arguments``) does not make a result host-specific.
_FACT_METHODS = frozenset({"get_fact", "noop", "loop", "when", "arguments"})


class _HostProxy:
    """Forwards to the current host: ``host.name``, ``host.data.x``, ``host.get_fact(...)``."""

    __slots__ = ()

    def __getattr__(self, attr: str) -> Any:
        if attr not in _FACT_METHODS:
            note_host_read(attr)
        return getattr(_host_in_context(), attr)

    def __repr__(self) -> str:
        found = _host.get()
        if found is None:
            return "<host proxy (no host in context)>"
        note_host_read("repr")
        return f"<host proxy for {found.name}>"

    def __str__(self) -> str:
        """The host's name (as pyinfra's ``str(host)``)."""
        note_host_read("str")
        name: str = _host_in_context().name
        return name

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __bool__(self) -> bool:
        return _host.get() is not None


host: Any = _HostProxy()
