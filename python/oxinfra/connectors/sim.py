"""``@sim/NAME``: a simulated host, for benchmarking and testing deploys at scale with no network.

A :class:`SimConnection` is a real connector: the run, the facts, the planning, the scripts
and the markers are exactly the production ones. Only the far end differs: instead of an
``sh`` on a machine, the scripts oxinfra sends are interpreted in Python against an
in-memory filesystem (:class:`SimHost`: paths -> directories, files and symbolic links with
mode, owner, group, content, link target and times).

What is interpreted is the dialect :mod:`oxinfra.api.script` writes, and the commands the
built-in facts and operations use -- not a general shell:

* shell syntax: simple commands, ``;``/``&&``/``||``/``|``, ``{ }``, ``( )``, ``if``, ``while``,
  ``for``, function definitions, single/double quotes, ``$VAR``, ``$?``, ``$( )``, ``$(( ))``
  (+ and -), ``~user``, redirections ``<``, ``>``, ``>>``, ``>&2``, ``2>``, quoted
  here-documents. There is no field splitting and no pathname expansion (oxinfra quotes
  every value).
* the marker functions of the prelude run natively -- but only functions whose definition
  is exactly one of :func:`oxinfra.api.script.prelude`'s and whose interpreted body prints
  the same bytes as the native one (checked once per process); any other function is
  interpreted;
* commands: ``:``, ``true``, ``false``, ``test``/``[``, ``echo``, ``printf``, ``exit``,
  ``break``, ``export``, ``cd``, ``sleep`` (does not sleep), ``command -v``, ``id``,
  ``uname``, ``stat -c``, ``readlink``, ``sha1sum``/``sha256sum``/``md5sum``, ``grep``
  (literal patterns directly, BRE/ERE through Python's ``re``; a file with a NUL byte is
  binary: "binary file matches" on stderr only, as GNU grep 3.5+), ``mkdir``, ``chmod``
  (octal modes), ``chown``, ``chgrp``, ``touch``, ``ln``, ``rm``, ``mv``, ``cp``, ``cat``,
  ``base64 -d``, ``tail -c``, ``sed -i`` (``s/RE/REPL/FLAGS`` and ``/RE/d``), and
  ``sh -c``, ``sudo``, ``su -c``, ``timeout`` (which run their command, as the given user).
* **any other command** (a user's ``server.shell`` commands, package managers, ...) succeeds
  with no output and changes nothing. Commands from the list above run for real against the
  in-memory filesystem wherever they appear, ``server.shell`` included: ``echo x > /etc/f``
  fails on a fresh host, which has no ``/etc`` (seed one with ``sim_files``).

A fresh host holds ``/``, ``/tmp`` (1777) and the user's home, nothing else.

Permissions are not checked (every user may do anything); users and groups are names with no
database behind them. New files get mode 644, directories 755, owned by the user commands
run as. Times are whole seconds of the controller's clock; reads do not change atime.

Select it with host names ``@sim/NAME``. Host data:

* ``sim_user`` (default ``root``): the user commands run as (home ``/root`` for root, else
  ``/home/USER``);
* ``sim_files``: ``{path: content}`` to seed a fresh host with (parent directories are
  created);
* ``sim_latency``: seconds to wait per round trip (a simulated network).

A host's filesystem lives in this process (:func:`machine`, :func:`reset`) for as long as the
process does, so a second run in the same process sees what the first one did.

Speed: parsing is most of the cost, so parsed scripts are cached per *template* (the text
with the connection's nonce and the host's name replaced, see :func:`parse_script`): hosts
whose scripts differ only by those share one parse. standard-10's fact script costs about
0.1-0.3 ms per host, run 1's operation script under 1 ms; scripts that embed per-host
values (guards comparing timestamps or checksums in later runs) are parsed per host, about
0.25 ms per KB. :data:`stats` counts scripts and the seconds spent on them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import posixpath
import re
import time
from functools import lru_cache
from typing import Any, Callable, Mapping

from oxinfra.connectors.base import Connection
from oxinfra.exceptions import ConnectError

__all__ = ["SimConnection", "SimShell", "SimHost", "Node", "machine", "reset", "machines", "stats"]

_ENC = "utf-8"
_ERRORS = "surrogateescape"


# --------------------------------------------------------------------------------------------
# The in-memory host
# --------------------------------------------------------------------------------------------


class Node:
    """One filesystem object. ``kind`` is ``d`` (directory), ``f`` (file) or ``l`` (link).
    File content is text decoded with surrogateescape (lossless for any bytes)."""

    __slots__ = ("kind", "mode", "user", "group", "data", "target", "atime", "mtime", "ctime")

    def __init__(self, kind: str, mode: int, user: str, group: str, now: int,
                 data: str = "", target: str = "") -> None:
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
            self.write_file(path, content)

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

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644, user: str = "root") -> None:
        """Seed a file (parents are created as root-owned directories)."""
        path = posixpath.normpath("/" + path.lstrip("/"))
        now = _now()
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
                parts = [p for p in target.split("/") if p and p != "."] + parts[i + 1:]
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
        parent = self.parent_dir(canonical)
        parent.mtime = parent.ctime = node.ctime
        self.fs[canonical] = node

    def remove(self, canonical: str) -> None:
        node = self.fs.pop(canonical)
        if node.kind == "d":
            for path in self.children(canonical):
                del self.fs[path]
        parent = self.fs.get(posixpath.dirname(canonical))
        if parent is not None:
            parent.mtime = parent.ctime = _now()

    def rename(self, src: str, dest: str) -> None:
        node = self.fs.pop(src)
        now = _now()
        if dest in self.fs:
            self.remove(dest)
        self.add(dest, node)
        node.ctime = now
        if node.kind == "d":
            for path in self.children(src):
                self.fs[dest + path[len(src):]] = self.fs.pop(path)
        parent = self.fs.get(posixpath.dirname(src))
        if parent is not None:
            parent.mtime = parent.ctime = now

    def write(self, path: str, text: str, append: bool, user: str, cwd: str = "/") -> None:
        canonical, node = self.resolve(path, True, cwd)
        now = _now()
        if node is None:
            self.add(canonical, Node("f", 0o644, user, user, now, data=text))
            return
        if node.kind == "d":
            raise FsError(_EISDIR)
        node.data = node.data + text if append else text
        node.mtime = node.ctime = now

    def read(self, path: str, cwd: str = "/") -> str:
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


# --------------------------------------------------------------------------------------------
# Parsing the script dialect
# --------------------------------------------------------------------------------------------
#
# Nodes are tuples (tag, ...):
#   ("cmd", assigns, words, redirs)     assigns: [(name, word)]
#   ("andor", first, [(op, pipeline)])  ("pipe", negate, [command])
#   ("brace", body, redirs)  ("sub", body, redirs)  ("if", [(cond, body)], else, redirs)
#   ("while", cond, body, redirs)  ("func", name, body)
# A body is a list of nodes. A word is a str (no expansion needed) or a tuple of parts:
#   str | ("v", name) | ("c", body) | ("a", text) | ("~", user)
# A redirection is [op, fd, word, heredoc_body].


class ShellSyntaxError(Exception):
    pass


_PLAIN = re.compile(r"[^\s'\"\\$;&|()<>`]+")
_DQ_PLAIN = re.compile(r'[^"\\$`]+')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_REDIR = re.compile(r"([0-9]?)(>>|>&|<<|<&|>\||<|>)")
_TILDE = re.compile(r"~([A-Za-z0-9_.-]*)(?=/|$|[\s;&|()<>])")
_DELIMS = frozenset(" \t\n;&|()<>")
_RESERVED = frozenset(("{", "}", "if", "then", "else", "elif", "fi", "while", "until", "for", "do", "done", "!"))


class Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.heredocs: list[list[Any]] = []

    def error(self, what: str) -> ShellSyntaxError:
        line = self.s.count("\n", 0, self.i) + 1
        return ShellSyntaxError(f"line {line}: {what}")

    # -- tokens -------------------------------------------------------------------------

    def blanks(self) -> None:
        s, n = self.s, self.n
        i = self.i
        while i < n:
            c = s[i]
            if c == " " or c == "\t":
                i += 1
            elif c == "\\" and s.startswith("\\\n", i):
                i += 2
            elif c == "#":
                j = s.find("\n", i)
                i = n if j < 0 else j
            else:
                break
        self.i = i

    def newline(self) -> None:
        self.i += 1
        if self.heredocs:
            pending, self.heredocs = self.heredocs, []
            s, n = self.s, self.n
            for redir in pending:
                delim = redir[2]
                i = self.i
                if s.startswith(delim, i) and (i + len(delim) == n or s[i + len(delim)] == "\n"):
                    redir[3] = ""
                    self.i = min(n, i + len(delim) + 1)
                    continue
                k = s.find("\n" + delim + "\n", i)
                if k < 0:
                    if s.endswith("\n" + delim):
                        k = n - len(delim) - 1
                    else:
                        raise self.error(f"here-document {delim!r} has no end")
                redir[3] = s[i:k + 1]
                self.i = min(n, k + len(delim) + 2)

    def separators(self) -> None:
        """Skip blanks and newlines."""
        while True:
            self.blanks()
            if self.i < self.n and self.s[self.i] == "\n":
                self.newline()
            else:
                return

    def peek_reserved(self) -> str | None:
        m = _PLAIN.match(self.s, self.i)
        if m is None:
            return None
        word = m.group()
        if word in _RESERVED and (m.end() == self.n or self.s[m.end()] in _DELIMS):
            return word
        return None

    def expect(self, word: str) -> None:
        self.separators()
        if self.peek_reserved() != word:
            raise self.error(f"expected {word!r}")
        self.i += len(word)

    # -- grammar ------------------------------------------------------------------------

    def parse(self) -> list[Any]:
        body = self.parse_list(frozenset())
        self.separators()
        if self.i < self.n:
            raise self.error(f"unexpected {self.s[self.i:self.i + 20]!r}")
        return body

    def parse_list(self, stops: frozenset[str]) -> list[Any]:
        items: list[Any] = []
        s = self.s
        while True:
            self.separators()
            if self.i >= self.n or s[self.i] == ")":
                break
            word = self.peek_reserved()
            if word is not None and word in stops:
                break
            items.append(self.parse_and_or())
            self.blanks()
            if self.i < self.n:
                c = s[self.i]
                if c == "\n":
                    self.newline()
                    continue
                if c == ";" or (c == "&" and not s.startswith("&&", self.i)):
                    self.i += 1
                    continue
            break
        return items

    def parse_and_or(self) -> Any:
        first = self.parse_pipeline()
        rest = []
        s = self.s
        while True:
            self.blanks()
            op = s[self.i:self.i + 2]
            if op == "&&" or op == "||":
                self.i += 2
                self.separators()
                rest.append((op, self.parse_pipeline()))
            else:
                break
        return ("andor", first, rest) if rest else first

    def parse_pipeline(self) -> Any:
        self.blanks()
        negate = False
        if self.peek_reserved() == "!":
            negate = True
            self.i += 1
            self.blanks()
        commands = [self.parse_command()]
        s = self.s
        while True:
            self.blanks()
            if self.i < self.n and s[self.i] == "|" and not s.startswith("||", self.i):
                self.i += 1
                self.separators()
                commands.append(self.parse_command())
            else:
                break
        if negate or len(commands) > 1:
            return ("pipe", negate, commands)
        return commands[0]

    def parse_command(self) -> Any:
        self.blanks()
        if self.i >= self.n:
            raise self.error("unexpected end of script")
        c = self.s[self.i]
        if c == "(":
            self.i += 1
            body = self.parse_list(frozenset())
            self.separators()
            if self.i >= self.n or self.s[self.i] != ")":
                raise self.error("expected ')'")
            self.i += 1
            return ("sub", body, self.parse_redirs())
        word = self.peek_reserved()
        if word == "{":
            self.i += 1
            body = self.parse_list(frozenset(("}",)))
            self.expect("}")
            return ("brace", body, self.parse_redirs())
        if word == "if":
            self.i += 2
            branches = []
            else_body = None
            cond = self.parse_list(frozenset(("then",)))
            self.expect("then")
            body = self.parse_list(frozenset(("elif", "else", "fi")))
            branches.append((cond, body))
            while True:
                self.separators()
                word = self.peek_reserved()
                if word == "elif":
                    self.i += 4
                    cond = self.parse_list(frozenset(("then",)))
                    self.expect("then")
                    branches.append((cond, self.parse_list(frozenset(("elif", "else", "fi")))))
                elif word == "else":
                    self.i += 4
                    else_body = self.parse_list(frozenset(("fi",)))
                    self.expect("fi")
                    break
                else:
                    self.expect("fi")
                    break
            return ("if", branches, else_body, self.parse_redirs())
        if word == "for":
            self.i += 3
            self.blanks()
            m = _NAME.match(self.s, self.i)
            if m is None:
                raise self.error("expected a name after 'for'")
            name = m.group()
            self.i = m.end()
            self.blanks()
            items: list[Any] | None = None
            m = _PLAIN.match(self.s, self.i)
            if m is not None and m.group() == "in" and (m.end() == self.n or self.s[m.end()] in _DELIMS):
                self.i = m.end()
                items = []
                while True:
                    self.blanks()
                    if self.i >= self.n or self.s[self.i] in ";\n":
                        break
                    items.append(self.word())
            self.blanks()
            if self.i < self.n and self.s[self.i] == ";":
                self.i += 1
            self.expect("do")
            body = self.parse_list(frozenset(("done",)))
            self.expect("done")
            return ("for", name, items, body, self.parse_redirs())
        if word == "while" or word == "until":
            self.i += len(word)
            cond = self.parse_list(frozenset(("do",)))
            self.expect("do")
            body = self.parse_list(frozenset(("done",)))
            self.expect("done")
            if word == "until":
                cond = [("pipe", True, [("brace", cond, [])])]
            return ("while", cond, body, self.parse_redirs())
        if word is not None and word != "!":
            raise self.error(f"unexpected {word!r}")
        return self.parse_simple()

    def parse_redirs(self) -> list[Any]:
        redirs = []
        while True:
            self.blanks()
            m = _REDIR.match(self.s, self.i)
            if m is None:
                return redirs
            redirs.append(self.redirect(m))

    def redirect(self, m: re.Match[str]) -> list[Any]:
        fd, op = m.group(1), m.group(2)
        self.i = m.end()
        self.blanks()
        word = self.word()
        if word == "" and op != "<<":
            raise self.error(f"{op} names no file")
        if op == "<<":
            if not isinstance(word, str):
                raise self.error("here-document delimiters must be plain")
            redir = ["<<", 0, word, None]
            self.heredocs.append(redir)
            return redir
        default = 0 if op[0] == "<" else 1
        return [op, int(fd) if fd else default, word, None]

    def parse_simple(self) -> Any:
        assigns: list[Any] = []
        words: list[Any] = []
        redirs: list[Any] = []
        s = self.s
        while True:
            self.blanks()
            if self.i >= self.n:
                break
            c = s[self.i]
            if c in ";&|)\n":
                break
            if c == "(":
                if len(words) == 1 and not assigns and isinstance(words[0], str) and _NAME.fullmatch(words[0]):
                    self.i += 1
                    self.blanks()
                    if self.i >= self.n or s[self.i] != ")":
                        raise self.error("expected ')' in a function definition")
                    self.i += 1
                    self.separators()
                    return ("func", words[0], self.parse_command())
                raise self.error("unexpected '('")
            if c == "<" or c == ">" or c.isdigit():
                m = _REDIR.match(s, self.i)
                if m is not None:
                    redirs.append(self.redirect(m))
                    continue
            if not words:
                m = _ASSIGN.match(s, self.i)
                if m is not None:
                    self.i = m.end()
                    assigns.append((m.group(1), self.word()))
                    continue
            if not words and not assigns and c == "}":
                break
            words.append(self.word())
        if not words and not assigns and not redirs:
            raise self.error(f"expected a command at {s[self.i:self.i + 20]!r}")
        return ("cmd", assigns, words, redirs)

    def word(self) -> Any:
        """One word from the current position: a str when it needs no expansion."""
        s, n = self.s, self.n
        lits: list[str] = []
        parts: list[Any] = []
        if self.i < n and s[self.i] == "~":
            m = _TILDE.match(s, self.i)
            if m is not None:
                parts.append(("~", m.group(1)))
                self.i = m.end()
        while self.i < n:
            m = _PLAIN.match(s, self.i)
            if m is not None:
                lits.append(m.group())
                self.i = m.end()
                continue
            c = s[self.i]
            if c == "'":
                j = s.find("'", self.i + 1)
                if j < 0:
                    raise self.error("unterminated single quote")
                lits.append(s[self.i + 1:j])
                self.i = j + 1
            elif c == '"':
                self.i += 1
                while True:
                    if self.i >= n:
                        raise self.error("unterminated double quote")
                    m = _DQ_PLAIN.match(s, self.i)
                    if m is not None:
                        lits.append(m.group())
                        self.i = m.end()
                        continue
                    c = s[self.i]
                    if c == '"':
                        self.i += 1
                        break
                    if c == "\\":
                        nxt = s[self.i + 1:self.i + 2]
                        if nxt in ('"', "\\", "$", "`"):
                            lits.append(nxt)
                        elif nxt != "\n":
                            lits.append("\\" + nxt)
                        self.i += 2
                    elif c == "$":
                        self.dollar(lits, parts)
                    else:
                        raise self.error("backquotes are not supported")
            elif c == "\\":
                nxt = s[self.i + 1:self.i + 2]
                if nxt != "\n":
                    lits.append(nxt)
                self.i += 2
            elif c == "$":
                self.dollar(lits, parts)
            elif c == "`":
                raise self.error("backquotes are not supported")
            else:
                break
        if not parts:
            return "".join(lits)
        if lits:
            parts.append("".join(lits))
        return tuple(parts)

    def dollar(self, lits: list[str], parts: list[Any]) -> None:
        s = self.s
        i = self.i + 1
        c = s[i:i + 1]

        def flush() -> None:
            if lits:
                parts.append("".join(lits))
                lits.clear()

        if s.startswith("((", i):
            depth = 0
            j = i + 2
            while j < self.n:
                if s[j] == "(":
                    depth += 1
                elif s[j] == ")":
                    if depth == 0 and s.startswith("))", j):
                        break
                    depth -= 1
                j += 1
            else:
                raise self.error("unterminated $((")
            flush()
            parts.append(("a", s[i + 2:j]))
            self.i = j + 2
        elif c == "(":
            self.i = i + 1
            body = self.parse_list(frozenset())
            self.separators()
            if self.i >= self.n or s[self.i] != ")":
                raise self.error("unterminated $(")
            self.i += 1
            flush()
            parts.append(("c", body))
        elif c == "{":
            j = s.find("}", i)
            if j < 0:
                raise self.error("unterminated ${")
            flush()
            parts.append(("v", s[i + 1:j]))
            self.i = j + 1
        elif c and c in "?$#!@*-0123456789":
            flush()
            parts.append(("v", c))
            self.i = i + 1
        else:
            m = _NAME.match(s, i)
            if m is None:
                lits.append("$")
                self.i = i
                return
            flush()
            parts.append(("v", m.group()))
            self.i = m.end()


# Scripts of different hosts usually differ only by the connection's nonce and the host's
# name (in paths, in rendered files). Parsing is most of the simulator's cost, so a script is
# parsed once per *template*: its text with those strings replaced by placeholders that start
# with a NUL byte (a NUL can never be in a script: oxinfra.quoting rejects it). The placeholders
# are put back when words are expanded (Interpreter.restore). The replacement is exactly
# reversible, and it cannot change how the text parses as long as the replaced strings hold no
# shell syntax: the nonce is hex, and a host name is templated only if it has a character
# that no keyword or internal name has (``./@-``) and no character that means something to
# the shell. If a template does not parse, the script itself is parsed.

_NONCE_LINE = re.compile(r"__ox_n=([0-9a-f]+)\n")
_NAME_TEMPLATABLE = re.compile(r"[A-Za-z0-9_.@/-]*[.@/-][A-Za-z0-9_.@/-]*")
_PARSED: dict[str, list[Any]] = {}
_PARSED_MAX = 512


def template_of(text: str, subs: tuple[tuple[str, str], ...]) -> str:
    for placeholder, real in subs:
        text = text.replace(real, placeholder)
    return text


def substitutions(nonce: str | None, name: str) -> tuple[tuple[str, str], ...]:
    """(placeholder, real) pairs, in the order they are applied to a script's text."""
    subs = []
    if nonce and len(nonce) >= 16:
        subs += [("\x00N", nonce), ("\x00n", nonce[:8])]
    if len(name) >= 3 and _NAME_TEMPLATABLE.fullmatch(name):
        subs.append(("\x00H", name))
    return tuple(subs)


