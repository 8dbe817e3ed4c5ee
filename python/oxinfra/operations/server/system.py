"""System settings: ``server.sysctl``, ``server.hostname``, ``server.timezone``,
``server.security_limit``.

Each reads its facts in one batch (its own and those of the file operations it composes:
``files.line``, ``files.put``) and changes files through them (the time zone link: one ``ln -sfn``).
"""

from __future__ import annotations

import io
import ipaddress
import posixpath
import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, File, Link
from oxinfra.facts.server import Hostname, Os, Which
from oxinfra.facts.server.settings import LIMITS_FILE, Sysctl, check_sysctl_key
from oxinfra.operations import files
from oxinfra.operations.files import escape_bre
from oxinfra.quoting import command

__all__ = ["sysctl", "hostname", "timezone", "security_limit", "etc_hosts"]


_line_facts = files.line_facts
_put_facts = files.put_facts


def _one_line(value: Any, what: str, op: str) -> str:
    text = str(value)
    if isinstance(value, bool) or not text.strip() or "\n" in text or "\r" in text:
        raise OperationValueError(f"{op}: {what} {value!r} must be a value on one line")
    return text


# -------------------------------------------------------------------------------- sysctl


def _sysctl_value(key: str, value: Any) -> tuple[str, Any]:
    """(the text ``sysctl -w`` is given, the value the ``server.Sysctl`` fact shows for it:
    read through the fact's own parser, so the two compare as the host's would)."""
    words = list(value) if isinstance(value, (list, tuple)) else [value]
    for word in words:
        if isinstance(word, bool) or not isinstance(word, (str, int)):
            raise OperationValueError(
                f"server.sysctl: value {value!r} must be a string, a whole number or a list of them"
            )
    text = " ".join(_one_line(v, "value", "server.sysctl").strip() for v in words)
    if not words or not text:
        raise OperationValueError(f"server.sysctl: value {value!r} is empty")
    return text, Sysctl().parse((key + " = " + text + "\n").encode(), 0).get(key)


@operation(shell_safe=True)
def sysctl(
    key: str,
    value: str | int | list[str | int],
    persist: bool = False,
    persist_file: str = "/etc/sysctl.conf",
) -> OperationGenerator:
    """Set a kernel parameter now and, with ``persist``, in a sysctl file.

    The running value is read with the ``server.Sysctl`` fact and set with ``sysctl -w``
    when it differs. With ``persist`` the file gets one ``key = value`` line: every line
    that sets the key (``key=...``, any spacing, indented or not, ``-key=...`` too) is
    rewritten to it, or it is appended (the file is created when missing).

    + key: the parameter (``net.ipv4.ip_forward``)
    + value: its value; a list (or a string of words) for parameters of several numbers
    + persist: also write it to ``persist_file``
    + persist_file: the file read at boot (``/etc/sysctl.conf``, or one in ``/etc/sysctl.d``)

    Example::

        server.sysctl(name="Forward IPv4", key="net.ipv4.ip_forward", value=1, persist=True, _sudo=True)
    """
    op = "server.sysctl"
    if not check_sysctl_key(key):
        raise OperationValueError(
            f"{op}: key {key!r} is not a sysctl key (letters, digits and . _ - / *, not '-' first)"
        )
    if "/" in key:
        # sysctl's slashed form: "/" separates, "." is part of a name (net/ipv4/conf/eth0.1/x
        # is net.ipv4.conf.eth0/1.x): the dotted form is the one the fact shows
        key = key.translate(str.maketrans("./", "/."))
    text, want = _sysctl_value(key, value)
    batch: list[tuple[type, dict[str, Any]]] = [(Sysctl, {"keys": [key]})]
    line = replace = ""
    if persist:
        if not isinstance(persist_file, str) or not persist_file.startswith("/"):
            raise OperationValueError(f"{op}: persist_file {persist_file!r} must be an absolute path")
        # every assignment sysctl reads at boot: leading blanks and a leading "-" (ignore a
        # failure to set it) are allowed (sysctl.conf(5)); the last one wins, so all of them
        line = "^[[:space:]]*-\\{0,1\\}" + escape_bre(key) + "[[:space:]]*=.*$"
        replace = key + " = " + text
        batch += _line_facts(persist_file, line, replace=replace)
    current, *_ = get_facts(host, batch)
    # A key the fact does not show (unknown, or not readable) is set all the same: sysctl
    # then says which it is.
    touches("/proc/sys/" + key.translate(str.maketrans("./", "/.")))
    if current.get(key) != want:
        yield command("sysctl", "-w", "--", key + "=" + text)
    else:
        host.noop(f"sysctl {key} is {text}")
    if persist:
        yield from files.line._inner(persist_file, line, replace=replace)


