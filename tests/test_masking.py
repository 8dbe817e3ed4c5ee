"""What oxinfra prints never shows a secret: ``_sensitive=True`` operations show their name
and status only, and the text of host data secrets (secret-looking keys at any depth,
``Secret`` values) is ``***`` in commands, outputs, errors, ``--json`` and ``--report``, at
every ``-v``, in one process and across shard workers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from e2e_helpers import invoke

SECRET_VALUES = ["Data-pass-1111", "Nested-tok-2222", "Wrapped-3333", "Sens-arg-4444"]

INVENTORY = """
    from oxinfra.api import Secret

    hosts = (["@sim/m1", "@sim/m2"], {
        "db_password": "Data-pass-1111",
        "service": {"name": "app", "auth": {"token": "Nested-tok-2222"}},
        "wrapped": Secret("Wrapped-3333"),
    })
"""

DEPLOY = """
    from oxinfra import host
    from oxinfra.api import operation
    from oxinfra.operations import server

    @operation()
    def says(text):
        host.noop(f"nothing to do for {text}")
        return
        yield

    pw = host.data.db_password
    server.shell(name="uses data", commands=[f"echo {pw} {host.data.service['auth']['token']} {host.data.wrapped}"])
    says(name="noop with data", text=pw)
    server.shell(name="hidden", commands=["echo Sens-arg-4444"], _sensitive=True)
    says(name="hidden noop", text="Sens-arg-4444", _sensitive=True)
    server.shell(name="fails", commands=[f"echo out-{pw}; echo err-{host.data.wrapped} >&2; exit 3"],
                 _ignore_errors=True)
    server.shell(name="hidden fails", commands=["echo Sens-arg-4444; echo Sens-arg-4444 >&2; exit 4"],
                 _sensitive=True, _ignore_errors=True)
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    from oxinfra.testing import sim

    sim.reset()
    inventory = tmp_path / "inventory.py"
    inventory.write_text(textwrap.dedent(INVENTORY))
    deploy = tmp_path / "deploy.py"
    deploy.write_text(textwrap.dedent(DEPLOY))
    yield inventory, deploy
    sim.reset()


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for value in SECRET_VALUES:
            assert value not in text, (value, text)


@pytest.mark.parametrize("shards", ["1", "2"])
@pytest.mark.parametrize(
    "flags", [["-v"], ["-vv"], ["-vvv"], ["--dry", "-v"], ["--dry", "-vv"], ["--json"], ["--json", "--dry"]]
)
def test_nothing_shows_a_secret(files: tuple[Path, Path], tmp_path: Path, flags: list[str], shards: str) -> None:
    inventory, deploy = files
    report = tmp_path / "report.json"
    yes = [] if "--dry" in flags else ["-y"]
    out = invoke(
        *yes, *flags, "--shards", shards, "--report", str(report), inventory, deploy, json_events="--json" in flags
    )
    assert out.code == 0, out.describe()
    _assert_clean(out.stdout, out.stderr, report.read_text() if report.exists() else "")
    if "--json" in flags:
        ops = [e for e in out.events if e["event"] == "operation" and e["host"] == "@sim/m1"]
        by_name = {e["op"]: e for e in ops}
        assert by_name["noop with data"]["noop"] == "nothing to do for ***"
        assert by_name["hidden noop"]["noop"] == "***"
        assert by_name["hidden"]["status"] == "changed"
        if "--dry" not in flags:
            assert by_name["fails"]["stdout"] == "out-***\n" and by_name["fails"]["stderr"] == "err-***\n"
            hidden = by_name["hidden fails"]
            assert (hidden["status"], hidden["error"], hidden["stdout"], hidden["stderr"]) == (
                "failed",
                "exit code 4",
                "***",
                "***",
            )
    else:
        if "-vv" in flags or "-vvv" in flags:
            assert "$ echo *** *** ***" in out.stdout, out.stdout  # the command, shown masked
            assert "$ ***" in out.stdout  # the _sensitive one: nothing of it
        assert "hidden: " in out.stdout and "noop with data: " in out.stdout