def parse_script(text: str, subs: tuple[tuple[str, str], ...] = ()) -> tuple[list[Any], bool]:
    """The parsed script, and whether it holds placeholders to restore."""
    if subs:
        key = template_of(text, subs)
        body = _PARSED.get(key)
        if body is not None:
            return body, True
        try:
            body = Parser(key).parse()
        except ShellSyntaxError:
            return Parser(text).parse(), False
        if len(_PARSED) >= _PARSED_MAX:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[key] = body
        return body, True
    return Parser(text).parse(), False


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Break(Exception):
    pass


# The marker functions of the prelude run natively (they are called after every section).
# A function gets a native implementation only if its parsed body is exactly that of a
# function of oxinfra's current prelude AND running that body in this interpreter prints
# exactly what the native one prints; anything else is interpreted like any other function.


def _marker_e(streams: str) -> Callable[[Interpreter, list[str]], int]:
    def marker(sh: Interpreter, argv: list[str]) -> int:
        a = argv[1] if len(argv) > 1 else ""
        b = argv[2] if len(argv) > 2 else ""
        text = f"\n@@OX-{sh.vars.get('__ox_n', '')}:E:{a}:{b}\n"
        if sh.out is not None:
            sh.out.append(text)
        if streams == "both" and sh.err is not None:
            sh.err.append(text)
        return 0

    return marker


