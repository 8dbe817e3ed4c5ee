"""Running parsed scripts: the persistent shell of a simulated host (:class:`Interpreter`),
word expansion, redirections and the natively run prelude markers."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from oxinfra.testing.sim.fs import FsError, SimHost
from oxinfra.testing.sim.parse import Parser, parse_script
from oxinfra.testing.sim.patterns import glob_regex as _glob
from oxinfra.quoting import SPECIAL_BUILTINS as _SPECIAL_BUILTINS


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------


#: The word ``"$@"`` as the parser gives it.
_ALL_ARGS = (("v", "@"),)


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Break(Exception):
    pass


class _Continue(Exception):
    """``continue``: the rest of the loop's body is skipped (the loop goes on)."""


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
        if sh.err is not None and (streams == "both" or (streams == "failed" and b != "0")):
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


_NATIVE_CANDIDATES = (_marker_e("both"), _marker_e("out"), _marker_e("failed"), _marker_done)
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
        from oxinfra._engine.script import prelude
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
                for args in (["7", "stale"], ["7", "0"], ["8", "1"]):
                    sh = Interpreter(SimHost("check"))
                    sh.vars["__ox_n"] = nonce
                    out: list[str] = []
                    err: list[str] = []
                    sh.out, sh.err = out, err
                    if type(impl) is tuple:
                        sh.positional = list(args)
                        try:
                            sh.run_node(impl)
                        except (_Exit, _Break, _Continue):  # (a function made for other arguments)
                            err.append("exit")
                    else:
                        impl(sh, ["f", *args])
                    results.append(("".join(out), "".join(err)))
            if results[:3] == results[3:]:
                found.append((node[2], native))
                break
    return found


# The loops of a stat batch run natively too, under the same rule: the climb of
# :func:`oxinfra.facts.files.absent_proof` (a ``while`` loop run for every path that is not
# there, a dozen commands per directory level) and the loop over the batch's paths
# (:func:`oxinfra._engine.script.absent_loop`) -- only loops parsed exactly as oxinfra writes
# them, and only if interpreting them prints and leaves the same as the native code on a
# test machine (checked once per process).


def _native_climb(var: str) -> Callable[..., int]:
    def climb(sh: Interpreter, seen: dict[str, bool] | None = None) -> int:
        """``seen``: paths known to be there or not (within one loop, which changes nothing)."""
        host, cwd = sh.host, sh.cwd
        value = sh.vars.get(var, "")
        up = value
        while True:
            cut = value.rfind("/")
            up = value[:cut] if cut >= 0 else value  # ${value%/*}
            if up == value:
                up = "."
            if not up:
                up = "/"
            if up == value:
                break
            value = up
            there = seen.get(value) if seen is not None else None
            if there is None:
                there = _exists_or_link(host, value, cwd)
                if seen is not None:
                    seen[value] = there
            if there:
                break
        sh.vars[var], sh.vars["__ox_b"] = value, up
        return 0

    return climb


def _lstat(host: SimHost, path: str, cwd: str) -> Any:
    """The node ``lstat`` finds (``[ -e PATH ] || [ -L PATH ]`` when there is one)."""
    try:
        return host.resolve(path, False, cwd)[1]
    except FsError:
        return None


def _exists_or_link(host: SimHost, path: str, cwd: str) -> bool:
    return _lstat(host, path, cwd) is not None


def _native_batch_loop(sh: Interpreter, node: Any) -> int:
    """:func:`oxinfra._engine.script.absent_loop`, natively."""
    host, cwd, climb = sh.host, sh.cwd, _CLIMB_P
    values = list(sh.positional) if node[2] is None else [sh.expand(w) for w in node[2]]
    args = list(sh.positional)
    raw = sh.vars.get("__ox_i", "0")
    i = int(raw) if raw.isdigit() else 0
    nonce = sh.vars.get("__ox_n", "")
    absent = [sh.vars.get("__ox_z", "")]
    seen: dict[str, bool] = {}
    for value in values:
        sh.vars["__ox_a"] = value
        there = _lstat(host, value, cwd)
        if there is not None:
            args.append(value)
            if there.kind == "l":  # readlink -- "$__ox_a" </dev/null 2>/dev/null, in its block
                sh.say(f"\n@@L-{nonce}-{i}\n")
                saved = sh.err, sh.stdin
                sh.err, sh.stdin = None, ""
                try:
                    status = sh.call(["readlink", "--", value])
                finally:
                    sh.err, sh.stdin = saved
                sh.say(f"\n@@R-{nonce}-{status}\n")
        else:
            sh.vars["__ox_p"] = value
            climb(sh, seen)
            try:
                _, found = host.resolve(sh.vars["__ox_p"], True, cwd)
            except FsError:
                found = None
            if found is not None and found.kind == "d":  # [ -d P ] && [ -x P ]
                absent.append(f"{i}\n")
            else:
                args.append(value)
        i += 1
        sh.vars["__ox_i"] = str(i)
    sh.vars["__ox_z"] = "".join(absent)
    sh.positional = args
    return 0


