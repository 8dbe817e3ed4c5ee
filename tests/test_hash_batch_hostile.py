"""Hash facts of one class read by ONE process, attacked: what would break the
contract "each request's (stdout, status) from the batch is byte-identical to what its own
command prints, run alone with sh -c"."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from oxinfra import _core
from oxinfra._engine.run import run
from oxinfra._engine.script import ScriptBuilder, new_nonce
from oxinfra.api.facts import FactRequest
from oxinfra.facts.files import Sha1File
from oxinfra.inventory import load_inventory
from oxinfra.quoting import quote

REAL_SHA1SUM = shutil.which("sha1sum")


def _batch(requests: list[FactRequest], env: dict[str, str] | None = None) -> list[tuple[FactRequest, bytes, int]]:
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    done = subprocess.run(["/bin/sh"], input=builder.build(), capture_output=True, check=True, env=env)
    sections, _, finished = _core.demux(done.stdout, nonce)
    assert finished
    return builder.fact_results({i: (status, data) for i, status, data in sections})


def _own(request: FactRequest, env: dict[str, str] | None = None) -> tuple[bytes, int]:
    done = subprocess.run(["/bin/sh", "-c", request.command], capture_output=True, env=env)
    return done.stdout, done.returncode


def _files(tmp_path: Path, contents: dict[str, bytes]) -> list[str]:
    paths = []
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    return paths


def _path_with(tmp_path: Path, name: str, script: str) -> dict[str, str]:
    """An environment whose ``sha1sum`` is ``script``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / name).write_text(script)
    (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


# A GNU sha1sum in binary mode: "DIGEST *NAME", and "DIGEST *-" for stdin. What the sha1sum of
# Git for Windows / MSYS2 prints by default, and what a site wrapper adding -b prints.
BINARY_MODE = f'#!/bin/sh\nexec {REAL_SHA1SUM} -b "$@"\n'
# A sha1sum that reads one file only (its first), as a site's small replacement might.
FIRST_FILE_ONLY = (
    f'#!/bin/sh\n[ "$1" = -- ] && shift\n[ $# -eq 0 ] && exec {REAL_SHA1SUM}\nexec {REAL_SHA1SUM} -- "$1"\n'
)


@pytest.mark.parametrize("script", [BINARY_MODE, FIRST_FILE_ONLY], ids=["binary-mode", "first-file-only"])
def test_hash_batch_with_another_sha1sum_prints_what_each_own_command_prints(tmp_path: Path, script: str) -> None:
    """The batch rebuilds "DIGEST  -" from the first word of each line of ``sha1sum -- P...``
    without checking the lines are GNU's "DIGEST  NAME", one per path: with another sha1sum
    it prints what the fact's own command (``sha1sum < P``) never prints."""
    paths = _files(tmp_path, {"a": b"same\n", "b": b"other\n"})
    env = _path_with(tmp_path, "sha1sum", script)
    requests = [FactRequest(Sha1File, {"path": p}, ()) for p in paths]
    for request, stdout, rc in _batch(requests, env):
        assert (stdout, rc) == _own(request, env), request


def test_hash_batch_with_a_one_file_sha1sum_is_no_wrong_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end on @local: two files.put of one source; b's content is wrong. With a
    sha1sum that hashes its first file only, b is read with a's digest: "unchanged", and b
    keeps its wrong content (before ec7d7dc each file was read with its own ``sha1sum < P``)."""
    (tmp_path / "src").write_text("same\n")
    (tmp_path / "a.dst").write_text("same\n")
    (tmp_path / "b.dst").write_text("WRONG\n")
    env = _path_with(tmp_path, "sha1sum", FIRST_FILE_ONLY)
    monkeypatch.setenv("PATH", env["PATH"])
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import files\n"
        f"files.put(name='a', src={str(tmp_path / 'src')!r}, dest={str(tmp_path / 'a.dst')!r})\n"
        f"files.put(name='b', src={str(tmp_path / 'src')!r}, dest={str(tmp_path / 'b.dst')!r})\n"
    )
    result = run(load_inventory("@local"), [str(deploy)])
    assert [op["status"] for op in result.hosts["@local"].ops] == ["unchanged", "changed"]
    assert (tmp_path / "b.dst").read_text() == "same\n"


class GunzippedSha1(Sha1File):
    """A user's fact: the SHA-1 of a gzip file's content (only ``command`` differs)."""

    def command(self, path: str) -> str:
        return f"gzip -dc < {quote(path)} | sha1sum"


def test_hash_batch_never_replaces_a_subclass_command(tmp_path: Path) -> None:
    """``hash_batch`` is inherited by every subclass, and the batch runs ``programs[0] --
    PATH`` whatever the subclass's ``command`` is: its facts get the digest of another thing."""
    paths = []
    for name in ("x.gz", "y.gz"):
        (tmp_path / name).write_bytes(gzip.compress(name.encode()))
        paths.append(str(tmp_path / name))
    requests = [FactRequest(GunzippedSha1, {"path": p}, ()) for p in paths]
    for request, stdout, rc in _batch(requests):
        assert (stdout, rc) == _own(request), request
