"""Facts about files on the host: existence, type, owner, mode, checksums and content matches.

The shell side is ``stat``/``readlink``/``sha*sum``/``grep``; the parsing is Rust
(:mod:`oxinfra._core`), shared with the JSON fixtures under ``tests/facts/``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed
from oxinfra.facts._fileproto import DIFF_LIMIT
from oxinfra.facts._fileproto import GUARD_STAT_FORMAT
from oxinfra.facts._fileproto import STAT_FORMAT as STAT_FORMAT
from oxinfra.facts._fileproto import absent_proof as absent_proof
from oxinfra.facts._fileproto import without_atime
from oxinfra.quoting import quote, quote_interpolated

__all__ = [
    "File",
    "Directory",
    "Link",
    "Socket",
    "Sha1File",
    "Sha256File",
    "FindInFile",
    "LinkTarget",
    "SameFile",
    "Md5File",
    "Sha384File",
    "FileContents",
    "Block",
    "BlockMarkers",
    "FindFiles",
    "FindLinks",
    "FindDirectories",
    "FileBytes",
    "DiffContent",
    "DIFF_LIMIT",
]

#: The path a file fact's command names once, in ``__ox_a``.
_P = '"$__ox_a"'
_NOT_A_FILE = (
    # For facts that read a regular file (``if [ -f ... ]; then ...``): status 0 (no file) when
    # the path is something else or is proven absent; else 2, with a message on stderr.
    f"elif [ -e {_P} ] || [ -L {_P} ]; then :; else {absent_proof('__ox_a')} "
    "|| { echo 'not provably absent: the nearest existing path above it is no directory we may search' >&2; "
    "(exit 2); }; fi"
)


def _proven_absent(path: str) -> str:
    """A guard test (:meth:`FactBase.guard_test`): ``path`` is neither ``-e`` nor ``-L`` and
    its absence is proven as the facts' commands prove it. Builtins only."""
    return f"__ox_a={quote(path)}; ! [ -e {_P} ] && ! [ -L {_P} ] && {{ {absent_proof('__ox_a')}; }}"


def _datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


def _stdin_safe(path: str) -> str:
    """The path ``$__ox_a`` holds in a command where it is an operand of ``stat`` or ``grep``,
    which read their standard input for the operand ``-``: the file of that name is ``./-``
    (the same file; the command's words are the same for every path)."""
    return "./-" if path == "-" else path


def _stat_command(path: str, fmt: str = STAT_FORMAT) -> str:
    return (
        f"__ox_a={quote(_stdin_safe(path))}; if stat -c '{fmt}' -- {_P}; then [ ! -L {_P} ] || readlink -- {_P} "
        f"|| (exit 2); elif [ -e {_P} ] || [ -L {_P} ]; then (exit 2); elif {absent_proof('__ox_a')}; then false; "
        "else (exit 2); fi"
    )


class File(FactBase[Any]):
    """A regular file's ``user``, ``group``, ``mode`` (e.g. ``644``), ``size`` and times.

    ``None`` if the path does not exist, ``False`` if it exists but is another type::

        {"user": "app", "group": "app", "mode": 644, "size": 5536,
         "atime": datetime(...), "mtime": datetime(...), "ctime": datetime(...)}
    """

    type = "file"
    shell_safe = True
    #: 1: the path is not there, proven by the command (:func:`absent_proof`): ``stat``'s own
    #: failure is never read as absent (it exits 1 for a path it may not look at, and BSD
    #: ``stat`` exits 1 for ``-c``). Any other failure exits 2, with stat's stderr.
    absent_status = frozenset({1})
    #: Read together with other stat facts by one ``stat`` process (see _engine/script.py).
    stat_batch = True

    def command(self, path: str) -> str:
        return _stat_command(path, STAT_FORMAT)

    def guard(self, stdout: bytes, *args: Any, **kwargs: Any) -> tuple[str, bytes] | None:
        # the access time left out: a read between the facts and the operation moves it. Only
        # for this command: a subclass with a command of its own is compared whole
        if type(self).command is not File.command:
            return None
        path = args[0] if args else kwargs["path"]
        return _stat_command(path, GUARD_STAT_FORMAT), without_atime(stdout)

    def guard_test(self, stdout: bytes, rc: int, *args: Any, **kwargs: Any) -> str | None:
        # "absent" (status 1, no output) is stat failing, then the path neither -e nor -L
        # and proven absent: with neither -e nor -L, lstat fails too, so the test alone
        # decides -- no stat process
        if type(self).command is not File.command or rc != 1 or stdout:
            return None
        return _proven_absent(args[0] if args else kwargs["path"])

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc == 2:
            raise FactFailed(rc, "exit 2: stat or readlink failed, and the path is not provably absent")
        if rc != 0 and rc not in self.absent_status:
            raise FactFailed(rc)
        value = _core.parse_stat(self.type, stdout, rc)
        if isinstance(value, dict):
            stat: dict[str, Any] = value  # the times become datetimes
            for key in ("atime", "mtime", "ctime"):
                stat[key] = _datetime(stat[key])
        return value