def _marker_done(sh: Interpreter, argv: list[str]) -> int:
    text = f"\n@@OX-{sh.vars.get('__ox_n', '')}:DONE\n"
    if sh.out is not None:
        sh.out.append(text)
    if sh.err is not None:
        sh.err.append(text)
    return 0


_NATIVE_CANDIDATES = (_marker_e("both"), _marker_e("out"), _marker_done)
_natives: list[tuple[Any, Callable[[Interpreter, list[str]], int]]] | None = None


def _native_marker(body: Any) -> Callable[[Interpreter, list[str]], int] | None:
    global _natives
    if _natives is None:
        _natives = _verified_natives()
    for known, native in _natives:
        if body == known:
            return native
    return None


def _verified_natives() -> list[tuple[Any, Callable[[Interpreter, list[str]], int]]]:
    try:
        from oxinfra.api.script import prelude
    except ImportError:  # pragma: no cover
        return []
    nonce = "0123456789abcdef01234567"
    found = []
    for node in Parser(prelude(nonce)).parse():
        if node[0] != "func":
            continue
        for native in _NATIVE_CANDIDATES:
            results = []
            for impl in (node[2], native):
                sh = Interpreter(SimHost("check"))
                sh.vars["__ox_n"] = nonce
                out: list[str] = []
                err: list[str] = []
                sh.out, sh.err = out, err
                if type(impl) is tuple:
                    sh.positional = ["7", "stale"]
                    sh.run_node(impl)
                else:
                    impl(sh, ["f", "7", "stale"])
                results.append(("".join(out), "".join(err)))
            if results[0] == results[1]:
                found.append((node[2], native))
                break
    return found


