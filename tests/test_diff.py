"""``--diff``: what operations change (dry: would change) in files, shown as unified diffs.

Real runs: ``@local`` on fresh directories under pytest's tmp_path (``--no-host-lock``),
simulated hosts (``@sim/NAME``) for a fleet, the loopback sshd fleet for real hosts that share
one change, a pseudo-terminal for colours. What is checked: the exact diff of each file
operation, new files, no change, binary and large files, what cannot be predicted, secrets
(masked, or no content at all), colours only on a terminal, one diff for many hosts, and that
--diff costs no round trip and changes nothing without it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import inventory, run_cli, run_deploy, target, write_deploy
from test_terminal import COLOR, run_pty, screen

__all__ = ["inventory", "target"]  # fixtures used here

LOCAL = ("@local", "--no-host-lock")


def diffs(out: Any, host: str = "@local") -> dict[str, str | None]:
    """Operation name -> its ``diff`` field (None: none) on ``host``."""
    return {e["op"]: e.get("diff") for e in out.events if e["event"] == "operation" and e["host"] == host}


def deploy_of(tmp_path: Path, source: str) -> Path:
    return write_deploy(tmp_path, source, root=tmp_path)


# -- what each operation shows ------------------------------------------------------------


def setup_files(root: Path) -> None:
    (root / "conf").write_text("a\nb\nc\nd\ne\nf\ng\n")
    (root / "same").write_text("same\n")
    (root / "env").write_text("MODE=staging\nUSER=app\n")
    (root / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "tpl.j2").write_text("port={{ port }}\n")
    (root / "src").mkdir()
    (root / "src" / "kept.txt").write_text("old\n")
    (root / "src" / "added.txt").write_text("added\n")
    (root / "dest").mkdir()
    (root / "dest" / "kept.txt").write_text("older\n")


FILE_OPS = """
import io
from oxinfra.operations import files
files.put(name="put", src=io.BytesIO(b"a\\nb\\nC\\nd\\ne\\nf\\ng\\n"), dest="@ROOT@/conf")
files.put(name="same", src=io.BytesIO(b"same\\n"), dest="@ROOT@/same")
files.template(name="template", src="@ROOT@/tpl.j2", dest="@ROOT@/new.conf", port=8080)
files.line(name="line", path="@ROOT@/env", line="WORKERS=4")
files.replace(name="replace", path="@ROOT@/env", text="MODE=staging", replace="MODE=production")
files.block(name="block", path="@ROOT@/hosts", content="10.0.0.1 mars", marker="# {mark} MARS")
files.sync(name="sync", src="@ROOT@/src", dest="@ROOT@/dest")
files.file(name="file", path="@ROOT@/empty")
"""


def expected(root: Path) -> dict[str, str | None]:
    r = str(root)
    return {
        "put": f"--- a{r}/conf\n+++ b{r}/conf\n@@ -1,6 +1,6 @@\n a\n b\n-c\n+C\n d\n e\n f\n",
        "same": None,
        "template": f"# {r}/new.conf: new file\n--- /dev/null\n+++ b{r}/new.conf\n@@ -0,0 +1 @@\n+port=8080\n",
        "line": f"--- a{r}/env\n+++ b{r}/env\n@@ -1,2 +1,3 @@\n MODE=staging\n USER=app\n+WORKERS=4\n",
        # planned from what files.line writes, not from the file before the run
        "replace": f"--- a{r}/env\n+++ b{r}/env\n@@ -1,3 +1,3 @@\n-MODE=staging\n+MODE=production\n"
        " USER=app\n WORKERS=4\n",
        "block": f"--- a{r}/hosts\n+++ b{r}/hosts\n@@ -1 +1,4 @@\n 127.0.0.1 localhost\n+# BEGIN MARS\n"
        "+10.0.0.1 mars\n+# END MARS\n",
        "sync": f"# {r}/dest/added.txt: new file\n--- /dev/null\n+++ b{r}/dest/added.txt\n@@ -0,0 +1 @@\n+added\n"
        f"--- a{r}/dest/kept.txt\n+++ b{r}/dest/kept.txt\n@@ -1 +1 @@\n-older\n+old\n",
        "file": f"# {r}/empty: new file (empty)\n",
    }


def test_dry_diff_of_every_file_operation_changes_nothing(tmp_path: Path) -> None:
    setup_files(tmp_path)
    deploy = deploy_of(tmp_path, FILE_OPS)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    out = run_deploy(*LOCAL, deploy, "--diff", dry=True)
    assert out.code == 0, out.describe()
    assert diffs(out) == expected(tmp_path), out.describe()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # dry: nothing written
    plain = run_deploy(*LOCAL, deploy, dry=True)
    assert set(diffs(plain).values()) == {None}, plain.describe()  # no --diff: no diff field


def test_execution_diff_shows_what_changed_then_nothing(tmp_path: Path) -> None:
    setup_files(tmp_path)
    deploy = deploy_of(tmp_path, FILE_OPS)
    out = run_deploy(*LOCAL, deploy, "--diff")
    assert out.code == 0, out.describe()
    assert diffs(out) == expected(tmp_path), out.describe()
    assert (tmp_path / "env").read_text() == "MODE=production\nUSER=app\nWORKERS=4\n"
    assert (tmp_path / "dest" / "kept.txt").read_text() == "old\n"
    again = run_deploy(*LOCAL, deploy, "--diff")
    assert set(diffs(again).values()) == {None}, again.describe()  # nothing changes: no diff


def test_binary_and_large_files_are_summarised(tmp_path: Path) -> None:
    old_bin, new_bin = b"\x00\x01\x02", b"\x89PNG\x00"
    (tmp_path / "blob").write_bytes(old_bin)
    (tmp_path / "big").write_bytes(b"x\n" * (1 << 20))  # 2 MiB
    (tmp_path / "latin").write_bytes(b"caf\xe9\n")  # not UTF-8
    deploy = deploy_of(
        tmp_path,
        f"""
        import io
        from oxinfra.operations import files
        files.put(name="blob", src=io.BytesIO({new_bin!r}), dest="@ROOT@/blob")
        files.put(name="big", src=io.BytesIO(b"y\\n" * 600000), dest="@ROOT@/big")
        files.put(name="new big", src=io.BytesIO(b"z" * 1048577), dest="@ROOT@/new-big")
        files.put(name="latin", src=io.BytesIO(b"cafe\\n"), dest="@ROOT@/latin")
        files.line(name="line", path="@ROOT@/blob", line="more")
        files.line(name="big line", path="@ROOT@/big", line="more")
        """,
    )
    out = run_deploy(*LOCAL, deploy, "--diff", dry=True)
    assert out.code == 0, out.describe()
    got = diffs(out)
    old_sha, new_sha = (hashlib.sha256(b).hexdigest()[:12] for b in (old_bin, new_bin))
    r = str(tmp_path)
    assert got["blob"] == f"# {r}/blob: binary file, 3 -> 5 bytes, sha256 {old_sha} -> {new_sha}\n"
    assert got["big"] == f"# {r}/big: large file, more than 1,048,576 -> 1,200,000 bytes: not diffed\n"
    assert got["new big"] == f"# {r}/new-big: new large file, 1,048,577 bytes: not diffed\n"
    latin = hashlib.sha256(b"caf\xe9\n").hexdigest()[:12]
    assert got["latin"] == (
        f"# {r}/latin: binary file, 5 -> 5 bytes, sha256 {latin} -> {hashlib.sha256(b'cafe' + bytes([10])).hexdigest()[:12]}\n"
    )
    # what files.put writes there next is known: the line's change is summarised from it
    assert got["line"] == f"# {r}/blob: content change not predicted: binary file\n"
    assert got["big line"] == f"# {r}/big: large file, more than 1,048,576 bytes: not diffed\n"


def test_what_cannot_be_predicted_is_said_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "env").write_text("MODE=staging\nmode=x\n")
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    deploy = deploy_of(
        tmp_path,
        """
        from oxinfra.operations import files, server
        files.replace(name="regex", path="@ROOT@/env", text="M[O]DE=.*", replace="MODE=prod")
        files.line(name="flags", path="@ROOT@/env", line="^mode=", replace="mode=y", flags=["I"])
        files.block(name="awk", path="@ROOT@/hosts", content="x", line="local[a-z]+", after=True)
        files.line(name="vars", path="@ROOT@/hosts", line="home=$HOME", interpolate_variables=True)
        """,
    )
    out = run_deploy(*LOCAL, deploy, "--diff", dry=True)
    assert out.code == 0, out.describe()
    r = str(tmp_path)
    assert diffs(out) == {
        "regex": f"# {r}/env: content change not predicted: sed expression\n",
        "flags": f"# {r}/env: content before not known (an earlier operation changes it): not diffed\n",
        "awk": f"# {r}/hosts: content change not predicted: awk regular expression\n",
        "vars": f"# {r}/hosts: content before not known (an earlier operation changes it): not diffed\n",
    }
    alone = deploy_of(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="flags", path="@ROOT@/env", line="^mode=", replace="mode=y", flags=["I"])
        files.line(name="vars", path="@ROOT@/hosts", line="home=$HOME", interpolate_variables=True)
        """,
    )
    out = run_deploy(*LOCAL, alone, "--diff", dry=True)
    assert diffs(out) == {
        "flags": f"# {r}/env: content change not predicted: sed flags\n",
        "vars": f"# {r}/hosts: content change not predicted: shell variables\n",
    }, out.describe()


