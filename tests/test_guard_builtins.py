"""A guard of "absent" runs no process: the file facts give the engine a test of shell
builtins (``FactBase.guard_test``) that holds exactly when the fact's own command would
print again what the plan used. Checked here on a real shell, for every pair of host states
(the state the plan saw, the state the guard meets), against the fact's own command: the
test must hold exactly when the command's output and status are unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from e2e_helpers import run_deploy, write_deploy
from oxinfra._engine.script import ScriptBuilder, _short, new_nonce, prelude
from oxinfra.api.facts import FactBase, FactRequest
from oxinfra.facts.files import Directory, File, FindInFile, Link, Sha1File, Sha256File

#: What the host holds at ``<base>/t/x`` (the fact's path), as shell text run in ``<base>``.
STATES = {
    "absent": "mkdir t",
    "absent, its directory too": ":",
    "a file": "mkdir t && printf 'MODE=production\\n' > t/x",
    "an empty file": "mkdir t && : > t/x",
    "a directory": "mkdir -p t/x",
    "a link to a file": "mkdir t && printf 'a\\n' > t/real && ln -s real t/x",
    "a dangling link": "mkdir t && ln -s none t/x",
    "a link to a directory above it, absent": "mkdir real && ln -s real t",
    "below a regular file (ENOTDIR)": "printf 'a\\n' > t",
    "below a directory it may not search": "mkdir t && : > t/x && chmod 000 t",
    "below a directory it may not search, absent": "mkdir t && chmod 000 t",
}

FACTS: list[tuple[type[FactBase[Any]], dict[str, Any]]] = [
    (File, {}),
    (Directory, {}),
    (Link, {}),
    (Sha1File, {}),
    (Sha256File, {}),
    (FindInFile, {"pattern": "MODE=production"}),
    (FindInFile, {"pattern": "^.*MODE=.*$", "extended_regex": True}),
]


def _shell() -> list[str]:
    """A shell that is not root where the test runs as root: root searches any directory."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh"]
    return ["sh"]


@pytest.fixture
def base() -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="oxinfra-guard-", dir="/tmp"))
    where.chmod(0o755)
    try:
        yield where
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(where)], check=False)
        shutil.rmtree(where)


def _enter(base: Path, state: str) -> Path:
    """``base/<n>`` set up as ``state`` (as the shell's user); its fact path."""
    root = base / str(list(STATES).index(state))
    root.mkdir()
    if os.geteuid() == 0:
        os.chown(root, 65534, 65534)
    subprocess.run([*_shell(), "-c", STATES[state]], cwd=root, check=True)
    return root / "t" / "x"


def _command(base: Path, request: FactRequest) -> tuple[bytes, int]:
    done = subprocess.run([*_shell(), "-c", request.command], capture_output=True, cwd=base)
    return done.stdout, done.returncode


def _holds(base: Path, test: str) -> bool:
    """Whether ``test`` holds, as the engine runs it (the absence proof a call of ``__ox_A``);
    the test as written (the proof spelled out) must agree."""
    raw = _run_test(base, test)
    assert raw == _run_test(base, _short(test)), f"the test as written and shortened disagree: {test}"
    return raw


def _run_test(base: Path, test: str) -> bool:
    script = prelude(new_nonce()) + f"if {{ {test}; }}; then echo held; else echo failed; fi\n"
    done = subprocess.run([*_shell()], input=script.encode(), capture_output=True, cwd=base, check=True)
    assert done.stdout in (b"held\n", b"failed\n"), f"the test printed: {done.stdout!r}"
    assert done.stderr == b"", f"the test wrote to stderr: {done.stderr!r}"
    return done.stdout == b"held\n"


@pytest.mark.parametrize(
    "cls, extra", FACTS, ids=[f"{c.__name__}{'-E' if e.get('extended_regex') else ''}" for c, e in FACTS]
)
def test_a_guard_test_holds_exactly_when_the_command_prints_the_same(
    base: Path, cls: Any, extra: dict[str, Any]
) -> None:
    paths = {state: _enter(base, state) for state in STATES}
    seen = {state: _command(base, FactRequest(cls, {"path": str(path), **extra}, ())) for state, path in paths.items()}
    tested = 0
    for planned, (stdout, rc) in seen.items():
        for found, path in paths.items():
            request = FactRequest(cls, {"path": str(path), **extra}, ())
            test = request.fact.guard_test(stdout, rc, **request.kwargs)
            if test is None:
                continue
            tested += 1
            now = _command(base, request)
            assert _holds(base, test) == (now == (stdout, rc)), (
                f"{cls.__name__}: planned from {planned!r} ({stdout!r}, {rc}), "
                f"the host now {found!r} ({now[0]!r}, {now[1]})"
            )
    # "absent" (two states) and, for the digests, the other things that are no file
    assert tested >= 2 * len(STATES), f"{cls.__name__}: only {tested} guard tests"


