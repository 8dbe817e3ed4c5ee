"""pyinfra 3's deploy API (issue 10): ``from oxinfra import config, host, inventory, local,
logger, state``, ``oxinfra.context.host``, ``ShortFactBase``, ``StringCommand``,
``any_changed``, and operation results read by deploy code. Every test runs a deploy through
the CLI against a real host (``@local``: this machine, the tests run as root; the loopback
sshd fleet where groups matter) and checks what it did on disk."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, run_deploy, write_deploy

__all__ = ["inventory", "target"]  # fixtures used here
from e2e_helpers import inventory, target  # noqa: E402,F401

IS_ROOT = os.geteuid() == 0
HAS_SUDO = shutil.which("sudo") is not None
USER = "oxinfra-test"
needs_root_sudo = pytest.mark.skipif(
    not (IS_ROOT and HAS_SUDO) or not any(p.pw_name == USER for p in pwd.getpwall()),
    reason=f"needs root, sudo and the user {USER}",
)


def _owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


@needs_root_sudo
def test_config_sets_the_defaults_of_later_operations_until_the_deploy_file_ends(tmp_path: Path, target: Path) -> None:
    first = write_deploy(
        tmp_path,
        f"""
        from oxinfra import config, host
        from oxinfra.facts.server import User
        from oxinfra.operations import files, server

        files.line(name="before", path="@ROOT@/before", line="x")
        config.SUDO = True
        config.SUDO_USER = {USER!r}
        files.line(name="after", path="@ROOT@/after", line="x")
        server.shell(name="own", commands=["id -un > @ROOT@/own"], _sudo_user="root")
        # facts deploy code reads go through the config too
        files.line(name="fact", path="@ROOT@/fact", line=host.get_fact(User))
        assert config.SUDO is True and config.SUDO_USER == {USER!r}
    """,
        target,
        name="first.py",
    )
    second = write_deploy(
        tmp_path,
        """
        from oxinfra import config
        from oxinfra.operations import files
        assert config.SUDO is False, "a deploy file starts from the run's config"
        files.line(name="second", path="@ROOT@/second", line="x")
    """,
        target,
        name="second.py",
    )
    out = run_deploy("@local", first, second, "--no-host-lock")
    assert out.code == 0, out.describe()
    assert _owner(target / "before") == "root"
    assert _owner(target / "after") == USER
    assert (target / "own").read_text() == "root\n"  # the operation's own argument wins
    assert (target / "fact").read_text() == f"{USER}\n"
    assert _owner(target / "second") == "root"


@needs_root_sudo
def test_config_sudo_false_drops_the_runs_sudo_user(tmp_path: Path, target: Path) -> None:
    """``--sudo-user`` alone means sudo; a deploy's ``config.SUDO = False`` turns sudo off,
    as ``_sudo=False`` on a call does: the run's ``_sudo_user`` goes with it (it did not: the
    operation still ran as that user)."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import config
        from oxinfra.operations import files
        files.line(name="before", path="@ROOT@/before", line="x")
        config.SUDO = False
        files.line(name="after", path="@ROOT@/after", line="x")
    """,
        target,
    )
    out = run_deploy("@local", deploy, "--no-host-lock", "--sudo-user", USER)
    assert out.code == 0, out.describe()
    assert _owner(target / "before") == USER
    assert _owner(target / "after") == "root"


@needs_root_sudo
def test_config_py_in_the_working_directory_sets_run_defaults(tmp_path: Path, target: Path) -> None:
    (tmp_path / "config.py").write_text(
        f"from oxinfra import config\nconfig.SUDO_USER = {USER!r}\nconfig.PARALLEL = 1\n"
    )
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import config
        from oxinfra.operations import server
        assert config.SUDO_USER == {USER!r}, config.SUDO_USER
        server.shell(name="who", commands=["id -un > @ROOT@/who"])
    """,
        target,
    )
    out = run_cli("--json", "-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert (target / "who").read_text() == f"{USER}\n"
    # the command line wins over config.py
    out = run_cli("--json", "-y", "--no-host-lock", "--sudo-user", "root", "@local", deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()  # the deploy's own assert fails: config shows the command line
    assert "deploy.py:4: AssertionError: root" in out.stderr, out.describe()


def test_a_bad_config_value_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text("from oxinfra import config\nconfig.SUDO = 'yes'\n")
    deploy = write_deploy(tmp_path, "from oxinfra.operations import server\n")
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert "config.py" in out.stderr and "_sudo must be True or False" in out.stderr, out.describe()
    assert_no_traceback(out)
    deploy = write_deploy(
        tmp_path, "from oxinfra import config\nfrom oxinfra.operations import server\nconfig.RETRY = -1\n", name="d2.py"
    )
    (tmp_path / "config.py").unlink()
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert "d2.py:3" in out.stderr and "_retries" in out.stderr, out.describe()
    assert_no_traceback(out)


def test_local_include_finds_files_like_pyinfra_passes_data_and_restores_config(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    write_deploy(
        tmp_path / "tasks",
        """
        from oxinfra import config, host, local
        from oxinfra.operations import files
        config.IGNORE_ERRORS = True
        files.line(name="inc " + host.data.what, path="@ROOT@/inc-" + host.data.what, line=host.data.what)
        local.include("./nested.py")
    """,
        tmp_path,
        name="inc.py",
    )
    write_deploy(
        tmp_path / "tasks",
        """
        from oxinfra.operations import files
        files.line(name="nested", path="@ROOT@/nested", line="n")
    """,
        tmp_path,
        name="nested.py",
    )
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import config, local
        from oxinfra.operations import server
        for what in ["a", "b"]:
            local.include("tasks/inc.py", data={"what": what})
        assert config.IGNORE_ERRORS is False
        server.shell(name="fails", commands=["false"])
    """,
        tmp_path,
    )
    # from another working directory: found beside the including file
    out = run_cli("--json", "-y", "--no-host-lock", "@local", deploy, cwd="/")
    assert out.code == 1, out.describe()  # the include's config did not reach "fails"
    assert (tmp_path / "inc-a").read_text() == "a\n" and (tmp_path / "inc-b").read_text() == "b\n"
    assert (tmp_path / "nested").read_text() == "n\n"
    ops = [(e["op"], e["status"]) for e in out.events if e["event"] == "operation"]
    assert ops == [
        ("inc a", "changed"),
        ("nested", "changed"),
        ("inc b", "changed"),
        ("nested", "unchanged"),  # included twice: two operations, the second finds it done
        ("fails", "failed"),
    ]


def test_local_include_of_a_missing_file_and_local_shell(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import local
        from oxinfra.operations import files
        out = local.shell(["echo one", "printf 'two\\nthree\\n'"], splitlines=True)
        files.line(name="l", path="@ROOT@/out", line=",".join(out))
        local.include("nope.py")
    """,
        tmp_path,
    )
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2 and "local.include: no file" in out.stderr and "nope.py" in out.stderr, out.describe()
    assert_no_traceback(out)
    deploy.write_text(deploy.read_text().replace('local.include("nope.py")', 'local.shell("echo bad >&2; exit 3")'))
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2 and "local command failed (exit 3)" in out.stderr and "bad" in out.stderr, out.describe()
    deploy.write_text(deploy.read_text().replace('local.shell("echo bad >&2; exit 3")', ""))
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    assert (tmp_path / "out").read_text() == "one,two,three\n"


def test_inventory_state_and_host_helpers_over_ssh(tmp_path: Path, target: Path, inventory: Path) -> None:
    inventory.write_text(
        inventory.read_text() + "\nweb[0][0]\n" if False else inventory.read_text()
    )  # groups: web = 2 hosts, db = 1 host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host, inventory, logger, state
        from oxinfra import context
        from oxinfra.operations import files

        db = inventory.get_group("db")[0]
        assert inventory.get_host(db.name) is db
        assert inventory.get_host("nope", None) is None
        assert len(inventory) == 3 and len(inventory.get_hosts()) == 3
        assert state.is_executing is False
        assert context.host.name == host.name
        logger.info("deploy for %s", host.name)
        for item in host.loop(["x", "y"]):
            files.line(name="loop", path=f"@ROOT@/{host.name}-loop", line=item)
        with state.preserve_loop_order(["p", "q"]) as items:
            for item in items():
                files.line(name="ordered", path=f"@ROOT@/{host.name}-loop", line=item)
        with host.when(lambda: host.name in [h.name for h in inventory.get_group("web")]):
            files.line(name="web only", path=f"@ROOT@/{host.name}-web", line=db.name)
            with host.when(lambda: False):
                files.line(name="never", path=f"@ROOT@/{host.name}-never", line="x")
        with host.arguments(_ignore_errors=True):
            files.line(
                name="own data",
                path=f"@ROOT@/{host.name}-data",
                line=repr(sorted(host.host_data)),
                escape_regex_characters=True,  # "[]" is no valid regex
            )
    """,
        target,
    )
    out = run_deploy(inventory, deploy, "--limit", "web")  # db is not run, and still found
    assert out.code == 0, out.describe()
    names = sorted(out.summary["hosts"])
    assert len(names) == 2
    for name in names:
        assert (target / f"{name}-loop").read_text() == "x\ny\np\nq\n"
        assert (target / f"{name}-web").read_text().strip() not in names  # the db host
        assert not (target / f"{name}-never").exists()
        assert (target / f"{name}-data").read_text() == "[]\n"  # all its data comes from its group


def test_host_loop_keys_calls_by_iteration_so_hosts_that_skip_an_inner_loop_agree_on_order(
    tmp_path: Path, target: Path, inventory: Path
) -> None:
    """pyinfra's order for nested ``host.loop``: the db host runs the inner loop only in
    iteration 2, the web hosts in both. Keyed by how often a line was reached, the db host's
    first inner call would be a web host's iteration-1 call (an order conflict, the error
    before the fix); keyed by loop position, every host agrees and each file is in order."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files

        path = f"@ROOT@/{host.name}-order"
        for item in host.loop([1, 2]):
            files.line(name="outer", path=path, line=f"outer {item}")
            if "web" in host.groups or item == 2:
                for inner in host.loop(["a", "b"]):
                    files.line(name="inner", path=path, line=f"inner {item}{inner}")
        files.line(name="after", path=path, line="after")
    """,
        target,
    )
    out = run_deploy(inventory, deploy)
    assert out.code == 0, out.describe()
    names = sorted(out.summary["hosts"])
    assert len(names) == 3
    web = ["outer 1", "inner 1a", "inner 1b", "outer 2", "inner 2a", "inner 2b", "after"]
    db = ["outer 1", "outer 2", "inner 2a", "inner 2b", "after"]
    contents = sorted((target / f"{name}-order").read_text().splitlines() for name in names)
    assert contents == sorted([web, web, db])
    # the same deploy with a plain for loop is keyed by reach count: still a clear conflict
    deploy.write_text(deploy.read_text().replace("host.loop(", "iter("))
    out = run_deploy(inventory, deploy)
    assert out.code == 2 and "operation order conflict" in out.stderr, out.describe()
    assert_no_traceback(out)


def test_unknown_group_is_one_line_naming_the_groups(tmp_path: Path) -> None:
    deploy = write_deploy(tmp_path, "from oxinfra import inventory\ninventory.get_group('nope')\n")
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert "deploy.py:2" in out.stderr and "no group 'nope'" in out.stderr, out.describe()
    assert_no_traceback(out)


def test_short_facts_and_string_commands_in_a_custom_operation(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.api import QuoteString, ShortFactBase, StringCommand, operation
        from oxinfra.facts.server import User

        class Shout(ShortFactBase):
            fact = User

            def process_data(self, data):
                return data.upper()

        @operation()
        def note(path, text):
            yield StringCommand("printf", "'%s\\\\n'", QuoteString(text), ">", QuoteString(path))

        note(name="note", path="@ROOT@/it's here", text=host.get_fact(Shout) + " $HOME `x`")
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    user = pwd.getpwuid(os.getuid()).pw_name
    assert (tmp_path / "it's here").read_text() == f"{user.upper()} $HOME `x`\n"


def test_operation_results_in_deploy_code(tmp_path: Path) -> None:
    """``op.will_change`` / ``op.changed`` while the deploy file runs: planned from the facts
    before the run; ``_if=op.did_change`` and ``any_changed`` answered when the later
    operation is planned."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        from oxinfra.operations.util import any_changed

        conf = files.line(name="conf", path="@ROOT@/app.conf", line="port=80")
        shell = server.shell(name="shell", commands=["true"])
        server.shell(name="seen", commands=[f"echo {conf.changed} {conf.will_change} {shell.changed} > @ROOT@/seen"])
        server.shell(name="restart", commands=["echo restarted >> @ROOT@/restarts"], _if=conf.did_change)
        server.shell(name="any", commands=["echo any >> @ROOT@/any"], _if=any_changed(conf, shell))
        try:
            conf.did_change()
        except Exception as exc:
            files.line(name="error", path="@ROOT@/error", line=str(exc))
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    assert (tmp_path / "seen").read_text() == "True True True\n"
    assert (tmp_path / "restarts").read_text() == "restarted\n"
    assert "not known while deploy files run" in (tmp_path / "error").read_text()
    again = run_deploy("@local", deploy, "--no-host-lock")
    assert again.code == 0, again.describe()
    assert again.op("@local", "restart")["status"] == "skipped"
    assert again.op("@local", "any")["status"] == "changed"  # server.shell always changes
    assert (tmp_path / "restarts").read_text() == "restarted\n"
    assert (tmp_path / "seen").read_text() == "False False True\n"  # conf would change nothing now


def test_reading_will_change_costs_a_fact_round_trip_before_the_barrier(tmp_path: Path) -> None:
    """What docs/architecture.md says it costs: the facts of the operation read, gathered on
    a connection of its own before every host is evaluated (as host.get_fact in deploy
    code); an operation that reads no facts costs nothing."""
    from oxinfra.api import load_inventory, run
    from oxinfra.testing import sim

    names = ("wc-a", "wc-b")
    sim.reset(names)
    inventory = ",".join(f"@sim/{n}" for n in names)
    plain = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        op = server.shell(commands=["true"])
        assert op.will_change
        files.directory(path="/tmp/d")
    """,
        name="plain.py",
    )
    reads = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        op = files.directory(path="/tmp/d")
        files.line(path="/tmp/d/f", line=str(op.will_change))
    """,
        name="reads.py",
    )
    seen: dict[str, set[str]] = {}
    for deploy in (plain, reads):
        at_barrier: set[str] = set()

        def on_event(event: Any) -> None:
            if event.kind == "plan":
                at_barrier.update(n for n in names if n in sim.machines())

        sim.reset(names)
        result = run(load_inventory(inventory), [str(deploy)], on_event=on_event)
        assert result.success, {n: h.error for n, h in result.hosts.items()}
        seen[deploy.name] = at_barrier
    assert seen == {"plain.py": set(), "reads.py": set(names)}
    assert sim.machines()["wc-a"].fs["/tmp/d/f"].data == "True\n"