def test_mode_only_change_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x\n")
    (tmp_path / "f").chmod(0o644)
    deploy = deploy_of(
        tmp_path,
        """
        import io
        from oxinfra.operations import files
        files.put(name="mode", src=io.BytesIO(b"x\\n"), dest="@ROOT@/f", mode="600")
        """,
    )
    out = run_deploy(*LOCAL, deploy, "--diff", dry=True)
    assert diffs(out) == {"mode": f"# {tmp_path}/f: mode 644 -> 600\n"}, out.describe()


# -- secrets --------------------------------------------------------------------------------

SECRET = "hunter2-inventory-secret"
ARG_SECRET = "s3cr3t-passed-as-argument"


def test_secrets_are_masked_and_sensitive_contents_never_shown(tmp_path: Path) -> None:
    """Hostile: a secret from the inventory written by a template (masked wherever it shows),
    a Secret argument a template transforms (reversed, upper-cased: text masking cannot see
    those, so the operation shows no content at all), and _sensitive uploads."""
    (tmp_path / "app.conf").write_text("user=app\npassword=old\n")
    (tmp_path / "db.j2").write_text("user=app\npassword={{ host.data.db_password }}\n")
    (tmp_path / "pw.j2").write_text("{{ password | reverse }}\n{{ password | upper }}\n")
    (tmp_path / "inventory.py").write_text(f"hosts = [('@local', {{'db_password': {SECRET!r}}})]\n")
    deploy = deploy_of(
        tmp_path,
        f"""
        import io
        from oxinfra.api import Secret
        from oxinfra.operations import files
        files.template(name="db", src="@ROOT@/db.j2", dest="@ROOT@/app.conf")
        files.template(name="pw", src="@ROOT@/pw.j2", dest="@ROOT@/pw", password=Secret({ARG_SECRET!r}))
        files.put(name="key", src=io.BytesIO(b"-----PRIVATE KEY-----\\nabcdef\\n"), dest="@ROOT@/key",
                  _sensitive=True)
        files.put(name="key again", src=io.BytesIO(b"other\\n"), dest="@ROOT@/app.conf", _sensitive=True)
        files.put(name="mention", src=io.BytesIO(b"token={ARG_SECRET}\\n"), dest="@ROOT@/mention")
        """,
    )
    forbidden = [SECRET, ARG_SECRET, ARG_SECRET[::-1], ARG_SECRET.upper(), "PRIVATE KEY", "abcdef"]
    report = tmp_path / "report.json"
    out = run_cli(
        "--json",
        "--dry",
        "--diff",
        "--no-host-lock",
        "--report",
        report,
        tmp_path / "inventory.py",
        deploy,
        cwd=tmp_path,
    )
    human = run_cli("--dry", "--diff", "--no-host-lock", "-vvv", tmp_path / "inventory.py", deploy, cwd=tmp_path)
    assert out.code == 0 and human.code == 0, out.describe() + human.describe()
    r = str(tmp_path)
    got = diffs(out)
    assert (
        got["db"]
        == f"--- a{r}/app.conf\n+++ b{r}/app.conf\n@@ -1,2 +1,2 @@\n user=app\n"
        + "-[a line replaced by one holding a secret: not shown]\n+password=***\n"
    )  # the line the secret replaces: most often the secret before it (rotated)
    assert got["pw"] == f"# {r}/pw: new file, content not shown (its arguments hold a secret)\n"
    assert got["key"] == f"# {r}/key: new file, content not shown (_sensitive)\n"
    assert got["key again"] == f"# {r}/app.conf: content changed, not shown (_sensitive)\n"
    # the text of a Secret another operation was given: masked where this one shows it
    assert got["mention"] == f"# {r}/mention: new file\n--- /dev/null\n+++ b{r}/mention\n@@ -0,0 +1 @@\n+token=***\n"
    everything = out.stdout + out.stderr + human.stdout + human.stderr + report.read_text()
    for text in forbidden:
        assert text not in everything, text
    assert "+password=***" in human.stdout


