"""Facts about apt: its sources, the packages it lists as installed, what an ``apt-get``
command would change."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import FactBase, FactFailed
from oxinfra.exceptions import FactError
from oxinfra.quoting import and_then, file_test, or_else
from oxinfra.quoting import command as shell_command

__all__ = [
    "AptCacheAge",
    "AptKeys",
    "parse_gpg_colons",
    "AptSources",
    "AptPackages",
    "SimulateOperationWillChange",
    "parse_apt_repo",
    "parse_sources_file",
]

_NAME = r"[a-zA-Z0-9\+\-\.]+(?::[a-zA-Z0-9]+)?"
_VERSION = r"[a-zA-Z0-9:~\.\-\+]+"
_LIST_LINE = re.compile(r"^(deb(?:-src)?)(?:\s+\[([^\]]+)\])?\s+(\S+)\s+(\S+)(?:\s+([a-z-\s\d]+))?\s*$")
_INSTALLED = re.compile(rf"^({_NAME})/\S+\s+({_VERSION})\s+\S+\s+\[installed")
_FILE_MARK = "##OXINFRA_APT_FILE "
_SUMMARY = re.compile(r"^(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded\.$")

#: The stamp file of the last ``apt-get update`` made with a ``cache_time``.
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"
#: The files apt reads its sources from (one-line ``.list`` and deb822 ``.sources``).
SOURCE_GLOBS = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources")


def parse_apt_repo(line: str) -> dict[str, Any] | None:
    """One ``deb [options] URL SUITE [COMPONENTS...]`` line as a source (the shape of
    :class:`AptSources`' items), or None when it is not one.

    >>> parse_apt_repo("deb [arch=amd64,arm64 trusted=yes] http://x/debian bookworm main contrib")["options"]
    {'arch': ['amd64', 'arm64'], 'trusted': 'yes'}
    """
    match = _LIST_LINE.match(line.strip())
    if not match:
        return None
    options: dict[str, Any] = {}
    for option in (match.group(2) or "").split():
        key, sep, value = option.partition("=")
        if sep:
            options[key] = value.split(",") if "," in value else value
    return {
        "type": match.group(1),
        "url": match.group(3),
        "distribution": match.group(4),
        "components": (match.group(5) or "").split(),
        "options": options,
    }


def _stanza(lines: list[str]) -> list[dict[str, Any]]:
    fields: dict[str, str] = {}
    key = None
    for line in lines:
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t") and key is not None:
            rest = line[1:]
            fields[key] += "\n" + ("" if rest == "." else rest)
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
    if not all(k in fields for k in ("Types", "URIs", "Suites")) or fields.get("Enabled", "yes").lower() != "yes":
        return []
    options: dict[str, Any] = {}
    arches = fields.get("Architectures", "").split()
    if arches:
        options["arch"] = arches if len(arches) > 1 else arches[0]
    signed = fields.get("Signed-By", "").strip()
    if signed:
        keys = [signed] if "-----BEGIN PGP" in signed else signed.split()
        options["signed-by"] = keys if len(keys) > 1 else keys[0]
    if fields.get("Trusted"):
        options["trusted"] = fields["Trusted"].lower()
    return [
        {
            "type": kind,
            "url": url,
            "distribution": suite,
            "components": fields.get("Components", "").split(),
            "options": dict(options),
        }
        for kind in fields["Types"].split()
        for url in fields["URIs"].split()
        for suite in fields["Suites"].split()
    ]


def parse_sources_file(lines: list[str]) -> list[dict[str, Any]]:
    """The sources of a deb822 ``.sources`` file (stanzas split by blank lines; a disabled
    stanza or one without ``Types``, ``URIs`` and ``Suites`` gives none)."""
    out: list[dict[str, Any]] = []
    stanza: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            stanza.append(line.rstrip("\n"))
        elif stanza:
            out.extend(_stanza(stanza))
            stanza = []
    return out


class AptSources(FactBase[Any]):
    """The apt sources: ``[{"type", "url", "distribution", "components", "options"}]`` from
    ``/etc/apt/sources.list``, ``sources.list.d/*.list`` (one-line format) and
    ``sources.list.d/*.sources`` (deb822, one item per type, URI and suite). Lines that are
    not sources are skipped, as apt's comments are; a file that cannot be read fails the fact."""

    #: The loop assigns a variable: it runs in its own subshell.
    shell_safe = False

    def command(self) -> str:
        return (
            "(for f in " + " ".join(SOURCE_GLOBS) + '; do [ -e "$f" ] || continue; '
            "echo '" + _FILE_MARK + '\'"$f"; cat -- "$f" || exit 2; echo; done)'
        )

    def default(self) -> Any:
        return []

    def process(self, output: list[str]) -> Any:
        repos: list[dict[str, Any]] = []
        name: str | None = None
        buffer: list[str] = []

        def flush() -> None:
            if name is not None and buffer:
                if name.endswith(".sources"):
                    repos.extend(parse_sources_file(buffer))
                else:
                    for line in buffer:
                        line = line.strip()
                        if line and not line.startswith("#"):
                            repo = parse_apt_repo(line)
                            if repo:
                                repos.append(repo)
            buffer.clear()

        for line in output:
            if line.startswith(_FILE_MARK):
                flush()
                name = line[len(_FILE_MARK) :].strip()
            else:
                buffer.append(line)
        flush()
        return repos


class AptPackages(FactBase[Any]):
    """The packages ``apt list --installed`` lists: ``{"name": ["version"]}``, names with
    their ``:arch`` suffix when apt prints one. A line that is not a package fails the fact
    (apt's ``Listing...`` notice aside)."""

    shell_safe = True

    def command(self) -> str:
        return "apt list --installed"

    def default(self) -> Any:
        return {}

    def process(self, output: list[str]) -> Any:
        packages: dict[str, list[str]] = {}
        for line in output:
            if not line.strip() or line.startswith("Listing..."):
                continue
            match = _INSTALLED.match(line)
            if not match:
                raise FactFailed(0, f"not a package of apt list --installed: {line[:120]!r}")
            versions = packages.setdefault(match.group(1), [])
            if match.group(2) not in versions:
                versions.append(match.group(2))
        return {name: sorted(versions) for name, versions in packages.items()}


class AptCacheAge(FactBase[Any]):
    """Seconds since ``/var/lib/apt/periodic/update-success-stamp`` was last touched (after
    an ``apt-get update``; ``apt.update`` touches it when given ``cache_time``), by the host's
    clock; ``None`` when there is no stamp. (pyinfra reads the stamp's ``files.File`` and
    ``server.Date`` for this; one fact here.)"""

    shell_safe = True

    def command(self) -> str:
        return and_then(
            shell_command("date", "+%s"),
            or_else(file_test("!-e", UPDATE_STAMP), shell_command("stat", "-c", "%Y", "--", UPDATE_STAMP)),
        )

    def process(self, output: list[str]) -> Any:
        try:
            numbers = [int(line) for line in output]
        except ValueError:
            raise FactFailed(0, f"not seconds since the epoch: {output!r}") from None
        if len(numbers) == 1:
            return None
        if len(numbers) != 2:
            raise FactFailed(0, f"expected the time and the stamp's mtime, got {output!r}")
        return max(0, numbers[0] - numbers[1])


#: Where apt finds the keys it trusts (``signed-by=`` keyrings and the global ones).
KEYRING_DIRS = ("/etc/apt/trusted.gpg.d", "/etc/apt/keyrings", "/usr/share/keyrings")
_KEYRING_MARK = "##OXINFRA_KEYRING "


def parse_gpg_colons(lines: list[str]) -> dict[str, Any]:
    """gpg's ``--with-colons`` key listing as ``{KEYID: {"validity", "length", "subkeys":
    {SUBKEYID: {...}}, "fingerprint", "uid_hash", "uid"}}``: ``fpr`` and ``uid`` records
    belong to the subkey listed last, else to the key (gpg's doc/DETAILS gives the fields).
    """
    keys: dict[str, Any] = {}
    key: dict[str, Any] | None = None
    sub: dict[str, Any] | None = None
    for line in lines:
        bits = line.split(":")
        if bits[0] in ("pub", "sub") and len(bits) > 4:
            try:
                details: dict[str, Any] = {"validity": bits[1], "length": int(bits[2])}
            except ValueError:
                raise FactFailed(0, f"not a gpg key record: {line[:120]!r}") from None
            if bits[0] == "pub":
                key, sub = details, None
                key["subkeys"] = {}
                keys[bits[4]] = key
            elif key is not None:
                sub = details
                key["subkeys"][bits[4]] = sub
        elif key is not None and len(bits) > 9:
            target = sub if sub is not None else key
            if bits[0] == "fpr":
                target["fingerprint"] = bits[9]
            elif bits[0] == "uid":
                target["uid_hash"] = bits[7]
                target["uid"] = bits[9]
    return keys


class AptKeys(FactBase[Any]):
    """The keys of apt's keyrings (``/etc/apt/trusted.gpg.d``, ``/etc/apt/keyrings``,
    ``/usr/share/keyrings``: ``*.gpg`` and ``*.kbx`` listed with ``gpg --list-keys``, ``*.asc``
    read by ``gpg``): ``{KEYID: {"validity", "length", "subkeys", "fingerprint", "uid_hash",
    "uid"}}`` (see :func:`parse_gpg_colons`); a key ID in several keyrings: the last one read
    (the binary keyrings are read first, then the armored ones). Keyrings at the top of each
    directory are read, in name order (pyinfra's ``find`` also reads below, in directory
    order). A keyring gpg cannot read fails the fact (pyinfra skips it)."""

    #: The loop assigns variables: it runs in its own subshell.
    shell_safe = False

    def command(self) -> str:
        dirs = " ".join(KEYRING_DIRS)
        mark = "echo '" + _KEYRING_MARK + '\'"$f"; '
        # binary keyrings of every directory first, then the armored ones (pyinfra's order:
        # a key in both kinds is the armored one's)
        return (
            "(for d in "
            + dirs
            + '; do for f in "$d"/*.gpg "$d"/*.kbx; do [ -f "$f" ] || continue; '
            + mark
            + 'gpg --batch --list-keys --with-colons --keyring "$f" --no-default-keyring || exit 2; done; done; '
            "for d in "
            + dirs
            + '; do for f in "$d"/*.asc; do [ -f "$f" ] || continue; '
            + mark
            + 'gpg --batch --with-colons -- "$f" || exit 2; done; done)'
        )

    def default(self) -> Any:
        return {}

    def process(self, output: list[str]) -> Any:
        keys: dict[str, Any] = {}
        chunk: list[str] = []
        for line in [*output, _KEYRING_MARK]:
            if line.startswith(_KEYRING_MARK):
                keys.update(parse_gpg_colons(chunk))
                chunk = []
            elif line.strip():
                chunk.append(line.strip())
        return keys


class SimulateOperationWillChange(FactBase[Any]):
    """What ``apt-get COMMAND`` would change, from its simulation (``apt-get -s``):
    ``{"upgraded", "newly_installed", "removed", "not_upgraded"}`` counts. A simulation that
    fails, or prints no summary, fails the fact.

    + command: ``upgrade``, ``dist-upgrade``, optionally with ``--autoremove``
    """

    shell_safe = True

    def command(self, command: str) -> str:
        words = command.split()
        if not words or words[0] not in ("upgrade", "dist-upgrade") or any(w != "--autoremove" for w in words[1:]):
            raise FactError(f"not an apt-get command to simulate: {command!r} (upgrade or dist-upgrade)")
        return shell_command("env", "LC_ALL=C", "apt-get", "-s", *words)

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc == 0 and not stdout.strip():
            # no output at all is no summary either (not the default None, which the
            # operations would take for a count)
            raise FactFailed(0, "apt-get -s printed nothing (no summary line: N upgraded, N newly installed, ...)")
        return super().parse(stdout, rc)

    def process(self, output: list[str]) -> Any:
        for line in output:
            match = _SUMMARY.match(line.strip())
            if match:
                upgraded, installed, removed, kept = (int(g) for g in match.groups())
                return {"upgraded": upgraded, "newly_installed": installed, "removed": removed, "not_upgraded": kept}
        raise FactFailed(0, "apt-get -s printed no summary line (N upgraded, N newly installed, ...)")
