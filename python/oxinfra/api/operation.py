"""The ``@operation`` decorator and what an operation call leaves behind.

An operation is a generator function. It reads facts with ``host.get_fact`` (or several at
once with :func:`get_facts`), then yields what must run: shell command strings built with
:func:`oxinfra.quoting.quote`, :class:`FileUpload` values, or :class:`FunctionCommand`
callbacks. When nothing needs doing it yields nothing and says why with ``host.noop``::

    from oxinfra import host
    from oxinfra.api import operation
    from oxinfra.facts.files import File
    from oxinfra.quoting import command

    @operation()
    def touched(path: str):
        '''Make sure ``path`` exists as a file.'''
        if host.get_fact(File, path=path):
            host.noop(f"{path} exists")
            return
        yield command("touch", "--", path)

Calling an operation inside a deploy records it for the current host; the planner runs the
generator later, once the facts it reads have been gathered (docs/architecture.md).
"""

from __future__ import annotations

import functools
import inspect
import os
import posixpath
import sys
from contextvars import ContextVar
from typing import Any, Callable, Iterable

from oxinfra.api.arguments import GlobalArgs, split_global_args
from oxinfra.api.context import deploy_dir, host_reads, note_host_read
from oxinfra.api.facts import FactMissing, FactRequest, fact_context, fact_source
from oxinfra._engine.reuse import SharedCall, call_key, run_memo
from oxinfra.exceptions import DeployError, OperationError, OperationTypeError

__all__ = [
    "operation",
    "OpCall",
    "OperationMeta",
    "FileUpload",
    "FunctionCommand",
    "get_facts",
    "Recorder",
    "current_recorder",
    "noop",
    "touches",
    "ensure_directory",
    "op_memo",
    "mark_directory",
    "predict_content",
    "PlanContext",
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FileUpload:
    """Yielded by an operation: write ``data`` to ``dest`` on the host (atomically, by rename).
    ``umask`` (octal text, see ``operations._util.creation_umask``): create the file under it,
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
    point of the host's execution (earlier commands have run, later ones wait)."""

    __slots__ = ("function", "args", "kwargs")

    def __init__(self, function: Callable[..., Any], args: Iterable[Any] = (), kwargs: dict[str, Any] | None = None):
        self.function = function
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})

    def __repr__(self) -> str:
        return f"FunctionCommand({getattr(self.function, '__name__', self.function)!r})"


class OperationMeta:
    """What an operation call returns: its outcome on the host it was called for.

    ``did_change()`` is usable in ``_if=`` of later operations: it is answered when those
    operations are planned, after this one.
    """

    __slots__ = ("op_name", "_host_name", "status", "will_change", "stdout", "stderr", "error", "noop_reasons")

    def __init__(self, op_name: str, host_name: str) -> None:
        self.op_name = op_name
        self._host_name = host_name
        self.status: str | None = None  # "changed" | "unchanged" | "failed" | "skipped"
        self.will_change: bool | None = None
        self.stdout = ""
        self.stderr = ""
        self.error: str | None = None
        self.noop_reasons: list[str] | tuple[str, ...] = ()

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


class OpCall:
    """One operation call recorded for one host, in call order."""

    __slots__ = (
        "key", "label", "name", "func", "args", "kwargs", "globals", "meta",
        "first_facts", "precomputed", "index", "deploy_dir", "memo", "shell_safe", "shared",
    )

    def __init__(self, key: tuple[Any, ...], label: str, name: str, func: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any], global_args: GlobalArgs,
                 meta: OperationMeta) -> None:
        self.key = key
        self.label = label
        self.name = name
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.globals = global_args
        self.meta = meta
        self.first_facts: list[FactRequest] | tuple[FactRequest, ...] = ()
        self.precomputed: tuple[list[Any], PlanContext] | None = None
        self.index = 0
        self.deploy_dir = deploy_dir.get()
        self.memo: dict[str, Any] | None = None  # op_memo(), made when first used
        self.shell_safe = bool(getattr(func, "_oxinfra_shell_safe", False))
        # The discovery shared with every host making the same call (api/reuse.py), if any.
        self.shared: SharedCall | None = None


    def for_host(self, host_name: str) -> "OpCall":
        """This call as another host makes it (same arguments and shared discovery; its own
        outcome). Only for calls whose discovery is shared (``shared``)."""
        copy = _new_call(OpCall)
        copy.key, copy.label, copy.name, copy.func = self.key, self.label, self.name, self.func
        copy.args, copy.kwargs, copy.globals = self.args, self.kwargs, self.globals
        copy.meta = OperationMeta(self.meta.op_name, host_name)
        copy.first_facts, copy.precomputed, copy.index = self.first_facts, self.precomputed, self.index
        shared = self.shared
        assert shared is not None
        copy.deploy_dir, copy.shell_safe, copy.shared = self.deploy_dir, self.shell_safe, shared
        copy.memo = dict(shared.memo) if shared.memo else None
        return copy


_new_call = object.__new__