# -------------------------------------------------------------------------------- hostname

_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)


@operation(shell_safe=True)
def hostname(hostname: str, hostname_file: str | bool | None = None) -> OperationGenerator:
    """Set the host's name: with ``hostnamectl`` where it is installed (systemd; it writes
    ``/etc/hostname`` itself), else with ``hostname`` and a hostname file.

    + hostname: the name (letters, digits, ``-`` and dots: RFC 1123)
    + hostname_file: the file that keeps the name across reboots (default ``/etc/hostname``,
      ``/etc/myname`` on OpenBSD); ``False``: write none. Only used without ``hostnamectl``.

    Example::

        server.hostname(name="Name", hostname="web1.example.com", _sudo=True)
    """
    op = "server.hostname"
    if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
        raise OperationValueError(
            f"{op}: {hostname!r} is not a host name: labels of letters, digits and '-' (not first or last), "
            "joined by dots, 253 characters at most"
        )
    if hostname_file not in (None, False) and (not isinstance(hostname_file, str) or not hostname_file.startswith("/")):
        raise OperationValueError(f"{op}: hostname_file {hostname_file!r} must be an absolute path or False")
    candidates = [hostname_file] if isinstance(hostname_file, str) else ["/etc/hostname", "/etc/myname"]
    batch: list[tuple[type, dict[str, Any]]] = [(Hostname, {}), (Which, {"command": "hostnamectl"}), (Os, {})]
    if hostname_file is not False:
        for path in candidates:
            batch += _put_facts(path)
    current, hostnamectl, os_name, *_ = get_facts(host, batch)
    if hostnamectl:
        touches("/etc/hostname")
        if current != hostname:
            yield command("hostnamectl", "set-hostname", "--", hostname)
        else:
            host.noop("hostname is set")
        return
    touches("/proc/sys/kernel/hostname")
    if current != hostname:
        yield command("hostname", "--", hostname)
    else:
        host.noop("hostname is set")
    if hostname_file is not False:
        path = candidates[0] if hostname_file else "/etc/myname" if os_name == "OpenBSD" else "/etc/hostname"
        yield from files.put._inner(io.BytesIO((hostname + "\n").encode()), path)


# -------------------------------------------------------------------------------- timezone

ZONEINFO = "/usr/share/zoneinfo"
_ZONE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+-]*(/[A-Za-z0-9_+][A-Za-z0-9_+-]*)*\Z")


