"""Tests of the Rust extension ``oxinfra._core``.

Parser cases of markers and of the batched ``stat`` live in
``tests/parse/{demux,stat_batch}/<case>.json`` and are shared with the Rust test
``rust/tests/fixtures.rs``. The fact cases (``tests/facts/<fact>/<case>.json``) are
read through the fact classes by ``tests/test_fact_fixtures.py`` and through the Rust
parsers by ``rust/tests/fixtures.rs``; here are the parsers' own edge cases.
"""

from __future__ import annotations

import itertools
import json
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oxinfra import _core, exceptions
from oxinfra.exceptions import (
    DeployError,
    HostNameError,
    HostPatternError,
    HostSelectionError,
    InventoryBuildError,
    InventoryError,
    OrderCycleError,
    OutputParseError,
    OxinfraError,
)

PARSE = Path(__file__).parent / "parse"


def test_version() -> None:
    assert isinstance(_core.__version__, str) and _core.__version__.count(".") == 2


@pytest.mark.parametrize(
    ("call", "exc", "base"),
    [
        (lambda: _core.expand_host_pattern("web[2:1]"), HostPatternError, InventoryError),
        (lambda: _core.check_host_name("a b"), HostNameError, InventoryError),
        (lambda: _core.InventoryLayout([("g", "inv.py:1", ["a b"], [], [])]), InventoryBuildError, InventoryError),
        (lambda: _core.InventoryLayout([("g", "", ["a"], [], [])]).select(["zz"]), HostSelectionError, InventoryError),
        (lambda: _core.order_operations([[0, 1], [1, 0]], ["a", "b"]), OrderCycleError, DeployError),
        (lambda: _core.demux(b"\n@@OX-n:E:0:x\n", "n"), OutputParseError, OxinfraError),
        (lambda: _core.parse_stat("file", b"x\n", 0), OutputParseError, OxinfraError),
        (lambda: _core.split_stat_batch(b"", b"x\n", b"", "n", [b"/a"]), OutputParseError, OxinfraError),
    ],
)
def test_core_raises_oxinfra_exceptions(call: Any, exc: type, base: type) -> None:
    """Errors of the core are the classes of oxinfra.exceptions (one hierarchy), each also
    a ValueError; the native module defines none of its own."""
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc and exc.__module__ == "oxinfra.exceptions"
    assert issubclass(exc, base) and issubclass(exc, ValueError) and "\n" not in str(info.value)
    assert not hasattr(_core, exc.__name__)


def test_unlabelled_operation_key_is_a_plain_value_error() -> None:
    """A key without a label is a bug of the caller, not bad input."""
    with pytest.raises(ValueError, match="has no label") as info:
        _core.order_operations([[0, 5]], ["a"])
    assert not isinstance(info.value, OxinfraError)


def test_exceptions_module_imports_nothing_of_oxinfra() -> None:
    """The core imports oxinfra.exceptions to raise its classes: the reverse would be a
    cycle. Loaded on its own, the module pulls in no other module of oxinfra."""
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('standalone', sys.argv[1])\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "assert not [m for m in sys.modules if m.startswith('oxinfra')], sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code, exceptions.__file__], check=True)


# -- fact parsers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"regular file|root|root|644\n", "regular file|root|root|644"),
        (b"garbage\n", "found 1"),
        (b"regular file|a|b|644|1|2|x|4\n", 'mtime "x"'),
        (b"regular file|a|b|9x|1|2|3|4\n", 'mode "9x"'),
    ],
)
def test_parse_stat_errors(stdout: bytes, needle: str) -> None:
    with pytest.raises(OutputParseError, match="cannot parse stat output") as info:
        _core.parse_stat("file", stdout, 0)
    assert needle in str(info.value)


def test_parse_stat_non_utf8_link_target() -> None:
    """A target's bytes are kept (surrogateescape, as os.fsdecode): a link made with it
    again is the same link, and a second run changes nothing."""
    out = b"symbolic link|u|g|777|3|1|2|3\n/a\xff\n"
    result = _core.parse_stat("link", out, 0)
    assert isinstance(result, dict)
    assert result["link_target"] == "/a\udcff"