# -- the terminal ---------------------------------------------------------------------------

SMALL = """
import io
from oxinfra.operations import files
files.put(name="conf", src=io.BytesIO(b"new\\n"), dest="@ROOT@/conf")
"""


def test_no_escape_sequence_when_piped(tmp_path: Path) -> None:
    (tmp_path / "conf").write_text("old \x1b[2J\n")  # a file holding an escape sequence
    deploy = deploy_of(tmp_path, SMALL)
    out = run_cli("--dry", "--diff", *LOCAL, deploy, cwd=tmp_path, env={"TERM": "xterm-256color"})
    assert out.code == 0, out.describe()
    assert "\x1b" not in out.stdout + out.stderr, out.describe()
    lines = out.stdout.splitlines()
    at = lines.index("--> File changes (dry run)")
    assert lines[at + 1 : at + 7] == [
        "[@local] conf (deploy.py:4)",
        f"    --- a{tmp_path}/conf",
        f"    +++ b{tmp_path}/conf",
        "    @@ -1 +1 @@",
        "    -old \\x1b[2J",
        "    +new",
    ], out.stdout


@pytest.mark.parametrize(("env", "colored"), [({}, True), ({"NO_COLOR": "1"}, False)])
def test_colours_on_a_terminal(tmp_path: Path, env: dict[str, str], colored: bool) -> None:
    (tmp_path / "conf").write_text("old\n")
    code, raw = run_pty("--dry", "--diff", *LOCAL, deploy_of(tmp_path, SMALL), cwd=tmp_path, env=env)
    assert code == 0, raw
    assert ("\x1b[32m+new" in raw and "\x1b[31m-old" in raw and "\x1b[36m@@ -1 +1 @@" in raw) is colored, raw
    assert bool(COLOR.search(raw)) is colored
    assert "    +new" in screen(raw)


