"""Facts read in a batch must come back exactly as each fact's own command prints them:
guards re-run the fact's own command and compare raw output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from oxinfra import _core
from oxinfra.api.facts import FactRequest
from oxinfra._engine.script import ScriptBuilder, StatBatch, new_nonce
from oxinfra.facts.files import Directory, File, Link, Socket


def _run_script(builder: ScriptBuilder, nonce: str) -> dict[int, tuple[str, bytes]]:
    out = subprocess.run(["sh"], input=builder.build(), capture_output=True, check=True).stdout
    sections, _, done = _core.demux(out, nonce)
    assert done
    return {i: (status, data) for i, status, data in sections}


def _own(request: FactRequest) -> tuple[bytes, int]:
    done = subprocess.run(["sh", "-c", request.command], capture_output=True)
    return done.stdout, done.returncode


def test_stat_batch_equals_each_fact_command(tmp_path: Path) -> None:
    names = ["plain", "with space", "it's", 'dq"x', "pipe|name", "ünï", "-dash", "$(id)"]
    paths = []
    for i, name in enumerate(names):
        path = tmp_path / name
        if i % 3 == 0:
            path.write_text("x")
        elif i % 3 == 1:
            path.mkdir()
        else:
            os.symlink(f"/target/{name}", path)
        paths.append(str(path))
    paths.append(str(tmp_path / "missing"))
    requests = [FactRequest(cls, {"path": p}, ()) for p in paths for cls in (File, Directory, Link, Socket)]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    assert sum(isinstance(owner, StatBatch) for owner in builder.sections) == 1
    results = builder.fact_results(_run_script(builder, nonce))
    assert len(results) == len(requests)
    for request, stdout, rc in results:
        assert (stdout, rc) == _own(request), request
        assert request.fact.parse(stdout, rc) == request.fact.parse(*_own(request))


def test_paths_with_newlines_are_read_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "new\nline"
    path.write_text("x")
    request = FactRequest(File, {"path": str(path)}, ())
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts([request])
    assert not any(isinstance(owner, StatBatch) for owner in builder.sections)
    [(got, stdout, rc)] = builder.fact_results(_run_script(builder, nonce))
    assert got is request and (stdout, rc) == _own(request)
    assert request.fact.parse(stdout, rc)["size"] == 1
