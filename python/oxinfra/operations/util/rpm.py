"""What the rpm families (dnf, yum, zypper) share: ``.rpm`` files installed with rpm,
repository files (``/etc/yum.repos.d/NAME.repo``, zypper's ``/etc/zypp/repos.d``), and the
operations dnf and yum have in common, written once (:class:`YumFamily`).

Downloads: :func:`oxinfra.operations.util.packaging.download_once`.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, ParamSpec
from urllib.parse import urlparse

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.files import File
from oxinfra.facts.rpm import RpmPackage, RpmPackages
from oxinfra.operations import files
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.packaging import (
    PackageManager,
    cached_download,
    check_packages,
    download_cache_path,
    download_once,
    ensure_packages,
    option_words,
    split_pins,
)
from oxinfra.quoting import command, or_else, pipe

if TYPE_CHECKING:
    from oxinfra.api import Operation

__all__ = [
    "NAME_PATTERN",
    "YumFamily",
    "ensure_repo_file",
    "ensure_rpm",
    "ensure_rpm_packages",
    "family_packages",
    "import_key",
    "url_of",
    "with_bare_versions",
]

_REPO_NAME = re.compile(r"[A-Za-z0-9_.:-]+\Z")
#: rpm package names: letters, digits and ``._+-`` (an ``.arch`` suffix included), not starting
#: with ``-`` or ``.``.
NAME_PATTERN = r"[A-Za-z0-9_+][A-Za-z0-9._+-]*"


def url_of(op: str, src: Any) -> str | None:
    """``src`` when it is an http, https or ftp URL; None for anything else that is a value."""
    if not isinstance(src, str) or not src or "\n" in src or "\r" in src:
        raise OperationValueError(f"{op}: src= must be a name, path or URL on one line, not {src!r}")
    scheme = urlparse(src).scheme
    if not scheme:
        return None
    if scheme not in ("http", "https", "ftp"):
        raise OperationValueError(f"{op}: src= URL scheme {scheme!r} is not http, https or ftp")
    return src


def ensure_rpm(op: str, src: str, present: bool, remove: tuple[str, ...]) -> Iterator[str]:
    """Install a ``.rpm`` (a path on the host, or a URL downloaded once into
    root's private ``/var/cache/oxinfra``: :func:`~oxinfra.operations.util.packaging.cached_download`) with
    ``rpm -i`` unless rpm lists its name at its version; with ``present=False`` remove that
    package with ``remove`` (``dnf remove -y``...)."""
    if not isinstance(present, bool):
        raise OperationValueError(f"{op}: present= must be True or False, not {present!r}")
    url = url_of(op, src)
    path = download_cache_path("rpm", src, ".rpm") if url else src
    if "/" not in path:
        path = "./" + path
    info, installed = get_facts(host, [(RpmPackage, {"package": path}), (RpmPackages, {})])
    exists = bool(info) and info["version"] in installed.get(info["name"], [])
    if not present:
        if exists:
            yield command(*remove, "--", info["name"])
        else:
            noop(f"rpm {src} is not installed")
        return
    if exists:
        noop(f"rpm {src} is installed ({info['name']} {info['version']})")
        return
    if url is not None:
        yield cached_download(url, path)
    if info:
        yield command("rpm", "-i", "--", path)
        return
    # not there before the run (downloaded now): whether its package is installed is known
    # only then
    query = pipe(
        command("rpm", "-qp", "--queryformat", "%{NAME}-%{VERSION}-%{RELEASE}", "--", path),
        command("xargs", "rpm", "-q", "--"),
    )
    yield or_else(query, command("rpm", "-i", "--", path))


def _line(op: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise OperationValueError(f"{op}: {key}= must be one line of text, not {value!r}")
    return value


def ensure_repo_file(
    op: str,
    directory: str,
    src: str,
    present: bool,
    baseurl: str | None,
    description: str | None,
    enabled: bool,
    gpgcheck: bool,
    gpgkey: str | None,
    type_: str | None = None,
) -> Iterator[Any]:
    """The repository file ``DIRECTORY/NAME.repo``: downloaded once when ``src`` is a URL
    (of a ``.repo`` file; NAME from its last part), else written from the arguments (an
    ini section ``[NAME]``); removed with ``present=False``."""
    check_flags(op, present=present, enabled=enabled, gpgcheck=gpgcheck)
    url = url_of(op, src)
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".repo") if url else src
    if not _REPO_NAME.match(name) or name.startswith("."):
        raise OperationValueError(f"{op}: the repository name {name!r} may hold only letters, digits, _ . : -")
    dest = directory + "/" + name + ".repo"
    if not present:
        yield from files.file._inner(path=dest, present=False)
        return
    if url is not None:
        (there,) = get_facts(host, [(File, {"path": dest})])
        touches(dest)
        if there:
            noop(f"{dest} is there")
            return
        yield download_once(url, dest)
        return
    if baseurl is None:
        raise OperationValueError(f"{op}: baseurl= is needed for a repository given by name ({name!r})")
    lines = [
        "[" + name + "]",
        "name=" + _line(op, "description", description or name),
        "baseurl=" + _line(op, "baseurl", baseurl),
        "enabled=" + ("1" if enabled else "0"),
        "gpgcheck=" + ("1" if gpgcheck else "0"),
    ]
    if type_:
        lines.append("type=" + _line(op, "type", type_))
    if gpgkey:
        for key in _line(op, "gpgkey", gpgkey).split():
            if not urlparse(key).scheme and not key.startswith("/"):
                raise OperationValueError(f"{op}: gpgkey= must be URLs or absolute paths, not {key!r}")
        lines.append("gpgkey=" + gpgkey)
    content = "\n".join(lines) + "\n"
    yield from files.put._inner(io.BytesIO(content.encode()), dest, mode="644")


def family_packages(
    op: str,
    program: str,
    packages: Any,
    present: bool,
    latest: bool,
    update: bool,
    clean: bool,
    nobest: bool,
    extra_install_args: Any,
    extra_uninstall_args: Any,
) -> Iterator[str]:
    """``dnf.packages`` and ``yum.packages``: install, upgrade and remove with ``PROGRAM``
    (``install -y``, ``update -y``, ``remove -y``) against ``rpm.RpmPackages``."""
    check_flags(op, present=present, latest=latest, update=update, clean=clean, nobest=nobest)
    wanted = split_pins(op, packages)
    install = ["install", "-y", *(["--nobest"] if nobest else [])]
    manager = PackageManager(
        install=(program, *install, *option_words(op, "extra_install_args", extra_install_args)),
        uninstall=(program, "remove", "-y", *option_words(op, "extra_uninstall_args", extra_uninstall_args)),
        upgrade=(program, "update", "-y"),
        version_join="-",
        name_pattern=NAME_PATTERN,
    )
    first = [command(program, "clean", "all")] if clean else []
    first += [command(program, "update", "-y")] if update else []
    yield from ensure_rpm_packages(manager, wanted, present, latest, first)


def ensure_rpm_packages(
    manager: PackageManager,
    wanted: list[str | tuple[str, str]],
    present: bool,
    latest: bool,
    first: list[str],
) -> Iterator[str]:
    """The end every rpm family's ``packages`` shares, its tool described as ``manager``:
    ``rpm.RpmPackages`` read (a pin without the release met by :func:`with_bare_versions`),
    then the commands asked for ``first`` (clean, update), then :func:`ensure_packages`."""
    check_packages(manager, wanted)
    (current,) = get_facts(host, [(RpmPackages, {})])
    current = with_bare_versions(current)
    yield from first
    if wanted:
        yield from ensure_packages(manager, wanted, current, present, latest)
    elif not first:
        noop("no packages given")


def with_bare_versions(installed: dict[str, list[str]]) -> dict[str, list[str]]:
    """Installed ``VERSION-RELEASE`` strings plus each bare ``VERSION``: a pin without the
    release (``bash=5.2.26``) is met by ``5.2.26-3.fc40`` (the tools read it that way too)."""
    return {
        name: [*versions, *(v.rsplit("-", 1)[0] for v in versions if "-" in v)] for name, versions in installed.items()
    }


def import_key(op: str, src: Any) -> Iterator[str]:
    """``rpm --import SRC`` (a path on the host or a URL; rpm fetches URLs itself)."""
    if not isinstance(src, str) or not src or "\n" in src:
        raise OperationValueError(f"{op}: src= must be a key's path or URL on one line, not {src!r}")
    url_of(op, src)
    yield command("rpm", "--import", "--", src)


P = ParamSpec("P")


def _own(
    func: Callable[P, Generator[Any, Any, Any]], module: str, program: str, is_idempotent: bool = True
) -> Operation[P]:
    """``func`` as the operation ``func.__name__`` of ``module``: named and found there (the
    reference, the fixtures, a worker process), its docstring's ``{tool}`` read ``program``."""
    func.__module__ = module
    func.__qualname__ = func.__name__
    func.__doc__ = (func.__doc__ or "").replace("{tool}", program)
    return operation(is_idempotent=is_idempotent)(func)


class YumFamily:
    """The operations dnf and yum share (``update``, ``packages``, ``repo``, ``rpm``, ``key``),
    written once and made for each tool as its own module's: ``dnf.py`` binds
    ``packages = YumFamily("dnf", __name__).packages``..., named ``dnf.packages``, with
    ``dnf`` in the docstring and the commands. The parameters are pyinfra's, the same for both."""

    def __init__(self, program: str, module: str) -> None:
        def update() -> OperationGenerator:
            """Update every installed package (``{tool} update -y``); runs every time.

            Example::

                {tool}.update(name="Update packages")
            """
            yield command(program, "update", "-y")

        def packages(
            packages: str | list[str] | None = None,
            present: bool = True,
            latest: bool = False,
            update: bool = False,
            clean: bool = False,
            nobest: bool = False,
            extra_install_args: str | None = None,
            extra_uninstall_args: str | None = None,
        ) -> OperationGenerator:
            """Install or remove packages with {tool}, as ``rpm.RpmPackages`` lists them installed.

            + packages: a name or a list of names; ``name=version`` pins a version
            + present: whether the packages should be installed
            + latest: also upgrade installed packages asked for without a version (every run)
            + update: ``{tool} update -y`` first
            + clean: ``{tool} clean all`` first
            + nobest: let {tool} pick another than the newest candidate (``--nobest``)
            + extra_install_args: more {tool} options for installs (words, each quoted)
            + extra_uninstall_args: the same for removals

            Example::

                {tool}.packages(name="Tools", packages=["curl", "git"])
            """
            yield from family_packages(
                program + ".packages",
                program,
                packages,
                present,
                latest,
                update,
                clean,
                nobest,
                extra_install_args,
                extra_uninstall_args,
            )

        def repo(
            src: str,
            present: bool = True,
            baseurl: str | None = None,
            description: str | None = None,
            enabled: bool = True,
            gpgcheck: bool = True,
            gpgkey: str | None = None,
        ) -> OperationGenerator:
            """A repository file ``/etc/yum.repos.d/NAME.repo``: written from the arguments when
            ``src`` is a name, downloaded (once) when it is the URL of a ``.repo`` file.

            + src: the repository's name, or the URL of a ``.repo`` file
            + present: whether the file should exist
            + baseurl: the repository's URL (with a name)
            + description: its ``name=`` (default: the name)
            + enabled: ``enabled=1``
            + gpgcheck: ``gpgcheck=1``
            + gpgkey: the key's URL or path (several separated by spaces)

            Example::

                {tool}.repo(name="Internal", src="internal", baseurl="https://repo.example.com/el9/")
            """
            yield from ensure_repo_file(
                program + ".repo",
                "/etc/yum.repos.d",
                src,
                present,
                baseurl,
                description,
                enabled,
                gpgcheck,
                gpgkey,
            )

        def rpm(src: str, present: bool = True) -> OperationGenerator:
            """Install (``rpm -i``) or remove (``{tool} remove -y``) the package of a ``.rpm`` file, a
            path on the host or a URL (downloaded once into root's private
            ``/var/cache/oxinfra``, never ``/tmp``).

            + src: the ``.rpm``'s path or URL
            + present: whether its package should be installed

            Example::

                {tool}.rpm(name="Tool", src="https://example.com/tool-1.0-1.x86_64.rpm")
            """
            yield from ensure_rpm(program + ".rpm", src, present, (program, "remove", "-y"))

        def key(src: str) -> OperationGenerator:
            """Import a signing key into rpm's database (``rpm --import``); runs every time.

            + src: the key's path on the host or URL

            Example::

                {tool}.key(name="Vendor key", src="https://example.com/RPM-GPG-KEY-vendor")
            """
            yield from import_key(program + ".key", src)

        self.update = _own(update, module, program, is_idempotent=False)
        self.packages = _own(packages, module, program)
        self.repo = _own(repo, module, program)
        self.rpm = _own(rpm, module, program)
        self.key = _own(key, module, program, is_idempotent=False)
