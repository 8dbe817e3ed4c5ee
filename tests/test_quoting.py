"""oxinfra.quoting against a real POSIX shell: what ``quote`` makes, ``sh`` reads back literally.

Every string is round-tripped through ``sh -c 'printf %s <quoted>'`` (dash on Debian, the
shell the SSH hosts run; bash too when present) and compared byte for byte.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_helpers import mode, run_deploy, target, tree, write_inventory
from oxinfra.quoting import QuotingError, command, quote, quote_interpolated

__all__ = ["target"]  # fixture

# Any text a shell can receive: no NUL, no lone surrogates (they have no UTF-8 form).
TEXT = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT_NO_DOLLAR = st.characters(codec="utf-8", exclude_characters="\x00$")

SHELLS = [s for s in ("/bin/sh", shutil.which("bash")) if s]

NASTY = [
    "",
    " ",
    "plain",
    "two words",
    "it's",
    "'",
    "''",
    "'\\''",
    '"',
    "\"double\" and 'single'",
    "$HOME",
    "${HOME}",
    "$(touch /tmp/oxinfra-quoting-pwned)",
    "`touch /tmp/oxinfra-quoting-pwned`",
    "a; touch /tmp/oxinfra-quoting-pwned",
    "a && b || c | d & e",
    "line1\nline2\n",
    "\n",
    "\r\n\t\x0b\x0c",
    "*",
    "/etc/*",
    "?[a-z]{1,2}",
    "~",
    "~root",
    "-rf",
    "--",
    "-n",
    "-e \\n",
    "back\\slash\\",
    "\\",
    "\\\\'\\",
    "#comment",
    "a=b",
    "!bang !!",
    "%s %d %%",
    "<in >out 2>&1",
    "(sub) {group}",
    "ünï cødé",
    "emoji 🦀🚀",
    "\u202eright-to-left",
    "\x01\x02\x1b[31mred\x1b[0m\x7f",
    "'" * 50,
    "x" * 5000,
]


def sh_printf(shell: str, quoted: str, env: dict[str, str] | None = None) -> bytes:
    """What ``printf %s QUOTED`` prints in ``shell``, checking QUOTED is exactly one word."""
    script = f"set -- {quoted}; printf '%s:' \"$#\"; printf %s {quoted}"
    proc = subprocess.run([shell, "-c", script], capture_output=True, env=env, timeout=10)
    assert proc.returncode == 0, proc.stderr
    count, _, printed = proc.stdout.partition(b":")
    assert count == b"1", f"{quoted!r} is {count!r} words"
    return printed


@pytest.fixture(autouse=True)
def _no_sentinel() -> Iterator[None]:
    sentinel = Path("/tmp/oxinfra-quoting-pwned")
    sentinel.unlink(missing_ok=True)
    yield
    assert not sentinel.exists(), "a quoted value ran a command"


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_quote_round_trips_nasty_values(shell: str, value: str) -> None:
    quoted = quote(value)
    assert sh_printf(shell, quoted) == value.encode()


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=TEXT, max_size=60))
def test_quote_round_trips_any_text_without_nul(value: str) -> None:
    quoted = quote(value)
    assert sh_printf("/bin/sh", quoted) == value.encode()


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.text(alphabet=TEXT, max_size=20), min_size=1, max_size=5))
def test_command_keeps_arguments_apart(args: list[str]) -> None:
    line = command("printf", "%s\\0", *args)
    proc = subprocess.run(["/bin/sh", "-c", line], capture_output=True, timeout=10)
    assert proc.stdout.split(b"\0")[:-1] == [a.encode() for a in args]


def test_safe_values_stay_bare_and_others_are_quoted() -> None:
    assert quote("/srv/app-1/file_2.txt") == "/srv/app-1/file_2.txt"
    assert quote(644) == "644"
    assert quote("") == "''"
    assert quote("a b") == "'a b'"
    assert quote("it's") == "'it'\\''s'"
    assert command("mkdir", "-p", "--", "/tmp/a b") == "mkdir -p -- '/tmp/a b'"


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "trailing\x00"])
def test_nul_cannot_be_quoted(value: str) -> None:
    with pytest.raises(QuotingError, match="NUL"):
        quote(value)
    with pytest.raises(QuotingError, match="NUL"):
        quote_interpolated(value)
    with pytest.raises(QuotingError):
        command("echo", value)
    assert issubclass(QuotingError, ValueError)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$OXV", "val ue"),
        ("${OXV}!", "val ue!"),
        ("pre-$OXV-post", "pre-val ue-post"),
        ("$UNSET_OXINFRA_VAR", ""),
        ("$(touch /tmp/oxinfra-quoting-pwned)", "$(touch /tmp/oxinfra-quoting-pwned)"),
        ("`touch /tmp/oxinfra-quoting-pwned`", "`touch /tmp/oxinfra-quoting-pwned`"),
        ("$((1+2))", "$((1+2))"),
        ("${OXV}${OXV}$(touch /tmp/oxinfra-quoting-pwned)", "val ueval ue$(touch /tmp/oxinfra-quoting-pwned)"),
        ("\\$(touch /tmp/oxinfra-quoting-pwned)", "\\$(touch /tmp/oxinfra-quoting-pwned)"),
        ('say "hi" \\ there', 'say "hi" \\ there'),
        ("it's; *", "it's; *"),
        ("multi\nline $OXV", "multi\nline val ue"),
        ("ünï $OXV 🦀", "ünï val ue 🦀"),
    ],
)
def test_quote_interpolated_expands_variables_only(shell: str, value: str, expected: str) -> None:
    env = {**os.environ, "OXV": "val ue"}
    env.pop("UNSET_OXINFRA_VAR", None)
    quoted = quote_interpolated(value)
    assert sh_printf(shell, quoted, env) == expected.encode()


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(alphabet=TEXT_NO_DOLLAR, max_size=40))
def test_quote_interpolated_is_literal_without_dollar(value: str) -> None:
    assert sh_printf("/bin/sh", quote_interpolated(value)) == value.encode()


# --------------------------------------------------------------------------- over SSH, end to end

# Path components (no "/", no NUL) and contents that a shell would love to interpret.
HOSTILE_NAMES = [
    "sp ace",
    "it's",
    'dq"uote',
    "$(touch INJ1)",
    "`touch INJ2`",
    "a; touch INJ3",
    "a && touch INJ4 | cat",
    "new\nline",
    "star*",
    "-leading",
    "--",
    "ünï cødé",
    "emoji 🦀🚀",
    "back\\slash",
    "$HOME",
    "tab\tand ~",
    "#hash",
]
SENTINEL = "/tmp/oxinfra-quoting-pwned"
HOSTILE_TEXT = (
    f"$(touch {SENTINEL}) `touch {SENTINEL}`; touch {SENTINEL}\n"
    "'single' \"double\" \\back\\slash $HOME ${HOME} * -n --\n"
    "ünï cødé 🦀\n"
)
HOSTILE_LINE = f"x='a' \"b\" $HOME \\ `id` $(touch {SENTINEL}) [y]* .^ {{1}} & | ? + end"


def _hostile_deploy(root: Path) -> str:
    return f"""
