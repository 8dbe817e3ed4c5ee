"""``--ssh-user``, ``--ssh-port``, ``--ssh-key``, ``--ssh-key-password``, ``--ssh-password``
(and their prompts and environment variables) against a real loopback sshd that takes keys
and passwords.

pyinfra 3.10 makes them override data: they win over host data (checked against pyinfra
itself on this harness: an inventory whose host data says ``ssh_port=1, ssh_user=nobody``
connects with ``--ssh-port P --ssh-user oxinfra-test``), and so do they here.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, invoke, run_cli

PASSWORD = "pw-Cli-s3cret-42"
KEY_PASSPHRASE = "kp-Cli-s3cret-43"


@pytest.fixture(scope="module")
def fleet() -> Iterator[Any]:
    """Two hosts; password login on (needs root to set the login user's password)."""
    if os.geteuid() != 0:
        pytest.skip("password login needs root to set a password")
    from conftest import _start_fleet

    started = _start_fleet(2, password=PASSWORD)
    try:
        yield started
    finally:
        started.stop()


def _key(fleet: Any, directory: Path, *how: str) -> Path:
    path = directory / "_".join(how).replace("-", "")
    subprocess.run(["ssh-keygen", "-q", *how, "-N", KEY_PASSPHRASE, "-f", str(path)], check=True)
    with open(fleet.authorized_keys, "a") as handle:
        handle.write(Path(f"{path}.pub").read_text())
    return path


@pytest.fixture(scope="module")
def encrypted_key(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A passphrase-protected key the fleet accepts (PEM: asyncssh decrypts it with the
    cryptography package alone; OpenSSH's own format needs bcrypt)."""
    return _key(fleet, tmp_path_factory.mktemp("keys"), "-t", "ecdsa", "-m", "PEM")


def _known(fleet: Any) -> str:
    return f"--data=ssh_known_hosts_file={fleet.known_hosts}"


def test_port_user_and_key_from_the_command_line(fleet: Any) -> None:
    # a bare host name: everything about the connection comes from the options
    host = fleet.hosts[1]
    out = run_cli(
        "--json",
        host,
        "exec",
        "--ssh-port",
        fleet.port,
        "--ssh-user",
        fleet.user,
        "--ssh-key",
        fleet.key_path,
        _known(fleet),
        "--",
        "id -un",
    )
    assert out.code == 0, out.describe()
    assert out.op(host, "exec")["stdout"].strip() == fleet.user
    # pyinfra's short spellings
    short = invoke(
        host, "exec", "--port", fleet.port, "--user", fleet.user, "--key", fleet.key_path, _known(fleet), "--", "true"
    )
    assert short.code == 0, short.describe()


def test_the_options_win_over_host_data(fleet: Any, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        f"hosts = [({fleet.hosts[0]!r}, {{'ssh_port': 1, 'ssh_user': 'nobody', 'ssh_key': {str(fleet.key_path)!r},"
        f" 'ssh_known_hosts_file': {str(fleet.known_hosts)!r}}})]\n"
    )
    plain = invoke(inventory, "exec", "--", "true")
    assert plain.code == 4 and plain.host(fleet.hosts[0])["status"] == "unreachable", plain.describe()
    out = invoke(inventory, "exec", "--ssh-port", fleet.port, "--ssh-user", fleet.user, "--", "id -un")
    assert out.code == 0, out.describe()
    assert out.op(fleet.hosts[0], "exec")["stdout"].strip() == fleet.user


def test_a_wrong_user_fails_that_host_clearly(fleet: Any) -> None:
    argv = ["--ssh-port", fleet.port, "--ssh-key", fleet.key_path, _known(fleet)]
    out = run_cli(fleet.hosts[0], "exec", "--ssh-user", "no-such-user", *argv, "--", "true")
    assert out.code == 4, out.describe()
    assert_no_traceback(out)
    assert (
        f"[{fleet.hosts[0]}] unreachable: {fleet.hosts[0]}: authentication failed for user no-such-user" in out.stdout
    )


def test_password_from_the_environment_is_used_masked_and_not_inherited(fleet: Any) -> None:
    host = fleet.hosts[0]
    out = run_cli(
        host,
        "exec",
        "-vvv",
        "--ssh-port",
        fleet.port,
        "--ssh-user",
        fleet.user,
        _known(fleet),
        "--",
        f'echo "env=${{OXINFRA_SSH_PASSWORD:-none}}"; id -un; echo {PASSWORD}',
        env={"OXINFRA_SSH_PASSWORD": PASSWORD, "HOME": "/nonexistent", "SSH_AUTH_SOCK": ""},
    )
    assert out.code == 0, out.describe()
    assert fleet.user in out.stdout and "***" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr
    # the @local shell would show what the controller's environment holds: nothing
    local = run_cli(
        "--no-host-lock",
        "@local",
        "exec",
        "--",
        'echo "env=${OXINFRA_SSH_PASSWORD:-none}"',
        env={"OXINFRA_SSH_PASSWORD": PASSWORD},
    )
    assert "env=none" in local.stdout, local.describe()


def test_password_prompt_and_json_stay_clean(fleet: Any) -> None:
    host = fleet.hosts[1]
    argv = ["--json", host, "exec", "--ssh-port", fleet.port, "--ssh-user", fleet.user, _known(fleet)]
    out = run_cli(
        *argv, "--ssh-password-prompt", "--", f"echo {PASSWORD}", input=PASSWORD + "\n", env={"HOME": "/nonexistent"}
    )
    assert out.code == 0, out.describe()
    assert out.op(host, "exec")["stdout"].strip() == "***"
    assert PASSWORD not in out.stdout + out.stderr
    wrong = run_cli(*argv, "--ask-ssh-password", "--", "true", input="wrong-password\n", env={"HOME": "/nonexistent"})
    assert wrong.code == 4 and wrong.host(host)["status"] == "unreachable", wrong.describe()
    both = run_cli(*argv, "--ssh-password", PASSWORD, "--ssh-password-prompt", "--", "true")
    assert both.code == 2 and "not both" in both.stderr, both.describe()
    assert_no_traceback(both)


def test_key_passphrase_from_option_or_prompt(fleet: Any, encrypted_key: Path) -> None:
    host = fleet.hosts[0]
    argv = [host, "exec", "--ssh-port", fleet.port, "--ssh-user", fleet.user, "--ssh-key", encrypted_key, _known(fleet)]
    env = {"HOME": "/nonexistent", "SSH_AUTH_SOCK": ""}
    out = run_cli("--json", *argv, "--", "id -un", env={**env, "OXINFRA_SSH_KEY_PASSWORD": KEY_PASSPHRASE})
    assert out.code == 0, out.describe()
    assert KEY_PASSPHRASE not in out.stdout + out.stderr
    asked = run_cli("--json", *argv, "--ask-ssh-key-password", "--", "true", input=KEY_PASSPHRASE + "\n", env=env)
    assert asked.code == 0, asked.describe()
    missing = run_cli(*argv, "--", "true", env=env)
    assert missing.code == 4 and f"cannot load SSH key {encrypted_key}" in missing.stdout, missing.describe()
    assert_no_traceback(missing)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ssh-key", "/nonexistent/key"], "--ssh-key /nonexistent/key: no readable file there"),
        (["--ssh-port", "0"], "--ssh-port"),
        (["--ssh-port", "70000"], "--ssh-port"),
        (["--ssh-user", "a b"], "is not a user name"),
    ],
)
def test_bad_ssh_options_are_usage_errors(args: list[str], message: str) -> None:
    out = run_cli("127.0.0.1", "exec", *args, "--", "true")
    assert out.code == 2 and message in out.stderr, out.describe()
    assert_no_traceback(out)


def test_debug_inventory_masks_the_passwords() -> None:
    out = invoke(
        "--json", "web1", "debug-inventory", "--ssh-password", PASSWORD, "--ssh-user", "deploy", json_events=False
    )
    assert out.code == 0, out.describe()
    assert PASSWORD not in out.stdout + out.stderr
    assert '"ssh_password": "***"' in out.stdout and '"ssh_user": "deploy"' in out.stdout
    text = run_cli("web1", "debug-inventory", env={"OXINFRA_SSH_PASSWORD": PASSWORD})
    assert "ssh_password='***'" in text.stdout and PASSWORD not in text.stdout + text.stderr, text.describe()


def test_a_key_that_cannot_be_decrypted_fails_that_host_not_the_run(fleet: Any, tmp_path: Path) -> None:
    # OpenSSH's key format needs bcrypt to decrypt; without it (or with a wrong passphrase)
    # the host cannot connect, named with the key -- not an internal error
    key = _key(fleet, tmp_path, "-t", "ed25519")
    argv = [fleet.hosts[0], "exec", "--ssh-port", fleet.port, "--ssh-user", fleet.user, "--ssh-key", key, _known(fleet)]
    env = {"HOME": "/nonexistent", "SSH_AUTH_SOCK": ""}
    wrong = "wrong" if _has_bcrypt() else KEY_PASSPHRASE
    out = run_cli(*argv, "--", "true", env={**env, "OXINFRA_SSH_KEY_PASSWORD": wrong})
    assert out.code == 4 and f"cannot load SSH key {key}" in out.stdout, out.describe()
    assert_no_traceback(out)


def _has_bcrypt() -> bool:
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        return False
    return True


def test_sharded_runs_get_the_password_over_their_pipe(fleet: Any) -> None:
    hosts = ",".join(fleet.hosts)
    argv = ["--json", "--shards", "2", hosts, "exec", "--ssh-port", fleet.port, "--ssh-user", fleet.user, _known(fleet)]
    out = run_cli(
        *argv, "--", "id -un", env={"OXINFRA_SSH_PASSWORD": PASSWORD, "HOME": "/nonexistent", "SSH_AUTH_SOCK": ""}
    )
    assert out.code == 0, out.describe()
    assert all(out.op(h, "exec")["stdout"].strip() == fleet.user for h in fleet.hosts)
