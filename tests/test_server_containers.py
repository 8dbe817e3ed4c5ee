"""The ``server`` family's operations on real Debian hosts (``oxinfra.testing.containers``):
each one applied, the result read back independently (``docker exec``: getent, id, stat,
cat), applied again (nothing changes), drifted by hand, predicted by ``--dry`` (the exact
commands the repairing run then sends) and repaired.

Everything runs on the first host of the session fleet, logged in as ``deploy`` with
``_sudo=True``, under names no other test uses, removed before and after. ``server.locale``,
``mount``, ``hostname``, ``sysctl`` and ``modprobe``: tests/test_server_kernel_containers.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import deploy_cycle
from e2e_helpers import invoke, run_deploy, verbose, write_deploy

pytestmark = pytest.mark.containers

K1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@example"
K2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo two@example"
HASH = "$6$oxsalt$2Kx0b8jzv1b3QyJmJ9kq3c0s1v4GQ2m6m1mYf0ZbI0r7bE1vV0mX5rC9dR5yP2yH8wI7zX3nG1aQ2bC3dD4eF."


@pytest.fixture
def host(container_fleet: Any, tmp_path: Path) -> Any:
    """(fleet, host name, inventory of that host); the test accounts removed around the test."""
    name = container_fleet.hosts[0]
    clean = "userdel -r oxu 2>/dev/null; groupdel oxg 2>/dev/null; rm -rf /home/oxu; true"
    container_fleet.sh(name, clean)
    inventory = container_fleet.write_inventory(tmp_path / "inventory.py", hosts=[name])
    yield container_fleet, name, inventory
    container_fleet.sh(name, clean)


USERS_DEPLOY = f"""
from oxinfra.operations import server
server.group(name="group", group="oxg", gid=2345, _sudo=True)
server.user(name="user", user="oxu", shell="/bin/bash", groups=["oxg", "users"], comment="Ox U",
            password={HASH!r}, public_keys=[{K1!r}], _sudo=True)
server.user_authorized_keys(name="keys", user="oxu", public_keys=[{K2!r}], _sudo=True)
"""


def account_state(fleet: Any, name: str) -> str:
    """Read with docker exec, not through oxinfra."""
    return fleet.sh(
        name,
        "getent passwd oxu | cut -d: -f1,5-7; id -Gn oxu; getent shadow oxu | cut -d: -f2; getent group oxg; "
        "stat -c '%n %U:%G %a' /home/oxu /home/oxu/.ssh /home/oxu/.ssh/authorized_keys; "
        "cat /home/oxu/.ssh/authorized_keys",
    )


def test_user_group_and_keys(host: Any, tmp_path: Path) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(tmp_path, USERS_DEPLOY)
    first = run_deploy(inventory, deploy)
    assert first.code == 0, first.describe()
    assert first.statuses(name) == {"group": "changed", "user": "changed", "keys": "changed"}
    want = (
        "oxu:Ox U:/home/oxu:/bin/bash\noxu users oxg\n"
        f"{HASH}\noxg:x:2345:oxu\n"
        "/home/oxu oxu:oxu 755\n/home/oxu/.ssh oxu:oxu 700\n/home/oxu/.ssh/authorized_keys oxu:oxu 600\n"
        f"{K1}\n{K2}\n"
    )
    assert account_state(fleet, name) == want
    # the hash never was a process argument: only printf (a builtin) held it
    again = run_deploy(inventory, deploy)
    assert again.code == 0, again.describe()
    assert again.statuses(name) == {"group": "unchanged", "user": "unchanged", "keys": "unchanged"}
    assert account_state(fleet, name) == want

    # drift by hand: the group gone (and with it the membership), another shell, a key removed
    fleet.sh(name, "groupdel oxg && usermod -s /bin/sh oxu && sed -i '/two@example/d' /home/oxu/.ssh/authorized_keys")
    drifted = account_state(fleet, name)
    dry = verbose(inventory, deploy, dry=True)
    assert account_state(fleet, name) == drifted, "--dry changed the host"
    keys_status, (rewrite,) = dry.pop("keys")
    assert dry == {
        "group": ("changed", ["groupadd --gid 2345 -- oxg"]),
        "user": ("changed", ["usermod -s /bin/bash -G oxg,users -- oxu"]),
    }
    # the file is rewritten inside ~/.ssh (never appended to through its name)
    assert keys_status == "changed" and rewrite.startswith("(if cd -P -- /home/oxu/.ssh && ")
    assert f"printf %s '{K1}" in rewrite  # (-vv shows a command's first line)
    dry["keys"] = (keys_status, [rewrite])
    repair = verbose(inventory, deploy)
    assert {op: cmds for op, (_, cmds) in repair.items()} == {op: cmds for op, (_, cmds) in dry.items()}
    assert account_state(fleet, name) == want
    assert run_deploy(inventory, deploy).statuses(name) == {
        "group": "unchanged",
        "user": "unchanged",
        "keys": "unchanged",
    }

    # and away again: the account and the group (the home stays, as with pyinfra)
    gone = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.user(name="user", user="oxu", present=False, _sudo=True)
        server.group(name="group", group="oxg", present=False, _sudo=True)
        """,
        name="gone.py",
    )
    removed = run_deploy(inventory, gone)
    assert removed.statuses(name) == {"user": "changed", "group": "changed"}, removed.describe()
    assert fleet.exec(name, "getent", "passwd", "oxu", check=False).returncode == 2
    assert fleet.exec(name, "getent", "group", "oxg", check=False).returncode == 2
    assert fleet.exec(name, "test", "-d", "/home/oxu", check=False).returncode == 0
    assert run_deploy(inventory, gone).statuses(name) == {"user": "unchanged", "group": "unchanged"}