def test_other_values_and_other_commands_have_no_guard_test() -> None:
    path = "/srv/app/x"
    assert File().guard_test(b"regular file|a|b|644|1|2|3|4\n", 0, path=path) is None
    assert File().guard_test(b"", 2, path=path) is None
    assert Sha1File().guard_test(b"0" * 40 + b"  -\n", 0, path=path) is None
    assert FindInFile().guard_test(b"", 1, path=path, pattern="a") is None  # no match: grep decides
    # a pattern the command checks with grep, or one the host expands: the command itself
    assert FindInFile().guard_test(b"", 0, path=path, pattern="a[b") is None
    assert FindInFile().guard_test(b"", 0, path=path, pattern="$HOME", interpolate_variables=True) is None

    class OwnStat(File):
        def command(self, path: str) -> str:
            return f"stat -- {path}"

    assert OwnStat().guard_test(b"", 1, path=path) is None


def test_the_script_guards_absent_paths_with_builtins_and_runs_the_rest() -> None:
    absent = FactRequest(Directory, {"path": "/srv/app/log"}, ())
    present = FactRequest(Directory, {"path": "/srv/app"}, ())
    builder = ScriptBuilder(new_nonce())
    builder.add_operation(
        "op",
        "mkdir -p -- /srv/app/log",
        [(absent, b"", 1), (present, b"directory|a|b|755|4096|1|2|3\n", 0)],
        ignore_errors=False,
    )
    text = builder.build().decode()
    guard_line = next(line for line in text.splitlines() if "/srv/app/log;" in line)
    # one command substitution: the present directory's stat; the absent one is tested in place
    assert guard_line.count("$(") == 1, guard_line
    assert '{ __ox_a=/srv/app/log; ! [ -e "$__ox_a" ] && ! [ -L "$__ox_a" ] && { __ox_A; }; }' in guard_line


def test_a_path_created_after_the_facts_makes_the_absent_guard_stale(tmp_path: Path) -> None:
    """The guard of an absent directory after a shell command that creates it: stale, planned
    again from what is there (its mode changed, no mkdir), in one more round trip."""
    path = tmp_path / "made"
    deploy = write_deploy(
        tmp_path,
        "from oxinfra.operations import files, server\n"
        f'server.shell(name="make", commands=["mkdir -m 700 {path}"])\n'
        f'files.directory(name="dir", path={str(path)!r}, mode="755")\n',
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"make": "changed", "dir": "changed"}, out.describe()
    assert path.stat().st_mode & 0o777 == 0o755
    assert out.host("@local")["round_trips"] == 3, out.describe()  # facts, changes, the rest re-planned

    again = tmp_path / "untouched"
    deploy = write_deploy(
        tmp_path,
        "from oxinfra.operations import files, server\n"
        'server.shell(name="noop", commands=["true"])\n'
        f'files.directory(name="dir", path={str(again)!r}, mode="750")\n',
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"noop": "changed", "dir": "changed"}, out.describe()
    assert again.stat().st_mode & 0o777 == 0o750
    assert out.host("@local")["round_trips"] == 2, out.describe()  # the guard held


@pytest.mark.parametrize("present", [False, True], ids=["absent", "present"])
def test_the_path_dash_is_the_file_named_dash_not_standard_input(base: Path, present: bool) -> None:
    """``stat -- -`` and ``grep -- -`` read their standard input: the facts name the file
    ``./-``, the stat batch leaves it to the fact's own command, and the guard agrees."""
    from oxinfra import _core

    base = base / "dash"
    base.mkdir()
    if os.geteuid() == 0:
        os.chown(base, 65534, 65534)
    if present:
        subprocess.run([*_shell(), "-c", "printf 'MODE=production\\n' > ./-"], cwd=base, check=True)
    requests = [
        FactRequest(File, {"path": "-"}, ()),
        FactRequest(FindInFile, {"path": "-", "pattern": "MODE=production"}, ()),
    ]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    # standard input holds a line that matches: a command reading it would "find" it
    script = builder.build().decode()
    done = subprocess.run(
        [*_shell(), "-c", f"{{ {script}\n}} <<'EOF'\nMODE=production\nEOF\n"], capture_output=True, cwd=base
    )
    sections, _, finished = _core.demux(done.stdout, nonce)
    assert finished, done
    found = {id(r): (out, rc) for r, out, rc in builder.fact_results({i: (s, d) for i, s, d in sections})}
    file_out, file_rc = found[id(requests[0])]
    grep_out, grep_rc = found[id(requests[1])]
    if present:
        assert file_rc == 0 and file_out.startswith(b"regular file|"), file_out
        assert (grep_out, grep_rc) == (b"MODE=production\n", 0)
    else:
        assert (file_out, file_rc) == (b"", 1)
        assert (grep_out, grep_rc) == (b"", 0)
        for request, (out, rc) in zip(requests, [(file_out, file_rc), (grep_out, grep_rc)]):
            test = request.fact.guard_test(out, rc, **request.kwargs)
            assert test is not None and _holds(base, test)


def test_an_interpolated_pattern_has_no_guard_test() -> None:
    """The host expands an ``Interpolated`` pattern whatever ``interpolate_variables`` says:
    only its command can tell whether grep finds the expansion valid."""
    from oxinfra.quoting import Interpolated

    assert FindInFile().guard_test(b"", 0, path="/srv/x", pattern=Interpolated("$PAT")) is None
