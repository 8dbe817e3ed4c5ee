"""What an operation says about itself while it is planned: why it does nothing, which paths
its commands may change, which directories it creates, what a file will hold afterwards,
and (for ``--diff``) how a file's content changes.

Operations call these from their generator; outside planning (a deploy file calling an
operation's generator directly) they record nothing. The engine reads the answers from the
:class:`PlanContext` it puts in context (``scope(plan=...)``) for each operation it plans,
and drains the generator with :func:`plan_commands`.

An operation composed into another (``yield from files.put._inner(...)``, see
:mod:`oxinfra.api.operation`) says these things about the operation that composes it: its
facts, ``touches``, ``noop`` reasons, predicted contents and created directories are the
caller's.
"""

from __future__ import annotations

import functools
import posixpath
from typing import Any

from oxinfra.api.context import current_plan, wants_diff
from oxinfra.api.facts import FactMissing, FactRequest

__all__ = [
    "PlanContext",
    "noop",
    "touches",
    "ensure_directory",
    "mark_directory",
    "predict_content",
    "predict_fact",
    "content_change",
    "change_note",
    "op_memo",
    "plan_commands",
]


class PlanContext:
    """What an operation says about itself while it is planned: why it does nothing, which
    paths its commands may change (so later facts about other paths need no re-check),
    which directories it creates, and a per-call memo (work done in discovery is reused).

    The rest is bookkeeping for composed operations (``_inner``): ``shell_safe`` and
    ``quiet`` are the promises of the operation being planned; ``missing`` the facts composed operations asked
    for that are not gathered yet (noted instead of raised only while :func:`plan_commands`
    drains the generator and says so in ``collect_missing``: it asks for them);
    ``own_declared`` whether the generator running now (the operation, or the composed one
    inside it) called :func:`touches`; ``composed`` how many commands composed operations
    yielded, ``compositions`` how many were started; ``undeclared`` that some part yielded
    commands without declaring what they change (so the whole may change anything);
    ``inner_error`` the last error raised inside a composed operation."""

    __slots__ = (
        "noops",
        "touched",
        "subtrees",
        "created_dirs",
        "known_dirs",
        "memo",
        "contents",
        "fact_values",
        "shell_safe",
        "quiet",
        "missing",
        "collect_missing",
        "own_declared",
        "composed",
        "compositions",
        "undeclared",
        "inner_error",
        "diffs",
    )

    def __init__(
        self,
        known_dirs: set[str] | None = None,
        memo: dict[str, Any] | None = None,
        shell_safe: bool = False,
        quiet: bool = False,
    ) -> None:
        self.noops: list[str] = []
        self.touched: set[str] = set()
        self.subtrees: list[str] = []
        self.created_dirs: list[str] = []
        self.known_dirs = known_dirs if known_dirs is not None else set()
        self.memo = memo if memo is not None else {}
        self.contents: dict[str, bytes] = {}
        self.fact_values: dict[tuple[str, str, str], Any] = {}
        self.shell_safe = shell_safe
        self.quiet = quiet
        self.missing: list[FactRequest] = []
        self.collect_missing = False
        self.own_declared = False
        self.composed = 0
        self.compositions = 0
        self.undeclared = False
        self.inner_error: BaseException | None = None
        #: ``--diff``: (path, before, after, note) of each file whose content (or only mode
        #: or owner: ``before`` is :data:`NOTE`) the commands change; None when not asked.
        self.diffs: list[tuple[str, Any, bytes | None, str | None]] | None = [] if wants_diff() else None

    @property
    def declared(self) -> bool:
        """Whether the paths in ``touched`` and ``subtrees`` are all the commands may change:
        something was declared, and no part that yielded commands declared nothing."""
        return not self.undeclared and bool(self.touched or self.subtrees)