def test_dry_run_predicts_keys_of_a_user_created_before_them(host: Any, tmp_path: Path) -> None:
    """--dry of a deploy that creates a group, a user in it and the user's keys, on a host
    where none exist: every operation would change, and the commands shown are exactly those
    the run then sends (the keys of the user the plan creates: in its home, owned by it)."""
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.group(name="group", group="oxg", _sudo=True)
        server.user(name="user", user="oxu", shell="/bin/bash", group="oxg", groups=["users"], _sudo=True)
        server.user_authorized_keys(name="keys", user="oxu", public_keys=[{K1!r}], _sudo=True)
        server.user(name="again", user="oxu", shell="/bin/bash", group="oxg", groups=["users"], _sudo=True)
        server.group(name="group again", group="oxg", _sudo=True)
        """,
    )
    before = fleet.sh(name, "getent passwd oxu; getent group oxg; ls -a /home")
    dry = verbose(inventory, deploy, dry=True)
    assert fleet.sh(name, "getent passwd oxu; getent group oxg; ls -a /home") == before, "--dry changed the host"
    assert {op: status for op, (status, _) in dry.items()} == {
        "group": "changed",
        "user": "changed",
        "keys": "changed",
        "again": "unchanged",
        "group again": "unchanged",
    }
    assert dry["keys"][1][:3] == [
        "mkdir -p -- /home/oxu",
        "mkdir -m 700 -- /home/oxu/.ssh",
        "chown -h -- oxu:oxg /home/oxu/.ssh",
    ], dry
    applied = verbose(inventory, deploy)
    assert {op: cmds for op, (_, cmds) in applied.items()} == {op: cmds for op, (_, cmds) in dry.items()}
    assert {op: status for op, (status, _) in applied.items()} == {
        "group": "changed",
        "user": "changed",
        "keys": "changed",
        "again": "unchanged",
        "group again": "unchanged",
    }


def test_user_refused_before_anything_runs(host: Any, tmp_path: Path) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.group(name="group", group="oxg", _sudo=True)
        server.user(name="user", user="-oxu", _sudo=True)
        """,
    )
    out = run_deploy(inventory, deploy)
    assert out.code != 0
    assert "server.user: user '-oxu' is not a valid name" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert fleet.exec(name, "getent", "group", "oxg", check=False).returncode == 2  # nothing ran


HOMES = "/usr/sbin /var/www / /srv/oxapp /srv/oxshared /home/deploy"


def owners(fleet: Any, name: str) -> str:
    return fleet.sh(name, f"for d in {HOMES}; do stat -c '%n %U:%G' $d 2>/dev/null || echo $d missing; done")


