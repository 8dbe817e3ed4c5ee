"""Shell scripts sent to a host's persistent shell, and the markers that split their output.

One host keeps one ``sh`` process open for the whole run (one SSH exec channel). Each round
trip writes one script to its stdin: fact commands, operation blocks, or both. After every
section the script prints an end marker (on stdout and on stderr)::

    \\n@@OX-<nonce>:E:<index>:<status>\\n

and at its end ``\\n@@OX-<nonce>:DONE\\n``. ``oxinfra._core.demux`` splits the output back
into sections. The nonce is random per connection, so command output cannot forge a marker.

Every value in these scripts is quoted by :mod:`oxinfra.quoting`.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import secrets
from functools import lru_cache
from typing import Any, Iterable

from oxinfra import _core
from oxinfra.api.arguments import GlobalArgs, Privilege
from oxinfra.api.commands import FileUpload
from oxinfra.exceptions import OutputParseError
from oxinfra.quoting import QuotingError, copy_owner, quote
from oxinfra._engine.privilege import PASSWORD_REFUSED as PASSWORD_REFUSED
from oxinfra._engine.privilege import _here_delimiter, _number, wrap_privilege

__all__ = ["new_nonce", "prelude", "ScriptBuilder", "wrap_privilege", "render_commands"]


def new_nonce() -> str:
    return secrets.token_hex(12)


def prelude(nonce: str) -> str:
    """Defined once per shell: the marker functions, and ``__ox_S`` (a stat batch)."""
    return (
        f"__ox_n={nonce}\n"
        '__ox_m() { printf \'\\n@@OX-%s:E:%s:%s\\n\' "$__ox_n" "$1" "$2"; '
        'printf \'\\n@@OX-%s:E:%s:%s\\n\' "$__ox_n" "$1" "$2" >&2; }\n'
        # Facts: the marker on stdout, and on stderr too when the command failed (its
        # stderr is then the text since the previous stderr marker).
        '__ox_q() { printf \'\\n@@OX-%s:E:%s:%s\\n\' "$__ox_n" "$1" "$2"; '
        '[ "$2" = 0 ] || printf \'\\n@@OX-%s:E:%s:%s\\n\' "$__ox_n" "$1" "$2" >&2; }\n'
        # A quiet operation (its stderr joined to its stdout): the marker on stdout only.
        '__ox_mo() { printf \'\\n@@OX-%s:E:%s:%s\\n\' "$__ox_n" "$1" "$2"; }\n'
        "__ox_d() { printf '\\n@@OX-%s:DONE\\n' \"$__ox_n\"; printf '\\n@@OX-%s:DONE\\n' \"$__ox_n\" >&2; }\n"
        + _stat_function()
        # The file facts' absence proof over $__ox_a (see _short).
        + f"__ox_A() {{ {_absent_proof()}; }}\n"
    )


@lru_cache(maxsize=1)
def _stat_function() -> str:
    """``__ox_S L A B PATH...``: the three sections of a stat batch (:class:`StatBatch`):
    section L the ``readlink`` blocks of the links, A the positions of the paths proven
    absent (both from :func:`absent_loop`), B the output of ONE ``stat`` of the other paths
    (none when every path is absent), its stderr kept."""
    from oxinfra.facts._fileproto import STAT_FORMAT

    return (
        "__ox_S() { __ox_l=$1 __ox_k=$2 __ox_j=$3; shift 3; __ox_c=$# __ox_i=0 __ox_z=\n"
        f"{absent_loop()}\n"
        '__ox_q $__ox_l 0; printf %s "$__ox_z"; __ox_q $__ox_k 0; shift $__ox_c\n'
        f'[ $# -eq 0 ] || stat -c {quote("%n|" + STAT_FORMAT)} -- "$@" </dev/null; __ox_q $__ox_j $?; }}\n'
    )


def done_marker(nonce: str) -> bytes:
    return f"\n@@OX-{nonce}:DONE\n".encode()


@lru_cache(maxsize=64)
def _base64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


#: NAME_MAX: the longest file name Linux takes (bytes).
_NAME_MAX = 255


def upload_temp_name(dest: str, nonce: str) -> str:
    """The name of an upload's temporary file, in ``dest``'s directory: ``.NAME.oxinfra-NONCE``,
    or, when that would be over NAME_MAX (a name of 238 bytes or more), a fixed-length
    ``.HASH.oxinfra-NONCE`` (the name's SHA-1, 16 hex digits)."""
    name = posixpath.basename(dest)
    tmp = f".{name}.oxinfra-{nonce[:8]}"
    if len(tmp.encode("utf-8", "surrogateescape")) > _NAME_MAX:
        digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        tmp = f".{digest}.oxinfra-{nonce[:8]}"
    return tmp


def render_upload(upload: FileUpload, nonce: str) -> str:
    """Write the bytes through a temporary file next to the destination, then rename.
    Contents without NUL bytes are written by the shell's own ``printf`` (no process to
    exec); others are decoded by ``base64 -d``. Never exits the shell: a failure leaves no
    temporary file and a non-zero status.

    The temporary file is created in a subshell, exclusively (``set -C``: a file or link
    someone put at its name is never written through, the upload fails instead) and under a
    umask that gives it no permission its mode lacks: ``upload.umask`` (exactly the mode),
    else one made from ``upload.mode`` (the mode without execute and special bits, which
    ``chmod`` adds once the contents are in), else the shell's own (a new file that gets
    the default mode)."""
    dest = upload.dest
    tmp_path = posixpath.join(posixpath.dirname(dest) or ".", upload_temp_name(dest, nonce))
    tmp = quote(tmp_path)
    # owner before mode (a chown clears set-user-ID bits), both before the rename: a name the
    # host lacks fails here, with what is at dest untouched
    before = ""
    if upload.keep_owner and not (upload.user and upload.group):
        # the replaced file's owner and group where user/group do not name them
        before = f"{copy_owner(dest, tmp_path, upload.user, upload.group)} && "
    elif upload.user and upload.group:
        before = f"chown -- {quote(f'{upload.user}:{upload.group}')} {tmp} && "
    elif upload.user:
        before = f"chown -- {quote(upload.user)} {tmp} && "
    elif upload.group:
        before = f"chgrp -- {quote(upload.group)} {tmp} && "
    if upload.mode is not None:
        before += f"chmod {upload.mode:03d} -- {tmp} && "
    tail = f"&& {before}mv -f -- {tmp} {quote(dest)} || {{ rm -f -- {tmp}; false; }}"
    umask = upload.umask
    if umask is None and upload.mode is not None:
        umask = format(0o777 & ~int(str(upload.mode), 8), "03o")
    create = f"umask {umask} && set -C" if umask is not None else "set -C"
    if b"\x00" not in upload.data:
        text = quote(upload.data.decode("utf-8", "surrogateescape"))
        return f"({create} && printf %s {text} > {tmp}) {tail}"
    eof = f"__OX_EOF_{nonce}"
    return f"({create} && base64 -d > {tmp} <<'{eof}'\n{_base64(upload.data)}{eof}\n) {tail}"


def render_commands(commands: Iterable[Any], args: GlobalArgs, nonce: str, shell_safe: bool = False) -> str:
    """The shell text of one operation: its commands in order, stopping at the first failure
    (``_continue_on_error`` with ``_ignore_errors``: going on, the first failure's status
    kept), with ``_chdir``, ``_env``, privilege, ``_timeout``, ``_shell_executable``,
    ``_success_exit_codes``, ``_stdin`` and ``_retries`` applied.

    Commands of a ``shell_safe`` operation with none of those run in the host's shell itself
    (no subshell to fork); anything else runs in a subshell so that ``exit``, ``cd`` or
    variables cannot leak into the shell that runs the rest of the script, and each of its
    commands is read by ``eval`` from one quoted word, so a syntax error in it (an
    unbalanced quote) fails it alone instead of changing how the rest of the script is read.

    ``_stdin``: each command (not file uploads) reads the lines from a quoted here-document
    (each line ending in a newline, as pyinfra writes them), in the script, never an argument.
    ``_success_exit_codes``: a command's status in the list counts as success (0), any other
    as failure (its own status, or 1 for a 0 that is not in the list)."""
    parts = []
    stdin = args.stdin
    if stdin is not None:
        lines = [stdin] if isinstance(stdin, str) else list(stdin)
        stdin = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    codes = args.success_exit_codes
    for item in commands:
        if isinstance(item, FileUpload):
            parts.append(f"{{ {render_upload(item, nonce)}\n}}")
            continue
        if not shell_safe:
            # shell text as an operation wrote it (server.shell: the deploy's author) is read
            # by eval, as one quoted word: an unbalanced quote or another syntax error fails
            # this command (its subshell exits), and cannot swallow the rest of the script
            item = "eval " + quote(str(item))
        # with _success_exit_codes or _continue_on_error each command runs in a subshell of its
        # own, so that its `exit N` is its status, as when pyinfra runs it as a process of its own
        own = (codes is not None and set(codes) != {0}) or (args.continue_on_error and args.ignore_errors)
        part = f"( {item}\n)" if own else f"{{ {item}\n}}"
        if stdin is not None:
            end = _here_delimiter(stdin + item)
            part = f"{{ {part} <<'{end}'\n{stdin}{end}\n}}"
        if codes is not None and set(codes) != {0}:
            # quoted: an IFS from _env must not split the status
            ok = " || ".join(f'[ "$__ox_c" -eq {int(c)} ]' for c in sorted(set(codes)))
            fail = (
                '(exit "$__ox_c")' if 0 in codes else 'if [ "$__ox_c" -eq 0 ]; then (exit 1); else (exit "$__ox_c"); fi'
            )
            part = f"{{ {part}\n__ox_c=$?; if {ok}; then true; else {fail}; fi; }}"
        parts.append(part)
    if args.continue_on_error and args.ignore_errors and len(parts) > 1:
        chain = "__ox_e=0\n" + "\n".join(
            f'{p} || {{ __ox_c=$?; [ "$__ox_e" -ne 0 ] || __ox_e=$__ox_c; }}' for p in parts
        )
        chain += '\n(exit "$__ox_e")'
    else:
        chain = " &&\n".join(parts)
    shell = args.shell_executable or "sh"
    contained = (
        not shell_safe
        or args.chdir
        or args.env
        or args.privilege
        or args.timeout is not None
        or shell != "sh"
        or stdin is not None
        or codes is not None
        or args.continue_on_error
    )
    if contained:
        lines_: list[str] = []
        if args.privilege:  # the privileged shell started: sudo or su let it (operation_result)
            lines_.append(f"printf '%s\\n' {STARTED}{nonce}")
        if args.chdir:
            # a relative one as ./PATH, decided on the host (an Interpolated one is known only
            # there): cd would search CDPATH, and take "-" (the previous directory) and -P,
            # -L as options even after --
            lines_.append(
                f'__ox_d={quote(args.chdir)}; [ "${{__ox_d#/}}" != "$__ox_d" ] || __ox_d=./$__ox_d; cd "$__ox_d" || exit $?'
            )
        if args.env:
            for key, value in args.env.items():
                lines_.append(f"export {key}={quote(value)} || exit $?")  # bash goes on after a readonly name
        lines_.append(chain)
        body = wrap_privilege("\n".join(lines_), args.privilege, args.timeout, shell)
    else:
        body = f"{{ {chain}\n}}"
    if args.retries:
        delay = quote(_number(args.retry_delay))
        return (
            f"__ox_t=0\nwhile :; do\n{body} </dev/null 9<&-\n__ox_r=$?\n"
            f"[ $__ox_r -eq 0 ] && break\n__ox_t=$((__ox_t + 1))\n"
            f"[ $__ox_t -gt {args.retries} ] && break\nsleep {delay}\ndone\n"
            f"[ $__ox_r -eq 0 ] || (exit $__ox_r)"
        )
    return f"{body} </dev/null 9<&-"  # 9: the host lock (_engine/lock.py), never held by what runs


STARTED = "@@OXS-"


def who(privilege: tuple[Any, ...]) -> str:
    """``sudo``, ``sudo -u USER``, ``su USER`` or ``sudo + su USER``: for messages."""
    p = Privilege(*privilege)
    parts = [
        f"sudo -u {p.sudo_user}" if p.sudo_user else "sudo" if p.sudo else "",
        f"su {p.su_user}" if p.su_user else "",
    ]
    return " + ".join(part for part in parts if part)


def operation_result(args: GlobalArgs, stdout: bytes, stderr: bytes, rc: int, nonce: str) -> tuple[bytes, str | None]:
    """An operation block's stdout as its commands printed it, and its error (None for
    status 0). A privileged block whose shell never started failed in sudo or su itself
    (a wrong password, a user who may not, su without a terminal): its error says so with
    their last message, not the bare status."""
    if args.privilege:
        mark = f"{STARTED}{nonce}\n".encode()
        started = mark in stdout
        stdout = stdout.replace(mark, b"")
        if rc != 0 and not started:
            lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
            return stdout, f"could not run as {who(args.privilege)}: " + (lines[-1].strip() if lines else f"exit {rc}")
    return stdout, None if rc == 0 else f"exit code {rc}"


def capturable(requests: Iterable[Any]) -> bool:
    """Whether a script of these fact reads may collect its output in the shell (see
    ``ScriptBuilder.capture``): built-in facts only, none whose output may hold NUL bytes
    (``binary_output``), and none whose sudo password check must be remembered by the shell
    itself (a capture runs in a subshell)."""
    return all(
        r.safe and not getattr(r.cls, "binary_output", False) and getattr(r.context, "password", None) is None
        for r in requests
    )


@lru_cache(maxsize=1)
def _absent_proof() -> str:
    from oxinfra.facts._fileproto import absent_proof

    return absent_proof("__ox_a")


def _short(command: str) -> str:
    """``command`` with the file facts' absence proof (:func:`oxinfra.facts.files.absent_proof`
    over ``$__ox_a``) replaced by a call of ``__ox_A``, the same text defined once in the
    shell's prelude: the same test, a third of the bytes per fact. Only for commands that
    run in the persistent shell or a subshell of it (a privileged one starts a new shell)."""
    proof = _absent_proof()
    return command.replace(proof, "__ox_A") if proof in command else command


def fact_command(request: Any, command: str | None = None) -> str:
    """A fact's command as it runs in the script: in the shell itself when the fact is
    ``shell_safe`` and needs no privilege change, else in its own (sub)process. ``command``:
    another command of the same fact (its guard's) in place of ``request.command``."""
    command = request.command if command is None else command
    context = request.context
    if request.safe and not context:
        return f"{{ {_short(command)}\n}}"
    if context:
        # The inner shell ends its output with the command's status: without that line,
        # the status is sudo's or su's own (a password needed, no such user), which must
        # never be read as the fact's "absent" (see :func:`privileged_result`). The command
        # runs in a subshell, so one that exits still gets its trailer; the inner shell then
        # exits with that status, so a failed fact's marker goes to stderr as for any fact.
        return wrap_privilege(f"( {command}\n); __ox_c=$?; printf '\\n@@OXR:%s\\n' $__ox_c; exit $__ox_c", context)
    return wrap_privilege(_short(command), context)


PRIVILEGED_TRAILER = b"\n@@OXR:"


def privileged_result(stdout: bytes, rc: int) -> tuple[bytes, int, bool]:
    """(stdout, status, ran) of a fact read with a privilege context: the command's own
    output and status when its shell ran (the trailer is there), else what the wrapper
    (sudo, su) gave and ``ran`` False."""
    at = stdout.rfind(PRIVILEGED_TRAILER)
    if at < 0 or not stdout.endswith(b"\n"):
        return stdout, rc, False
    code = stdout[at + len(PRIVILEGED_TRAILER) : -1]
    if not code.isdigit():
        return stdout, rc, False
    return stdout[:at], int(code), True


class _LinkPart:
    """A section of a :class:`StatBatch` other than its ``stat`` output: the paths proven
    absent, or the ``readlink`` output of its links."""

    __slots__ = ()


class StatBatch:
    """Several ``stat``-based facts (File, Directory, Link, Socket) read by ONE ``stat``
    process. :meth:`split` turns its output back into exactly what each fact's own command
    would have printed, so guards (which run the fact's own command) compare like with like.

    Three sections: the positions of the paths the script proved absent (``absent_index``;
    see :func:`oxinfra.facts.files.absent_proof`), the ``stat`` output of the others
    (``index``), the ``readlink`` output of the links (``link_index``).
    """

    __slots__ = ("requests", "index", "absent_index", "link_index", "nonce", "paths")

    def __init__(self, requests: list[Any], nonce: str) -> None:
        self.requests = requests
        self.index = -1
        self.absent_index = -1
        self.link_index = -1
        self.nonce = nonce
        self.paths: list[bytes] = []

    def with_nonce(self, nonce: str) -> "StatBatch":
        copy = StatBatch(self.requests, nonce)
        copy.index, copy.absent_index, copy.link_index, copy.paths = (
            self.index,
            self.absent_index,
            self.link_index,
            self.paths,
        )
        return copy

    def split(self, sections: dict[int, tuple[int | None, bytes]]) -> list[tuple[Any, bytes, int]]:
        """Each request with what its own command would have printed, and its exit status
        (none if a section is missing: the script stopped in the batch). Raises
        OutputParseError (naming what is malformed) for output of another shape."""
        absent_part, stat_part, links_part = (sections.get(k) for k in (self.absent_index, self.index, self.link_index))
        if absent_part is None or stat_part is None or links_part is None:
            return []
        (_, absent), (_, stat), (_, links) = absent_part, stat_part, links_part
        found = dict(zip(self.paths, _core.split_stat_batch(absent, stat, links, self.nonce, self.paths)))
        return [(r, *found[r.kwargs["path"].encode("utf-8", "surrogateescape")]) for r in self.requests]

    def errors(self, stderr: bytes) -> dict[Any, bytes]:
        """The stderr of the batch's ``stat`` as each request's own: the lines that name its
        path (quoted as GNU stat does, else anywhere), or all of them when none does
        (``stat: illegal option -- c``)."""
        lines = stderr.splitlines(keepends=True)
        out: dict[Any, bytes] = {}
        for request in self.requests:
            path = request.kwargs["path"].encode("utf-8", "surrogateescape")
            quoted = b"'" + path + b"'"
            own = b"".join(line for line in lines if quoted in line) or b"".join(line for line in lines if path in line)
            out[request.key] = own or stderr
        return out


def absent_loop() -> str:
    """The loop of a stat batch over the positional parameters (its paths), counting from
    ``$__ox_i``: prints the ``readlink`` block of each link (see :class:`StatBatch`), adds
    the position of each path proven absent (:func:`oxinfra.facts.files.absent_proof`) to
    ``$__ox_z`` (a line each), appends every other path to the positional parameters (for
    ``stat ... "$@"``). Shell builtins only, but ``readlink`` for links."""
    from oxinfra.facts._fileproto import absent_proof

    return (
        "for __ox_a; do\n"
        'if [ -e "$__ox_a" ] || [ -L "$__ox_a" ]; then set -- "$@" "$__ox_a"\n'
        '[ ! -L "$__ox_a" ] || { printf \'\\n@@L-%s-%s\\n\' "$__ox_n" $__ox_i; '
        'readlink -- "$__ox_a" </dev/null 2>/dev/null; printf \'\\n@@R-%s-%s\\n\' "$__ox_n" $?; }\n'
        f'else __ox_p=$__ox_a; if {absent_proof("__ox_p")}; then __ox_z="$__ox_z$__ox_i\n"; '
        'else set -- "$@" "$__ox_a"; fi\n'
        "fi; __ox_i=$((__ox_i + 1)); done"
    )


def _batchable(request: Any) -> bool:
    path = request.kwargs.get("path")
    return (
        getattr(request.cls, "stat_batch", False)
        and not request.context
        and isinstance(path, str)
        and bool(path)
        and path != "-"  # stat's operand "-" is its standard input: the fact's own command
        and "\n" not in path
        and len(request.kwargs) == 1
    )


def _hash_batchable(request: Any) -> bool:
    """A hash fact (``hash_batch``) that may share one process with others of its class: a
    path that ``PROG -- PATH`` reads as the file (not ``-``, stdin) and that GNU's
    ``sha1sum`` prints as it is (a name with a newline, CR or backslash is escaped)."""
    path = request.kwargs.get("path")
    return (
        getattr(request.cls, "hash_batch", False)
        and request.safe
        and not request.context
        and len(request.kwargs) == 1
        and isinstance(path, str)
        and bool(path)
        and path != "-"
        and "\n" not in path
        and "\r" not in path
        and "\\" not in path
        and request.cls.command is _hash_command(request.cls)
    )


def _hash_command(cls: Any) -> Any:
    """The command the batch stands for (that of the class that says ``hash_batch``): a
    subclass with a ``command`` of its own runs its own."""
    owner = next((k for k in cls.__mro__ if "hash_batch" in vars(k)), cls)
    return owner.command


class FactScript:
    """The text of a fact batch made once and added to the scripts of many hosts (hosts of
    one class ask for the same facts; see :mod:`oxinfra._engine.reuse`). The text names the
    nonce only through ``$__ox_n``, so it is the same on every host."""

    __slots__ = ("requests", "first", "text", "owners", "capture", "link_index")

    def __init__(self, requests: list[Any], first: bool) -> None:
        self.requests = requests
        self.first = first
        probe = ScriptBuilder("0" * 24, first=first)
        parts, sections = len(probe.parts), len(probe.sections)
        probe.add_facts(requests)
        self.text = "".join(probe.parts[parts:])
        self.owners = probe.sections[sections:]
        self.capture = capturable(requests)
        # The section that holds link targets: the only one whose output names the nonce.
        self.link_index = next((o.link_index for o in self.owners if isinstance(o, StatBatch)), None)

    def add_to(self, builder: "ScriptBuilder") -> None:
        if builder.first != self.first or len(builder.sections) != (1 if self.first else 0):
            raise ValueError("a FactScript goes into a script made like the one it was made for")
        builder.parts.append(self.text)
        nonce = builder.nonce
        builder.sections.extend(o.with_nonce(nonce) if isinstance(o, StatBatch) else o for o in self.owners)
        builder.capture = self.capture


class ScriptBuilder:
    """Builds one round trip's script; ``sections`` maps marker index → what it belongs to."""

    def __init__(self, nonce: str, first: bool = False, lock: str | None = None) -> None:
        self.nonce = nonce
        self.first = first
        self.locks = False  # the script takes the host's lock (set by HostRun.builder)
        self.parts: list[str] = []
        self.sections: list[Any] = []
        #: Operation blocks whose marker goes to stdout only (``add_operation(joined=True)``).
        self.joined = 0
        if first:
            # The shell's first script defines the markers, then ends an empty section so
            # that anything the login printed before it (a banner, an rc file's chatter)
            # lands there and not in the first fact. With ``lock`` (_engine/lock.py) that
            # section's status is the lock's: the shell ends there unless it was taken.
            self.parts.append(prelude(nonce))
            if lock:
                self.parts.append(lock)
            # on stderr too: what the host printed there before the script (a login message,
            # "Could not chdir to home directory") is this first section's, no operation's
            self.parts.append(f"__ox_m {self._index(None)} {'$__ox_k' if lock else 0}\n")
            if lock:
                self.parts.append('[ "$__ox_k" = 0 ] || { __ox_d; exit 0; }\n')
        self._body_start = len(self.parts)
        #: Collect the script's output in the shell and write it in one piece at the end
        #: (a few packets instead of one per section). Only for scripts whose every command
        #: is oxinfra's own (command substitution drops NUL bytes and trailing newlines).
        self.capture = False
        self.parts.append("__ox_s=\n")

    def _index(self, owner: Any) -> int:
        self.sections.append(owner)
        return len(self.sections) - 1

    def add_facts(self, requests: list[Any]) -> None:
        self.parts.append(self._fact_lines(requests))

    def _fact_lines(self, requests: list[Any]) -> str:
        """Script text reading ``requests``: stat-based facts in one ``stat`` process (and a
        ``readlink`` only for paths that are links), two or more hash facts of one class in
        one process (:meth:`_hash_lines`), every other fact with its own command."""
        lines = []
        stat: list[Any] = []
        rest: list[Any] = []
        for request in requests:
            (stat if _batchable(request) else rest).append(request)
        batch = StatBatch(stat, self.nonce)
        if batch.requests:
            paths = list(dict.fromkeys(r.kwargs["path"] for r in batch.requests))
            # Each path is proven absent (no process) or goes to the one stat, whose failure
            # for it (stderr kept) is never "absent"; links get a readlink each.
            batch.link_index = self._index(_LinkPart())
            batch.absent_index = self._index(_LinkPart())
            batch.index = self._index(batch)
            batch.paths = [p.encode("utf-8", "surrogateescape") for p in paths]
            words = " ".join(quote(p) for p in paths)
            lines.append(f"__ox_S {batch.link_index} {batch.absent_index} {batch.index} {words}\n")
        groups: dict[Any, list[Any]] = {}
        for request in rest:
            if _hash_batchable(request):
                groups.setdefault(request.cls, []).append(request)
        hashed = {id(r): group for group in groups.values() if len(group) > 1 for r in group}
        for request in rest:
            group = hashed.get(id(request))
            if group is None:
                lines.append(self._own_line(request))
            elif request is group[0]:
                lines.append(self._hash_lines(group))
        return "".join(lines)

    def _own_line(self, request: Any) -> str:
        return f"{fact_command(request)} </dev/null; __ox_q {self._index(request)} $?\n"

    def _hash_lines(self, group: list[Any]) -> str:
        """Hash facts of one class (each its own section), all or nothing: when every path is a
        regular file, ONE ``PROG -- PATH...`` (``programs[0]``) prints a line per path, in
        order (its status 0; no name is escaped, see :func:`_hash_batchable`), whose digest
        becomes ``DIGEST  -``: exactly what each fact's own command (``PROG < PATH``) prints.
        Otherwise (a path missing or of another type, a file it cannot read, no ``PROG``)
        each fact's own command runs, as without a batch."""
        start = len(self.sections)
        fallback = "".join(self._own_line(r) for r in group)
        indices = " ".join(str(i) for i in range(start, len(self.sections)))
        words = [quote(r.kwargs["path"]) for r in group]
        tests = " && ".join(f"[ -f {w} ]" for w in words)
        # Before anything is printed: every line is GNU's "DIGEST  NAME" for its own path, in
        # order (another program, a binary-mode "DIGEST *NAME", fewer lines: the own commands).
        check = (
            f'__ox_hv=$__ox_h; for __ox_hp in {" ".join(words)}; do __ox_hl=${{__ox_hv%%"\n"*}}; '
            f'__ox_hv=${{__ox_hv#*"\n"}}; [ "${{__ox_hl#*  }}" = "$__ox_hp" ] || {{ __ox_hp=; break; }}; done; '
            '[ -n "$__ox_hp" ]'
        )
        return (
            f"if {tests} && __ox_h=$({group[0].cls.programs[0]} -- {' '.join(words)} </dev/null 2>/dev/null) && {{ {check}; }}; then\n"
            f'for __ox_hi in {indices}; do __ox_hl=${{__ox_h%%"\n"*}}; __ox_h=${{__ox_h#*"\n"}}; '
            "printf '%s  -\\n' \"${__ox_hl%% *}\"; __ox_q $__ox_hi 0; done\n"
            f"else\n{fallback}fi\n"
        )

    def add_refetch_chain(self, per_op: list[tuple[int, list[Any]]]) -> None:
        """Define ``__ox_f<k>`` for each operation ``k``: it reads the facts needed from
        operation ``k`` on (each fact in the function of the last operation that needs it,
        each function calling the next). An operation that goes stale calls its function,
        so the facts to re-plan with come back in the same round trip."""
        names = [k for k, _ in per_op]
        for pos, (k, requests) in enumerate(per_op):
            lines = [self._fact_lines(requests)]
            if pos + 1 < len(per_op):
                lines.append(f"__ox_f{names[pos + 1]}\n")
            self.parts.append(f"__ox_f{k}() {{\n:\n{''.join(lines)}}}\n")

    def add_operation(
        self,
        owner: Any,
        text: str | None,
        guards: list[tuple[Any, bytes, int]],
        ignore_errors: bool,
        on_stale: str = "",
        joined: bool = False,
    ) -> None:
        """One operation block: run only if no earlier block stopped the script, and only if
        every guard (a fact the plan assumed) still reads as it did when gathered.

        ``joined`` (a quiet operation's): its commands' stderr goes to stdout, and its marker
        only to stdout -- its section of stdout is all it printed, its section of stderr is
        never written (the stderr stream holds the other blocks' sections, exactly)."""
        i = self._index(owner)
        mark = "__ox_mo" if joined else "__ox_m"
        if joined:
            self.joined += 1
        checks = []
        for request, stdout, rc in guards:
            if request.safe and not request.context:
                test = request.fact.guard_test(stdout, rc, **request.kwargs)
                if test is not None:  # builtins in the shell itself: no process
                    checks.append(f"{{ {_short(test)}; }}")
                    continue
            command = None
            other = request.fact.guard(stdout, **request.kwargs)
            if other is not None:  # the fact compares less than its whole output
                command, stdout = other
            try:
                expected = quote(stdout.decode("utf-8", "surrogateescape") + f"|{rc}")
            except QuotingError:  # output with NUL bytes cannot be compared in a shell
                checks.append("false")
                continue
            checks.append(f'[ "$( {fact_command(request, command)} </dev/null 2>/dev/null; echo "|$?")" = {expected} ]')
        if text is None:
            run = "__ox_r=0\n"
        elif joined:
            run = f"{{ {text}\n}} 2>&1\n__ox_r=$?\n"
        else:
            run = f"{text}\n__ox_r=$?\n"
        stop = "" if ignore_errors else "[ $__ox_r -eq 0 ] || __ox_s=1\n"
        block = f"{run}{mark} {i} $__ox_r\n{stop}"
        if checks:
            block = f"if {' && '.join(checks)}; then\n{block}else {mark} {i} stale; __ox_s=1; {on_stale}\nfi\n"
        self.parts.append(f'if [ -z "$__ox_s" ]; then\n{block}fi\n')

    def add_after(self, requests: list[Any]) -> None:
        """Facts read after the operations, only if none of them stopped the script."""
        if requests:
            self.parts.append(f'if [ -z "$__ox_s" ]; then\n{self._fact_lines(requests)}fi\n')

    def fact_results(self, sections: dict[int, tuple[int | None, bytes]]) -> list[tuple[Any, bytes, int]]:
        """(request, stdout, exit status) of every fact this script read and got back
        (``sections`` as ``_core.demux`` gives them: a status is an int, None for stale)."""
        out: list[tuple[Any, bytes, int]] = []
        for index, owner in enumerate(self.sections):
            if isinstance(owner, StatBatch):
                out.extend(owner.split(sections))
            elif hasattr(owner, "fact") and index in sections:
                status, data = sections[index]
                if status is None:
                    raise OutputParseError(
                        f"the section of fact {owner.cls.name} ended as stale; facts end with an exit status"
                    )
                out.append((owner, data, status))
        return out

    def fact_requests(self) -> list[Any]:
        """Every fact request this script reads."""
        out: list[Any] = []
        for owner in self.sections:
            if isinstance(owner, StatBatch):
                out.extend(owner.requests)
            elif hasattr(owner, "fact"):
                out.append(owner)
        return out

    def fact_errors(self, err_sections: dict[int, bytes]) -> dict[Any, bytes]:
        """The stderr of each fact of this script whose command failed, by request key."""
        out: dict[Any, bytes] = {}
        for index, data in err_sections.items():
            owner = self.sections[index] if index < len(self.sections) else None
            if isinstance(owner, StatBatch):
                out.update(owner.errors(data))
            elif owner is not None and hasattr(owner, "fact"):
                out[owner.key] = data
        return out

    def build(self) -> bytes:
        """The script, once: its parts are dropped (a fleet holds many scripts in flight)."""
        if self.capture:
            head, body = "".join(self.parts[: self._body_start]), "".join(self.parts[self._body_start :])
            text = f"{head}__ox_o=$(\n{body})\nprintf '%s\\n' \"$__ox_o\"\n__ox_d\n"
        else:
            text = "".join(self.parts) + "__ox_d\n"
        self.parts = []
        return text.encode("utf-8", "surrogateescape")