class Interpreter:
    """One persistent shell of a simulated host: variables and functions survive between
    scripts, as in a real ``sh`` fed on stdin."""

    def __init__(self, host: SimHost) -> None:
        self.host = host
        self.vars: dict[str, str] = {"HOME": SimHost.home(host.user)}
        self.funcs: dict[str, Any] = {}
        self.positional: list[str] = []
        self.user = host.user
        self.cwd = SimHost.home(host.user)
        self.out: list[str] | None = None
        self.err: list[str] | None = None
        self.stdin = ""
        self.status = 0
        self.subs: tuple[tuple[str, str], ...] = ()

    # -- entry --------------------------------------------------------------------------

    def run_script(self, text: str, subs: tuple[tuple[str, str], ...] = ()) -> tuple[str, str]:
        body, templated = parse_script(text, subs)
        self.subs = subs if templated else ()
        out: list[str] = []
        err: list[str] = []
        self.out, self.err, self.stdin = out, err, ""
        try:
            self.run_body(body)
        except _Exit:
            raise
        except _Break:
            pass
        return "".join(out), "".join(err)

    # -- output -------------------------------------------------------------------------

    def say(self, text: str) -> None:
        if self.out is not None:
            self.out.append(text)

    def complain(self, text: str) -> None:
        if self.err is not None:
            self.err.append(text + "\n")

    # -- nodes --------------------------------------------------------------------------

    def run_body(self, body: list[Any]) -> int:
        status = self.status
        for node in body:
            status = self.run_node(node)
        return status

    def run_node(self, node: Any) -> int:
        tag = node[0]
        if tag == "cmd":
            status = self.run_cmd(node)
        elif tag == "andor":
            status = self.run_node(node[1])
            for op, pipeline in node[2]:
                if (op == "&&") == (status == 0):
                    status = self.run_node(pipeline)
        elif tag == "if":
            status = self.redirected(node[3], self._run_if, node)
        elif tag == "brace":
            status = self.redirected(node[2], self.run_body, node[1]) if node[2] else self.run_body(node[1])
        elif tag == "sub":
            status = self.redirected(node[2], self.subshell, node[1])
        elif tag == "pipe":
            status = self._run_pipe(node)
        elif tag == "while":
            status = self.redirected(node[3], self._run_while, node)
        elif tag == "for":
            status = self.redirected(node[4], self._run_for, node)
        elif tag == "func":
            self.funcs[node[1]] = _native_marker(node[2]) or node[2]
            status = 0
        else:  # pragma: no cover
            raise AssertionError(tag)
        self.status = status
        return status

    def _run_if(self, node: Any) -> int:
        for cond, body in node[1]:
            if self.run_body(cond) == 0:
                return self.run_body(body)
        if node[2] is not None:
            return self.run_body(node[2])
        return 0

    def _run_while(self, node: Any) -> int:
        status = 0
        for _ in range(100000):
            if self.run_body(node[1]) != 0:
                break
            try:
                status = self.run_body(node[2])
            except _Break:
                break
        return status

    def _run_for(self, node: Any) -> int:
        _, name, items, body, _ = node
        values = list(self.positional) if items is None else [self.expand(w) for w in items]
        status = 0
        for value in values:
            self.vars[name] = value
            try:
                status = self.run_body(body)
            except _Break:
                break
        return status

    def _run_pipe(self, node: Any) -> int:
        commands = node[2]
        saved_out, saved_in = self.out, self.stdin
        status = 0
        try:
            for k, command in enumerate(commands):
                last = k == len(commands) - 1
                buf: list[str] = []
                if not last:
                    self.out = buf
                status = self.subshell([command]) if len(commands) > 1 else self.run_node(command)
                self.stdin = "".join(buf)
                if not last:
                    self.out = saved_out
        finally:
            self.out, self.stdin = saved_out, saved_in
        if node[1]:
            status = 0 if status else 1
        return status

    def subshell(self, body: list[Any]) -> int:
        saved = (dict(self.vars), dict(self.funcs), self.cwd, self.user, list(self.positional))
        try:
            return self.run_body(body)
        except _Exit as exc:
            return exc.status
        except _Break:
            return 0
        finally:
            self.vars, self.funcs, self.cwd, self.user, self.positional = saved

    # -- words --------------------------------------------------------------------------

    def restore(self, text: str) -> str:
        """Put back what a parsed template replaced by placeholders (see parse_script)."""
        for placeholder, real in self.subs:
            text = text.replace(placeholder, real)
        return text

    def expand(self, word: Any) -> str:
        if type(word) is str:
            return word if "\x00" not in word else self.restore(word)
        out = []
        for part in word:
            if type(part) is str:
                out.append(part if "\x00" not in part else self.restore(part))
                continue
            kind = part[0]
            if kind == "v":
                out.append(self.variable(part[1]))
            elif kind == "c":
                out.append(self.substitute(part[1]))
            elif kind == "a":
                out.append(str(self.arithmetic(part[1])))
            else:  # "~"
                user = self.restore(part[1])
                out.append(SimHost.home(user) if user else self.vars.get("HOME", "/"))
        return "".join(out)

    def variable(self, name: str) -> str:
        if name.isdigit():
            k = int(name)
            return self.positional[k - 1] if 0 < k <= len(self.positional) else ("sh" if k == 0 else "")
        if name == "#":
            return str(len(self.positional))
        if name in ("@", "*"):
            return " ".join(self.positional)
        if name == "?":
            return str(self.status)
        if name == "$":
            return "4242"
        return self.vars.get(name, "")

    def substitute(self, body: list[Any]) -> str:
        saved_out = self.out
        buf: list[str] = []
        self.out = buf
        try:
            self.status = self.subshell(body)
        finally:
            self.out = saved_out
        return "".join(buf).rstrip("\n")

    def arithmetic(self, text: str) -> int:
        tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\$?[A-Za-z_][A-Za-z0-9_]*|\d+|[-+]", text)
        total, sign = 0, 1
        for token in tokens:
            if token == "+":
                sign = 1
            elif token == "-":
                sign = -1
            else:
                if token.isdigit():
                    value = int(token)
                else:
                    raw = self.vars.get(token.lstrip("$"), "0") or "0"
                    value = int(raw) if raw.lstrip("-").isdigit() else 0
                total += sign * value
                sign = 1
        return total

    # -- simple commands ------------------------------------------------------------------

    def run_cmd(self, node: Any) -> int:
        _, assigns, words, redirs = node
        argv = [w if type(w) is str and "\x00" not in w else self.expand(w) for w in words]
        if not argv:
            status = 0
            for name, value in assigns:
                before = self.status
                self.vars[name] = self.expand(value)
                if type(value) is not str and any(type(p) is tuple and p[0] == "c" for p in value):
                    status = self.status
                else:
                    self.status = before
            if redirs:
                return self.redirected(redirs, lambda _: status, None)
            return status
        if redirs:
            return self.redirected(redirs, self.call, argv)
        return self.call(argv)

    def call(self, argv: list[str]) -> int:
        name = argv[0]
        func = self.funcs.get(name)
        if func is not None:
            if type(func) is not tuple:
                return func(self, argv)
            saved = self.positional
            self.positional = argv[1:]
            try:
                return self.run_node(func)
            finally:
                self.positional = saved
        builtin = _BUILTINS.get(name)
        if builtin is None:
            return 0  # any other program: succeeds, prints nothing, changes nothing
        try:
            return builtin(self, argv)
        except FsError as exc:
            self.complain(f"{name}: {exc}")
            return 1

    def redirected(self, redirs: list[Any], fn: Callable[[Any], int], arg: Any) -> int:
        saved = (self.out, self.err, self.stdin)
        writes: list[tuple[str, list[str], bool]] = []
        host = self.host
        try:
            for op, fd, word, body in redirs:
                if op == "<<":
                    self.stdin = self.restore(body) if body and "\x00" in body else body or ""
                    continue
                target = self.expand(word)
                if op == "<":
                    if target == "/dev/null":
                        self.stdin = ""
                    else:
                        try:
                            self.stdin = host.read(target, self.cwd)
                        except FsError as exc:
                            self.complain(f"sh: cannot open {target}: {exc}")
                            return 2
                elif op == ">&":
                    sink = self.err if target == "2" else self.out if target == "1" else None
                    if fd == 2:
                        self.err = sink
                    else:
                        self.out = sink
                elif op == "<&":
                    continue
                else:
                    if target == "/dev/null":
                        sink = None
                    else:
                        append = op == ">>"
                        try:
                            host.write(target, "", append, self.user, self.cwd)
                        except FsError as exc:
                            self.complain(f"sh: cannot create {target}: {exc}")
                            return 2
                        sink = []
                        writes.append((target, sink, True))
                    if fd == 2:
                        self.err = sink
                    else:
                        self.out = sink
            status = fn(arg)
        finally:
            self.out, self.err, self.stdin = saved
        for target, sink, append in writes:
            if sink:
                try:
                    host.write(target, "".join(sink), append, self.user, self.cwd)
                except FsError:
                    pass
        return status


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _operands(argv: list[str], with_value: str = "") -> tuple[set[str], dict[str, str], list[str]]:
    """Split ``argv[1:]`` into single-letter flags, options taking a value (letters in
    ``with_value``), and operands (everything after ``--`` or the first non-option)."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    rest: list[str] = []
    args = argv[1:]
    k = 0
    while k < len(args):
        arg = args[k]
        if arg == "--":
            rest.extend(args[k + 1:])
            break
        if len(arg) > 1 and arg[0] == "-" and not rest:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in with_value:
                    if j + 1 < len(arg):
                        values[letter] = arg[j + 1:]
                    else:
                        k += 1
                        values[letter] = args[k] if k < len(args) else ""
                    break
                flags.add(letter)
                j += 1
        else:
            rest.append(arg)
        k += 1
    return flags, values, rest


def _true(sh: Interpreter, argv: list[str]) -> int:
    return 0


def _false(sh: Interpreter, argv: list[str]) -> int:
    return 1


def _exit(sh: Interpreter, argv: list[str]) -> int:
    value = argv[1] if len(argv) > 1 else str(sh.status)
    raise _Exit(int(value) & 255 if value.lstrip("-").isdigit() else 2)


def _break(sh: Interpreter, argv: list[str]) -> int:
    raise _Break()


def _export(sh: Interpreter, argv: list[str]) -> int:
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            sh.vars[name] = value
    return 0


def _cd(sh: Interpreter, argv: list[str]) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/")
    path, node = sh.host.resolve(target, True, sh.cwd)
    if node is None or node.kind != "d":
        sh.complain(f"sh: cd: can't cd to {target}")
        return 2
    sh.cwd = path
    return 0


def _test(sh: Interpreter, argv: list[str]) -> int:
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            sh.complain("[: missing ]")
            return 2
        args = args[:-1]
    try:
        return 0 if _evaluate_test(sh, args) else 1
    except ValueError as exc:
        sh.complain(f"test: {exc}")
        return 2


def _evaluate_test(sh: Interpreter, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!" and len(args) > 1:
        return not _evaluate_test(sh, args[1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, operand = args
        if op == "-z":
            return operand == ""
        if op == "-n":
            return operand != ""
        host = sh.host
        try:
            _, node = host.resolve(operand, op not in ("-L", "-h"), sh.cwd)
        except FsError:
            return False
        if op in ("-e", "-a"):
            return node is not None
        if op == "-f":
            return node is not None and node.kind == "f"
        if op == "-d":
            return node is not None and node.kind == "d"
        if op in ("-L", "-h"):
            return node is not None and node.kind == "l"
        if op == "-s":
            return node is not None and node.size() > 0
        if op in ("-r", "-w", "-x"):
            return node is not None
        raise ValueError(f"{op}: unexpected operator")
    if len(args) == 3:
        left, op, right = args
        if op == "=":
            return left == right
        if op == "!=":
            return left != right
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            try:
                a, b = int(left), int(right)
            except ValueError:
                raise ValueError("Illegal number") from None
            return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[op]
    raise ValueError("unsupported expression")


def _echo(sh: Interpreter, argv: list[str]) -> int:
    sh.say(" ".join(argv[1:]) + "\n")
    return 0


_PRINTF_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v",
                   '"': '"', "'": "'"}


@lru_cache(maxsize=256)
def _printf_format(fmt: str) -> tuple[tuple[str, str | None], ...]:
    """The format as (literal text, conversion or None) pairs."""
    pieces: list[tuple[str, str | None]] = []
    lit: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "\\" and i + 1 < len(fmt):
            nxt = fmt[i + 1]
            if nxt in _PRINTF_ESCAPES:
                lit.append(_PRINTF_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "0":
                m = re.match(r"0[0-7]{0,3}", fmt[i + 1:])
                lit.append(chr(int(m.group(), 8)))  # type: ignore[union-attr]
                i += 1 + len(m.group())  # type: ignore[union-attr]
                continue
            lit.append(c)
            i += 1
        elif c == "%" and i + 1 < len(fmt):
            if fmt[i + 1] == "%":
                lit.append("%")
                i += 2
                continue
            m = re.match(r"%[-+ #0]*\d*(?:\.\d+)?([sbdiuxXoc])", fmt[i:])
            if m is None:
                lit.append(c)
                i += 1
                continue
            pieces.append(("".join(lit), m.group()))
            lit = []
            i += len(m.group())
        else:
            lit.append(c)
            i += 1
    pieces.append(("".join(lit), None))
    return tuple(pieces)


def _printf(sh: Interpreter, argv: list[str]) -> int:
    if len(argv) < 2:
        sh.complain("printf: usage: printf format [arg ...]")
        return 2
    pieces = _printf_format(argv[1])
    args = argv[2:]
    conversions = sum(1 for _, conv in pieces if conv)
    out: list[str] = []
    k = 0
    while True:
        for lit, conv in pieces:
            if lit:  # (no empty pieces: "%s" of one value then returns that very string, shared)
                out.append(lit)
            if conv is None:
                continue
            value = args[k] if k < len(args) else ""
            k += 1
            kind = conv[-1]
            if kind == "s":
                out.append(value)
            elif kind == "b":
                out.append("".join(text for text, _ in _printf_format(value.replace("%", "%%"))))
            elif kind == "c":
                out.append(value[:1])
            else:
                try:
                    number = int(value or "0")
                except ValueError:
                    number = 0
                out.append(conv.replace("i", "d").replace("u", "d") % number)
        if not conversions or k >= len(args):
            break
    sh.say("".join(out))
    return 0


def _command(sh: Interpreter, argv: list[str]) -> int:
    if len(argv) >= 3 and argv[1] == "-v":
        name = argv[2]
        if name in sh.funcs or name in _SHELL_BUILTINS:
            sh.say(name + "\n")
            return 0
        if name in _BUILTINS:
            sh.say(f"/usr/bin/{name}\n")
            return 0
        return 1
    return sh.call(argv[1:]) if len(argv) > 1 else 0


def _id(sh: Interpreter, argv: list[str]) -> int:
    flags, _, _ = _operands(argv)
    if "u" in flags or "g" in flags:
        if "n" in flags:
            sh.say(sh.user + "\n")
        else:
            sh.say(("0" if sh.user == "root" else "1000") + "\n")
        return 0
    uid = "0" if sh.user == "root" else "1000"
    sh.say(f"uid={uid}({sh.user}) gid={uid}({sh.user}) groups={uid}({sh.user})\n")
    return 0


def _uname(sh: Interpreter, argv: list[str]) -> int:
    flags, _, _ = _operands(argv)
    values = {"s": "Linux", "n": sh.host.name, "r": "6.1.0-oxinfra-sim", "m": "x86_64", "o": "GNU/Linux"}
    if "a" in flags:
        flags = set("snrmo")
    picked = [values[f] for f in "snrmo" if f in flags] or ["Linux"]
    sh.say(" ".join(picked) + "\n")
    return 0


_FILE_TYPES = {"d": "directory", "l": "symbolic link"}


def _stat_field(node: Node, path: str, spec: str) -> str:
    if spec == "n":
        return path
    if spec == "F":
        if node.kind == "f":
            return "regular file" if node.data else "regular empty file"
        return _FILE_TYPES[node.kind]
    if spec == "U":
        return node.user
    if spec == "G":
        return node.group
    if spec == "a":
        return f"{node.mode & 0o7777:o}"
    if spec == "s":
        return str(node.size())
    if spec == "X":
        return str(node.atime)
    if spec == "Y":
        return str(node.mtime)
    if spec == "Z":
        return str(node.ctime)
    if spec == "%":
        return "%"
    return "?"


@lru_cache(maxsize=64)
def _stat_format(fmt: str) -> tuple[str, ...]:
    """The format split into literal text (even positions) and field letters (odd)."""
    return tuple(re.split(r"%(.)", fmt))


def _stat(sh: Interpreter, argv: list[str]) -> int:
    flags, values, paths = _operands(argv, with_value="c")
    fmt = values.get("c")
    if fmt is None or "L" in flags or not paths:
        sh.complain("stat: only stat -c FORMAT [--] PATH... is simulated")
        return 1
    pieces = _stat_format(fmt)
    host = sh.host
    status = 0
    out = []
    for path in paths:
        try:
            _, node = host.resolve(path, False, sh.cwd)
        except FsError as exc:
            node, reason = None, str(exc)
        else:
            reason = _ENOENT
        if node is None:
            sh.complain(f"stat: cannot statx '{path}': {reason}")
            status = 1
            continue
        line = [pieces[k] if k % 2 == 0 else _stat_field(node, path, pieces[k]) for k in range(len(pieces))]
        out.append("".join(line) + "\n")
    sh.say("".join(out))
    return status


def _readlink(sh: Interpreter, argv: list[str]) -> int:
    flags, _, paths = _operands(argv)
    status = 0
    for path in paths:
        try:
            _, node = sh.host.resolve(path, False, sh.cwd)
        except FsError:
            node = None
        if node is None or node.kind != "l":
            status = 1
            continue
        sh.say(node.target + ("" if "n" in flags else "\n"))
    return status


def _hasher(algorithm: str) -> Callable[[Interpreter, list[str]], int]:
    def run(sh: Interpreter, argv: list[str]) -> int:
        _, _, paths = _operands(argv)
        if not paths:
            digest = hashlib.new(algorithm, sh.stdin.encode(_ENC, _ERRORS)).hexdigest()
            sh.say(f"{digest}  -\n")
            return 0
        status = 0
        for path in paths:
            try:
                data = sh.host.read(path, sh.cwd)
            except FsError as exc:
                sh.complain(f"{argv[0]}: {path}: {exc}")
                status = 1
                continue
            sh.say(f"{hashlib.new(algorithm, data.encode(_ENC, _ERRORS)).hexdigest()}  {path}\n")
        return status

    return run


_BRE_SPECIAL = frozenset(".[]*^$\\")
_ERE_SPECIAL = frozenset(".[]*^$\\+?(){}|")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f",
    "print": r" -~", "graph": r"!-~", "cntrl": r"\x00-\x1f\x7f",
}


def posix_regex(pattern: str, extended: bool) -> str:
    """A POSIX basic (or extended) regular expression as a Python one (GNU's usual
    extensions: ``\\+ \\? \\|`` in BRE, ``\\w \\s \\b \\< \\>``)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if not extended and nxt in "(){}|+?":
                out.append(nxt)
            elif nxt.isdigit() or nxt in "wWsSbB":
                out.append("\\" + nxt)
            elif nxt in "<>":
                out.append(r"\b")
            else:
                out.append(re.escape(nxt))
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                if pattern.startswith("[:", j):
                    k = pattern.find(":]", j + 2)
                    j = k + 2 if k >= 0 else j + 1
                else:
                    j += 1
            if j >= n:
                out.append(r"\[")
                i += 1
                continue
            inner = pattern[i + 1:j]
            negate = inner.startswith("^")
            if negate:
                inner = inner[1:]
            body = []
            k = 0
            while k < len(inner):
                if inner.startswith("[:", k):
                    end = inner.find(":]", k + 2)
                    body.append(_POSIX_CLASSES.get(inner[k + 2:end], ""))
                    k = end + 2
                    continue
                ch = inner[k]
                body.append("\\" + ch if ch in "\\[]^" else ch)
                k += 1
            out.append("[" + ("^" if negate else "") + "".join(body) + "]")
            i = j + 1
            continue
        if not extended and c in "(){}|+?":
            out.append("\\" + c)
        elif c == "*" and (not out or out[-1] in ("^", "(", "|")):
            out.append(r"\*")
        elif c == "^" and out and out[-1] not in ("(", "|"):
            out.append(r"\^")
        elif c == "$" and i + 1 < n and not pattern.startswith(("|", ")") if extended else ("\\|", "\\)"), i + 1):
            out.append(r"\$")
        else:
            out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def line_matcher(pattern: str, extended: bool = False, fixed: bool = False,
                 ignore_case: bool = False) -> Callable[[str], bool]:
    """A predicate on one line (without its newline) that says whether grep's pattern
    matches it. Literal patterns, anchored or wrapped in ``^.*``/``.*$``, need no regex."""
    if fixed and not ignore_case:
        return lambda line: pattern in line
    special = _ERE_SPECIAL if extended else _BRE_SPECIAL
    core, start, end = pattern, False, False
    if core.startswith("^.*"):
        core = core[3:]
    elif core.startswith("^"):
        core, start = core[1:], True
    if core.endswith(".*$") and not core.endswith("\\.*$"):
        core = core[:-3]
    elif core.endswith("$") and not core.endswith("\\$"):
        core, end = core[:-1], True
    if not ignore_case and not any(ch in special for ch in core):
        if start and end:
            return lambda line: line == core
        if start:
            return lambda line: line.startswith(core)
        if end:
            return lambda line: line.endswith(core)
        return lambda line: core in line
    regex = re.escape(pattern) if fixed else posix_regex(pattern, extended)
    compiled = re.compile(regex, re.IGNORECASE if ignore_case else 0)
    return lambda line: compiled.search(line) is not None


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _grep(sh: Interpreter, argv: list[str]) -> int:
    flags, values, rest = _operands(argv, with_value="e")
    patterns: list[str] = []
    # -e may repeat: collect them all from argv
    args = argv[1:]
    for k, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "-e" and k + 1 < len(args):
            patterns.append(args[k + 1])
        elif arg.startswith("-e") and len(arg) > 2:
            patterns.append(arg[2:])
    if not patterns:
        if not rest:
            sh.complain("grep: no pattern")
            return 2
        patterns = [rest.pop(0)]
    extended, fixed, ignore = "E" in flags, "F" in flags, "i" in flags
    matchers = [line_matcher(p, extended, fixed, ignore) for q in patterns for p in q.split("\n")]
    invert, quiet = "v" in flags, "q" in flags
    sources: list[tuple[str, str | None]] = []
    status_error = False
    if not rest:
        sources.append(("(standard input)", sh.stdin))
    for path in rest:
        try:
            sources.append((path, sh.host.read(path, sh.cwd)))
        except FsError as exc:
            if not ("s" in flags):
                sh.complain(f"grep: {path}: {exc}")
            status_error = True
    found = False
    out: list[str] = []
    prefix = len(rest) > 1 and "h" not in flags
    for name, text in sources:
        if text and "\x00" in text:  # a binary file: GNU grep (3.5+) says so on stderr only
            if any(m(line) for m in matchers for line in _lines(text)) != invert:
                found = True
                sh.complain(f"grep: {name}: binary file matches")
            continue
        for line in _lines(text or ""):
            hit = any(m(line) for m in matchers) if len(matchers) > 1 else matchers[0](line)
            if hit != invert:
                found = True
                if quiet:
                    return 0
                out.append(f"{name}:{line}\n" if prefix else line + "\n")
    sh.say("".join(out))
    if status_error and not (found and quiet):
        return 2
    return 0 if found else 1


