"""``files.move`` and ``files.copy``: a file, directory or link on the host moved or copied
into a directory on the host; ``files.get``: a file on the host copied to the controller."""

from __future__ import annotations

import hashlib
import os
import posixpath
import secrets
import stat

from oxinfra.api import FunctionCommand, OperationGenerator, get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, File, FileBytes, Sha1File
from oxinfra.operations.util.files import check_path, local_path, temp_beside
from oxinfra.quoting import and_then, command, group, or_else

__all__ = ["move", "copy", "get"]


def _replace(target: str, put: str, undo: str | None = None) -> str:
    """``put`` (a command that makes ``target`` anew: ``mv -T``) in place of what ``target``
    is now, which is renamed aside first and removed only once ``put`` succeeded; when it
    fails, the old one is renamed back (and ``undo``, a path, removed). ``mv -T``: a name
    that is a directory is never moved into."""
    old = temp_beside(target, "old")
    back = group(command("mv", "-T", "--", old, target), *([command("rm", "-rf", "--", undo)] if undo else []), "false")
    # a leftover of a replacement that was cut off is never removed here: mv -T then fails
    # (a directory) or takes its place (a file or link: no content of target's)
    return and_then(
        command("mv", "-T", "--", target, old),
        group(or_else(and_then(put, command("rm", "-rf", "--", old)), back)),
    )


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
    + overwrite: replace what ``dest`` already holds under that name (else that fails): it
      is renamed aside (``.NAME.oxinfra-old``), removed once the move succeeded, and renamed
      back when it failed

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
    touches(temp_beside(target, "old"), subtree=True)
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
        yield _replace(target, command("mv", "-T", "--", src, target))
        return
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
    + overwrite: replace a different file of that name in ``dest`` (else that fails): the
      copy is made whole beside it (``.NAME.oxinfra-new``), then put in its place; a copy
      that fails leaves what was there as it was

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
    touches(temp_beside(target, "old"), subtree=True)
    touches(temp_beside(target, "new"), subtree=True)
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
        # copied whole beside it first, then put in its place: a copy that fails (a full
        # disk, a file it may not read) leaves what was there as it was
        fresh = temp_beside(target, "new")
        copy_in = or_else(
            and_then(command("rm", "-rf", "--", fresh), command("cp", "-r", "-T", "--", src, fresh)),
            group(command("rm", "-rf", "--", fresh), "false"),
        )
        yield and_then(copy_in, _replace(target, command("mv", "-T", "--", fresh, target), undo=fresh))
        return
    yield command("cp", "-r", *(["-f"] if overwrite else []), "--", src, dest)


def _fetch(src: str, dest: str, create_local_dir: bool) -> int:
    """Read ``src`` from the host (a round trip) and write it to the local ``dest`` through a
    temporary file beside it, renamed into place. Returns the bytes written.

    A link at ``dest`` is kept: the file is written where it leads (as writing to ``dest``
    would). A file replaced keeps its mode (and its owner and group where we may set them);
    a new one gets the mode the umask gives (``0666 & ~umask``), as a file opened for
    writing would."""
    data = host.get_fact(FileBytes, path=src)
    if data is None:
        raise OperationError(f"files.get: {src} is not a file on the host")
    target = os.path.realpath(dest) if os.path.islink(dest) else dest
    parent = os.path.dirname(target) or "."
    if create_local_dir:
        os.makedirs(parent, exist_ok=True)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    base = "." + os.path.basename(target) + "."
    while True:
        tmp = os.path.join(parent, base + secrets.token_hex(6) + ".oxinfra-get")
        try:
            # new: 0666 less the umask (the kernel applies it); replacing: the old mode, below
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666 if old is None else 0o600
            )
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as out:
            if old is not None:
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(out.fileno(), old.st_uid, old.st_gid)
                    except PermissionError:  # not ours to give away: the new file is ours
                        pass
                os.fchmod(out.fileno(), stat.S_IMODE(old.st_mode))
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.lexists(tmp):
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

    A local file replaced keeps its mode (and owner and group, where the user may set
    them); a new one gets the mode the umask gives (``0666 & ~umask``). A symbolic link at
    ``dest`` stays: the file is written where it leads, as pyinfra writes it.

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
