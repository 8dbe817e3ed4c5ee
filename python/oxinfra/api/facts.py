"""Facts: a shell command run on the host whose output is parsed into a value.

Write your own by subclassing :class:`FactBase`::

    from oxinfra.api import FactBase

    class LoadAverage(FactBase):
        '''The one-minute load average as a float.'''

        def command(self):
            return "cut -d' ' -f1 /proc/loadavg"

        def process(self, output):
            return float(output[0])

    load = host.get_fact(LoadAverage)

Facts are never fetched one by one: the planner collects every fact the operations of a
phase need and runs them as one batched command per host (see docs/architecture.md).
"""

from __future__ import annotations

import inspect
import posixpath
from typing import Callable, Any, ClassVar, Generic, TypeAlias, TypeVar, Union

from oxinfra.api.arguments import PRIVILEGE_ARGS, Privilege, privilege_with, privileged
from oxinfra.api.context import _host_in_context, _HostProxy, current_fact_source, current_privilege
from oxinfra.exceptions import FactError

__all__ = ["FactBase", "ShortFactBase", "FactRequest", "FactMissing", "FactFailed", "fact_failure", "resolve_fact"]

T = TypeVar("T")


def qualified_name(module: str, name: str) -> str:
    """``family.Name`` of a fact or operation defined in ``module``: the family is the module's
    name (``mydeploy.checks`` -> ``checks``), or within oxinfra's own ``operations`` and
    ``facts`` packages the first part after them, so that a family split into several modules
    (``oxinfra.facts.server.users``) keeps one name (``server.Users``)."""
    for root in ("oxinfra.operations.", "oxinfra.facts."):
        if module.startswith(root):
            return f"{module[len(root) :].split('.', 1)[0]}.{name}"
    return f"{module.rsplit('.', 1)[-1]}.{name}"