@operation(shell_safe=True)
def timezone(timezone: str) -> OperationGenerator:
    """Set the host's time zone: with ``timedatectl`` where it is installed, else by
    pointing ``/etc/localtime`` at the zone's file and writing ``/etc/timezone``.

    The zone must exist under ``/usr/share/zoneinfo`` (an error before anything changes).
    It is read from where ``/etc/localtime`` points; the link is replaced in one step
    (``ln -sfn``), a file there too.

    + timezone: the zone (``Europe/Amsterdam``, ``UTC``)

    Example::

        server.timezone(name="Time zone", timezone="Europe/Amsterdam", _sudo=True)
    """
    op = "server.timezone"
    if not isinstance(timezone, str) or not _ZONE.match(timezone) or len(timezone) > 200:
        raise OperationValueError(
            f"{op}: {timezone!r} is not a time zone name such as Europe/Amsterdam or UTC "
            "(letters, digits, _ + -, parts joined by '/')"
        )
    zone_file = ZONEINFO + "/" + timezone
    batch: list[tuple[type, dict[str, Any]]] = [
        (Link, {"path": "/etc/localtime"}),
        (Directory, {"path": "/etc/localtime"}),
        (File, {"path": zone_file}),
        (Directory, {"path": zone_file}),
        (Which, {"command": "timedatectl"}),
        *_put_facts("/etc/timezone"),
    ]
    link, localtime_dir, zone, zone_dir, timedatectl, *_ = get_facts(host, batch)
    if zone is None or zone_dir:  # a file, or a link to one (UTC -> Etc/UTC): a zone
        raise OperationError(f"{op}: there is no time zone {timezone} on the host ({zone_file} is not a zone file)")
    target = (link or {}).get("link_target") or ""
    current = posixpath.normpath(posixpath.join("/etc", target)) if target else None
    touches("/etc/localtime")
    touches("/etc/timezone")
    if timedatectl:
        if current != zone_file:
            yield command("timedatectl", "set-timezone", "--", timezone)
        else:
            host.noop(f"time zone is {timezone}")
        return
    if current != zone_file:
        if localtime_dir:
            raise OperationError(f"{op}: /etc/localtime is a directory; remove it first")
        # One step (a new link renamed over the old one): never a moment without it, and no
        # rm-then-ln that an overlay filesystem can undo (the image's link comes back).
        yield command("ln", "-sfn", "--", zone_file, "/etc/localtime")
    else:
        host.noop(f"time zone is {timezone}")
    yield from files.put._inner(io.BytesIO((timezone + "\n").encode()), "/etc/timezone")


# -------------------------------------------------------------------------------- limits

_LIMIT_TYPES = ("soft", "hard", "-")


@operation(shell_safe=True)
def security_limit(domain: str, limit_type: str, item: str, value: int | str) -> OperationGenerator:
    """Set one limit in ``/etc/security/limits.conf`` (pam_limits): the lines for the same
    domain, type and item are rewritten to ``domain<TAB>type<TAB>item<TAB>value``, or it is
    appended.

    + domain: a user, ``@group``, ``%group``, ``*``, or a uid/gid range
    + limit_type: ``soft``, ``hard`` or ``-`` (both)
    + item: what is limited (``nofile``, ``nproc``, ``memlock``, ...)
    + value: the limit (a number, ``unlimited`` or ``infinity``)

    Example::

        server.security_limit(name="Open files", domain="*", limit_type="soft", item="nofile",
                              value=65536, _sudo=True)
    """
    op = "server.security_limit"
    fields = {"domain": domain, "item": item, "value": value}
    for what, field in fields.items():
        if (
            isinstance(field, bool)
            or not isinstance(field, (str, int))
            or (what != "value" and not isinstance(field, str))
        ):
            raise OperationValueError(f"{op}: {what} {field!r} must be a string{' or a number' * (what == 'value')}")
        text = str(field)
        if not text or any(c.isspace() or not c.isprintable() for c in text) or "#" in text:
            raise OperationValueError(f"{op}: {what} {field!r} must be one word (no spaces, control characters or '#')")
    if limit_type not in _LIMIT_TYPES:
        raise OperationValueError(f"{op}: limit_type {limit_type!r} must be 'soft', 'hard' or '-'")
    space = "[[:space:]][[:space:]]*"  # one or more, in a basic regular expression
    pattern = "^" + escape_bre(domain) + space + escape_bre(limit_type) + space + escape_bre(item) + "[[:space:]].*$"
    yield from files.line._inner(
        LIMITS_FILE, pattern, replace=domain + "\t" + limit_type + "\t" + item + "\t" + str(value)
    )


