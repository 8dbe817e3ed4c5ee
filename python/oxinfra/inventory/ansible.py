"""Ansible inventories, INI and YAML, read into oxinfra groups.

INI::

    bastion ansible_host=203.0.113.5        # before any section: group "ungrouped"
    [web]
    web[01:20].example.com ansible_user=deploy
    [web:vars]
    http_port=8080
    [prod:children]
    web
    [all:vars]
    ansible_port=2222

YAML: a mapping of groups, each with optional ``hosts`` (name -> vars or nothing),
``vars`` and ``children`` (name -> group)::

    all:
      vars: {ansible_port: 2222}
      children:
        web:
          hosts:
            web[01:20].example.com: {ansible_user: deploy}

A parent group holds its children's hosts. Groups are ordered parents before children
(otherwise in order of appearance), so a child's data wins over its parent's, as in Ansible.
A group that is its own descendant is an error naming the ``children`` lines of the cycle.
Values on INI lines are read as Python literals when they are one (``8080``, ``True``,
``'a b'``), else as strings.

Connection variables become oxinfra data: ``ansible_host`` -> ``ssh_hostname``,
``ansible_port`` -> ``ssh_port``, ``ansible_user`` -> ``ssh_user``,
``ansible_ssh_private_key_file`` -> ``ssh_key``, ``ansible_password`` /
``ansible_ssh_pass`` -> ``ssh_password``, ``ansible_connection`` (``local``, ``ssh``,
``docker``) -> ``connector``. Other variables keep their names.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from typing import Any

from oxinfra._secrets import is_secret_key
from oxinfra.exceptions import InventoryError
from oxinfra.inventory.source import GroupSpec, InventorySource

__all__ = ["read_ansible_file", "ANSIBLE_KEYS"]

ANSIBLE_KEYS = {
    "ansible_host": "ssh_hostname",
    "ansible_ssh_host": "ssh_hostname",
    "ansible_port": "ssh_port",
    "ansible_ssh_port": "ssh_port",
    "ansible_user": "ssh_user",
    "ansible_ssh_user": "ssh_user",
    "ansible_ssh_private_key_file": "ssh_key",
    "ansible_password": "ssh_password",
    "ansible_ssh_pass": "ssh_password",
    "ansible_ssh_password": "ssh_password",
}
_CONNECTIONS = {"local": "local", "ssh": "ssh", "smart": "ssh", "paramiko": "ssh", "docker": "docker"}
_SECTION = re.compile(r"\[([^\[\]:\s]+)(?::(\w+))?\]")


class _Group:
    def __init__(self, name: str, origin: str) -> None:
        self.name = name
        self.origin = origin
        self.patterns: list[str] = []
        self.host_data: list[dict[str, Any] | None] = []
        self.origins: list[str] = []
        self.data: dict[str, Any] = {}
        self.children: list[tuple[str, str]] = []  # (child, origin of the reference)


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.groups: dict[str, _Group] = {}

    def group(self, name: str, origin: str) -> _Group:
        found = self.groups.get(name)
        if found is None:
            found = self.groups[name] = _Group(name, origin)
        return found

    def convert(self, values: dict[str, Any], origin: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in values.items():
            if not isinstance(key, str):
                raise InventoryError(f"{origin}: variable name {key!r} is not a string")
            if key == "ansible_connection":
                connector = _CONNECTIONS.get(str(value))
                if connector is None:
                    raise InventoryError(
                        f"{origin}: ansible_connection={value!r} is not supported; oxinfra connects with "
                        f"{', '.join(sorted(_CONNECTIONS))}"
                    )
                data["connector"] = connector
            else:
                data[ANSIBLE_KEYS.get(key, key)] = value
        return data

    def source(self) -> InventorySource:
        order = self._order()
        specs = []
        for name in order:
            group = self.groups[name]
            patterns, host_data, origins = [], [], []
            for member in self._descendants(name):
                patterns += member.patterns
                host_data += member.host_data
                origins += member.origins
            specs.append(GroupSpec(name, group.origin, patterns, host_data, origins, group.data))
        if not any(spec.patterns for spec in specs):
            raise InventoryError(f"{self.path} defines no hosts: add a host under a [group] section")
        return InventorySource(self.path, specs, os.path.dirname(os.path.abspath(self.path)))

    def _order(self) -> list[str]:
        """Parents before children, otherwise first appearance; a cycle is an error."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        post: list[str] = []

        def visit(name: str, path: list[tuple[str, str]]) -> None:
            state[name] = 1
            for child, origin in reversed(self.groups[name].children):
                if state.get(child) == 1:
                    start = next(i for i, (n, _) in enumerate(path) if n == child) if child != name else len(path)
                    cycle = path[start:] + [(name, origin)]
                    names = " -> ".join([n for n, _ in cycle] + [child])
                    where = ", ".join(o for _, o in cycle)
                    raise InventoryError(
                        f"{where}: groups form a cycle in children: {names}; "
                        "a group cannot contain itself: remove one of these children entries"
                    )
                if state.get(child) is None:
                    visit(child, path + [(name, origin)])
            state[name] = 2
            post.append(name)

        for name in reversed(list(self.groups)):
            if name not in state:
                visit(name, [])
        # A reverse post-order puts every parent before its children; visiting in reverse
        # keeps unrelated groups in order of appearance.
        return list(reversed(post))

    def _descendants(self, name: str) -> list[_Group]:
        seen: dict[str, _Group] = {}
        stack = [name]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen[current] = self.groups[current]
            stack.extend(child for child, _ in reversed(self.groups[current].children))
        return list(seen.values())


_WORD = re.compile(r"[^\s=:'\"]+")


