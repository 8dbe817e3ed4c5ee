"""Manage files, directories and links on the host.

Each operation reads the facts it needs in one batch (:func:`get_facts`), then yields only
the commands that close the gap between what is and what is asked. Values are quoted by
:mod:`oxinfra.quoting`; uploads are written to a temporary file beside the destination and
renamed into place.
"""

from __future__ import annotations

import hashlib
import io
import os
from stat import S_ISREG
from functools import lru_cache
from typing import IO, Any


from oxinfra.api import (
    FileUpload,
    OperationGenerator,
    content_change,
    ensure_directory,
    get_facts,
    host,
    mark_directory,
    op_memo,
    operation,
    predict_content,
    touches,
)
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, File, Link, LinkTarget, SameFile, Sha1File
from oxinfra.operations.files.sync import extra_paths, local_tree, tree_facts
from oxinfra.operations.files.templates import render_template
from oxinfra.operations.util.files import (
    backup_or_remove,
    diff_facts,
    note_owner_mode,
    check_owner,
    check_path,
    creation_umask,
    local_path,
    mode_commands,
    owner_commands,
    parent_dir,
    parse_mode,
    PATH_MAX,
)
from oxinfra.quoting import (
    command,
    path_operand,
    with_umask,
    write_to,
)

from oxinfra.operations.files.lines import _anchor as _anchor  # noqa: E402  (apt, tests)
from oxinfra.operations.files.lines import escape_bre as escape_bre  # noqa: E402
from oxinfra.operations.files.lines import escape_sed_replacement as escape_sed_replacement  # noqa: E402
from oxinfra.operations.files.lines import line, line_facts as line_facts, replace  # noqa: E402
from oxinfra.operations.files.block import block  # noqa: E402
from oxinfra.operations.files.download import download  # noqa: E402
from oxinfra.operations.files.remote import copy, get, move  # noqa: E402

__all__ = [
    "directory",
    "file",
    "put",
    "template",
    "line",
    "replace",
    "link",
    "download",
    "block",
    "move",
    "copy",
    "sync",
    "get",
]


@operation(shell_safe=True, quiet=True)
def directory(
    path: str,
    present: bool = True,
    assume_present: bool = False,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    recursive: bool = False,
    force: bool = False,
    force_backup: bool = True,
    force_backup_dir: str | None = None,
) -> OperationGenerator:
    """Add, remove or fix a directory.

    + path: the directory
    + present: whether it should exist
    + assume_present: skip the existence check, only fix owner and mode
    + user / group / mode: owner, group and permissions (``755``) to set (names: a ``:`` is
      refused, the group is its own argument; ids too: ``user="5"`` is refused, as an
      owner is compared by name)
    + recursive: apply user, group and mode to everything inside too
    + force: replace a file or link that stands at ``path``
    + force_backup / force_backup_dir: move what ``force`` replaces aside instead of deleting it

    Example::

        files.directory(name="App logs", path="/var/log/app", user="app", mode="750")
    """
    want_mode = parse_mode(mode)
    check_owner(user, group)
    check_path(path)
    if not present:  # "lnk/" is the directory a link leads to: removing is about the name itself
        path = path.rstrip("/") or "/"
    (info,) = get_facts(host, [(Directory, {"path": path})])
    touches(path, subtree=not present or recursive or force, ancestors=True)
    if not present:
        if info:
            yield command("rm", "-rf", "--", path)
        elif info is False:
            raise OperationError(f"{path} exists and is not a directory; remove it with files.file(present=False)")
        else:
            host.noop(f"directory {path} does not exist")
        return
    if info is False:
        if not force:
            raise OperationError(f"{path} exists and is not a directory (pass force=True to replace it)")
        yield backup_or_remove(path, force_backup, force_backup_dir)
        info = None
    if info is None and not assume_present:
        # A new directory gets its mode from mkdir itself (one process, not two).
        if want_mode is None:
            yield command("mkdir", "-p", "--", path)
        else:
            yield command("mkdir", "-p", "-m", f"{want_mode:03d}", "--", path)
        mark_directory(path)
        # a name the host lacks: the directory just made goes again
        yield from owner_commands(path, user, group, None, recursive, undo=command("rmdir", "--", path))
        return
    # owner first: a name the host lacks fails before the mode changes
    changes = owner_commands(path, user, group, info, recursive) + mode_commands(path, want_mode, info, recursive)
    if not changes:
        host.noop(f"directory {path} already exists")
    yield from changes


