"""Run pyinfra 3.10's own parsing of a fact's output (in pyinfra's venv), to record the value
pyinfra gives for output captured on a host: reads JSON ``[[family.Fact, output lines,
attributes]...]`` on stdin (a short fact: its fact's output), prints one JSON value per case (``{"error": ...}`` when pyinfra
fails). Datetimes as ``{"datetime": ISO}``, tuples as lists.

    /work/venvs/pyinfra/bin/python tests/tools/pyinfra_process.py < cases.json
"""

import datetime
import importlib
import json
import sys

from pyinfra.api import ShortFactBase


def encode(value):
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def main():
    out = []
    for name, lines, attrs in json.load(sys.stdin):
        family, cls = name.split(".")
        fact = getattr(importlib.import_module(f"pyinfra.facts.{family}"), cls)()
        short = None
        if isinstance(fact, ShortFactBase):  # its value is made from another fact's
            short, fact = fact, fact.fact()
        for key, value in attrs.items():
            setattr(fact, key, value)
        try:
            value = fact.process(lines) if lines else fact.default()
            out.append(encode(short.process_data(value) if short is not None else value))
        except Exception as exc:  # noqa: BLE001 - recorded as the case's outcome
            out.append({"error": f"{type(exc).__name__}: {exc}"})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
