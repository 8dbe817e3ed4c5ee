"""Capture a fact fixture case from a container host, with pyinfra 3.10's value for the same
host: runs oxinfra's command for the fact in the container (``docker exec``), records its
stdout and status, and asks pyinfra (tests/tools/pyinfra_facts.py, in pyinfra's venv) for
the fact's value on the same container at the same time.

    python tests/tools/capture_case.py CONTAINER PYINFRA_PYTHON CASE family.Fact [key=text | key:=JSON ...]

``--ours`` records oxinfra's own parse instead (for outcomes pyinfra has no value for).
"""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent / "facts"


def to_json(value):
    """A value as the fixtures write it (datetimes as ``{"datetime": ISO}``)."""
    import datetime

    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def main() -> None:
    argv = sys.argv[1:]
    ours = "--ours" in argv
    argv = [a for a in argv if a != "--ours"]
    container, python, case, name, *pairs = argv
    args = {}
    for pair in pairs:  # key=text, or key:=JSON
        key, value = pair.split("=", 1)
        if key.endswith(":"):
            args[key[:-1]] = json.loads(value)
        else:
            args[key] = value
    sys.path.insert(0, str(HERE.parent))
    from test_fact_fixtures import FACTS

    fact = FACTS[name]()
    command = fact.command(**args)
    proc = subprocess.run(["docker", "exec", container, "sh", "-c", command], capture_output=True)
    try:
        stdout = proc.stdout.decode()
    except UnicodeDecodeError:
        stdout = {"bytes": proc.stdout.decode("latin-1")}
    if ours:
        value = to_json(fact.parse(proc.stdout, proc.returncode))
    else:
        got = subprocess.run(
            [python, str(HERE / "pyinfra_facts.py"), f"@docker/{container}"],
            input=json.dumps([[name, args]]),
            capture_output=True,
            text=True,
            check=True,
        )
        (value,) = json.loads(got.stdout)
        assert not (isinstance(value, dict) and "error" in value), value
    spec = {"args": args, "command": command, "stdout": stdout, "rc": proc.returncode, "value": value}
    folder = ROOT / name
    folder.mkdir(exist_ok=True)
    (folder / f"{case}.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    print(folder / f"{case}.json", json.dumps(value)[:300])


if __name__ == "__main__":
    main()
