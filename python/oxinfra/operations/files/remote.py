"""``files.move`` and ``files.copy``: a file, directory or link on the host moved or copied
into a directory on the host."""

from __future__ import annotations

import posixpath

from oxinfra.api import get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, File, Sha1File
from oxinfra.operations.util.files import check_path
from oxinfra.quoting import and_then, command

__all__ = ["move", "copy"]


def _paths(op: str, src: str, dest: str, overwrite: bool) -> str:
    """The path ``src`` gets in ``dest``; bad arguments refused."""
    for key, value in (("src", src), ("dest", dest)):
        if not isinstance(value, str) or not value.rstrip("/"):
            raise OperationValueError(f"{op}: {key}= must be a path, not {value!r}")
        check_path(value, key)
    if not isinstance(overwrite, bool):
        raise OperationValueError(f"{op}: overwrite= must be True or False, not {overwrite!r}")
    return posixpath.join(dest, posixpath.basename(src.rstrip("/")))


@operation()
def move(src: str, dest: str, overwrite: bool = False):
    """Move a file, directory or link into a directory (``mv``).

    When ``src`` is gone and ``dest`` holds its name, it counts as moved (pyinfra 3.10 fails
    then: ``src`` does not exist), so a second run changes nothing.

    + src: what to move
    + dest: the directory to move it into (it must exist)
    + overwrite: remove what ``dest`` already holds under that name first (else that fails)

    Example::

        files.move(name="Archive the old release", src="/srv/app/release-1", dest="/srv/archive")
    """
    op = "files.move"
    target = _paths(op, src, dest, overwrite)
    there, dest_dir, taken = get_facts(
        host, [(File, {"path": src}), (Directory, {"path": dest}), (File, {"path": target})]
    )
    touches(src, subtree=True)
    touches(target, subtree=True)
    if there is None:
        if taken is not None:
            noop(f"{src} is moved to {target}")
            return
        raise OperationError(f"{op}: src {src} does not exist")
    if not dest_dir:
        raise OperationError(f"{op}: dest {dest} is not an existing directory")
    if taken is not None:
        if not overwrite:
            raise OperationError(f"{op}: {target} already exists and overwrite= is not set")
        yield command("rm", "-rf", "--", target)
    yield command("mv", "--", src, dest)


@operation()
def copy(src: str, dest: str, overwrite: bool = False):
    """Copy a file, directory or link into a directory (``cp -r``).

    A file counts as copied when ``dest`` holds one under its name with the same content
    (SHA-1); a directory when ``dest`` holds a directory under its name (its contents are
    not compared: ``overwrite`` copies it again, every time). pyinfra 3.10 copies a
    directory again on every run, into the copy made by the first one.

    + src: what to copy
    + dest: the directory to copy it into (it must exist)
    + overwrite: replace a different file of that name in ``dest`` (else that fails)

    Example::

        files.copy(name="Default config", src="/usr/share/app/app.conf", dest="/etc/app")
    """
    op = "files.copy"
    target = _paths(op, src, dest, overwrite)
    there, src_dir, dest_dir, taken, taken_dir, src_sum, taken_sum = get_facts(
        host,
        [
            (File, {"path": src}),
            (Directory, {"path": src}),
            (Directory, {"path": dest}),
            (File, {"path": target}),
            (Directory, {"path": target}),
            (Sha1File, {"path": src}),
            (Sha1File, {"path": target}),
        ],
    )
    touches(target, subtree=True)
    if there is None:
        raise OperationError(f"{op}: src {src} does not exist")
    if not dest_dir:
        raise OperationError(f"{op}: dest {dest} is not an existing directory")
    if taken is not None:
        if src_dir and taken_dir and not overwrite:
            noop(f"{target} exists (a directory: its contents are not compared)")
            return
        if src_sum is not None and src_sum == taken_sum:
            noop(f"{target} is a copy of {src}")
            return
        if not overwrite:
            raise OperationError(f"{op}: {target} already exists and is different from {src}")
        if bool(src_dir) != bool(taken_dir):  # a file over a directory, or the other way
            yield and_then(command("rm", "-rf", "--", target), command("cp", "-r", "--", src, dest))
            return
    yield command("cp", "-r", *(["-f"] if overwrite else []), "--", src, dest)
