"""files.copy, files.move, files.sync and files.get on a real Debian host (a container of the test image), logged in
as ``deploy`` with ``_sudo=True``: apply -> read back with ``docker exec`` -> apply again:
nothing changes -> drift by hand -> ``--dry`` predicts exactly the change -> apply repairs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import _start_container_fleet
from e2e_helpers import run_deploy, write_deploy

pytestmark = pytest.mark.containers


@pytest.fixture(scope="module")
def fleet() -> Iterator[Any]:
    fleet = _start_container_fleet(1)
    try:
        yield fleet
    finally:
        fleet.stop()


def test_copy_file_and_directory(fleet: Any, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    fleet.sh(
        host,
        "rm -rf /srv/cp && mkdir -p /srv/cp/src/tree/sub /srv/cp/dest && echo conf > '/srv/cp/src/a $(x).conf' && "
        "echo leaf > /srv/cp/src/tree/sub/leaf",
    )
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.copy(name="file", src="/srv/cp/src/a $(x).conf", dest="/srv/cp/dest", _sudo=True)
        files.copy(name="tree", src="/srv/cp/src/tree", dest="/srv/cp/dest", _sudo=True)
        """,
    )

    def check() -> None:
        assert fleet.sh(host, "cd /srv/cp/dest && find . | sort") == (
            ".\n./a $(x).conf\n./tree\n./tree/sub\n./tree/sub/leaf\n"
        )
        assert fleet.sh(host, "cat '/srv/cp/dest/a $(x).conf'") == "conf\n"

    one = run_deploy(inventory, deploy)
    assert one.code == 0 and one.statuses(host) == {"file": "changed", "tree": "changed"}, one.describe()
    check()
    two = run_deploy(inventory, deploy)
    assert two.code == 0 and set(two.statuses(host).values()) == {"unchanged"}, two.describe()
    check()  # the tree was not copied into its copy
    fleet.sh(host, "rm '/srv/cp/dest/a $(x).conf'")  # drift
    dry = run_deploy(inventory, deploy, dry=True)
    assert dry.statuses(host) == {"file": "changed", "tree": "unchanged"}, dry.describe()
    three = run_deploy(inventory, deploy)
    assert three.statuses(host) == {"file": "changed", "tree": "unchanged"}, three.describe()
    check()
    # a different file of that name: refused, left as it is
    fleet.sh(host, "echo other > '/srv/cp/dest/a $(x).conf'")
    out = run_deploy(inventory, deploy)
    assert out.code != 0 and out.op(host, "file")["status"] == "failed", out.describe()
    assert fleet.sh(host, "cat '/srv/cp/dest/a $(x).conf'") == "other\n"