def test_parse_lines_non_utf8() -> None:
    assert _core.parse_lines(b"a\xffb\n", 0, 1) == ["a\ufffdb"]


# -- host patterns ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web.example.com", ["web.example.com"]),
        ("web[01:03].example.com", ["web01.example.com", "web02.example.com", "web03.example.com"]),
        ("h[1:10]", [f"h{i}" for i in range(1, 11)]),
        ("h[01:10]", [f"h{i:02}" for i in range(1, 11)]),
        ("db[a:c]", ["dba", "dbb", "dbc"]),
        ("db[A:C]", ["dbA", "dbB", "dbC"]),
        ("n[0:100:10]", [f"n{i}" for i in range(0, 101, 10)]),
        ("n[0:25:10]", ["n0", "n10", "n20"]),
        ("n[7:7]", ["n7"]),
        (
            "rack[1:2]-node[01:03]",
            ["rack1-node01", "rack1-node02", "rack1-node03", "rack2-node01", "rack2-node02", "rack2-node03"],
        ),
        ("[::1]", ["[::1]"]),
        ("[fe80::1]", ["[fe80::1]"]),
        ("[1:3]", ["1", "2", "3"]),
    ],
)
def test_expand_host_pattern(pattern: str, expected: list[str]) -> None:
    assert _core.expand_host_pattern(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        ("web[10:01]", "start 10 is after end 01; write the smaller bound first"),
        ("web[a:10]", "mixes a number and a letter"),
        ("web[01:]", "has no end"),
        ("web[:01]", "has no start"),
        ("n[0:10:0]", "is 0; use a step of 1 or more"),
        ("n[0:10:-1]", "not a positive whole number"),
        ("web[01:03", "unbalanced '['"),
        ("web01:03]", "unbalanced ']'"),
        ("web[]", "empty range"),
        ("web[5]", "is not [start:end]"),
        ("web[aa:cc]", "two numbers or two single letters"),
        ("web[a:C]", "differ in case"),
        ("[0:9999][0:9999]", "more than 10000000 names"),
    ],
)
def test_expand_host_pattern_errors(pattern: str, needle: str) -> None:
    with pytest.raises(HostPatternError) as info:
        _core.expand_host_pattern(pattern)
    message = str(info.value)
    assert f'"{pattern}"' in message
    assert needle in message


Range = tuple[str, list[str]]


@st.composite
def ranges(draw: st.DrawFn) -> Range:
    """A bracket range and the names it stands for."""
    if draw(st.booleans()):
        start = draw(st.integers(0, 120))
        end = draw(st.integers(start, start + 30))
        step = draw(st.integers(1, 7))
        width = draw(st.sampled_from([0, 2, 3])) if start < 100 else 0
        text = f"{start:0{width}}" if width else str(start)
        width = len(text) if len(text) > 1 and text.startswith("0") else 0
        names = [f"{i:0{width}}" for i in range(start, end + 1, step)]
        return f"[{text}:{end}:{step}]", names
    letters = draw(st.sampled_from([string.ascii_lowercase, string.ascii_uppercase]))
    a = draw(st.integers(0, 25))
    b = draw(st.integers(a, 25))
    return f"[{letters[a]}:{letters[b]}]", list(letters[a : b + 1])


literals = st.text(alphabet=string.ascii_lowercase + "-.", max_size=4)


@settings(database=None, max_examples=200)
@given(st.lists(st.tuples(literals, ranges()), max_size=3), literals)
def test_expand_host_pattern_property(parts: list[tuple[str, Range]], tail: str) -> None:
    pattern = "".join(text + rng for text, (rng, _) in parts) + tail
    names = _core.expand_host_pattern(pattern)
    count = 1
    for _, (_, values) in parts:
        count *= len(values)
    assert len(names) == count
    expected = [
        "".join(text + value for (text, _), value in zip(parts, combo)) + tail
        for combo in itertools.product(*(values for _, (_, values) in parts))
    ]
    assert names == expected
    for name in names[:50]:
        assert _core.expand_host_pattern(name) == [name]


