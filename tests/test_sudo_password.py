"""sudo with a password, on a real sudo: a user whose sudo asks for its password, made for
these tests (root only; removed afterwards).

The password reaches ``sudo -S`` on its stdin only: while the runs go, a thread reads the
command line and the environment of every process on the machine and never finds it; nor
does the ``--json`` output, ``-vvv`` output, the ``--report`` file, or any file under /tmp
written during the run. The right password runs as root (operations, a fact read by deploy
code, an upload); a wrong one fails that host alone, at once, saying sudo refused it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import site
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import PYTHON_DIR, invoke

pytestmark = pytest.mark.skipif(
    not (os.geteuid() == 0 and shutil.which("sudo") and shutil.which("visudo")),
    reason="needs root and sudo (apt-get install sudo)",
)


@dataclass
class PasswordUser:
    name: str
    password: str
    home: Path


@contextlib.contextmanager
def _user_with_rule(prefix: str, password: str, rule: str) -> Iterator[str]:
    """A new user (``prefix`` and random letters) with ``password``, and ``rule`` (``{name}``
    stands for the user) in its own file under /etc/sudoers.d; both gone afterwards."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    sudoers = Path(f"/etc/sudoers.d/{name}")
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
        staged = Path(tempfile.mkdtemp()) / "rule"
        staged.write_text(rule.format(name=name))
        subprocess.run(["visudo", "-cf", str(staged)], check=True, capture_output=True)
        shutil.move(str(staged), sudoers)
        os.chmod(sudoers, 0o440)
        yield name
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
        shutil.rmtree(f"/run/sudo/ts/{name}", ignore_errors=True)
        Path(f"/run/sudo/ts/{name}").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def password_user() -> Iterator[PasswordUser]:
    """A user with a password and ``ALL=(ALL) ALL`` in sudoers (sudo asks for the password)."""
    password = f"Pw-{secrets.token_hex(12)}-it's $(x)"
    with _user_with_rule("oxinfra-pw", password, "{name} ALL=(ALL) ALL\n") as name:
        yield PasswordUser(name, password, Path(pwd.getpwnam(name).pw_dir))


def _forget_credentials(user: PasswordUser) -> None:
    """No cached sudo credentials: the next run must give the password."""
    path = Path(f"/run/sudo/ts/{user.name}")
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class ProcWatch:
    """Reads the command line and the environment of every process, over and over, until
    stopped; remembers where it saw ``needle``."""

    def __init__(self, needle: bytes, probe: bytes) -> None:
        self.needle = needle
        self.probe = probe  # an argument of a command the deploy runs: proves the watch sees
        self.found: list[str] = []
        self.probe_seen = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == me:
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        with open(f"/proc/{pid}/{part}", "rb") as handle:
                            data = handle.read()
                    except OSError:
                        continue
                    if self.needle in data:
                        self.found.append(f"/proc/{pid}/{part}")
                    if part == "cmdline" and self.probe in data:
                        self.probe_seen = True

    def __enter__(self) -> "ProcWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _interpreter(user: PasswordUser) -> list[str]:
    """A Python of this version that ``user`` may run, with this checkout and its packages
    importable (a Python under root's 0700 home is not: then the runs over SSH, as the
    loopback fleet's user, are what tests the password)."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    probe = "import sys, click, asyncssh, jinja2, oxinfra._core; print('%d.%d' % sys.version_info[:2])"
    for candidate in dict.fromkeys([sys.executable, os.path.realpath(sys.executable), f"/usr/bin/python{version}"]):
        try:
            out = subprocess.run(
                [candidate, "-c", probe],
                user=user.name,
                capture_output=True,
                text=True,
                timeout=30,
                cwd="/",
                env=_user_env(user),
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return [candidate]
    pytest.skip(f"no Python {version} with oxinfra's packages that {user.name} may run")


def _user_env(user: PasswordUser) -> dict[str, str]:
    paths = [str(PYTHON_DIR), *site.getsitepackages()]
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(user.home),
        "USER": user.name,
        "LOGNAME": user.name,
        "PYTHONPATH": os.pathsep.join(paths),
        "LANG": "C.UTF-8",
    }


def _as_user(user: PasswordUser, args: list[str], stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m oxinfra ARGS`` as ``user``, without a terminal (the password prompt reads stdin)."""
    env = _user_env(user)
    return subprocess.run(
        [*_interpreter(user), "-m", "oxinfra", *args],
        input=stdin,
        capture_output=True,
        text=True,
        user=user.name,
        env=env,
        cwd=cwd,
        timeout=120,
        start_new_session=True,
    )