def test_user_ensure_home_takes_over_no_one_elses_directory(host: Any, tmp_path: Path) -> None:
    """ensure_home (the default) on accounts whose homes are not theirs to own: an existing
    system account (daemon: /usr/sbin; www-data: /var/www, missing here), a new system user
    whose home is /, an existing user whose home belongs to root and is shared, a new user
    given another user's home. None of those is created or chowned (pyinfra 3.10 chowns
    /usr/sbin to daemon and makes /var/www); a new user's home= that root made for it is
    taken over. Proven with stat through docker exec, and with --dry saying the same."""
    fleet, name, inventory = host
    clean = "userdel oxsys 2>/dev/null; userdel oxu2 2>/dev/null; userdel oxu3 2>/dev/null; rm -rf /srv/oxapp /srv/oxshared; true"
    fleet.sh(name, clean)
    fleet.sh(name, "rm -rf /var/www; mkdir /srv/oxapp /srv/oxshared && useradd -M -d /srv/oxshared oxu")
    before = owners(fleet, name)
    assert "/srv/oxshared root:root" in before and "/usr/sbin root:root" in before and "/var/www missing" in before
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.user(name="daemon", user="daemon", shell="/usr/sbin/nologin", _sudo=True)
        server.user(name="www", user="www-data", _sudo=True)
        server.user(name="oxsys", user="oxsys", home="/", system=True, _sudo=True)
        server.user(name="shared", user="oxu", _sudo=True)
        server.user(name="other's", user="oxu3", home="/home/deploy", _sudo=True)
        server.user(name="adopt", user="oxu2", home="/srv/oxapp", _sudo=True)
        """,
    )
    try:
        dry = verbose(inventory, deploy, dry=True)
        assert owners(fleet, name) == before
        assert dry == {
            "daemon": ("unchanged", []),
            "www": ("unchanged", []),
            "oxsys": ("changed", ["useradd -d / -r -M -- oxsys"]),
            "shared": ("unchanged", []),
            "other's": ("changed", ["useradd -d /home/deploy -M -- oxu3"]),
            "adopt": ("changed", ["useradd -d /srv/oxapp -M -- oxu2", "chown -- oxu2:oxu2 /srv/oxapp"]),
        }, dry
        first = run_deploy(inventory, deploy)
        assert first.code == 0, first.describe()
        want = before.replace("/srv/oxapp root:root", "/srv/oxapp oxu2:oxu2")
        assert owners(fleet, name) == want
        again = run_deploy(inventory, deploy)
        assert set(again.statuses(name).values()) == {"unchanged"}, again.describe()
        assert owners(fleet, name) == want
    finally:
        fleet.sh(name, clean)


FACTS_DEPLOY = """
import json, os
from oxinfra import host
from oxinfra.facts.server import Groups, Users
with open(os.path.join(os.path.dirname(__file__), "facts.json"), "w") as fh:
    json.dump({"users": host.get_fact(Users, _sudo=True), "groups": host.get_fact(Groups)}, fh, default=str)
"""


def test_users_and_groups_facts_match_getent(host: Any, tmp_path: Path) -> None:
    """The facts against the host's own tools: getent (NSS: the files here), id, /etc/shadow."""
    fleet, name, inventory = host
    fleet.sh(name, "groupadd -g 2345 oxg && useradd -M -c 'Ox, U' -G oxg,users oxu && lastlog -S -u oxu")
    out = run_deploy(inventory, write_deploy(tmp_path, FACTS_DEPLOY))
    assert out.code == 0, out.describe()
    facts = json.loads((tmp_path / "facts.json").read_text())
    users, groups = facts["users"], facts["groups"]
    assert groups == [line.split(":")[0] for line in fleet.sh(name, "getent group").splitlines()]
    passwd = [line.split(":") for line in fleet.sh(name, "getent passwd").splitlines()]
    assert list(users) == [p[0] for p in passwd]
    shadow = dict(line.split(":")[:2] for line in fleet.sh(name, "getent shadow").splitlines())
    for login, _x, uid, gid, comment, home, shell in passwd:
        entry = users[login]
        assert (entry["uid"], entry["gid"], entry["comment"], entry["home"], entry["shell"]) == (
            int(uid),
            int(gid),
            comment or None,
            home or None,
            shell or None,
        )
        primary, *others = fleet.sh(name, f"id -Gn {login}").split()
        assert entry["group"] == primary and sorted(entry["groups"]) == sorted(others), login
        assert entry["password"] == shadow[login]
    assert users["oxu"]["comment"] == "Ox, U" and users["oxu"]["groups"] == ["users", "oxg"]
    assert users["oxu"]["lastlog"] is not None and users["oxu"]["login_time"] is not None
    assert users["root"]["lastlog"] is None


