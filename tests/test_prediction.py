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
@given(lines=st.lists(_LINE, max_size=6), word=_WORD, trailing=st.booleans(),
       shape=st.sampled_from(["{}", "^{}", "{}$", "^{}$", "^.*{}.*$"]))
def test_find_in_file_prediction_equals_grep(tmp_path_factory: pytest.TempPathFactory, lines: list[str],
                                             word: str, trailing: bool, shape: str) -> None:
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