def test_errors_never_show_a_secret(tmp_path: Path) -> None:
    """A deploy's error that holds a secret's text; an error of a _sensitive call's arguments."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text(textwrap.dedent(INVENTORY))
    for source, needle in [
        ("from oxinfra import host\nraise ValueError('bad ' + host.data.db_password)\n", "ValueError: bad ***"),
        (
            "from oxinfra.operations import files\nfiles.put(src='/nonexistent/Sens-arg-4444', dest='/x', _sensitive=True)\n",
            "files.put: OperationValueError (details hidden: _sensitive)",
        ),
    ]:
        deploy = tmp_path / "deploy.py"
        deploy.write_text(source)
        for flags in ([], ["--json"]):
            out = invoke("-y", *flags, inventory, deploy, json_events=False)
            assert out.code == 2 and needle in out.stderr, out.describe()
            _assert_clean(out.stdout, out.stderr)


def test_a_failing_fact_read_by_deploy_code_is_masked_in_the_report(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(textwrap.dedent(INVENTORY).replace('"@sim/m1", "@sim/m2"', '"@local"'))
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from oxinfra import host
        from oxinfra.facts.server import Command
        host.get_fact(Command, command=f"echo {host.data.db_password} >&2; exit 3")
    """)
    )
    report = tmp_path / "r.json"
    out = invoke("-y", "--report", str(report), inventory, deploy)
    assert out.code == 1, out.describe()
    assert "***" in out.host("@local")["error"]
    assert "***" in json.loads(report.read_text())["per_host"]["@local"]["error"]
    _assert_clean(out.stdout, out.stderr, report.read_text())


#: A secret with the characters that quoting changes: ``'`` (a shell writes it ``'\''``),
#: ``\`` and ``"`` (a repr escapes them), a newline-free generated password.
ESCAPED = "pw'it\\is\"Q9zx"


@pytest.mark.parametrize("flags", [["--json"], ["-vv"], ["-v"]])
def test_a_secret_spelled_quoted_or_escaped_is_masked(tmp_path: Path, flags: list[str]) -> None:
    """Found by a hostile review: the redactor matched only a secret's own text, so the
    shell-quoted command (``-vv``), a no-op reason naming the line with ``!r`` (``--json``,
    ``-v``) and a deploy error's repr showed it."""
    (tmp_path / "inventory.py").write_text(f"hosts = [('@local', {{'db_password': {ESCAPED!r}}})]\n")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(f"""
        from oxinfra import host
        from oxinfra.api import Secret
        from oxinfra.operations import files
        files.line(name="quoted", path={str(tmp_path / "f")!r}, line=Secret({ESCAPED!r}))
        files.line(name="by key", path={str(tmp_path / "g")!r}, line="password=" + host.data.db_password)
        """)
    )
    for _ in range(2):  # the second run: both lines found, the no-op reasons name them
        out = invoke("-y", *flags, tmp_path / "inventory.py", deploy, json_events=False)
        assert out.code == 0, out.describe()
        for spelling in (ESCAPED, ESCAPED.replace("'", "'\\''"), repr(ESCAPED)[1:-1], json.dumps(ESCAPED)[1:-1]):
            assert spelling not in out.stdout + out.stderr, (spelling, out.describe())
    broken = tmp_path / "broken.py"
    broken.write_text("from oxinfra import host\nint(host.data.db_password)\n")
    out = invoke("-y", *flags, tmp_path / "inventory.py", broken, json_events=False)
    assert out.code != 0
    for spelling in (ESCAPED, repr(ESCAPED)[1:-1], json.dumps(ESCAPED)[1:-1]):
        assert spelling not in out.stdout + out.stderr, (spelling, out.describe())


def test_diff_of_a_file_whose_new_content_holds_a_secret_shows_neither_password(tmp_path: Path) -> None:
    """``--diff`` of a template that renders a rotated password: the new one was masked, but
    the line it replaced showed the old one, read from a mode-600 file on the host."""
    conf = tmp_path / "app.conf"
    conf.write_text("user=app\npassword=OldRotatedPw77\n")
    conf.chmod(0o600)
    (tmp_path / "app.j2").write_text("user=app\npassword={{ host.data.db_password }}\n")
    (tmp_path / "inventory.py").write_text("hosts = [('@local', {'db_password': 'NewPassw0rd!'})]\n")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import files\n"
        f"files.template(name='conf', src={str(tmp_path / 'app.j2')!r}, dest={str(conf)!r})\n"
    )
    out = invoke("--dry", "--diff", tmp_path / "inventory.py", deploy)
    assert out.code == 0, out.describe()
    assert "OldRotatedPw77" not in out.stdout + out.stderr
    assert "NewPassw0rd!" not in out.stdout + out.stderr
    diff = out.op("@local", "conf")["diff"]
    assert "-[a line replaced by one holding a secret: not shown]\n+password=***\n" in diff
    assert " user=app\n" in diff  # the rest of the diff is shown
