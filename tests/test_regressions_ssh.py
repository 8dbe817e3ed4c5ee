"""Host keys and the OpenSSH client config as ``ssh`` reads them, on cases where oxinfra and
``ssh`` disagree today. Each test is a known bug, marked ``xfail(strict=True)``: run with
``--runxfail`` to see it fail; when the bug is fixed the test passes and the marker must go.

The "attacker" here is the loopback sshd itself: the known hosts files pin ANOTHER key for the
host (as they would when a man in the middle answers), so ``ssh`` refuses to connect and so
must oxinfra -- it would otherwise send the password and run the deploy on the impostor.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import MARK_DEPLOY as DEPLOY, hosts_inventory as _inventory, ssh_config_file as _config
from e2e_helpers import assert_no_traceback, run_cli, run_deploy, target, write_deploy

__all__ = ["target"]  # fixtures used here


def _other_key(directory: Path) -> str:
    """A host key that is NOT the fleet's: "ssh-ed25519 AAAA..."."""
    path = directory / "impostor_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", str(path)], check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _fleet_key(fleet: Any) -> str:
    return " ".join(fleet.known_hosts.read_text().split("\n")[0].split()[1:3])


def _refused(out: Any, name: str, target: Path) -> None:
    assert out.host(name)["status"] == "unreachable", out.describe()
    assert not (target / name).exists(), "the deploy ran on a host whose key is pinned to another key"
    assert not [e for e in out.events if e["event"] == "notice"], out.describe()


WEB = """
Host web
    HostName 127.0.0.2
    Port @PORT@
    User @USER@
    IdentityFile @KEY@
"""


def test_key_pinned_under_host_key_alias_is_enforced(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"pinned-alias {_other_key(tmp_path)}\n")
    before = known.read_text()
    config = _config(tmp_path, sshd_fleet, WEB + f"    HostKeyAlias pinned-alias\n    UserKnownHostsFile {known}\n")
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    _refused(out, "web", target)
    assert known.read_text() == before


def test_key_pinned_in_second_user_known_hosts_file_is_enforced(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    second = tmp_path / "known_hosts2"
    second.write_text(f"[127.0.0.2]:{sshd_fleet.port} {_other_key(tmp_path)}\n")
    config = _config(tmp_path, sshd_fleet, WEB + "    UserKnownHostsFile @DIR@/known_hosts @DIR@/known_hosts2\n")
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    _refused(out, "web", target)


def test_key_pinned_in_global_known_hosts_file_is_enforced(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    (tmp_path / "global_known").write_text(f"[127.0.0.2]:{sshd_fleet.port} {_other_key(tmp_path)}\n")
    config = _config(
        tmp_path,
        sshd_fleet,
        WEB + "    UserKnownHostsFile @DIR@/known_hosts\n    GlobalKnownHostsFile @DIR@/global_known\n",
    )
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    _refused(out, "web", target)


def test_user_known_hosts_file_tokens_are_expanded(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    (tmp_path / "kh").mkdir()
    (tmp_path / "kh" / f"127.0.0.2_{sshd_fleet.port}").write_text(
        f"[127.0.0.2]:{sshd_fleet.port} {_other_key(tmp_path)}\n"
    )
    config = _config(tmp_path, sshd_fleet, WEB + "    UserKnownHostsFile @DIR@/kh/%h_%p\n")
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    _refused(out, "web", target)
    assert sorted(p.name for p in (tmp_path / "kh").iterdir()) == [f"127.0.0.2_{sshd_fleet.port}"]


def test_match_user_block_for_the_local_user_applies(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    (tmp_path / "pinned").write_text(f"[127.0.0.2]:{sshd_fleet.port} {_other_key(tmp_path)}\n")
    # the login user comes from the Host block, which ssh reads AFTER the Match: the Match
    # is evaluated against the local user, as `ssh -G` shows
    config = _config(
        tmp_path,
        sshd_fleet,
        f"""
Match user {getpass.getuser()}
    UserKnownHostsFile @DIR@/pinned
    StrictHostKeyChecking yes
"""
        + WEB,
    )
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    _refused(out, "web", target)


def test_match_final_block_applies(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    (tmp_path / "pinned").write_text(f"[127.0.0.2]:{sshd_fleet.port} {_other_key(tmp_path)}\n")
    config = _config(
        tmp_path,
        sshd_fleet,
        WEB
        + """
Match final host 127.0.0.2
    UserKnownHostsFile @DIR@/pinned
    StrictHostKeyChecking yes
""",
    )
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    _refused(out, "web", target)


def test_port_specific_revoked_key_beats_a_portless_entry(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    key = _fleet_key(sshd_fleet)
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked [127.0.0.2]:{sshd_fleet.port} {key}\n127.0.0.2 {key}\n")
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known)}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.2": data}), write_deploy(tmp_path, DEPLOY, target))
    _refused(out, "127.0.0.2", target)
    assert "@revoked" in out.host("127.0.0.2")["error"], out.describe()


@pytest.mark.xfail(
    strict=True,
    reason="with ssh_hostname, asyncssh applies the config for the ADDRESS, not the "
    "host's name (ssh -o HostName=... keeps the name's Host block)",
)
def test_ssh_hostname_keeps_the_host_block_of_the_name(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    config = _config(
        tmp_path,
        sshd_fleet,
        """
Host web
    Port @PORT@
    User @USER@
    IdentityFile @KEY@
    UserKnownHostsFile @KNOWN@
    StrictHostKeyChecking yes
""",
    )
    inventory = _inventory(tmp_path, {"web": {"ssh_config_file": str(config), "ssh_hostname": "127.0.0.2"}})
    out = run_deploy(inventory, write_deploy(tmp_path, DEPLOY, target))
    assert out.code == 0, out.describe()
    assert (target / "web").is_file()


@pytest.mark.parametrize("value", ["ask", "Yes", "true"])
def test_strict_host_key_checking_values_ssh_accepts(tmp_path: Path, target: Path, sshd_fleet: Any, value: str) -> None:
    config = _config(tmp_path, sshd_fleet, WEB + f"    UserKnownHostsFile @KNOWN@\n    StrictHostKeyChecking {value}\n")
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}), write_deploy(tmp_path, DEPLOY, target)
    )
    assert out.code == 0, out.describe()
    # and an unknown host under "ask" is refused, the known hosts file left alone (batch mode)
    empty = tmp_path / "empty_known"
    empty.write_text("")
    config = _config(tmp_path, sshd_fleet, WEB + f"    UserKnownHostsFile {empty}\n    StrictHostKeyChecking {value}\n")
    out = run_deploy(
        _inventory(tmp_path, {"web": {"ssh_config_file": str(config)}}, "b.py"),
        write_deploy(tmp_path, DEPLOY.replace("@ROOT@", str(target / "second")), target),
    )
    assert out.host("web")["status"] == "unreachable", out.describe()
    assert empty.read_text() == ""


def test_jump_host_key_failure_names_the_jump_host(tmp_path: Path, target: Path, sshd_fleet_factory: Any) -> None:
    fleet = sshd_fleet_factory(2, allow_tcp_forwarding=True)
    jump_known = tmp_path / "jump_known"
    jump_known.write_text(f"[127.0.0.1]:{fleet.port} {_other_key(tmp_path)}\n")
    config = _config(
        tmp_path,
        fleet,
        f"""
Host jump
    HostName 127.0.0.1
    Port @PORT@
    User @USER@
    IdentityFile @KEY@
    UserKnownHostsFile {jump_known}
""",
    )
    data = {**fleet.ssh_data(), "ssh_config_file": str(config), "ssh_proxy_jump": "jump"}
    out = run_cli("--json", "-y", _inventory(tmp_path, {"127.0.0.2": data}), write_deploy(tmp_path, DEPLOY, target))
    assert_no_traceback(out)
    error = out.host("127.0.0.2")["error"]
    assert out.host("127.0.0.2")["status"] == "unreachable", out.describe()
    assert str(fleet.known_hosts) not in error and "-R [127.0.0.2]" not in error, error
    assert "jump" in error, error


def test_first_contact_keeps_a_last_line_without_newline(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    known = tmp_path / "known_hosts"
    pinned = f"elsewhere.example {_other_key(tmp_path)}"
    known.write_text(pinned)  # as some editors leave a file
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known)}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": data}), write_deploy(tmp_path, DEPLOY, target))
    assert out.code == 0, out.describe()
    lines = known.read_text().splitlines()
    assert lines == [pinned, f"[127.0.0.1]:{sshd_fleet.port} {_fleet_key(sshd_fleet)}"], lines


def test_unknown_host_under_strict_checking_is_not_called_changed(
    tmp_path: Path, target: Path, sshd_fleet: Any
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"elsewhere.example {_other_key(tmp_path)}\n")
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known), "ssh_strict_host_key_checking": "yes"}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.2": data}), write_deploy(tmp_path, DEPLOY, target))
    _refused(out, "127.0.0.2", target)
    error = out.host("127.0.0.2")["error"]
    assert "changed" not in error and "ssh-keygen -R" not in error, error


