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


@pytest.mark.parametrize("says", ["itself", "/bin/sh"])
@pytest.mark.parametrize("shell", SHELLS)
def test_every_login_shell_runs_each_script_as_it_arrives(shell: str, says: str, tmp_path: Path) -> None:
    """``says``: what ``$SHELL`` holds -- the shell's own path as sshd sets it, or /bin/sh
    (an environment file or PAM may set it to anything): the choice never reads it."""
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed here")
    if shell == "/bin/sh":
        path = "/bin/sh"  # as sshd names it: SHELL is the passwd entry's text
    env = {
        "PATH": os.environ["PATH"],
        "SHELL": path if says == "itself" else says,
        "HOME": str(tmp_path),
    }  # fish writes its config there
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
    if os.path.exists("/bin/dash") and os.path.samefile(path, "/bin/dash"):
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


def test_a_return_at_the_top_of_a_script_ends_the_shell_as_before() -> None:
    """``return`` outside a function ends ``.`` early: the shell then ends (as a shell reading
    stdin did), and no half-read rest of stdin is run by a fallback shell."""
    script = b"{ return 3\n}\n" + b"#" * 9000 + b"\n: x; echo FRAGMENT-RAN\necho end\n"
    proc = subprocess.run(
        ["/bin/sh", "-c", LOGIN_COMMAND],
        input=script,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "SHELL": "/bin/sh"},
        timeout=10,
    )
    assert b"FRAGMENT-RAN" not in proc.stdout and b"end" not in proc.stdout, proc
    assert proc.returncode == 3, proc


def test_what_the_host_prints_on_stderr_before_the_script_is_the_first_sections() -> None:
    """A login message on stderr ("Could not chdir to home directory", a profile's noise)
    comes before the first script's output: it is the first section's (the lock's), never
    the first operation's."""
    from oxinfra import _core
    from oxinfra._engine.lock import lock_script
    from oxinfra._engine.script import ScriptBuilder, new_nonce

    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True, lock=lock_script(f"/tmp/oxinfra-login-test-{os.getpid()}.lock", 0))
    builder.add_operation(object(), "{ echo op-out; echo op-err >&2\n}", [], False)
    builder.add_operation(object(), "{ mkdir /proc/oxinfra-login-test\n}", [], True, joined=True)
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", "echo 'Could not chdir to home directory /x' >&2; " + LOGIN_COMMAND],
            input=builder.build(),
            capture_output=True,
            timeout=10,
        )
    finally:
        for leftover in Path("/tmp").glob(f"oxinfra-login-test-{os.getpid()}.lock*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    out, _, done = _core.demux(proc.stdout, nonce)
    err, _, err_done = _core.demux(proc.stderr, nonce)
    assert done and err_done, proc
    assert [(i, status) for i, status, _ in out] == [(0, 0), (1, 0), (2, 1)], out
    assert out[1][2] == b"op-out\n" and b"cannot create directory" in out[2][2], out
    errors = {i: data for i, _, data in err}
    assert errors == {0: b"Could not chdir to home directory /x\n", 1: b"op-err\n"}, err
