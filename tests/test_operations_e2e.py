"""Operation semantics over real SSH: files.*, server.shell and the global arguments.

The file-operation table runs as ONE deploy (every case on its own paths, cases that must
fail marked ``_ignore_errors=True``) twice on one host; each case then checks its own
statuses and what is on disk. The flow tests (failures, ``_if``, retries, timeouts,
execution-time facts, user-defined operations and facts) run their own small deploys.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import Outcome, inventory, mode, run_deploy, target, tree, write_deploy, write_inventory

__all__ = ["inventory", "target"]  # fixtures used here

OLD = 946684800  # 2000-01-01: "an old mtime"


def give(path: Path, user: str) -> None:
    """Hand ``path`` (and what is below it) to the SSH login user, as if it had made it."""
    pw = pwd.getpwnam(user)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.lchown(name, pw.pw_uid, pw.pw_gid)
    os.lchown(path, pw.pw_uid, pw.pw_gid)


def write(path: Path, data: bytes | str, file_mode: int = 0o644, mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, file_mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --------------------------------------------------------------------------- the table


@dataclass
class Case:
    id: str
    op: str  # deploy source; P is the case's own directory (a str)
    first: str  # status of run 1
    check: Callable[[Path], object]
    setup: Callable[[Path], object] | None = None
    second: str | None = "unchanged"  # status of run 2 (None: not checked)
    noop: str | None = None  # text expected in the noop reason of run 1


PAYLOAD = bytes(range(256)) * 3 + b"\x00tail\n"
TEMPLATE = "{{ greeting }} from {{ host.name }}\n{% for i in items %}item {{ i }}\n{% endfor %}"
TEMPLATE_OUT = "hi from 127.0.0.1\nitem 1\nitem 2\n"


def _fail(p: Path) -> bool:
    raise AssertionError(f"unexpected state under {p}: {tree(p)}")


def _link_to_file(p: Path) -> None:
    write(p / "t", "x")
    os.symlink(f"{p}/t", p / "ln")


def _dir_backup(p: Path) -> None:
    assert (p / "d").is_dir()
    backups = [n for n in os.listdir(p) if n.startswith("d.")]
    assert len(backups) == 1 and (p / backups[0]).read_text() == "was a file"


def _touched(p: Path) -> None:
    st = (p / "f").stat()
    assert st.st_mtime > time.time() - 600 and (p / "f").read_text() == "keep"


CASES = [
    # -- files.directory
    Case(
        "dir-create-mode",
        'files.directory(name=N, path=P + "/a/b", mode="700")',
        "changed",
        lambda p: (mode(p / "a/b") == 700 and (p / "a/b").is_dir()) or _fail(p),
    ),
    Case(
        "dir-fix-mode",
        'files.directory(name=N, path=P + "/d", mode=711)',
        "changed",
        lambda p: mode(p / "d") == 711 or _fail(p),
        setup=lambda p: (p / "d").mkdir(mode=0o755),
    ),
    Case(
        "dir-exists",
        'files.directory(name=N, path=P + "/d")',
        "unchanged",
        lambda p: (p / "d").is_dir() or _fail(p),
        setup=lambda p: (p / "d").mkdir(),
        noop="already exists",
    ),
    Case(
        "dir-absent",
        'files.directory(name=N, path=P + "/d", present=False)',
        "changed",
        lambda p: tree(p) == {} or _fail(p),
        setup=lambda p: write(p / "d" / "sub" / "x", "x"),
    ),
    Case(
        "dir-absent-noop",
        'files.directory(name=N, path=P + "/d", present=False)',
        "unchanged",
        lambda p: tree(p) == {} or _fail(p),
        noop="does not exist",
    ),
    Case(
        "dir-over-file",
        'files.directory(name=N, path=P + "/d", _ignore_errors=True)',
        "failed",
        lambda p: (p / "d").read_text() == "was a file" or _fail(p),
        setup=lambda p: write(p / "d", "was a file"),
        second="failed",
    ),
    Case(
        "dir-over-file-force",
        'files.directory(name=N, path=P + "/d", force=True, force_backup=False)',
        "changed",
        lambda p: tree(p) == {"d": "dir"} or _fail(p),
        setup=lambda p: write(p / "d", "was a file"),
    ),
    Case(
        "dir-over-file-backup",
        'files.directory(name=N, path=P + "/d", force=True)',
        "changed",
        _dir_backup,
        setup=lambda p: write(p / "d", "was a file"),
    ),
    # -- files.file
    Case(
        "file-create",
        'files.file(name=N, path=P + "/new/f", mode="600")',
        "changed",
        lambda p: (mode(p / "new/f") == 600 and (p / "new/f").read_bytes() == b"") or _fail(p),
    ),
    Case(
        "file-mode",
        'files.file(name=N, path=P + "/f", mode=640)',
        "changed",
        lambda p: (
            (mode(p / "f") == 640 and (p / "f").read_text() == "keep" and (p / "f").stat().st_mtime == OLD) or _fail(p)
        ),
        setup=lambda p: write(p / "f", "keep", 0o644, OLD),
    ),
    Case(
        "file-touch",
        'files.file(name=N, path=P + "/f", touch=True)',
        "changed",
        _touched,
        setup=lambda p: write(p / "f", "keep", 0o644, OLD),
        second="changed",
    ),
    Case(
        "file-exists",
        'files.file(name=N, path=P + "/f")',
        "unchanged",
        lambda p: (p / "f").stat().st_mtime == OLD or _fail(p),
        setup=lambda p: write(p / "f", "keep", 0o644, OLD),
        noop="already exists",
    ),
    Case(
        "file-absent",
        'files.file(name=N, path=P + "/f", present=False)',
        "changed",
        lambda p: tree(p) == {} or _fail(p),
        setup=lambda p: write(p / "f", "x"),
    ),
    Case(
        "file-over-dir",
        'files.file(name=N, path=P + "/d", _ignore_errors=True)',
        "failed",
        lambda p: (p / "d").is_dir() or _fail(p),
        setup=lambda p: (p / "d").mkdir(),
        second="failed",
    ),
    # -- files.put
    Case(
        "put-new",
        'files.put(name=N, src="payload.bin", dest=P + "/x/payload", mode="640")',
        "changed",
        lambda p: ((p / "x/payload").read_bytes() == PAYLOAD and mode(p / "x/payload") == 640) or _fail(p),
    ),
    Case(
        "put-differs",
        'files.put(name=N, src="payload.bin", dest=P + "/f")',
        "changed",
        lambda p: ((p / "f").read_bytes() == PAYLOAD and mode(p / "f") == 604) or _fail(p),
        setup=lambda p: write(p / "f", PAYLOAD[:-1] + b"!", 0o604),
    ),
    Case(
        "put-same",
        'files.put(name=N, src="payload.bin", dest=P + "/f")',
        "unchanged",
        lambda p: ((p / "f").stat().st_mtime == OLD and mode(p / "f") == 644) or _fail(p),
        setup=lambda p: write(p / "f", PAYLOAD, 0o644, OLD),
        noop="up to date",
    ),
    Case(
        "put-mode-only",
        'files.put(name=N, src="payload.bin", dest=P + "/f", mode="600")',
        "changed",
        # only a chmod: the file was not rewritten
        lambda p: ((p / "f").stat().st_mtime == OLD and mode(p / "f") == 600) or _fail(p),
        setup=lambda p: write(p / "f", PAYLOAD, 0o644, OLD),
    ),
    Case(
        "put-into-dir",
        'files.put(name=N, src="payload.bin", dest=P + "/")',
        "changed",
        lambda p: (p / "payload.bin").read_bytes() == PAYLOAD or _fail(p),
    ),
    Case(
        "put-force",
        'files.put(name=N, src="payload.bin", dest=P + "/f", force=True)',
        "changed",
        lambda p: ((p / "f").stat().st_mtime > OLD and (p / "f").read_bytes() == PAYLOAD) or _fail(p),
        setup=lambda p: write(p / "f", PAYLOAD, 0o644, OLD),
        second="changed",
    ),
    # -- files.template
    Case(
        "template",
        'files.template(name=N, src="t.j2", dest=P + "/t.conf", greeting="hi", items=[1, 2])',
        "changed",
        lambda p: (p / "t.conf").read_text() == TEMPLATE_OUT or _fail(p),
    ),
    Case(
        "template-same",
        'files.template(name=N, src="t.j2", dest=P + "/t.conf", greeting="hi", items=[1, 2])',
        "unchanged",
        lambda p: (p / "t.conf").stat().st_mtime == OLD or _fail(p),
        setup=lambda p: write(p / "t.conf", TEMPLATE_OUT, 0o644, OLD),
    ),
    # -- files.line
    Case(
        "line-append-no-newline",
        'files.line(name=N, path=P + "/f", line="c=3")',
        "changed",
        lambda p: (p / "f").read_text() == "a=1\nb=2\nc=3\n" or _fail(p),
        setup=lambda p: write(p / "f", "a=1\nb=2"),
    ),
    Case(
        "line-append-empty-file",
        'files.line(name=N, path=P + "/f", line="c=3")',
        "changed",
        lambda p: (p / "f").read_text() == "c=3\n" or _fail(p),
        setup=lambda p: write(p / "f", ""),
    ),
    Case(
        "line-create-file",
        'files.line(name=N, path=P + "/sub/f", line="only")',
        "changed",
        lambda p: (p / "sub/f").read_text() == "only\n" or _fail(p),
    ),
    Case(
        "line-present",
        'files.line(name=N, path=P + "/f", line="b=2")',
        "unchanged",
        lambda p: (p / "f").read_text() == "a=1\nb=2\n" or _fail(p),
        setup=lambda p: write(p / "f", "a=1\nb=2\n"),
        noop="already in",
    ),
    Case(
        "line-replace",
        'files.line(name=N, path=P + "/f", line="^port=.*$", replace="port=8080")',
        "changed",
        lambda p: (p / "f").read_text() == "host=x\nport=8080\nend\n" or _fail(p),
        setup=lambda p: write(p / "f", "host=x\nport=80\nend\n"),
    ),
    Case(
        "line-replace-literal",
        'files.line(name=N, path=P + "/f", line="^k=", replace="k=a&b\\\\c/d")',
        "changed",
        lambda p: (p / "f").read_text() == "k=a&b\\c/d\nz\n" or _fail(p),
        setup=lambda p: write(p / "f", "k=old\nz\n"),
    ),
    Case(
        "line-absent",
        'files.line(name=N, path=P + "/f", line="^b=", present=False)',
        "changed",
        lambda p: (p / "f").read_text() == "a=1\nc=3\n" or _fail(p),
        setup=lambda p: write(p / "f", "a=1\nb=2\nc=3\nb=4\n"),
    ),
    Case(
        "line-absent-noop",
        'files.line(name=N, path=P + "/f", line="^zz", present=False)',
        "unchanged",
        lambda p: (p / "f").read_text() == "a=1\n" or _fail(p),
        setup=lambda p: write(p / "f", "a=1\n"),
    ),
    # -- files.replace
    Case(
        "replace-global",
        'files.replace(name=N, path=P + "/f", text="a", replace="b", flags=["g"])',
        "changed",
        lambda p: (p / "f").read_text() == "bbb\nxbx\n" or _fail(p),
        setup=lambda p: write(p / "f", "aaa\nxax\n"),
    ),
    # (checks run after both runs: the first "a" of each line is replaced once per run)
    Case(
        "replace-first",
        'files.replace(name=N, path=P + "/f", text="a", replace="b")',
        "changed",
        lambda p: (p / "f").read_text() == "bba\nxbx\n" or _fail(p),
        setup=lambda p: write(p / "f", "aaa\nxax\n"),
        second="changed",
    ),
    Case(
        "replace-group",
        r'files.replace(name=N, path=P + "/f", text=r"v\([0-9][0-9]*\)", replace=r"version \1")',
        "changed",
        lambda p: (p / "f").read_text() == "version 12\n" or _fail(p),
        setup=lambda p: write(p / "f", "v12\n"),
    ),
    Case(
        "replace-nothing",
        'files.replace(name=N, path=P + "/f", text="zzz", replace="y")',
        "unchanged",
        lambda p: (p / "f").stat().st_mtime == OLD or _fail(p),
        setup=lambda p: write(p / "f", "abc\n", mtime=OLD),
        noop="not found",
    ),
    # -- files.link
    Case(
        "link-create",
        'files.link(name=N, path=P + "/l/ink", target="/etc/hostname")',
        "changed",
        lambda p: tree(p) == {"l": "dir", "l/ink": "link -> /etc/hostname"} or _fail(p),
    ),
    Case(
        "link-repoint",
        'files.link(name=N, path=P + "/ln", target=P + "/new")',
        "changed",
        lambda p: os.readlink(p / "ln") == f"{p}/new" or _fail(p),
        setup=lambda p: os.symlink(f"{p}/old", p / "ln"),
    ),
    Case(
        "link-same",
        'files.link(name=N, path=P + "/ln", target=P + "/t")',
        "unchanged",
        lambda p: os.readlink(p / "ln") == f"{p}/t" or _fail(p),
        setup=lambda p: os.symlink(f"{p}/t", p / "ln"),
        noop="already points",
    ),
    Case(
        "link-absent",
        'files.link(name=N, path=P + "/ln", present=False)',
        "changed",
        lambda p: tree(p) == {"t": "file"} or _fail(p),
        setup=_link_to_file,
    ),
    Case(
        "link-over-file",
        'files.link(name=N, path=P + "/ln", target="/etc", _ignore_errors=True)',
        "failed",
        lambda p: (p / "ln").read_text() == "x" or _fail(p),
        setup=lambda p: write(p / "ln", "x"),
        second="failed",
    ),
]


class Table:
    root: Path
    run1: Outcome
    run2: Outcome
    host: str


@pytest.fixture(scope="module")
def table(sshd_fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Table]:
    work = tmp_path_factory.mktemp("ops-table")
    root = Path(tempfile.mkdtemp(prefix="oxinfra-e2e-ops-", dir="/tmp"))
    os.chmod(root, 0o1777)
    try:
        (work / "payload.bin").write_bytes(PAYLOAD)
        (work / "t.j2").write_text(TEMPLATE)
        lines = ["from oxinfra.operations import files, server"]
        for case in CASES:
            case_dir = root / case.id
            case_dir.mkdir()
            if case.setup is not None:
                case.setup(case_dir)
            give(case_dir, sshd_fleet.user)
            lines += [f"N, P = {case.id!r}, {str(case_dir)!r}", case.op]
        (work / "deploy.py").write_text("\n".join(lines) + "\n")
        inv = write_inventory(work, sshd_fleet, groups={"one": sshd_fleet.hosts[:1]})
        t = Table()
        t.root, t.host = root, sshd_fleet.hosts[0]
        t.run1 = run_deploy(inv, work / "deploy.py")
        t.run2 = run_deploy(inv, work / "deploy.py")
        yield t
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_table_runs_complete(table: Table) -> None:
    for out in (table.run1, table.run2):
        assert out.code == 0, out.describe()
        assert out.summary["success"] is True
        assert set(out.statuses(table.host)) == {c.id for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_file_operation(table: Table, case: Case) -> None:
    first = table.run1.op(table.host, case.id)
    assert first["status"] == case.first, first
    if case.noop:
        assert case.noop in first.get("noop", ""), first
    if case.first == "failed":
        assert first["error"], first
    case.check(table.root / case.id)
    if case.second is not None:
        second = table.run2.op(table.host, case.id)
        assert second["status"] == case.second, second


# --------------------------------------------------------------------------- flow


@pytest.fixture
def one_host(tmp_path: Path, sshd_fleet: Any) -> Path:
    return write_inventory(tmp_path, sshd_fleet, name="one.py", groups={"one": sshd_fleet.hosts[:1]})


def test_if_did_change_chains(tmp_path: Path, target: Path, one_host: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        made = files.file(name="make", path="@ROOT@/flag")
        server.shell(name="on change", commands=["echo ran >> @ROOT@/on_change"], _if=made.did_change)
        server.shell(name="on no change", commands=["echo ran >> @ROOT@/on_no_change"], _if=made.did_not_change)
        server.shell(name="both", commands=["echo ran >> @ROOT@/both"],
                     _if=[made.did_succeed, lambda: True])
    """,
        target,
    )
    run1 = run_deploy(one_host, deploy)
    assert run1.code == 0, run1.describe()
    assert run1.statuses("127.0.0.1") == {
        "make": "changed",
        "on change": "changed",
        "on no change": "skipped",
        "both": "changed",
    }
    run2 = run_deploy(one_host, deploy)
    assert run2.statuses("127.0.0.1") == {
        "make": "unchanged",
        "on change": "skipped",
        "on no change": "changed",
        "both": "changed",
    }
    assert (target / "on_change").read_text() == "ran\n"
    assert (target / "on_no_change").read_text() == "ran\n"
    assert (target / "both").read_text() == "ran\nran\n"
    assert run2.host("127.0.0.1")["skipped"] == 1