@pytest.mark.xfail(
    strict=True,
    reason="a @cert-authority line for the host makes asyncssh offer only certificate "
    "algorithms: a host without a certificate fails as 'Connection lost'",
)
def test_cert_authority_line_and_a_host_without_certificate(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority * {_other_key(tmp_path)}\n")
    data = {**sshd_fleet.ssh_data(), "ssh_known_hosts_file": str(known)}
    out = run_deploy(_inventory(tmp_path, {"127.0.0.2": data}), write_deploy(tmp_path, DEPLOY, target))
    result = out.host("127.0.0.2")
    # ssh (accept-new) takes the plain key as a first contact; refusing is defensible, but
    # then the error must say why
    assert result["status"] == "success" or "cert" in result["error"], out.describe()


def test_the_ssh_connector_imports_without_warnings() -> None:
    """cryptography 51 deprecates DSA with a warning when asyncssh 2.24 is imported: every run
    printed five lines of it on stderr (and pytest's warnings-as-errors turned it into each
    loopback host's internal error). The connector imports asyncssh with that warning off."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import oxinfra.connectors.ssh"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0 and not done.stderr, done.stderr


def test_a_jump_host_from_host_data_that_is_not_trusted_is_named_not_the_target(
    tmp_path: Path, target: Path, sshd_fleet_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ssh_proxy_jump="user@host:port"`` in host data: asyncssh checks the jump host against
    ``~/.ssh/known_hosts`` (here: empty). Found by a hostile review: the refusal was reported as
    the TARGET's key not matching its known hosts line, with the advice to remove that line --
    the target's correct pin."""
    fleet = sshd_fleet_factory(2, allow_tcp_forwarding=True)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    data = {**fleet.ssh_data(), "ssh_proxy_jump": f"{fleet.user}@127.0.0.1:{fleet.port}"}
    out = run_cli("--json", "-y", _inventory(tmp_path, {"127.0.0.2": data}), write_deploy(tmp_path, DEPLOY, target))
    assert_no_traceback(out)
    error = out.host("127.0.0.2")["error"]
    assert out.host("127.0.0.2")["status"] == "unreachable", out.describe()
    assert "ssh-keygen -R" not in error and str(fleet.known_hosts) not in error, error
    assert "ProxyJump" in error and "127.0.0.1" in error, error