def plan_commands(ctx: PlanContext, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """Run an operation's generator to the end (with ``ctx`` in context) and return what it
    yielded. Facts that composed operations could not read yet are asked for together
    (:class:`FactMissing` with all of them) once the generator is done, so composing two
    operations costs one batch of facts, not two; an error the composing code raises after
    a composed operation was cut short by a missing fact may come from that, so it waits
    for the facts too (an error raised inside a composed operation is its own and raises)."""
    ctx.collect_missing = True
    try:
        commands = list(func(*args, **kwargs))
    except FactMissing as exc:
        if ctx.missing:
            raise FactMissing(*ctx.missing, *exc.requests) from None
        raise
    except Exception as exc:
        if ctx.missing and exc is not ctx.inner_error:
            raise FactMissing(*ctx.missing) from None
        raise
    if ctx.missing:
        raise FactMissing(*ctx.missing)
    if len(commands) > ctx.composed and not ctx.own_declared:
        ctx.undeclared = True  # its own commands may change anything
    return commands


def noop(reason: str) -> None:
    """Say why the operation being planned does nothing (``host.noop(...)``)."""
    ctx = current_plan()
    if ctx is not None:
        ctx.noops.append(reason)


def touches(path: str, subtree: bool = False, ancestors: bool = False) -> None:
    """Declare that the operation's commands may change ``path`` (and its parent directory's
    listing; with ``ancestors`` every directory above it; with ``subtree`` everything below
    it). An operation that declares nothing is taken to change anything."""
    ctx = current_plan()
    if ctx is None:
        return
    ctx.own_declared = True
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
    ctx = current_plan()
    if ctx is not None:
        if path in ctx.known_dirs or path == "/":
            return []
        ctx.created_dirs.append(path)
    return [command("mkdir", "-p", "--", path)]


def mark_directory(path: str) -> None:
    """Record that the operation's commands create the directory ``path``."""
    ctx = current_plan()
    if ctx is not None:
        ctx.created_dirs.append(posixpath.normpath(path))


def predict_content(path: str, data: bytes) -> None:
    """Record that after the operation the file ``path`` holds exactly ``data``. Later
    operations' content facts (grep, checksums) are then predicted from it instead of read
    again; the prediction is still checked on the host before they run."""
    ctx = current_plan()
    if ctx is not None:
        ctx.contents[posixpath.normpath(path)] = data


def fact_key(cls: type, command: str) -> tuple[str, str, str]:
    """What a fact predicted by :func:`predict_fact` is found by: its class and command."""
    return (cls.__module__, cls.__qualname__, command)


def predict_fact(cls: type, kwargs: dict[str, Any], value: Any) -> None:
    """Record the value the fact ``cls(**kwargs)`` has once the operation ran (the accounts
    after ``server.user`` created one: ``server.Users``). Only ``--dry`` uses it, for the
    operations after this one on the host: a dry run cannot read the host again, so it
    plans them from this value instead of the one read before the run. A real run reads
    such a fact again on the host (a guard) and never uses the prediction."""
    ctx = current_plan()
    if ctx is not None:
        ctx.fact_values[fact_key(cls, str(cls().command(**kwargs)))] = value


#: ``before`` of a :func:`change_note`: no content change, only what the note says.
NOTE = object()


def content_change(path: str, before: Any, after: bytes | None, note: str | None = None) -> None:
    """Say, for ``--diff``, that the commands change what the file ``path`` holds: from
    ``before`` (the value of ``files.DiffContent`` read with the operation's facts, ``None``
    for no file, or what that fact gives when it is not known) to ``after`` (None when the
    operation cannot tell exactly, with ``note`` saying why: ``"sed expression"``). Nothing
    is recorded when the run shows no diffs; nothing here changes what the operation does."""
    ctx = current_plan()
    if ctx is not None and ctx.diffs is not None:
        ctx.diffs.append((path, before, after, note))


def change_note(path: str, note: str) -> None:
    """Say, for ``--diff``, what the commands change about ``path`` besides its content
    (``"mode 644 -> 600"``)."""
    ctx = current_plan()
    if ctx is not None and ctx.diffs is not None:
        ctx.diffs.append((path, NOTE, None, note))


def op_memo() -> dict[str, Any]:
    """A dict kept with the operation call on this host (discovery and planning share it)."""
    ctx = current_plan()
    return ctx.memo if ctx is not None else {}