def test_ignore_errors_lets_the_host_continue(tmp_path: Path, target: Path, one_host: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        server.shell(name="fails", commands=["echo to-stderr >&2; exit 7"], _ignore_errors=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.statuses("127.0.0.1") == {"fails": "failed", "after": "changed"}
    failed = out.op("127.0.0.1", "fails")
    assert failed["error"] == "exit code 7" and "to-stderr" in failed["stderr"]
    assert (target / "after").is_file()
    # every failure was ignored: the host (and the run) succeeded
    assert out.host("127.0.0.1")["status"] == "success" and out.code == 0


def test_failure_stops_that_host_only(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files, server
        d = f"@ROOT@/{host.name}"
        files.directory(name="dir", path=d)
        server.shell(name="maybe fail", commands=[f"test {host.name} != 127.0.0.2"])
        files.file(name="after 1", path=d + "/after1")
        server.shell(name="after 2", commands=[f"touch {d}/after2"])
    """,
        target,
    )
    out = run_deploy(inventory, deploy)
    assert out.code == 1, out.describe()
    assert out.summary["success"] is False
    assert out.statuses("127.0.0.2") == {
        "dir": "changed",
        "maybe fail": "failed",
        "after 1": "not run",
        "after 2": "not run",
    }
    assert out.host("127.0.0.2")["status"] == "failed"
    assert out.host("127.0.0.2")["not_run"] == 2 and out.host("127.0.0.2")["failed"] == 1
    assert tree(target / "127.0.0.2") == {}
    for h in ("127.0.0.1", "127.0.0.3"):
        assert set(out.statuses(h).values()) == {"changed"}
        assert out.host(h)["status"] == "success"
        assert tree(target / h) == {"after1": "file", "after2": "file"}


def test_failure_in_file_operation_stops_host(tmp_path: Path, target: Path, one_host: Path) -> None:
    """An operation that cannot plan (a file where a directory is asked) fails the host too."""
    write(target / "blocker", "file")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.directory(name="bad", path="@ROOT@/blocker")
        files.file(name="later", path="@ROOT@/later")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 1
    assert out.statuses("127.0.0.1") == {"bad": "failed", "later": "not run"}
    assert "not a directory" in out.op("127.0.0.1", "bad")["error"]
    assert not (target / "later").exists()


def test_chdir_and_env(tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any) -> None:
    work = target / "work dir"
    work.mkdir()
    give(work, sshd_fleet.user)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="cwd", commands=["pwd > here", 'printf "%s|%s" "$A" "$B" > env'],
                     _chdir="@ROOT@/work dir", _env={"A": "one two", "B": "x'y\\"z"})
        server.shell(name="cwd is per op", commands=["pwd > @ROOT@/second"])
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 0, out.describe()
    assert (work / "here").read_text() == f"{work}\n"
    assert (work / "env").read_text() == "one two|x'y\"z"
    # the next operation neither inherits the directory nor the variables
    assert (target / "second").read_text() != f"{work}\n"


RETRY = "n=$(cat @ROOT@/count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > @ROOT@/count; [ $n -ge 2 ]"


@pytest.mark.parametrize(("retries", "status", "count"), [(2, "changed", "2"), (0, "failed", "1")])
def test_retries(tmp_path: Path, target: Path, one_host: Path, retries: int, status: str, count: str) -> None:
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.shell(name="flaky", commands=[{RETRY!r}], _retries={retries}, _retry_delay=0)
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.statuses("127.0.0.1") == {"flaky": status}
    assert (target / "count").read_text() == count + "\n"


def test_timeout_fails_the_operation(tmp_path: Path, target: Path, one_host: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        server.shell(name="slow", commands=["sleep 5", "touch @ROOT@/finished"], _timeout=1)
        files.file(name="next", path="@ROOT@/next")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 1, out.describe()
    assert out.statuses("127.0.0.1") == {"slow": "failed", "next": "not run"}
    # 124: timeout(1)'s status for "the command timed out"; the sleep was cut, not finished
    assert out.op("127.0.0.1", "slow")["error"] == "exit code 124"
    assert tree(target) == {}


def test_operations_see_state_at_execution_time(tmp_path: Path, target: Path, one_host: Path) -> None:
    """Facts gathered before the run are stale once server.shell has written the file: the
    later operations must act on what is there when they run."""
    deploy = write_deploy(
        tmp_path,
        r"""
        from oxinfra.operations import files, server
        f = "@ROOT@/conf"
        server.shell(name="write", commands=[f"printf 'a=1\nb=2\nmode=staging\n' > {f}"])
        files.line(name="present already", path=f, line="b=2")
        files.line(name="append", path=f, line="c=3")
        files.replace(name="replace", path=f, text="staging", replace="production")
        files.line(name="drop a", path=f, line="^a=", present=False)
        files.file(name="mode", path=f, mode="600")
        files.put(name="overwrite other", src="src.txt", dest="@ROOT@/other")
        server.shell(name="change other", commands=["echo changed > @ROOT@/other"])
        files.put(name="restore other", src="src.txt", dest="@ROOT@/other")
    """,
        target,
    )
    (tmp_path / "src.txt").write_text("from src\n")
    out = run_deploy(one_host, deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("127.0.0.1") == {
        "write": "changed",
        "present already": "unchanged",
        "append": "changed",
        "replace": "changed",
        "drop a": "changed",
        "mode": "changed",
        "overwrite other": "changed",
        "change other": "changed",
        "restore other": "changed",
    }
    assert (target / "conf").read_text() == "b=2\nmode=production\nc=3\n"
    assert mode(target / "conf") == 600
    assert (target / "other").read_text() == "from src\n"
    # run 2: the shell rewrites the file (keeping its mode 600), the rest converges again
    again = run_deploy(one_host, deploy)
    assert again.statuses("127.0.0.1") == {
        **out.statuses("127.0.0.1"),
        "mode": "unchanged",
        "overwrite other": "unchanged",
    }
    assert (target / "conf").read_text() == "b=2\nmode=production\nc=3\n"


def test_user_defined_operation_and_fact(tmp_path: Path, target: Path, inventory: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        r'''
        from oxinfra import host
        from oxinfra.api import FactBase, operation
        from oxinfra.quoting import quote

        class FirstLine(FactBase):
            """The first line of a file, or None when there is no file (a file head cannot
            read is an error, not None: the command's failure fails the operation)."""

            def command(self, path):
                return f"if [ -e {quote(path)} ]; then head -n 1 -- {quote(path)}; fi"

            def process(self, output):
                return output[0]

        class Uid(FactBase):
            def command(self):
                return "id -u"

            def process(self, output):
                return int(output[0])

        @operation()
        def first_line(path, text):
            """Make ``text`` the first line of ``path``."""
            current = host.get_fact(FirstLine, path=path)
            if current == text:
                host.noop(f"{path} starts with {text!r}")
                return
            yield f"printf '%s\\n' {quote(text)} > {quote(path)}"

        # a fact read by the deploy code itself, before any operation
        uid = host.get_fact(Uid)
        first_line(name="custom", path=f"@ROOT@/{host.name}.txt", text=f"uid {uid} on {host.name}")
    ''',
        target,
    )
    run1 = run_deploy(inventory, deploy)
    assert run1.code == 0, run1.describe()
    uid = pwd.getpwnam(sshd_fleet.user).pw_uid
    for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        assert run1.statuses(h) == {"custom": "changed"}
        assert (target / f"{h}.txt").read_text() == f"uid {uid} on {h}\n"
    run2 = run_deploy(inventory, deploy)
    for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        assert run2.statuses(h) == {"custom": "unchanged"}
        assert "starts with" in run2.op(h, "custom")["noop"]


def test_template_strict_undefined(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """An undefined name in a template -- even only on one host, even an attribute of host data
    -- is an error before any host is changed; defined everywhere, the same deploy runs."""
    inv = write_inventory(tmp_path, sshd_fleet)
    inv.write_text(inv.read_text().replace("dict(_ssh))\ndb", "dict(_ssh, port=8080))\ndb"))
    (tmp_path / "t.j2").write_text("listen {{ host.data.port }}\n{{ '%s' | format(extra) }}\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files
        files.directory(name="dir", path=f"@ROOT@/{host.name}")
        files.template(name="tpl", src="t.j2", dest=f"@ROOT@/{host.name}/conf", extra="e")
    """,
        target,
    )
    out = run_deploy(inv, deploy)
    assert out.code == 2, out.describe()
    assert "t.j2:1" in out.stderr and "port" in out.stderr and "deploy.py:5" in out.stderr
    assert tree(target) == {}
    ok = run_deploy(inv, deploy, "--limit", "web")
    assert ok.code == 0, ok.describe()
    assert (target / "127.0.0.1" / "conf").read_text() == "listen 8080\ne\n"
