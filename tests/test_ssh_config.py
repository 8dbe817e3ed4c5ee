"""SSH as ``ssh`` behaves: the OpenSSH client config, host data over it, per-host checks of
SSH data, and host keys (first contact, changed, revoked) -- against real sshd processes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import MARK_DEPLOY as DEPLOY, hosts_inventory as _inventory, ssh_config_file as _config
from e2e_helpers import assert_no_traceback, run_cli, run_deploy, target, write_deploy

__all__ = ["target"]  # fixtures used here


def test_host_block_of_the_config_file(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """An alias known only to the config file: HostName, Port, User, IdentityFile and
    UserKnownHostsFile all come from its Host block (no SSH data in the inventory at all)."""
    config = _config(
        tmp_path,
        sshd_fleet,
        """
Host web-alias
    HostName 127.0.0.2
    Port @PORT@
    User @USER@
    IdentityFile @KEY@
    IdentitiesOnly yes
    UserKnownHostsFile @KNOWN@
    StrictHostKeyChecking yes
""",
    )
    deploy = write_deploy(tmp_path, DEPLOY, target)
    by_data = _inventory(tmp_path, {"web-alias": {"ssh_config_file": str(config)}})
    out = run_deploy(by_data, deploy)
    assert out.code == 0, out.describe()
    assert (target / "web-alias").is_file()
    # the same file given on the command line instead of in host data
    (target / "web-alias").unlink()
    plain = _inventory(tmp_path, {"web-alias": {}}, "plain.py")
    out = run_cli("--json", "-y", "--ssh-config", config, plain, deploy)
    assert out.code == 0, out.describe()
    assert (target / "web-alias").is_file()


def test_host_data_wins_over_the_config(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    config = _config(
        tmp_path,
        sshd_fleet,
        """
Host 127.0.0.*
    Port 1
    User nobody-here
    UserKnownHostsFile @KNOWN@
""",
    )
    deploy = write_deploy(tmp_path, DEPLOY, target)
    inventory = _inventory(tmp_path, {"127.0.0.3": {"ssh_config_file": str(config), **sshd_fleet.ssh_data()}})
    out = run_deploy(inventory, deploy)
    assert out.code == 0, out.describe()
    assert (target / "127.0.0.3").is_file()
    # without the data the config's (wrong) port is what is used: the config is really read
    inventory = _inventory(
        tmp_path, {"127.0.0.3": {"ssh_config_file": str(config), "ssh_key": str(sshd_fleet.key_path)}}, "second.py"
    )
    out = run_deploy(inventory, deploy)
    assert out.host("127.0.0.3")["status"] == "unreachable", out.describe()
    assert ":1:" in out.host("127.0.0.3")["error"], out.describe()


@pytest.mark.parametrize(
    "key,value,words",
    [
        ("ssh_port", "x", "ssh_port='x'"),
        ("ssh_port", 70000, "ssh_port=70000"),
        ("ssh_port", True, "ssh_port=True"),
        ("ssh_strict_host_key_checking", "sometimes", "yes, no, accept-new or off"),
        ("ssh_strict_host_key_checking", "strict", "yes, no, accept-new or off"),
        ("ssh_strict_host_key_checking", 0, "yes, no, accept-new or off"),
        ("ssh_connect_timeout", "soon", "ssh_connect_timeout"),
        ("ssh_user", "", "ssh_user"),
    ],
)
def test_bad_ssh_data_fails_that_host_only(
    tmp_path: Path, target: Path, sshd_fleet: Any, key: str, value: Any, words: str
) -> None:
    good = sshd_fleet.ssh_data()
    hosts = {h: dict(good) for h in sshd_fleet.hosts}
    hosts["127.0.0.2"][key] = value
    out = run_cli("--json", "-y", _inventory(tmp_path, hosts), write_deploy(tmp_path, DEPLOY, target))
    assert_no_traceback(out)
    assert out.code == 4, out.describe()
    bad = out.host("127.0.0.2")
    assert bad["status"] == "unreachable" and words in bad["error"] and "127.0.0.2" in bad["error"], bad
    for name in ("127.0.0.1", "127.0.0.3"):
        assert out.host(name)["status"] == "success", out.describe()


def test_no_ssh_user_is_the_local_user_not_a_crash(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """Without ssh_user (and no config): the local user name, as ssh does -- here root, whom
    the test sshd refuses: a clean authentication failure of that host, no traceback."""
    data = {k: v for k, v in sshd_fleet.ssh_data().items() if k != "ssh_user"}
    out = run_cli(
        "--json",
        "-y",
        _inventory(tmp_path, {"127.0.0.1": data}),
        write_deploy(tmp_path, DEPLOY, target),
        env={"HOME": str(tmp_path)},
    )
    assert_no_traceback(out)
    assert out.host("127.0.0.1")["status"] == "unreachable", out.describe()
    assert "authentication failed" in out.host("127.0.0.1")["error"]


@pytest.fixture
def own_known_hosts(tmp_path: Path, sshd_fleet: Any) -> Iterator[tuple[Path, str]]:
    """A known hosts path in a directory that does not exist yet, and the fleet's key line."""
    key = " ".join(sshd_fleet.known_hosts.read_text().split("\n")[0].split()[1:3])
    yield tmp_path / "dot-ssh" / "known_hosts", key


