"""The filesystem commands: ``mkdir``, ``chmod``, ``chown``/``chgrp``, ``touch``, ``ln``,
``rm``, ``mv``, ``cp``."""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from oxinfra.testing.sim.fs import _EEXIST, _EISDIR, _ENOENT, _ENOTDIR, FsError, Node, _now
from oxinfra.testing.sim.options import _operands

if TYPE_CHECKING:
    from oxinfra.testing.sim.interp import Interpreter


def _mkdir(sh: Interpreter, argv: list[str]) -> int:
    flags, values, paths = _operands(argv, with_value="m")
    host = sh.host
    mode = int(values["m"], 8) if "m" in values and values["m"].isdigit() else 0o777 & ~sh.umask
    status = 0
    for path in paths:
        try:
            if "p" in flags:
                _mkdir_parents(sh, path, mode)
                continue
            canonical, node = host.resolve(path, True, sh.cwd)
            if node is not None:
                raise FsError(_EEXIST)
            host.add(canonical, Node("d", mode, sh.user, sh.user, _now()))
        except FsError as exc:
            sh.complain(f"mkdir: cannot create directory '{path}': {exc}")
            status = 1
    return status


def _mkdir_parents(sh: Interpreter, path: str, mode: int) -> None:
    host = sh.host
    absolute = path if path.startswith("/") else sh.cwd.rstrip("/") + "/" + path
    parts = [p for p in absolute.split("/") if p]
    cur = ""
    for k in range(len(parts)):
        cur = cur + "/" + parts[k]
        canonical, node = host.resolve(cur, True, sh.cwd)
        if node is None:
            parents = (0o777 & ~sh.umask) | 0o300  # as GNU mkdir -p: u+wx whatever the umask
            host.add(canonical, Node("d", mode if k == len(parts) - 1 else parents, sh.user, sh.user, _now()))
        elif node.kind != "d":
            raise FsError(_EEXIST if k == len(parts) - 1 else _ENOTDIR)


def _targets(sh: Interpreter, path: str, recursive: bool, follow: bool) -> list[Node]:
    canonical, node = sh.host.resolve(path, follow, sh.cwd)
    if node is None:
        raise FsError(_ENOENT)
    nodes = [node]
    if recursive and node.kind == "d":
        nodes.extend(sh.host.fs[p] for p in sh.host.children(canonical))
    return nodes


def _chmod(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) < 2 or not re.fullmatch(r"[0-7]{1,4}", rest[0]):
        sh.complain("chmod: only octal modes are simulated")
        return 1
    mode = int(rest[0], 8)
    status = 0
    now = _now()
    for path in rest[1:]:
        try:
            for node in _targets(sh, path, "R" in flags, True):
                if node.kind != "l":
                    node.mode = mode
                    node.ctime = now
        except FsError as exc:
            sh.complain(f"chmod: cannot access '{path}': {exc}")
            status = 1
    return status


def _chown(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) < 2:
        sh.complain(f"{argv[0]}: missing operand")
        return 1
    spec = rest[0]
    if argv[0] == "chgrp":
        user, group = "", spec
    else:
        user, _, group = spec.partition(":")
    status = 0
    now = _now()
    for path in rest[1:]:
        try:
            for node in _targets(sh, path, "R" in flags, "h" not in flags):
                if user:
                    node.user = user
                if group:
                    node.group = group
                node.ctime = now
        except FsError as exc:
            sh.complain(f"{argv[0]}: cannot access '{path}': {exc}")
            status = 1
    return status


def _touch(sh: Interpreter, argv: list[str]) -> int:
    _, _, paths = _operands(argv)
    host = sh.host
    status = 0
    for path in paths:
        try:
            canonical, node = host.resolve(path, True, sh.cwd)
            now = _now()
            if node is None:
                host.add(canonical, Node("f", 0o666 & ~sh.umask, sh.user, sh.user, now))
            else:
                node.atime = node.mtime = node.ctime = now
        except FsError as exc:
            sh.complain(f"touch: cannot touch '{path}': {exc}")
            status = 1
    return status