@pytest.fixture
def workdir(password_user: PasswordUser) -> Iterator[Path]:
    """A directory the user's runs read deploys from and write to (root's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="oxinfra-pw-", dir="/tmp"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


LOCAL_DEPLOY = """
    from oxinfra import host
    from oxinfra.facts.server import Command
    from oxinfra.operations import files, server

    who = host.get_fact(Command, command="id -un", _sudo=True)
    server.shell(name="whoami", commands=[f"echo {who} > @T@/fact", "whoami > @T@/who", "sleep 0.6"], _sudo=True)
    files.put(name="put", src="@T@/data.txt", dest="@T@/put", mode="600", _sudo=True)
    server.shell(name="plain", commands=["id -un > @T@/plain"])
"""


def _files_with(root: Path, needle: bytes, since: float) -> list[str]:
    """Files under ``root`` changed since ``since`` that hold ``needle``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if st.st_mtime < since or st.st_size > 64 << 20 or not os.path.isfile(path):
                    continue
                with open(path, "rb") as handle:
                    if needle in handle.read():
                        found.append(path)
            except OSError:
                continue
    return found


def test_the_right_password_runs_as_root_and_is_never_shown(password_user: PasswordUser, workdir: Path) -> None:
    user = password_user
    (workdir / "data.txt").write_text("payload\n")
    deploy = workdir / "deploy.py"
    deploy.write_text(textwrap.dedent(LOCAL_DEPLOY).replace("@T@", str(workdir)))
    needle = user.password.encode()
    started = time.time()
    with ProcWatch(needle, b"sleep\x000.6") as watch:
        _forget_credentials(user)
        as_json = _as_user(
            user,
            ["--ask-sudo-password", "--json", "-y", "--report", str(workdir / "r.json"), "@local", str(deploy)],
            user.password + "\n",
            workdir,
        )
        _forget_credentials(user)
        verbose = _as_user(
            user, ["--ask-sudo-password", "-vvv", "-y", "@local", str(deploy)], user.password + "\n", workdir
        )
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    assert verbose.returncode == 0, verbose.stdout + verbose.stderr
    assert (workdir / "who").read_text() == "root\n"
    assert (workdir / "fact").read_text() == "root\n"  # a fact deploy code read with sudo
    assert (workdir / "plain").read_text() == f"{user.name}\n"  # without _sudo: the login user
    assert (workdir / "put").read_text() == "payload\n" and (workdir / "put").stat().st_uid == 0
    events = [json.loads(line) for line in as_json.stdout.splitlines() if line.strip()]
    assert {e["op"]: e["status"] for e in events if e["event"] == "operation"} == {
        "whoami": "changed",
        "put": "changed",
        "plain": "changed",
    }
    assert "$ whoami > " in verbose.stdout  # -vvv shows the commands...
    assert watch.probe_seen  # the watch saw a process the deploy ran, ...
    assert watch.found == []  # ... and never the password in a command line or an environment
    for text in (as_json.stdout, as_json.stderr, verbose.stdout, verbose.stderr, (workdir / "r.json").read_text()):
        assert user.password not in text
    assert _files_with(Path("/tmp"), needle, started - 1) == []


