"""The in-memory host: filesystem nodes, :class:`SimHost` and the process's machines."""

from __future__ import annotations

import posixpath
import time
from typing import Any, Mapping

_ENC = "utf-8"
_ERRORS = "surrogateescape"


# --------------------------------------------------------------------------------------------
# The in-memory host
# --------------------------------------------------------------------------------------------


class Node:
    """One filesystem object. ``kind`` is ``d`` (directory), ``f`` (file) or ``l`` (link).
    File content is text decoded with surrogateescape (lossless for any bytes)."""

    __slots__ = ("kind", "mode", "user", "group", "data", "target", "atime", "mtime", "ctime")

    def __init__(self, kind: str, mode: int, user: str, group: str, now: int, data: str = "", target: str = "") -> None:
        self.kind = kind
        self.mode = mode
        self.user = user
        self.group = group
        self.data = data
        self.target = target
        self.atime = self.mtime = self.ctime = now

    def content(self) -> bytes:
        return self.data.encode(_ENC, _ERRORS)

    def size(self) -> int:
        if self.kind == "d":
            return 4096
        text = self.target if self.kind == "l" else self.data
        return len(text) if text.isascii() else len(text.encode(_ENC, _ERRORS))

    def __repr__(self) -> str:
        return f"Node({self.kind!r}, {self.mode:o}, {self.user}:{self.group})"


class FsError(Exception):
    """A filesystem call failed; ``str()`` is the strerror text."""


_ENOENT = "No such file or directory"
_ENOTDIR = "Not a directory"
_EEXIST = "File exists"
_EISDIR = "Is a directory"


def _now() -> int:
    return int(time.time())