class Recorder:
    """Collects the operation calls of one host while its deploy files run."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.ops: list[OpCall] = []
        self.deploy_args: list[dict[str, Any]] = [{}]
        self.deploy_names: list[str] = []
        self._seen: dict[tuple[Any, ...], int] = {}
        self.stop_code: Any = None  # the code object of the frame that runs deploy files

    def call_site(self) -> tuple[tuple[Any, ...], str]:
        """The key of the current call: the chain of deploy-code lines that led to it, plus
        how many times this chain has been seen on this host (loops)."""
        frame = sys._getframe(2)
        stop = self.stop_code
        back = frame.f_back
        filename = frame.f_code.co_filename
        if back is not None and back.f_code is stop and not filename.startswith(_PACKAGE_DIR):
            site: tuple[tuple[str, int], ...] = ((filename, frame.f_lineno),)  # top level of a deploy file
        else:
            chain: list[tuple[str, int]] = []
            walk: Any = frame
            while walk is not None and walk.f_code is not stop:
                filename = walk.f_code.co_filename
                if not filename.startswith(_PACKAGE_DIR):
                    chain.append((filename, walk.f_lineno))
                walk = walk.f_back
            chain.reverse()
            site = tuple(chain)
        count = self._seen.get(site, 0)
        self._seen[site] = count + 1
        if not count:
            return _first_call_key(site), _site_label(site[-1] if site else None)
        label = _site_label(site[-1] if site else None) + f" (call {count + 1})"
        return site + (count,), label


@functools.lru_cache(maxsize=4096)
def _first_call_key(site: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
    """The key of the first call from ``site`` (one tuple shared by every host)."""
    return site + (0,)


@functools.lru_cache(maxsize=4096)
def _site_label(where: tuple[str, int] | None) -> str:
    return f"{os.path.basename(where[0])}:{where[1]}" if where else "<unknown>"


_recorder: ContextVar[Recorder | None] = ContextVar("oxinfra_recorder", default=None)


def current_recorder() -> Recorder | None:
    return _recorder.get()


class PlanContext:
    """What an operation says about itself while it is planned: why it does nothing, which
    paths its commands may change (so later facts about other paths need no re-check),
    which directories it creates, and a per-call memo (work done in discovery is reused)."""

    __slots__ = ("noops", "touched", "subtrees", "created_dirs", "known_dirs", "memo", "contents")

    def __init__(self, known_dirs: set[str] | None = None, memo: dict[str, Any] | None = None) -> None:
        self.noops: list[str] = []
        self.touched: set[str] = set()
        self.subtrees: list[str] = []
        self.created_dirs: list[str] = []
        self.known_dirs = known_dirs if known_dirs is not None else set()
        self.memo = memo if memo is not None else {}
        self.contents: dict[str, bytes] = {}

    @property
    def declared(self) -> bool:
        return bool(self.touched or self.subtrees)


_planning: ContextVar[PlanContext | None] = ContextVar("oxinfra_planning", default=None)


def noop(reason: str) -> None:
    """Say why the operation being planned does nothing (``host.noop(...)``)."""
    ctx = _planning.get()
    if ctx is not None:
        ctx.noops.append(reason)


def touches(path: str, subtree: bool = False, ancestors: bool = False) -> None:
    """Declare that the operation's commands may change ``path`` (and its parent directory's
    listing; with ``ancestors`` every directory above it; with ``subtree`` everything below
    it). An operation that declares nothing is taken to change anything."""
    ctx = _planning.get()
    if ctx is None:
        return
    root = posixpath.normpath(path)
    ctx.touched.add(root)
    above = _ancestors(root)
    if above:
        ctx.touched.update(above if ancestors else above[:1])
    if subtree:
        ctx.subtrees.append(root)


@functools.lru_cache(maxsize=1 << 16)
def _ancestors(path: str) -> tuple[str, ...]:
    """The directories above a normalised path, nearest first (shared prefixes are cached)."""
    cut = path.rfind("/")
    if cut < 0 or path == "/":
        return ()
    if cut == 0:
        return ("/",)
    parent = path[:cut]
    return (parent, *_ancestors(parent))


def ensure_directory(path: str) -> list[str]:
    """``mkdir -p path`` unless an earlier operation on this host already made sure it exists."""
    from oxinfra.quoting import command

    path = posixpath.normpath(path)
    ctx = _planning.get()
    if ctx is not None:
        if path in ctx.known_dirs or path == "/":
            return []
        ctx.created_dirs.append(path)
    return [command("mkdir", "-p", "--", path)]


def mark_directory(path: str) -> None:
    """Record that the operation's commands create the directory ``path``."""
    ctx = _planning.get()
    if ctx is not None:
        ctx.created_dirs.append(posixpath.normpath(path))


def predict_content(path: str, data: bytes) -> None:
    """Record that after the operation the file ``path`` holds exactly ``data``. Later
    operations' content facts (grep, checksums) are then predicted from it instead of read
    again; the prediction is still checked on the host before they run."""
    ctx = _planning.get()
    if ctx is not None:
        ctx.contents[posixpath.normpath(path)] = data


def op_memo() -> dict[str, Any]:
    """A dict kept with the operation call on this host (discovery and planning share it)."""
    ctx = _planning.get()
    return ctx.memo if ctx is not None else {}


