"""Audit: every file operation against every hostile target, over real SSH.

The operations are found, not listed: every ``@operation`` of ``oxinfra.operations.files``.
How to call one comes from its first fixture (``tests/operations/files.<op>/*.json``, sorted),
whose path argument (``path`` or ``dest``) is replaced by the case's target and whose local
``src`` is that fixture folder's own file.

Each target kind gets its own case root per operation; the whole matrix runs in a few deploys
(one per kind). For each case the operation must fail with the real error text, a later
operation of the same deploy must still change what it should (the host's shell survived),
and every file under the case root must keep its bytes, with no temporary file left over.
The same deploys run with ``--dry`` first: nothing on disk may change.

The targets (see ``_build``): a new entry in root's 755 directory; root's 644 file in a sticky
1777 directory (so a rename over it is refused too: in a directory the login user owns, a
write-and-rename legitimately replaces it); the login user's own file with mode 200; a file
under root's 0700 directory; a directory where a file is expected; and, for the operations that
take a regular expression, an invalid one. A 256-byte name and a path over 4096 bytes are
refused by every operation before any fact is read (an OperationValueError: the deploy does
not start), so those two kinds are checked by planning the call, not on the host.
The loopback fleet logs in as an unprivileged user, so root's files are "not yours".
"""

from __future__ import annotations

import inspect
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import Outcome, run_deploy, write_deploy, write_inventory

HOST = "127.0.0.1"
FIXTURES = Path(__file__).resolve().parent / "operations"
KEEP = b"first = 1\nMODE=staging\nthird = 3\n"
#: What a path that names the wrong kind of thing fails with (the operation's own check).
WRONG_KIND = r"exists and is not a (regular )?(file|directory|link)"


#: Operations of the family left out, and why.
NOT_HERE = {
    # fetches a URL: its failures here would be the network's (tests/test_files_download_containers.py
    # checks that a failed download keeps dest and leaves no temporary file)
    "download": "needs an HTTP server",
    # src is a path on the host, not a local file this audit can place (their failures:
    # fixtures, and tests/test_files_remote_containers.py on a container host)
    "move": "src is on the host",
    "copy": "src is on the host",
    # src is a local directory, where this audit places one local file
    "sync": "src is a local directory",
    # reads src on the host and writes a local file (its failures: fixtures, tests/test_files_remote_containers.py)
    "get": "writes a local file",
}


def _file_operations() -> dict[str, Callable[..., Any]]:
    from oxinfra.operations import files

    # inspect.isfunction first: the module's ``host`` proxy answers every attribute
    return {
        name: obj
        for name, obj in vars(files).items()
        if inspect.isfunction(obj)
        and getattr(obj, "_oxinfra_operation", False)
        and (obj.__module__ == files.__name__ or obj.__module__.startswith(files.__name__ + "."))
        and name not in NOT_HERE
    }


OPERATIONS = sorted(_file_operations())


def _recipe(op: str) -> tuple[dict[str, Any], str]:
    """The first fixture's arguments for ``files.<op>`` (local files made absolute), and the
    name of its path argument."""
    folder = FIXTURES / f"files.{op}"
    first = sorted(folder.glob("*.json"))
    assert first, f"files.{op} has no fixture to take a call from: add one under {folder}"
    args = dict(json.loads(first[0].read_text())["args"])
    if "src" in args:
        args["src"] = str(folder / args["src"])
        assert Path(args["src"]).is_file(), args
    key = "dest" if "dest" in args else "path"
    assert key in args, f"{first[0]}: no path or dest argument"
    return args, key


#: Regex arguments, for the invalid-regex kind.
REGEX_ARG = {"line": "line", "replace": "text"}
BAD_REGEX = "MODE=a[b"


@dataclass(frozen=True)
class Kind:
    """A hostile target (built by ``_build``) and what failing on it says."""

    name: str
    errors: str  # a regex one of the error texts must match
    ops: tuple[str, ...] | None = None  # only these operations (None: all)
    refused: bool = False  # refused while planning, before any fact is read


KINDS = (
    Kind("unwritable-dir", r"Permission denied"),
    Kind("unwritable-file", rf"Permission denied|Operation not permitted|{WRONG_KIND}"),
    Kind("unreadable-file", rf"Permission denied|{WRONG_KIND}"),
    Kind("unreadable-above", r"Permission denied|not provably absent"),
    Kind("directory", rf"Is a directory|{WRONG_KIND}"),
    Kind("long-name", r"NAME_MAX", refused=True),
    Kind("long-path", r"PATH_MAX", refused=True),
    Kind("bad-regex", r"[Uu]nmatched|[Ii]nvalid|unterminated", ops=tuple(REGEX_ARG)),
)

#: (kind, operation) -> (its status, why it rightly succeeds there). Every such case is still
#: run and checked (status, content kept, shell alive); it is only not required to fail.
SUCCEEDS = {
    ("unwritable-dir", "replace"): (
        "unchanged",
        "the target does not exist, and replacing text in a missing file does nothing",
    ),
    ("unreadable-file", "file"): (
        "changed",
        "files.file never reads content; the login user owns the file, so setting its mode 600 works",
    ),
    ("directory", "directory"): ("unchanged", "a directory is what files.directory asks for: it already exists"),
}