def test_the_preview_before_a_confirmation_shows_the_diff_once(tmp_path: Path) -> None:
    (tmp_path / "conf").write_text("old\n")
    code, raw = run_pty("--diff", *LOCAL, deploy_of(tmp_path, SMALL), cwd=tmp_path, answer="y\n")
    assert code == 0, raw
    lines = screen(raw)
    assert lines.count("    +new") == 1, raw
    assert "--> File changes: as shown before the confirmation (1)" in lines, raw
    assert (tmp_path / "conf").read_text() == "new\n"


# -- fleets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shards", [1, 2])
def test_one_diff_for_many_hosts_with_the_same_change(tmp_path: Path, shards: int) -> None:
    (tmp_path / "inventory.py").write_text("hosts = [f'@sim/web{i:02d}' for i in range(1, 13)] + ['@sim/db1']\n")
    deploy = write_deploy(
        tmp_path,
        """
        import io
        from oxinfra import host
        from oxinfra.operations import files
        port = 5432 if host.name.startswith("@sim/db") else 80
        files.put(name="conf", src=io.BytesIO(f"port={port}\\n".encode()), dest="/srv/app.conf")
        """,
    )
    out = run_cli("--dry", "--diff", "--shards", shards, tmp_path / "inventory.py", deploy, cwd=tmp_path)
    assert out.code == 0, out.describe()
    text = out.stdout
    assert text.count("+port=80") == 1 and text.count("+port=5432") == 1, text
    assert "[@sim/web[01:12]] (12 hosts) conf (deploy.py:6)" in text.splitlines(), text
    assert "[@sim/db1] conf (deploy.py:6)" in text.splitlines(), text


