"""Every code block of docs/writing-operations.md runs.

Blocks whose first line is ``# file: NAME`` are written to a fresh directory; the other
Python blocks run there, in order, in one namespace (so later blocks see earlier names), and
``sh`` blocks run with ``/bin/sh`` there, with this interpreter's ``oxinfra`` first on PATH.
The examples write under /tmp/oxinfra-doc-example (removed before and after).
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

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-operations.md"
EXAMPLE_ROOT = Path("/tmp/oxinfra-doc-example")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def blocks() -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in FENCE.findall(DOC.read_text())]


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    shutil.rmtree(EXAMPLE_ROOT, ignore_errors=True)
    old_cwd, old_path, old_modules = os.getcwd(), list(sys.path), set(sys.modules)
    os.chdir(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        for name in set(sys.modules) - old_modules:
            if getattr(sys.modules[name], "__file__", "") and str(tmp_path) in str(sys.modules[name].__file__):
                del sys.modules[name]
        shutil.rmtree(EXAMPLE_ROOT, ignore_errors=True)


def test_the_doc_has_code_of_every_kind() -> None:
    langs = [lang for lang, _ in blocks()]
    assert set(langs) <= {"python", "sh"}, langs  # every block is run below
    assert sum(body.startswith("# file: ") for _, body in blocks()) >= 3
    assert "sh" in langs


def test_every_block_runs(workdir: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for number, (lang, body) in enumerate(blocks(), 1):
        where = f"{DOC.name} block {number}"
        if lang == "python" and body.startswith("# file: "):
            name = body.split("\n", 1)[0][len("# file: ") :].strip()
            (workdir / name).write_text(body)
        elif lang == "python":
            exec(compile(body, where, "exec"), namespace)
        else:
            done = subprocess.run(
                ["/bin/sh", "-c", body], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"{where}: {done.stdout}{done.stderr}"
    assert (EXAMPLE_ROOT / "etc" / "app.env").exists()


def test_the_worked_example_builds_commands_as_the_library_must() -> None:
    from test_command_building import violations

    (example,) = [body for lang, body in blocks() if body.startswith("# file: app_settings.py")]
    assert violations(example, "app_settings.py") == []
