"""files.block on a real Debian host (a container of the test image: mawk), logged in as
``deploy`` with ``_sudo=True``: apply -> the file read back with ``docker exec cat`` -> apply
again: nothing changes -> drift by hand -> ``--dry`` predicts exactly the change -> apply
repairs it. Also: the file keeps its owner and mode (a new file renamed over it); removal; the content is written
as given (no shell expansion); ``files.Block`` reads what the operation wrote.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import _start_container_fleet
from e2e_helpers import PYINFRA_CLI, require_pyinfra, run_deploy, write_deploy

pytestmark = pytest.mark.containers

HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"


@pytest.fixture(scope="module")
def fleet() -> Iterator[Any]:
    fleet = _start_container_fleet(1)
    try:
        yield fleet
    finally:
        fleet.stop()


def _cycle(fleet: Any, tmp_path: Path, source: str, want: str, drift: str) -> None:
    host = fleet.hosts[0]
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(tmp_path, source)
    one = run_deploy(inventory, deploy)
    assert one.code == 0, one.describe()
    assert set(one.statuses(host).values()) == {"changed"}, one.describe()
    assert fleet.sh(host, "cat /srv/blk/hosts") == want
    two = run_deploy(inventory, deploy)
    assert two.code == 0 and set(two.statuses(host).values()) == {"unchanged"}, two.describe()
    fleet.sh(host, drift)
    dry = run_deploy(inventory, deploy, dry=True)
    assert dry.code == 0 and set(dry.statuses(host).values()) == {"changed"}, dry.describe()
    three = run_deploy(inventory, deploy)
    assert three.code == 0 and set(three.statuses(host).values()) == {"changed"}, three.describe()
    assert fleet.sh(host, "cat /srv/blk/hosts") == want


def test_block_before_a_line_then_replaced_then_removed(fleet: Any, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    fleet.sh(
        host,
        "rm -rf /srv/blk && mkdir -p /srv/blk && printf '%s' '" + HOSTS + "' > /srv/blk/hosts && "
        "chown deploy:deploy /srv/blk/hosts && chmod 604 /srv/blk/hosts",
    )
    source = """
        from oxinfra.operations import files
        files.block(name="mars", path="/srv/blk/hosts", content="10.0.0.1 mars-one\\n10.0.0.2 it's $(mars)",
                    line="^::1", before=True, _sudo=True)
    """
    want = (
        "127.0.0.1 localhost\n# BEGIN PYINFRA BLOCK\n10.0.0.1 mars-one\n10.0.0.2 it's $(mars)\n"
        "# END PYINFRA BLOCK\n::1 localhost ip6-localhost\n"
    )
    # drift: the block's lines edited by hand -> the lines between the markers are replaced
    _cycle(
        fleet,
        tmp_path,
        source,
        want,
        drift="sed 's/mars-one/venus/' /srv/blk/hosts > /tmp/h && cat /tmp/h > /srv/blk/hosts",  # same inode
    )
    assert fleet.sh(host, "stat -c '%U %G %a' /srv/blk/hosts") == "deploy deploy 604\n"
    assert fleet.sh(host, "ls -A /srv/blk") == "hosts\n"  # no temporary file left

    # the markers removed by hand: the block goes back before the line
    fleet.sh(host, "printf '%s' '" + HOSTS + "' > /srv/blk/hosts")
    again = run_deploy(fleet.write_inventory(tmp_path / "inventory.py"), write_deploy(tmp_path, source))
    assert again.code == 0 and again.statuses(host) == {"mars": "changed"}, again.describe()
    assert fleet.sh(host, "cat /srv/blk/hosts") == want

    remove = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.block(name="gone", path="/srv/blk/hosts", present=False, _sudo=True)
        """,
        name="remove.py",
    )
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, remove)
    assert out.code == 0 and out.statuses(host) == {"gone": "changed"}, out.describe()
    assert fleet.sh(host, "cat /srv/blk/hosts") == HOSTS
    out = run_deploy(inventory, remove)
    assert out.code == 0 and out.statuses(host) == {"gone": "unchanged"}, out.describe()


def test_block_created_appended_and_prepended(fleet: Any, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    fleet.sh(host, "rm -rf /srv/blk && mkdir -p /srv/blk && printf 'no newline at end' > /srv/blk/hosts")
    source = """
        from oxinfra.operations import files
        files.block(name="end", path="/srv/blk/hosts", content=["a", "b"], _sudo=True)
        files.block(name="start", path="/srv/blk/hosts", content="first", marker="## {mark} TOP ##",
                    before=True, after=True, _sudo=True)
        files.block(name="new", path="/srv/blk/new.conf", content="x = 1", marker="; {mark}", _sudo=True)
    """
    want = (
        "## BEGIN TOP ##\nfirst\n## END TOP ##\nno newline at end\n# BEGIN PYINFRA BLOCK\na\nb\n# END PYINFRA BLOCK\n"
    )
    _cycle(
        fleet,
        tmp_path,
        source,
        want,
        drift="printf 'no newline at end' > /srv/blk/hosts && rm /srv/blk/new.conf",
    )
    assert fleet.sh(host, "cat /srv/blk/new.conf") == "; BEGIN\nx = 1\n; END\n"


PYINFRA = PYINFRA_CLI


def test_same_file_as_pyinfra(fleet: Any, tmp_path: Path) -> None:
    """pyinfra 3.10 (its @docker connector) writes the block into one copy of a file, oxinfra
    into another: the bytes are the same, and oxinfra finds pyinfra's block in place."""
    require_pyinfra()
    host = fleet.hosts[0]
    fleet.sh(
        host,
        "rm -rf /srv/cmp && mkdir -p /srv/cmp && printf '%s' '"
        + HOSTS
        + "' > /srv/cmp/py && cp /srv/cmp/py /srv/cmp/ox",
    )
    args = 'content="10.0.0.1 mars-one\\n10.0.0.2 mars-two", line="^::1", before=True'
    py_deploy = tmp_path / "py_deploy.py"
    py_deploy.write_text(f'from pyinfra.operations import files\nfiles.block(path="/srv/cmp/py", {args})\n')
    proc = subprocess.run(
        [PYINFRA, f"@docker/{host}", str(py_deploy), "-y"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    ox = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.block(name="ox", path="/srv/cmp/ox", {args}, _sudo=True)
        files.block(name="py", path="/srv/cmp/py", {args}, _sudo=True)
        """,
    )
    out = run_deploy(inventory, ox)
    assert out.code == 0 and out.statuses(host) == {"ox": "changed", "py": "unchanged"}, out.describe()
    assert fleet.sh(host, "cat /srv/cmp/ox") == fleet.sh(host, "cat /srv/cmp/py")
