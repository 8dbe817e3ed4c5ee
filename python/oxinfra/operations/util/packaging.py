"""One helper for every package manager: what is installed and what is wanted in, the
commands that close the gap out.

A family's operation (``apt.packages``, ``apk.packages``, ``pip.packages``...) reads the
installed packages as a fact, describes its tool as a :class:`PackageManager` and ends in
``yield from ensure_packages(...)``::

    >>> APT = PackageManager(install=("apt-get", "install", "-y"), uninstall=("apt-get", "remove", "-y"),
    ...                      version_join="=")
    >>> list(ensure_packages(APT, ["nginx", ("curl", "7.88.1")], {"curl": ["7.74.0"], "bash": ["5.2"]}))
    ['apt-get install -y -- nginx curl=7.88.1']
    >>> list(ensure_packages(APT, ["bash"], {"bash": ["5.2"]}))
    []

Every word goes through :func:`oxinfra.quoting.command`; package names come after ``--``,
or, for a tool that does not read it (``options_end=False``), a name starting with ``-`` is
refused. Every manager this is for reads ``--`` as the end of its options: apt-get (its
command-line parser; the tests run ``apt-get -s`` with a name ``-rf``), dnf (argparse), yum
(optparse), apk and pacman (getopt_long over the whole command line), pip (optparse; run in
the tests too). A manager may also restrict names to its own naming rules
(``name_pattern``): apt-get reads ``foo-`` as "remove foo", which no quoting can prevent.

Installing packages may change anything on the host: an operation built on this declares
no ``touches`` (every later fact is then checked on the host before use).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from oxinfra.api import noop
from oxinfra.exceptions import OperationValueError
from oxinfra.quoting import and_then, command, file_test, group, if_then, invoke, or_else, output_test, write_to

__all__ = [
    "pep440_release",
    "PackageManager",
    "DOWNLOAD_CACHE",
    "cached_download",
    "check_packages",
    "download_cache_path",
    "download_once",
    "ensure_packages",
    "option_words",
    "pep503_name",
    "split_pins",
]

_PROGRAM = re.compile(r"[A-Za-z0-9_./+-]+\Z")


def pep503_name(name: str) -> str:
    """How pip compares names: case-insensitive, runs of ``-``, ``_`` and ``.`` alike.

    >>> pep503_name("Django_REST.framework")
    'django-rest-framework'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def pep440_release(version: str) -> str:
    """A version as PEP 440 compares a plain release: numbers without leading zeros, trailing
    zero parts dropped (``65.5``, ``65.5.0`` and ``65.05`` are one). Anything else (``1.0rc1``,
    a local version) compares as written, in lower case.

    >>> pep440_release("65.5.0"), pep440_release("2.32.00"), pep440_release("1.0RC1")
    ('65.5', '2.32', '1.0rc1')
    """
    text = version.strip().lower()
    if text.startswith("v"):
        text = text[1:]
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", text):
        return version.strip().lower()
    parts = [int(part) for part in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(part) for part in parts)


@dataclass(frozen=True)
class PackageManager:
    """A package tool as data: the words of its commands and the rules of its names.

    + install / uninstall: command words (program first) that take package names after them
    + upgrade: words that upgrade installed packages to their latest version (``latest=True``);
      default: ``install``
    + version_join: what joins a name and a version on the command line (``=`` for apt-get
      and apk, ``-`` for dnf and yum, ``==`` for pip); None: the tool takes no versions
    + options_end: the tool reads ``--`` as the end of its options (names go after it);
      False: names starting with ``-`` are refused
    + name_pattern: a regular expression every name must match in full (the tool's rules)
    + normalise: how names compare (:func:`pep503_name` for pip); default: as written
    + tool: the tool's name in messages; default: the first word of ``install`` (give it when
      that word is ``env``, as apt-get's commands start ``env DEBIAN_FRONTEND=noninteractive``)
    + path: run the program at this absolute path (a value: quoted) instead of the first word
      of each command (``pip.packages`` in a virtualenv: ``VENV/bin/pip``)
    + same_version: how versions compare (:func:`pep440_release` for pip: ``65.5`` is
      ``65.5.0``); default: as written
    + several_versions: a name may be installed at several versions at once (rpm: kernels,
      ``gpg-pubkey``), so removing one version names it (``kernel-6.8.5``), never the bare
      name, which would remove them all
    """

    install: tuple[str, ...]
    uninstall: tuple[str, ...]
    upgrade: tuple[str, ...] | None = None
    version_join: str | None = "="
    options_end: bool = True
    name_pattern: str | None = None
    normalise: Callable[[str], str] | None = None
    tool: str | None = None
    path: str | None = None
    several_versions: bool = False
    same_version: Callable[[str], str] | None = None

    @property
    def label(self) -> str:
        return self.tool or self.install[0]

    def __post_init__(self) -> None:
        for words in (self.install, self.uninstall, self.upgrade or ("x",)):
            if not words or not _PROGRAM.match(words[0]):
                raise ValueError(f"a package command starts with a program name, not {words!r}")

    def words(self, verb: str, names: list[str]) -> str:
        base = {"install": self.install, "uninstall": self.uninstall, "upgrade": self.upgrade or self.install}[verb]
        if self.path is not None:
            return invoke(self.path, *base[1:], *(["--"] if self.options_end else []), *names)
        return command(base[0], *base[1:], *(["--"] if self.options_end else []), *names)


