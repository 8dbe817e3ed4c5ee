"""Kernel modules, mounts and locales: ``server.modprobe``, ``server.mount``,
``server.locale``.

Fixtures (tests/operations/server.modprobe, server.mount, server.locale) follow
``modprobe(8)``, ``mount(8)``/``umount(8)`` and ``locale-gen(8)``. On container hosts
(tests/test_server_kernel_containers.py): ``locale`` and ``mount`` for real (``mount`` in a
container given ``SYS_ADMIN``); ``modprobe`` only through a stand-in program that records its
calls (no module can be loaded here).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import FindInFile, LinkTarget
from oxinfra.facts.server.settings import KernelModules, Locales, Mounts
from oxinfra.operations.files import escape_bre, escape_sed_replacement
from oxinfra.operations.util.files import sed_replace
from oxinfra.quoting import command

__all__ = ["modprobe", "mount", "locale"]

_MODULE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z")


@operation(shell_safe=True)
def modprobe(module: str | list[str], present: bool = True, force: bool = False) -> OperationGenerator:
    """Load or unload kernel modules (``modprobe -a`` / ``modprobe -r -a``).

    A module counts as loaded when ``/proc/modules`` lists it (``-`` and ``_`` are the same
    in module names, as modprobe reads them).

    + module: a module's name, or a list of them
    + present: whether they should be loaded
    + force: ``modprobe -f`` (ignore version magic)

    Example::

        server.modprobe(name="Bridge netfilter", module="br_netfilter", _sudo=True)
    """
    names = [module] if isinstance(module, str) else module
    if not isinstance(names, (list, tuple)) or not names:
        raise OperationValueError(f"server.modprobe: module must be a name or a list of names, not {module!r}")
    for name in names:
        if not isinstance(name, str) or not _MODULE.match(name):
            raise OperationValueError(
                f"server.modprobe: {name!r} is not a module name (letters, digits, '_' and '-', not '-' first)"
            )
    (loaded,) = get_facts(host, [(KernelModules, {})])
    touches("/proc/modules")
    touches("/sys/module", subtree=True)
    have = {key.replace("-", "_") for key in loaded}
    flags = ["-f"] if force else []
    if present:
        todo = [n for n in names if n.replace("-", "_") not in have]
        if todo:
            yield command("modprobe", *flags, "-a", "--", *todo)
            return
    else:
        todo = [n for n in names if n.replace("-", "_") in have]
        if todo:
            yield command("modprobe", *flags, "-r", "-a", "--", *todo)
            return
    host.noop(f"module{'s' if len(names) > 1 else ''} {'/'.join(names)} {'loaded' if present else 'not loaded'}")


def _option_words(options: Any) -> list[str]:
    if options is None:
        return []
    words = [options] if isinstance(options, str) else options
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise OperationValueError(f"server.mount: options must be a list of mount options, not {options!r}")
    for word in words:
        if not word or word.startswith("-") or any(c.isspace() or c == "," for c in word):
            raise OperationValueError(
                f"server.mount: option {word!r} must be one mount option (no spaces or ',', not '-' first)"
            )
    return list(words)


@operation(shell_safe=True)
def mount(
    path: str,
    mounted: bool = True,
    options: str | list[str] | None = None,
    device: str | None = None,
    fs_type: str | None = None,
) -> OperationGenerator:
    """Mount or unmount a file system (Linux; ``/etc/fstab`` is not changed).

    Mounted with ``mount -t TYPE -o OPTIONS -- DEVICE PATH`` when it is not; with
    ``options``, a mounted file system that lacks some is remounted
    (``mount -o remount,OPTIONS -- PATH``). A ``path`` through a symbolic link is the
    directory it leads to (``files.LinkTarget``): that is what is looked for among the
    mounts, mounted and unmounted.

    + path: the mount point
    + mounted: whether it should be mounted
    + options: mount options (``["ro", "noatime"]``)
    + device: what to mount (a device, ``UUID=...``, ``server:/export``); without it mount
      reads ``/etc/fstab``
    + fs_type: the file system type

    Example::

        server.mount(name="Data", path="/srv/data", device="/dev/vdb1", fs_type="ext4",
                     options=["noatime"], _sudo=True)
    """
    if not isinstance(path, str) or not path.startswith("/") or "\n" in path:
        raise OperationValueError(f"server.mount: path {path!r} must be an absolute path")
    words = _option_words(options)
    if device is not None and (not isinstance(device, str) or not device or device.startswith("-") or "\n" in device):
        raise OperationValueError(f"server.mount: device {device!r} must be a device, not an option")
    if fs_type is not None and (not isinstance(fs_type, str) or not re.fullmatch(r"[A-Za-z0-9_.+]+", fs_type)):
        raise OperationValueError(f"server.mount: fs_type {fs_type!r} is not a file system type")
    point = posixpath.normpath(path)
    # the mount table names the mount point by its real path: a path through a symbolic
    # link is compared (and mounted) as where it leads
    mounts, real = get_facts(host, [(Mounts, {}), (LinkTarget, {"path": point})])
    touches(point, subtree=True)
    if real:
        touches(real, subtree=True)
    point = real or point
    current = mounts.get(point)
    if mounted and current is None:
        args = (["-t", fs_type] if fs_type else []) + (["-o", ",".join(words)] if words else [])
        yield command("mount", *args, "--", *([device] if device else []), point)
    elif not mounted and current is not None:
        yield command("umount", "--", point)
    elif mounted and current is not None and [w for w in words if w not in current["options"]]:
        yield command("mount", "-o", "remount," + ",".join(words), "--", point)
    else:
        state = "mounted" if mounted else "not mounted"
        host.noop(f"file system {point} is {state} ({path} leads there)" if real else f"file system {point} is {state}")


LOCALE_GEN = "/etc/locale.gen"


def _locale_key(name: str) -> str:
    """A locale's name as glibc compares them: the codeset in lower case, letters and digits
    only (``en_US.ISO-8859-15`` and ``en_US.iso885915``, ``C.UTF-8`` and ``C.utf8`` are one)."""
    base, at, modifier = name.partition("@")
    lang, dot, codeset = base.partition(".")
    return lang + dot + "".join(c for c in codeset.lower() if c.isalnum()) + at + modifier


@operation(shell_safe=True)
def locale(locale: str, present: bool = True) -> OperationGenerator:
    """Enable or disable a locale in ``/etc/locale.gen`` and run ``locale-gen`` (Debian and
    Ubuntu; needs the ``locales`` package).

    The locale's line (``en_GB.UTF-8 UTF-8``, or ``# en_GB.UTF-8 UTF-8``) must be in the
    file; it is uncommented or commented out. Whether it is enabled is read from
    ``locale -a`` (``server.Locales``).

    + locale: the locale's name (``en_GB.UTF-8``)
    + present: whether it should be generated

    Example::

        server.locale(name="British English", locale="en_GB.UTF-8", _sudo=True)
    """
    if not isinstance(locale, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*", locale):
        raise OperationValueError(f"server.locale: {locale!r} is not a locale name such as en_GB.UTF-8")
    pattern = "^#*[[:space:]]*" + escape_bre(locale) + "[[:space:]][[:space:]]*.*$"
    have, lines = get_facts(
        host,
        [(Locales, {}), (FindInFile, {"path": LOCALE_GEN, "pattern": pattern, "interpolate_variables": False})],
    )
    if not lines:
        raise OperationError(f"server.locale: no line for {locale} in {LOCALE_GEN} (is the locales package installed?)")
    if len(lines) > 1:
        raise OperationError(f"server.locale: {len(lines)} lines for {locale} in {LOCALE_GEN}: keep one")
    line = lines[0]
    enabled = line.lstrip("#").strip()
    touches(LOCALE_GEN)
    touches("/usr/lib/locale", subtree=True)  # locale-gen's archive
    # locale -a spells the codeset as glibc normalises it (en_US.iso885915 for ISO-8859-15)
    enabled_now = _locale_key(locale) in {_locale_key(name) for name in have}
    if present and not enabled_now:
        if line != enabled:
            yield sed_replace(LOCALE_GEN, "^" + escape_bre(line) + "$", escape_sed_replacement(enabled))
        yield command("locale-gen")
    elif not present and enabled_now:
        if line == enabled:
            yield sed_replace(LOCALE_GEN, "^" + escape_bre(line) + "$", escape_sed_replacement("# " + enabled))
        yield command("locale-gen")
    else:
        host.noop(f"locale {locale} is {'enabled' if present else 'not enabled'}")