def test_first_contact_is_reported_and_remembered(
    tmp_path: Path, target: Path, sshd_fleet: Any, own_known_hosts: tuple[Path, str]
) -> None:
    known, key = own_known_hosts
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known)}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": data}), write_deploy(tmp_path, DEPLOY, target))
    assert out.code == 0, out.describe()
    notices = [e for e in out.events if e["event"] == "notice"]
    assert len(notices) == 1 and "accepted host key" in notices[0]["message"], out.describe()
    assert stat.S_IMODE(known.parent.stat().st_mode) == 0o700
    assert known.read_text() == f"[127.0.0.1]:{sshd_fleet.port} {key}\n"
    again = run_deploy(_inventory(tmp_path, {"127.0.0.1": data}), write_deploy(tmp_path, DEPLOY, target))
    assert again.code == 0 and not [e for e in again.events if e["event"] == "notice"], again.describe()


def test_changed_host_key_is_refused_naming_the_line(
    tmp_path: Path, target: Path, sshd_fleet: Any, own_known_hosts: tuple[Path, str]
) -> None:
    known, _ = own_known_hosts
    known.parent.mkdir(mode=0o700)
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    known.write_text(f"# a comment\n[127.0.0.1]:{sshd_fleet.port} {other}\n")
    before = known.read_text()
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known)}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": data}), write_deploy(tmp_path, DEPLOY, target))
    assert out.code == 4, out.describe()
    error = out.host("127.0.0.1")["error"]
    assert "does not match" in error and "line 2" in error and "ssh-keygen -R" in error, error
    assert known.read_text() == before
    assert not (target / "127.0.0.1").exists()


def test_revoked_host_key_is_refused(
    tmp_path: Path, target: Path, sshd_fleet: Any, own_known_hosts: tuple[Path, str]
) -> None:
    """Only a @revoked line for the host: accept-new must not take it as "first contact"."""
    known, key = own_known_hosts
    known.parent.mkdir(mode=0o700)
    known.write_text(f"@revoked [127.0.0.1]:{sshd_fleet.port} {key}\n")
    before = known.read_text()
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known)}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": data}), write_deploy(tmp_path, DEPLOY, target))
    assert out.code == 4, out.describe()
    assert "@revoked" in out.host("127.0.0.1")["error"], out.describe()
    assert known.read_text() == before
    assert not (target / "127.0.0.1").exists()


def test_proxy_jump(tmp_path: Path, target: Path, sshd_fleet_factory: Any) -> None:
    """ProxyJump through a second loopback host (from the config file, and from host data);
    a jump host that does not answer makes the target unreachable, so the jump is really used."""
    fleet = sshd_fleet_factory(2, allow_tcp_forwarding=True)
    config = _config(
        tmp_path,
        fleet,
        """
Host jump
    HostName 127.0.0.1
    Port @PORT@
    User @USER@
    IdentityFile @KEY@
    UserKnownHostsFile @KNOWN@
Host broken-jump
    HostName 127.0.0.1
    Port 1
Host behind
    HostName 127.0.0.2
    ProxyJump jump
""",
    )
    deploy = write_deploy(tmp_path, DEPLOY, target)
    data = {k: v for k, v in fleet.ssh_data().items() if k != "ssh_port"}
    data["ssh_config_file"] = str(config)
    data["ssh_port"] = fleet.port
    via_config = _inventory(tmp_path, {"behind": data}, "a.py")
    out = run_deploy(via_config, deploy)
    assert out.code == 0, out.describe()
    via_data = _inventory(tmp_path, {"127.0.0.2": {**data, "ssh_proxy_jump": "jump"}}, "b.py")
    out = run_deploy(via_data, deploy)
    assert out.code == 0, out.describe()
    broken = _inventory(tmp_path, {"127.0.0.2": {**data, "ssh_proxy_jump": "broken-jump"}}, "c.py")
    out = run_deploy(broken, deploy)
    assert out.host("127.0.0.2")["status"] == "unreachable", out.describe()
    assert sorted(os.listdir(target)) == ["127.0.0.2", "behind"]
