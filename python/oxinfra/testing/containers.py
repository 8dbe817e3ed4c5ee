"""Debian containers reached over SSH, for tests: an image built with no registry, and fleets
of containers on a private Docker network.

The image is Debian bookworm made by ``debootstrap --variant=minbase`` on this machine (root
needed; it fetches from a Debian package mirror), set up in a chroot, and handed to Docker with
``tar | docker import``. Its tag is a hash of the recipe (:data:`PACKAGES`, :data:`SETUP_SCRIPT`,
:data:`START_SCRIPT`, :data:`SSHD_CONFIG`): a changed recipe builds a new image, an unchanged
one is reused. Inside:

* ``sshd`` in the foreground as the container's command (``docker run --init``), an ed25519 host
  key made at the container's first start, so every container has its own;
* user ``deploy`` (``/bin/bash``, empty home) with passwordless sudo;
* user ``pwuser`` (``/bin/bash``, empty home) whose sudo asks for :data:`TEST_PASSWORD`;
* keys accepted for both users from ``/etc/ssh/authorized_keys/<user>``, written at start from
  the ``OXINFRA_AUTHORIZED_KEYS`` environment variable (homes stay empty: bash reads no rc
  file for an SSH command);
* ``/tmp/fleet-target`` (mode 1777), where the benchmark workloads write;
* the ``locales`` package: ``/etc/locale.gen`` lists every locale, none is generated;
* a local apt repository of tiny test packages (:data:`TEST_PACKAGES`, built with ``dpkg-deb``
  and indexed with ``apt-ftparchive`` at build time) as the only apt source
  (``deb [trusted=yes] file:/srv/oxinfra-apt ./``; the Debian mirror is not reachable from
  the containers' network), its lists already fetched; a second one, ``/srv/oxinfra-apt-extra``,
  in no source (for ``apt.repo``), and loose ``.deb`` files in ``/srv/oxinfra-debs`` (for
  ``apt.deb``); the mirror's source line kept in :data:`MIRROR_SOURCES`, which apt does not read.

:class:`ContainerFleet` starts N containers of the image on a Docker network of its own,
created with ``--internal`` (Docker routes nothing from it to the outside),
waits until every sshd answers, and records the host keys with ``ssh-keyscan`` in a private
known hosts file. Containers and network carry the label :data:`OWNER_LABEL` naming the
process that made them; :func:`reap_stale` removes those whose owner is gone (a killed run).

Command line::

    python -m oxinfra.testing.containers build [--force]   # prints the image tag
    python -m oxinfra.testing.containers tag               # the tag of the current recipe
    python -m oxinfra.testing.containers reap              # remove leftovers of dead runs
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "ContainerFleet",
    "ContainersUnavailable",
    "InitFleet",
    "build_image",
    "ensure_image",
    "derived_image",
    "image_tag",
    "image_exists",
    "check_docker",
    "reap_stale",
    "IMAGE",
    "SUDO_USER",
    "PASSWORD_USER",
    "TEST_PASSWORD",
]

#: Repository name of the image; the tag is the recipe's hash.
IMAGE = "oxinfra-test-debian"
SUITE = "bookworm"
#: Packages on top of debootstrap's minbase (coreutils, grep, sed, findutils... are in it).
#: ``apt-utils`` for ``apt-ftparchive`` (the local repository's index), ``gpg`` for the apt key
#: operations and facts (``dirmngr`` and ``gpg-agent`` for ``apt.key(keyserver=...)``'s
#: ``gpg --recv-keys``, from a key server the tests run on this machine), ``curl`` for downloads (``apt.deb`` and ``apt.key`` from a URL, served
#: by the tests from this machine), ``locales`` for ``server.locale`` (``locale-gen`` and
#: ``/etc/locale.gen``, every locale listed and none enabled; about 17 MB).
PACKAGES = (
    "openssh-server",
    "sudo",
    "cron",
    "procps",
    "iproute2",
    "passwd",
    "apt-utils",
    "gpg",
    "dirmngr",
    "gpg-agent",
    "curl",
    "locales",
)
#: Login user with passwordless sudo.
SUDO_USER = "deploy"
#: Login user whose sudo asks for its password.
PASSWORD_USER = "pwuser"
#: ``pwuser``'s password (known to the tests; the containers are reachable only from here).
TEST_PASSWORD = "oxinfra-test-pw"
#: Label on every container and network a fleet makes: ``<host name>/<pid>/<process start>``.
OWNER_LABEL = "org.oxinfra.test.owner"
RECIPE_LABEL = "org.oxinfra.test.recipe"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

SSHD_CONFIG = """\
HostKey /etc/ssh/ssh_host_ed25519_key
AuthorizedKeysFile /etc/ssh/authorized_keys/%u
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
MaxStartups 200:30:400
MaxSessions 200
"""


def keys_script(keys: str) -> str:
    """Shell that gives sshd an ed25519 host key (unless it has one) and ``keys`` (a shell
    word: the public keys) as the authorized keys of both login users."""
    return f"""\