from oxinfra.operations import files, server
ROOT = {str(root)!r}
NAMES = {HOSTILE_NAMES!r}
TEXT = {HOSTILE_TEXT!r}
LINE = {HOSTILE_LINE!r}
for i, w in enumerate(NAMES):
    d = f"{{ROOT}}/{{w}}"
    files.directory(name=f"dir {{i}}", path=d, mode="750")
    files.file(name=f"file {{i}}", path=f"{{d}}/{{w}}.f", mode="640")
    files.put(name=f"put {{i}}", src="bin ' $(x).dat", dest=f"{{d}}/{{w}}.bin")
    files.template(name=f"template {{i}}", src="t.j2", dest=f"{{d}}/{{w}}.conf", value=TEXT, name_=w)
    files.line(name=f"line {{i}}", path=f"{{d}}/{{w}}.lines", line=LINE, escape_regex_characters=True)
    # a line is one line (a newline in it is refused): the name's lines joined by a space
    files.line(name=f"line 2 {{i}}", path=f"{{d}}/{{w}}.names", line="name=" + " ".join(w.splitlines()),
               escape_regex_characters=True)
    files.link(name=f"link {{i}}", path=f"{{d}}/{{w}}.ln", target=w + ".f")
    server.shell(name=f"shell {{i}}", commands=['printf "%s|%s" "$V" "$W" > "$D/$W.env"'],
                 _env={{"V": TEXT, "W": w, "D": d}})