# -------------------------------------------------------------------------------- settings


def apply_cycle(host: Any, tmp_path: Path, source: str, read: str, **kwargs: Any) -> None:
    """e2e_helpers.deploy_cycle on the test host (its inventory): ``read`` is a shell script
    whose output is the state (docker exec)."""
    fleet, _, inventory = host
    deploy_cycle(fleet, tmp_path, source, read, inventory=inventory, **kwargs)


def test_timezone(host: Any, tmp_path: Path) -> None:
    fleet, name, _ = host
    before = fleet.sh(name, "readlink /etc/localtime; cat /etc/timezone").split()
    try:
        apply_cycle(
            host,
            tmp_path,
            """
            from oxinfra.operations import server
            server.timezone(name="tz", timezone="Europe/Amsterdam", _sudo=True)
            """,
            read="readlink /etc/localtime; cat /etc/timezone; env -u TZ date -d @1700000000 +%Z",
            want="/usr/share/zoneinfo/Europe/Amsterdam\nEurope/Amsterdam\nCET\n",
            drift="ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime",
            dry_commands={"tz": ["ln -sfn -- /usr/share/zoneinfo/Europe/Amsterdam /etc/localtime"]},
        )
    finally:
        fleet.sh(name, f"ln -sf {before[0]} /etc/localtime && echo {before[1]} > /etc/timezone")


def test_security_limit(host: Any, tmp_path: Path) -> None:
    fleet, name, _ = host
    limits = "/etc/security/limits.conf"
    original = fleet.exec(name, "cat", limits).stdout
    try:
        apply_cycle(
            host,
            tmp_path,
            """
            from oxinfra.operations import server
            server.security_limit(name="limit", domain="oxu", limit_type="soft", item="nofile", value=4096,
                                  _sudo=True)
            """,
            read=f"grep -n '^oxu' {limits}; wc -l < {limits}",
            want=f"{original.count(chr(10)) + 1}:oxu\tsoft\tnofile\t4096\n{original.count(chr(10)) + 1}\n",
            drift=f"sed -i 's/^oxu.*/oxu   soft   nofile   10/' {limits}",
            dry_commands={
                "limit": [
                    "sed -i -e 's/^oxu[[:space:]][[:space:]]*soft[[:space:]][[:space:]]*nofile[[:space:]].*$/"
                    f"oxu\tsoft\tnofile\t4096/' -- {limits}"
                ]
            },
        )
    finally:
        fleet.sh(name, f"sed -i '/^oxu/d' {limits}")


def test_crontab(host: Any, tmp_path: Path) -> None:
    fleet, name, _ = host
    fleet.sh(name, "crontab -r -u deploy 2>/dev/null; true")
    want = "# pyinfra-name=oxtest\n*/5 1,13 * * * /usr/bin/true oxinfra-test\n\n@daily echo hi >/dev/null 2>&1\n"
    try:
        apply_cycle(
            host,
            tmp_path,
            """
            from oxinfra.operations import crontab, server
            crontab.crontab(name="cron", command="/usr/bin/true oxinfra-test", cron_name="oxtest", minute="*/5",
                            hour=[1, 13], user="deploy", _sudo=True)
            server.crontab(name="cron2", command="echo hi >/dev/null 2>&1", special_time="@daily", user="deploy",
                           _sudo=True)
            """,
            read="crontab -l -u deploy",
            want=want,
            drift="crontab -l -u deploy | sed 's|^[*]/5 1,13|0 2|' | crontab -u deploy -",
            dry_commands={
                "cron": [
                    "printf '%s\\n' '# pyinfra-name=oxtest' '*/5 1,13 * * * /usr/bin/true oxinfra-test' '' "
                    "'@daily echo hi >/dev/null 2>&1' | crontab -u deploy -"
                ]
            },
        )
    finally:
        fleet.sh(name, "crontab -r -u deploy 2>/dev/null; true")


