"""What the rpm families (dnf, yum, zypper) share: ``.rpm`` files installed with rpm,
repository files (``/etc/yum.repos.d/NAME.repo``, zypper's ``/etc/zypp/repos.d``), and the
``packages`` dnf and yum have in common (:func:`family_packages`).

Downloads: :func:`oxinfra.operations.util.packaging.download_once`.
"""

from __future__ import annotations

import io
import re
from typing import Any, Iterator
from urllib.parse import urlparse

from oxinfra.api import get_facts, host, noop, touches
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
from oxinfra.quoting import command, or_else, path_operand, pipe

__all__ = [
    "NAME_PATTERN",
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
        several_versions=True,
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
    yield command("rpm", "--import", "--", path_operand(src))  # rpm's "-" is its standard input