# -------------------------------------------------------------------------------- /etc/hosts


def _hosts_entries(lines: list[str]) -> dict[str, list[str]]:
    """IP -> names of a hosts file's lines (comments and blank lines left out; an IP listed
    twice: its names merged in order), as pyinfra's ``server.EtcHosts`` reads them."""
    entries: dict[str, list[str]] = {}
    for raw in lines:
        parts = raw.split("#", 1)[0].split()
        if len(parts) < 2:
            continue
        names = entries.setdefault(parts[0], [])
        names += [n for n in parts[1:] if n not in names]
    return entries


@operation(shell_safe=True)
def etc_hosts(
    ip: str, hostnames: str | list[str] | None = None, present: bool = True, path: str = "/etc/hosts"
) -> OperationGenerator:
    """Add, change or remove the line of an IP address in ``/etc/hosts``.

    With ``present`` the IP's line becomes ``IP NAME...`` (added when missing; an IP on
    several lines: each becomes that line). Without, the IP's lines go, or with
    ``hostnames`` only those names (a line left without names goes). Other lines, comments
    included, stay; the file is rewritten whole (a new file renamed over it), keeping its
    mode.

    + ip: the IP address (v4 or v6)
    + hostnames: a name, names separated by spaces, or a list
    + present: whether the entry should be there
    + path: the hosts file

    Example::

        server.etc_hosts(name="db", ip="192.168.1.10", hostnames=["db.internal", "db"], _sudo=True)
    """
    op = "server.etc_hosts"
    try:
        ipaddress.ip_address(ip)
    except (TypeError, ValueError):
        raise OperationValueError(f"{op}: {ip!r} is not an IP address") from None
    # an IPv6 scope id (``fe80::1%eth0``) is not checked by ipaddress: no blank, control
    # character or ``#`` may come with it into the file (a newline would add a line)
    if any(c.isspace() or not c.isprintable() or c == "#" for c in ip):
        raise OperationValueError(f"{op}: {ip!r} is not an IP address (blank, control character or # in it)")
    if hostnames is not None and not isinstance(hostnames, (str, list, tuple)):
        raise OperationValueError(f"{op}: hostnames={hostnames!r} must be a name, names separated by spaces, or a list")
    names = hostnames.split() if isinstance(hostnames, str) else list(hostnames or [])
    if isinstance(hostnames, str) and not names:  # "" or blanks: not "every name of the IP"
        raise OperationValueError(f"{op}: hostnames={hostnames!r} names no host (leave it out to mean all)")
    for name in names:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
            raise OperationValueError(f"{op}: {name!r} is not a host name")
    if present and not names:
        raise OperationValueError(f"{op}: give hostnames= when present=True")
    if not isinstance(path, str) or not path.startswith("/"):
        raise OperationValueError(f"{op}: path {path!r} must be an absolute path")
    lines, *_ = get_facts(host, [*_line_facts(path, "^"), *_put_facts(path)])
    lines = lines or []
    current = _hosts_entries(lines).get(ip)
    touches(path)
    if present and current == names:
        host.noop(f"{ip} -> {' '.join(names)} already in {path}")
        return
    if not present and (current is None or (names and not set(names) & set(current))):
        host.noop(f"{ip} is not in {path}" if current is None else f"{ip} in {path} has none of {' '.join(names)}")
        return
    out: list[str] = []
    found = False
    for line in lines:
        parts = line.split("#", 1)[0].split()
        if not parts or parts[0] != ip:
            out.append(line)
            continue
        found = True
        if present:
            out.append(" ".join([ip, *names]))
        elif names:
            left = [n for n in parts[1:] if n not in names]
            if left:
                out.append(" ".join([ip, *left]))
    if present and not found:
        out.append(" ".join([ip, *names]))
    content = "".join(line + "\n" for line in out)
    yield from files.put._inner(io.BytesIO(content.encode()), path)
