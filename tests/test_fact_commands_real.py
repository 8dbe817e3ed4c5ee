"""The commands of the file, release and hardware facts run by a real POSIX shell (``sh -c``) on
real files here: hostile names reach the tools as data (nothing they hold runs), absence is
told from failure, and the values are what the files hold (read back with Python).

Runs as whoever runs the tests (root here), so unreadable files are not among the cases: the
container tests (tests/test_facts_pyinfra.py) read as root too; the fixtures hold the outputs
of a failed read.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api import FactBase
from oxinfra.exceptions import FactError
from oxinfra.facts import files, hardware
from oxinfra.facts.server import LinuxDistribution, OsRelease

HOSTILE_NAMES = [
    "plain",
    "with space",
    "quote's",
    'dq"x',
    "$(touch PWNED)",
    "`touch PWNED`",
    "semi;touch PWNED",
    "new\nline",
    "star*?[a]",
    "back\\slash",
    "caf\u00e9",
]


def read(fact: FactBase[Any], cwd: Path, **args: Any) -> Any:
    proc = subprocess.run(["sh", "-c", fact.command(**args)], capture_output=True, cwd=cwd, timeout=30)
    return fact.parse(proc.stdout, proc.returncode)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for name in HOSTILE_NAMES:
        (root / name).write_bytes(f"a\n# BEGIN PYINFRA BLOCK\n{name}\n# END PYINFRA BLOCK\n".encode())
    return root


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_data(tree: Path, name: str) -> None:
    path = tree / name
    data = path.read_bytes()
    assert read(files.FileContents(), tree, path=str(path)) == data.decode().split("\n")[:-1]
    assert read(files.Md5File(), tree, path=str(path)) == hashlib.md5(data).hexdigest()
    assert read(files.Sha384File(), tree, path=str(path)) == hashlib.sha384(data).hexdigest()
    assert read(files.Block(), tree, path=str(path)) == name.split("\n")
    found = read(files.FindFiles(), tree, path=str(tree), fname=name)
    if "\n" not in name and not set(name) & set("*?[\\"):
        assert found == [str(path)]
    assert not list(tree.glob("PWNED")) and not (tree.parent / "PWNED").exists()


def test_absent_is_told_from_not_provably_absent(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x\n")
    absent, under_a_file = str(tmp_path / "nope" / "deeper"), str(tmp_path / "file" / "child")
    for fact, none in (
        (files.FileContents(), None),
        (files.Md5File(), None),
        (files.Sha384File(), None),
        (files.Block(), None),
        (files.FindFiles(), []),
        (files.FindDirectories(), []),
        (files.FindLinks(), []),
    ):
        assert read(type(fact)(), tmp_path, path=absent) == none, fact.name
        with pytest.raises(FactError, match="not provably absent|exit 2"):
            read(type(fact)(), tmp_path, path=under_a_file)


def test_other_types_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    os.symlink("nowhere", tmp_path / "dangling")
    assert read(files.FileContents(), tmp_path, path=str(tmp_path / "empty")) is None  # as pyinfra
    assert read(files.FileContents(), tmp_path, path=str(tmp_path / "dir")) is None
    assert read(files.Block(), tmp_path, path=str(tmp_path / "dir")) == []
    assert read(files.Block(), tmp_path, path=str(tmp_path / "dangling")) == []
    assert read(files.Md5File(), tmp_path, path=str(tmp_path / "empty")) == hashlib.md5(b"").hexdigest()
    assert read(files.FindLinks(), tmp_path, path=str(tmp_path)) == [str(tmp_path / "dangling")]


def test_block_markers_are_text_not_regex_nor_code(tmp_path: Path) -> None:
    marker = "# {mark} .* $(touch PWNED) '\"\\ ["
    path = tmp_path / "f"
    path.write_text("x\n# BEGIN .* $(touch PWNED) '\"\\ [\nin\n# END .* $(touch PWNED) '\"\\ [\n# BEGIN no\nout\n")
    assert read(files.Block(), tmp_path, path=str(path), marker=marker) == ["in"]
    assert not (tmp_path / "PWNED").exists()


def test_find_options(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "small").write_bytes(b"x")
    (tmp_path / "d" / "big").write_bytes(b"x" * 3000)
    got = read(files.FindFiles(), tmp_path, path=str(tmp_path), min_size="2KB")
    assert got == [str(tmp_path / "d" / "big")]
    assert read(files.FindFiles(), tmp_path, path=str(tmp_path), maxdepth=1) == [str(tmp_path / "small")]
    assert read(files.FindDirectories(), tmp_path, path=str(tmp_path), maxdepth=0) == [str(tmp_path)]
    assert read(files.FindFiles(), tmp_path, path=str(tmp_path), args=["-name", "b*"]) == [str(tmp_path / "d" / "big")]
    with pytest.raises(FactError, match="quote_path=False"):
        files.FindFiles().command(path=f"{tmp_path}/$(id)", quote_path=False)


def test_release_files_of_this_machine() -> None:
    """This machine's own /etc/*-release, read back with Python's shell-like lexer."""
    import shlex

    text = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    value = read(LinuxDistribution(), Path("/"))
    os_release = read(OsRelease(), Path("/"))
    if not text:
        assert value["name"] is None and os_release is None
        return
    variables = dict(w.split("=", 1) for w in shlex.split(text, comments=True) if "=" in w)
    assert value["release_meta"]["ID"] == variables["ID"]
    assert os_release["id"] == variables["ID"]


def test_network_devices_of_this_machine() -> None:
    value = read(hardware.NetworkDevices(), Path("/"))
    assert value["lo"]["ipv4"]["address"] == "127.0.0.1" and value["lo"]["ipv4"]["mask_bits"] == 8
    assert read(hardware.Ipv4Addresses(), Path("/"))["lo"] == "127.0.0.1"
    assert read(hardware.Cpus(), Path("/")) == os.cpu_count()