def test_a_wrong_password_fails_at_once_saying_sudo_refused_it(password_user: PasswordUser, workdir: Path) -> None:
    user = password_user
    deploy = workdir / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from oxinfra.operations import server
        server.shell(name="one", commands=["touch @T@/one"], _sudo=True)
        server.shell(name="two", commands=["touch @T@/two"], _sudo=True, _ignore_errors=True)
    """).replace("@T@", str(workdir))
    )
    wrong = f"Wrong-{secrets.token_hex(8)}"
    _forget_credentials(user)
    started = time.monotonic()
    out = _as_user(user, ["--ask-sudo-password", "--json", "-y", "@local", str(deploy)], wrong + "\n", workdir)
    seconds = time.monotonic() - started
    assert out.returncode == 1, out.stdout + out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    ops = {e["op"]: e for e in events if e["event"] == "operation"}
    assert ops["one"]["status"] == "failed" and ops["two"]["status"] == "not run"
    assert ops["one"]["error"] == "could not run as sudo: sudo: 1 incorrect password attempt", ops["one"]
    assert not (workdir / "one").exists()
    assert wrong not in out.stdout + out.stderr and user.password not in out.stdout + out.stderr
    assert seconds < 20, seconds  # one attempt (sudo's delay), not three per use


def test_no_password_where_sudo_needs_one_says_so(password_user: PasswordUser, workdir: Path) -> None:
    """``--sudo`` (every operation's default) with no password: ``sudo -n`` refuses, and the
    operation says that sudo did, not just "exit code 1"."""
    deploy = workdir / "deploy.py"
    deploy.write_text("from oxinfra.operations import server\nserver.shell(name='one', commands=['id -un'])\n")
    _forget_credentials(password_user)
    out = _as_user(password_user, ["--sudo", "--json", "-y", "@local", str(deploy)], "", workdir)
    assert out.returncode == 1, out.stdout + out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    (one,) = [e for e in events if e["event"] == "operation"]
    assert one["error"] == "could not run as sudo: sudo: a password is required", one


INVENTORY = """
    _ssh = @SSH@
    right = [("@HOST1@", {**_ssh, "sudo_pw": @RIGHT@})]
    wrong = [("@HOST2@", {**_ssh, "sudo_pw": @WRONG@})]
"""

SSH_DEPLOY = """
    from oxinfra import host
    from oxinfra.facts.files import File
    from oxinfra.operations import files, server

    base = "@T@/" + host.name
    files.directory(name="dir", path=base)
    server.shell(name="root", commands=[f"whoami > {base}/who"], _sudo=True, _sudo_password=host.data.sudo_pw)
    info = host.get_fact(File, path="@T@/locked/inner", _sudo=True, _sudo_password=host.data.sudo_pw)
    server.shell(name="after", commands=[f"echo {info and info['user']} > {base}/owner"], _sudo=True,
                 _sudo_password=host.data.sudo_pw, _sudo_user=@USER@)
"""


def test_over_ssh_each_host_its_password_and_a_wrong_one_fails_that_host_only(
    password_user: PasswordUser, workdir: Path, sshd_fleet_factory: Any
) -> None:
    user = password_user
    fleet = sshd_fleet_factory(2, user=user.name)
    wrong = f"Wrong-{secrets.token_hex(8)}"
    inventory = workdir / "inventory.py"
    inventory.write_text(
        textwrap.dedent(INVENTORY)
        .replace("@SSH@", repr(fleet.ssh_data()))
        .replace("@HOST1@", fleet.hosts[0])
        .replace("@HOST2@", fleet.hosts[1])
        .replace("@RIGHT@", repr(user.password))
        .replace("@WRONG@", repr(wrong))
    )
    (workdir / "locked").mkdir(mode=0o700)  # root's: only sudo can stat what is inside
    (workdir / "locked" / "inner").write_text("x")
    deploy = workdir / "deploy.py"
    deploy.write_text(textwrap.dedent(SSH_DEPLOY).replace("@T@", str(workdir)).replace("@USER@", repr(user.name)))
    _forget_credentials(user)
    with ProcWatch(user.password.encode(), b"whoami") as watch:
        out = invoke("-y", "-vv", inventory, deploy)
    assert out.code == 1, out.describe()
    good, bad = fleet.hosts
    assert out.host(good)["status"] == "success" and out.host(bad)["status"] == "failed", out.describe()
    assert (workdir / good / "who").read_text() == "root\n"
    assert (workdir / good / "owner").read_text() == "root\n"  # a fact read with sudo and its password
    assert not (workdir / bad / "who").exists()
    # deploy code read a fact with sudo: the wrong password fails that host there, saying why
    assert out.host(bad)["error"].endswith(
        "deploy.py:9: fact files.File failed (could not run as sudo: exit 1): sudo: 1 incorrect password attempt"
    )
    assert watch.found == []
    for secret in (user.password, wrong):
        assert secret not in out.stdout + out.stderr


def test_sudo_login_and_preserved_environment(tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``_use_sudo_login`` is ``sudo -i`` (the target's login shell: its home as the working
    directory), ``_preserve_sudo_env`` is ``sudo -E`` (the login environment kept); both
    with and without a password (root's sudo asks none: the password line is skipped)."""
    monkeypatch.setenv("OXINFRA_TEST_KEPT", "kept")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from oxinfra.operations import server
        for n, args in enumerate([{}, {"_use_sudo_login": True}, {"_preserve_sudo_env": True},
                                  {"_use_sudo_login": True, "_sudo_password": "not-asked-1"},
                                  {"_preserve_sudo_env": True, "_sudo_password": "not-asked-2"}]):
            server.shell(name=f"run{n}", commands=[f'pwd > @T@/pwd{n}; echo "v=$OXINFRA_TEST_KEPT" > @T@/env{n}'],
                         _sudo=True, _chdir="/tmp", **args)
    """).replace("@T@", str(workdir))
    )
    out = invoke("-y", "@local", deploy)
    assert out.code == 0, out.describe()
    pwd_of = {n: (workdir / f"pwd{n}").read_text().strip() for n in range(5)}
    env_of = {n: (workdir / f"env{n}").read_text().strip() for n in range(5)}
    assert pwd_of == {0: "/tmp", 1: "/tmp", 2: "/tmp", 3: "/tmp", 4: "/tmp"}  # _chdir inside, after the login
    assert env_of == {0: "v=", 1: "v=", 2: "v=kept", 3: "v=", 4: "v=kept"}
    assert "not-asked" not in out.stdout + out.stderr


def test_the_password_is_never_in_a_here_document() -> None:
    """bash (``sh`` on some systems) may write a here-document to a temporary file: the
    password travels in the pipe that ``printf`` (a builtin) writes, never in one."""
    from oxinfra._engine.script import wrap_privilege
    from oxinfra.api import Secret
    from oxinfra.api.arguments import Privilege

    password = "Pw in no-heredoc"
    text = wrap_privilege("id -un\necho ok", Privilege(True, "bob", None, Secret(password)), 5)
    end = text.split("<<'", 1)[1].split("'", 1)[0]
    heredoc = text.split(f"<<'{end}'", 1)[1].split(f"\n{end}\n", 1)[0]
    assert "id -un" in heredoc and password not in heredoc
    assert text.count(password) == 2  # the check (sudo -v), then the run (sudo -S)
    for line in text.splitlines():
        if password in line:
            assert (
                f"printf '%s\\n' '{password}' | sudo -S -p '' -u bob -v;" in line
                or f"|| printf '%s\\n' '{password}'; cat; }} <<'{end}' | " in line
            )
    assert "sudo -k -S -p '' -H -u bob timeout 5 sh -s; fi" in text  # sudo asks: it reads the line


def test_cli_defaults_apply_to_every_operation_and_to_facts(
    password_user: PasswordUser, workdir: Path, tmp_path: Path
) -> None:
    """``--sudo-user`` (and ``--su-user``) are every operation's default, and the privilege
    facts read by deploy code start from; an operation's own arguments win."""
    user = password_user.name
    for flag, own in (("--sudo-user", "_sudo_user"), ("--su-user", "_su_user")):
        deploy = tmp_path / "deploy.py"
        deploy.write_text(
            textwrap.dedent("""
            from oxinfra import host
            from oxinfra.facts.server import User
            from oxinfra.operations import server
            who = host.get_fact(User)
            server.shell(name="default", commands=[f"echo {who} $(id -un) > @T@/default@F@"])
            server.shell(name="own", commands=["id -un > @T@/own@F@"], @OWN@="root")
        """)
            .replace("@T@", str(workdir))
            .replace("@F@", flag)
            .replace("@OWN@", own)
        )
        out = invoke("-y", flag, user, "@local", deploy)
        assert out.code == 0, out.describe()
        assert (workdir / f"default{flag}").read_text() == f"{user} {user}\n", flag
        assert (workdir / f"own{flag}").read_text() == "root\n", flag


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "_sudo=True, _sudo_password=123456789",
            "_sudo_password must be a non-empty string on one line, not a int (not shown)",
        ),
        (
            "_sudo=True, _sudo_password='two\\nlines-secret'",
            "_sudo_password must be a non-empty string on one line, not a str (not shown)",
        ),
        ("_use_sudo_login='yes'", "_use_sudo_login must be True or False, not 'yes'"),
    ],
)
def test_bad_privilege_arguments_are_named_and_never_shown(tmp_path: Path, args: str, message: str) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(f"from oxinfra.operations import server\nserver.shell(commands=['true'], {args})\n")
    out = invoke("-y", "@local", deploy)
    assert out.code == 2 and message in out.stderr, out.describe()
    assert "123456789" not in out.stderr and "lines-secret" not in out.stderr
    fact = tmp_path / "fact.py"
    fact.write_text(f"from oxinfra import host\nfrom oxinfra.facts.server import User\nhost.get_fact(User, {args})\n")
    out = invoke("-y", "@local", fact)
    assert out.code == 2 and message in out.stderr and "host.get_fact(server.User)" in out.stderr, out.describe()
    assert "123456789" not in out.stderr and "lines-secret" not in out.stderr


