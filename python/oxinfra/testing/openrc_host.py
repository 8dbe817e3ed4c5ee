"""A container of the test image with OpenRC as its init, for tests of the openrc operations.

Debian bookworm ships OpenRC (``openrc``, 0.45). :func:`ensure_openrc_image` makes a variant
of the test image (:func:`oxinfra.testing.containers.derived_image`) at test time, as
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
over SSH like every other container host (:class:`~oxinfra.testing.containers.InitFleet`).
"""

from __future__ import annotations

import subprocess

from oxinfra.testing.containers import InitFleet, derived_image

__all__ = ["OPENRC_IMAGE", "ensure_openrc_image", "OpenrcFleet"]

OPENRC_IMAGE = "oxinfra-test-debian-openrc"


def ensure_openrc_image() -> str:
    """The tag of the OpenRC variant of the current test image, made if missing."""
    script = "rc-update -q del procps sysinit && rc-update -q del hwclock.sh sysinit && rm -rf /run/openrc"
    return derived_image(OPENRC_IMAGE, "openrc", script, '["/sbin/openrc-init"]')


class OpenrcFleet(InitFleet):
    """One container of the OpenRC image, ``openrc-init`` as PID 1, reached over SSH as
    ``deploy`` (the rest as :class:`~oxinfra.testing.containers.ContainerFleet`: ``exec``,
    ``sh``, ``write_inventory``, ``stop``)."""

    kind = "openrc"
    init = "/sbin/openrc-init"
    boot_check = ("sh", "-c", 'rc-status --runlevel && [ -z "$(ls -A /run/openrc/starting)" ]')
    restart_ssh = "rc-service ssh restart >/dev/null 2>&1"
    boot_failure = "OpenRC did not reach its default runlevel"

    def _image(self) -> str:
        return ensure_openrc_image()

    def _run_flags(self) -> list[str]:
        return ["--tmpfs", "/run"]

    def _booted(self, proc: subprocess.CompletedProcess[str], state: str) -> bool:
        """``rc-status --runlevel`` says ``default`` and no service is still starting."""
        return proc.returncode == 0 and state == "default"