_CLIMB_P = _native_climb("__ox_p")
_loops: dict[int, tuple[Any, Callable[[Interpreter, Any], int] | None]] = {}
_natives_loops: list[tuple[str, Any, Callable[[Interpreter, Any], int]]] | None = None


def _native_loop(node: Any) -> Callable[[Interpreter, Any], int] | None:
    """The native code for this parsed ``while`` or ``for`` node, if it is one oxinfra writes
    (cached by node)."""
    known = _loops.get(id(node))
    if known is not None and known[0] is node:
        return known[1]
    global _natives_loops
    if _natives_loops is None:
        _natives_loops = []  # while checking, loops are interpreted
        _natives_loops = _verified_loops()
        _loops.clear()
    native = None
    for kind, loop, impl in _natives_loops:
        if kind == node[0] and (node == loop if kind == "while" else node[1] == loop[1] and node[3:] == loop[3:]):
            native = impl
            break
    if len(_loops) > 4096:
        _loops.clear()
    _loops[id(node)] = (node, native)  # (the node is kept alive, so its id is not reused)
    return native


def _verified_loops() -> list[tuple[str, Any, Callable[[Interpreter, Any], int]]]:
    try:
        from oxinfra._engine.script import absent_loop
        from oxinfra.facts.files import absent_proof
    except ImportError:  # pragma: no cover
        return []
    from oxinfra.testing.sim.fs import Node

    machine = SimHost("check", files={"/d/e/f/file": "x"})
    machine.fs["/d/link"] = Node("l", 0o777, "root", "root", 0, target="nowhere")
    machine.fs["/d/loop"] = Node("l", 0o777, "root", "root", 0, target="loop")
    machine.fs["/d/good"] = Node("l", 0o777, "root", "root", 0, target="e/f/file")
    starts = [
        "/d/e/f/g/h",
        "/d/e/x",
        "/d/e/f/file/x",
        "/d/link/x",
        "/d/loop/x",
        "/nowhere",
        "rel/x",
        "x",
        "/",
        ".",
        "",
        "//a//",
        "/d/e/f/",
        "a/../b",
        "/d/e/../x/y",
        "/d/e/f/file",
        "/d/link",
        "/d/loop",
        "/d/good",
        "/d/good/x",
    ]

    def first(text: str, tag: str) -> Any:
        node = Parser(text).parse()[0]
        while node[0] != tag:  # the loop is the first command of an and-or list
            node = node[1]
        return node

    def run(node: Any, native: Callable[[Interpreter, Any], int] | None, setup: dict[str, str]) -> Any:
        sh = Interpreter(machine)
        sh.vars.update(setup)
        sh.positional = list(starts)
        out: list[str] = []
        sh.out = out
        status = native(sh, node) if native else sh._run_while(node) if node[0] == "while" else sh._run_for(node)
        return status, "".join(out), sh.positional, {k: v for k, v in sh.vars.items() if k.startswith("__ox_")}

    found: list[tuple[str, Any, Callable[[Interpreter, Any], int]]] = []
    for var in ("__ox_a", "__ox_p"):
        loop, climb = first(absent_proof(var), "while"), _native_climb(var)

        def native(sh: Interpreter, node: Any, climb: Callable[..., int] = climb) -> int:
            return climb(sh)

        if all(run(loop, None, {var: s}) == run(loop, native, {var: s}) for s in starts):
            found.append(("while", loop, native))
    loop = first(absent_loop(), "for")
    setup = {"__ox_i": "3", "__ox_z": "1\n", "__ox_n": "N"}
    if run(loop, None, setup) == run(loop, _native_batch_loop, setup):
        found.append(("for", loop, _native_batch_loop))
    return found


