"""The sed scripts of ``files.replace`` and ``files.line`` cannot be broken out of.

Whatever ``text``/``replace``/``line`` hold, the planned command is run for real (GNU sed,
fed to ``sh`` on stdin) on a real file: no sed command hidden in the values ever runs (a
canary file is never created), sed never fails to parse the script, and a literal pattern's
replacement lands literally. The reported cases also run end to end on ``@local``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from oxinfra.exceptions import OperationValueError
from oxinfra.operations import files
from oxinfra.operations.util.files import escape_sed, sed_flags
from oxinfra.testing.plan import plan_operation

from e2e_helpers import assert_no_traceback, run_cli, run_deploy, write_deploy

pytestmark = pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed")

#: What sed says when the script itself (not a regular expression in it) is malformed: a
#: value that ended the pattern or replacement early leaves one of these behind.
_SCRIPT_ERRORS = (
    "unknown option to",
    "unknown command",
    "unterminated",
    "extra characters after",
    "missing command",
    "unmatched `{'",
    "unexpected `}'",
    "expected newer version",
)

#: Pieces a hostile value is made of: sed commands that run or write something, delimiters,
#: escapes, shell syntax.
_HOSTILE = [
    "e touch CANARY",
    "w CANARY",
    "W CANARY",
    "e",
    "w",
    ";",
    "#",
    "\n",
    "/",
    "\\",
    "\\/",
    "\\\\",
    "&",
    "'",
    '"',
    "$(touch CANARY)",
    "`touch CANARY`",
    "}",
    "{",
    "\\n",
    " ",
    "p",
    "g",
    "s",
    "[",
    "]",
    "[:",
    ":]",
    "[^",
    "\\]",
]
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
hostile_text = st.lists(st.one_of(st.sampled_from(_HOSTILE), st.text(_CHARS, max_size=3)), max_size=8).map("".join)


def _run_sed(commands: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    script = "\n".join(commands) + "\n"
    return subprocess.run(["sh"], input=script, cwd=workdir, capture_output=True, text=True, timeout=20)


def _plan_replace(path: Path, text: str, replace: str, flags: list[str] | None = None) -> list[str]:
    args = {"path": str(path), "text": text, "replace": replace, "flags": flags}
    facts = [("files.FindInFile", {"path": str(path), "pattern": text, "interpolate_variables": False}, ["x"])]
    return plan_operation(files.replace, args, facts).commands


def _ends_with_lone_backslash(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_text, replace=hostile_text)
def test_replace_never_runs_what_its_values_hold(tmp_path: Path, text: str, replace: str) -> None:
    work = tmp_path / "w"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    target = work / "file"
    target.write_bytes(b"a/b\\c & d;e #f\nsecond line\n")
    if _ends_with_lone_backslash(text):
        with pytest.raises(OperationValueError):
            _plan_replace(target, text, replace)
        return
    proc = _run_sed(_plan_replace(target, text, replace), work)
    assert sorted(p.name for p in work.iterdir()) == ["file"], (text, replace, proc.stderr)
    # sed may reject a regular expression (``\(`` alone), never the script around it. GNU sed
    # reads a bracket expression whole (a ``/`` inside does not end the pattern), so a ``[``
    # that never closes reads on to the end of the script: "unterminated", and nothing runs.
    errors = [e for e in _SCRIPT_ERRORS if e in proc.stderr]
    assert errors in ([], ["unterminated"] if "[" in text else []), (text, replace, proc.stderr)


def _escape_replacement(text: str) -> str:
    return text.replace("\\", "\\\\").replace("&", "\\&")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    literal=hostile_text.filter(lambda t: t != "" and "\n" not in t),
    replacement=hostile_text,
    prefix=st.text(_CHARS, max_size=4).filter(lambda t: "\n" not in t),
    every=st.booleans(),
)
def test_literal_pattern_replacement_lands_literally(
    tmp_path: Path, literal: str, replacement: str, prefix: str, every: bool
) -> None:
    work = tmp_path / "w"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    target = work / "file"
    lines = [prefix + literal + "|" + literal, "other"]
    target.write_bytes(("\n".join(lines) + "\n").encode())
    commands = _plan_replace(
        target, files.escape_bre(literal), _escape_replacement(replacement), ["g"] if every else None
    )
    proc = _run_sed(commands, work)
    assert proc.returncode == 0, (literal, replacement, proc.stderr)
    assert sorted(p.name for p in work.iterdir()) == ["file"]
    count = -1 if every else 1
    expected = [line.replace(literal, replacement, count) for line in lines]
    assert target.read_bytes() == ("\n".join(expected) + "\n").encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=hostile_text.filter(lambda t: t.strip() != ""), replace=hostile_text, present=st.booleans())
def test_line_sed_paths_never_run_what_values_hold(tmp_path: Path, line: str, replace: str, present: bool) -> None:
    """``files.line`` replacing (``replace=``) or removing (``present=False``) matching lines."""
    assume(line not in "keep")
    assume("\n" not in line and "\n" not in replace)  # refused: a line is one line
    work = tmp_path / "w"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    target = work / "file"
    target.write_bytes(f"{line}\nkeep\n".encode())
    pattern = files._anchor(files.escape_bre(line))
    args = {
        "path": str(target),
        "line": line,
        "replace": replace or "X",
        "present": present,
        "escape_regex_characters": True,
    }
    facts = [
        (
            "files.FindInFile",
            {"path": str(target), "pattern": pattern, "interpolate_variables": False},
            [line, "other"],
        ),
        ("files.LinkTarget", {"path": str(target)}, None),
    ]
    if present:  # whether the replacement is a line of the file already (matters when nothing matches)
        facts.insert(
            1, ("files.FindInFile", {"path": str(target), "pattern": "^" + files.escape_bre(replace or "X") + "$"}, [])
        )
    commands = plan_operation(files.line, args, facts).commands
    assert commands
    proc = _run_sed(commands, work)
    assert sorted(p.name for p in work.iterdir()) == ["file"], (line, replace, proc.stderr)
    assert proc.returncode == 0, (line, replace, proc.stderr)
    expected = ([(replace or "X")] if present else []) + ["keep"]
    assert target.read_bytes() == ("\n".join(expected) + "\n").encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\/", "\\/"),
        ("http:\\/\\/old", "http:\\/\\/old"),
        ("a/b", "a\\/b"),
        ("a\\\\/b", "a\\\\\\/b"),  # an escaped backslash, then a lone slash
        ("a\nb", "a\\nb"),
        ("a\\\nb", "a\\nb"),
        ("\\e", "\\e"),
    ],
)
def test_escape_sed_keeps_escape_pairs(text: str, expected: str) -> None:
    assert escape_sed(text) == expected


def test_escape_sed_trailing_backslash() -> None:
    with pytest.raises(OperationValueError, match="lone backslash"):
        escape_sed("abc\\")
    assert escape_sed("abc\\\\") == "abc\\\\"
    assert escape_sed("abc\\", pattern=False) == "abc\\\\"


@pytest.mark.parametrize("flags", [["g"], ["I"], ["g", "i"], ["2"], "gM", ["m", "3"], None, []])
def test_sed_flags_allowed(flags: object) -> None:
    assert sed_flags(flags) == "".join(flags or [])


@pytest.mark.parametrize(
    "flags", [["e"], ["w /tmp/x"], ["W"], ["p"], ["r"], ["g", "g"], ["0"], ["1", "g", "2"], ["g;e id"], [";"], [1]]
)
def test_sed_flags_refused(flags: object) -> None:
    with pytest.raises(OperationValueError, match="flags"):
        sed_flags(flags)


# -- the reported cases, end to end on @local ------------------------------------------------


def test_replace_escaped_slash_does_not_run_a_command(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("url=a/b\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.replace(name="r", path="@ROOT@/conf", text=r"\\/", replace=";e touch @ROOT@/CANARY;#")
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy)
    assert not (tmp_path / "CANARY").exists(), out.describe()
    assert out.code == 0, out.describe()
    assert conf.read_text() == "url=a;e touch " + str(tmp_path) + "/CANARY;#b\n"


def test_replace_with_pre_escaped_slashes(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("upstream=http://old/api\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.replace(name="r", path="@ROOT@/conf", text=r"http:\\/\\/old", replace="http://new")
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"r": "changed"}
    assert conf.read_text() == "upstream=http://new/api\n"
    again = run_deploy("@local", deploy)
    assert again.statuses("@local") == {"r": "unchanged"}


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        ('files.replace(path="@ROOT@/conf", text="a", replace="b", flags=["e"])', "flags ['e']"),
        ('files.replace(path="@ROOT@/conf", text="a", replace="b", flags=["w /tmp/x"])', "flags ['w /tmp/x']"),
        ('files.line(path="@ROOT@/conf", line="a", replace="b", flags=["e"])', "flags ['e']"),
        ('files.replace(path="@ROOT@/conf", text="a\\\\", replace="b")', "lone backslash"),
    ],
    ids=["replace-e", "replace-w", "line-e", "lone-backslash"],
)
def test_bad_sed_arguments_are_one_line_errors(tmp_path: Path, call: str, needle: str) -> None:
    conf = tmp_path / "conf"
    conf.write_text("a\n")
    deploy = write_deploy(
        tmp_path,
        f"""\
        from oxinfra.operations import files
        {call}
    """,
        tmp_path,
    )
    out = run_cli("-y", "@local", deploy)
    assert out.code != 0, out.describe()
    assert_no_traceback(out)
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "deploy.py:2" in errors[0] and needle in errors[0], out.describe()
    assert conf.read_text() == "a\n"


# -- files.line with interpolate_variables writes what it matches -----------------------------


@pytest.mark.parametrize("existing", [None, "other=1\n", "other=1"], ids=["create", "append", "append-no-newline"])
def test_line_interpolated_is_written_expanded_and_found_again(tmp_path: Path, existing: str | None) -> None:
    """The line is looked for with ``$HOME`` expanded by the host's shell, so it must be
    written expanded too: written as ``$HOME`` it never matches and is appended every run."""
    conf = tmp_path / "conf"
    if existing is not None:
        conf.write_text(existing)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="l", path="@ROOT@/conf", line="X=$HOME", interpolate_variables=True)
    """,
        tmp_path,
    )
    home = os.environ["HOME"]
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"l": "changed"}
    before = "" if existing is None else existing.rstrip("\n") + "\n"
    assert conf.read_text() == before + f"X={home}\n"
    stat = conf.stat()
    again = run_deploy("@local", deploy)
    assert again.code == 0, again.describe()
    assert again.statuses("@local") == {"l": "unchanged"}
    assert conf.read_text() == before + f"X={home}\n"
    assert (conf.stat().st_ino, conf.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_line_interpolated_replace_is_written_expanded(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("keep\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="l", path="@ROOT@/conf", line="^DIR=", replace="DIR=$HOME/app", interpolate_variables=True)
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert conf.read_text() == f"keep\nDIR={os.environ['HOME']}/app\n"
    conf.write_text("keep\nDIR=old\n")
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert conf.read_text() == f"keep\nDIR={os.environ['HOME']}/app\n"


def test_line_interpolated_removal_with_a_path_in_the_variable(tmp_path: Path) -> None:
    """``$HOME`` holds ``/``: with ``/`` as sed's delimiter the expanded pattern ended early
    (``/^.*X=/root.*$/d`` is an ``r`` command) and the line silently stayed."""
    conf = tmp_path / "conf"
    conf.write_text(f"keep\nX={os.environ['HOME']}\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="l", path="@ROOT@/conf", line="X=$HOME", present=False, interpolate_variables=True)
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"l": "changed"}
    assert conf.read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf", "deploy.py"]


SIM_DEPLOY = """
    from oxinfra import host
    from oxinfra.operations import files

    path = @BASE@ + "/" + host.name.replace("/", "_") + "/conf"
    files.line(name="seed", path=path, line="keep")
    files.line(name="seed dir", path=path, line="^DIR=", replace="DIR=old")
    files.line(name="seed url", path=path, line="^u=", replace="u=http://old/api")
    files.line(name="interp append", path=path, line="X=$HOME", interpolate_variables=True)
    files.line(name="interp replace", path=path, line="^DIR=", replace="DIR=$HOME/app", interpolate_variables=True)
    files.line(name="interp delete", path=path, line="^keep$", present=False, interpolate_variables=True)
    files.replace(name="escaped", path=path, text=r"http:\\/\\/old", replace="http://new", flags=["g"])
    files.replace(name="hostile", path=path, text=r"\\/api", replace=";e touch CANARY;#")
"""


def test_simulator_runs_the_new_sed_scripts_like_a_real_sh(tmp_path: Path) -> None:
    import textwrap

    from oxinfra.api import load_inventory, run
    from oxinfra.testing import sim

    base = tmp_path / "target"
    base.mkdir()
    deploy = tmp_path / "deploy.py"
    deploy.write_text(textwrap.dedent(SIM_DEPLOY).replace("@BASE@", repr(str(base))))
    sim.reset()
    try:
        local, simulated = load_inventory("@local"), load_inventory("@sim/sed")
        for _ in range(2):
            real = run(local, [str(deploy)])
            fake = run(simulated, [str(deploy)])
            assert real.success and fake.success
            assert [(o["op"], o["status"]) for o in real.hosts["@local"].ops] == [
                (o["op"], o["status"]) for o in fake.hosts["@sim/sed"].ops
            ]
            real_text = (base / "@local" / "conf").read_text().replace(os.environ["HOME"], "~")
            machine = sim.machine("sed")
            node = machine.fs[f"{base}/@sim_sed/conf"]
            fake_text = node.content().decode().replace(sim.SimHost.home(machine.user), "~")
            assert real_text == fake_text == "DIR=~/app\nu=http://new;e touch CANARY;#\nX=~\n"
        assert not (tmp_path / "CANARY").exists() and not Path("CANARY").exists()
    finally:
        sim.reset()
