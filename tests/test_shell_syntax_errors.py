"""A command with a shell syntax error (``server.shell(commands=["echo 'it is"])``) fails its
operation alone: it cannot change how the rest of the host's script is read.

Found by a hostile review: commands were spliced into the host's one script as written, so
an unbalanced quote swallowed the script after it until the next quote. The contents of a
later ``files.put`` then ran as commands, and the run ended in an internal error; alone, the
command left the shell waiting for its closing quote, and the run never ended."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from e2e_helpers import run_deploy, write_deploy


def test_an_unbalanced_quote_fails_its_operation_and_runs_nothing_else(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    deploy = write_deploy(
        tmp_path,
        """
        from io import StringIO
        from oxinfra.operations import files, server
        server.shell(name="typo", commands=["echo 'it is"], _ignore_errors=True)
        files.put(name="content", src=StringIO("harmless; touch @ROOT@/pwned #\\n"), dest="@ROOT@/put")
        server.shell(name="typo2", commands=["echo done'"], _ignore_errors=True)
        server.shell(name="after", commands=["echo ok > @ROOT@/after"])
        """,
        root=tmp_path,
    )
    done = run_deploy("@local", deploy)
    assert not canary.exists()
    assert done.code == 0, done.describe()
    assert done.statuses("@local") == {"typo": "failed", "content": "changed", "typo2": "failed", "after": "changed"}
    assert (tmp_path / "put").read_text() == "harmless; touch " + str(tmp_path) + "/pwned #\n"
    assert (tmp_path / "after").read_text() == "ok\n"
    assert (
        "Syntax error" in done.op("@local", "typo")["stderr"] or "unexpected EOF" in done.op("@local", "typo")["stderr"]
    )


def test_an_unterminated_quote_alone_does_not_hang_the_run(tmp_path: Path) -> None:
    deploy = write_deploy(tmp_path, 'from oxinfra.operations import server\nserver.shell(commands=["echo \'oops"])\n')
    done = subprocess.run(
        [sys.executable, "-m", "oxinfra", "-y", "@local", str(deploy)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done
    assert "Traceback" not in done.stdout + done.stderr