"""


BINARY = bytes(range(256)) + b"\x00\x00" + "ünï\n".encode() + b"\xff\xfe\x00"


def test_hostile_values_land_literally(sshd_fleet: Any, tmp_path: Path, target: Path) -> None:
    (tmp_path / "bin ' $(x).dat").write_bytes(BINARY)
    (tmp_path / "t.j2").write_text("name={{ name_ }}\n{{ value }}")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(_hostile_deploy(target))
    inv = write_inventory(tmp_path, sshd_fleet, groups={"one": sshd_fleet.hosts[:1]})
    h = sshd_fleet.hosts[0]
    home = Path(pwd.getpwnam(sshd_fleet.user).pw_dir)
    home_before = set(os.listdir(home))

    run1 = run_deploy(inv, deploy)
    assert run1.code == 0, run1.describe()
    assert set(run1.statuses(h).values()) == {"changed"}, run1.statuses(h)
    # 136 operations, pipelined: one batch of facts, one script (no guard went stale)
    assert run1.host(h)["round_trips"] == 2

    expected: dict[str, str] = {}
    for w in HOSTILE_NAMES:
        expected |= {
            w: "dir",
            f"{w}/{w}.f": "file",
            f"{w}/{w}.bin": "file",
            f"{w}/{w}.conf": "file",
            f"{w}/{w}.lines": "file",
            f"{w}/{w}.names": "file",
            f"{w}/{w}.ln": f"link -> {w}.f",
            f"{w}/{w}.env": "file",
        }
    assert tree(target) == expected  # exactly these names: nothing split, globbed or injected
    for w in HOSTILE_NAMES:
        d = target / w
        assert mode(d) == 750 and mode(d / f"{w}.f") == 640
        assert (d / f"{w}.bin").read_bytes() == BINARY
        assert (d / f"{w}.conf").read_text() == f"name={w}\n{HOSTILE_TEXT}"
        assert (d / f"{w}.lines").read_text() == f"{HOSTILE_LINE}\n"
        assert (d / f"{w}.names").read_text() == "name=" + " ".join(w.splitlines()) + "\n"
        assert (d / f"{w}.env").read_text() == f"{HOSTILE_TEXT}|{w}"
    assert not Path(SENTINEL).exists()
    assert set(os.listdir(home)) == home_before, "something was created in the login user's home"

    run2 = run_deploy(inv, deploy)
    assert run2.code == 0, run2.describe()
    changed = {op for op, status in run2.statuses(h).items() if status != "unchanged"}
    assert changed == {f"shell {i}" for i in range(len(HOSTILE_NAMES))}
    assert tree(target) == expected
    assert not Path(SENTINEL).exists()


# --------------------------------------------------------------------------- combinators


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(TEXT.filter(lambda c: c != "/"), min_size=1, max_size=30).filter(lambda n: n not in (".", "..")),
    content=st.text(TEXT, max_size=60),
)
def test_combinators_write_values_literally(tmp_path: Path, name: str, content: str) -> None:
    """Commands made by the combinators with hostile values: the value lands literally and
    nothing else runs (no canary)."""
    from oxinfra.quoting import and_then, append_to, file_test, if_then, or_else, subshell, with_umask, write_to

    work = tmp_path / "w"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    path = str(work / name)
    script = and_then(
        if_then(file_test("-e", path), "false", write_to(command("printf", "%s", content), path)),
        append_to(command("printf", "%s", "|"), path),
        or_else("false", with_umask("077", write_to("true", path + ".empty"))),
        subshell(command("cd", "--", str(work)), append_to(command("printf", "%s", "!"), name)),
    )
    for shell in SHELLS:
        for leftover in list(work.iterdir()):
            leftover.unlink()
        subprocess.run([shell, "-c", script], check=True, cwd=tmp_path)
        assert sorted(p.name for p in work.iterdir()) == sorted([name, name + ".empty"])
        assert (work / name).read_bytes() == (content + "|!").encode("utf-8", "surrogateescape")
        assert (work / (name + ".empty")).stat().st_mode & 0o777 == 0o600
        assert not Path("/tmp/oxinfra-quoting-pwned").exists()


def test_special_builtins_are_never_redirected() -> None:
    from oxinfra.quoting import write_to

    with pytest.raises(ValueError, match="special builtin"):
        write_to(":", "/x")
    with pytest.raises(ValueError, match="special builtin"):
        write_to("exec 3", "/x")
    assert write_to("true", "/a b") == "true > '/a b'"


def test_a_failed_redirection_of_true_leaves_the_shell_running() -> None:
    """Why ``true >`` and never ``: >``: only the second makes the POSIX shell exit."""
    from oxinfra.quoting import write_to

    for shell in SHELLS:
        ok = subprocess.run(
            [shell, "-c", write_to("true", "/proc/nonexistent/x") + "; echo survived"], capture_output=True, text=True
        )
        assert "survived" in ok.stdout
    dash = subprocess.run(["/bin/sh", "-c", ": > /proc/nonexistent/x; echo survived"], capture_output=True, text=True)
    if os.path.realpath("/bin/sh").endswith("dash"):
        assert "survived" not in dash.stdout


def test_the_quoting_examples_run() -> None:
    """The examples in oxinfra.quoting's docstrings are what the functions return."""
    import doctest

    import oxinfra.quoting

    result = doctest.testmod(oxinfra.quoting, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 15


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("content", [b"", b"a", b"a\n", b"a\n\n", b"\n", b"no newline \xff", b"x\r"])
def test_output_test_ends_a_file_with_a_newline(tmp_path: Path, shell: str, content: str) -> None:
    """The command files.line runs before appending: a newline unless the file is empty or
    already ends in one (``[ -z "$(tail -c 1 < f)" ]``: the substitution drops a newline)."""
    from oxinfra.quoting import append_to, file_test, or_else, output_test, read_from

    for name in ("plain", "it's $(touch INJ) `touch INJ` *", "-n"):
        path = tmp_path / name
        path.write_bytes(content)
        script = or_else(
            file_test("!-s", str(path)),
            output_test("-z", read_from(command("tail", "-c", "1"), str(path))),
            append_to("echo", str(path)),
        )
        subprocess.run([shell, "-c", script], check=True, timeout=10, cwd=tmp_path)  # an injection lands here
        expected = content if not content or content.endswith(b"\n") else content + b"\n"
        assert path.read_bytes() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["plain", "it's $(touch INJ) `touch INJ` *", "-n"])