def _mkdir(sh: Interpreter, argv: list[str]) -> int:
    flags, values, paths = _operands(argv, with_value="m")
    host = sh.host
    mode = int(values["m"], 8) if "m" in values and values["m"].isdigit() else 0o755
    status = 0
    for path in paths:
        try:
            if "p" in flags:
                _mkdir_parents(sh, path, mode)
                continue
            canonical, node = host.resolve(path, True, sh.cwd)
            if node is not None:
                raise FsError(_EEXIST)
            host.add(canonical, Node("d", mode, sh.user, sh.user, _now()))
        except FsError as exc:
            sh.complain(f"mkdir: cannot create directory '{path}': {exc}")
            status = 1
    return status


def _mkdir_parents(sh: Interpreter, path: str, mode: int) -> None:
    host = sh.host
    absolute = path if path.startswith("/") else sh.cwd.rstrip("/") + "/" + path
    parts = [p for p in absolute.split("/") if p]
    cur = ""
    for k in range(len(parts)):
        cur = cur + "/" + parts[k]
        canonical, node = host.resolve(cur, True, sh.cwd)
        if node is None:
            host.add(canonical, Node("d", mode if k == len(parts) - 1 else 0o755, sh.user, sh.user, _now()))
        elif node.kind != "d":
            raise FsError(_EEXIST if k == len(parts) - 1 else _ENOTDIR)