def _wanted(manager: PackageManager, packages: Iterable[Any]) -> list[tuple[str, str | None]]:
    if isinstance(packages, (str, tuple)):
        packages = [packages]
    out: dict[str, tuple[str, str | None]] = {}
    for item in packages:
        if isinstance(item, str):
            name, version = item, None
        elif isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, str) for v in item):
            name, version = item
        else:
            raise OperationValueError(f"a package is a name or a (name, version) pair of strings, not {item!r}")
        if not name:
            raise OperationValueError("a package name cannot be empty")
        if not manager.options_end and name.startswith("-"):
            raise OperationValueError(
                f"package name {name!r} starts with '-': {manager.label} would read it as an option"
            )
        if manager.name_pattern is not None and not re.fullmatch(manager.name_pattern, name):
            raise OperationValueError(
                f"{name!r} is not a package name {manager.label} takes (names match {manager.name_pattern})"
            )
        if version is not None and manager.version_join is None:
            raise OperationValueError(
                f"{manager.label} takes no versions on its command line: ask for {name!r} without one"
            )
        if version == "":
            raise OperationValueError(f"the version of {name!r} cannot be empty")
        key = manager.normalise(name) if manager.normalise else name
        if key in out and out[key][1] != version:
            raise OperationValueError(f"package {name!r} is asked for twice, as {out[key]!r} and {(name, version)!r}")
        out[key] = (name, version)
    return list(out.values())


_VERSION = re.compile(r"[A-Za-z0-9.+~:_-]+\Z")


def split_pins(op: str, packages: Any) -> list[str | tuple[str, str]]:
    """A deploy's ``packages=`` (a name, a list of names, or None) as :func:`ensure_packages`
    takes it: ``"name=version"`` (pyinfra's way of pinning, for every tool) is the pair
    ``(name, version)``, joined again as the tool's command line wants it
    (:attr:`PackageManager.version_join`).

    >>> split_pins("apk.packages", ["curl", "musl=1.2.4-r2"])
    ['curl', ('musl', '1.2.4-r2')]
    """
    if packages is None:
        return []
    if isinstance(packages, str):
        packages = [packages]
    if not isinstance(packages, (list, tuple)):
        raise OperationValueError(f"{op}: packages= must be a name or a list of names, not {packages!r}")
    out: list[str | tuple[str, str]] = []
    for item in packages:
        if not isinstance(item, str):
            raise OperationValueError(f"{op}: a package is a string (name or name=version), not {item!r}")
        name, sep, version = item.partition("=")
        if sep:
            if not _VERSION.match(version):
                raise OperationValueError(f"{op}: {version!r} is not a version (in {item!r})")
            out.append((name, version))
        else:
            out.append(name)
    return out


def download_once(url: str, dest: str) -> str:
    """Fetch ``url`` to ``dest`` unless a file is there already: ``curl``, else ``wget``, into
    ``DEST.part``, then renamed into place (a failed download leaves no ``dest``)."""
    part = dest + ".part"
    fetch = or_else(command("curl", "-fsSL", "-o", part, "--", url), command("wget", "-q", "-O", part, "--", url))
    return if_then(file_test("!-f", dest), and_then(fetch, command("mv", "-f", "--", part, dest)))


#: Where a package file given by URL (``apt.deb``, ``dnf.rpm``...) is downloaded to and kept
#: (so a later run reads the package it holds without downloading again): a directory of
#: root's with mode 0700, checked before every use. Never ``/tmp``: a file another user
#: planted there under the predictable name would be installed.
DOWNLOAD_CACHE = "/var/cache/oxinfra"


def download_cache_path(kind: str, url: str, suffix: str) -> str:
    """The file in :data:`DOWNLOAD_CACHE` that ``url`` is downloaded to.

    >>> download_cache_path("deb", "https://example.com/a.deb", ".deb")[:23]
    '/var/cache/oxinfra/deb-'
    """
    return DOWNLOAD_CACHE + "/" + kind + "-" + hashlib.sha256(url.encode()).hexdigest()[:32] + suffix