class Directory(File):
    """Like :class:`File`, for a directory."""

    type = "directory"


class Link(File):
    """Like :class:`File`, for a symbolic link, with ``link_target`` added."""

    type = "link"


class Socket(File):
    """Like :class:`File`, for a unix socket."""

    type = "socket"


class _HashFile(FactBase[Any]):
    shell_safe = True
    #: Read together with the other facts of its class by one ``programs[0]`` process when
    #: every path is a regular file (see _engine/script.py).
    hash_batch = True
    digits = 0
    algorithm = ""
    programs: tuple[str, ...] = ()

    def command(self, path: str) -> str:
        # Not a file (proven absent, or another type): no output and status 0. A file no tool
        # can read: the last tool's failure, which is an error, never "absent".
        tries = " || ".join(f"{prog} < {_P}" for prog in self.programs)
        return f"__ox_a={quote(path)}; if [ -f {_P} ]; then {tries}; {_NOT_A_FILE}"

    def guard_test(self, stdout: bytes, rc: int, *args: Any, **kwargs: Any) -> str | None:
        # no output and status 0: not a regular file, and there or proven absent (a file
        # prints a digest, or fails)
        if type(self).command is not _HashFile.command or rc != 0 or stdout:
            return None
        path = args[0] if args else kwargs["path"]
        return f"__ox_a={quote(path)}; ! [ -f {_P} ] && {{ [ -e {_P} ] || [ -L {_P} ] || {{ {absent_proof('__ox_a')}; }}; }}"

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        if not stdout:
            return None
        digest = _core.parse_hash(stdout, self.digits)
        if digest is None:
            raise FactFailed(rc, f"not a {self.algorithm} digest: {stdout[:80]!r}")
        return digest

    def predict(self, content: bytes, **kwargs: Any) -> tuple[bytes, int] | None:
        return f"{hashlib.new(self.algorithm, content).hexdigest()}  -\n".encode(), 0


class Sha1File(_HashFile):
    """The SHA-1 hex digest of a file, or ``None`` if it is not a file."""

    digits = 40
    algorithm = "sha1"
    programs = ("sha1sum", "shasum", "openssl sha1 -r")


class Sha256File(_HashFile):
    """The SHA-256 hex digest of a file, or ``None`` if it is not a file."""

    digits = 64
    algorithm = "sha256"
    programs = ("sha256sum", "shasum -a 256", "openssl sha256 -r")


