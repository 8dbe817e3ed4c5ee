"""Manage apt packages, the apt lists and apt's sources on Debian and Ubuntu hosts.

Every ``apt-get`` that may install or remove runs as ``env DEBIAN_FRONTEND=noninteractive
apt-get -y`` with dpkg told to keep changed configuration files (``--force-confdef``,
``--force-confold``), and waits up to :data:`LOCK_TIMEOUT` seconds for the dpkg lock
(``-o DPkg::Lock::Timeout``) instead of failing when another apt or dpkg holds it;
``apt-get update`` is tried again while another process holds the lists lock. Whether
anything needs doing is decided from the dpkg database (``deb.DebPackages``), read before
the run with the operation's other facts in one batch. Package names go after ``--``;
names apt-get would read as an action (``nginx-`` means "remove nginx") are refused.
"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlparse

from oxinfra.api import OperationGenerator, ensure_directory, get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.apt import UPDATE_STAMP, AptCacheAge, AptSources, SimulateOperationWillChange, parse_apt_repo
from oxinfra.facts.deb import DebPackage, DebPackages
from oxinfra.facts.files import File, FindInFile, LinkTarget
from oxinfra.operations import files
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.files import parent_dir
from oxinfra.operations.util.packaging import (
    PackageManager,
    check_packages,
    cached_download,
    download_cache_path,
    download_once,
    ensure_packages,
    option_words,
    split_pins,
)
from oxinfra.quoting import (
    Interpolated,
    and_then,
    command,
    file_test,
    group,
    if_then,
    or_else,
    path_operand,
    pipe,
    write_to,
)

__all__ = [
    "packages",
    "update",
    "upgrade",
    "dist_upgrade",
    "deb",
    "key",
    "repo",
    "ppa",
    "sources_file",
    "LOCK_TIMEOUT",
]

#: Seconds an apt-get waits for the dpkg lock another process holds before it fails.
LOCK_TIMEOUT = 300
#: A Debian package name (policy 5.6.1, upper case tolerated), optionally ``:arch``; never
#: ending in ``-`` (apt-get reads ``name-`` as "remove name").
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9+.-]*(?<!-)(:[A-Za-z0-9-]+)?"


#: ``apt-get update``, tried again each second (up to :data:`LOCK_TIMEOUT` times) while another
#: process holds apt's lists lock: apt-get waits for the dpkg lock when told to
#: (``DPkg::Lock::Timeout``) but not for that one. Its output is shown only when it fails.
#: Constant shell text: no value of the deploy's in it.
UPDATE_WAITING = (
    "(i=0; while ! out=$(LC_ALL=C apt-get -o DPkg::Lock::Timeout=SECONDS update 2>&1); do "
    'if [ "${out#*Could not get lock}" = "$out" ]; then printf \'%s\\n\' "$out" >&2; exit 100; fi; '
    'i=$((i + 1)); if [ "$i" -ge SECONDS ]; then printf \'%s\\n\' "$out" >&2; exit 100; fi; sleep 1; done)'
).replace("SECONDS", str(LOCK_TIMEOUT))


def _apt_get(verb: str, *options: str, force: bool = False) -> tuple[str, ...]:
    """The words of one non-interactive apt-get command, up to (not including) ``--``."""
    words = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y"]
    words += ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
    words += ["-o", "DPkg::Lock::Timeout=" + str(LOCK_TIMEOUT)]
    # A name apt-get finds no package of is otherwise read as a regular expression (``.`` and
    # ``+`` are in package names): ``est.app`` would install every package it matches.
    words += ["-o", "APT::Cmd::Pattern-Only=true"]
    if force:
        words.append("--force-yes")
    return (*words, verb, *options)


def _check_cache_time(op: str, cache_time: Any) -> None:
    if cache_time is not None and (isinstance(cache_time, bool) or not isinstance(cache_time, int) or cache_time < 0):
        raise OperationValueError(
            f"{op}: cache_time= must be a whole number of seconds (0 or more), not {cache_time!r}"
        )


def _update_commands(cache_time: int | None, age: int | None) -> list[str]:
    if cache_time and age is not None and age < cache_time:
        noop(f"apt lists updated {age}s ago (cache_time={cache_time})")
        return []
    out = [UPDATE_WAITING]
    if cache_time:
        out.append(command("touch", "--", UPDATE_STAMP))
    return out


def _upgrade_commands(verb: str, auto_remove: bool, changes: dict[str, int]) -> list[str]:
    # kept-back packages ("N not upgraded") stay kept back however often this runs: they
    # are not a change to make (counting them made the operation change on every run)
    if not any(count for key, count in changes.items() if key != "not_upgraded"):
        noop(f"apt-get {verb}: nothing to upgrade")
        return []
    return [command(*_apt_get(verb, *(["--autoremove"] if auto_remove else [])))]


@operation()
def update(cache_time: int | None = None) -> OperationGenerator:
    """Update the apt lists (``apt-get update``).

    Without ``cache_time`` this runs, and counts as a change, every time.

    + cache_time: skip the update when the last one (the stamp file
      ``/var/lib/apt/periodic/update-success-stamp``, touched after each update made with a
      ``cache_time``) is younger than this many seconds

    Example::

        apt.update(name="Update apt lists", cache_time=3600)
    """
    _check_cache_time("apt.update", cache_time)
    age = None
    if cache_time:
        (age,) = get_facts(host, [(AptCacheAge, {})])
    yield from _update_commands(cache_time, age)


def _simulated(verb: str, auto_remove: bool) -> dict[str, int]:
    changes: dict[str, int]
    (changes,) = get_facts(
        host, [(SimulateOperationWillChange, {"command": verb + (" --autoremove" if auto_remove else "")})]
    )
    return changes


@operation()
def upgrade(auto_remove: bool = False) -> OperationGenerator:
    """Upgrade every installed package (``apt-get upgrade``), when apt's simulation of it
    (``apt-get -s upgrade``) says it would change something.

    + auto_remove: also remove the dependencies nothing needs any more (``--autoremove``)

    Example::

        apt.upgrade(name="Upgrade packages", auto_remove=True)
    """
    check_flags("apt.upgrade", auto_remove=auto_remove)
    yield from _upgrade_commands("upgrade", auto_remove, _simulated("upgrade", auto_remove))


@operation()
def dist_upgrade(auto_remove: bool = False) -> OperationGenerator:
    """Upgrade every installed package, installing and removing others as the new versions'
    dependencies need (``apt-get dist-upgrade``), when its simulation says it would change
    something.

    + auto_remove: also remove the dependencies nothing needs any more (``--autoremove``)

    Example::

        apt.dist_upgrade(name="Dist-upgrade packages")
    """
    check_flags("apt.dist_upgrade", auto_remove=auto_remove)
    yield from _upgrade_commands("dist-upgrade", auto_remove, _simulated("dist-upgrade", auto_remove))


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    cache_time: int | None = None,
    upgrade: bool = False,
    force: bool = False,
    no_recommends: bool = False,
    allow_downgrades: bool = False,
    purge: bool = False,
    extra_install_args: str | None = None,
    extra_uninstall_args: str | None = None,
) -> OperationGenerator:
    """Install or remove apt packages, optionally updating the lists and upgrading first.

    A package is installed when dpkg's database does not list it (or, pinned as
    ``name=version``, not at that version); removed (``present=False``) when it lists it.
    All the operation's facts (installed packages, the lists' age, the upgrade simulation)
    are read in one batch before anything runs. A name is a package's name, never a pattern:
    apt-get is told to read no regular expression (``APT::Cmd::Pattern-Only``), so a name no
    package has fails the operation (checked with apt 2.6; an older apt that does not know the
    setting ignores it).

    + packages: a name or a list of names; ``name=version`` pins a version
    + present: whether the packages should be installed
    + latest: also upgrade installed packages asked for without a version (runs, and counts
      as a change, every time)
    + update: ``apt-get update`` first (see ``apt.update``)
    + cache_time: with ``update``, skip it when the lists are younger than this many seconds
    + upgrade: ``apt-get upgrade`` first (see ``apt.upgrade``)
    + force: pass ``--force-yes`` to apt-get
    + no_recommends: do not install recommended packages (``--no-install-recommends``)
    + allow_downgrades: let a pinned version be older than the installed one
    + purge: remove with ``apt-get purge`` (configuration files too)
    + extra_install_args: more apt-get options for installs (split into words like a shell
      would, each passed as one argument: never shell code)
    + extra_uninstall_args: the same for removals

    Example::

        apt.packages(name="Web server", packages=["nginx", "curl=7.88.1-10+deb12u5"], update=True, cache_time=3600)
    """
    op = "apt.packages"
    check_flags(
        op,
        present=present,
        latest=latest,
        update=update,
        upgrade=upgrade,
        force=force,
        no_recommends=no_recommends,
        allow_downgrades=allow_downgrades,
        purge=purge,
    )
    _check_cache_time(op, cache_time)
    wanted = split_pins(op, packages)
    install_options = ["--no-install-recommends"] if no_recommends else []
    if allow_downgrades:
        install_options.append("--allow-downgrades")
    manager = PackageManager(
        install=_apt_get(
            "install", *install_options, *option_words(op, "extra_install_args", extra_install_args), force=force
        ),
        uninstall=_apt_get(
            "purge" if purge else "remove", *option_words(op, "extra_uninstall_args", extra_uninstall_args), force=force
        ),
        upgrade=_apt_get("install", *install_options, force=force),
        version_join="=",
        name_pattern=NAME_PATTERN,
        tool="apt-get",
    )
    check_packages(manager, wanted)  # before any fact is read
    requests: list[tuple[type, dict[str, Any]]] = [(DebPackages, {})]
    if update and cache_time:
        requests.append((AptCacheAge, {}))
    if upgrade:
        requests.append((SimulateOperationWillChange, {"command": "upgrade"}))
    current, *rest = get_facts(host, requests)
    if update:
        yield from _update_commands(cache_time, rest.pop(0) if cache_time else None)
    if upgrade:
        yield from _upgrade_commands("upgrade", False, rest.pop(0))
    if wanted:
        yield from ensure_packages(manager, wanted, current, present, latest)
    elif not update and not upgrade:
        noop("no packages given")


def _verify(path: str, sha256sum: str, downloaded: bool) -> str:
    """Fail unless ``path`` has the SHA-256 digest ``sha256sum``; a downloaded file that does
    not is removed (the next run downloads it again)."""
    check = pipe(command("printf", "%s  %s\\n", sha256sum, path), command("sha256sum", "-c", "--quiet", "-"))
    if not downloaded:
        return check
    return or_else(check, group(command("rm", "-f", "--", path), "false"))


@operation()
def deb(src: str, present: bool = True, force: bool = False, sha256sum: str | None = None) -> OperationGenerator:
    """Install or remove the package of a ``.deb`` file, given by its path on the host or a URL.

    A URL is downloaded (``curl``, else ``wget``) once, to a file named after it in
    ``/var/cache/oxinfra`` (root's, mode 0700, checked before each use; never ``/tmp``,
    where another user could plant a file under the name): a later run reads that file.
    The package counts as installed when dpkg lists the
    archive's name at its version. Installing runs ``apt-get install`` on the file, which
    installs its dependencies from the apt sources too (pyinfra runs ``dpkg -i`` and then
    ``apt-get -f``).

    + src: the path of the ``.deb`` on the host, or an ``http``/``https``/``ftp`` URL
    + present: whether the package should be installed
    + force: pass ``--force-yes`` to apt-get
    + sha256sum: the file's SHA-256 digest, checked before it is installed (an oxinfra
      addition; a mismatch fails the operation, and a downloaded file is removed)

    Example::

        apt.deb(name="Local tool", src="/srv/debs/tool_1.2_amd64.deb", sha256sum="9f86d0...")
    """
    op = "apt.deb"
    check_flags(op, present=present, force=force)
    if not isinstance(src, str) or not src or "\n" in src:
        raise OperationValueError(f"{op}: src= must be a path or URL on one line, not {src!r}")
    if sha256sum is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", str(sha256sum)):
        raise OperationValueError(f"{op}: sha256sum= must be 64 hex digits, not {sha256sum!r}")
    scheme = urlparse(src).scheme
    url = src if scheme else None
    if url is not None and scheme not in ("http", "https", "ftp"):
        raise OperationValueError(f"{op}: src= URL scheme {scheme!r} is not http, https or ftp")
    # apt-get reads an argument as a file only from ``/``, ``./`` or ``../`` on (``debs/x.deb``
    # would be the package ``debs`` of the release ``x.deb``)
    path = download_cache_path("deb", src, ".deb") if url else src if src.startswith(("/", "./", "../")) else "./" + src
    info, installed = get_facts(host, [(DebPackage, {"package": path}), (DebPackages, {})])
    exists = bool(info) and info.get("version") in installed.get(info.get("name"), [])
    if not present:
        if exists:
            yield command(*_apt_get("remove", force=force), "--", info["name"])
        else:
            noop(f"deb {src} is not installed")
        return
    if exists:
        noop(f"deb {src} is installed ({info['name']} {info['version']})")
        return
    if url is not None:
        yield cached_download(url, path)
    if sha256sum is not None:
        yield _verify(path, sha256sum.lower(), url is not None)
    yield command(*_apt_get("install", force=force), "--", path)


@operation()
def repo(src: str, present: bool = True, filename: str | None = None) -> OperationGenerator:
    """Add or remove an apt source line (``deb [options] URL SUITE COMPONENTS``).

    The source counts as there when any sources file (``deb822`` ones too) configures it
    (``apt.AptSources``); it is added to, or removed from, one file only.

    + src: the source line
    + present: whether the source should be configured
    + filename: the file, ``/etc/apt/sources.list.d/<filename>.list``; default
      ``/etc/apt/sources.list``

    Example::

        apt.repo(name="Local repo", src="deb [trusted=yes] file:/srv/repo ./", filename="local")
    """
    op = "apt.repo"
    check_flags(op, present=present)
    if not isinstance(src, str) or not src.strip() or "\n" in src or "\r" in src or "\x00" in src:
        raise OperationValueError(f"{op}: src= must be one apt source line, not {src!r} (no newline or NUL byte)")
    if filename is not None and (
        not isinstance(filename, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", filename) or filename.startswith(".")
    ):
        raise OperationValueError(
            f"{op}: filename= is a file name under /etc/apt/sources.list.d (letters, digits, _ . -), not {filename!r}"
        )
    path = "/etc/apt/sources.list.d/" + filename + ".list" if filename else "/etc/apt/sources.list"
    wanted = parse_apt_repo(src)
    match = files._anchor(files.escape_bre(src))
    # files.line's own facts, read in this batch: the line it composes reads them again
    sources, _lines, _target = get_facts(
        host,
        [
            (AptSources, {}),
            (FindInFile, {"path": path, "pattern": match, "interpolate_variables": False}),
            (LinkTarget, {"path": path}),
        ],
    )
    is_present = wanted is not None and wanted in sources
    if present and not is_present:
        yield from files.line._inner(path=path, line=src, escape_regex_characters=True)
    elif is_present and not present:
        yield from files.line._inner(path=path, line=src, present=False, escape_regex_characters=True)
    else:
        noop(f"apt source {src!r} {'is configured' if present else 'is not configured'}")


@operation(is_idempotent=False)
def ppa(src: str, present: bool = True) -> OperationGenerator:
    """Add or remove an Ubuntu PPA with ``apt-add-repository`` (which the host must have:
    package ``software-properties-common``). Runs, and counts as a change, every time.
    Proven by fixtures only: the test hosts are Debian, with no network.

    + src: the PPA, ``ppa:user/name``
    + present: whether it should be configured

    Example::

        apt.ppa(name="Deadsnakes", src="ppa:deadsnakes/ppa")
    """
    check_flags("apt.ppa", present=present)
    if not isinstance(src, str) or not re.fullmatch(
        r"ppa:[A-Za-z0-9][A-Za-z0-9._+-]*/[A-Za-z0-9][A-Za-z0-9._+-]*", src
    ):
        raise OperationValueError(f"apt.ppa: src= must be ppa:USER/NAME, not {src!r}")
    yield command("apt-add-repository", "-y", *([] if present else ["--remove"]), "--", src)


def _words(op: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) and v and v.split() == [v] for v in items):
        raise OperationValueError(f"{op}: {key}= must be a word or a list of words, not {value!r}")
    return list(items)


@operation(
    fact_batches=2,
    fact_batches_reason="whether any sources file configures the repositories already decides whether the file is put",
)
def sources_file(
    filename: str,
    types: list[str] | str = "deb",
    uris: list[str] | str | None = None,
    suites: list[str] | str | None = None,
    components: list[str] | str | None = None,
    architectures: list[str] | str | None = None,
    signed_by: str | None = None,
    present: bool = True,
) -> OperationGenerator:
    """A deb822 sources file, ``/etc/apt/sources.list.d/<filename>.sources``.

    Nothing is written when every source it would describe is configured already (in any
    file, as ``apt.AptSources`` reads them); ``present=False`` removes the file.

    + filename: the file's name without ``.sources``
    + types: ``deb``, ``deb-src`` or both
    + uris: the repositories' URIs
    + suites: the suites (``bookworm``, or ``./`` for a flat repository)
    + components: the components (``main contrib``)
    + architectures: only these architectures
    + signed_by: the keyring file that signs the repositories
    + present: whether the file should exist

    Example::

        apt.sources_file(name="Local repo", filename="local", uris="file:/srv/repo", suites="./")
    """
    op = "apt.sources_file"
    check_flags(op, present=present)
    if not isinstance(filename, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", filename) or filename.startswith("."):
        raise OperationValueError(f"{op}: filename= must be a file name (letters, digits, _ . -), not {filename!r}")
    dest = "/etc/apt/sources.list.d/" + filename + ".sources"
    if not present:
        yield from files.file._inner(path=dest, present=False)
        return
    type_list = _words(op, "types", types) or ["deb"]
    uri_list = _words(op, "uris", uris)
    suite_list = _words(op, "suites", suites)
    component_list = _words(op, "components", components)
    arch_list = _words(op, "architectures", architectures)
    signed = _words(op, "signed_by", signed_by)
    if not uri_list or not suite_list:
        raise OperationValueError(f"{op}: needs at least one URI (uris=) and one suite (suites=)")
    if any(t not in ("deb", "deb-src") for t in type_list):
        raise OperationValueError(f"{op}: types= may only be deb and deb-src, not {type_list!r}")
    if len(signed) > 1:
        raise OperationValueError(f"{op}: signed_by= is one keyring path, not {signed_by!r}")
    options: dict[str, Any] = {}
    if arch_list:
        options["arch"] = arch_list if len(arch_list) > 1 else arch_list[0]
    if signed:
        options["signed-by"] = signed[0]
    wanted = [
        {"type": t, "url": u, "distribution": s, "components": component_list, "options": options}
        for t in type_list
        for u in uri_list
        for s in suite_list
    ]
    lines = ["Types: " + " ".join(type_list), "URIs: " + " ".join(uri_list), "Suites: " + " ".join(suite_list)]
    if component_list:
        lines.append("Components: " + " ".join(component_list))
    if arch_list:
        lines.append("Architectures: " + " ".join(arch_list))
    if signed:
        lines.append("Signed-By: " + signed[0])
    content = "\n".join(lines) + "\n"
    (sources,) = get_facts(host, [(AptSources, {})])
    if all(repo in sources for repo in wanted):
        noop(f"apt sources of {dest} are configured")
        return
    yield from files.put._inner(io.BytesIO(content.encode()), dest, mode="644")


def _keyring_part(text: str) -> str:
    text = re.sub(r"[^\w.-]+", "_", text.strip().lower())
    return re.sub(r"_+", "_", text).strip("_.")


def _key_dest(src: str) -> str:
    """pyinfra's keyring name for ``src``: ``/etc/apt/keyrings/<domain>-<name>.gpg`` for a URL,
    ``/etc/apt/keyrings/<name>.gpg`` for a path (``.asc`` and ``.gpg`` dropped from the name)."""
    parsed = urlparse(src)
    base = src.rsplit("/", 1)[-1] if not parsed.netloc else parsed.path.rsplit("/", 1)[-1] or "key"
    name = _keyring_part(base.replace(".asc", "").replace(".gpg", ""))
    if parsed.scheme and parsed.netloc:
        name = _keyring_part(parsed.netloc.replace(":", "_")) + "-" + name
    return "/etc/apt/keyrings/" + (name or "key") + ".gpg"


#: A key ID or fingerprint for ``keyid=``: 8, 16, 40 or 64 hex digits, ``0x`` allowed.
_KEYID = re.compile(r"(0[xX])?([0-9A-Fa-f]{8}|[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})")
#: A key server's host name (or IPv4 address), optionally ``:PORT``.
_KEYSERVER_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?"
)
#: The key server URL schemes gpg's dirmngr fetches keys with.
_KEYSERVER_SCHEMES = ("hkp", "hkps", "http", "https")
#: The temporary GNUPGHOME of a key server fetch (``mktemp -d``: mode 700), in the
#: operation's own subshell.
_GNUPGHOME = Interpolated("$__ox_g")


def _key_ids(op: str, keyid: Any) -> list[str]:
    ids = [keyid] if isinstance(keyid, str) else keyid
    if not isinstance(ids, (list, tuple)) or not ids:
        raise OperationValueError(f"{op}: keyid= must be a key ID or a list of key IDs, not {keyid!r}")
    for one in ids:
        if not isinstance(one, str) or not _KEYID.fullmatch(one):
            raise OperationValueError(
                f"{op}: keyid {one!r} is not a key ID or fingerprint (8, 16, 40 or 64 hex digits, 0x allowed)"
            )
    return list(ids)


def _check_keyserver(op: str, keyserver: Any) -> None:
    bad = OperationValueError(
        f"{op}: keyserver= must be a hkp, hkps, http or https URL or a host name, not {keyserver!r}"
    )
    if not isinstance(keyserver, str):
        raise bad
    if "://" not in keyserver:
        found = _KEYSERVER_HOST.fullmatch(keyserver)
        if not found or (found.group(1) and not 0 < int(found.group(1)[1:]) < 65536):
            raise bad
        return
    try:
        parsed = urlparse(keyserver)
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise bad from None
    if (
        parsed.scheme not in _KEYSERVER_SCHEMES
        or not parsed.netloc
        or "@" in parsed.netloc
        or not _KEYSERVER_HOST.fullmatch(parsed.netloc)
        or parsed.path not in ("", "/")
        or parsed.params
        or parsed.query
        or parsed.fragment
    ):
        raise bad


def _fetch_keys(keyserver: str, ids: list[str], dest: str) -> str:
    """Fetch ``ids`` from ``keyserver`` into a new private GNUPGHOME (``mktemp -d``), check
    that each one arrived, export them to ``DEST.part`` and rename that into place; the
    GNUPGHOME (and its dirmngr) is removed whatever happens, ``DEST.part`` when anything
    failed, and the operation then fails with the failing command's status."""
    part = dest + ".part"
    gpg = ("gpg", "--batch", "--no-tty", "--homedir", _GNUPGHOME)
    steps = group(
        command(*gpg, "--keyserver", keyserver, "--recv-keys", "--", *ids),
        *(write_to(command(*gpg, "--list-keys", "--", one), "/dev/null") for one in ids),
        write_to(command(*gpg, "--export", "--", *ids), part),
        file_test("-s", part),
        command("chmod", "644", "--", part),
        command("mv", "-f", "--", part, dest),
    )
    cleanup = group(
        or_else(
            write_to(command("env", Interpolated("GNUPGHOME=$__ox_g"), "gpgconf", "--kill", "all"), "/dev/null"),
            command("true"),
        ),
        command("rm", "-rf", "--", _GNUPGHOME),
    )
    failed = group("__ox_r=$?", command("rm", "-f", "--", part), or_else(cleanup, command("true")), "exit $__ox_r")
    return and_then('__ox_g="$(mktemp -d)"', group(or_else(steps, failed), cleanup))