@pytest.mark.parametrize("shell", SHELLS)
def test_output_test_n_and_bad_flags(shell: str) -> None:
    from oxinfra.quoting import output_test

    assert subprocess.run([shell, "-c", output_test("-n", command("printf", "%s", "x y"))]).returncode == 0
    assert subprocess.run([shell, "-c", output_test("-n", "true")]).returncode == 1
    with pytest.raises(ValueError, match="string test flag"):
        output_test("-f", "true")


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("value", ["$OXV", "a $OXV b", "$(touch /tmp/oxinfra-quoting-pwned)", 'it\'s "q" `x` \\'])
def test_interpolated_values_expand_variables_only(shell: str, value: str) -> None:
    """An Interpolated value through command() and the combinators: variables expand, nothing runs."""
    from oxinfra.quoting import Interpolated, pipe

    env = {**os.environ, "OXV": "val ue"}
    line = pipe(command("printf", "%s", Interpolated(value)), command("od", "-An", "-c"))
    assert "$OXV" not in line or '"' in line
    out = subprocess.run(
        [shell, "-c", command("printf", "%s", Interpolated(value))], capture_output=True, env=env, timeout=10
    ).stdout
    assert out == value.replace("$OXV", "val ue").encode()
    assert subprocess.run([shell, "-c", line], capture_output=True, env=env, timeout=10).returncode == 0