def test_the_api_checks_run_defaults(tmp_path: Path) -> None:
    from oxinfra.api import load_inventory, run
    from oxinfra.exceptions import ArgumentError

    deploy = tmp_path / "deploy.py"
    deploy.write_text("from oxinfra.operations import server\nserver.shell(commands=['true'])\n")
    with pytest.raises(ArgumentError, match="_sudo_pasword"):
        run(load_inventory("@local"), [str(deploy)], global_args={"_sudo_pasword": "x"})
    with pytest.raises(ArgumentError, match="not sudo"):
        run(load_inventory("@local"), [str(deploy)], global_args={"sudo": True})
    assert run(load_inventory("@local"), [str(deploy)], global_args={"_sudo": True, "_sudo_password": "p w"}).success


def test_the_password_from_the_environment_is_not_inherited(tmp_path: Path, workdir: Path) -> None:
    """``OXINFRA_SUDO_PASSWORD`` is read, then removed from the environment: the ``@local``
    shell, what it runs (``sudo -E`` too) and shard workers never get it."""
    from e2e_helpers import run_cli

    password = f"Env-pw-{secrets.token_hex(8)}"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from oxinfra import host
        from oxinfra.operations import server
        out = "@T@/" if host.name == "@local" else "/tmp/"  # a simulated host has /tmp only
        server.shell(commands=[f"cat /proc/$$/environ > {out}shell; env > {out}env"], _preserve_sudo_env=True)
    """).replace("@T@", str(workdir))
    )
    out = run_cli(
        "--sudo", "-y", "--shards", "2", "--json", "@local,@sim/env", deploy, env={"OXINFRA_SUDO_PASSWORD": password}
    )
    assert out.code == 0, out.describe()
    for name in ("shell", "env"):
        text = (workdir / name).read_bytes()
        assert b"PATH=" in text and password.encode() not in text, name
    assert password not in out.stdout + out.stderr


def test_where_sudo_asks_for_the_target_users_password_the_check_asks_as_that_user(
    password_user: PasswordUser,
) -> None:
    """``Defaults>USER targetpw``: sudo wants the password of the user run as. The once-per-shell
    check (``sudo -S -v``) ran for root and asked for the login user's own: it refused the right
    password, and every operation failed after three tries of sudo's."""
    from oxinfra._engine.script import wrap_privilege
    from oxinfra.api import Secret
    from oxinfra.api.arguments import Privilege

    secret = f"Tg-{secrets.token_hex(12)}"
    with _user_with_rule("oxinfra-tg", secret, "Defaults>{name} targetpw\n") as target:
        _forget_credentials(password_user)
        try:
            script = wrap_privilege("id -un", Privilege(True, target, None, Secret(secret)), 10)
            done = subprocess.run(
                ["su", password_user.name, "-s", "/bin/sh", "-c", "cd /tmp && sh"],
                input=script.encode(),
                capture_output=True,
                timeout=60,
            )
            assert done.returncode == 0 and done.stdout.decode().split()[-1] == target, done
        finally:
            _forget_credentials(password_user)