#: (kind, operation) -> the bug, for cases that do not hold yet (strict xfail).
BUGS: dict[tuple[str, str], str] = {}


def _build(kind: str, root: Path, uid: int, gid: int) -> str:
    """Make the target of ``kind`` under ``root`` (root-owned by default); return its path."""

    def mine(*paths: Path) -> None:
        for p in paths:
            os.chown(p, uid, gid)

    root.mkdir()
    os.chmod(root, 0o755)
    if kind == "unwritable-dir":  # root's directory, the target a new entry in it
        (root / "kept.conf").write_bytes(KEEP)
        return str(root / "new")
    if kind == "unwritable-file":  # root's 644 file in a sticky directory anyone writes in
        os.chmod(root, 0o1777)
        target = root / "root.conf"
        target.write_bytes(KEEP)
        os.chmod(target, 0o644)
        return str(target)
    mine(root)
    if kind == "unreadable-file":
        target = root / "secret.conf"
        target.write_bytes(KEEP)
        mine(target)
        os.chmod(target, 0o200)
        return str(target)
    if kind == "unreadable-above":
        os.chown(root, 0, 0)
        private = root / "private"
        private.mkdir()
        os.chmod(private, 0o700)
        target = private / "secret.conf"
        target.write_bytes(KEEP)
        mine(target)
        return str(target)
    if kind == "directory":
        target = root / "conf.d"
        target.mkdir()
        (target / "inside.conf").write_bytes(KEEP)
        mine(target, target / "inside.conf")
        return str(target)
    if kind == "long-name":
        (root / "kept.conf").write_bytes(KEEP)
        return str(root / ("n" * 256))
    if kind == "long-path":
        (root / "kept.conf").write_bytes(KEEP)
        return str(root) + ("/" + "d" * 250) * 17 + "/f"
    if kind == "bad-regex":
        target = root / "app.conf"
        target.write_bytes(KEEP)
        mine(target)
        return str(target)
    raise AssertionError(kind)