@operation()
def key(
    src: str | None = None,
    keyserver: str | None = None,
    keyid: str | list[str] | None = None,
    dest: str | None = None,
    present: bool = True,
) -> OperationGenerator:
    """A keyring file for apt under ``/etc/apt/keyrings`` (for ``signed-by=``), made from a
    key file on the host or at a URL, or fetched by key ID from a key server. An armored key
    (``-----BEGIN PGP``) is dearmored with ``gpg``, which the host needs. As in pyinfra, a
    keyring file that exists already counts as done (its mode is made 644); ``present=False``
    removes the file.

    A key server fetch runs ``gpg --recv-keys`` (the host needs ``gpg``, ``dirmngr`` and
    ``gpg-agent``, as Debian's ``gnupg`` installs them, and to reach the key server) in a temporary ``GNUPGHOME`` made with ``mktemp -d`` and removed
    afterwards (its ``dirmngr`` stopped); it checks that every ID arrived, exports them into
    ``DEST.part`` and renames that into place: a failed fetch fails the operation and leaves
    no keyring. Only key IDs reach ``gpg``'s arguments.

    Not supported here (a clear error before anything runs): removing keys by ID
    (``keyid=`` with ``present=False``); remove the keyring file (``dest=``) instead.

    + src: the key: a path on the host, or an http/https URL (downloaded with curl or wget)
    + keyserver: the key server to fetch ``keyid`` from: a ``hkp``, ``hkps``, ``http`` or
      ``https`` URL, or a host name (``HOST:PORT`` allowed)
    + keyid: a key ID or fingerprint (8, 16, 40 or 64 hex digits, ``0x`` allowed), or a list
      of them; needs ``keyserver``
    + dest: the keyring: a name under ``/etc/apt/keyrings`` or an absolute path (``.gpg``
      added when missing); default: named after ``src``, or ``keyserver-<keyids>.gpg``
      (pyinfra's name: the IDs in lower case, joined with ``-``)
    + present: whether the keyring file should exist

    Example::

        apt.key(name="Vendor key", src="https://example.com/vendor.asc", dest="vendor.gpg")
        apt.key(
            name="Keys from a key server",
            keyserver="hkps://keyserver.ubuntu.com",
            keyid=["0xD88E42B4", "0x7EA0A9C3"],
            dest="vendor-archive.gpg",
        )
    """
    op = "apt.key"
    check_flags(op, present=present)
    ids: list[str] = []
    if keyid is not None:
        if not present:
            raise OperationValueError(
                f"{op}: removing keys by ID (keyid= with present=False) is not supported by oxinfra: "
                "remove the keyring file (dest=, present=False) instead"
            )
        ids = _key_ids(op, keyid)
        if keyserver is None:
            raise OperationValueError(f"{op}: keyid= needs keyserver= (the key server to fetch the keys from)")
    if keyserver is not None:
        if src is not None:
            raise OperationValueError(f"{op}: give either src= or keyserver= with keyid=, not both")
        if keyid is None:
            raise OperationValueError(f"{op}: keyserver= needs keyid= (the IDs of the keys to fetch)")
        _check_keyserver(op, keyserver)
    for name, value in (("src", src), ("dest", dest)):
        if value is not None and (
            not isinstance(value, str) or not value or "\n" in value or "\r" in value or "\x00" in value
        ):
            raise OperationValueError(f"{op}: {name}= must be a path or URL on one line (no NUL byte), not {value!r}")
    if dest is not None:
        dest = dest if dest.startswith("/") else "/etc/apt/keyrings/" + dest
        if not dest.endswith(".gpg"):
            dest += ".gpg"
    elif src is not None:
        dest = _key_dest(src)
    elif ids:
        dest = "/etc/apt/keyrings/keyserver-" + "-".join(one.lower() for one in ids) + ".gpg"
    else:
        raise OperationValueError(f"{op}: give src= (the key) or, to remove a keyring, dest=")
    if not present:
        yield from files.file._inner(path=dest, present=False)
        return
    if keyserver is not None:
        (there,) = get_facts(host, [(File, {"path": dest})])
        if there:
            yield from files.file._inner(path=dest, mode="644")
            noop(f"keyring {dest} exists")
            return
        touches(dest, ancestors=True)
        touches(dest + ".part")
        yield from ensure_directory(parent_dir(dest))
        yield _fetch_keys(keyserver, ids, dest)
        return
    if src is None:
        raise OperationValueError(f"{op}: src= (the key's path or URL) is needed to add a key")
    scheme = urlparse(src).scheme
    if scheme and scheme not in ("http", "https"):
        raise OperationValueError(f"{op}: src= URL scheme {scheme!r} is not http or https")
    (there,) = get_facts(host, [(File, {"path": dest})])
    if there:
        yield from files.file._inner(path=dest, mode="644")
        noop(f"keyring {dest} exists")
        return
    touches(dest, ancestors=True)
    part = dest + ".part"
    touches(part)
    yield from ensure_directory(parent_dir(dest))
    key_file = path_operand(src)  # grep's and gpg's "-" is their standard input
    if scheme:
        key_file = dest + ".download"
        touches(key_file)
        yield download_once(src, key_file)
    armored = command("grep", "-q", "--", "-----BEGIN PGP", key_file)
    dearmor = command("gpg", "--batch", "--yes", "--dearmor", "-o", part, "--", key_file)
    yield if_then(armored, dearmor, command("cp", "--", key_file, part))
    yield and_then(command("chmod", "644", "--", part), command("mv", "-f", "--", part, dest))
    if scheme:
        yield command("rm", "-f", "--", key_file)