def _targets(sh: Interpreter, path: str, recursive: bool, follow: bool) -> list[Node]:
    canonical, node = sh.host.resolve(path, follow, sh.cwd)
    if node is None:
        raise FsError(_ENOENT)
    nodes = [node]
    if recursive and node.kind == "d":
        nodes.extend(sh.host.fs[p] for p in sh.host.children(canonical))
    return nodes


def _chmod(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) < 2 or not re.fullmatch(r"[0-7]{1,4}", rest[0]):
        sh.complain("chmod: only octal modes are simulated")
        return 1
    mode = int(rest[0], 8)
    status = 0
    now = _now()
    for path in rest[1:]:
        try:
            for node in _targets(sh, path, "R" in flags, True):
                if node.kind != "l":
                    node.mode = mode
                    node.ctime = now
        except FsError as exc:
            sh.complain(f"chmod: cannot access '{path}': {exc}")
            status = 1
    return status


def _chown(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) < 2:
        sh.complain(f"{argv[0]}: missing operand")
        return 1
    spec = rest[0]
    if argv[0] == "chgrp":
        user, group = "", spec
    else:
        user, _, group = spec.partition(":")
    status = 0
    now = _now()
    for path in rest[1:]:
        try:
            for node in _targets(sh, path, "R" in flags, "h" not in flags):
                if user:
                    node.user = user
                if group:
                    node.group = group
                node.ctime = now
        except FsError as exc:
            sh.complain(f"{argv[0]}: cannot access '{path}': {exc}")
            status = 1
    return status