def test_move(fleet: Any, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    fleet.sh(
        host, "rm -rf /srv/mv && mkdir -p /srv/mv/old/release-1 /srv/mv/archive && echo 1 > /srv/mv/old/release-1/f"
    )
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.move(name="mv", src="/srv/mv/old/release-1", dest="/srv/mv/archive", _sudo=True)
        """,
    )
    one = run_deploy(inventory, deploy)
    assert one.code == 0 and one.statuses(host) == {"mv": "changed"}, one.describe()
    assert fleet.sh(host, "cd /srv/mv && find . | sort") == (
        ".\n./archive\n./archive/release-1\n./archive/release-1/f\n./old\n"
    )
    two = run_deploy(inventory, deploy)
    assert two.code == 0 and two.statuses(host) == {"mv": "unchanged"}, two.describe()
    # drift: a new release-1 where it was moved from, the archive's copy still there -> refused
    fleet.sh(host, "mkdir /srv/mv/old/release-1")
    out = run_deploy(inventory, deploy)
    assert out.code != 0 and out.op(host, "mv")["status"] == "failed", out.describe()
    # the archive's copy gone: --dry says it moves, the apply moves it
    fleet.sh(host, "rm -r /srv/mv/archive/release-1")
    dry = run_deploy(inventory, deploy, dry=True)
    assert dry.statuses(host) == {"mv": "changed"}, dry.describe()
    three = run_deploy(inventory, deploy)
    assert three.code == 0 and three.statuses(host) == {"mv": "changed"}, three.describe()
    assert fleet.sh(host, "ls /srv/mv/old; ls /srv/mv/archive") == "release-1\n"


def test_sync_tree(fleet: Any, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "app.conf").write_text("a = 1\n")
    (tree / "sub" / "it's $(x).txt").write_text("leaf\n")
    (tree / "skip.pyc").write_text("x")
    (tree / "current.conf").symlink_to("app.conf")
    fleet.sh(host, "rm -rf /srv/sync")
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.sync(name="sync", src={str(tree)!r}, dest="/srv/sync", mode="640", dir_mode="750",
                   user="deploy", exclude="*.pyc", delete=True, _sudo=True)
        """,
    )
    listing = "find /srv/sync -printf '%P %y %m %u %l\\n' | sort"
    want = (
        " d 750 deploy \n"
        "app.conf f 640 deploy \n"
        "current.conf l 777 deploy app.conf\n"
        "sub d 750 deploy \n"
        "sub/it's $(x).txt f 640 deploy \n"
    )
    one = run_deploy(inventory, deploy)
    assert one.code == 0 and one.statuses(host) == {"sync": "changed"}, one.describe()
    assert fleet.sh(host, listing) == want
    assert fleet.sh(host, 'cat "/srv/sync/sub/it\'s \\$(x).txt"') == "leaf\n"
    two = run_deploy(inventory, deploy)
    assert two.code == 0 and two.statuses(host) == {"sync": "unchanged"}, two.describe()
    # drift: content changed, a file added, the link removed
    fleet.sh(host, "echo changed > /srv/sync/app.conf && touch /srv/sync/sub/extra && rm /srv/sync/current.conf")
    dry = run_deploy(inventory, deploy, dry=True)
    assert dry.code == 0 and dry.statuses(host) == {"sync": "changed"}, dry.describe()
    assert fleet.sh(host, "cat /srv/sync/app.conf") == "changed\n"
    three = run_deploy(inventory, deploy)
    assert three.code == 0 and three.statuses(host) == {"sync": "changed"}, three.describe()
    assert fleet.sh(host, listing) == want
    assert fleet.sh(host, "cat /srv/sync/app.conf") == "a = 1\n"
    assert run_deploy(inventory, deploy).statuses(host) == {"sync": "unchanged"}


def test_get_a_binary_file(fleet: Any, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    fleet.sh(host, "mkdir -p /srv/get && printf 'a\\000b\\377c\\n' > /srv/get/blob && chmod 600 /srv/get/blob")
    local = tmp_path / "fetched" / "blob"
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.get(name="get", src="/srv/get/blob", dest={str(local)!r}, create_local_dir=True, _sudo=True)
        """,
    )
    one = run_deploy(inventory, deploy)
    assert one.code == 0 and one.statuses(host) == {"get": "changed"}, one.describe()
    assert local.read_bytes() == b"a\x00b\xffc\n"
    two = run_deploy(inventory, deploy)
    assert two.code == 0 and two.statuses(host) == {"get": "unchanged"}, two.describe()
    local.write_bytes(b"changed here\n")  # drift
    dry = run_deploy(inventory, deploy, dry=True)
    assert dry.statuses(host) == {"get": "changed"}, dry.describe()
    assert local.read_bytes() == b"changed here\n"
    three = run_deploy(inventory, deploy)
    assert three.code == 0 and three.statuses(host) == {"get": "changed"}, three.describe()
    assert local.read_bytes() == b"a\x00b\xffc\n"
    assert sorted(p.name for p in local.parent.iterdir()) == ["blob"]  # no temporary file left