set -eu
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$(hostname)" -f /etc/ssh/ssh_host_ed25519_key
fi
mkdir -p /run/sshd /etc/ssh/authorized_keys
for user in deploy pwuser; do
    printf '%s\\n' {keys} > "/etc/ssh/authorized_keys/$user"
    chmod 644 "/etc/ssh/authorized_keys/$user"
done
"""


#: The container's command: a host key on first start, the authorized keys, cron, then sshd.
START_SCRIPT = (
    "#!/bin/sh\n"
    + keys_script('"${OXINFRA_AUTHORIZED_KEYS:-}"')
    + "unset OXINFRA_AUTHORIZED_KEYS\ncron\nexec /usr/sbin/sshd -D -e\n"
)

#: The Debian mirror the image was made from, as an apt source list apt does not read by itself
#: (its only source is the local repository): a build that needs the mirror (the systemd
#: variant, :mod:`oxinfra.testing.systemd_host`) names it with ``-o Dir::Etc::SourceList=``.
MIRROR_SOURCES = "/etc/apt/oxinfra-mirror.list"
#: The test packages: (directory under /srv, name, version, extra control lines). Each holds
#: one file, ``/usr/share/oxinfra-test/<name>``, reading ``<name> <version>``.
TEST_PACKAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("oxinfra-apt", "oxtest-hello", "1.0", ()),
    ("oxinfra-apt", "oxtest-hello", "2.0", ()),
    ("oxinfra-apt", "oxtest-lib", "1.0", ()),
    ("oxinfra-apt", "oxtest-app", "1.0", ("Depends: oxtest-lib (>= 1.0)",)),
    ("oxinfra-apt", "oxtest-tool", "1.0", ("Recommends: oxtest-lib",)),
    ("oxinfra-apt", "oxtest-conflict", "1.0", ("Conflicts: oxtest-hello",)),
    ("oxinfra-apt-extra", "oxtest-extra", "1.0", ()),
    ("oxinfra-debs", "oxtest-local", "1.0", ()),
    ("oxinfra-debs", "oxtest-local", "2.0", ()),
    ("oxinfra-debs", "oxtest-localdep", "1.0", ("Depends: oxtest-lib",)),
)


def _test_packages_script() -> str:
    """Shell (run in the chroot) that builds :data:`TEST_PACKAGES` and indexes the two repositories."""
    lines = [
        "oxpkg() {  # DIR NAME VERSION [CONTROL LINE...]",
        "    dir=/srv/$1 name=$2 version=$3; shift 3",
        "    root=/tmp/oxinfra-debs/$name-$version",
        '    mkdir -p "$dir" "$root/DEBIAN" "$root/usr/share/oxinfra-test"',
        '    printf \'%s %s\\n\' "$name" "$version" > "$root/usr/share/oxinfra-test/$name"',
        "    {",
        '        printf \'Package: %s\\nVersion: %s\\nArchitecture: all\\n\' "$name" "$version"',
        "        printf 'Maintainer: oxinfra tests <tests@oxinfra.invalid>\\n'",
        '        for line in "$@"; do printf \'%s\\n\' "$line"; done',
        "        printf 'Description: oxinfra test package %s\\n' \"$name\"",
        '    } > "$root/DEBIAN/control"',
        '    dpkg-deb --root-owner-group -Zgzip -b "$root" "$dir/${name}_${version}_all.deb" > /dev/null',
        "}",
    ]
    for directory, name, version, extra in TEST_PACKAGES:
        lines.append(" ".join(["oxpkg", directory, name, version, *(shlex.quote(x) for x in extra)]))
    lines += [
        "rm -rf /tmp/oxinfra-debs",
        "for repo in /srv/oxinfra-apt /srv/oxinfra-apt-extra; do",
        '    (cd "$repo" && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release)',
        "done",
        "rm -f /etc/apt/sources.list.d/*",
        "cp /etc/apt/sources.list " + MIRROR_SOURCES,
        "echo 'deb [trusted=yes] file:/srv/oxinfra-apt ./' > /etc/apt/sources.list",
    ]
    return "\n".join(lines) + "\n"


#: Run in the debootstrapped tree (``chroot ROOTFS sh -s``) after the files above are in place.
SETUP_SCRIPT = f"""\
set -eu
for user in {SUDO_USER} {PASSWORD_USER}; do
    useradd -M -d "/home/$user" -s /bin/bash "$user"
    mkdir -m 755 "/home/$user"
    chown "$user:$user" "/home/$user"
