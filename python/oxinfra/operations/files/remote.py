"""``files.move`` and ``files.copy``: a file, directory or link on the host moved or copied
into a directory on the host; ``files.get``: a file on the host copied to the controller."""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile

from oxinfra.api import FunctionCommand, OperationGenerator, get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, File, FileBytes, Sha1File
from oxinfra.operations.util.files import check_path, local_path
from oxinfra.quoting import and_then, command

__all__ = ["move", "copy", "get"]


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
def move(src: str, dest: str, overwrite: bool = False) -> OperationGenerator:
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
def copy(src: str, dest: str, overwrite: bool = False) -> OperationGenerator:
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


def _fetch(src: str, dest: str, create_local_dir: bool) -> int:
    """Read ``src`` from the host (a round trip) and write it to the local ``dest`` through a
    temporary file beside it, renamed into place. Returns the bytes written."""
    data = host.get_fact(FileBytes, path=src)
    if data is None:
        raise OperationError(f"files.get: {src} is not a file on the host")
    parent = os.path.dirname(dest) or "."
    if create_local_dir:
        os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", dir=parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(data)


@operation()
def get(
    src: str, dest: str, add_deploy_dir: bool = True, create_local_dir: bool = False, force: bool = False
) -> OperationGenerator:
    """Copy a file from the host to the controller.

    It is copied when the local file is missing, differs (SHA-1) or ``force``: when the
    host's deploy reaches this operation, the file is read from the host (one more round
    trip, the bytes as base64: ``files.FileBytes``) and written beside ``dest``, then
    renamed into place. ``--dry`` reads and writes nothing.

    + src: the file on the host
    + dest: the local file (relative to the deploy file's directory with ``add_deploy_dir``)
    + add_deploy_dir: read ``dest`` relative to the deploy file's directory
    + create_local_dir: create ``dest``'s local directory when missing (else that is an error)
    + force: copy it even when the local file has the same content

    Example::

        files.get(name="Fetch the CA", src="/etc/ssl/ca.pem", dest="fetched/ca.pem", create_local_dir=True)
    """
    op = "files.get"
    if not isinstance(src, str) or not src:
        raise OperationValueError(f"{op}: src= must be a file path on the host, not {src!r}")
    check_path(src, "src")
    if not isinstance(dest, str) or not dest or dest.endswith("/"):
        raise OperationValueError(f"{op}: dest= must be a local file path, not {dest!r}")
    for key, value in (("add_deploy_dir", add_deploy_dir), ("create_local_dir", create_local_dir), ("force", force)):
        if not isinstance(value, bool):
            raise OperationValueError(f"{op}: {key}= must be True or False, not {value!r}")
    local = os.path.abspath(local_path(dest, add_deploy_dir))
    if os.path.isdir(local):
        raise OperationValueError(f"{op}: dest {dest!r} is a local directory: name the file")
    if not create_local_dir and not os.path.isdir(os.path.dirname(local)):
        raise OperationValueError(f"{op}: the local directory of {dest!r} does not exist (create_local_dir=True)")
    (remote_sum,) = get_facts(host, [(Sha1File, {"path": src})])
    touches(src)  # nothing on the host changes (the one path it reads, declared)
    if remote_sum is None:
        raise OperationError(f"{op}: {src} is not a file on the host")
    if not force and os.path.isfile(local):
        with open(local, "rb") as handle:
            if hashlib.sha1(handle.read()).hexdigest() == remote_sum:
                noop(f"{dest} is a copy of {src}")
                return
    yield FunctionCommand(_fetch, (src, local, create_local_dir))
