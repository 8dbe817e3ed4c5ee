"""Read facts with pyinfra 3.10 itself (run in pyinfra's venv) from one host: argv[1] is the
host (``@docker/NAME``, or an address with argv[2] the host's data as JSON: ``ssh_user``,
``ssh_key``...), stdin JSON ``[[family.Fact, {args}]...]``; prints a JSON list of
values (``{"error": ...}`` where pyinfra fails). Datetimes as ``{"datetime": ISO}``, tuples
as lists.

    /work/venvs/pyinfra/bin/python tests/tools/pyinfra_facts.py @docker/NAME < facts.json
"""

import datetime
import importlib
import json
import sys

from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.context import ctx_host, ctx_state


def encode(value):
    if hasattr(value, "to_json"):  # crontab.Crontab's CrontabFile
        return encode(value.to_json())
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def main():
    target = sys.argv[1]
    data = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    requests = json.load(sys.stdin)
    inventory = Inventory(([(target, data)], {}))
    state = State(inventory, Config())
    connect_all(state)
    host = inventory.get_host(target)
    ctx_state.set(state)
    ctx_host.set(host)
    out = []
    for name, args in requests:
        family, cls = name.split(".")
        fact = getattr(importlib.import_module(f"pyinfra.facts.{family}"), cls)
        try:
            out.append(encode(host.get_fact(fact, **args)))
        except Exception as exc:  # noqa: BLE001 - recorded as the outcome
            out.append({"error": f"{type(exc).__name__}: {exc}"})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