done
usermod -p '*' {SUDO_USER}
echo '{PASSWORD_USER}:{TEST_PASSWORD}' | chpasswd
echo '{SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/{SUDO_USER}
echo '{PASSWORD_USER} ALL=(ALL:ALL) ALL' > /etc/sudoers.d/{PASSWORD_USER}
chmod 440 /etc/sudoers.d/{SUDO_USER} /etc/sudoers.d/{PASSWORD_USER}
# no audit capability in a container: pam_loginuid would refuse every login
sed -i 's/^session[[:space:]]*required[[:space:]]*pam_loginuid.so/session optional pam_loginuid.so/' /etc/pam.d/sshd
rm -f /etc/ssh/ssh_host_* /etc/motd
chmod 755 /usr/local/sbin/oxinfra-sshd
mkdir -m 1777 /tmp/fleet-target
: > /etc/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/*
{_test_packages_script()}apt-get update -qq
apt-get clean
"""


class ContainersUnavailable(RuntimeError):
    """Docker (or what building the image needs) is missing or does not work here."""


# ---------------------------------------------------------------------------------- docker


def _docker(*args: str, input: bytes | None = None, timeout: float = 120) -> str:
    try:
        proc = subprocess.run(["docker", *args], input=input, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise ContainersUnavailable("docker not found (no docker on PATH)") from None
    except subprocess.TimeoutExpired:
        raise ContainersUnavailable(f"docker {args[0]} did not answer within {timeout:.0f}s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.decode(errors="replace").splitlines()]
        lines = [line for line in lines if line and not line.startswith(("Run 'docker", "See 'docker"))]
        message = lines[-1].removeprefix("docker: ") if lines else f"exit {proc.returncode}"
        raise ContainersUnavailable(f"docker {' '.join(args[:2])}: {message}")
    return proc.stdout.decode(errors="replace")


def check_docker() -> None:
    """Raise :class:`ContainersUnavailable` (one line) unless the Docker engine answers."""
    if shutil.which("docker") is None:
        raise ContainersUnavailable("docker not found (no docker on PATH)")
    _docker("version", "--format", "{{.Server.Version}}", timeout=20)


def recipe_hash() -> str:
    recipe = {
        "suite": SUITE,
        "variant": "minbase",
        "packages": sorted(PACKAGES),
        "setup": SETUP_SCRIPT,
        "start": START_SCRIPT,
        "sshd": SSHD_CONFIG,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def image_tag() -> str:
    """``oxinfra-test-debian:<recipe hash>``."""
    return f"{IMAGE}:{recipe_hash()}"


def image_exists(tag: str | None = None) -> bool:
    proc = subprocess.run(["docker", "image", "inspect", tag or image_tag()], capture_output=True)
    return proc.returncode == 0


def _owner_id(pid: int) -> str | None:
    """``<host name>/<pid>/<start time>`` of a live process (None if it is gone): pids are
    reused, and the engine may be shared by machines (or containers) with pids of their own."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{socket.gethostname()}/{pid}/{stat.rsplit(')', 1)[1].split()[19]}"


def _owner_gone(owner: str) -> bool:
    """Whether ``owner`` was a process of this machine that has ended."""
    host, _, rest = owner.partition("/")
    pid = rest.partition("/")[0]
    return host == socket.gethostname() and pid.isdigit() and _owner_id(int(pid)) != owner


# ---------------------------------------------------------------------------------- the image


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as fh:
        points = [line.split()[1].encode().decode("unicode_escape") for line in fh]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _remove_tree(path: Path) -> None:
    """Remove a build tree, after unmounting whatever a failed debootstrap left mounted in it;
    a tree that still has mounts is left alone (deleting through them would reach this host)."""
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True)
    if _mounts_under(path):
        print(f"containers: {path} still has mounts; not removed", file=sys.stderr)
        return
    shutil.rmtree(path, ignore_errors=True)


def _run_step(cmd: list[str], what: str, log: Any, input: bytes | None = None) -> None:
    proc = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log.write(proc.stdout)
    if proc.returncode != 0:
        tail = proc.stdout.decode(errors="replace").strip().splitlines()[-3:]
        raise ContainersUnavailable(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")


def build_image(force: bool = False, mirror: str | None = None, workdir: str | None = None) -> str:
    """Build the image of the current recipe unless it exists (or ``force``); return its tag.

    Needs root, ``debootstrap`` and a reachable Debian mirror (``OXINFRA_DEBIAN_MIRROR``, else
    deb.debian.org). One build at a time per machine (a lock file); a concurrent caller waits and
    then finds the image.
    """
    check_docker()
    tag = image_tag()
    if not force and image_exists(tag):
        return tag
    if os.geteuid() != 0:
        raise ContainersUnavailable(f"image {tag} is missing and building it needs root (debootstrap, chroot)")
    debootstrap = shutil.which("debootstrap", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if debootstrap is None:
        raise ContainersUnavailable(
            f"image {tag} is missing and debootstrap is not installed (apt-get install debootstrap)"
        )
    mirror = mirror or os.environ.get("OXINFRA_DEBIAN_MIRROR") or DEFAULT_MIRROR
    base = Path(workdir or tempfile.gettempdir())
    with open(base / "oxinfra-test-image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and image_exists(tag):
            return tag
        work = Path(tempfile.mkdtemp(prefix="oxinfra-image-", dir=base))
        try:
            rootfs = work / "rootfs"
            with open(work / "build.log", "wb") as log:
                _run_step(
                    [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), mirror],
                    "debootstrap",
                    log,
                )
                (rootfs / "etc/ssh/sshd_config.d/oxinfra.conf").write_text(SSHD_CONFIG)
                (rootfs / "usr/local/sbin/oxinfra-sshd").write_text(START_SCRIPT)
                _run_step(
                    ["chroot", str(rootfs), "/bin/sh", "-s"], "setup in the chroot", log, input=SETUP_SCRIPT.encode()
                )
            tar = subprocess.Popen(
                ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            assert tar.stdout is not None
            imp = subprocess.run(
                [
                    "docker",
                    "import",
                    "--change",
                    'CMD ["/usr/local/sbin/oxinfra-sshd"]',
                    "--change",
                    f"LABEL {RECIPE_LABEL}={recipe_hash()}",
                    "-",
                    tag,
                ],
                stdin=tar.stdout,
                capture_output=True,
            )
            tar.stdout.close()
            tar_err = tar.stderr.read() if tar.stderr else b""
            if tar.wait() != 0 or imp.returncode != 0:
                why = (tar_err or imp.stderr).decode(errors="replace").strip().splitlines()
                raise ContainersUnavailable(f"docker import of {tag} failed: {why[-1] if why else 'no output'}")
        finally:
            _remove_tree(work)
    return tag


def ensure_image() -> str:
    """The tag of the current recipe's image, built first if missing."""
    return build_image(force=False)


def derived_image(repository: str, packages: str, script: str, cmd: str) -> str:
    """The tag ``<repository>:<the image's recipe hash>`` of a variant of the current test
    image, made if missing (reused while that image is current): a container of the image
    installs ``packages`` from the Debian mirror (``apt-get install --no-install-recommends``;
    the host's network and CA bundle), runs the shell ``script`` after them (may be empty),
    puts the local repository back as its only apt source, and is committed with ``cmd`` (a
    JSON array) as its command."""
    base = ensure_image()
    tag = f"{repository}:{recipe_hash()}"
    if image_exists(tag):
        return tag
    name = f"oxinfra-build-{os.getpid()}-{os.urandom(3).hex()}"
    owner = _owner_id(os.getpid())
    # the image's only apt source is its local repository: the mirror's list is named here, and
    # the local repository's lists are fetched again afterwards
    mirror = "-o Dir::Etc::SourceList=" + MIRROR_SOURCES
    steps = [
        f"apt-get {mirror} update -qq",
        f"apt-get {mirror} install -y -qq --no-install-recommends {packages} >/dev/null",
        *([script] if script else []),
        "apt-get clean && rm -rf /var/lib/apt/lists/* && apt-get update -qq",
    ]
    try:
        # The host's network and CA bundle: how containers reach the package mirrors here.
        _docker(
            "run", "--name", name, "--label", f"{OWNER_LABEL}={owner}", "--network", "host",
            "-v", "/etc/ssl/certs:/etc/ssl/certs:ro", base, "sh", "-c", " && ".join(steps),
            timeout=600,
        )  # fmt: skip
        _docker("commit", "--change", f"CMD {cmd}", name, tag, timeout=300)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=120)
    return tag


# ---------------------------------------------------------------------------------- fleets


def reap_stale() -> int:
    """Remove the containers, then the networks, that a process of this machine made and did
    not remove (it was killed); how many were removed."""
    removed = 0
    fmt = '{{.ID}} {{.Label "' + OWNER_LABEL + '"}}'
    for kind in ("container", "network"):
        every = ["-a"] if kind == "container" else []
        listing = _docker(kind, "ls", *every, "--filter", f"label={OWNER_LABEL}", "--format", fmt)
        rows = [line.split() for line in listing.splitlines()]
        stale = [row[0] for row in rows if len(row) == 2 and _owner_gone(row[1])]
        if stale:
            verb = ["rm", "-f", "-v"] if kind == "container" else ["rm"]
            proc = subprocess.run(["docker", kind, *verb, *stale], capture_output=True, timeout=120)
            removed += len(stale) if proc.returncode == 0 else 0
    return removed


_Fleet = TypeVar("_Fleet", bound="ContainerFleet")


class ContainerFleet:
    """N containers of the test image on a private Docker network, reachable over SSH.

    Host names are the container names (``<prefix>-<i>``); the inventory data points SSH at
    each container's address on the network (``ssh_hostname``)::

        with ContainerFleet(4) as fleet:
            fleet.write_inventory(path)            # group "fleet", user "deploy"
            fleet.sh(fleet.hosts[0], "id -un")     # docker exec, independent of SSH

    ``cap_add``: Linux capabilities added to every container (``docker run --cap-add``, one
    at a time; never ``--privileged``), for a test that must act on the container's own
    namespaces (``SYS_ADMIN``: mount, host name).
    """

    def __init__(
        self, n_hosts: int, image: str | None = None, start_timeout: float = 60.0, cap_add: tuple[str, ...] = ()
    ) -> None:
        if not 1 <= n_hosts <= 200:
            raise ValueError(f"n_hosts must be in 1..200, got {n_hosts}")
        for cap in cap_add:
            if not isinstance(cap, str) or not re.fullmatch(r"[A-Z][A-Z_]*", cap) or cap == "ALL":
                raise ValueError(f"cap_add: {cap!r} is not one capability name (such as SYS_ADMIN; not ALL)")
        self.n_hosts = n_hosts
        self.cap_add = tuple(cap_add)
        self.image = image
        self.start_timeout = start_timeout
        self.prefix = f"oxinfra-t{os.getpid()}-{os.urandom(3).hex()}"
        self.network = ""
        self.hosts: list[str] = [f"{self.prefix}-{i}" for i in range(n_hosts)]
        self.addresses: dict[str, str] = {}
        self.dir: Path | None = None
        self.key_path = Path()
        self.known_hosts = Path()
        self._started: list[str] = []

    def __enter__(self: _Fleet) -> _Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    #: Names the fleet's temporary directory and client key.
    kind = "containers"

    def start(self: _Fleet) -> _Fleet:
        """Start the containers and wait until each one's sshd answers (on any failure
        everything started is removed again)."""
        check_docker()
        keyscan = shutil.which("ssh-keyscan")
        keygen = shutil.which("ssh-keygen")
        if keyscan is None or keygen is None:
            raise ContainersUnavailable("ssh-keygen/ssh-keyscan not found (install openssh-client)")
        image = self._image()
        atexit.register(self.stop)
        try:
            self.dir = Path(tempfile.mkdtemp(prefix=f"oxinfra-{self.kind}-"))
            self.key_path = self.dir / "client_ed25519"
            self.known_hosts = self.dir / "known_hosts"
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", f"oxinfra-{self.kind}", "-f", str(self.key_path)],
                check=True,
                capture_output=True,
            )
            public_key = (self.dir / "client_ed25519.pub").read_text().strip()
            label = f"{OWNER_LABEL}={_owner_id(os.getpid())}"
            self.network = self.prefix
            _docker("network", "create", "--internal", "--label", label, self.network)
            self._run_hosts(image, label, public_key)
            fmt = "{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
            for line in _docker("inspect", "--format", fmt, *self.hosts).splitlines():
                name, address = line.split()[:2]
                self.addresses[name.lstrip("/")] = address
            self._scan_host_keys(keyscan)
        except BaseException:
            self.stop()
            raise
        return self

    def _image(self) -> str:
        """The image the hosts run (built first if missing)."""
        return self.image or ensure_image()

    def _run_hosts(self, image: str, label: str, public_key: str) -> None:
        """Start every host's container on the network; each one's sshd takes ``public_key``."""

        def run(name: str) -> None:
            caps = [arg for cap in self.cap_add for arg in ("--cap-add", cap)]
            self._run_container(name, label, "--init", *caps, "-e", f"OXINFRA_AUTHORIZED_KEYS={public_key}", image)

        with ThreadPoolExecutor(max_workers=min(4, self.n_hosts)) as pool:
            list(pool.map(run, self.hosts))

    def _run_container(self, name: str, label: str, *args: str) -> None:
        """``docker run -d`` host ``name`` on the fleet's network (never pulling an image),
        remembered for :meth:`stop`; ``args``: more options, the image and its command."""
        _docker(
            "run", "-d", "--pull", "never", "--name", name, "--hostname", name, "--network", self.network,
            "--label", label, *args,
        )  # fmt: skip
        self._started.append(name)

    def _scan_host_keys(self, keyscan: str) -> None:
        """Wait until every sshd answers; its ed25519 key goes into the known hosts file."""
        keys: dict[str, str] = {}
        deadline = time.monotonic() + self.start_timeout
        while True:
            waiting = [a for a in self.addresses.values() if a not in keys]
            proc = subprocess.run([keyscan, "-T", "3", "-t", "ed25519", *waiting], capture_output=True, text=True)
            for line in proc.stdout.splitlines():
                fields = line.split()
                if len(fields) == 3 and not line.startswith("#"):
                    keys[fields[0]] = line
            if len(keys) == len(self.addresses):
                break
            if time.monotonic() > deadline:
                down = [n for n, a in self.addresses.items() if a not in keys]
                logs = _docker("logs", "--tail", "3", down[0]).strip().replace("\n", " | ")
                raise ContainersUnavailable(
                    f"sshd did not answer within {self.start_timeout:.0f}s on {', '.join(down)}: {logs}"
                )
            time.sleep(0.2)
        self.known_hosts.write_text("".join(keys[a] + "\n" for a in self.addresses.values()))

    def stop(self) -> None:
        """Remove the containers and the network (idempotent)."""
        names, self._started = self._started, []
        try:
            if names:
                subprocess.run(["docker", "rm", "-f", "-v", *names], capture_output=True, timeout=120)
            if self.network:
                subprocess.run(["docker", "network", "rm", self.network], capture_output=True, timeout=60)
                self.network = ""
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            try:
                atexit.unregister(self.stop)
            except Exception:
                pass

    # ------------------------------------------------------------------ inventory

    def ssh_data(self, user: str = SUDO_USER) -> dict[str, Any]:
        """Data every host shares: user, key, and the known hosts file (checked strictly)."""
        return {
            "ssh_user": user,
            "ssh_key": str(self.key_path),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
        }

    def inventory(self, user: str = SUDO_USER) -> list[tuple[str, dict[str, Any]]]:
        """``[(container name, {"ssh_hostname": address, ...}), ...]``."""
        return [(name, {"ssh_hostname": self.addresses[name], **self.ssh_data(user)}) for name in self.hosts]

    def write_inventory(
        self, path: Path, user: str = SUDO_USER, group: str = "fleet", hosts: list[str] | None = None
    ) -> Path:
        """A Python inventory file with one group of the fleet's hosts (all, or ``hosts``)."""
        wanted = set(hosts if hosts is not None else self.hosts)
        entries = [entry for entry in self.inventory(user) if entry[0] in wanted]
        Path(path).write_text(f"{group} = {entries!r}\n")
        return Path(path)

    # ------------------------------------------------------------------ inspection

    def exec(
        self, name: str, *argv: str, user: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``docker exec [-u USER] NAME ARGV...`` (no SSH involved)."""
        cmd = ["docker", "exec", *(["-u", user] if user else []), name, *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def sh(self, name: str, script: str, user: str | None = None) -> str:
        """Output of ``sh -c SCRIPT`` in container ``name`` (fails on a non-zero status)."""
        return self.exec(name, "sh", "-c", script, user=user).stdout


class InitFleet(ContainerFleet):
    """One container of a variant image (:func:`derived_image`) with an init system as PID 1,
    reached over SSH as ``deploy`` (the rest as :class:`ContainerFleet`: ``exec``, ``sh``,
    ``write_inventory``, ``stop``). Once the init has booted (:meth:`_booted`), sshd gets
    its host key and the authorized keys through ``docker exec`` (the image's own start script
    does not run) and is restarted by ``restart_ssh``, a command of that init."""

    #: The init's program, PID 1.
    init = ""
    #: ``docker exec`` argv that reports the init's state (its stdout, stripped).
    boot_check: tuple[str, ...] = ()
    #: Shell that restarts sshd as a service of the init.
    restart_ssh = ""
    #: How a failure to boot is told: "<boot_failure> in <container> (state ...)".
    boot_failure = ""

    def __init__(self, start_timeout: float = 60.0) -> None:
        super().__init__(1, start_timeout=start_timeout)

    def _run_flags(self) -> list[str]:
        """More ``docker run`` options the init needs."""
        return []

    def _booted(self, proc: subprocess.CompletedProcess[str], state: str) -> bool:
        """Whether ``boot_check``'s answer says the init has booted."""
        raise NotImplementedError

    def _run_hosts(self, image: str, label: str, public_key: str) -> None:
        name = self.hosts[0]
        self._run_container(name, label, *self._run_flags(), image, self.init)
        self._wait_for_boot(name)
        setup = keys_script('"$1"') + self.restart_ssh + "\n"
        _docker("exec", name, "sh", "-c", setup, "sh", public_key, timeout=120)

    def _wait_for_boot(self, name: str) -> None:
        """Until :meth:`_booted`; the container's last log lines if it does not in time."""
        deadline = time.monotonic() + self.start_timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(
                ["docker", "exec", name, *self.boot_check], capture_output=True, text=True, timeout=30
            )
            state = proc.stdout.strip()
            if self._booted(proc, state):
                return
            if proc.returncode != 0 and "not running" in (proc.stderr or ""):
                break  # the container (its init) has exited
            time.sleep(0.3)
        logs = subprocess.run(["docker", "logs", "--tail", "5", name], capture_output=True, text=True).stdout
        raise ContainersUnavailable(
            f"{self.boot_failure} in {name} (state {state!r}): {' | '.join(logs.strip().splitlines())}"
        )


# ---------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m oxinfra.testing.containers {build [--force] | tag | reap}"
    if (
        not args
        or args[0] not in ("build", "tag", "reap")
        or any(a != "--force" for a in args[1:])
        or ("--force" in args and args[0] != "build")
    ):
        print(usage, file=sys.stderr)
        return 2
    try:
        if args[0] == "tag":
            print(image_tag())
        elif args[0] == "reap":
            check_docker()
            print(f"removed {reap_stale()} leftover containers/networks")
        else:
            print(build_image(force="--force" in args))
    except ContainersUnavailable as exc:
        print(f"containers: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
