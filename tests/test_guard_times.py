"""A guard (the fact an operation was planned from, read again right before it runs, after an
operation whose effects nobody knows) compares what decides the plan, not the access time:
reading a file (the hash fact's ``sha1sum``, a ``cat`` in a shell command) moves its atime
(relatime: once after each change), and that alone made the guard stale -- the host planned
again and paid a round trip more."""

from __future__ import annotations

import os
from pathlib import Path

from e2e_helpers import run_deploy, write_deploy


def _atime_moves_on_read(path: Path) -> bool:
    st = path.stat()
    os.utime(path, ns=(st.st_mtime_ns - 10**9, st.st_mtime_ns))
    before = path.stat().st_atime_ns
    path.read_bytes()
    return path.stat().st_atime_ns != before


def _run_once_guarded(tmp_path: Path, target: Path, body: str, statuses: dict[str, str], mode: int) -> None:
    """Run ``body`` (its last operation guarded after a shell command that reads ``target``):
    the read moves the atime, the last operation still runs in the same round trip."""
    st = target.stat()
    # the atime older than the mtime: the next read moves it (relatime)
    os.utime(target, ns=(st.st_mtime_ns - 10**9, st.st_mtime_ns))
    atime = target.stat().st_atime_ns
    out = run_deploy("@local", write_deploy(tmp_path, "from oxinfra.operations import files, server\n" + body))
    assert out.code == 0, out.describe()
    assert target.stat().st_atime_ns != atime, "the run read the target: its atime moved"
    assert out.statuses("@local") == statuses, out.describe()
    assert target.stat().st_mode & 0o777 == mode
    # facts, then the changes; a stale guard made it 3 (the facts read again, the mode
    # change planned again and sent in a round trip of its own)
    assert out.host("@local")["round_trips"] == 2, out.describe()


def test_a_read_between_facts_and_guard_does_not_make_the_guard_stale(tmp_path: Path) -> None:
    dest = tmp_path / "target" / "conf"
    dest.parent.mkdir()
    src = tmp_path / "conf.src"
    src.write_text("a = 1\n")
    dest.write_text("a = 1\n")
    dest.chmod(0o644)
    # reading moves the atime on this mount (relatime, as on every machine this project runs on)
    assert _atime_moves_on_read(dest), "reading a file does not move its atime on this mount"
    body = (
        f'files.put(name="put", src={str(src)!r}, dest={str(dest)!r}, mode="644")\n'
        'server.shell(name="shell", commands=["true"])\n'  # the facts round's sha1sum read it
        f'files.file(name="file", path={str(dest)!r}, mode="600")\n'
    )
    _run_once_guarded(tmp_path, dest, body, {"put": "unchanged", "shell": "changed", "file": "changed"}, 0o600)


def test_a_directory_listed_between_facts_and_guard_keeps_its_guard(tmp_path: Path) -> None:
    path = tmp_path / "dir"
    path.mkdir()
    path.chmod(0o755)
    (path / "entry").write_text("")
    body = (
        f'files.directory(name="dir", path={str(path)!r}, mode="755")\n'
        f'server.shell(name="list", commands=["ls {path} >/dev/null"])\n'
        f'files.directory(name="again", path={str(path)!r}, mode="700")\n'
    )
    _run_once_guarded(tmp_path, path, body, {"dir": "unchanged", "list": "changed", "again": "changed"}, 0o700)


def test_without_atime_takes_a_time_before_1970() -> None:
    from oxinfra.facts._fileproto import without_atime

    line = b"regular file|root|root|644|6|-315619200|1796523391|1796523391\n"
    assert without_atime(line) == b"regular file|root|root|644|6|-|1796523391|1796523391\n"
    link = b"symbolic link|a|b|777|3|5|6|7\n/target\n"
    assert without_atime(link) == b"symbolic link|a|b|777|3|-|6|7\n/target\n"
    assert without_atime(b"") == b""


def test_a_file_fact_with_a_command_of_its_own_is_guarded_whole() -> None:
    """A subclass of File with its own command (another stat, more arguments) gets no part of
    File's guard: its own command, its output compared whole."""
    from oxinfra.facts.files import File

    class Followed(File):
        def command(self, path: str, follow: bool = True) -> str:  # type: ignore[override]
            return f"stat -L -- {path}"

    assert Followed().guard(b"x\n", path="/srv/a", follow=True) is None
    assert File().guard(b"regular file|a|b|644|1|5|6|7\n", path="/srv/a") == (
        File().command("/srv/a").replace("%X", "-"),
        b"regular file|a|b|644|1|-|6|7\n",
    )
