"""The command sshd gives the login shell (``$SHELL -c LOGIN_COMMAND``) turns every common
login shell into a POSIX ``sh`` that runs each script as it arrives on stdin: dash as
``/bin/sh`` runs them itself (one process and one program start less per host), every
other shell becomes ``sh``. Each shell found on this machine is fed two scripts, the second
only after the first one's answer came back (as the engine does): a shell that read all of
stdin before running anything (bash's ``.`` does) would never answer."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from pathlib import Path

import pytest

from oxinfra.connectors.ssh import LOGIN_COMMAND

SHELLS = ["/bin/sh", "/bin/dash", "/bin/bash", "zsh", "mksh", "ksh", "fish", "tcsh", "csh"]


def _read_line(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bytes:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no answer: the shell did not run the script when it arrived"
    return proc.stdout.readline()


def _dash_is_sh() -> bool:
    return os.path.exists("/bin/dash") and os.path.samefile("/bin/sh", "/bin/dash")


@pytest.mark.parametrize("shell", SHELLS)
def test_every_login_shell_runs_each_script_as_it_arrives(shell: str) -> None:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed here")
    if shell == "/bin/sh":
        path = "/bin/sh"  # as sshd names it: SHELL is the passwd entry's text
    env = {"PATH": os.environ["PATH"], "SHELL": path, "HOME": "/nonexistent"}
    with subprocess.Popen(
        [path, "-c", LOGIN_COMMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        try:
            proc.stdin.write(b'x=first; echo "$x $$ $(readlink /proc/$$/exe)"\n')
            proc.stdin.flush()
            first = _read_line(proc).split()
            proc.stdin.write(b'echo "$x again"\n')  # the same shell: its variables are still there
            proc.stdin.flush()
            assert _read_line(proc) == b"first again\n"
            proc.stdin.close()
            assert proc.wait(10) == 0
            errors = proc.stderr.read()
        finally:
            proc.kill()
    assert errors == b"", errors
    assert first[0] == b"first"
    # the scripts ran in a POSIX sh: the login shell itself when that is dash as /bin/sh
    assert Path(first[2].decode()).name in ("dash", "sh", "bash"), first
    if path == "/bin/sh" and _dash_is_sh():
        assert int(first[1]) == proc.pid, "dash as /bin/sh: no second shell"
        assert first[2].endswith(b"dash")


def test_bash_posing_as_bin_sh_still_becomes_sh() -> None:
    """A login shell that is not dash while SHELL says /bin/sh (an environment file can set
    it): ``.`` of bash would read all of stdin first; it execs sh instead."""
    bash = shutil.which("bash")
    assert bash is not None
    proc = subprocess.run(
        [bash, "-c", LOGIN_COMMAND + "; echo never"],
        input=b'echo "$(readlink /proc/$$/exe)"\n',
        capture_output=True,
        env={"PATH": os.environ["PATH"], "SHELL": "/bin/sh"},
        timeout=10,
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith(b"sh") and b"never" not in proc.stdout, proc
    assert not proc.stdout.strip().endswith(b"bash"), proc