def get_facts(host: Any, requests: list[tuple[type, dict[str, Any]]]) -> list[Any]:
    """Read several facts at once. Where some are not gathered yet, all missing ones are
    asked for together, so an operation's facts cost one batch, not one round each."""
    from oxinfra.api.facts import resolve_fact

    values: list[Any] = []
    missing: list[FactRequest] = []
    for cls, kwargs in requests:
        try:
            values.append(resolve_fact(host, cls, (), kwargs))
        except FactMissing as exc:
            missing.extend(exc.requests)
            values.append(None)
    if missing:
        raise FactMissing(*missing)
    return values


def operation(func: Callable[..., Any] | None = None, *, is_idempotent: bool = True,
              shell_safe: bool = False) -> Any:
    """Turn a generator function into an operation (``@operation()`` or ``@operation``).

    ``shell_safe=True`` promises that the operation's commands never ``exit``, ``cd`` or set
    shell variables, so they may run in the host's shell without a subshell of their own.
    """

    def decorate(gen_func: Callable[..., Any]) -> Callable[..., OperationMeta]:
        gen_func._oxinfra_shell_safe = shell_safe  # type: ignore[attr-defined]
        if not inspect.isgeneratorfunction(gen_func):
            raise TypeError(f"@operation needs a generator function (one that yields): {gen_func.__qualname__}")
        signature = inspect.signature(gen_func)
        valid_shapes: set[tuple[Any, ...]] = set()
        module = gen_func.__module__.rsplit(".", 1)[-1]
        op_name = f"{module}.{gen_func.__name__}"

        @functools.wraps(gen_func)
        def wrapper(*args: Any, **kwargs: Any) -> OperationMeta:
            recorder = _recorder.get()
            if recorder is None:
                raise OperationError(
                    f"{op_name}() was called outside a deploy: run the file with the oxinfra CLI "
                    "or oxinfra.api.run()"
                )
            key, label = recorder.call_site()
            global_args, own = split_global_args(kwargs, recorder.deploy_args[-1], lambda: f"{label}: {op_name}()")
            name = own.pop("name", None)
            shape = (len(args), *own)
            if shape not in valid_shapes:  # arity and names only: the same shape binds the same way
                try:
                    signature.bind(*args, **own)
                except TypeError as exc:
                    raise OperationTypeError(f"{label}: {op_name}(): {exc}") from None
                valid_shapes.add(shape)
            display = name or op_name
            if recorder.deploy_names:
                display = f"{recorder.deploy_names[-1]} | {display}"
            meta = OperationMeta(display, recorder.host.name)
            call = OpCall(key, label, display, gen_func, args, own, global_args, meta)
            call.index = len(recorder.ops)
            recorder.ops.append(call)
            memo = run_memo.get()
            if memo is None:
                discover(recorder.host, call)
                return meta
            shared_key = call_key(gen_func, args, own, global_args, call.deploy_dir)
            shared = memo.calls.get(shared_key) if shared_key is not None else None
            if shared is None:
                if discover(recorder.host, call) and shared_key is not None and len(memo.calls) < memo.max_calls:
                    shared = memo.calls[shared_key] = SharedCall(call.first_facts, call.precomputed,
                                                                 dict(call.memo) if call.memo else {})
                    call.shared = shared
            else:
                call.first_facts = shared.first_facts
                call.precomputed = shared.precomputed
                call.memo = dict(shared.memo) if shared.memo else None  # the host's own; discovery's work kept
                call.shared = shared
            return meta

        wrapper._oxinfra_operation = True  # type: ignore[attr-defined]
        wrapper.is_idempotent = is_idempotent  # type: ignore[attr-defined]
        return wrapper

    if func is not None:
        return decorate(func)
    return decorate


def _no_facts(host: Any, request: FactRequest) -> Any:
    raise FactMissing(request)


def discover(host: Any, call: OpCall) -> bool:
    """Run the generator with no facts at all: errors in the arguments (a template that
    does not render, a bad value) surface now, before any host changes; the facts it reads
    first are noted so the first batch can gather them; an operation that reads no facts is
    planned here once. Returns whether the result may be shared with other hosts making the
    same call (the operation did not read the host itself)."""
    reads = [False, False]
    reads_token = host_reads.set(reads)
    token = fact_source.set(_no_facts)
    ctx_token = fact_context.set(call.globals.privilege)
    if call.memo is None:
        call.memo = {}
    ctx = PlanContext(memo=call.memo)
    noop_token = _planning.set(ctx)
    try:
        commands = list(call.func(*call.args, **call.kwargs))
    except FactMissing as exc:
        call.first_facts = exc.requests
    except (OperationError, DeployError):
        raise
    except Exception as exc:  # an operation's own bug or bad argument: name the call
        raise OperationError(f"{call.label}: {call.name}: {type(exc).__name__}: {exc}") from exc
    else:
        call.precomputed = (commands, ctx)
    finally:
        _planning.reset(noop_token)
        fact_context.reset(ctx_token)
        fact_source.reset(token)
        host_reads.reset(reads_token)
    return not reads[0]
