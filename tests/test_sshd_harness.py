"""The loopback fleet really serves SSH: verified host keys, key-only login, a plain sh."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import socket
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from oxinfra.testing.sshd import TEST_USER, LoopbackFleet, host_address

REPO = Path(__file__).resolve().parents[1]


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _exec(fleet: LoopbackFleet, host: str, command: str, **overrides: Any) -> str:
    opts = {**fleet.asyncssh_options(), "config": None, **overrides}
    async with asyncssh.connect(host, **opts) as conn:
        result = await conn.run(command, check=True)
        return str(result.stdout)


def test_host_addresses() -> None:
    assert host_address(0) == "127.0.0.1"
    assert host_address(249) == "127.0.0.250"
    assert host_address(250) == "127.0.1.1"
    assert host_address(999) == "127.0.3.250"
    with pytest.raises(ValueError):
        host_address(-1)


def test_fleet_shape(sshd_fleet: LoopbackFleet) -> None:
    assert sshd_fleet.hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert sshd_fleet.running and 0 < sshd_fleet.port < 65536
    assert sshd_fleet.key_path.is_file() and (sshd_fleet.key_path.stat().st_mode & 0o077) == 0
    lines = sshd_fleet.known_hosts.read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == [f"[{h}]:{sshd_fleet.port}" for h in sshd_fleet.hosts]
    assert sshd_fleet.ssh_data() == {
        "ssh_port": sshd_fleet.port,
        "ssh_user": sshd_fleet.user,
        "ssh_key": str(sshd_fleet.key_path),
        "ssh_known_hosts_file": str(sshd_fleet.known_hosts),
    }
    if os.geteuid() == 0:
        assert sshd_fleet.user == TEST_USER
    else:
        assert sshd_fleet.user == pwd.getpwuid(os.geteuid()).pw_name


def test_every_host_logs_in_with_plain_sh(sshd_fleet: LoopbackFleet) -> None:
    script = (
        'id -un; echo "$HOME"; echo "$0"; readlink /proc/$$/exe; '
        'echo "bash=${BASH_VERSION-none} env=${ENV-none}"; hostname -I >/dev/null 2>&1; '
        'echo "$SSH_CONNECTION"'
    )

    async def all_hosts() -> list[str]:
        return await asyncio.gather(*(_exec(sshd_fleet, h, script) for h in sshd_fleet.hosts))

    home = pwd.getpwnam(sshd_fleet.user).pw_dir
    for host, out in zip(sshd_fleet.hosts, _run(all_hosts())):
        user, env_home, argv0, exe, rc, conn = out.splitlines()
        assert user == sshd_fleet.user
        assert env_home == home
        assert argv0 == "sh"  # sh -c, not a login shell
        assert os.path.basename(exe) in ("dash", "sh"), exe
        assert rc == "bash=none env=none"  # no rc file can have been sourced
        # the connection really reached the address we asked for
        assert conn.split()[2:] == [host, str(sshd_fleet.port)]


def test_home_is_empty_and_tmp_writable(sshd_fleet: LoopbackFleet) -> None:
    out = _run(
        _exec(
            sshd_fleet,
            sshd_fleet.hosts[1],
            'ls -A "$HOME" | wc -l; d=$(mktemp -d /tmp/oxinfra-harness.XXXXXX) && '
            "mkdir -p /tmp/fleet-target/harness-$$ && rmdir /tmp/fleet-target/harness-$$ && "
            'echo ok > "$d/f" && cat "$d/f" && rm -r "$d"',
        )
    )
    count, ok = out.split()
    if sshd_fleet.user == TEST_USER:
        assert count == "0"
    assert ok == "ok"


def test_wrong_key_is_refused(sshd_fleet: LoopbackFleet) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        _run(_exec(sshd_fleet, sshd_fleet.hosts[0], "true", client_keys=[stranger]))


def test_wrong_host_key_is_rejected(sshd_fleet: LoopbackFleet, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    bad = tmp_path / "known_hosts"
    bad.write_text("".join(f"[{h}]:{sshd_fleet.port} {other[0]} {other[1]}\n" for h in sshd_fleet.hosts))
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        _run(_exec(sshd_fleet, sshd_fleet.hosts[2], "true", known_hosts=str(bad)))


def test_other_user_is_refused(sshd_fleet: LoopbackFleet) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        _run(_exec(sshd_fleet, sshd_fleet.hosts[0], "true", username="root"))


def test_sftp_subsystem(sshd_fleet: LoopbackFleet) -> None:
    async def go() -> bytes:
        opts = {**sshd_fleet.asyncssh_options(), "config": None}
        async with asyncssh.connect(sshd_fleet.hosts[0], **opts) as conn:
            async with conn.start_sftp_client() as sftp:
                path = f"/tmp/oxinfra-sftp-{os.getpid()}"
                async with sftp.open(path, "wb") as fh:
                    await fh.write(b"payload\n")
                async with sftp.open(path, "rb") as fh:
                    data = await fh.read()
                await sftp.remove(path)
                assert isinstance(data, bytes)
                return data

    assert _run(go()) == b"payload\n"


def test_stop_kills_sshd_and_removes_files(sshd_fleet_factory: Any) -> None:
    fleet = sshd_fleet_factory(2)
    assert _run(_exec(fleet, fleet.hosts[1], "id -un")).strip() == fleet.user
    pid, port, workdir = fleet.pid, fleet.port, fleet.dir
    fleet.stop()
    assert not fleet.running and fleet.dir is None and not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(1)
        s.connect(("127.0.0.1", port))
    fleet.stop()  # idempotent


def test_context_manager_and_workdir(tmp_path: Path) -> None:
    from oxinfra.testing.sshd import SshdUnavailable

    try:
        with LoopbackFleet(1, workdir=tmp_path / "w") as fleet:
            assert fleet.dir is not None and fleet.dir.parent == tmp_path / "w"
            assert _run(_exec(fleet, fleet.hosts[0], "echo hi")) == "hi\n"
    except SshdUnavailable as exc:  # pragma: no cover - only without sshd
        pytest.skip(str(exc))
    assert list((tmp_path / "w").iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="password login needs root to set a password")
def test_password_login(sshd_fleet_factory: Any) -> None:
    fleet = sshd_fleet_factory(1, password="s3cret-pw")
    assert fleet.ssh_data()["ssh_password"] == "s3cret-pw"
    out = _run(_exec(fleet, fleet.hosts[0], "id -un", client_keys=None, password="s3cret-pw"))
    assert out.strip() == fleet.user
    with pytest.raises(asyncssh.PermissionDenied):
        _run(_exec(fleet, fleet.hosts[0], "id -un", client_keys=None, password="wrong"))


def _load_floor() -> Any:
    spec = importlib.util.spec_from_file_location("oxinfra_bench_floor", REPO / "benches" / "floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_end_state(sshd_fleet: LoopbackFleet, workload_dir: Path) -> None:
    floor = _load_floor()
    floor.clean_target()
    try:
        for _ in range(2):  # clean run, then a re-run over the existing state
            wall = _run(floor.run_floor(sshd_fleet.hosts, sshd_fleet.ssh_data(), workload_dir))
            assert wall > 0
            assert _run(floor.verify_floor(sshd_fleet.hosts, sshd_fleet.ssh_data(), workload_dir)) == []
    finally:
        floor.clean_target()
