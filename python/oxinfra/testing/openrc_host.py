"""A container of the test image with OpenRC as its init, for tests of the openrc operations.

Debian bookworm ships OpenRC (``openrc``, 0.45). :func:`ensure_openrc_image` makes a variant
of the test image (:mod:`oxinfra.testing.containers`) at test time, as
:mod:`oxinfra.testing.systemd_host` does for systemd: a container of the image installs
``openrc`` from the Debian mirror (``apt-get install --no-install-recommends openrc``, a few
seconds), takes the sysinit services that cannot run in a container (``procps``,
``hwclock.sh``: they need mounts it may not make) out of their runlevel, and is committed as
``oxinfra-test-debian-openrc:<the image's recipe hash>`` (reused while that image is current).

:class:`OpenrcFleet` starts one container of it with ``/sbin/openrc-init`` as PID 1,
unprivileged: no capability added, only a fresh ``--tmpfs /run`` (OpenRC keeps its state in
``/run/openrc``; it sees ``/.dockerenv`` and runs with ``rc_sys=docker``, which skips what a
container cannot do). It boots the ``sysinit``, ``boot`` and ``default`` runlevels; ``ssh``,
``cron`` and ``sudo`` (Debian's LSB scripts) are in ``default``. sshd, which found no host key
at boot, then gets one and the authorized keys through ``docker exec`` (as the image's own
start script does) and is restarted with ``rc-service ssh restart``, so the host is reached
over SSH like every other container host.
"""

from __future__ import annotations

import os
import subprocess
import time

from oxinfra.testing.containers import (
    MIRROR_SOURCES,
    OWNER_LABEL,
    ContainerFleet,
    ContainersUnavailable,
    _docker,
    _owner_id,
    ensure_image,
    recipe_hash,
)

__all__ = ["OPENRC_IMAGE", "ensure_openrc_image", "OpenrcFleet"]

OPENRC_IMAGE = "oxinfra-test-debian-openrc"

_SSH_SETUP = """\
set -eu
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$(hostname)" -f /etc/ssh/ssh_host_ed25519_key
fi
mkdir -p /run/sshd /etc/ssh/authorized_keys
for user in deploy pwuser; do
    printf '%s\\n' "$1" > "/etc/ssh/authorized_keys/$user"
    chmod 644 "/etc/ssh/authorized_keys/$user"
done
rc-service ssh restart >/dev/null 2>&1
"""


def ensure_openrc_image() -> str:
    """The tag of the OpenRC variant of the current test image, made if missing."""
    base = ensure_image()
    tag = f"{OPENRC_IMAGE}:{recipe_hash()}"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return tag
    name = f"oxinfra-orcbuild-{os.getpid()}-{os.urandom(3).hex()}"
    owner = _owner_id(os.getpid())
    # the image's only apt source is its local repository: the mirror's list is named here, and
    # the local repository's lists are fetched again afterwards
    mirror = "-o Dir::Etc::SourceList=" + MIRROR_SOURCES
    script = (
        f"apt-get {mirror} update -qq && "
        f"apt-get {mirror} install -y -qq --no-install-recommends openrc >/dev/null 2>&1 && "
        "rc-update -q del procps sysinit && rc-update -q del hwclock.sh sysinit && "
        "rm -rf /run/openrc && "
        "apt-get clean && rm -rf /var/lib/apt/lists/* && apt-get update -qq"
    )
    try:
        # The host's network and CA bundle: how containers reach the package mirrors here.
        _docker(
            "run",
            "--name",
            name,
            "--label",
            f"{OWNER_LABEL}={owner}",
            "--network",
            "host",
            "-v",
            "/etc/ssl/certs:/etc/ssl/certs:ro",
            base,
            "sh",
            "-c",
            script,
            timeout=600,
        )
        _docker("commit", "--change", 'CMD ["/sbin/openrc-init"]', name, tag, timeout=300)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=120)
    return tag


class OpenrcFleet(ContainerFleet):
    """One container of the OpenRC image, ``openrc-init`` as PID 1, reached over SSH as
    ``deploy`` (the rest as :class:`ContainerFleet`: ``exec``, ``sh``, ``write_inventory``,
    ``stop``)."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        super().__init__(1, start_timeout=start_timeout)

    kind = "openrc"

    def start(self) -> "OpenrcFleet":
        super().start()
        return self

    def _image(self) -> str:
        return ensure_openrc_image()

    def _run_hosts(self, image: str, label: str, public_key: str) -> None:
        """The one container, ``openrc-init`` as PID 1; once the default runlevel is reached,
        sshd set up and restarted as an OpenRC service (the image's own start script does
        not run)."""
        name = self.hosts[0]
        self._run_container(name, label, "--tmpfs", "/run", image, "/sbin/openrc-init")
        self._wait_for_openrc(name)
        _docker("exec", name, "sh", "-c", _SSH_SETUP, "sh", public_key, timeout=120)

    def _wait_for_openrc(self, name: str) -> None:
        """Until ``rc-status --runlevel`` says ``default`` and no service is still starting."""
        deadline = time.monotonic() + self.start_timeout
        state = ""
        check = 'rc-status --runlevel && [ -z "$(ls -A /run/openrc/starting)" ]'
        while time.monotonic() < deadline:
            proc = subprocess.run(
                ["docker", "exec", name, "sh", "-c", check], capture_output=True, text=True, timeout=30
            )
            state = proc.stdout.strip()
            if proc.returncode == 0 and state == "default":
                return
            if "not running" in (proc.stderr or ""):
                break  # the container (openrc-init) has exited
            time.sleep(0.3)
        logs = subprocess.run(["docker", "logs", "--tail", "5", name], capture_output=True, text=True).stdout
        raise ContainersUnavailable(
            f"OpenRC did not reach its default runlevel in {name} (state {state!r}): "
            f"{' | '.join(logs.strip().splitlines())}"
        )
