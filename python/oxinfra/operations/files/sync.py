"""What ``files.sync`` (in ``oxinfra.operations.files``) sends: a local directory tree walked,
and the facts its parts read."""

from __future__ import annotations

import os
import stat
import posixpath
from fnmatch import fnmatch
from typing import Any

from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, File, FindFiles, FindLinks, Link, LinkTarget, Sha1File
from oxinfra.operations.util.files import check_owner, check_path, diff_facts, local_path, parse_mode

__all__ = ["extra_paths", "local_tree", "tree_facts"]


def _patterns(key: str, value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise OperationValueError(f"files.sync: {key}= must be a pattern or a list of patterns, not {value!r}")
    return list(items)


def _join(*parts: str) -> str:
    return posixpath.join(*[p for p in parts if p and p != "."])


def local_tree(
    src: Any,
    dest: Any,
    user: Any,
    group: Any,
    mode: Any,
    dir_mode: Any,
    delete: Any,
    exclude: Any,
    exclude_dir: Any,
    add_deploy_dir: Any,
) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Check ``files.sync``'s arguments and walk ``src``: (the local root, dest without a
    trailing slash, directories as (remote path, local mode), files as (local path, remote
    path), links as (remote path, target))."""

    op = "files.sync"
    if not isinstance(src, str) or not src:
        raise OperationValueError(f"{op}: src= must be a local directory, not {src!r}")
    if not isinstance(dest, str) or not dest.rstrip("/"):
        raise OperationValueError(f"{op}: dest= must be a directory path, not {dest!r}")
    dest = dest.rstrip("/")
    check_path(dest, "dest")
    check_owner(user, group)
    parse_mode(mode)
    parse_mode(dir_mode)
    if not isinstance(delete, bool) or not isinstance(add_deploy_dir, bool):
        raise OperationValueError(f"{op}: delete= and add_deploy_dir= must be True or False")
    excluded, excluded_dirs = _patterns("exclude", exclude), _patterns("exclude_dir", exclude_dir)
    root = local_path(src, add_deploy_dir)
    if not os.path.isdir(root):
        raise OperationValueError(f"{op}: src {src!r} is not a local directory")

    dirs: list[tuple[str, str]] = []  # (remote path, mode)
    files: list[tuple[str, str]] = []  # (local path, remote path)
    links: list[tuple[str, str]] = []  # (remote path, target)
    try:
        _walk(root, dest, excluded, excluded_dirs, dirs, files, links)
    except OSError as exc:  # a directory that cannot be listed, a name gone while walking
        # never a partial tree: delete=True would remove what the unread part holds
        raise OperationValueError(f"{op}: cannot read {exc.filename or src}: {exc.strerror or exc}") from None
    for path, _ in dirs + links:
        check_path(path, "a path under dest")
    for _, path in files:
        check_path(path, "a path under dest")

    return root, dest, dirs, files, links


def _raise(exc: OSError) -> None:
    raise exc


def _walk(
    root: str,
    dest: str,
    excluded: list[str],
    excluded_dirs: list[str],
    dirs: list[tuple[str, str]],
    files: list[tuple[str, str]],
    links: list[tuple[str, str]],
) -> None:
    """Fill ``dirs``, ``files`` and ``links`` from the local tree ``root`` (see
    :func:`local_tree`). Any error raises (``os.walk`` would skip an unreadable directory);
    a name that is no regular file, directory or link (a fifo would hang the read, a device
    would copy its content) is refused."""
    for here, subdirs, names in os.walk(root, topdown=True, onerror=_raise, followlinks=False):
        rel = os.path.relpath(here, root).replace(os.sep, "/")
        for name in sorted(subdirs):
            child = _join(rel, name)
            if any(fnmatch(child, p) for p in excluded_dirs):
                subdirs.remove(name)
            elif os.path.islink(os.path.join(here, name)):
                links.append((_join(dest, child), os.readlink(os.path.join(here, name))))
                subdirs.remove(name)
        subdirs.sort()
        if rel != ".":
            dirs.append((_join(dest, rel), oct(os.stat(here).st_mode & 0o7777)[2:]))
        for name in sorted(names):
            local = os.path.join(here, name)
            if any(fnmatch(local, p) for p in excluded):
                continue
            kind = os.lstat(local).st_mode
            if stat.S_ISLNK(kind):
                links.append((_join(dest, rel, name), os.readlink(local)))
            elif stat.S_ISREG(kind):
                files.append((local, _join(dest, rel, name)))
            else:
                raise OperationValueError(
                    f"files.sync: {local} is not a regular file, directory or link (a fifo, socket or "
                    "device): remove it from src or exclude it"
                )


def tree_facts(
    dest: str, dirs: list[tuple[str, str]], files: list[tuple[str, str]], links: list[tuple[str, str]], delete: bool
) -> list[tuple[Any, dict[str, Any]]]:
    """Every fact the parts of ``files.sync`` read, for one batch (they read them again from it)."""
    facts: list[tuple[Any, dict[str, Any]]] = [(Link, {"path": dest}), (Directory, {"path": dest})]
    facts += [(Directory, {"path": path}) for path, _ in dirs]
    facts += [(Link, {"path": path}) for path, _ in links]
    for _, path in files:
        facts += [(File, {"path": path}), (Sha1File, {"path": path}), (LinkTarget, {"path": path}), *diff_facts(path)]
    if delete:
        # "dest/": find descends into dest when it is a link to a directory (a starting
        # point that is a link is not followed); where it leads is declared as changed
        listed = dest + "/"
        facts += [(LinkTarget, {"path": dest}), (FindFiles, {"path": listed}), (FindLinks, {"path": listed})]
    return facts


def extra_paths(dest: str, found: list[str], wanted: set[str], exclude: Any, exclude_dir: Any) -> list[str]:
    """The paths ``files.sync(delete=True)`` removes: those listed under ``dest`` that the
    local tree does not have, less those ``exclude`` matches (the full remote path, or the
    path relative to ``dest``, as pyinfra matches them) and those in a directory that
    ``exclude_dir`` matches (relative to ``dest``). A listed path that is not under
    ``dest + "/"`` is refused: it can only come from a listing gone wrong, and is never removed."""
    excluded, excluded_dirs = _patterns("exclude", exclude), _patterns("exclude_dir", exclude_dir)
    prefix = dest + "/"
    extra = []
    # listed under "dest/": BSD find names them "dest//name"
    found = [prefix + path[len(prefix) + 1 :] if path.startswith(prefix + "/") else path for path in found]
    for path in sorted(set(found) - wanted):
        if path in (dest, prefix):  # find lists its starting point when it matches: never removed
            continue
        if not path.startswith(prefix):
            raise OperationError(f"files.sync: the listing of {dest} named {path!r}, not under it: nothing removed")
        rel = path[len(prefix) :]
        parts = rel.split("/")
        if not rel or ".." in parts or "." in parts:
            raise OperationError(f"files.sync: the listing of {dest} named {path!r}, not under it: nothing removed")
        if any(fnmatch(path, p) or fnmatch(rel, p) for p in excluded):
            continue
        if any(fnmatch("/".join(parts[:i]), p) for i in range(1, len(parts)) for p in excluded_dirs):
            continue
        extra.append(path)
    return extra