def _ln(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) != 2:
        sh.complain("ln: only ln [-s] [-f] [--] TARGET LINK is simulated")
        return 1
    target, link = rest
    host = sh.host
    try:
        canonical, node = host.resolve(link, "n" not in flags, sh.cwd)
        if node is not None and node.kind == "d":
            canonical, node = host.resolve(canonical + "/" + posixpath.basename(target.rstrip("/")), False)
        elif node is not None:
            canonical, node = host.resolve(link, False, sh.cwd)
        if node is not None:
            if "f" not in flags:
                raise FsError(_EEXIST)
            if node.kind == "d":
                raise FsError(_EISDIR)
            host.remove(canonical)
        if "s" in flags:
            host.add(canonical, Node("l", 0o777, sh.user, sh.user, _now(), target=target))
        else:
            _, source = host.resolve(target, False, sh.cwd)
            if source is None:
                raise FsError(_ENOENT)
            if source.kind == "d":
                raise FsError("hard link not allowed for directory")
            host.add(canonical, source)
    except FsError as exc:
        sh.complain(f"ln: failed to create link '{link}': {exc}")
        return 1
    return 0


def _rm(sh: Interpreter, argv: list[str]) -> int:
    flags, _, paths = _operands(argv)
    force, recursive = "f" in flags, bool(flags & {"r", "R"})
    host = sh.host
    status = 0
    for path in paths:
        try:
            canonical, node = host.resolve(path, False, sh.cwd)
        except FsError as exc:
            if not force:
                sh.complain(f"rm: cannot remove '{path}': {exc}")
                status = 1
            continue
        if node is None:
            if not force:
                sh.complain(f"rm: cannot remove '{path}': {_ENOENT}")
                status = 1
            continue
        if node.kind == "d" and not recursive:
            sh.complain(f"rm: cannot remove '{path}': {_EISDIR}")
            status = 1
            continue
        if canonical == "/":
            sh.complain("rm: it is dangerous to operate recursively on '/'")
            status = 1
            continue
        host.remove(canonical)
    return status


def _mv(sh: Interpreter, argv: list[str]) -> int:
    _, _, rest = _operands(argv)
    if len(rest) != 2:
        sh.complain("mv: only mv [-f] [--] SOURCE DEST is simulated")
        return 1
    src, dest = rest
    host = sh.host
    try:
        src_path, node = host.resolve(src, False, sh.cwd)
        if node is None:
            raise FsError(_ENOENT)
        dest_path, existing = host.resolve(dest, True, sh.cwd)
        if existing is not None and existing.kind == "d":
            dest_path, existing = host.resolve(dest_path + "/" + posixpath.basename(src_path), False)
        else:
            dest_path, existing = host.resolve(dest, False, sh.cwd)
        if dest_path == src_path:
            return 0
        if existing is not None and existing.kind == "d" and node.kind != "d":
            raise FsError(_EISDIR)
        if node.kind == "d" and (dest_path + "/").startswith(src_path + "/"):
            raise FsError("Invalid argument")
        host.rename(src_path, dest_path)
    except FsError as exc:
        sh.complain(f"mv: cannot move '{src}' to '{dest}': {exc}")
        return 1
    return 0


def _cp(sh: Interpreter, argv: list[str]) -> int:
    flags, _, rest = _operands(argv)
    if len(rest) != 2:
        sh.complain("cp: only cp [-p] [--] SOURCE DEST is simulated")
        return 1
    src, dest = rest
    host = sh.host
    try:
        _, node = host.resolve(src, True, sh.cwd)
        if node is None:
            raise FsError(_ENOENT)
        if node.kind == "d":
            sh.complain(f"cp: -r not specified; omitting directory '{src}'")
            return 1
        dest_path, existing = host.resolve(dest, True, sh.cwd)
        if existing is not None and existing.kind == "d":
            dest_path, existing = host.resolve(dest_path + "/" + posixpath.basename(src), True)
        host.write(dest_path, node.data, False, sh.user)
        copy = host.fs[dest_path] if dest_path in host.fs else host.resolve(dest_path, True)[1]
        if "p" in flags and copy is not None:
            copy.mode, copy.user, copy.group = node.mode, node.user, node.group
            copy.atime, copy.mtime = node.atime, node.mtime
    except FsError as exc:
        sh.complain(f"cp: cannot copy '{src}': {exc}")
        return 1
    return 0
