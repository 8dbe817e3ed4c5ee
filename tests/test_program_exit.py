"""The ``oxinfra`` program (python/oxinfra/cli/program.py) ends with
atexit handlers, a flush and os._exit. It must end as ``sys.exit(status)`` would, minus the
teardown of objects."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from e2e_helpers import assert_no_traceback, run_cli, write_deploy

PYTHON_DIR = str(Path(__file__).resolve().parent.parent / "python")


def _program(tmp_path: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """The program as the console script (pyproject's ``oxinfra.cli.program:program``) runs it."""
    script = tmp_path / "bin" / "oxinfra"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom oxinfra.cli.program import program\nsys.exit(program())\n")
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "NO_COLOR": "1"}
    env.update(kwargs.pop("env", {}))  # type: ignore[arg-type]
    return subprocess.run([str(script), *args], env=env, timeout=120, **kwargs)  # type: ignore[call-overload]


def test_a_deploys_threads_finish_before_the_program_ends(tmp_path: Path) -> None:
    """A deploy that starts a (non-daemon) thread, or hands work to a ThreadPoolExecutor: the
    interpreter waits for them before the exit handlers (threading._shutdown), the program's
    os._exit kills them mid-way: their files are never written (they were before ee85ff7)."""
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(
            f"""
            import concurrent.futures, threading, time
            from pathlib import Path
            from oxinfra.operations import server

            def later(name):
                time.sleep(0.5)
                Path({str(tmp_path)!r}, name).write_text("done")

            threading.Thread(target=later, args=("thread",)).start()
            concurrent.futures.ThreadPoolExecutor(1).submit(later, "pool")
            server.shell(name="say", commands=["echo hi"])
            """
        )
    )
    done = _program(tmp_path, "-y", "@sim/review-threads", str(deploy), capture_output=True)
    assert done.returncode == 0, done
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "pool").read_text() == "done"


@pytest.mark.parametrize(
    "args,env",
    [
        (["--version"], {}),
        (["--help"], {}),
        ([], {"_OXINFRA_COMPLETE": "bash_complete", "COMP_WORDS": "oxinfra --sh", "COMP_CWORD": "1"}),
    ],
    ids=["version", "help", "completion"],
)
def test_stdout_closed_is_no_traceback_and_no_failure(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    """``oxinfra --version >&-``: Python starts with sys.stdout None; click prints nothing and
    exits 0 (status 0 before ee85ff7); the program's flush calls None.flush(): a traceback
    and status 1."""
    done = _program(
        tmp_path, *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, preexec_fn=lambda: os.close(1)
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert done.returncode == 0, done


def test_the_program_flushes_everything_and_runs_exit_handlers(tmp_path: Path) -> None:
    """The program ends without tearing down the run's objects (oxinfra/cli/program.py): what
    it printed must still all arrive through a pipe (far more than a pipe holds), with the
    exit code, and exit handlers registered during the run (a deploy's, a library's) run."""
    ran = tmp_path / "handler ran"
    deploy = write_deploy(
        tmp_path,
        f"""
        import atexit
        from pathlib import Path
        from oxinfra.operations import server

        atexit.register(Path({str(ran)!r}).write_text, "yes")
        server.shell(name="say", commands=["echo " + "x" * 200])
        server.shell(name="fail", commands=["exit 3"])
        """,
    )
    hosts = ",".join(f"@sim/h{i}" for i in range(300))
    out = run_cli("--json", "-y", hosts, deploy)
    assert out.code == 1, out.describe()  # every host failed
    assert len(out.stdout) > 200_000 and out.stdout.endswith("\n")
    assert out.summary["exit_code"] == 1 and len(out.summary["hosts"]) == 300
    assert ran.read_text() == "yes"
    assert_no_traceback(out)


def test_a_profiled_run_still_writes_its_profile(tmp_path: Path) -> None:
    """``python -m cProfile -o OUT -m oxinfra ...`` (benches/fleet.py --profile): cProfile
    writes OUT after the program returns; the quick exit (os._exit) ended the process before
    that, and no profile was written, whatever the bench said."""
    out = tmp_path / "run.prof"
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server

        server.shell(name="say", commands=["echo hi"])
        """,
    )
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "oxinfra", "-y", "@local", str(deploy)],
        env=env,
        timeout=120,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert out.stat().st_size > 0