def _snapshot(root: Path) -> dict[str, Any]:
    """Every entry under ``root`` -> its bytes (files), link target, or 'dir'. Read through
    directory descriptors: a deploy may leave paths longer than PATH_MAX behind."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames, dirfd in os.fwalk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(name, dir_fd=dirfd))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            else:
                fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
                with os.fdopen(fd, "rb") as handle:
                    out[rel] = handle.read()
    return out


def _short(text: str) -> str:
    """``text`` with the long-path runs shortened, for readable failure messages."""
    return re.sub(r"([a-z])\1{40,}", lambda m: f"{m.group(1)}x{len(m.group(0))}", text)


@dataclass
class Case:
    kind: Kind
    op: str
    root: Path
    target: str
    after: Path
    before: dict[str, Any]
    after_dry: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.kind.name}-{self.op}"


CASES = [(kind, op) for kind in KINDS for op in OPERATIONS if kind.ops is None or op in kind.ops]
RUN_CASES = [(kind, op) for kind, op in CASES if not kind.refused]


@dataclass
class Matrix:
    cases: dict[str, Case]
    outcomes: dict[str, Outcome]  # kind name -> its run
    dry: dict[str, Outcome]  # kind name -> its --dry run, made first


@pytest.fixture(scope="module")
def matrix(sshd_fleet: Any) -> Iterator[Matrix]:
    pw = pwd.getpwnam(sshd_fleet.user)
    base = Path(tempfile.mkdtemp(prefix="oxinfra-audit-", dir="/tmp"))
    os.chmod(base, 0o1777)
    try:
        inventory = write_inventory(base, sshd_fleet, name="one.py", groups={"one": sshd_fleet.hosts[:1]})
        cases: dict[str, Case] = {}
        outcomes: dict[str, Outcome] = {}
        dry: dict[str, Outcome] = {}
        for kind in KINDS:
            lines = ["from oxinfra.operations import files"]
            if kind.refused:
                continue
            for k, op in CASES:
                if k is not kind:
                    continue
                root = base / f"{kind.name}-{op}"
                target = _build(kind.name, root, pw.pw_uid, pw.pw_gid)
                args, key = _recipe(op)
                args[key] = target
                if kind.name == "bad-regex":
                    args[REGEX_ARG[op]] = BAD_REGEX
                case = Case(kind, op, root, target, base / f"after-{kind.name}-{op}", {})
                case.before = _snapshot(root)
                cases[case.id] = case
                call = ", ".join(f"{a}={v!r}" for a, v in args.items())
                lines.append(f"files.{op}(name={case.id!r}, {call}, _ignore_errors=True)")
                lines.append(f"files.file(name={'after ' + case.id!r}, path={str(case.after)!r})")
            deploy = write_deploy(base, "\n".join(lines) + "\n", name=f"deploy_{kind.name.replace('-', '_')}.py")
            dry[kind.name] = run_deploy(inventory, deploy, dry=True)
            for case in cases.values():
                if case.kind is kind:
                    case.after_dry = _snapshot(case.root)
            outcomes[kind.name] = run_deploy(inventory, deploy)
        yield Matrix(cases, outcomes, dry)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _param(kind: Kind, op: str) -> Any:
    marks = []
    if (kind.name, op) in BUGS:
        marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=BUGS[kind.name, op]))
    return pytest.param(kind.name, op, id=f"{kind.name}-{op}", marks=marks)


def test_every_operation_has_a_recipe() -> None:
    assert OPERATIONS, "no operation found in oxinfra.operations.files"
    for op in OPERATIONS:
        _recipe(op)
    cases = [(k.name, o) for k, o in CASES]
    for key in [*SUCCEEDS, *BUGS]:
        assert key in cases, f"{key} names no case"
    assert not set(SUCCEEDS) & set(BUGS)


@pytest.mark.parametrize(("kind", "op"), [_param(k, o) for k, o in CASES if k.refused])
def test_error_path_refused_before_any_fact(tmp_path: Path, kind: str, op: str) -> None:
    """A target no system call takes whole: refused while planning, before any fact is read."""
    from oxinfra.exceptions import OperationValueError
    from oxinfra.operations import files
    from oxinfra.testing.plan import plan_operation

    (spec,) = [k for k in KINDS if k.name == kind]
    args, key = _recipe(op)
    args[key] = _build(kind, tmp_path / "root", os.getuid(), os.getgid())
    with pytest.raises(OperationValueError, match=spec.errors):
        plan_operation(getattr(files, op), args, facts=[])  # no fact given: none may be read


@pytest.mark.parametrize(("kind", "op"), [_param(k, o) for k, o in RUN_CASES])
def test_error_path(matrix: Matrix, kind: str, op: str) -> None:
    case = matrix.cases[f"{kind}-{op}"]
    out = matrix.outcomes[kind]
    event = out.op(HOST, case.id)
    detail = _short(f"{case.id}: {event}\n{out.describe()}")
    # the host's shell survived: the next operation ran and did its work
    assert out.host(HOST)["status"] == "success", detail
    assert out.op(HOST, f"after {case.id}")["status"] == "changed", detail
    assert case.after.is_file(), detail
    # nothing existing was lost, no temporary file left behind (ours, ``.NAME.oxinfra-*``, or a
    # tool's, like sed -i's): the only new entries are the directories of a parent made
    # before a write that then failed (a path over PATH_MAX)
    after = _snapshot(case.root)
    leftovers = [p for p in after if re.search(r"(^|/)\.[^/]*\.oxinfra-", p)]
    leftovers += [p for p, v in after.items() if p not in case.before and v != "dir" and (kind, op) not in SUCCEEDS]
    assert not leftovers, _short(f"temporary files left: {leftovers}\n{detail}")
    for rel, content in case.before.items():
        assert after.get(rel) == content, _short(f"{rel} changed or vanished\n{detail}")
    if (kind, op) in SUCCEEDS:
        assert event["status"] == SUCCEEDS[kind, op][0], detail
        return
    assert event["status"] == "failed", detail
    # the real error: a command's exit status with the tool's own words on stderr, or the
    # failure message of a fact or of the operation's own check
    error = event.get("error") or ""
    where = event.get("stderr") or "" if re.fullmatch(r"exit code \d+", error) else error
    assert re.search(case.kind.errors, where), f"expected /{case.kind.errors}/ in {where!r}\n{detail}"


@pytest.mark.parametrize(("kind", "op"), [pytest.param(k.name, o, id=f"{k.name}-{o}") for k, o in RUN_CASES])
def test_dry_run_touches_nothing(matrix: Matrix, kind: str, op: str) -> None:
    """``--dry`` over the same hostile targets: nothing on disk changes, and the host goes on
    (a failure it can see without running, a fact's, is reported as such)."""
    case = matrix.cases[f"{kind}-{op}"]
    out = matrix.dry[kind]
    event = out.op(HOST, case.id)
    detail = _short(f"{case.id}: {event}\n{out.describe()}")
    assert out.host(HOST)["status"] == "success", detail
    assert out.op(HOST, f"after {case.id}")["status"] == "changed", detail
    assert case.after_dry == case.before, detail
    # what the run found before running anything, the dry run finds too; a command's failure
    # it cannot know, and predicts the change
    real = matrix.outcomes[kind].op(HOST, case.id)
    if real["status"] == "failed" and re.fullmatch(r"exit code \d+", real["error"]):
        assert event["status"] == "changed", detail
    else:

        def same(e: dict[str, Any]) -> tuple[str, str]:  # the shell's line numbers differ
            return e["status"], re.sub(r"\bsh: \d+:", "sh:", e.get("error") or "")

        assert same(event) == same(real), detail