@operation(shell_safe=True, quiet=True)
def file(
    path: str,
    present: bool = True,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    touch: bool = False,
    create_remote_dir: bool = True,
    force: bool = False,
    force_backup: bool = True,
    force_backup_dir: str | None = None,
) -> OperationGenerator:
    """Add, remove or fix a file.

    + path: the file
    + present: whether it should exist
    + user / group / mode: owner, group and permissions (``644``) to set; user and group are
      names, not ids: ``user="5"`` is refused, as an owner is compared by name
    + touch: update its times even when it exists
    + create_remote_dir: create the parent directory if needed
    + force / force_backup / force_backup_dir: replace a directory or link at ``path``

    Example::

        files.file(name="Marker", path="/srv/app/.deployed", mode="600")
    """
    want_mode = parse_mode(mode)
    check_owner(user, group)
    check_path(path)
    (info,) = get_facts(host, [(File, {"path": path})])
    touches(path, subtree=force, ancestors=True)
    if not present:
        if info:
            yield command("rm", "-f", "--", path)
        elif info is False:
            raise OperationError(f"{path} exists and is not a file")
        else:
            host.noop(f"file {path} does not exist")
        return
    if info is False:
        if not force:
            raise OperationError(f"{path} exists and is not a file (pass force=True to replace it)")
        yield backup_or_remove(path, force_backup, force_backup_dir)
        info = None
    if info is None:
        if create_remote_dir:
            yield from ensure_directory(parent_dir(path))
        predict_content(path, b"")
        content_change(path, None, b"")
        umask = creation_umask(want_mode)
        # a name the host lacks: the file just made goes again; the owner is set before a
        # chmod (a chown clears set-user-ID bits)
        undo = command("rm", "-f", "--", path)
        if umask is None:
            # Created without a process. Never `: >`: a failed redirection of a special
            # builtin makes a POSIX shell exit, taking the host's shell with it.
            yield write_to("true", path)
            yield from owner_commands(path, user, group, None, undo=undo)
            yield from mode_commands(path, want_mode, None)
        else:  # created with its mode: a subshell instead of a chmod process
            yield with_umask(umask, write_to("true", path))
            yield from owner_commands(path, user, group, None, undo=undo)
        return
    # owner first: a name the host lacks fails before the mode changes
    changes = owner_commands(path, user, group, info) + mode_commands(path, want_mode, info)
    if touch:
        changes.insert(0, command("touch", "--", path_operand(path)))  # touch's "-" is its stdout
    if not changes:
        host.noop(f"file {path} already exists")
    yield from changes


def _upload(
    data: bytes,
    dest: str,
    mode: int | None,
    user: str | None = None,
    group: str | None = None,
    keep_owner: bool = False,
) -> list[Any]:
    """Write ``data`` to ``dest`` with ``mode``, ``user`` and ``group``: created under the
    matching umask when the mode allows it, else ``chmod``-ed; owner and mode are set on the
    temporary file before it is renamed into place, so a failure changes nothing at ``dest``.
    ``keep_owner``: ``dest`` exists; what ``user``/``group`` leave unnamed stays as it is."""
    umask = creation_umask(mode)
    if umask is not None:
        return [FileUpload(data, dest, umask, user=user or None, group=group or None, keep_owner=keep_owner)]
    return [FileUpload(data, dest, mode=mode, user=user or None, group=group or None, keep_owner=keep_owner)]


