"""Content predictions must equal what the real commands print: run them on real files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oxinfra.api.facts import FactRequest
from oxinfra.facts.files import FindInFile, Sha1File, Sha256File

_LINE = st.text(alphabet="abcMODE=_ -x\t", max_size=12)
_WORD = st.text(alphabet="abcMODE=_ -x", min_size=1, max_size=5)


def _real(tmp: Path, request: FactRequest) -> tuple[bytes, int]:
    done = subprocess.run(["sh", "-c", request.command], capture_output=True)
    return done.stdout, done.returncode


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=6),
    word=_WORD,
    trailing=st.booleans(),
    shape=st.sampled_from(["{}", "^{}", "{}$", "^{}$", "^.*{}.*$"]),
)
def test_find_in_file_prediction_equals_grep(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], word: str, trailing: bool, shape: str
) -> None:
    path = tmp_path_factory.mktemp("p") / "f"
    content = "\n".join(lines) + ("\n" if trailing and lines else "")
    path.write_bytes(content.encode())
    request = FactRequest(FindInFile, {"path": str(path), "pattern": shape.format(word)}, ())
    predicted = request.fact.predict(content.encode(), **request.kwargs)
    assert predicted is not None
    assert predicted == _real(path, request)


@pytest.mark.parametrize("pattern", ["a.b", "x*", "[ab]", "a\\(b\\)", "^.*a.*b$"])
def test_regex_patterns_are_not_predicted(pattern: str) -> None:
    assert FindInFile().predict(b"a.b\n", path="/x", pattern=pattern) is None


@pytest.mark.parametrize("fact", [Sha1File, Sha256File])
def test_hash_prediction_equals_command(tmp_path: Path, fact: type) -> None:
    data = b"bytes \x00\xff and 'quotes'\n"
    path = tmp_path / "blob"
    path.write_bytes(data)
    request = FactRequest(fact, {"path": str(path)}, ())
    assert request.fact.predict(data, path=str(path)) == _real(tmp_path, request)


@pytest.mark.parametrize(
    ("shell", "last", "content"),
    [
        # The shell leaves the file alone: what the plan wrote is still there, the guard holds.
        ("true", "changed", "A=1\nB=2\n"),
        # The shell writes the line itself: the guard fails and the operation is planned again
        # from the re-read file (in the same round trip): nothing left to do.
        ("printf 'B=2\\n' > {f}", "unchanged", "B=2\n"),
    ],
)
def test_contents_written_stay_predicted_across_an_undeclared_change(
    tmp_path: Path, shell: str, last: str, content: str
) -> None:
    from oxinfra.api import load_inventory, run
    from oxinfra.testing import sim

    sim.reset()
    f = "/srv/env"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import files, server\n"
        f"files.line(name='a', path={f!r}, line='A=1')\n"
        f"server.shell(name='shell', commands=[{shell.format(f=f)!r}])\n"
        f"files.line(name='b', path={f!r}, line='B=2')\n"
    )
    try:
        result = run(load_inventory("@sim/p"), [str(deploy)])
        host = result.hosts["@sim/p"]
        assert result.success and [op["status"] for op in host.ops] == ["changed", "changed", last]
        assert host.round_trips == 2  # facts, then everything: no round trip for the guess
        assert sim.machines()["p"].fs[f].data == content
    finally:
        sim.reset()