def cached_download(url: str, dest: str) -> str:
    """Fetch ``url`` to ``dest`` (a :func:`download_cache_path`) unless a file is there already.

    First :data:`DOWNLOAD_CACHE` is made (mode 0700) and checked: a real directory (not a
    link), root's, mode exactly 0700; anything else fails with a message and downloads
    nothing, so no file another user could have written is ever trusted. The download goes
    to ``DEST.part`` (removed first), then is renamed into place."""
    directory = dest.rsplit("/", 1)[0]
    check = output_test("-n", command("find", directory, "-maxdepth", "0", "-type", "d", "-user", "0", "-perm", "700"))
    refuse = group(
        write_to(
            command(
                "printf",
                "oxinfra: %s must be a directory of root's with mode 0700 (not a link); fix or remove it\\n",
                directory,
            ),
            "/dev/stderr",
        ),
        "false",
    )
    return and_then(
        command("mkdir", "-p", "-m", "700", "--", directory),
        group(or_else(check, refuse)),
        if_then(
            file_test("!-f", dest),
            and_then(
                command("rm", "-f", "--", dest + ".part"),
                _fetch(url, dest + ".part"),
                command("mv", "-f", "--", dest + ".part", dest),
            ),
        ),
    )


def _fetch(url: str, path: str) -> str:
    return group(or_else(command("curl", "-fsSL", "-o", path, "--", url), command("wget", "-q", "-O", path, "--", url)))


def option_words(op: str, key: str, value: Any) -> list[str]:
    """Extra options for a package tool (``extra_install_args="-o X=1 --no-y"``) as words,
    split the way a shell would and each then quoted as one argument: never shell code. The
    first word must be an option, so no value can slip in a package name.

    >>> option_words("apt.packages", "extra_install_args", "-o 'A B=1' --quiet")
    ['-o', 'A B=1', '--quiet']
    """
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise OperationValueError(f"{op}: {key}= must be a string of options, not {value!r}")
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise OperationValueError(f"{op}: {key}= cannot be split into words: {exc}") from None
    if words and not words[0].startswith("-"):
        raise OperationValueError(f"{op}: {key}= must start with an option (-o, --no-install-suggests...): {value!r}")
    return words


def check_packages(manager: PackageManager, packages: Iterable[str | tuple[str, str]]) -> None:
    """Raise :class:`OperationValueError` for what :func:`ensure_packages` would refuse (call it
    before reading facts, so a bad name stops the deploy before any host is touched)."""
    _wanted(manager, packages)


def _installed(manager: PackageManager, current: Mapping[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, versions in current.items():
        key = manager.normalise(name) if manager.normalise else name
        out.setdefault(key, set()).update([versions] if isinstance(versions, str) else versions or ())
    return out


def ensure_packages(
    manager: PackageManager,
    packages: Iterable[str | tuple[str, str]],
    current: Mapping[str, Iterable[str] | str],
    present: bool = True,
    latest: bool = False,
) -> Iterator[str]:
    """Yield the commands that make ``packages`` installed (or, ``present=False``, not).

    + manager: the tool (:class:`PackageManager`)
    + packages: names, or ``(name, version)`` pairs for one exact version
    + current: the installed packages as the family's fact reads them: name → its installed
      versions (a list, or one string)
    + present: whether the packages should be installed
    + latest: also upgrade installed packages asked for without a version (the tool knows
      whether a newer one exists, so this runs, and counts as a change, every time)

    One command per verb (all names in one process). A package asked for with a version is
    installed at exactly it when that version is not installed; with ``present=False``,
    removed only when that version is installed. When nothing needs doing, says why
    (``noop``) and yields nothing.
    """
    wanted = _wanted(manager, packages)
    installed = _installed(manager, current)
    join = manager.version_join or ""

    def have(name: str) -> set[str] | None:
        return installed.get(manager.normalise(name) if manager.normalise else name)

    same = manager.same_version

    def has(versions: set[str], version: str) -> bool:
        return version in versions or (same is not None and same(version) in {same(v) for v in versions})

    def removable(name: str, version: str | None) -> bool:
        versions = have(name)
        return versions is not None and (version is None or has(versions, version))

    def shown(name: str, version: str | None) -> str:
        """The package as the tool's command line names it (a value: quoted by ``command``)."""
        return name if version is None else join.join((name, version))

    if not present:
        several = manager.several_versions
        remove = [shown(name, version) if several else name for name, version in wanted if removable(name, version)]
        if remove:
            yield manager.words("uninstall", remove)
        else:
            noop(f"not installed: {', '.join(shown(n, v) for n, v in wanted)}")
        return
    install: list[str] = []
    upgrade: list[str] = []
    for name, version in wanted:
        versions = have(name)
        if version is not None:
            if versions is None or not has(versions, version):
                install.append(shown(name, version))
        elif versions is None:
            install.append(name)
        elif latest:
            upgrade.append(name)
    if install:
        yield manager.words("install", install)
    if upgrade:
        yield manager.words("upgrade", upgrade)
    if not install and not upgrade:
        noop(f"installed: {', '.join(shown(n, v) for n, v in wanted)}")
