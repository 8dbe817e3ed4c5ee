"""A container of the test image with systemd as PID 1, for tests of the systemd operations.

The test image (:mod:`oxinfra.testing.containers`) has no systemd. :func:`ensure_systemd_image`
makes a variant of it at test time, outside its recipe (:func:`~oxinfra.testing.containers.derived_image`):
a container of the image installs ``systemd`` (``apt-get install --no-install-recommends systemd``,
from the Debian mirror, about ten seconds) and is committed as
``oxinfra-test-debian-systemd:<the image's recipe hash>`` (reused while that image is current).

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
over SSH like every other container host (:class:`~oxinfra.testing.containers.InitFleet`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from oxinfra.testing.containers import InitFleet, derived_image

__all__ = ["SYSTEMD_IMAGE", "ensure_systemd_image", "SystemdFleet", "systemd_run_flags"]

SYSTEMD_IMAGE = "oxinfra-test-debian-systemd"


def systemd_run_flags() -> list[str]:
    """The ``docker run`` flags systemd as PID 1 needs under this engine (see the module docs)."""
    flags = ["--tmpfs", "/run", "--tmpfs", "/run/lock", "-e", "container=docker"]
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():  # cgroup v2
        return flags + ["--cgroupns=private"]
    return flags + ["--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro"]


def ensure_systemd_image() -> str:
    """The tag of the systemd variant of the current test image, made if missing."""
    return derived_image(SYSTEMD_IMAGE, "systemd", "", '["/lib/systemd/systemd"]')


class SystemdFleet(InitFleet):
    """One container of the systemd image, systemd as PID 1, reached over SSH as ``deploy``
    (the rest as :class:`~oxinfra.testing.containers.ContainerFleet`: ``exec``, ``sh``,
    ``write_inventory``, ``stop``)."""

    kind = "systemd"
    init = "/lib/systemd/systemd"
    boot_check = ("systemctl", "is-system-running")
    restart_ssh = "systemctl reset-failed ssh.service || true\nsystemctl restart ssh.service"
    boot_failure = "systemd did not boot"

    def _image(self) -> str:
        return ensure_systemd_image()

    def _run_flags(self) -> list[str]:
        return systemd_run_flags()

    def _booted(self, proc: subprocess.CompletedProcess[str], state: str) -> bool:
        """``systemctl is-system-running`` says it has booted: ``running`` or, with a unit
        that failed in a container, ``degraded``."""
        return state in ("running", "degraded")