def test_crontab_keeps_the_other_lines_byte_for_byte(host: Any, tmp_path: Path) -> None:
    """A crontab holding Latin-1 bytes (not UTF-8), a line with trailing blanks and a tab:
    adding, changing and removing an entry rewrites the crontab, and every other line comes
    back exactly as it was (read as bytes with docker exec). (Not a CR: Debian's ``crontab
    -l`` itself shows one as the two characters ``\r``, as ``crontab -e`` would then save.)"""
    fleet, name, inventory = host
    # "# caf\xe9 cr\xe8me", an entry whose command holds \xe9, trailing blanks, a tab
    other = b"# caf\xe9 cr\xe8me\nMAILTO=root  \n0 1 * * * echo \xe9t\xe9 >/dev/null \n\t# tab\n"
    fleet.sh(name, f"echo {base64.b64encode(other).decode()} | base64 -d | crontab -u deploy -")

    def crontab_bytes() -> bytes:
        return base64.b64decode(fleet.sh(name, "crontab -l -u deploy | base64 -w0"))

    assert crontab_bytes() == other
    entry = (
        "from oxinfra.operations import crontab\ncrontab.crontab(name='cron', command='/bin/true ox', "
        "cron_name='ox', user='deploy', _sudo=True, {})\n"
    )
    try:
        for args, want in (
            ("hour=3", other + b"\n# pyinfra-name=ox\n* 3 * * * /bin/true ox\n"),
            ("hour=4", other + b"\n# pyinfra-name=ox\n* 4 * * * /bin/true ox\n"),
            ("present=False", other + b"\n"),
        ):
            deploy = write_deploy(tmp_path, entry.format(args))
            out = run_deploy(inventory, deploy)
            assert out.code == 0, out.describe()
            assert out.statuses(name) == {"cron": "changed"}
            assert crontab_bytes() == want, args
            dry = invoke("--dry", "-vv", inventory, deploy, json_events=False)
            assert dry.code == 0 and "Traceback" not in dry.stdout + dry.stderr, dry.describe()
    finally:
        fleet.sh(name, "crontab -r -u deploy 2>/dev/null; true")


# -------------------------------------------------------------------------------- running things
# server.script, script_template, wait and kill cannot know whether they change anything:
# they always run and count as a change (as in pyinfra), so "apply again: nothing changes"
# becomes "apply again: the same commands, the same state".


def test_script_and_script_template(host: Any, tmp_path: Path) -> None:
    fleet, name, inventory = host
    (tmp_path / "hello.sh").write_text(
        '#!/bin/sh\nprintf "%s|" "$@" > /tmp/oxinfra-script-out\nid -un >> /tmp/oxinfra-script-out\n'
    )
    (tmp_path / "t.sh.j2").write_text('#!/bin/bash\necho "{{ word }} $1" > /tmp/oxinfra-template-out\n')
    (tmp_path / "fail.sh").write_text("#!/bin/sh\necho failing >&2\nexit 3\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.script(name="script", src="hello.sh", args=["a b", "--x", "$(id)"], _sudo=True)
        server.script_template(name="template", src="t.sh.j2", args=["two"], word="it's", _sudo=True)
        """,
    )
    fleet.sh(name, "rm -f /tmp/oxinfra-script-out /tmp/oxinfra-template-out")
    listing = "ls -A /tmp | grep -v '^oxinfra-.*[.]lock$'; true"  # the run's host lock stays
    before = fleet.sh(name, listing)
    for _ in range(2):
        out = run_deploy(inventory, deploy)
        assert out.code == 0, out.describe()
        assert out.statuses(name) == {"script": "changed", "template": "changed"}
        assert fleet.sh(name, "cat /tmp/oxinfra-script-out") == "a b|--x|$(id)|root\n"
        assert fleet.sh(name, "cat /tmp/oxinfra-template-out") == "it's two\n"
        fleet.sh(name, "rm /tmp/oxinfra-script-out /tmp/oxinfra-template-out")
        assert fleet.sh(name, listing) == before  # the scripts' directories are gone
    failing = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.script(name="fails", src="fail.sh", _sudo=True)
        """,
        name="failing.py",
    )
    out = run_deploy(inventory, failing)
    assert out.code == 1
    op = out.op(name, "fails")
    assert op["status"] == "failed" and "3" in op["error"] and "failing" in op["stderr"], op
    assert fleet.sh(name, listing) == before  # its directory is gone too