#: ``${NAME%WORD}``, ``${NAME%%WORD}``, ``${NAME#WORD}``, ``${NAME##WORD}`` as the parser keeps them.
_TRIM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|[0-9])(%%|%|##|#)(.*)", re.S)


@lru_cache(maxsize=256)
def _pattern(word: str) -> re.Pattern[str]:
    return re.compile(_glob(word), re.S)


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
        self.identity_read = False  # a command printed something only this machine has
        self.umask = 0o022  # new files 644, new directories 755
        self.noclobber = False  # set -C: ">" does not overwrite an existing file

    def state(self) -> tuple[Any, ...]:
        """What survives between scripts (see :meth:`restore_state`)."""
        return (
            dict(self.vars),
            dict(self.funcs),
            list(self.positional),
            self.user,
            self.cwd,
            self.status,
            self.umask,
            self.noclobber,
        )

    def restore_state(self, state: tuple[Any, ...]) -> None:
        vars_, funcs, positional, self.user, self.cwd, self.status, self.umask, self.noclobber = state
        self.vars, self.funcs, self.positional = dict(vars_), dict(funcs), list(positional)

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
        except (_Break, _Continue):
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
            native = None if node[3] else _native_loop(node)
            status = native(self, node) if native is not None else self.redirected(node[3], self._run_while, node)
        elif tag == "for":
            native = None if node[4] else _native_loop(node)
            status = native(self, node) if native is not None else self.redirected(node[4], self._run_for, node)
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
            except _Continue:
                status = 0
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
            except _Continue:
                status = 0
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
        saved = (
            dict(self.vars),
            dict(self.funcs),
            self.cwd,
            self.user,
            list(self.positional),
            self.umask,
            self.noclobber,
        )
        try:
            return self.run_body(body)
        except _Exit as exc:
            return exc.status
        except (_Break, _Continue):
            return 0
        finally:
            self.vars, self.funcs, self.cwd, self.user, self.positional, self.umask, self.noclobber = saved

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
        if "%" in name or name.find("#", 1) > 0:
            m = _TRIM.fullmatch(name)
            if m is not None:
                return self.trimmed(self.variable(m.group(1)), m.group(2), m.group(3))
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

    def trimmed(self, value: str, op: str, word: str) -> str:
        """``${NAME%WORD}`` (the shortest matching suffix removed), ``%%`` (the longest), ``#``
        and ``##`` (prefixes): WORD's quoted parts match literally, ``$NAME`` in it expands."""
        rx = _pattern(word) if "$" not in word else re.compile(_glob(word, self.variable), re.S)
        n = len(value)
        if op[0] == "%":
            for cut in range(n, -1, -1) if op == "%" else range(n + 1):
                if rx.fullmatch(value, cut):
                    return value[:cut]
        else:
            for cut in range(n + 1) if op == "#" else range(n, -1, -1):
                if rx.fullmatch(value, 0, cut):
                    return value[cut:]
        return value

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
        if _ALL_ARGS in words:  # "$@": one word per positional parameter
            argv = []
            for w in words:
                if w == _ALL_ARGS:
                    argv.extend(self.positional)
                else:
                    argv.append(w if type(w) is str and "\x00" not in w else self.expand(w))
        else:
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
            # A POSIX shell exits when a redirection of a special builtin fails.
            special = argv[0] in _SPECIAL_BUILTINS and argv[0] not in self.funcs
            return self.redirected(redirs, self.call, argv, special)
        return self.call(argv)

    def call(self, argv: list[str]) -> int:
        name = argv[0]
        func = self.funcs.get(name)
        if func is not None:
            if type(func) is not tuple:
                status: int = func(self, argv)  # a builtin
                return status
            saved = self.positional
            self.positional = argv[1:]
            try:
                return self.run_node(func)
            finally:
                self.positional = saved
        builtin = _BUILTINS.get(name)
        if builtin is None:
            return 0  # any other program: succeeds, prints nothing, changes nothing
        if name not in _READ_ONLY:
            self.host.pristine = None  # it may change the machine (mkdir, chmod, sed -i, ...)
        elif name == "uname":
            self.identity_read = True  # prints the machine's name
        try:
            return builtin(self, argv)
        except FsError as exc:
            self.complain(f"{name}: {exc}")
            return 1

    def redirected(self, redirs: list[Any], fn: Callable[[Any], int], arg: Any, special: bool = False) -> int:
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
                            if special:
                                raise _Exit(2) from None
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
                            if op == ">" and self.noclobber:
                                _, existing = host.resolve(target, True, self.cwd)
                                if existing is not None and existing.kind == "f":
                                    raise FsError("File exists")
                            host.write(target, "", append, self.user, self.cwd, 0o666 & ~self.umask)
                        except FsError as exc:
                            self.complain(f"sh: cannot create {target}: {exc}")
                            if special:
                                raise _Exit(2) from None
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


#: The commands the simulator runs for real, by name. Filled in by
#: :mod:`oxinfra.testing.sim.commands` (which the package imports), and looked up here
#: directly (one dict lookup per command, no indirection).
_BUILTINS: dict[str, Callable[[Interpreter, list[str]], int]] = {}

#: Commands that never change the filesystem (those that run another command run it
#: through :meth:`Interpreter.call` again, which judges that one).
_READ_ONLY = frozenset(
    {
        ":",
        "true",
        "false",
        "test",
        "[",
        "echo",
        "printf",
        "exit",
        "break",
        "continue",
        "export",
        "cd",
        "sleep",
        "shift",
        "command",
        "id",
        "uname",
        "stat",
        "readlink",
        "sha1sum",
        "sha256sum",
        "md5sum",
        "grep",
        "cat",
        "base64",
        "tail",
        "sh",
        "sudo",
        "su",
        "timeout",
        "umask",
        "set",
        "read",
        "exec",
    }
)
