"""docs/coming-from-ansible.md says what the code does: its deploy runs (planned on a
simulated host, ``--dry``), and its table of Ansible connection variables is the reader's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from oxinfra.inventory.ansible import ANSIBLE_KEYS

DOC = Path(__file__).resolve().parents[1] / "docs" / "coming-from-ansible.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)

#: What a fresh simulated host lacks for server.user: the user and group databases.
SEED = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "/etc/group": "root:x:0:\n",
    "/etc/shadow": "root:*:1::::::\n",
}


def test_the_deploy_plans_every_operation(tmp_path: Path) -> None:
    files = [body for lang, body in FENCE.findall(DOC.read_text()) if body.startswith("# file: ")]
    assert [body.split("\n", 1)[0] for body in files] == ["# file: web.py"]
    (tmp_path / "web.py").write_text(files[0])
    (tmp_path / "site.conf.j2").write_text("listen {{ port }};\n")
    env = {key: value for key, value in os.environ.items() if key != "OXINFRA_STATE_FILE"}
    done = subprocess.run(
        [sys.executable, "-m", "oxinfra", "@sim/web1", "web.py", "--dry", "--json"]
        + ["--data", "env=staging", "--data", f"sim_files={json.dumps(SEED)}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    (summary,) = [e for e in events if e["event"] == "summary"]
    planned = [e["op"] for e in events if e["event"] == "operation" and e["status"] == "changed"]
    assert planned == [
        "nginx installed",
        "site config",
        "app user alice",
        "app user bob",
        "debug log level",
        "reload nginx",
    ], summary


def test_the_connection_variables_table_is_the_readers() -> None:
    page = DOC.read_text()
    table = page.split("Connection variables become oxinfra's host data:", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines()[2:]:
        ansible, oxinfra = line.strip("|").split("|")[:2]
        for name in re.findall(r"`(ansible_\w+)", ansible):
            rows[name] = re.findall(r"`(\w+)`", oxinfra)[0]
    assert {k: v for k, v in rows.items() if k != "ansible_connection"} == ANSIBLE_KEYS
    assert rows["ansible_connection"] == "connector"
