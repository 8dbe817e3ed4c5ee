"""``oxinfra INVENTORY debug-inventory [--json]``: the hosts, groups and merged data.

Values of keys that look secret (``password``, ``pw``, ``secret``, ``token``, ``auth``,
``vault``, ... at any depth, see :func:`oxinfra._secrets.is_secret_key`) and
:class:`~oxinfra.api.Secret` values are never printed: they show as ``***``, in the text
and in ``--json``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from oxinfra._secrets import MASK, masked
from oxinfra.inventory import Inventory

__all__ = ["debug_inventory", "masked", "MASK"]


def describe(inventory: Inventory) -> dict[str, Any]:
    return {
        "hosts": {h.name: {"groups": list(h.groups), "data": masked(h.data.dict())} for h in inventory.hosts},
        "groups": inventory.groups,
    }


def debug_inventory(inventory: Inventory, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(describe(inventory), indent=2, default=repr))
        return
    hosts = inventory.hosts
    rows = [(h.name, ", ".join(h.groups) or "-", _data_text(masked(h.data.dict()))) for h in hosts]
    width = [max([len(header)] + [len(row[i]) for row in rows]) for i, header in enumerate(("HOST", "GROUPS"))]
    click.echo(click.style(f"{'HOST':<{width[0]}}  {'GROUPS':<{width[1]}}  DATA", bold=True))
    for name, group_text, data in rows:
        click.echo(f"{name:<{width[0]}}  {group_text:<{width[1]}}  {data}")
    groups = {name: members for name, members in inventory.groups.items() if name != "all"}
    click.echo(click.style(f"\n{len(hosts)} hosts in {len(groups)} groups", bold=True))
    for name, members in groups.items():
        shown = ", ".join(members[:8]) + (f" and {len(members) - 8} more" if len(members) > 8 else "")
        click.echo(f"  {name} ({len(members)}): {shown or '-'}")


def _data_text(data: dict[str, Any]) -> str:
    return " ".join(f"{key}={value!r}" for key, value in sorted(data.items())) or "-"