@pytest.mark.parametrize(
    "rule", ["{name} ALL=(ALL) ALL\n", "{name} ALL=(ALL) NOPASSWD: ALL\n"], ids=["asks", "nopasswd"]
)
def test_the_target_users_login_shell_never_reads_the_password(
    workdir: Path, rule: str, sshd_fleet_factory: Any
) -> None:
    """``_sudo_user`` with ``_use_sudo_login``: the target's login shell runs its
    ``~/.profile``, which here reads a line of its stdin into a file. Before, the password
    line was still on that stdin whenever sudo did not read it (credentials cached by the
    check, or ``NOPASSWD``): the target user, unprivileged, got the login user's sudo
    password. Over SSH, logged in as a user whose sudo asks for its password (or not), twice
    in a run (the second finds credentials cached by the first)."""
    password = f"Pw-{secrets.token_hex(8)}"
    with _user_with_rule("oxinfra-pl", password, rule) as login, _user_with_rule("oxinfra-tg", "x", "") as target:
        fleet = sshd_fleet_factory(1, user=login)
        home = Path(pwd.getpwnam(target).pw_dir)
        stolen = workdir / f"stolen-{target}"
        (home / ".profile").write_text(f'IFS= read -r x; printf "%s\\n" "$x" >> {stolen}\n')
        inventory = workdir / f"inventory-{target}.py"
        inventory.write_text(f"hosts = [({fleet.hosts[0]!r}, {{**{fleet.ssh_data()!r}, 'sudo_pw': {password!r}}})]\n")
        deploy = workdir / f"deploy-{target}.py"
        deploy.write_text(
            "from oxinfra import host\n"
            "from oxinfra.operations import server\n"
            "for n in range(2):\n"
            f"    server.shell(name=f'as target {{n}}', commands=['id -un >> {workdir}/who-{target}'],"
            f" _sudo=True, _sudo_user={target!r}, _use_sudo_login=True, _sudo_password=host.data.sudo_pw)\n"
        )
        out = invoke("-y", inventory, deploy)
        # the profile took the script's first line (the operation fails: the target user's
        # login shell is theirs to break), never the password
        assert "\n" in stolen.read_text(), out.describe()
        assert password not in stolen.read_text()
        assert password not in out.stdout + out.stderr
        (home / ".profile").write_text("true\n")  # a profile that reads nothing: both run
        (workdir / f"who-{target}").unlink(missing_ok=True)
        out = invoke("-y", inventory, deploy)
        assert out.code == 0, out.describe()
        assert (workdir / f"who-{target}").read_text() == f"{target}\n{target}\n"
