"""The program started with stdout or stderr closed (``oxinfra ... >&-``, ``2>&-``: a cron
line, a service unit, a wrapper that closes what it does not read). Python then has
``sys.stdout`` / ``sys.stderr`` set to None. A deploy must still run to its end with its own
exit code, and bad input must still exit 2 -- never a traceback, never status 1 from a
write to nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from e2e_helpers import write_deploy

PYTHON_DIR = str(Path(__file__).resolve().parent.parent / "python")


def _program(tmp_path: Path, *args: str, close: int, module: bool = False) -> subprocess.CompletedProcess[bytes]:
    """The console script (``module``: ``python -m oxinfra``) run with descriptor ``close``
    (1 or 2) closed; the other stream kept."""
    script = tmp_path / "bin" / "oxinfra"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom oxinfra.cli.program import program\nsys.exit(program())\n")
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "oxinfra", *args] if module else [str(script), *args],
        env=env,
        timeout=120,
        stdout=subprocess.DEVNULL if close == 1 else subprocess.PIPE,
        stderr=subprocess.DEVNULL if close == 2 else subprocess.PIPE,
        preexec_fn=lambda: os.close(close),
    )


def _deploy(tmp_path: Path, marker: Path) -> Path:
    return write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files, server

        files.file(name="marker", path={str(marker)!r})
        server.shell(name="say", commands=["echo hello"])
        """,
    )


def test_a_run_with_stdout_closed_applies_and_exits_0(tmp_path: Path) -> None:
    """Before: the first line printed raised AttributeError ('NoneType' object has no
    attribute 'write') in Console._write: a traceback, status 1, the deploy not applied."""
    marker = tmp_path / "marker"
    done = _program(tmp_path, "-y", "@local", str(_deploy(tmp_path, marker)), close=1)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert marker.exists()


def test_a_run_with_stdout_closed_keeps_a_failed_runs_exit_code(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server

        server.shell(name="fail", commands=["exit 3"])
        """,
    )
    done = _program(tmp_path, "-y", "@local", str(deploy), close=1)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert done.returncode == 1, done.stderr.decode()  # a host failed: the run's own status


def test_json_with_stdout_closed_applies_and_exits_0(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = _program(tmp_path, "-y", "--json", "@local", str(_deploy(tmp_path, marker)), close=1)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert marker.exists()


def test_a_run_with_stderr_closed_applies_and_exits_0(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = _program(tmp_path, "-y", "@local", str(_deploy(tmp_path, marker)), close=2)
    assert done.returncode == 0, done.stdout.decode()
    assert marker.exists()
    assert b"Traceback" not in done.stdout


def test_bad_input_with_stderr_closed_exits_2(tmp_path: Path) -> None:
    """A deploy file that does not exist: exit 2 whether or not stderr is open (before: 1)."""
    done = _program(tmp_path, "-y", "@local", str(tmp_path / "missing.py"), close=2)
    assert done.returncode == 2, done.stdout.decode()
    assert b"Traceback" not in done.stdout


def test_bad_input_with_stdout_closed_exits_2_and_says_why(tmp_path: Path) -> None:
    done = _program(tmp_path, "-y", "@local", str(tmp_path / "missing.py"), close=1)
    assert done.returncode == 2, done.stderr.decode()
    assert b"missing.py" in done.stderr
    assert b"Traceback" not in done.stderr


def test_bad_input_with_stderr_closed_by_the_shell_exits_2(tmp_path: Path) -> None:
    """``oxinfra ... 2>&-`` from a shell: Python kept a stderr stream whose writes fail with
    EBADF; the error message raised OSError out of the CLI's error path: status 1 (before)."""
    _program(tmp_path, "--version", close=1)  # writes the console script
    script = tmp_path / "bin" / "oxinfra"
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "NO_COLOR": "1"}
    done = subprocess.run(
        ["sh", "-c", f'"{script}" -y @local "{tmp_path}/missing.py" 2>&-'],
        env=env,
        timeout=120,
        capture_output=True,
    )
    assert done.returncode == 2, done
    assert b"Traceback" not in done.stdout


def test_a_closed_stdout_is_dev_null_for_what_the_run_opens_later(tmp_path: Path) -> None:
    """``python -m oxinfra ... >&-``: the lowest free descriptor is 1, and the next thing
    opened takes it (before: the event loop's epoll; a file opened for writing there would
    receive what children started with stdout inherited print). The program points 1 at
    /dev/null first."""
    seen = tmp_path / "fd1"
    deploy = write_deploy(
        tmp_path,
        f"""
        import os
        from pathlib import Path
        from oxinfra.operations import server

        Path({str(seen)!r}).write_text(os.readlink("/proc/self/fd/1"))
        server.shell(name="say", commands=["echo hello"])
        """,
    )
    done = _program(tmp_path, "-y", "@local", str(deploy), close=1, module=True)
    assert done.returncode == 0, done.stderr.decode()
    assert seen.read_text() == os.devnull