class FactBase(Generic[T]):
    """Base class of facts. Subclasses define ``command`` and usually ``process``.

    - ``command(self, **args) -> str``: the shell command (quote values with
      :func:`oxinfra.quoting.quote`).
    - ``process(self, output: list[str]) -> T``: parse the output lines (default: joined).
    - ``default(self) -> T``: the value when the thing the fact describes is absent
      (default: ``None``).
    - ``absent_status``: the exit statuses of ``command`` that mean "absent" (the value is
      then ``default()``). Any other non-zero status is a failure: the operation (or the
      deploy) that read the fact fails with the fact's name, the status and its stderr,
      unless it was read with ``_ignore_errors=True``. A tool's error is never "absent".
    """

    name: ClassVar[str] = ""
    #: The command never exits, changes directory or sets variables: it may run in the
    #: host's shell without a subshell. Leave False for facts whose commands you don't control.
    shell_safe: ClassVar[bool] = False
    #: Exit statuses that mean "absent" (value: ``default()``); others than 0 are failures.
    absent_status: ClassVar[frozenset[int]] = frozenset()
    #: False for a fact that is only shown to the operator (``--diff``'s file contents), never
    #: used to decide what to do: the engine never checks it again on the host before an
    #: operation (it is no guard), and a reader gets ``unknown(why)`` instead of its failure
    #: or of a value an earlier operation of the plan declared it changes (unless the fact
    #: can be predicted from the content that operation writes).
    decides: ClassVar[bool] = True
    #: Its output may hold any bytes, NUL included: a script that reads it sends the output
    #: as it comes, never through a command substitution (which drops NUL bytes).
    binary_output: ClassVar[bool] = False
    #: Its value is where its ``path`` argument leads through symbolic links (an absolute
    #: path, or None when no link is involved): the engine then also counts a change
    #: declared at that real path as a change of facts read under the ``path`` spelling.
    resolves_path: ClassVar[bool] = False
    _arg_names: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = qualified_name(cls.__module__, cls.__name__)
        cls._arg_names = None

    # *args and **kwargs of Any: for mypy, each fact's command() may take its own arguments
    def command(self, *args: Any, **kwargs: Any) -> str:
        raise NotImplementedError(f"fact {self.name} defines no command()")

    def process(self, output: list[str]) -> Any:
        return "\n".join(output)

    def default(self) -> Any:
        return None

    def unknown(self, why: str) -> Any:
        """What a reader of a fact that does not decide (``decides = False``) gets when its
        value is not known (``why``: its failure, or the earlier change)."""
        return None

    def predict(self, content: bytes, **kwargs: Any) -> tuple[bytes, int] | None:
        """The (stdout, exit status) the command would give if the file named by the fact's
        ``path`` held ``content``; None when the fact cannot tell (the default)."""
        return None

    def guard(self, stdout: bytes, *args: Any, **kwargs: Any) -> tuple[str, bytes] | None:
        """How the engine reads this fact again right before an operation planned from it
        runs, after an operation whose effects it cannot know (the fact's arguments as
        ``command`` takes them): ``(command, the output it must print)`` when that is not the
        fact's own command printing ``stdout`` again -- for output that moves while nothing
        the fact describes changes (a file's access time). None (the default): the fact's
        own command, its output compared whole."""
        return None

    def guard_test(self, stdout: bytes, rc: int, *args: Any, **kwargs: Any) -> str | None:
        """A cheaper guard, when the fact can give one: a shell condition that holds exactly
        when the fact's command would print ``stdout`` and exit ``rc`` now -- shell builtins
        only, printing nothing, run in the host's shell itself (no process, no command
        substitution). The file facts give one for "absent". None (the default): the
        engine runs :meth:`guard`'s command (or the fact's own) and compares its output."""
        return None

    def parse(self, stdout: bytes, rc: int) -> Any:
        """Turn raw output into the value; built-in facts override this with a Rust parser.
        Raises :class:`FactFailed` for an exit status that is neither 0 nor "absent"."""
        if rc != 0:
            if rc in self.absent_status:
                return self.default()
            raise FactFailed(rc)
        text = stdout.decode("utf-8", "replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return self.default()
        return self.process(lines)

    @classmethod
    def arg_names(cls) -> tuple[str, ...]:
        names = cls._arg_names
        if names is None:
            params = list(inspect.signature(cls.command).parameters.values())[1:]
            names = tuple(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
            cls._arg_names = names
        return names


class ShortFactBase(Generic[T]):
    """A fact computed from another fact's value (pyinfra's ``ShortFactBase``): set ``fact``
    to that fact class and define ``process_data(self, data)``::

        class RootHome(ShortFactBase):
            fact = Users

            def process_data(self, users):
                return users["root"]["home"]

    Reading it reads ``fact`` with the same arguments (one request, batched like any other)
    and returns ``process_data`` of its value."""

    name: ClassVar[str] = ""
    fact: ClassVar[FactClass]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = qualified_name(cls.__module__, cls.__name__)

    def process_data(self, data: Any) -> Any:
        return data


#: A fact class: a :class:`FactBase` or a :class:`ShortFactBase` subclass.
FactClass: TypeAlias = Union[type[FactBase[Any]], type[ShortFactBase[Any]]]


class FactRequest:
    """One fact to read on one host: the fact class, its arguments and the privilege context.

    ``key`` identifies equal requests; ``fact`` is the instance whose ``command()`` made the
    command (pyinfra-style facts may keep state between ``command`` and ``process``).
    """

    __slots__ = ("cls", "kwargs", "context", "key", "fact", "command", "safe", "path")

    def __init__(
        self,
        cls: type[FactBase[Any]],
        kwargs: dict[str, Any],
        context: tuple[Any, ...],
        items: tuple[tuple[str, Any], ...] | None = None,
    ):
        self.cls = cls
        self.kwargs = kwargs
        self.context = context
        self.safe = cls.shell_safe
        # The fact's path, normalised, when it has an absolute one (what changes are matched on).
        path = kwargs.get("path")
        self.path = _normalised(path) if isinstance(path, str) and path.startswith("/") else None
        self.fact = cls()
        try:
            self.command = self.fact.command(**kwargs)
        except TypeError as exc:
            raise FactError(f"fact {cls.name} called with bad arguments {kwargs!r}: {exc}") from None
        if not isinstance(self.command, str):
            self.command = str(self.command)
        # By name and command, not by class object: a fact class defined in a deploy file is
        # a new object each time the file is evaluated again (after gathering what it read).
        self.key = (cls.__module__, cls.__qualname__, self.command, _key_items(kwargs, items), context)

    def __repr__(self) -> str:
        return f"FactRequest({self.cls.name}, {self.kwargs!r})"


def _key_items(kwargs: dict[str, Any], items: tuple[tuple[str, Any], ...] | None) -> Any:
    """The arguments as part of a request's key: equal for equal plain values (types count),
    and for anything else by their text -- a value of a class defined in a deploy file is a
    new object each time the file is evaluated again, but prints the same."""
    if items is not None and all(type(v) is str for _, v in items):
        return items  # the usual case, shared with the per-host cache key
    from oxinfra._keys import freeze

    frozen = freeze(tuple(sorted(kwargs.items())))
    return frozen if frozen is not None else repr(sorted(kwargs.items()))


def _normalised(path: str) -> str:
    """``posixpath.normpath``, without a new string for a path that is already normal."""
    if "//" in path or "/." in path or (path.endswith("/") and path != "/"):
        return posixpath.normpath(path)
    return path


class FactFailed(FactError):
    """A fact's command failed with a status that does not mean "absent" (raised by
    :meth:`FactBase.parse`; the engine adds the fact's name, the host and its stderr)."""

    def __init__(self, rc: int, detail: str = "") -> None:
        super().__init__(detail or f"exit {rc}")
        self.rc = rc
        self.detail = detail


def fact_failure(name: str, rc: int, stderr: bytes, detail: str = "") -> str:
    """The one-line message of a failed fact: its name, exit status and last stderr lines."""
    text = " ".join(stderr.decode("utf-8", "replace").split())
    if len(text) > 400:
        text = "..." + text[-400:]
    what = detail or f"exit {rc}"
    return f"fact {name} failed ({what})" + (f": {text}" if text else "")


class FactMissing(Exception):
    """Internal signal: a fact is needed that the current phase has not gathered yet."""

    def __init__(self, *requests: FactRequest) -> None:
        super().__init__(", ".join(r.cls.name for r in requests))
        self.requests = requests


def resolve_fact(host: Any, cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if isinstance(cls, type) and issubclass(cls, ShortFactBase):
        base = getattr(cls, "fact", None)
        if not (isinstance(base, type) and issubclass(base, (FactBase, ShortFactBase))):
            raise FactError(f"short fact {cls.name} needs `fact = SomeFact` (a FactBase subclass), not {base!r}")
        return cls().process_data(resolve_fact(host, base, args, kwargs))
    if not (isinstance(cls, type) and issubclass(cls, FactBase)):
        raise FactError(f"host.get_fact() takes a fact class (a FactBase subclass), not {cls!r}")
    if args:
        names = cls.arg_names()
        if len(args) > len(names):
            raise FactError(f"fact {cls.name} takes at most {len(names)} arguments")
        kwargs = {**dict(zip(names, args)), **kwargs}
    # The privilege settings in force (the operation being planned, or the run's defaults
    # while deploy code runs); global arguments such as _sudo given to get_fact change them.
    settings = current_privilege()
    ignore_errors = False
    if any(k.startswith("_") for k in kwargs):
        kwargs = dict(kwargs)  # the caller's dict stays as it was
        ignore_errors = bool(kwargs.pop("_ignore_errors", False))
        given = {k: kwargs.pop(k) for k in PRIVILEGE_ARGS if k in kwargs}
        for k in [k for k in kwargs if k.startswith("_")]:
            kwargs.pop(k)
        context = privilege_with(settings, given, f"host.get_fact({cls.name})")
    else:
        context = privileged(Privilege(*settings)) if settings else ()
    source = current_fact_source()
    if source is None:
        raise FactError(f"host.get_fact({cls.name}) needs a running deploy: use the oxinfra CLI or oxinfra.api.run()")
    # The same read made again (discovery, then planning, then guards) reuses its request:
    # building one runs the fact's command() and quoting each time.
    if isinstance(host, _HostProxy):  # `oxinfra.host`: the host in context
        host = _host_in_context()
    if ignore_errors:
        try:
            return _resolve(source, host, cls, kwargs, context)
        except FactFailed:
            return cls().default()
    return _resolve(source, host, cls, kwargs, context)


def _resolve(
    source: Callable[[Any, FactRequest], Any], host: Any, cls: type, kwargs: dict[str, Any], context: tuple[Any, ...]
) -> Any:
    cache = getattr(host, "_facts", None)
    if cache is None:
        try:
            cache = host._facts = {}
        except AttributeError:  # not an oxinfra Host (tests may pass stand-ins)
            return source(host, FactRequest(cls, kwargs, context))
    items = tuple(sorted(kwargs.items()))
    try:
        cheap = (cls, items, context)
        request = cache.get(cheap)
    except TypeError:  # unhashable argument values
        cheap, request = None, None
    if request is None:
        request = FactRequest(cls, dict(kwargs), context, items if cheap is not None else None)
        if cheap is not None:
            cache[cheap] = request
    return source(host, request)