def _touch(sh: Interpreter, argv: list[str]) -> int:
    _, _, paths = _operands(argv)
    host = sh.host
    status = 0
    for path in paths:
        try:
            canonical, node = host.resolve(path, True, sh.cwd)
            now = _now()
            if node is None:
                host.add(canonical, Node("f", 0o644, sh.user, sh.user, now))
            else:
                node.atime = node.mtime = node.ctime = now
        except FsError as exc:
            sh.complain(f"touch: cannot touch '{path}': {exc}")
            status = 1
    return status


def _ln(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) != 2:
        sh.complain("ln: only ln [-s] [-f] [--] TARGET LINK is simulated")
        return 1
    target, link = rest
    host = sh.host
    try:
        canonical, node = host.resolve(link, "n" not in flags, sh.cwd)
        if node is not None and node.kind == "d":
            canonical, node = host.resolve(canonical + "/" + posixpath.basename(target.rstrip("/")), False)
        elif node is not None:
            canonical, node = host.resolve(link, False, sh.cwd)
        if node is not None:
            if "f" not in flags:
                raise FsError(_EEXIST)
            if node.kind == "d":
                raise FsError(_EISDIR)
            host.remove(canonical)
        if "s" in flags:
            host.add(canonical, Node("l", 0o777, sh.user, sh.user, _now(), target=target))
        else:
            _, source = host.resolve(target, False, sh.cwd)
            if source is None:
                raise FsError(_ENOENT)
            if source.kind == "d":
                raise FsError("hard link not allowed for directory")
            host.add(canonical, source)
    except FsError as exc:
        sh.complain(f"ln: failed to create link '{link}': {exc}")
        return 1
    return 0


def _rm(sh: Interpreter, argv: list[str]) -> int:
    flags, _, paths = _operands(argv)
    force, recursive = "f" in flags, bool(flags & {"r", "R"})
    host = sh.host
    status = 0
    for path in paths:
        try:
            canonical, node = host.resolve(path, False, sh.cwd)
        except FsError as exc:
            if not force:
                sh.complain(f"rm: cannot remove '{path}': {exc}")
                status = 1
            continue
        if node is None:
            if not force:
                sh.complain(f"rm: cannot remove '{path}': {_ENOENT}")
                status = 1
            continue
        if node.kind == "d" and not recursive:
            sh.complain(f"rm: cannot remove '{path}': {_EISDIR}")
            status = 1
            continue
        if canonical == "/":
            sh.complain("rm: it is dangerous to operate recursively on '/'")
            status = 1
            continue
        host.remove(canonical)
    return status


def _mv(sh: Interpreter, argv: list[str]) -> int:
    _, _, rest = _operands(argv)
    if len(rest) != 2:
        sh.complain("mv: only mv [-f] [--] SOURCE DEST is simulated")
        return 1
    src, dest = rest
    host = sh.host
    try:
        src_path, node = host.resolve(src, False, sh.cwd)
        if node is None:
            raise FsError(_ENOENT)
        dest_path, existing = host.resolve(dest, True, sh.cwd)
        if existing is not None and existing.kind == "d":
            dest_path, existing = host.resolve(dest_path + "/" + posixpath.basename(src_path), False)
        else:
            dest_path, existing = host.resolve(dest, False, sh.cwd)
        if dest_path == src_path:
            return 0
        if existing is not None and existing.kind == "d" and node.kind != "d":
            raise FsError(_EISDIR)
        if node.kind == "d" and (dest_path + "/").startswith(src_path + "/"):
            raise FsError("Invalid argument")
        host.rename(src_path, dest_path)
    except FsError as exc:
        sh.complain(f"mv: cannot move '{src}' to '{dest}': {exc}")
        return 1
    return 0


def _cp(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) != 2:
        sh.complain("cp: only cp [-p] [--] SOURCE DEST is simulated")
        return 1
    src, dest = rest
    host = sh.host
    try:
        _, node = host.resolve(src, True, sh.cwd)
        if node is None:
            raise FsError(_ENOENT)
        if node.kind == "d":
            sh.complain(f"cp: -r not specified; omitting directory '{src}'")
            return 1
        dest_path, existing = host.resolve(dest, True, sh.cwd)
        if existing is not None and existing.kind == "d":
            dest_path, existing = host.resolve(dest_path + "/" + posixpath.basename(src), True)
        host.write(dest_path, node.data, False, sh.user)
        copy = host.fs[dest_path] if dest_path in host.fs else host.resolve(dest_path, True)[1]
        if "p" in flags and copy is not None:
            copy.mode, copy.user, copy.group = node.mode, node.user, node.group
            copy.atime, copy.mtime = node.atime, node.mtime
    except FsError as exc:
        sh.complain(f"cp: cannot copy '{src}': {exc}")
        return 1
    return 0


def _cat(sh: Interpreter, argv: list[str]) -> int:
    _, _, paths = _operands(argv)
    if not paths:
        sh.say(sh.stdin)
        return 0
    status = 0
    for path in paths:
        try:
            sh.say(sh.host.read(path, sh.cwd))
        except FsError as exc:
            sh.complain(f"cat: {path}: {exc}")
            status = 1
    return status


def _base64(sh: Interpreter, argv: list[str]) -> int:
    flags, _, paths = _operands(argv)
    data = sh.host.read(paths[0], sh.cwd) if paths else sh.stdin
    raw = data.encode(_ENC, _ERRORS)
    if "d" in flags:
        try:
            decoded = base64.b64decode(b"".join(raw.split()), validate=True)
        except (binascii.Error, ValueError):
            sh.complain("base64: invalid input")
            return 1
        sh.say(decoded.decode(_ENC, _ERRORS))
    else:
        sh.say(base64.encodebytes(raw).decode("ascii"))
    return 0