# -- operation order --------------------------------------------------------

LABELS = [f"deploy.py:{line}" for line in range(10, 20)]


@pytest.mark.parametrize(
    ("sequences", "expected"),
    [
        ([], []),
        ([[2, 0, 1]], [2, 0, 1]),
        ([[0, 1, 2]] * 3, [0, 1, 2]),
        ([[0, 2], [1, 2], [0, 1]], [0, 1, 2]),
        ([[0, 1, 3], [0, 2, 3], [0, 3]], [0, 1, 2, 3]),
        ([[3], [1], [2]], [3, 1, 2]),
        ([[0, 2], [1, 2], [3]], [0, 1, 2, 3]),
        ([[3], [0, 2], [1, 2]], [3, 0, 1, 2]),
        ([[0, 1, 0, 2], [0, 2]], [0, 1, 2]),
        ([[1, 2], [0, 1]], [0, 1, 2]),
    ],
)
def test_order_operations(sequences: list[list[int]], expected: list[int]) -> None:
    assert _core.order_operations(sequences, LABELS) == expected


@pytest.mark.parametrize(
    ("sequences", "first", "second"),
    [
        ([[0, 1], [1, 0]], "deploy.py:10", "deploy.py:11"),
        ([[4, 2], [2, 4]], "deploy.py:14", "deploy.py:12"),
        ([[0, 1], [1, 2], [2, 0]], "deploy.py:10", "deploy.py:11"),
        ([[5, 0, 1]] * 3 + [[5, 1, 0, 3]], "deploy.py:10", "deploy.py:11"),
    ],
)
def test_order_operations_cycle(sequences: list[list[int]], first: str, second: str) -> None:
    with pytest.raises(OrderCycleError) as info:
        _core.order_operations(sequences, LABELS)
    assert str(info.value) == (
        f'operation order conflict: "{first}" runs before "{second}" on some hosts and after it on '
        "others; make the order the same on every host (put the conditional operations in the same order)"
    )


def test_order_operations_unknown_key() -> None:
    with pytest.raises(ValueError, match="operation key 10 has no label"):
        _core.order_operations([[0, 10]], LABELS)


def test_order_operations_many_hosts() -> None:
    labels = [f"deploy.py:{i}" for i in range(20)]
    full = list(range(20))
    sequences = [full if host % 7 else [k for k in full if k % (host % 5 + 2)] for host in range(100_000)]
    assert _core.order_operations(sequences, labels) == full
    sequences[99_999] = [19, 0]
    with pytest.raises(OrderCycleError, match=r'"deploy.py:\d+" runs before "deploy.py:\d+"'):
        _core.order_operations(sequences, labels)


# -- demux ------------------------------------------------------------------


def parse_fixture(path: Path) -> tuple[dict[str, Any], Any]:
    """A fixture of tests/parse/ and what the core makes of it (or the OutputParseError)."""
    fixture = json.loads(path.read_text(encoding="utf-8"))
    try:
        if path.parent.name == "demux":
            sections, rest, done = _core.demux(fixture["data"].encode(), fixture["nonce"])
            return fixture, {
                "sections": [[i, s, out.decode()] for i, s, out in sections],
                "rest": rest.decode(),
                "done": done,
            }
        paths = [p.encode() for p in fixture["paths"]]
        split = _core.split_stat_batch(
            fixture.get("absent", "").encode(),
            fixture["stat"].encode(),
            fixture["links"].encode(),
            fixture["nonce"],
            paths,
        )
        return fixture, [[out.decode(), rc] for out, rc in split]
    except OutputParseError as exc:
        return fixture, exc


PARSE_FIXTURES = sorted(PARSE.glob("*/*.json"))


