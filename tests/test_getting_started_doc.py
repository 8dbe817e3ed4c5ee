"""Every command of docs/getting-started.md runs, in order, in an empty directory.

Blocks whose first line is ``# file: NAME`` (any language) are written there; ``sh`` blocks
run with ``/bin/sh`` there, with this interpreter's ``oxinfra`` first on PATH, and must exit
0. The one ``sh install`` block (``python3 -m venv .venv && .venv/bin/pip install .``) is
not run here: it builds the Rust core for minutes; .ci/wheel builds and installs the same
wheel into a clean venv. The page's hosts are this machine (``@local`` and an inventory of
``connector: local`` hosts); it writes under /tmp/oxinfra-getting-started (removed before
and after).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
ROOT = Path("/tmp/oxinfra-getting-started")
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.M | re.S)


def blocks() -> list[tuple[str, str, str]]:
    """``(language, the rest of the info string, body)`` of every fenced block."""
    return [(lang, info.strip(), body) for lang, info, body in FENCE.findall(DOC.read_text())]


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    shutil.rmtree(ROOT, ignore_errors=True)
    try:
        yield tmp_path
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)


def test_every_block_is_run_or_written() -> None:
    kinds = [(lang, info) for lang, info, body in blocks() if not body.startswith("# file: ")]
    assert set(kinds) <= {("sh", ""), ("sh", "install")}, kinds
    installs = [body for lang, info, body in blocks() if info == "install"]
    assert installs == ["python3 -m venv .venv && .venv/bin/pip install .\n"]
    assert sum(body.startswith("# file: ") for _, _, body in blocks()) >= 4


def test_every_command_runs(workdir: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("OXINFRA_STATE_FILE", None)  # conftest's; the page's runs record in the temporary workdir
    ran = 0
    for number, (lang, info, body) in enumerate(blocks(), 1):
        where = f"{DOC.name} block {number}"
        if body.startswith("# file: "):
            name = body.split("\n", 1)[0][len("# file: ") :].strip()
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            (workdir / name).write_text(body)
        elif lang == "sh" and info != "install":
            for line in body.splitlines():  # one command at a time: a failure names its line
                done = subprocess.run(
                    ["/bin/sh", "-c", line], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
                )
                assert done.returncode == 0, f"{where}: {line}: exit {done.returncode}\n{done.stdout}{done.stderr}"
                assert "Traceback" not in done.stderr, f"{where}: {line}\n{done.stderr}"
                ran += 1
    assert ran >= 12
    # What the page says its deploy leaves: one folder per host, the role line on db1 only.
    assert sorted(p.name for p in ROOT.iterdir()) == ["@local", "db1", "web1", "web2"]
    assert (ROOT / "db1" / "app" / "env").read_text() == "MODE=production\nROLE=primary\n"
    assert (ROOT / "web1" / "app" / "env").read_text() == "MODE=production\n"
    assert "workers = 4" in (ROOT / "web2" / "app" / "app.conf").read_text()
    assert (workdir / ".oxinfra" / "last-run.json").exists()