def test_real_hosts_sharing_a_change_print_it_once(tmp_path: Path, target: Path, inventory: Path) -> None:
    conf = target / "shared.conf"
    conf.write_text("listen 80\nworkers 2\n")
    conf.chmod(0o644)
    deploy = write_deploy(
        tmp_path,
        """
        import io
        from oxinfra.operations import files
        files.put(name="conf", src=io.BytesIO(b"listen 80\\nworkers 4\\n"), dest="@ROOT@/shared.conf")
        """,
        root=target,
    )
    out = run_cli("--dry", "--diff", inventory, deploy, cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert out.stdout.count("+workers 4") == 1 and out.stdout.count("-workers 2") == 1, out.stdout
    assert re.search(r"^\[.+\] \(3 hosts\) conf \(deploy\.py:4\)$", out.stdout, re.M), out.stdout


# -- costs ----------------------------------------------------------------------------------

COSTS = """
import io
from oxinfra.operations import files, server
files.put(name="put", src=io.BytesIO(b"a\\nB\\n"), dest="@ROOT@/conf")
server.shell(name="shell", commands=["true"])
files.line(name="line", path="@ROOT@/conf", line="c")
files.replace(name="replace", path="@ROOT@/conf", text="B", replace="b")
files.block(name="block", path="@ROOT@/conf", content="d")
files.template(name="template", src="@ROOT@/t.j2", dest="@ROOT@/t", x=1)
"""


@pytest.mark.parametrize("dry", [True, False])
def test_diff_costs_no_round_trip(tmp_path: Path, dry: bool) -> None:
    trips = {}
    for flag in ("", "--diff"):
        root = tmp_path / (flag or "plain")
        root.mkdir()
        (root / "conf").write_text("a\nb\n")
        (root / "t.j2").write_text("x={{ x }}\n")
        deploy = write_deploy(root, COSTS, root=root)
        report = root / "report.json"
        out = run_deploy(*LOCAL, deploy, "--report", report, *([flag] if flag else []), dry=dry)
        assert out.code == 0, out.describe()
        trips[flag] = json.loads(report.read_text())["per_host"]["@local"]["round_trips"]
        if not dry:
            assert (root / "conf").read_text() == "a\nb\nc\n# BEGIN PYINFRA BLOCK\nd\n# END PYINFRA BLOCK\n"
    assert trips[""] == trips["--diff"], trips


def test_without_diff_no_fact_is_added_and_with_it_one_batch_still() -> None:
    from oxinfra.api.context import scope
    from oxinfra.operations import files

    cases = [
        (files.put, {"src": __file__, "dest": "/etc/x"}),
        (files.line, {"path": "/etc/x", "line": "a=1"}),
        (files.replace, {"path": "/etc/x", "text": "a", "replace": "b"}),
        (files.block, {"path": "/etc/x", "content": "a"}),
    ]

    for op, args in cases:
        plain = _batches(op, args)
        with scope(diff=True):
            shown = _batches(op, args)
        assert "files.DiffContent" not in plain[0], (op, plain)
        assert len(shown) == 1 and shown[0] == [*plain[0], "files.DiffContent"], (op, shown)


def _batches(op: Any, args: dict[str, Any]) -> list[list[str]]:
    """The facts of the operation's first batch (discovery), by class name."""
    from oxinfra.api.context import scope
    from oxinfra.api.effects import PlanContext, plan_commands
    from oxinfra.api.facts import FactMissing
    from oxinfra.inventory.host import Host

    def no_facts(host: Any, request: Any) -> Any:
        raise FactMissing(request)

    ctx = PlanContext()
    with scope(host=Host("h", {}), facts=no_facts, plan=ctx):
        try:
            plan_commands(ctx, op._inner, (), args)
        except FactMissing as exc:
            return [[r.cls.name for r in exc.requests]]
    return [[]]
