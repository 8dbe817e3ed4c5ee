"""A container of the test image with systemd as PID 1, for tests of the systemd operations.

The test image (:mod:`oxinfra.testing.containers`) has no systemd. :func:`ensure_systemd_image`
makes a variant of it at test time, outside its recipe: a container of the image installs
``systemd`` (``apt-get install --no-install-recommends systemd``, from the Debian mirror, about
ten seconds) and is committed as ``oxinfra-test-debian-systemd:<the image's recipe hash>``
(reused while that image is current).

:class:`SystemdFleet` starts one container of it with ``/lib/systemd/systemd`` as PID 1,
unprivileged. What systemd needs from the engine:

* cgroup v1 (this project's machines: Docker 20.10, cgroupfs driver): the host's cgroup
  namespace (``--cgroupns=host``) and ``/sys/fs/cgroup`` bind-mounted read-only; the
  hierarchies under it stay writable, and systemd writes only below the container's own
  cgroup (``/docker/<id>``). With ``--cgroupns=private`` systemd cannot create
  ``/init.scope`` ("Read-only file system") and exits at once.
* cgroup v2: ``--cgroupns=private`` (not run here: no such engine on this machine).
* ``--tmpfs /run --tmpfs /run/lock`` and ``container=docker`` in its environment.

Then sshd gets its host key and the authorized keys through ``docker exec`` (as the image's
own start script does) and is restarted as the ``ssh.service`` unit, so the host is reached
over SSH like every other container host.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

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

__all__ = ["SYSTEMD_IMAGE", "ensure_systemd_image", "SystemdFleet", "systemd_run_flags"]

SYSTEMD_IMAGE = "oxinfra-test-debian-systemd"

_SSH_SETUP = """\
set -eu
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$(hostname)" -f /etc/ssh/ssh_host_ed25519_key
fi
mkdir -p /etc/ssh/authorized_keys
for user in deploy pwuser; do
    printf '%s\\n' "$1" > "/etc/ssh/authorized_keys/$user"
    chmod 644 "/etc/ssh/authorized_keys/$user"
done
systemctl reset-failed ssh.service || true
systemctl restart ssh.service
"""


def systemd_run_flags() -> list[str]:
    """The ``docker run`` flags systemd as PID 1 needs under this engine (see the module docs)."""
    flags = ["--tmpfs", "/run", "--tmpfs", "/run/lock", "-e", "container=docker"]
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():  # cgroup v2
        return flags + ["--cgroupns=private"]
    return flags + ["--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro"]


def ensure_systemd_image() -> str:
    """The tag of the systemd variant of the current test image, made if missing."""
    base = ensure_image()
    tag = f"{SYSTEMD_IMAGE}:{recipe_hash()}"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return tag
    name = f"oxinfra-sdbuild-{os.getpid()}-{os.urandom(3).hex()}"
    owner = _owner_id(os.getpid())
    # the image's only apt source is its local repository: the mirror's list is named here, and
    # the local repository's lists are fetched again afterwards
    mirror = "-o Dir::Etc::SourceList=" + MIRROR_SOURCES
    script = (
        f"apt-get {mirror} update -qq && "
        f"apt-get {mirror} install -y -qq --no-install-recommends systemd >/dev/null && "
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
        _docker("commit", "--change", 'CMD ["/lib/systemd/systemd"]', name, tag, timeout=300)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=120)
    return tag


class SystemdFleet(ContainerFleet):
    """One container of the systemd image, systemd as PID 1, reached over SSH as ``deploy``
    (the rest as :class:`ContainerFleet`: ``exec``, ``sh``, ``write_inventory``, ``stop``)."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        super().__init__(1, start_timeout=start_timeout)

    kind = "systemd"

    def start(self) -> "SystemdFleet":
        super().start()
        return self

    def _image(self) -> str:
        return ensure_systemd_image()

    def _run_hosts(self, image: str, label: str, public_key: str) -> None:
        """The one container, systemd as PID 1; once it has booted, sshd set up and restarted
        as a unit (the image's own start script does not run)."""
        name = self.hosts[0]
        self._run_container(name, label, *systemd_run_flags(), image, "/lib/systemd/systemd")
        self._wait_for_systemd(name)
        _docker("exec", name, "sh", "-c", _SSH_SETUP, "sh", public_key, timeout=120)

    def _wait_for_systemd(self, name: str) -> None:
        """Until ``systemctl is-system-running`` says it has booted (``running`` or, with a
        unit that failed in a container, ``degraded``)."""
        deadline = time.monotonic() + self.start_timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(
                ["docker", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True, timeout=30
            )
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                return
            if proc.returncode != 0 and "not running" in (proc.stderr or ""):
                break  # the container (systemd) has exited
            time.sleep(0.3)
        logs = subprocess.run(["docker", "logs", "--tail", "5", name], capture_output=True, text=True).stdout
        raise ContainersUnavailable(
            f"systemd did not boot in {name} (state {state!r}): {' | '.join(logs.strip().splitlines())}"
        )