def _tail(sh: Interpreter, argv: list[str]) -> int:
    flags, values, paths = _operands(argv, with_value="cn")
    text = sh.host.read(paths[0], sh.cwd) if paths else sh.stdin
    if "c" in values:
        count = int(values["c"].lstrip("+-") or "0")
        raw = text.encode(_ENC, _ERRORS)
        sh.say(raw[-count:].decode(_ENC, _ERRORS) if count else "")
        return 0
    count = int(values.get("n", "10").lstrip("+-") or "0")
    lines = text.splitlines(keepends=True)
    sh.say("".join(lines[-count:]) if count else "")
    return 0


def _sed_split(script: str) -> list[str]:
    """``s/a/b/g`` -> ["s", "a", "b", "g"]; ``/re/d`` -> ["", "re", "d"] (delimiter ``/``)."""
    fields: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(script):
        c = script[i]
        if c == "\\" and i + 1 < len(script):
            nxt = script[i + 1]
            cur.append("\n" if nxt == "n" else nxt if nxt == "/" else c + nxt)
            i += 2
            continue
        if c == "/":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    fields.append("".join(cur))
    return fields


@lru_cache(maxsize=256)
def _sed_program(script: str, extended: bool) -> Callable[[list[str]], list[str]] | None:
    fields = _sed_split(script)
    if len(fields) == 4 and fields[0] == "s":
        _, pattern, replacement, sed_flags = fields
        count = 0 if "g" in sed_flags else 1
        regex = re.compile(posix_regex(pattern, extended), re.IGNORECASE if set(sed_flags) & {"i", "I"} else 0)

        def expand(m: re.Match[str]) -> str:
            out = []
            k = 0
            while k < len(replacement):
                c = replacement[k]
                if c == "\\" and k + 1 < len(replacement):
                    nxt = replacement[k + 1]
                    out.append(m.group(int(nxt)) or "" if nxt.isdigit() else "\n" if nxt == "n" else nxt)
                    k += 2
                elif c == "&":
                    out.append(m.group())
                    k += 1
                else:
                    out.append(c)
                    k += 1
            return "".join(out)

        return lambda lines: [regex.sub(expand, line, count=count) for line in lines]
    if len(fields) == 3 and fields[0] == "" and fields[2] == "d":
        match = line_matcher(fields[1], extended)
        return lambda lines: [line for line in lines if not match(line)]
    return None


def _sed(sh: Interpreter, argv: list[str]) -> int:
    flags, values, rest = _operands(argv, with_value="e")
    script = values.get("e")
    if script is None and rest:
        script = rest.pop(0)
    program = _sed_program(script or "", bool(flags & {"E", "r"}))
    if program is None:
        sh.complain(f"sed: the simulator knows only s/RE/REPL/FLAGS and /RE/d, not {script!r}")
        return 1
    if "i" not in flags:
        text = sh.stdin
        lines = program(text.split("\n"))
        sh.say("\n".join(lines))
        return 0
    status = 0
    for path in rest:
        try:
            text = sh.host.read(path, sh.cwd)
        except FsError as exc:
            sh.complain(f"sed: can't read {path}: {exc}")
            status = 2
            continue
        ends = text.endswith("\n")
        lines = program(_lines(text))
        sh.host.write(path, "\n".join(lines) + ("\n" if ends and lines else ""), False, sh.user, sh.cwd)
    return status


def _sh(sh: Interpreter, argv: list[str]) -> int:
    if len(argv) >= 3 and argv[1] == "-c":
        try:
            body = Parser(argv[2]).parse()
        except ShellSyntaxError as exc:
            sh.complain(f"sh: {exc}")
            return 2
        saved, saved_subs = sh.positional, sh.subs
        sh.positional, sh.subs = argv[4:], ()
        try:
            return sh.subshell(body)
        finally:
            sh.positional, sh.subs = saved, saved_subs
    return 0


def _as_user(sh: Interpreter, user: str, argv: list[str]) -> int:
    saved = sh.user
    sh.user = user
    try:
        return sh.call(argv) if argv else 0
    finally:
        sh.user = saved


def _sudo(sh: Interpreter, argv: list[str]) -> int:
    _, values, rest = _operands(argv, with_value="ugCp")
    return _as_user(sh, values.get("u", "root"), rest)


def _su(sh: Interpreter, argv: list[str]) -> int:
    user, command, args = "root", None, argv[1:]
    k = 0
    while k < len(args):
        if args[k] in ("-s", "-c", "-g", "-G") and k + 1 < len(args):
            if args[k] == "-c":
                command = args[k + 1]
            k += 2
            continue
        if not args[k].startswith("-"):
            user = args[k]
        k += 1
    return _as_user(sh, user, ["sh", "-c", command]) if command is not None else 0


def _timeout(sh: Interpreter, argv: list[str]) -> int:
    _, _, rest = _operands(argv, with_value="sk")
    return sh.call(rest[1:]) if len(rest) > 1 else 0


_SHELL_BUILTINS = frozenset((":", "true", "false", "exit", "break", "export", "cd", "test", "[", "echo",
                             "printf", "command"))

_BUILTINS: dict[str, Callable[[Interpreter, list[str]], int]] = {
    ":": _true, "true": _true, "false": _false, "exit": _exit, "break": _break, "export": _export,
    "cd": _cd, "sleep": _true, "test": _test, "[": _test, "echo": _echo, "printf": _printf,
    "command": _command, "id": _id, "uname": _uname, "stat": _stat, "readlink": _readlink,
    "sha1sum": _hasher("sha1"), "sha256sum": _hasher("sha256"), "md5sum": _hasher("md5"),
    "grep": _grep, "mkdir": _mkdir, "chmod": _chmod, "chown": _chown, "chgrp": _chown,
    "touch": _touch, "ln": _ln, "rm": _rm, "mv": _mv, "cp": _cp, "cat": _cat, "base64": _base64,
    "tail": _tail, "sed": _sed, "sh": _sh, "sudo": _sudo, "su": _su, "timeout": _timeout,
}


# --------------------------------------------------------------------------------------------
# The connector
# --------------------------------------------------------------------------------------------


#: Totals over every simulated shell of this process: scripts answered and the seconds
#: spent answering them (so a benchmark can tell the simulator's share from oxinfra's).
stats = {"scripts": 0, "seconds": 0.0}


class SimShell:
    """The :class:`~oxinfra.connectors.base.Shell` interface over an :class:`Interpreter`."""

    def __init__(self, host: SimHost, name: str, latency: float = 0.0) -> None:
        self.interpreter = Interpreter(host)
        self.name = name
        self.latency = latency
        self.round_trips = 0
        self.closed = False
        self.nonce: str | None = None
        self.subs: tuple[tuple[str, str], ...] = substitutions(None, name)

    async def run(self, script: bytes, done: bytes, timeout: float | None = None) -> tuple[bytes, bytes]:
        if self.closed:
            raise ConnectError(f"{self.name}: the remote shell exited unexpectedly")
        self.round_trips += 1
        started = time.perf_counter()
        text = script.decode(_ENC, _ERRORS)
        if self.nonce is None:
            m = _NONCE_LINE.match(text)
            if m is not None:
                self.nonce = m.group(1)
                self.subs = substitutions(self.nonce, self.name)
        try:
            out, err = self.interpreter.run_script(text, self.subs)
        except ShellSyntaxError as exc:
            self.closed = True
            raise ConnectError(f"{self.name}: the simulated shell cannot run the script: {exc}") from None
        except _Exit:
            self.closed = True
            raise ConnectError(f"{self.name}: the remote shell exited unexpectedly") from None
        finally:
            stats["scripts"] += 1
            stats["seconds"] += time.perf_counter() - started
        if self.latency:
            await asyncio.sleep(self.latency)
        return out.encode(_ENC, _ERRORS), err.encode(_ENC, _ERRORS)

    async def close(self) -> None:
        self.closed = True


class SimConnection(Connection):
    """A connected simulated host (``@sim/NAME``)."""

    def __init__(self, host: SimHost, name: str, latency: float = 0.0) -> None:
        self.machine = host
        self.name = name
        self.latency = latency

    @classmethod
    async def open(cls, host: Any) -> "SimConnection":
        data = host.data
        latency = float(data.get("sim_latency") or 0.0)
        return cls(machine(host.target, data), host.name, latency)

    async def open_shell(self) -> SimShell:
        return SimShell(self.machine, self.name, self.latency)

    async def close(self) -> None:
        return None