class LinkTarget(FactBase[Any]):
    """Where a path leads through symbolic links -- the path itself, or any directory above
    it, being one: the canonical path (``readlink -f``; the last component may be missing),
    or ``None`` when no symbolic link is involved. What an operation that writes ``path``
    changes there: it declares that path too (``touches``), so later facts about it are not
    taken from before the write.

    Shell builtins only (``[ -L ]`` up the path) unless a link is found; a link that cannot
    be resolved (a loop, a missing directory behind it) fails the fact.
    """

    shell_safe = True
    resolves_path = True

    def command(self, path: str) -> str:
        return (
            f'__ox_a={quote(path)}; __ox_b=$__ox_a; while ! [ -L "$__ox_b" ]; do __ox_c=${{__ox_b%/*}}; '
            '[ "$__ox_c" != "$__ox_b" ] && [ -n "$__ox_c" ] || { __ox_b=; break; }; __ox_b=$__ox_c; done; '
            f'[ -z "$__ox_b" ] || readlink -f -- {_P} || (exit 2)'
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: a symbolic link on the path that readlink -f cannot resolve")
        text = stdout.decode("utf-8", "surrogateescape").rstrip("\n")
        return text or None


class SameFile(FactBase[Any]):
    """Whether ``path`` and ``other`` are one file: the same device and inode (``stat -c``,
    links not followed), i.e. hard links of each other. ``False`` when either is missing;
    ``stat``'s own failure (a directory it may not search) fails the fact.
    """

    shell_safe = True

    def command(self, path: str, other: str) -> str:
        there = '{ [ -e "$__ox_a" ] || [ -L "$__ox_a" ]; } && { [ -e "$__ox_b" ] || [ -L "$__ox_b" ]; }'
        return (
            f"__ox_a={quote(_stdin_safe(path))}; __ox_b={quote(_stdin_safe(other))}; "
            f'if {there}; then stat -c %d:%i -- "$__ox_a" "$__ox_b"; fi'
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: stat could not read both paths")
        ids = stdout.decode("ascii", "replace").split()
        if not ids:
            return False
        if len(ids) != 2:
            raise FactFailed(rc, f"unexpected stat output {stdout[:200]!r}")
        return ids[0] == ids[1]


_SPECIAL_BRE = ".[]*^$\\"
_SPECIAL_ERE = "+?(){}|"


class FindInFile(FactBase[Any]):
    """The lines of a file matching a (grep) pattern: a list, empty if none match
    (``ignore_case``: letters of either case match, ``grep -i``).

    ``None`` if the file does not exist. grep's own failure (an invalid pattern, a file it
    may not read) is a failure of the fact, never "no match" or "absent"; so is a path that
    is there but is not a regular file (a directory, a fifo, a device, a dangling link): it
    is never read (a fifo would wait for a writer) nor taken for absent. When the file is
    missing, the pattern is still checked (grep reads ``/dev/null`` with it), so an invalid
    one fails the same whether or not the file exists.
    """

    shell_safe = True

    def command(
        self,
        path: str,
        pattern: str,
        interpolate_variables: bool = False,
        extended_regex: bool = False,
        ignore_case: bool = False,
    ) -> str:
        pat = quote_interpolated(pattern) if interpolate_variables else quote(pattern)
        # -a: a file grep takes for binary (a NUL byte; in a UTF-8 locale, bytes that are not
        # UTF-8) is read as text. Without it GNU grep (3.5+) reports a match on stderr only,
        # status 0 and no output: what "absent" looks like. -i: sed's I flag
        grep = "grep -a" + (" -i" if ignore_case else "") + (" -E" if extended_regex else "")
        # Absent: status 0 and no output (a match prints at least a newline), once grep
        # found the pattern valid (no line of /dev/null matches: 1); no match: grep's 1;
        # grep's 2 (bad pattern, unreadable file), not a regular file, a path not provably
        # absent, and anything else: failure (2).
        # A pattern with none of [ \ ( ) { cannot be invalid (BRE or ERE): the shell tells so
        # with builtins and grep checks only the others, so a missing file costs no process
        # for plain patterns (the words are the same for every pattern: the value decides on
        # the host, in $__ox_g).
        check = (
            f"__ox_t={pat}; __ox_g=; for __ox_c in '[' '\\' '(' ')' '{{'; do "
            '[ "${__ox_t#*"$__ox_c"}" = "$__ox_t" ] || __ox_g=1; done; '
            f'[ -z "$__ox_g" ] || {{ {grep} -e "$__ox_t" -- /dev/null; [ $? -eq 1 ] || (exit 2); }}'
        )
        return (
            f"__ox_a={quote(_stdin_safe(path))}; if [ -f {_P} ]; then {grep} -e {pat} -- {_P}; "
            f"elif [ -e {_P} ] || [ -L {_P} ]; then printf '%s: exists and is not a regular file\\n' {_P} >&2; "
            f"(exit 2); elif {absent_proof('__ox_a')}; then {check}; "
            "else echo 'not provably absent: the nearest existing path above it is no directory we may search' >&2; "
            "(exit 2); fi"
        )

    def guard_test(self, stdout: bytes, rc: int, *args: Any, **kwargs: Any) -> str | None:
        # absent (status 0, no output: a match prints at least a newline) with a pattern
        # the shell alone finds valid (none of [ \ ( ) {, so no grep of /dev/null): the
        # path neither -e nor -L, and proven absent
        if type(self).command is not FindInFile.command or rc != 0 or stdout:
            return None
        bound = {**dict(zip(self.arg_names(), args)), **kwargs}
        pattern = bound["pattern"]
        # an Interpolated pattern is expanded by the host whatever the flag says
        if bound.get("interpolate_variables") or type(pattern) is not str or any(c in pattern for c in "[\\(){"):
            return None
        return _proven_absent(bound["path"])

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc == 0 and not stdout:
            return None
        if rc == 1:
            return []
        if rc != 0:  # never "absent": files.line would then create the file over what is there
            raise FactFailed(
                rc,
                f"exit {rc}: an invalid pattern, a file grep may not read, a path that is not a regular "
                "file, or a path not provably absent",
            )
        return _core.parse_lines(stdout, rc, -1)

    def predict(self, content: bytes, **kwargs: Any) -> tuple[bytes, int] | None:
        """What grep prints for a literal pattern (optionally anchored, or wrapped in
        ``^.*`` / ``.*$``); patterns with other regular-expression syntax are not predicted."""
        if kwargs.get("interpolate_variables") or kwargs.get("ignore_case"):
            return None
        pattern: str = kwargs["pattern"]
        core, at_start, at_end = pattern, False, False
        if core.startswith("^.*"):
            core = core[3:]
        elif core.startswith("^"):
            core, at_start = core[1:], True
        if core.endswith(".*$") and not core.endswith("\\.*$"):
            core = core[:-3]
        elif core.endswith("$") and not core.endswith("\\$"):
            core, at_end = core[:-1], True
        if (
            not core
            or any(c in core for c in _SPECIAL_ERE if kwargs.get("extended_regex"))
            or any(c in core for c in _SPECIAL_BRE)
        ):
            return None
        if b"\x00" in content:  # grep would call it a binary file
            return None
        try:
            lines = content.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            return None
        if lines and lines[-1] == "":
            lines.pop()
        if at_start and at_end:
            found = [line for line in lines if line == core]
        else:
            found = [
                line
                for line in lines
                if core in line and (not at_start or line.startswith(core)) and (not at_end or line.endswith(core))
            ]
        return "".join(f"{line}\n" for line in found).encode(), 0 if found else 1


# ---------------------------------------------------------------- more digests, contents, blocks, find
# (pyinfra 3.10's Md5File, Sha384File, FileContents, Block, FindFiles, FindLinks, FindDirectories)


class Md5File(_HashFile):
    """The MD5 hex digest of a file, or ``None`` if it is not a file."""

    digits = 32
    algorithm = "md5"
    programs = ("md5sum", "md5", "openssl md5 -r")


class Sha384File(_HashFile):
    """The SHA-384 hex digest of a file, or ``None`` if it is not a file."""

    digits = 96
    algorithm = "sha384"
    programs = ("sha384sum", "shasum -a 384", "openssl sha384 -r")


class FileContents(FactBase[Any]):
    """A file's lines (a list of strings, without their newlines), as pyinfra 3.10 gives them:
    ``None`` when the path is not a file (absent, or another type) and also when the file is
    empty. A file that cannot be read fails the fact (``cat``'s error is never "absent").
    Bytes that are not UTF-8 become U+FFFD."""

    shell_safe = True

    def command(self, path: str) -> str:
        return f"__ox_a={quote(path)}; if [ -f {_P} ]; then cat < {_P}; {_NOT_A_FILE}"

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: the file could not be read, or the path is not provably absent")
        if not stdout:
            return None
        return _core.parse_lines(stdout, rc, -1)

    def predict(self, content: bytes, **kwargs: Any) -> tuple[bytes, int] | None:
        return content, 0


class FileBytes(FactBase[Any]):
    """A file's bytes (any bytes: they travel as base64), or ``None`` when the path is not a
    file (absent, or another type). An oxinfra addition, for ``files.get``. A file that
    cannot be read fails the fact."""

    shell_safe = True

    def command(self, path: str) -> str:
        return f"__ox_a={quote(path)}; if [ -f {_P} ]; then echo found && base64 < {_P}; {_NOT_A_FILE}"

    def parse(self, stdout: bytes, rc: int) -> Any:
        import base64
        import binascii

        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: the file could not be read, or the path is not provably absent")
        if not stdout:
            return None
        head, _, body = stdout.partition(b"\n")
        if head != b"found":
            raise FactFailed(rc, f"unexpected first line {head[:60]!r}")
        try:
            return base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise FactFailed(rc, f"not base64: {exc}") from None

    def predict(self, content: bytes, **kwargs: Any) -> tuple[bytes, int] | None:
        import base64

        return b"found\n" + base64.encodebytes(content), 0


class DiffContent(FactBase[Any]):
    """What a file holds, as ``--diff`` shows it (an oxinfra addition, read only by a run that
    shows diffs): its bytes, at most :data:`DIFF_LIMIT` + 1 of them (more than the limit: a
    larger file, summarised instead of diffed); ``None`` when there is no file (proven
    absent); otherwise a ``str`` saying why its content is not known (another type of file
    is there; and when the engine gives :meth:`unknown`: the fact failed, or an earlier
    operation changes the file in a way nobody predicted).

    It is only shown, never used to decide (``decides = False``: no guard, no failure of the
    operation that reads it), and its output is any bytes (``binary_output``). One ``head``
    process per file that is there."""

    shell_safe = True
    decides = False
    binary_output = True

    def command(self, path: str) -> str:
        # "F" then the bytes: an empty file is told from no file (no output)
        return (
            f"__ox_a={quote(path)}; if [ -f {_P} ]; then printf F; head -c {DIFF_LIMIT + 1} < {_P}; "
            f"elif [ -e {_P} ] || [ -L {_P} ]; then printf O; else {absent_proof('__ox_a')} || "
            "{ echo 'not provably absent: the nearest existing path above it is no directory we may search' >&2; "
            "(exit 2); }; fi"
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: the file could not be read, or the path is not provably absent")
        if not stdout:
            return None
        if stdout == b"O":
            return "not a regular file"
        if stdout[:1] != b"F":
            raise FactFailed(rc, f"unexpected output: {stdout[:20]!r}")
        return stdout[1:]

    def unknown(self, why: str) -> Any:
        return why

    def predict(self, content: bytes, **kwargs: Any) -> tuple[bytes, int] | None:
        return b"F" + content[: DIFF_LIMIT + 1], 0


#: pyinfra's default block markers: ``marker`` with ``{mark}`` set to ``begin``/``end``.
BLOCK_MARKER = "# {mark} PYINFRA BLOCK"


class Block(FactBase[Any]):
    """The lines between the markers of ``files.block`` in a file: a list (empty when the
    markers are not there, or nothing is between them); ``None`` when the path does not
    exist; ``[]`` for a path that exists but is not a file, as pyinfra 3.10 gives it.

    ``marker`` (default ``# {mark} PYINFRA BLOCK``) with ``{mark}`` set to ``begin``
    (default ``BEGIN``) and ``end`` (default ``END``). A line *containing* a marker counts
    (pyinfra reads markers as awk regular expressions: the same for markers without regex
    characters). Several blocks: all their lines. A file that cannot be read fails the fact.
    """

    shell_safe = True

    def command(self, path: str, marker: str | None = None, begin: str | None = None, end: str | None = None) -> str:
        from oxinfra.exceptions import FactError

        try:
            start_line = (marker or BLOCK_MARKER).format(mark=begin or "BEGIN")
            end_line = (marker or BLOCK_MARKER).format(mark=end or "END")
        except (KeyError, IndexError, ValueError) as exc:
            raise FactError(f"files.Block: marker {marker!r} has braces other than {{mark}}: {exc}") from None
        if start_line == end_line:
            raise FactError(f"files.Block: the begin and end markers are the same ({start_line!r}): make them differ")
        awk = 'awk \'index($0, ENVIRON["__OX_E"]) { f = 0 } f; index($0, ENVIRON["__OX_S"]) { f = 1 }\''
        # "found" first: the file (or something else) is there; then the block's lines.
        return (
            f"__ox_a={quote(path)}; if [ -f {_P} ]; then echo found && __OX_S={quote(start_line)} "
            f"__OX_E={quote(end_line)} {awk} < {_P}; elif [ -e {_P} ] || [ -L {_P} ]; then echo found; "
            f"else {absent_proof('__ox_a')} || {{ echo 'not provably absent: the nearest existing path above it "
            "is no directory we may search' >&2; (exit 2); }; fi"
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: awk failed, or the path is not provably absent")
        if not stdout:
            return None
        lines = _core.parse_lines(stdout, rc, -1) or []
        if lines[0] != "found":
            raise FactFailed(rc, f"unexpected first line {lines[0][:60]!r}")
        return lines[1:]


class BlockMarkers(FactBase[Any]):
    """How the markers of ``files.block`` stand in a file, and the file's owner and mode (of
    the file the path leads to): an oxinfra addition, what ``files.block`` checks before it
    rewrites a file. ``None`` when the path does not exist, ``False`` when it is not a regular
    file (nor a link to one), else::

        {"uid": 0, "gid": 0, "mode": "644", "blocks": 1, "unterminated": False}

    ``blocks``: the begin markers that open a block (a line *containing* the begin marker,
    outside a block, as ``files.Block`` reads them); ``unterminated``: the last block has no
    end marker after it. Markers as ``files.Block``'s. A file that cannot be read fails the fact.
    """

    shell_safe = True

    def command(self, path: str, marker: str | None = None, begin: str | None = None, end: str | None = None) -> str:
        from oxinfra.exceptions import FactError

        try:
            start_line = (marker or BLOCK_MARKER).format(mark=begin or "BEGIN")
            end_line = (marker or BLOCK_MARKER).format(mark=end or "END")
        except (KeyError, IndexError, ValueError) as exc:
            raise FactError(f"files.BlockMarkers: marker {marker!r} has braces other than {{mark}}: {exc}") from None
        if start_line == end_line:
            raise FactError(
                f"files.BlockMarkers: the begin and end markers are the same ({start_line!r}): make them differ"
            )
        awk = (
            'awk \'s == 0 && index($0, ENVIRON["__OX_S"]) { s = 1; b++; next } '
            's == 1 && index($0, ENVIRON["__OX_E"]) { s = 0 } END { print b + 0, s + 0 }\''
        )
        return (
            f"__ox_a={quote(_stdin_safe(path))}; if [ -f {_P} ]; then stat -L -c '%u %g %a' -- {_P} && __OX_S={quote(start_line)} "
            f"__OX_E={quote(end_line)} {awk} < {_P}; elif [ -e {_P} ] || [ -L {_P} ]; then echo other; "
            f"else {absent_proof('__ox_a')} || {{ echo 'not provably absent: the nearest existing path above it "
            "is no directory we may search' >&2; (exit 2); }; fi"
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: stat or awk failed, or the path is not provably absent")
        lines = stdout.decode("utf-8", "replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return None
        if lines == ["other"]:
            return False
        found = [line.split(" ") for line in lines]
        if (
            len(found) != 2
            or len(found[0]) != 3
            or len(found[1]) != 2
            or not all(w.isdigit() for f in found for w in f)
        ):
            raise FactFailed(rc, f"unexpected output {stdout[:80]!r}")
        (uid, gid, mode), (blocks, open_block) = found
        return {
            "uid": int(uid),
            "gid": int(gid),
            "mode": mode,
            "blocks": int(blocks),
            "unterminated": open_block == "1",
        }


_GLOB_PATH = re.compile(r"[A-Za-z0-9_@%+=:,./*?\[\]-]+\Z")
_SIZE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMGT]?I?B)?\s*\Z")


def parse_size(value: str | int, what: str) -> int:
    """Bytes from ``1024``, ``"1.5KB"`` (10**3) or ``"1GiB"`` (2**30)."""
    from oxinfra.exceptions import FactError

    if isinstance(value, int) and not isinstance(value, bool):
        return value
    found = _SIZE.match(value.upper()) if isinstance(value, str) else None
    if found is None or (found.group(2) is not None and found.group(2) not in _SIZE_UNITS):
        raise FactError(f"{what}: not a size: {value!r} (give bytes, or a number with B, KB, MB, GB, TB, KiB... GiB)")
    return int(float(found.group(1)) * _SIZE_UNITS[found.group(2) or "B"])


class _Find(FactBase[Any]):
    """Paths ``find`` lists under ``path``, each a string: ``[]`` when none matches or when
    ``path`` does not exist. ``find``'s own failure (a directory it may not read) fails the
    fact, where pyinfra 3.10 gives what was listed. Paths are listed NUL-separated
    (``-print0``, through ``base64``: a shell drops NUL bytes), so a name holding a newline
    is one path, never two (pyinfra splits it); bytes that are not UTF-8 are kept
    (``surrogateescape``: ``os.fsdecode``'s), so a path read is a path that can be named.

    ``size``, ``min_size``, ``max_size``: bytes, or ``"10MB"``/``"1GiB"`` (``-size Nc``,
    ``+Nc``, ``-Nc``); ``maxdepth``; ``fname`` (``-name``), ``iname``, ``regex``,
    ``path_match`` (``-path``): patterns find matches; ``args``: more arguments to find,
    each one argument. ``quote_path=False``: ``path`` is a glob the shell expands (only
    letters, digits, ``/._-*?[]`` and the like; a glob that matches nothing fails).
    """

    shell_safe = True
    type_flag = ""

    def command(
        self,
        path: str,
        size: str | int | None = None,
        min_size: str | int | None = None,
        max_size: str | int | None = None,
        maxdepth: int | None = None,
        fname: str | None = None,
        iname: str | None = None,
        regex: str | None = None,
        path_match: str | None = None,
        args: list[str] | None = None,
        quote_path: bool = True,
    ) -> str:
        from oxinfra.exceptions import FactError

        what = f"files.{type(self).__name__}"
        if not isinstance(path, str) or not path or path.startswith("-"):
            raise FactError(f"{what}: path must be a path that does not start with '-', not {path!r}")
        extra = list(args) if isinstance(args, (list, tuple)) else [] if args is None else None
        if extra is None or not all(isinstance(a, str) for a in extra):
            raise FactError(f"{what}: args must be a list of strings, not {args!r}")
        options: list[str] = []
        if maxdepth is not None and "-maxdepth" not in extra:
            if isinstance(maxdepth, bool) or not isinstance(maxdepth, int) or maxdepth < 0:
                raise FactError(f"{what}: maxdepth must be a whole number >= 0, not {maxdepth!r}")
            options += ["-maxdepth", str(maxdepth)]
        words = ["-type", self.type_flag]
        if "-size" not in extra:
            if min_size is not None:
                words += ["-size", f"+{parse_size(min_size, what)}c"]
            if max_size is not None:
                words += ["-size", f"-{parse_size(max_size, what)}c"]
            if size is not None:
                words += ["-size", f"{parse_size(size, what)}c"]
        for flag, value in (("-name", fname), ("-iname", iname), ("-regex", regex), ("-path", path_match)):
            if value is not None and flag not in extra:
                words += [flag, value]
        # the tests in parentheses, so -print0 applies to all of them (as find's implicit -print)
        tests = " ".join([*(quote(w) for w in options), "\\(", *(quote(w) for w in [*words, *extra]), "\\)", "-print0"])
        if not quote_path:
            if not _GLOB_PATH.match(path):
                raise FactError(
                    f"{what}: with quote_path=False the path is a glob of letters, digits and /._-*?[] only, "
                    f"not {path!r}: quote it (the default) and match names with fname/path_match"
                )
            # a glob: letters, digits and /._-*?[] only (checked)
            return _base64_listing(f"find {path} {tests}")
        return (
            f"__ox_a={quote(path)}; if [ -e {_P} ] || [ -L {_P} ]; then {_base64_listing(f'find {_P} {tests}')}; "
            f"elif {absent_proof('__ox_a')}; then :; else echo 'not provably absent: the nearest existing "
            "path above it is no directory we may search' >&2; (exit 2); fi"
        )

    def default(self) -> Any:
        return []

    def parse(self, stdout: bytes, rc: int) -> Any:
        import base64
        import binascii

        if rc != 0:
            raise FactFailed(rc)
        try:
            data = base64.b64decode(stdout, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise FactFailed(rc, f"not base64: {exc}") from None
        if data and not data.endswith(b"\0"):
            raise FactFailed(rc, f"unexpected output: {data[-60:]!r} is not NUL-terminated")
        # NUL-separated: a newline is part of a name, never a separator; bytes that are not
        # UTF-8 kept as surrogates (surrogateescape), so the name quoted back is the same file
        return [p.decode("utf-8", "surrogateescape") for p in data.split(b"\0")[:-1]]


def _base64_listing(find: str) -> str:
    """``find`` (ending ``-print0``) with its output through ``base64`` (a host's shell drops
    NUL bytes from what it passes on), and find's exit status as the command's."""
    return (
        f'{{ __ox_s=$({{ {{ {find}; echo "$?" >&5; }} | base64 >&3; }} 5>&1); }} 3>&1; '
        '[ "$__ox_s" = 0 ] || (exit "${__ox_s:-2}")'
    )


class FindFiles(_Find):
    __doc__ = "Files (``find -type f``): " + (_Find.__doc__ or "")
    type_flag = "f"


class FindLinks(_Find):
    __doc__ = "Symbolic links (``find -type l``): " + (_Find.__doc__ or "")
    type_flag = "l"


class FindDirectories(_Find):
    __doc__ = "Directories (``find -type d``), ``path`` itself among them: " + (_Find.__doc__ or "")
    type_flag = "d"