def test_group_data_files_read_the_initial_inventory(tmp_path: Path, target: Path, inventory: Path) -> None:
    """pyinfra's group data files may read ``inventory`` (hosts and groups, without group data)."""
    (inventory.parent / "group_data").mkdir()
    (inventory.parent / "group_data" / "all.py").write_text(
        "from oxinfra import inventory\n"
        "db_host = inventory.db[0].name\n"
        "web_count = len(inventory.get_group('web'))\n"
        "everyone = sorted(h.name for h in inventory)\n"
    )
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files
        files.line(name="l", path=f"@ROOT@/{host.name}",
                   line=f"{host.data.db_host} {host.data.web_count} {len(host.data.everyone)}")
    """,
        target,
    )
    out = run_deploy(inventory, deploy)
    assert out.code == 0, out.describe()
    db = [h for h in out.summary["hosts"]][2]
    for name in out.summary["hosts"]:
        assert (target / name).read_text() == f"{db} 2 3\n"


@needs_root_sudo
def test_a_sudo_password_from_config_py_is_never_shown(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text(
        "from oxinfra import config\nconfig.SUDO = True\nconfig.SUDO_PASSWORD = 'pw-4711-x'\n"
    )
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="leaks", commands=["echo pw-4711-x; echo pw-4711-x >&2; exit 3"])
    """,
    )
    for flags in (["--json"], ["-vv"]):
        out = run_cli(*flags, "-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
        assert out.code == 1, out.describe()
        assert "pw-4711-x" not in out.stdout + out.stderr, out.describe()


def test_results_and_state_in_a_callback_that_runs_while_the_host_executes(tmp_path: Path) -> None:
    """In ``python.call``'s callback the earlier operation has run: ``op.changed`` is its
    executed result and ``state.is_executing`` is True (pyinfra's answers there)."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import state
        from oxinfra.operations import files, python, server

        line = files.line(name="line", path="@ROOT@/line", line="x")
        seen = python.call(name="cb", function=lambda: (state.is_executing, line.changed, line.did_change()))
        server.shell(name="show", commands=["echo " + str(state.is_executing) + " > @ROOT@/evaluating"],
                     _if=lambda: seen.return_value == (True, True, True))
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    assert out.op("@local", "show")["status"] == "changed"
    assert (tmp_path / "evaluating").read_text() == "False\n"
    again = run_deploy("@local", deploy, "--no-host-lock")
    assert again.op("@local", "show")["status"] == "skipped"  # the line is there: (True, False, False)