def _shown(line: str) -> str:
    """``line`` for an error message: what follows the first secret-looking word (a key such
    as ``ansible_password``) is ``***``."""
    for match in _WORD.finditer(line):
        if is_secret_key(match.group()):
            return line[: match.end()] + " ***"
    return line


def read_ansible_file(path: str) -> InventorySource:
    if path.endswith((".yml", ".yaml", ".json")):
        return _read_yaml(path)
    if path.endswith((".ini", ".cfg")):
        return _read_ini(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if re.search(r"^\s*\[[^\]]+\]\s*$", text, re.M) or not re.search(r"^\w+:\s*$", text, re.M):
        return _read_ini(path)
    return _read_yaml(path)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _read_ini(path: str) -> InventorySource:
    reader = _Reader(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read inventory {path}: {exc}") from None
    group = reader.group("ungrouped", f"{path}:1: group 'ungrouped'")
    kind = "hosts"
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        at = f"{path}:{lineno}"
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = _SECTION.fullmatch(line.split(" #")[0].strip())
            if match is None or (match.group(2) or "hosts") not in ("hosts", "vars", "children"):
                raise InventoryError(
                    f"{at}: section header {line!r} is malformed: write [group], [group:vars] or [group:children]"
                )
            group = reader.group(match.group(1), f"{at}: group {match.group(1)!r}")
            kind = match.group(2) or "hosts"
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InventoryError(f"{at}: cannot split {_shown(line)!r}: {exc}; close the quote") from None
        if not tokens:
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InventoryError(f"{at}: {_shown(line)!r} in [{group.name}:vars] is not KEY=VALUE")
            group.data.update(reader.convert({key.strip(): _literal(value.strip())}, at))
        elif kind == "children":
            if len(tokens) != 1:
                raise InventoryError(f"{at}: [{group.name}:children] lists one group name a line, not {line!r}")
            reader.group(tokens[0], f"{at}: group {tokens[0]!r}")
            group.children.append((tokens[0], at))
        else:
            values: dict[str, Any] = {}
            for token in tokens[1:]:
                key, sep, value = token.partition("=")
                if not sep or not key:
                    raise InventoryError(
                        f"{at}: {_shown(token)!r} after host {tokens[0]!r} is not KEY=VALUE; one host a line, then its variables"
                    )
                values[key] = _literal(value)
            group.patterns.append(tokens[0])
            group.host_data.append(reader.convert(values, at) if values else None)
            group.origins.append(at)
    if not reader.groups["ungrouped"].patterns:
        del reader.groups["ungrouped"]
    if "all" in reader.groups:
        reader.groups["all"].children.clear()  # every group is in all already
    return reader.source()


class _Lined(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key."""

    lines: dict[Any, int]


def _yaml_loader() -> Any:
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise InventoryError("reading a YAML inventory needs PyYAML: pip install pyyaml") from None

    class Loader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]  # PyYAML is untyped: SafeLoader is Any
        pass

    def mapping(loader: Any, node: Any) -> _Lined:
        loader.flatten_mapping(node)
        result = _Lined()
        result.lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            result[key] = loader.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return yaml, Loader


def _read_yaml(path: str) -> InventorySource:
    yaml, loader = _yaml_loader()
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=loader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc)
        raise InventoryError(f"{where}: not valid YAML: {problem}; fix the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read inventory {path}: {exc}") from None
    if not isinstance(document, dict):
        raise InventoryError(f"{path}: a YAML inventory is a mapping of groups, e.g. 'all: {{hosts: {{web1: }}}}'")
    reader = _Reader(path)

    def at(mapping: Any, key: Any) -> str:
        line = getattr(mapping, "lines", {}).get(key)
        return f"{path}:{line}" if line else path

    def read_group(name: Any, body: Any, where: str) -> None:
        if not isinstance(name, str):
            raise InventoryError(f"{where}: group name {name!r} is not a string")
        group = reader.group(name, f"{where}: group {name!r}")
        if body is None:
            return
        if not isinstance(body, dict):
            raise InventoryError(
                f"{where}: group {name!r} is a {type(body).__name__}; write hosts:, vars: or children:"
            )
        for key in body:
            if key not in ("hosts", "vars", "children"):
                raise InventoryError(
                    f"{at(body, key)}: group {name!r} has {key!r}; a group has hosts:, vars: and children:"
                )
        hosts = body.get("hosts") or {}
        if isinstance(hosts, list):
            raise InventoryError(
                f"{at(body, 'hosts')}: hosts of {name!r} is a list; write a mapping (host: or host: {{vars}})"
            )
        if not isinstance(hosts, dict):
            raise InventoryError(f"{at(body, 'hosts')}: hosts of {name!r} must be a mapping of host names")
        for host, values in hosts.items():
            host_at = at(hosts, host)
            if values is not None and not isinstance(values, dict):
                raise InventoryError(f"{host_at}: variables of host {host!r} must be a mapping, not {values!r}")
            group.patterns.append(str(host))
            group.host_data.append(reader.convert(values, host_at) if values else None)
            group.origins.append(host_at)
        variables = body.get("vars") or {}
        if not isinstance(variables, dict):
            raise InventoryError(f"{at(body, 'vars')}: vars of {name!r} must be a mapping")
        group.data.update(reader.convert(variables, at(body, "vars")))
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise InventoryError(f"{at(body, 'children')}: children of {name!r} must be a mapping of groups")
        for child, child_body in children.items():
            child_at = at(children, child)
            if name != "all":
                group.children.append((str(child), child_at))
            read_group(child, child_body, child_at)

    for name, body in document.items():
        read_group(name, body, at(document, name))
    return reader.source()
