"""The family helpers (``operations/util/packaging.py``, ``operations/util/service.py``) as
tables of inputs → commands, hostile names included; then the commands run in a real ``sh``
against programs that print the argv they got, and against the real tools where this
machine has them (``apt-get -s``, ``pip``, ``systemctl``): names arrive as one argument each,
after ``--``, never as options."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api.context import scope
from oxinfra.api.effects import PlanContext
from oxinfra.exceptions import OperationValueError
from oxinfra.operations.util.packaging import PackageManager, ensure_packages, pep503_name
from oxinfra.operations.util.service import enable_command, ensure_service, service_command

APT = PackageManager(
    install=("apt-get", "install", "-y"),
    uninstall=("apt-get", "remove", "-y"),
    upgrade=("apt-get", "install", "-y", "--only-upgrade"),
    version_join="=",
    name_pattern=r"[a-z0-9][a-z0-9+.-]*[a-z0-9+.]",
)
DNF = PackageManager(
    install=("dnf", "install", "-y"),
    uninstall=("dnf", "remove", "-y"),
    upgrade=("dnf", "upgrade", "-y"),
    version_join="-",
)
YUM = PackageManager(
    install=("yum", "install", "-y"),
    uninstall=("yum", "remove", "-y"),
    upgrade=("yum", "update", "-y"),
    version_join="-",
)
APK = PackageManager(
    install=("apk", "add"), uninstall=("apk", "del"), upgrade=("apk", "add", "--upgrade"), version_join="="
)
PACMAN = PackageManager(
    install=("pacman", "-S", "--noconfirm"), uninstall=("pacman", "-R", "--noconfirm"), version_join=None
)
PIP = PackageManager(
    install=("pip", "install"),
    uninstall=("pip", "uninstall", "-y"),
    upgrade=("pip", "install", "--upgrade"),
    version_join="==",
    normalise=pep503_name,
)
NO_END = PackageManager(install=("opkg", "install"), uninstall=("opkg", "remove"), options_end=False)

HOSTILE = ["it's $(touch INJ)", "-rf", "--version", "a b;c", "`id`", "x\ny", "ünï*"]


def _plan(gen: Any) -> tuple[list[str], list[str]]:
    ctx = PlanContext()
    with scope(plan=ctx):
        commands = list(gen)
    return commands, ctx.noops


# ------------------------------------------------------------------------------------ packages

PACKAGE_ROWS = [
    # (id, manager, packages, current, kwargs, commands, noop)
    ("apt-missing", APT, ["nginx", "curl"], {}, {}, ["apt-get install -y -- nginx curl"], None),
    ("apt-present", APT, ["curl"], {"curl": ["7.74.0"]}, {}, [], "installed: curl"),
    (
        "apt-version-differs",
        APT,
        [("curl", "7.88.1")],
        {"curl": ["7.74.0"]},
        {},
        ["apt-get install -y -- curl=7.88.1"],
        None,
    ),
    ("apt-version-same", APT, [("curl", "7.88.1")], {"curl": "7.88.1"}, {}, [], "installed: curl=7.88.1"),
    (
        "apt-latest",
        APT,
        ["curl", "nginx"],
        {"curl": ["1"]},
        {"latest": True},
        ["apt-get install -y -- nginx", "apt-get install -y --only-upgrade -- curl"],
        None,
    ),
    ("apt-latest-pinned", APT, [("curl", "1")], {"curl": ["1"]}, {"latest": True}, [], "installed: curl=1"),
    ("apt-remove", APT, ["curl", "nginx"], {"curl": ["1"]}, {"present": False}, ["apt-get remove -y -- curl"], None),
    (
        "apt-remove-other-version",
        APT,
        [("curl", "2")],
        {"curl": ["1"]},
        {"present": False},
        [],
        "not installed: curl=2",
    ),
    ("apt-one-name", APT, "curl", {}, {}, ["apt-get install -y -- curl"], None),
    (
        "dnf-hostile",
        DNF,
        HOSTILE,
        {},
        {},
        ["dnf install -y -- 'it'\\''s $(touch INJ)' -rf --version 'a b;c' '`id`' 'x\ny' 'ünï*'"],
        None,
    ),
    ("dnf-version", DNF, [("kernel", "5.14.0-1.el9")], {}, {}, ["dnf install -y -- kernel-5.14.0-1.el9"], None),
    ("dnf-hostile-version", DNF, [("-x", "1; rm -rf /")], {}, {}, ["dnf install -y -- '-x-1; rm -rf /'"], None),
    ("yum-absent", YUM, ["a", "b"], {}, {"present": False}, [], "not installed: a, b"),
    ("yum-latest", YUM, ["a"], {"a": ["1"]}, {"latest": True}, ["yum update -y -- a"], None),
    ("apk-version", APK, [("musl", "1.2.4-r2")], {"musl": ["1.2.3-r0"]}, {}, ["apk add -- musl=1.2.4-r2"], None),
    ("apk-latest", APK, ["busybox"], {"busybox": ["1.36"]}, {"latest": True}, ["apk add --upgrade -- busybox"], None),
    ("apk-remove-hostile", APK, ["-rf"], {"-rf": ["1"]}, {"present": False}, ["apk del -- -rf"], None),
    (
        "pacman-latest-is-install",
        PACMAN,
        ["vim"],
        {"vim": ["9.0"]},
        {"latest": True},
        ["pacman -S --noconfirm -- vim"],
        None,
    ),
    ("pacman-remove", PACMAN, ["vim"], {"vim": ["9.0"]}, {"present": False}, ["pacman -R --noconfirm -- vim"], None),
    (
        "pip-normalised-names",
        PIP,
        ["Django_REST.framework"],
        {"django-rest-framework": ["3.14"]},
        {},
        [],
        "installed: Django_REST.framework",
    ),
    (
        "pip-version",
        PIP,
        [("requests", "2.31.0")],
        {"Requests": ["2.30.0"]},
        {},
        ["pip install -- requests==2.31.0"],
        None,
    ),
    ("pip-remove", PIP, ["Requests"], {"requests": ["2"]}, {"present": False}, ["pip uninstall -y -- Requests"], None),
    ("pip-same-name-twice", PIP, ["a_b", "A-B"], {}, {}, ["pip install -- A-B"], None),
    ("no-options-end", NO_END, ["a b"], {}, {}, ["opkg install 'a b'"], None),
]


@pytest.mark.parametrize(
    ("manager", "packages", "current", "kwargs", "commands", "noop"),
    [row[1:] for row in PACKAGE_ROWS],
    ids=[row[0] for row in PACKAGE_ROWS],
)
def test_ensure_packages(
    manager: PackageManager, packages: Any, current: Any, kwargs: dict[str, Any], commands: list[str], noop: str | None
) -> None:
    got, noops = _plan(ensure_packages(manager, packages, current, **kwargs))
    assert got == commands
    if noop is None:
        assert noops == []
    else:
        assert noops == [noop]


PACKAGE_ERRORS = [
    ("apt-remove-suffix", APT, ["foo-"], "not a package name apt-get takes"),
    ("apt-option", APT, ["-rf"], "not a package name"),
    ("apt-injection", APT, ["it's $(id)"], "not a package name"),
    ("no-end-option", NO_END, ["-x"], "starts with '-': opkg would read it as an option"),
    ("pacman-version", PACMAN, [("vim", "9")], "takes no versions"),
    ("empty", DNF, [""], "cannot be empty"),
    ("empty-version", DNF, [("a", "")], "version of 'a' cannot be empty"),
    ("not-a-name", DNF, [["a"]], "a name or a (name, version) pair"),
    ("twice", DNF, ["a", ("a", "1")], "asked for twice"),
]


@pytest.mark.parametrize(
    ("manager", "packages", "message"), [row[1:] for row in PACKAGE_ERRORS], ids=[row[0] for row in PACKAGE_ERRORS]
)
def test_ensure_packages_refuses(manager: PackageManager, packages: Any, message: str) -> None:
    with pytest.raises(OperationValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _plan(ensure_packages(manager, packages, {}))


def test_a_package_command_starts_with_a_program() -> None:
    with pytest.raises(ValueError, match="starts with a program name"):
        PackageManager(install=("apt-get; rm -rf /", "install"), uninstall=("apt-get", "remove"))
    with pytest.raises(ValueError, match="starts with a program name"):
        PackageManager(install=(), uninstall=("x",))


# ------------------------------------------------------------------------------------ services

SERVICE_ROWS = [
    # (id, init, name, facts/kwargs, commands, noop)
    (
        "systemd-start-enable",
        "systemd",
        "nginx",
        {"is_running": False, "is_enabled": False, "enabled": True},
        ["systemctl start -- nginx", "systemctl enable -- nginx"],
        None,
    ),
    (
        "systemd-ok",
        "systemd",
        "nginx",
        {"is_running": True, "is_enabled": True, "enabled": True},
        [],
        "service nginx is running, enabled",
    ),
    (
        "systemd-stop-disable",
        "systemd",
        "nginx",
        {"is_running": True, "is_enabled": True, "running": False, "enabled": False},
        ["systemctl stop -- nginx", "systemctl disable -- nginx"],
        None,
    ),
    ("systemd-stopped-ok", "systemd", "nginx", {"is_running": False, "running": False}, [], "service nginx is stopped"),
    (
        "systemd-restart",
        "systemd",
        "nginx",
        {"is_running": True, "restarted": True},
        ["systemctl restart -- nginx"],
        None,
    ),
    (
        "systemd-restart-when-stopped-starts",
        "systemd",
        "nginx",
        {"is_running": False, "restarted": True},
        ["systemctl start -- nginx"],
        None,
    ),
    (
        "systemd-restart-but-leave",
        "systemd",
        "nginx",
        {"is_running": False, "running": None, "restarted": True},
        [],
        "service nginx is stopped",
    ),
    ("systemd-reload", "systemd", "nginx", {"is_running": True, "reloaded": True}, ["systemctl reload -- nginx"], None),
    (
        "systemd-daemon-reload",
        "systemd",
        "app",
        {"is_running": False, "daemon_reload": True},
        ["systemctl daemon-reload", "systemctl start -- app"],
        None,
    ),
    ("systemd-dash-unit", "systemd", "-.mount", {"is_running": False}, ["systemctl start -- -.mount"], None),
    ("systemd-unknown-state", "systemd", "x", {"is_running": None, "running": None}, [], "service x is as it is"),
    ("sysvinit-start", "sysvinit", "apache2", {"is_running": False}, ["/etc/init.d/apache2 start"], None),
    (
        "sysvinit-hostile",
        "sysvinit",
        "it's $(id) x",
        {"is_running": True, "running": False},
        ["'/etc/init.d/it'\\''s $(id) x' stop"],
        None,
    ),
    (
        "sysvinit-enable",
        "sysvinit",
        "my app",
        {"is_running": True, "is_enabled": False, "enabled": True},
        ["update-rc.d 'my app' defaults && update-rc.d 'my app' enable"],
        None,
    ),
    (
        "sysvinit-disable",
        "sysvinit",
        "cron",
        {"is_running": True, "is_enabled": True, "enabled": False},
        ["update-rc.d cron disable"],
        None,
    ),
    (
        "openrc-start-enable",
        "openrc",
        "sshd",
        {"is_running": False, "is_enabled": False, "enabled": True},
        ["rc-service sshd start", "rc-update add sshd default"],
        None,
    ),
    (
        "openrc-runlevel",
        "openrc",
        "net lo",
        {"is_running": True, "is_enabled": True, "enabled": False, "runlevel": "boot"},
        ["rc-update del 'net lo' boot"],
        None,
    ),
    ("openrc-reload", "openrc", "nginx", {"is_running": True, "reloaded": True}, ["rc-service nginx reload"], None),
    (
        "custom-command-every-time",
        "sysvinit",
        "cron",
        {"is_running": True, "is_enabled": False, "enabled": True, "command": "force-reload"},
        ["/etc/init.d/cron force-reload", "update-rc.d cron defaults && update-rc.d cron enable"],
        None,
    ),
    (
        "systemctl-words",
        "systemd",
        "app.service",
        {"is_running": False, "daemon_reload": True, "systemctl": ("--user", "--machine=bob@.host")},
        [
            "systemctl --user --machine=bob@.host daemon-reload",
            "systemctl --user --machine=bob@.host start -- app.service",
        ],
        None,
    ),
]


@pytest.mark.parametrize(
    ("init", "name", "kwargs", "commands", "noop"),
    [row[1:] for row in SERVICE_ROWS],
    ids=[row[0] for row in SERVICE_ROWS],
)
def test_ensure_service(init: str, name: str, kwargs: dict[str, Any], commands: list[str], noop: str | None) -> None:
    got, noops = _plan(ensure_service(init, name, **kwargs))
    assert got == commands
    assert noops == ([] if noop is None else [noop])


SERVICE_ERRORS = [
    ("sysvinit-dash", "sysvinit", "-x", {}, "the sysvinit tools would read it as an option"),
    ("openrc-dash", "openrc", "--help", {}, "the openrc tools would read it as an option"),
    ("slash", "sysvinit", "../../bin/sh", {}, "not a service name"),
    ("systemd-slash", "systemd", "a/b", {}, "not a service name"),
    # systemctl reads * ? [ as a pattern: "app-*" would stop every unit it matches
    ("systemd-glob", "systemd", "app-*", {}, "not a unit name"),
    ("systemd-glob-all", "systemd", "*", {}, "not a unit name"),
    ("systemd-hostile", "systemd", "it's $(touch INJ) `id`;x", {}, "not a unit name"),
    ("dotdot", "openrc", "..", {}, "not a service name"),
    ("empty", "systemd", "", {}, "not a service name"),
    ("unknown-init", "upstart", "x", {}, "unknown init system 'upstart'"),
    ("daemon-reload-not-systemd", "openrc", "x", {"daemon_reload": True}, "systemd only"),
    ("systemctl-words-not-systemd", "sysvinit", "x", {"systemctl": ("--user",)}, "systemd only"),
    ("command-two-words", "systemd", "x", {"command": "stop now"}, "is not a service action"),
    ("command-option", "openrc", "x", {"command": "-v"}, "is not a service action"),
    (
        "runlevel-option",
        "openrc",
        "x",
        {"enabled": True, "is_enabled": False, "runlevel": "-a"},
        "not an OpenRC runlevel",
    ),
]


@pytest.mark.parametrize(
    ("init", "name", "kwargs", "message"), [row[1:] for row in SERVICE_ERRORS], ids=[row[0] for row in SERVICE_ERRORS]
)
def test_ensure_service_refuses(init: str, name: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OperationValueError, match=message):
        _plan(ensure_service(init, name, is_running=True, **kwargs))


def test_systemctl_words() -> None:
    from oxinfra.operations.util.service import systemctl_words

    assert systemctl_words() == ()
    assert systemctl_words(user_mode=True) == ("--user",)
    assert systemctl_words(machine="box") == ("--machine=box",)
    assert systemctl_words(machine="box", user_name="bob") == ("--machine=bob@box",)
    for bad in ({"machine": "-H x"}, {"user_name": "a b"}, {"machine": "a@b"}, {"user_name": 3}):
        with pytest.raises(OperationValueError, match="is not a machine or user name"):
            systemctl_words(**bad)


def test_unknown_service_action() -> None:
    with pytest.raises(OperationValueError, match="unknown service action"):
        service_command("systemd", "x", "kill")
    assert enable_command("systemd", "x", False) == "systemctl disable -- x"


def test_the_helpers_examples_run() -> None:
    import doctest

    import oxinfra.operations.util.packaging as packaging
    import oxinfra.operations.util.service as service

    for module in (packaging, service):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted >= 3, module.__name__


# ------------------------------------------------------------------------------------ real shells

# Prints a mark, its own name and each argument it got, NUL-terminated.
ARGV_PRINTER = '#!/bin/sh\nprintf \'%s\\0\' @@ARGV "${0##*/}" "$@"\n'
PROGRAMS = (
    "apt-get",
    "dnf",
    "yum",
    "apk",
    "pacman",
    "pip",
    "opkg",
    "systemctl",
    "rc-service",
    "rc-update",
    "update-rc.d",
)


@pytest.fixture
def argv_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in PROGRAMS:
        path = bin_dir / name
        path.write_text(ARGV_PRINTER)
        path.chmod(0o755)
    return bin_dir


def _argvs(line: str, bin_dir: Path, cwd: Path) -> list[list[str]]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, env=env, cwd=cwd, timeout=10, check=True).stdout
    runs: list[list[str]] = []
    for word in out.decode().split("\0")[:-1]:
        if word == "@@ARGV":
            runs.append([])
        else:
            runs[-1].append(word)
    return runs


@pytest.mark.parametrize("manager", [DNF, YUM, APK, PACMAN, PIP], ids=lambda m: m.install[0])
def test_package_names_arrive_as_one_argument_each_after_the_end_of_options(
    manager: PackageManager, argv_bin: Path, tmp_path: Path
) -> None:
    (line,), _ = _plan(ensure_packages(manager, HOSTILE, {}))
    (argv,) = _argvs(line, argv_bin, tmp_path)
    assert argv == [*manager.install, "--", *HOSTILE]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"], "a name ran a command"


@pytest.mark.parametrize("init", ["systemd", "openrc"])
def test_service_names_arrive_as_one_argument(init: str, argv_bin: Path, tmp_path: Path) -> None:
    # a unit name holds no quote, space or $: systemd's hardest is a backslash escape and a dash
    name = "it's $(touch INJ) `touch INJ` a b;c" if init != "systemd" else "-a\\x2db@c:d\\.service"
    commands, _ = _plan(ensure_service(init, name, is_running=False, is_enabled=False, enabled=True))
    argvs = [a for line in commands for a in _argvs(line, argv_bin, tmp_path)]
    if init == "systemd":
        assert argvs == [["systemctl", "start", "--", name], ["systemctl", "enable", "--", name]]
    else:
        assert argvs == [["rc-service", name, "start"], ["rc-update", "add", name, "default"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_sysvinit_runs_the_script_of_that_name(argv_bin: Path, tmp_path: Path) -> None:
    """``invoke`` of a hostile absolute path: the one program at that path runs."""
    from oxinfra.quoting import invoke

    weird = tmp_path / "init.d it's $(touch INJ)"
    weird.mkdir()
    script = weird / "my app"
    script.write_text(ARGV_PRINTER)
    script.chmod(0o755)
    out = subprocess.run(
        ["/bin/sh", "-c", invoke(str(script), "start")], capture_output=True, cwd=tmp_path, timeout=10, check=True
    ).stdout
    assert out.split(b"\0")[:-1] == [b"@@ARGV", b"my app", b"start"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", weird.name]
    with pytest.raises(ValueError, match="absolute path"):
        invoke("X=1", "start")


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="no apt-get on this machine")
def test_apt_get_reads_names_after_the_end_of_options() -> None:
    simulate = PackageManager(install=("apt-get", "install", "-s"), uninstall=("apt-get", "remove", "-s"))
    (line,), _ = _plan(ensure_packages(simulate, ["-rf"], {}))
    done = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, timeout=60)
    assert "Unable to locate package -rf" in done.stdout + done.stderr, done
    # without the end of options apt-get reads the name as options
    bare = subprocess.run(["apt-get", "install", "-s", "-rf"], capture_output=True, text=True, timeout=60)
    assert "Unable to locate package" not in bare.stdout + bare.stderr


def test_pip_reads_names_after_the_end_of_options(tmp_path: Path) -> None:
    pip = PackageManager(
        install=("python", "-m", "pip", "download", "--no-deps", "--no-index", "-d", str(tmp_path)),
        uninstall=("python", "-m", "pip", "uninstall"),
    )
    (line,), _ = _plan(ensure_packages(pip, ["-rf"], {}))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, timeout=60, env=env)
    assert "Invalid requirement: '-rf'" in done.stderr, done.stderr
    bare = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-index", "-rf"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "Invalid requirement" not in bare.stderr


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="no systemctl on this machine")
def test_systemctl_reads_units_after_the_end_of_options() -> None:
    """Without a running systemd the command fails, but after its options were parsed."""
    line = service_command("systemd", "-foo", "start")
    done = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, timeout=30)
    bare = subprocess.run(["systemctl", "start", "-foo"], capture_output=True, text=True, timeout=30)
    assert "Unknown output" in bare.stderr  # "-foo" read as -f -o o
    assert "Unknown output" not in done.stderr and "invalid option" not in done.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_download_once_fetches_once_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    from oxinfra.operations.util.packaging import download_once

    source = tmp_path / "it's a key.asc"
    source.write_text("first\n")
    dest = tmp_path / "dest dir" / "key $(x).asc"
    dest.parent.mkdir()
    line = download_once(source.as_uri(), str(dest))
    subprocess.run(["/bin/sh", "-c", line], check=True, timeout=30)
    assert dest.read_text() == "first\n"
    source.write_text("second\n")
    subprocess.run(["/bin/sh", "-c", line], check=True, timeout=30)
    assert dest.read_text() == "first\n"  # there already: not fetched again
    missing = download_once((tmp_path / "nope").as_uri(), str(tmp_path / "out"))
    proc = subprocess.run(["/bin/sh", "-c", missing], capture_output=True, timeout=30)
    assert proc.returncode != 0
    assert not (tmp_path / "out").exists()


def test_split_pins_and_option_words_refuse_clearly() -> None:
    from oxinfra.operations.util.packaging import option_words, split_pins

    assert split_pins("t.op", "curl=8.6.0-1") == [("curl", "8.6.0-1")]
    assert split_pins("t.op", None) == []
    with pytest.raises(OperationValueError, match=r"t.op: '1;x' is not a version"):
        split_pins("t.op", ["curl=1;x"])
    with pytest.raises(OperationValueError, match="t.op: packages= must be a name or a list of names"):
        split_pins("t.op", {"curl": "1"})
    assert option_words("t.op", "extra", "--a 'b c'") == ["--a", "b c"]
    with pytest.raises(OperationValueError, match="must start with an option"):
        option_words("t.op", "extra", "curl --a")