@pytest.mark.parametrize("shell", SHELLS)
def test_pipe_and_group_in_a_real_shell(tmp_path: Path, shell: str) -> None:
    from oxinfra.quoting import group, pipe, write_to

    path = tmp_path / "a b's"
    script = write_to(
        group(command("printf", "%s\\n", "one two"), pipe(command("printf", "%s", "x;y"), "tr ';' '-'")), str(path)
    )
    subprocess.run([shell, "-c", script], check=True, timeout=10)
    assert path.read_text() == "one two\nx-y"


# --------------------------------------------------------------------------- interpolation (issue 8)

# Pieces a hostile value is made of: every form a shell may expand after "$", with operators
# that assign (=), end the shell (?), run commands ($(...), `...`), or never close (${).
INTERP_PIECES = [
    "$",
    "{",
    "}",
    "(",
    ")",
    "((",
    "OXV",
    "OXY",
    "_9",
    "?",
    "=",
    ":-",
    ":=",
    ":?",
    "+",
    "#",
    "%",
    "!",
    "@",
    "*",
    "1",
    "`",
    "\\",
    '"',
    "'",
    ";",
    " ",
    "\n",
    "touch OXCANARY",
    "exit 7",
    "x",
]
_VAR_REF = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")


def _expected_expansion(value: str, env: dict[str, str]) -> str:
    """What an interpolated value must read as: $NAME and ${NAME} expanded, all else literal."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _run_interpolated(shell: str, cwd: Path, value: str) -> subprocess.CompletedProcess[bytes]:
    """The value in a shell that goes on afterwards, as the host's persistent shell does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OX")}
    env["OXV"] = "val ue"
    script = f"printf '%s|' {quote_interpolated(value)}\nprintf 'ALIVE %s' \"${{OXY-unset}}:$OXV\"\n"
    return subprocess.run([shell, "-c", script], capture_output=True, env=env, timeout=10, cwd=cwd)


@pytest.mark.parametrize(
    "value",
    [
        "${OXY?gone}",
        "${OXY:?gone}",
        "${OXY=1}",
        "${OXY:=1}",
        "${OXY",
        "${OXV:-$(touch OXCANARY)}",
        "${#OXV}",
        "${OXV%e}",
    ],
)
def test_interpolated_operator_forms_are_refused(value: str) -> None:
    """Only $NAME and ${NAME} expand: ${X?e} would end the host's shell, ${X=1} assign, an
    unterminated ${X hang it; such a value is refused before it reaches a shell."""
    with pytest.raises(QuotingError, match=r"only \$NAME and \$\{NAME\}"):
        quote_interpolated(value)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(INTERP_PIECES), max_size=12).map("".join))
def test_interpolated_values_never_run_assign_or_exit(tmp_path: Path, value: str) -> None:
    """A real sh and bash: a value is either refused, or read with only $NAME / ${NAME}
    expanded -- nothing runs, no variable is set, the shell goes on, nothing hangs."""
    try:
        quote_interpolated(value)
    except QuotingError as exc:
        assert "${" in value, (value, exc)  # only operator forms of ${ are refused
        return
    for shell in SHELLS:
        out = _run_interpolated(shell, tmp_path, value)
        assert out.returncode == 0, (shell, value, out)
        assert out.stdout == (_expected_expansion(value, {"OXV": "val ue"}) + "|ALIVE unset:val ue").encode(), (
            shell,
            value,
            out,
        )
        assert not (tmp_path / "OXCANARY").exists(), (shell, value)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [("$1 $? $$ $# $@ $* $- $! $0", "$1 $? $$ $# $@ $* $- $! $0"), ("cost: 5$", "cost: 5$"), ("$ {OXV}", "$ {OXV}")],
)
def test_interpolated_special_parameters_are_literal(tmp_path: Path, shell: str, value: str, expected: str) -> None:
    """A "$" not followed by a name or {name} is a literal dollar sign."""
    out = _run_interpolated(shell, tmp_path, value)
    assert out.stdout == f"{expected}|ALIVE unset:val ue".encode(), out
