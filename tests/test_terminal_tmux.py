"""The live progress as a person sees it: oxinfra in a real terminal (tmux), the screen read
while the run goes on and after it ends.

The pty tests in test_terminal.py read the byte stream; this one reads what tmux *shows*
(``capture-pane``), so a status line that is drawn but immediately wiped, or a recap that is
overwritten by the status line, fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e_helpers import cli_env

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/install installs it)")

DEPLOY = """
from oxinfra import host
from oxinfra.operations import files, server
files.directory(name="dir", path="/srv/x")
n = int(host.name[-3:])
server.shell(name="maybe fail", commands=["exit 3"] if n <= 3 else ["true"])
"""


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=True).stdout


def test_live_progress_changes_on_screen_then_the_recap_stays(tmp_path: Path) -> None:
    # 30 hosts answering at once, then one per 0.6 s (a latency that grows with the number),
    # so the screen is sampled while hosts are still arriving
    (tmp_path / "inventory.py").write_text(
        "hosts = [(f'@sim/h{i:03d}', {'sim_latency': 0.05 if i <= 30 else 0.6 * (i - 30)}) for i in range(1, 36)]\n"
    )
    (tmp_path / "deploy.py").write_text(DEPLOY)
    env = {**cli_env(), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    command = " ".join(
        [
            *(f"{k}={shlex.quote(v)}" for k, v in env.items() if k in ("PYTHONPATH", "PATH", "HOME", "TERM")),
            shlex.quote(sys.executable),
            "-m oxinfra -y inventory.py deploy.py; echo EXIT=$?; sleep 30",
        ]
    )
    socket = f"oxinfra-test-{os.getpid()}"
    _tmux(socket, "new-session", "-d", "-x", "160", "-y", "50", "-c", str(tmp_path), "sh", "-c", command)
    try:
        seen: list[str] = []
        screen = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = _tmux(socket, "capture-pane", "-p")
            match = re.search(r"… (\d+)/35 hosts done · \d+ operations done · (\d+) failed", screen)
            if match and (not seen or seen[-1] != match.group(0)):
                seen.append(match.group(0))
            if "EXIT=" in screen:
                break
            time.sleep(0.1)
        assert "EXIT=1" in screen, screen
        # the status line moved on while the run went on: several different counts seen on screen
        done = [int(re.search(r"(\d+)/35", s).group(1)) for s in seen]  # type: ignore[union-attr]
        assert len(set(done)) >= 3, seen
        assert done == sorted(done), seen
        assert any("3 failed" in s for s in seen), seen
        assert any("waiting for @sim/h035" in line for line in [screen] + seen) or max(done) >= 34, seen
        # after the end: no status line left on screen, the recap is what is shown
        lines = [line for line in screen.splitlines() if line.strip()]
        assert not any("hosts done ·" in line for line in lines), screen
        assert any(re.match(r"--> 35 hosts in [0-9.]+ s: \d+ ok, 32 changed, 3 failed", line) for line in lines), screen
        assert any(line.strip().startswith("failed (3):") for line in lines), screen
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