class SimHost:
    """The state of one simulated machine: a flat map of canonical absolute paths to nodes
    (every ancestor of a path is a directory in the map), its name and its login user."""

    def __init__(self, name: str, user: str = "root", files: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.user = user
        now = _now()
        self.fs: dict[str, Node] = {
            "/": Node("d", 0o755, "root", "root", now),
            "/tmp": Node("d", 0o1777, "root", "root", now),
        }
        home = self.home(user)
        self._mkdirs(home, "root", now)
        self.fs[home].user = self.fs[home].group = user
        for path, content in (files or {}).items():
            self.write_file(path, content, now=now)
        # While nothing has changed this machine since it was made: what makes its state
        # (the login user, the seeded files, the second it was made). Two machines with equal
        # keys answer every read-only script alike (see SimShell). None once anything changed.
        self.pristine: tuple[Any, ...] | None = (
            user,
            tuple(sorted((str(p), c if isinstance(c, (str, bytes)) else str(c)) for p, c in (files or {}).items())),
            now,
        )

    @staticmethod
    def home(user: str) -> str:
        return "/root" if user == "root" else f"/home/{user}"

    def _mkdirs(self, path: str, user: str, now: int) -> None:
        parts = [p for p in path.split("/") if p]
        cur = ""
        for part in parts:
            cur += "/" + part
            if cur not in self.fs:
                self.fs[cur] = Node("d", 0o755, user, user, now)

    def write_file(
        self, path: str, content: str | bytes, mode: int = 0o644, user: str = "root", now: int | None = None
    ) -> None:
        """Seed a file (parents are created as root-owned directories)."""
        self.pristine = None  # set again at the end of __init__ for the seeds given there
        path = posixpath.normpath("/" + path.lstrip("/"))
        now = _now() if now is None else now
        self._mkdirs(posixpath.dirname(path), "root", now)
        data = content.decode(_ENC, _ERRORS) if isinstance(content, bytes) else str(content)
        self.fs[path] = Node("f", mode, user, user, now, data=data)

    # -- lookups ------------------------------------------------------------------------

    def resolve(self, path: str, follow: bool = True, cwd: str = "/") -> tuple[str, Node | None]:
        """The canonical path of ``path`` and its node (None if only the last component is
        missing). Symbolic links are followed in every component but the last, and in the
        last too when ``follow``. Raises FsError when an earlier component is missing or is
        not a directory."""
        fs = self.fs
        if path[:1] == "/" and "/." not in path and "//" not in path and (len(path) == 1 or path[-1] != "/"):
            node = fs.get(path)
            if node is None:
                parent = fs.get(path.rpartition("/")[0] or "/")
                if parent is not None and parent.kind == "d":
                    return path, None
            elif node.kind != "l" or not follow:
                return path, node
        if not path:
            raise FsError(_ENOENT)
        if path[0] != "/":
            path = cwd.rstrip("/") + "/" + path
        trailing = path.endswith("/")
        parts = [p for p in path.split("/") if p and p != "."]
        cur = ""
        i = 0
        hops = 0
        while i < len(parts):
            part = parts[i]
            if part == "..":
                cur = cur.rsplit("/", 1)[0]
                i += 1
                continue
            cand = cur + "/" + part
            node = fs.get(cand)
            last = i == len(parts) - 1
            if node is None:
                if last:
                    return cand, None
                raise FsError(_ENOENT)
            if node.kind == "l" and (follow or not last or trailing):
                hops += 1
                if hops > 40:
                    raise FsError("Too many levels of symbolic links")
                target = node.target
                if target.startswith("/"):
                    cur = ""
                parts = [p for p in target.split("/") if p and p != "."] + parts[i + 1 :]
                i = 0
                continue
            if not last and node.kind != "d":
                raise FsError(_ENOTDIR)
            cur = cand
            i += 1
        if trailing and cur and fs[cur].kind != "d":
            raise FsError(_ENOTDIR)
        return cur or "/", fs[cur or "/"]

    def parent_dir(self, canonical: str) -> Node:
        parent = self.fs.get(posixpath.dirname(canonical))
        if parent is None:
            raise FsError(_ENOENT)
        if parent.kind != "d":
            raise FsError(_ENOTDIR)
        return parent

    def children(self, canonical: str) -> list[str]:
        prefix = canonical.rstrip("/") + "/"
        return [p for p in self.fs if p.startswith(prefix)]

    # -- changes ------------------------------------------------------------------------

    def add(self, canonical: str, node: Node) -> None:
        self.pristine = None
        parent = self.parent_dir(canonical)
        parent.mtime = parent.ctime = node.ctime
        self.fs[canonical] = node

    def remove(self, canonical: str) -> None:
        self.pristine = None
        node = self.fs.pop(canonical)
        if node.kind == "d":
            for path in self.children(canonical):
                del self.fs[path]
        parent = self.fs.get(posixpath.dirname(canonical))
        if parent is not None:
            parent.mtime = parent.ctime = _now()

    def rename(self, src: str, dest: str) -> None:
        self.pristine = None
        node = self.fs.pop(src)
        now = _now()
        if dest in self.fs:
            self.remove(dest)
        self.add(dest, node)
        node.ctime = now
        if node.kind == "d":
            for path in self.children(src):
                self.fs[dest + path[len(src) :]] = self.fs.pop(path)
        parent = self.fs.get(posixpath.dirname(src))
        if parent is not None:
            parent.mtime = parent.ctime = now

    def write(self, path: str, text: str, append: bool, user: str, cwd: str = "/", mode: int = 0o644) -> None:
        """Write (or append) ``text``; a new file gets ``mode`` (the shell's 666 & ~umask)."""
        self.pristine = None
        canonical, node = self.resolve(path, True, cwd)
        now = _now()
        if node is None:
            self.add(canonical, Node("f", mode, user, user, now, data=text))
            return
        if node.kind == "d":
            raise FsError(_EISDIR)
        node.data = node.data + text if append else text
        node.mtime = node.ctime = now

    def read(self, path: str, cwd: str = "/") -> str:
        if path == "/dev/null":  # reads as empty, as on every host
            return ""
        _, node = self.resolve(path, True, cwd)
        if node is None:
            raise FsError(_ENOENT)
        if node.kind == "d":
            raise FsError(_EISDIR)
        return node.data

    def tree(self) -> dict[str, Any]:
        """A snapshot for tests: path -> ("d", mode, user, group) / ("f", ..., bytes) /
        ("l", ..., target)."""
        out: dict[str, Any] = {}
        for path, node in sorted(self.fs.items()):
            extra = node.content() if node.kind == "f" else node.target if node.kind == "l" else None
            out[path] = (node.kind, f"{node.mode:o}", node.user, node.group, extra)
        return out


_MACHINES: dict[str, SimHost] = {}


def machine(name: str, data: Mapping[str, Any] | None = None) -> SimHost:
    """The simulated machine ``name`` (the part after ``@sim/``), made on first use from
    host data ``sim_user`` and ``sim_files``."""
    found = _MACHINES.get(name)
    if found is None:
        data = data or {}
        found = _MACHINES[name] = SimHost(name, data.get("sim_user") or "root", data.get("sim_files"))
    return found


def machines() -> dict[str, SimHost]:
    """Every simulated machine of this process, by name."""
    return _MACHINES


def reset(names: Any = None) -> None:
    """Forget simulated machines (all of them, or those named): they start empty again."""
    if names is None:
        _MACHINES.clear()
    else:
        for name in names:
            _MACHINES.pop(name, None)