@lru_cache(maxsize=128)
def _read_cached(path: str, mtime_ns: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read_local(src: str, add_deploy_dir: bool = True) -> tuple[bytes, str]:
    """Read a local file; the same unchanged file is read once per run, not once per host."""
    path = local_path(src, add_deploy_dir)
    try:
        stat = os.stat(path)
        if not S_ISREG(stat.st_mode):  # a fifo would hang the read, a device copy what it gives
            raise OperationValueError(f"local file {path} is not a regular file (a directory, fifo or device)")
        return _read_cached(os.path.abspath(path), stat.st_mtime_ns, stat.st_size), path
    except FileNotFoundError:
        raise OperationValueError(f"local file not found: {src} (looked at {path})") from None
    except OSError as exc:
        raise OperationValueError(f"cannot read local file {path}: {exc.strerror}") from None


@operation(shell_safe=True, quiet=True)
def put(
    src: str | IO[bytes] | IO[str],
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | bool | None = None,
    add_deploy_dir: bool = True,
    create_remote_dir: bool = True,
    force: bool = False,
    assume_exists: bool = False,
) -> OperationGenerator:
    """Upload a local file to the host when it is missing or differs (by SHA-1).

    + src: local file, relative to the deploy file's directory, or a file object whose
      contents are uploaded (``io.BytesIO(data)``; text is written as UTF-8)
    + dest: remote path; ending in ``/`` means "into this directory" (``src`` a file name)
    + user / group / mode: owner, group and permissions; ``mode=True`` copies the local mode.
      User and group are names, not ids: ``user="5"`` is refused, as an owner is compared by name.
      A file replaced keeps what is not given (its owner and group by number, as they are
      when it is written: the operation fails, the file unchanged, where they cannot be kept)
    + add_deploy_dir: look for ``src`` relative to the deploy file's directory
    + create_remote_dir: create the parent directory if needed
    + force: upload even when the contents match
    + assume_exists: do not check that ``src`` exists before planning (it is read anyway)

    Example::

        files.put(name="Static blob", src="files/blob.txt", dest="/srv/app/blob.txt", mode="644")
    """
    check_owner(user, group)
    if isinstance(src, str):
        data, path = _read_local(src, add_deploy_dir)
        if dest.endswith("/"):
            dest = dest + os.path.basename(src)
    else:
        data, path = _read_object(src), None
        if dest.endswith("/"):
            raise OperationValueError(
                f"files.put: dest {dest!r} names a directory; with a file object as src, name the file"
            )
    if mode is True:
        if path is None:
            raise OperationValueError("files.put: mode=True copies the local file's mode; a file object has none")
        want_mode: int | None = int(oct(os.stat(path).st_mode & 0o7777)[2:])
    else:
        want_mode = parse_mode(mode) if mode is not False else None
    check_path(dest, "dest")
    info, remote_sha1, real, *shown = get_facts(host, put_facts(dest))
    touches(dest, ancestors=True)
    if real:  # dest is written where its links lead (a directory above it given as a link)
        touches(real)
    if info is False:
        raise OperationError(f"{dest} exists and is not a file")
    predict_content(dest, data)
    if info is None:
        content_change(dest, shown[0] if shown else None, data)
        if create_remote_dir:
            yield from ensure_directory(parent_dir(dest))
        yield from _upload(data, dest, want_mode, user, group)
        return
    changes: list[Any] = []
    if force or remote_sha1 != hashlib.sha1(data).hexdigest():
        content_change(dest, shown[0] if shown else None, data)
        # a new file takes the default mode and the connecting user's owner and group: keep the
        # old ones unless others are asked for
        mode_kept = want_mode if want_mode is not None else info["mode"]
        changes += _upload(data, dest, mode_kept, user, group, keep_owner=True)
    else:
        # owner first: a name the host lacks fails before the mode changes
        changes += owner_commands(dest, user, group, info) + mode_commands(dest, want_mode, info)
        if changes:
            note_owner_mode(dest, info, want_mode, user, group)
    if not changes:
        host.noop(f"file {dest} is already up to date")
    yield from changes


def _read_object(src: Any) -> bytes:
    """The contents of a file object given as ``src`` (text is encoded as UTF-8). The object
    is read on every planning of the call (discovery, then each host that makes it), so it is
    read whole each time: an in-memory buffer by its value, another file object from where it
    stood, which it is put back to (else a second read would find it at its end, and upload
    an empty file)."""
    read = getattr(src, "read", None)
    if read is None:
        raise OperationValueError(f"files.put: src must be a file name or a file object, not {type(src).__name__}")
    getvalue = getattr(src, "getvalue", None)  # io.BytesIO, io.StringIO
    if callable(getvalue):
        data = getvalue()
    else:
        memo = op_memo()
        if "src_data" in memo:
            return bytes(memo["src_data"])
        try:
            at = src.tell()
        except (AttributeError, OSError, ValueError):
            at = None
        data = read()
        if at is not None:
            try:
                src.seek(at)
            except (AttributeError, OSError, ValueError):
                pass
    data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if not callable(getvalue):
        op_memo()["src_data"] = data
    return data


@operation(shell_safe=True, quiet=True)
def template(
    src: str,
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    create_remote_dir: bool = True,
    jinja_env_kwargs: dict[str, Any] | None = None,
    **data: Any,
) -> OperationGenerator:
    """Render a jinja2 template locally and upload the result when it differs.

    The template sees ``host``, ``inventory``, ``state`` and every extra keyword argument (which
    wins over those names); a name it uses that is not
    defined is an error before any host is changed.

    + src: local template, relative to the deploy file's directory
    + dest: remote path
    + user / group / mode: owner, group and permissions; a file replaced keeps what is not
      given, as with ``files.put`` (user and group are names, not ids: ``user="5"`` is refused, as an owner is compared by name)
    + create_remote_dir: create the parent directory if needed
    + jinja_env_kwargs: options for the jinja2 Environment
    + **data: template variables

    Example::

        files.template(name="App config", src="templates/app.conf.j2",
                       dest="/etc/app.conf", workers=4)
    """
    check_owner(user, group)
    check_path(dest, "dest")
    memo = op_memo()
    rendered = memo.get("rendered")
    if rendered is None:
        rendered = memo["rendered"] = render_template(src, data, jinja_env_kwargs).encode("utf-8")
    yield from put._inner(
        io.BytesIO(rendered), dest, user=user, group=group, mode=parse_mode(mode), create_remote_dir=create_remote_dir
    )


def put_facts(dest: str) -> list[tuple[type, dict[str, Any]]]:
    """The facts ``files.put`` and ``files.template`` read about ``dest``: an operation that
    composes them (``put._inner``) reads these in its own batch, so its facts cost one. In a
    run that shows diffs, what the file holds (``files.DiffContent``) is the last one."""
    return [(File, {"path": dest}), (Sha1File, {"path": dest}), (LinkTarget, {"path": dest}), *diff_facts(dest)]


@operation(shell_safe=True, quiet=True)
def link(
    path: str,
    target: str | None = None,
    present: bool = True,
    user: str | None = None,
    group: str | None = None,
    symbolic: bool = True,
    create_remote_dir: bool = True,
    force: bool = False,
    force_backup: bool = True,
    force_backup_dir: str | None = None,
) -> OperationGenerator:
    """Add, remove or repoint a link.

    + path: the link
    + target: what it points to
    + present: whether it should exist
    + user / group: owner and group of the link itself (names, not ids: ``user="5"`` is
      refused, as an owner is compared by name)
    + symbolic: a symbolic link (``True``) or a hard link (``path`` is then the target's own
      file, same device and inode: another file there is not taken for it, nor removed)
    + create_remote_dir: create the parent directory if needed
    + force / force_backup / force_backup_dir: replace a file or directory at ``path``

    Example::

        files.link(name="Current release", path="/srv/app/current", target="/srv/app/releases/42")
    """
    if present and not target:
        raise OperationValueError("files.link needs target= when present=True")
    check_owner(user, group)
    check_path(path)
    path = path.rstrip("/") or "/"  # a link is its name: "current/" is the directory it leads to
    if isinstance(target, str) and len(target.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise OperationValueError(f"target is over {PATH_MAX - 1} bytes: a link's target is under PATH_MAX")
    same = True
    if symbolic:
        (info,) = get_facts(host, [(Link, {"path": path})])
    elif target:  # a hard link is the target's own file (device and inode), not any file there
        info, same = get_facts(host, [(File, {"path": path}), (SameFile, {"path": path, "other": target})])
    else:
        (info,) = get_facts(host, [(File, {"path": path})])
    # a link changed changes what every path under it names: facts read through it go stale
    touches(path, subtree=True, ancestors=True)
    if info and not same:
        if not present:
            host.noop(f"{path} is not a hard link to {target}")
            return
        info = False
    if not present:
        if info:
            yield command("rm", "-f", "--", path)
        elif info is False and symbolic:
            raise OperationError(f"{path} exists and is not a link")
        else:
            host.noop(f"link {path} does not exist")
        return
    flag = ["-s"] if symbolic else []
    if info is False:
        if not force:
            if not symbolic:
                raise OperationError(
                    f"{path} exists and is not a hard link to {target} (pass force=True to replace it)"
                )
            raise OperationError(f"{path} exists and is not a link (pass force=True to replace it)")
        yield backup_or_remove(path, force_backup, force_backup_dir)
        info = None
    if info is None:
        if create_remote_dir:
            yield from ensure_directory(parent_dir(path))
        yield command("ln", *flag, "--", target, path)
        # a name the host lacks: the link just made goes again
        yield from owner_commands(path, user, group, None, link=True, undo=command("rm", "-f", "--", path))
        return
    changes: list[str] = []
    if symbolic and info.get("link_target") != target:
        changes += [command("rm", "-f", "--", path), command("ln", *flag, "--", target, path)]
        changes += owner_commands(path, user, group, None, link=True)
    else:
        changes += owner_commands(path, user, group, info, link=True)
    if not changes:
        host.noop(f"link {path} already points to {target}")
    yield from changes


@operation()
def sync(
    src: str,
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: str | None = None,
    dir_mode: str | None = None,
    delete: bool = False,
    exclude: str | list[str] | None = None,
    exclude_dir: str | list[str] | None = None,
    add_deploy_dir: bool = True,
) -> OperationGenerator:
    """Make a directory on the host hold what a local directory holds: its directories
    (``files.directory``), files (``files.put``, compared by SHA-1) and symbolic links
    (``files.link``, their targets as they are), with ``delete``, no file or link that the
    local tree does not have (extra directories are kept, as pyinfra keeps them).

    All the facts of every part are read in one batch. When ``dest`` is itself a link, it is
    left as it is (the directory it leads to must exist), and what it leads to is synced
    (with ``delete``, extra files there are removed).

    + src: the local directory (relative to the deploy file's directory)
    + dest: the directory on the host
    + user: the owner of every file, link and directory (a name, not an id: ``user="5"`` is
      refused, as an owner is compared by name)
    + group: their group (a name too)
    + mode: the files' permissions (default: each local file's own), and the directories'
      when ``dir_mode`` is not given
    + dir_mode: the directories' permissions (default: ``mode``, else each local one's own)
    + delete: remove files and links under ``dest`` that the local tree does not have
      (never those ``exclude``/``exclude_dir`` match; a listed path not under ``dest`` fails
      the operation, nothing removed)
    + exclude: file name patterns (``fnmatch``, matched against the local path; with
      ``delete``, against the remote path or the path relative to ``dest``) left out
    + exclude_dir: directory patterns (matched against the path relative to ``src``, or to
      ``dest``) left out
    + add_deploy_dir: read ``src`` relative to the deploy file's directory

    Example::

        files.sync(name="Static files", src="files/static", dest="/srv/app/static", delete=True)
    """
    root, dest, dirs, tree_files, links = local_tree(
        src, dest, user, group, mode, dir_mode, delete, exclude, exclude_dir, add_deploy_dir
    )
    facts = tree_facts(dest, dirs, tree_files, links, delete)
    values = get_facts(host, facts)
    dest_link = values[0]
    made = 0
    root_mode = dir_mode or mode or oct(os.stat(root).st_mode & 0o7777)[2:]
    if not dest_link:
        yield from directory._inner(path=dest, user=user, group=group, mode=root_mode)
    for path, local_mode in dirs:
        yield from directory._inner(path=path, user=user, group=group, mode=dir_mode or mode or local_mode)
    for path, target in links:
        yield from link._inner(path=path, target=target, user=user, group=group, create_remote_dir=False)
    for local, path in tree_files:
        yield from put._inner(
            src=local,
            dest=path,
            user=user,
            group=group,
            mode=mode if mode is not None else True,
            add_deploy_dir=False,
            create_remote_dir=False,
        )
    if delete:
        real, found_files, found_links = values[-3:]
        if found_files is None or found_links is None:
            raise OperationError(f"files.sync: could not list {dest}")
        wanted = {path for _, path in tree_files} | {path for path, _ in links}
        extra = extra_paths(dest, [*found_files, *found_links], wanted, exclude, exclude_dir)
        touches(dest, subtree=True)
        if real:  # dest is (or is under) a link: the files removed are where it leads
            touches(real, subtree=True)
        for path in extra:
            made += 1
            yield command("rm", "-f", "--", path)
    if not made and dest_link and not (dirs or links or tree_files):
        host.noop(f"{dest} holds what {src} holds")