def test_wait_and_kill(host: Any, tmp_path: Path) -> None:
    fleet, name, inventory = host
    fleet.exec(name, "sh", "-c", "setsid sleep 4242 >/dev/null 2>&1 < /dev/null &")
    pid = fleet.sh(name, "pgrep -x -f 'sleep 4242'").strip()
    assert pid.isdigit()
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.wait(name="sshd", port=22, _timeout=30)
        server.kill(name="kill", pid={pid}, signal="KILL", _sudo=True)
        """,
    )
    out = run_deploy(inventory, deploy)
    assert out.code == 0, out.describe()
    assert out.statuses(name) == {"sshd": "changed", "kill": "changed"}
    assert fleet.exec(name, "pgrep", "-x", "-f", "sleep 4242", check=False).returncode == 1
    again = run_deploy(inventory, deploy)  # the process is gone: kill says so
    assert again.op(name, "kill")["status"] == "failed" and "No such process" in again.op(name, "kill")["stderr"]
    # nothing listens on 1: the wait ends at its timeout, as a failure naming it
    idle = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.wait(name="nothing", port=1, _timeout=3)
        """,
        name="idle.py",
    )
    out = run_deploy(inventory, idle)
    assert out.code != 0 and out.op(name, "nothing")["status"] == "failed", out.describe()


def test_etc_hosts(host: Any, tmp_path: Path) -> None:
    """On a file of the test's own: the container's /etc/hosts is a bind mount, which a new
    file cannot be renamed over."""
    fleet, name, _ = host
    path = "/etc/oxinfra-test-hosts"
    fleet.sh(name, f"printf '127.0.0.1\\tlocalhost\\n# keep me\\n10.0.0.5 db old # note\\n' > {path}")
    try:
        apply_cycle(
            host,
            tmp_path,
            f"""
            from oxinfra.operations import server
            server.etc_hosts(name="db", ip="10.0.0.5", hostnames=["db", "db.internal"], path={path!r}, _sudo=True)
            server.etc_hosts(name="cache", ip="fe80::1", hostnames="cache", path={path!r}, _sudo=True)
            server.etc_hosts(name="gone", ip="127.0.0.1", hostnames="localhost", present=False, path={path!r},
                             _sudo=True)
            """,
            read=f"cat {path}; stat -c %a {path}",
            want="# keep me\n10.0.0.5 db db.internal\nfe80::1 cache\n644\n",
            drift=f"sed -i 's/db.internal/db.other/' {path}",
            dry_commands={"db": [f"FileUpload(48 bytes -> '{path}', umask 133, keeps the old owner)"]},
        )
    finally:
        fleet.sh(name, f"rm -f {path}")


def test_reboot_reconnects_after_the_host_restarts(container_fleet_factory: Any, tmp_path: Path) -> None:
    """A container cannot reboot itself: ``docker restart`` stands in for the reboot (started
    once the operation has closed its connection), and what is proven is the rest of
    server.reboot: close, wait, connect again to the restarted host (same address and host
    key), take the lock on the new shell, and go on with the deploy."""
    import subprocess
    import threading
    import time

    fleet = container_fleet_factory(1)
    name = fleet.hosts[0]
    inventory = fleet.write_inventory(tmp_path / "inventory.py")

    def started() -> str:
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", name], capture_output=True, text=True)
        return out.stdout.strip()

    first_start = started()
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="before", commands=["echo before > /tmp/oxinfra-before"])
        server.reboot(name="reboot", delay=8, interval=1, reboot_timeout=90, _sudo=True)
        server.shell(name="after", commands=["echo after > /tmp/oxinfra-after"])
        """,
    )
    restarted: list[str] = []

    def restart_when_disconnected() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = fleet.exec(
                name, "sh", "-c", "test -e /tmp/oxinfra-before && ! pgrep -f '[s]shd: deploy'", check=False
            )
            if seen.returncode == 0:
                subprocess.run(["docker", "restart", "-t", "0", name], capture_output=True, timeout=60)
                restarted.append(started())
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=restart_when_disconnected)
    watcher.start()
    out = run_deploy(inventory, deploy)
    watcher.join()
    assert out.code == 0, out.describe()
    assert out.statuses(name) == {"before": "changed", "reboot": "changed", "after": "changed"}
    assert restarted and restarted[0] != first_start, "the container was not restarted"
    assert fleet.sh(name, "cat /tmp/oxinfra-after") == "after\n"