def test_parse_fixtures_exist() -> None:
    assert {p.parent.name for p in PARSE_FIXTURES} == {"demux", "stat_batch"}
    assert len(PARSE_FIXTURES) >= 35


@pytest.mark.parametrize("path", PARSE_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_parse_fixture(path: Path) -> None:
    fixture, got = parse_fixture(path)
    if "error" in fixture:
        assert isinstance(got, OutputParseError), got
        assert fixture["error"] in str(got) and "\n" not in str(got)
    else:
        assert got == fixture["expected"]


N = "a1b2c3"


def marker(index: int, status: str | int, nonce: str = N) -> bytes:
    return f"\n@@OX-{nonce}:E:{index}:{status}\n".encode()


DONE = f"\n@@OX-{N}:DONE\n".encode()


@pytest.mark.parametrize(
    ("data", "sections", "rest", "done"),
    [
        pytest.param(b"", [], b"", False, id="empty"),
        pytest.param(
            b"hi\n" + marker(0, 0) + b"x" + marker(1, 3) + DONE, [(0, 0, b"hi\n"), (1, 3, b"x")], b"", True, id="basic"
        ),
        pytest.param(
            marker(0, 0) + marker(1, 2) + marker(2, "stale") + DONE,
            [(0, 0, b""), (1, 2, b""), (2, None, b"")],
            b"",
            True,
            id="empty-sections",
        ),
        pytest.param(
            b"fake" + marker(0, 0, "othernonce") + b"real" + marker(0, 0),
            [(0, 0, b"fake" + marker(0, 0, "othernonce") + b"real")],
            b"",
            False,
            id="other-nonce",
        ),
        pytest.param(
            marker(0, 0, N + "x") + marker(0, 0), [(0, 0, marker(0, 0, N + "x"))], b"", False, id="nonce-prefix"
        ),
        pytest.param(
            b"x@@OX-" + N.encode() + b":E:0:0\n", [], b"x@@OX-" + N.encode() + b":E:0:0\n", False, id="marker-mid-line"
        ),
        pytest.param(b"no newline" + marker(0, 1), [(0, 1, b"no newline")], b"", False, id="no-trailing-newline"),
        pytest.param(
            b"\x00\xff\xfe\n@@\n" + marker(7, 0) + b"\x80", [(7, 0, b"\x00\xff\xfe\n@@\n")], b"\x80", False, id="binary"
        ),
        pytest.param(marker(0, 0) + b"half done", [(0, 0, b"")], b"half done", False, id="missing-done"),
        pytest.param(
            marker(0, 0) + b"cut" + marker(1, 0)[:-1], [(0, 0, b"")], b"cut" + marker(1, 0)[:-1], False, id="cut-marker"
        ),
        pytest.param(marker(0, 0) + b"tail" + DONE + b"after", [(0, 0, b"")], b"tail", True, id="rest-before-done"),
    ],
)
def test_demux(data: bytes, sections: list[tuple[int, int | None, bytes]], rest: bytes, done: bool) -> None:
    assert _core.demux(data, N) == (sections, rest, done)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("E:x:0", "malformed section index"),
        ("E::0", "malformed section index"),
        ("E:1", "missing status"),
        ("E:1:two words", "malformed status"),
        ("E:1:skipped", "malformed status"),
        ("BOGUS", "unknown marker kind"),
    ],
)
def test_demux_malformed_marker(line: str, needle: str) -> None:
    with pytest.raises(OutputParseError, match="cannot parse demux output") as info:
        _core.demux(f"out\n@@OX-{N}:{line}\n".encode(), N)
    assert needle in str(info.value)
    assert line in str(info.value)


def test_demux_large() -> None:
    chunk = bytes(range(256)) * 64
    data = b"".join(chunk + marker(i, i % 3) for i in range(2000)) + DONE
    sections, rest, done = _core.demux(data, N)
    assert [(i, s) for i, s, _ in sections] == [(i, i % 3) for i in range(2000)]
    assert all(out == chunk for _, _, out in sections)
    assert (rest, done) == (b"", True)
