"""What an operation says about itself while it is planned: why it does nothing, which paths
its commands may change, which directories it creates, what a file will hold afterwards.

Operations call these from their generator; outside planning (a deploy file calling an
operation's generator directly) they record nothing. The engine reads the answers from the
:class:`PlanContext` it puts in context (``scope(plan=...)``) for each operation it plans.
"""

from __future__ import annotations

import functools
import posixpath
from typing import Any

from oxinfra.api.context import current_plan

__all__ = [
    "PlanContext", "noop", "touches", "ensure_directory", "mark_directory", "predict_content", "op_memo",
]


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


def op_memo() -> dict[str, Any]:
    """A dict kept with the operation call on this host (discovery and planning share it)."""
    ctx = current_plan()
    return ctx.memo if ctx is not None else {}
