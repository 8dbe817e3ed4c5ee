"""Inventories (#4): every input form, data precedence, --limit, bad input, debug-inventory.

Fixtures: ``tests/inventories/`` (``fleet.py`` + ``group_data/``, ``hosts.ini``, ``hosts.yml``,
the last two describing the same Ansible inventory). Nothing here needs sshd: inventories
are loaded in-process, and the CLI runs ``debug-inventory`` or deploys on ``@local``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import pickle
import shutil
import string
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_helpers import assert_no_traceback, run_cli
from oxinfra import _core
from oxinfra.api.context import scope
from oxinfra.cli import main
from oxinfra.exceptions import HostNameError, HostSelectionError, InventoryError
from oxinfra.inventory import Inventory, load_inventory
from oxinfra.inventory.host import Host, HostData

FIXTURES = Path(__file__).parent / "inventories"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of tests/inventories, the current directory while the test runs."""
    copy = tmp_path / "inv"
    shutil.copytree(FIXTURES, copy)
    monkeypatch.chdir(tmp_path)
    return copy


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def names(inventory: Inventory) -> list[str]:
    return [h.name for h in inventory.hosts]


def error_of(spec: str | Path, **kwargs: Any) -> str:
    with pytest.raises(InventoryError) as info:
        load_inventory(str(spec), **kwargs)
    return str(info.value)


def cli(*args: Any) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# -- Python inventory files ---------------------------------------------------------------------


def test_python_file_hosts_groups_and_order(fleet: Path) -> None:
    inv = load_inventory(str(fleet / "fleet.py"))
    assert names(inv) == [
        "web01.example.com",
        "web02.example.com",
        "web03.example.com",
        "web-canary.example.com",
        "dba.example.com",
        "dbb.example.com",
        "10.0.0.1",
        "10.0.0.2",
        "@local",
        "@docker/cache",
    ]
    groups = inv.groups
    assert list(groups) == ["fleet", "web", "db", "edge", "all"]  # the file's own group first
    assert groups["db"] == ["dba.example.com", "dbb.example.com", "web02.example.com"]
    assert groups["fleet"] == groups["all"] == names(inv)
    web02 = inv.get_host("web02.example.com")
    assert web02 is not None and web02.groups == ["fleet", "web", "db"]
    assert "not-a-group" not in groups["all"] and "PORTS" not in groups


def test_python_file_connectors(fleet: Path) -> None:
    inv = load_inventory(str(fleet / "fleet.py"))
    found = {h.name: (h.connector, h.target) for h in inv.hosts}
    assert found["@local"] == ("local", "localhost")
    assert found["@docker/cache"] == ("docker", "cache")
    assert found["10.0.0.1"] == ("ssh", "10.0.0.1")
    assert Host("@ssh/web1.example.com").target == "web1.example.com"


def test_group_data_folder_next_to_inventory(fleet: Path) -> None:
    inv = load_inventory(str(fleet / "fleet.py"))
    web01 = inv.get_host("web01.example.com")
    assert web01 is not None
    # group_data/web.py beats the inventory's inline data; modules, functions and _names are not data
    assert web01.data.color == "web" and web01.data.app_port == 8080 and web01.data.region == "eu"
    assert not {"os", "helper", "_hidden"} & set(web01.data)


def test_group_data_precedence_between_folders(fleet: Path, tmp_path: Path) -> None:
    write(tmp_path / "group_data" / "web.py", "color = 'cwd'\nfrom_cwd = 1\n")  # cwd is tmp_path
    extra = write(tmp_path / "more" / "web.py", "color = 'option'\n").parent
    inv = load_inventory(str(fleet / "fleet.py"))
    host = inv.get_host("web01.example.com")
    assert host is not None and (host.data.color, host.data.from_cwd, host.data.app_port) == ("cwd", 1, 8080)
    inv = load_inventory(str(fleet / "fleet.py"), group_data_dirs=[str(extra)])
    host = inv.get_host("web01.example.com")
    assert host is not None and host.data.color == "option"


def test_empty_inventories() -> None:
    assert "the inventory is empty" in error_of(" ")
    assert "names no hosts" in error_of(",")


def test_comma_list_and_connector_names() -> None:
    inv = load_inventory("web[1:2],@local, @docker/app ,db[a:b]")
    assert names(inv) == ["web1", "web2", "@local", "@docker/app", "dba", "dbb"]
    assert list(inv.groups) == ["all"] and all(h.groups == [] for h in inv.hosts)


@pytest.mark.parametrize(
    ("pattern", "count", "first", "last"),
    [
        ("web[01:20].example.com", 20, "web01.example.com", "web20.example.com"),
        ("10.0.0.[1:254]", 254, "10.0.0.1", "10.0.0.254"),
        ("db[a:f]", 6, "dba", "dbf"),
        ("n[0:100:10]", 11, "n0", "n100"),
        ("rack[1:2]-node[01:16]", 32, "rack1-node01", "rack2-node16"),
    ],
)
def test_range_forms(pattern: str, count: int, first: str, last: str) -> None:
    hosts = names(load_inventory(pattern))
    assert (len(hosts), hosts[0], hosts[-1]) == (count, first, last)


def test_dynamic_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path / "cmdb.py",
        """
        def hosts():
            return {"web": ["web[1:3]"], "db": (["db1"], {"ssh_user": "pg"}), "all": ([], {"env": "prod"})}

        def broken():
            return ["web1"]
    """,
    )
    monkeypatch.chdir(tmp_path)
    inv = load_inventory("cmdb:hosts")
    assert names(inv) == ["web1", "web2", "web3", "db1"]
    db1 = inv.get_host("db1")
    assert db1 is not None and (db1.groups, db1.data.ssh_user, db1.data.env) == (["db"], "pg", "prod")
    assert "returned list" in error_of("cmdb:broken")
    assert "has no function 'nope'" in error_of("cmdb:nope")
    assert "cannot import 'nosuchmodule'" in error_of("nosuchmodule:hosts")


# -- Ansible ------------------------------------------------------------------------------------


def summary(inv: Inventory) -> dict[str, Any]:
    return {h.name: (sorted(set(h.groups) - {"ungrouped"}), h.data.dict(), h.connector) for h in inv.hosts}


def test_ansible_ini(fleet: Path) -> None:
    inv = load_inventory(str(fleet / "ansible" / "hosts.ini"))
    hosts = summary(inv)
    assert sorted(hosts) == sorted(
        [
            "bastion",
            "localhost",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "web-canary.example.com",
            "dba.example.com",
            "dbb.example.com",
        ]
    )
    assert hosts["bastion"][1] == {
        "ssh_hostname": "203.0.113.5",
        "ssh_port": 2222,
        "color": "all",
        "ssh_password": "hunter2",
    }
    assert hosts["localhost"][2] == "local"
    # children: prod holds web and db; a child's data wins over its parent's; db after web
    assert hosts["web02.example.com"][0] == ["db", "prod", "web"]
    assert hosts["web02.example.com"][1]["color"] == "db"
    assert hosts["web01.example.com"][1] == {
        "color": "web",
        "app_port": 8080,
        "tier": "gold",
        "ssh_port": 22,
        "ssh_password": "hunter2",
    }
    assert hosts["web-canary.example.com"][1]["canary"] is True
    assert hosts["dba.example.com"][1]["ssh_user"] == "postgres"
    assert inv.groups["prod"] == [
        "web01.example.com",
        "web02.example.com",
        "web03.example.com",
        "web-canary.example.com",
        "dba.example.com",
        "dbb.example.com",
    ]


def test_ansible_yaml_matches_ini(fleet: Path) -> None:
    ansible = fleet / "ansible"
    assert summary(load_inventory(str(ansible / "hosts.yml"))) == summary(load_inventory(str(ansible / "hosts.ini")))


def test_ansible_ini_without_extension(fleet: Path) -> None:
    plain = fleet / "ansible" / "hosts"
    shutil.copy(fleet / "ansible" / "hosts.ini", plain)
    assert summary(load_inventory(str(plain))) == summary(load_inventory(str(fleet / "ansible" / "hosts.ini")))


@pytest.mark.parametrize("suffix", [".ini", ".yml"])
def test_ansible_children_cycle(tmp_path: Path, suffix: str) -> None:
    if suffix == ".ini":
        path = write(
            tmp_path / "cycle.ini",
            """
            [a]
            h1
            [a:children]
            b
            [b:children]
            c
            [c:children]
            a
        """,
        )
        lines = ["cycle.ini:4", "cycle.ini:6", "cycle.ini:8"]
    else:
        path = write(
            tmp_path / "cycle.yml",
            """
            a:
              hosts: {h1: }
              children:
                b:
                  children:
                    a:
        """,
        )
        lines = ["cycle.yml:4", "cycle.yml:6"]
    message = error_of(path)
    assert "groups form a cycle in children" in message and "remove one of these children entries" in message
    for line in lines:
        assert line in message, message
    assert "a -> b" in message


def test_ansible_self_child(tmp_path: Path) -> None:
    message = error_of(write(tmp_path / "self.ini", "[a]\nh1\n[a:children]\na\n"))
    assert "self.ini:4" in message and "a -> a" in message


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[web\nh1\n", ["bad.ini:1", "section header", "[group]"]),
        ("[web:hosts:x]\n", ["bad.ini:1", "section header"]),
        ("[web]\nh1 port\n", ["bad.ini:2", "'port'", "KEY=VALUE"]),
        ("[web:vars]\nnovalue\n", ["bad.ini:2", "KEY=VALUE"]),
        ("[web]\nh1 'open\n", ["bad.ini:2", "close the quote"]),
        ("[web]\nh1 ansible_connection=winrm\n", ["bad.ini:2", "winrm", "not supported"]),
        ("[web]\nweb[10:01]\n", ["bad.ini:2", "start 10 is after end 01"]),
        ("[web]\nh1 a=1\n[db]\nh1 a=2\n", ["bad.ini:2", "bad.ini:4", "conflicting data for 'a'"]),
        ("# nothing\n", ["defines no hosts"]),
    ],
)
def test_bad_ansible_ini(tmp_path: Path, text: str, needles: list[str]) -> None:
    message = error_of(write(tmp_path / "bad.ini", text))
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("all:\n  hosts: [a, b]\n", ["bad.yml:2", "write a mapping"]),
        ("all:\n  hostz: {}\n", ["bad.yml:2", "'hostz'"]),
        ("all:\n  hosts:\n    a: 1\n", ["bad.yml:3", "must be a mapping"]),
        ("all: [\n", ["bad.yml:2", "not valid YAML"]),
        ("- a\n", ["a mapping of groups"]),
        ("web:\n  hosts:\n    h1: {a: 1}\ndb:\n  hosts:\n    h1: {a: 2}\n", ["bad.yml:3", "bad.yml:6", "conflicting"]),
    ],
)
def test_bad_ansible_yaml(tmp_path: Path, text: str, needles: list[str]) -> None:
    message = error_of(write(tmp_path / "bad.yml", text))
    for needle in needles:
        assert needle in message, message


# -- data precedence ----------------------------------------------------------------------------

PRECEDENCE = """
    all = ([], {"k1": "all", "k2": "all", "k3": "all", "k4": "all", "k5": "all", "k6": "all"})
    first = (["h1"], {"k1": "first", "k2": "first", "k3": "first", "k4": "first", "k5": "first"})
    second = ([("h1", {"k1": "host", "k2": "host"})], {"k1": "second", "k2": "second", "k3": "second"})
    third = (["h1"], {"k1": "third", "k2": "third", "k3": "third", "k4": "third"})
"""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("k0", "override"),  # --data beats everything
        ("k1", "host"),  # host data beats every group
        ("k2", "host"),
        ("k3", "third"),  # a later group beats an earlier one
        ("k4", "third"),
        ("k5", "first"),  # group data beats all
        ("k6", "all"),  # all beats deploy defaults
        ("k7", "default"),  # deploy defaults, the lowest layer
    ],
)
def test_precedence(tmp_path: Path, key: str, value: str) -> None:
    path = write(tmp_path / "inv.py", PRECEDENCE)
    inv = load_inventory(str(path), {"k0": "override"})
    (host,) = inv.hosts
    assert host.groups == ["inv", "first", "second", "third"]
    with scope(data_defaults=({f"k{i}": "default" for i in range(8)},)):
        assert host.data[key] == value
        assert getattr(host.data, key) == value
        assert host.data.get(key) == value
        assert host.data.dict()[key] == value
    assert host.data.get("k7") is None


def test_precedence_with_group_data_file(tmp_path: Path) -> None:
    path = write(tmp_path / "inv.py", PRECEDENCE)
    write(tmp_path / "group_data" / "first.py", "k5 = 'first-file'\nk3 = 'first-file'\n")
    write(tmp_path / "group_data" / "all.py", "k6 = 'all-file'\n")
    (host,) = load_inventory(str(path)).hosts
    assert (host.data.k5, host.data.k3, host.data.k6) == ("first-file", "third", "all-file")


def test_deploy_data_defaults(tmp_path: Path) -> None:
    deploy = write(
        tmp_path / "deploy.py",
        f"""
        from oxinfra import host
        from oxinfra.api import deploy
        from oxinfra.operations import server

        @deploy("app", data_defaults={{"port": 80, "user": "www"}})
        def app():
            server.shell(name="out", commands=[f"echo {{host.data.port}}-{{host.data.user}} > {tmp_path}/out"])
            return host.data.get("port")

        app()
        server.shell(name="after", commands=[f"echo {{host.data.get('port', 'gone')}} > {tmp_path}/after"])
    """,
    )
    result = cli("--json", "-y", "--data", "user=root", "@local", deploy)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out").read_text() == "80-root\n"  # --data beats the default
    assert (tmp_path / "after").read_text() == "gone\n"  # only inside the deploy


def test_host_data_mapping_and_errors() -> None:
    data = HostData("web1", layers=({"a": 1}, {"a": 0, "b": 2}))
    assert (data.a, data["b"], data.get("c", 3), len(data), sorted(data), "a" in data) == (1, 2, 3, 2, ["a", "b"], True)
    assert data.dict() == {"a": 1, "b": 2} and dict(data) == {"a": 1, "b": 2}
    with pytest.raises(AttributeError) as info:
        data.nope
    message = str(info.value)
    assert "'web1'" in message and "'nope'" in message and "host.data.get('nope', default)" in message
    with pytest.raises(KeyError):
        data["nope"]
    assert HostData("h", {"x": 1}).x == 1


def test_hosts_share_layers(tmp_path: Path) -> None:
    inv = load_inventory("web[1:100]", {"x": 1})
    layers = {id(h.data._layers) for h in inv.hosts}
    assert len(layers) == 1


def test_data_defaults_are_per_context() -> None:
    data = HostData("h", {})
    seen: list[Any] = []
    with scope(data_defaults=({"x": 1},)):
        thread = threading.Thread(target=lambda: seen.append(data.get("x")))
        thread.start()
        thread.join()
        assert data.x == 1
    assert seen == [None]


# -- --limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (["db"], ["web02.example.com", "dba.example.com", "dbb.example.com"]),
        (["web0*"], ["web01.example.com", "web02.example.com", "web03.example.com"]),
        (["web0?.example.com"], ["web01.example.com", "web02.example.com", "web03.example.com"]),
        (["web0[13]*"], ["web01.example.com", "web03.example.com"]),
        (["10.0.0.[2:9]"], ["10.0.0.2"]),
        (["web[02:03].example.com"], ["web02.example.com", "web03.example.com"]),
        (["!web,!edge"], ["dba.example.com", "dbb.example.com"]),
        (["web,!web-canary*"], ["web01.example.com", "web02.example.com", "web03.example.com"]),
        (["edge", "db*", "!db"], ["10.0.0.1", "10.0.0.2", "@local", "@docker/cache"]),
        (["@local,dbb.example.com"], ["dbb.example.com", "@local"]),
        (["all,!fleet"], None),
    ],
)
def test_limit(fleet: Path, limit: list[str], expected: list[str] | None) -> None:
    inv = load_inventory(str(fleet / "fleet.py"))
    if expected is None:
        with pytest.raises(InventoryError, match="selects no host"):
            inv.limit(limit)
        return
    assert names(inv.limit(limit)) == expected


@pytest.mark.parametrize(
    ("limit", "needles"),
    [
        ("webb", ['--limit "webb"', "no group or host has this name", "groups are: all, db, edge, fleet, web"]),
        ("web,!dbz", ['--limit "!dbz"', "no group or host"]),
        ("nohost*", ['--limit "nohost*"', "matches no host or group"]),
        ("web[3:1]", ["start 3 is after end 1"]),
        ("web[1", ["unclosed '['"]),
        ("db,!db", ["selects no host"]),
    ],
)
def test_limit_errors(fleet: Path, limit: str, needles: list[str]) -> None:
    inv = load_inventory(str(fleet / "fleet.py"))
    with pytest.raises(InventoryError) as info:
        inv.limit([limit])
    for needle in needles:
        assert needle in str(info.value)


def test_limit_twice_intersects(fleet: Path) -> None:
    inv = load_inventory(str(fleet / "fleet.py")).limit(["web"])
    assert names(inv.limit(["db"])) == ["web02.example.com"]
    assert inv.limit(["db"]).groups["db"] == ["web02.example.com"]
    with pytest.raises(InventoryError, match="already limited"):
        inv.limit(["edge"])


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            "web = ['web[10:01]']\n",
            ["bad.py:1: group 'web'", "start 10 is after end 01; write the smaller bound first"],
        ),
        ("x = 1\nweb = ['web[a:10]']\n", ["bad.py:2: group 'web'", "mixes a number and a letter"]),
        ("web = ['web[01:]']\n", ["bad.py:1", "has no end"]),
        ("web = ['web 01']\n", ["bad.py:1", '"web 01" is not a valid host name', "contains a space"]),
        ("web = ['web..example.com']\n", ["empty label"]),
        ("web = ['-web']\n", ["would read as an option"]),
        ("web = ['']\n", ["it is empty"]),
        ("web = ['web\\x01']\n", ["control character U+0001"]),
        ("web = ['@nope']\n", ["unknown connector", "@local"]),
        ("web = [('a', 'not a dict')]\n", ["bad.py:1: group 'web'", "is not a host"]),
        ("web = [('a', {1: 2})]\n", ["bad.py:1", "data key 1 is not a string"]),
        ("web = [('h', {'connector': 'telnet'})]\n", ["connector='telnet'"]),
        ("x = 1\n", ["defines no hosts"]),
        ("x = 1\n\nraise RuntimeError('boom')\n", ["bad.py:3", "RuntimeError: boom"]),
        ("web = ['a'\n", ["bad.py:1", "syntax error"]),
        (
            "web = [('h1', {'port': 1})]\n\ndb = [('h1', {'port': 2}), ('h2', {'port': 3})]\n",
            [
                "host 'h1' has conflicting data for 'port': 1 at bad.py:1: group 'web' and 2 at bad.py:3: group 'db'",
                "in one place",
            ],
        ),
    ],
)
def test_bad_python_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, needles: list[str]) -> None:
    write(tmp_path / "bad.py", text)
    monkeypatch.chdir(tmp_path)
    message = error_of("bad.py")
    for needle in needles:
        assert needle in message, message


def test_same_host_in_several_groups_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.py", "web = [('h1', {'port': 1})]\ndb = [('h1', {'port': 1, 'x': 2}), 'h1']\n")
    (host,) = load_inventory(str(path)).hosts
    assert (host.groups, host.data.port, host.data.x) == (["ok", "web", "db"], 1, 2)


def test_group_data_that_fails_to_import(tmp_path: Path) -> None:
    inv = write(tmp_path / "inv.py", "web = ['h1']\n")
    write(tmp_path / "group_data" / "web.py", "a = 1\nb = undefined_name\n")
    message = error_of(inv)
    assert f"{tmp_path / 'group_data' / 'web.py'}:2: group data file failed to load" in message
    assert "NameError" in message and "fix the file" in message
    write(tmp_path / "group_data" / "web.py", "a = (\n")
    assert "web.py:1: syntax error in group data file" in error_of(inv)


def test_group_data_option_must_be_a_directory(tmp_path: Path) -> None:
    assert "not a directory" in error_of("h1", group_data_dirs=[str(tmp_path / "missing")])


def test_check_picklable(tmp_path: Path) -> None:
    path = write(
        tmp_path / "inv.py",
        """
        import threading
        web = (["w[1:2]"], {"lock": threading.Lock()})
        db = [("d1", {"fine": [1, "two"]})]
    """,
    )
    inv = load_inventory(str(path))
    with pytest.raises(InventoryError) as info:
        inv.check_picklable()
    message = str(info.value)
    assert "inv.py:2: group 'web'" in message and "data 'lock' of host 'w1' cannot be pickled" in message
    assert "plain values" in message
    inv.limit(["db"]).check_picklable()
    load_inventory("h1", {"x": 1}).check_picklable()
    pickle.dumps(inv.limit(["db"]).hosts[0].data.dict())


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["web[10:01]"], ["web[10:01]", "start 10 is after end 01"]),
        (["{fleet}", "--limit", "webb"], ['--limit "webb"', "no group or host"]),
        (["{fleet}", "--limit", "web,!web"], ["selects no host"]),
        (["{bad}"], ["bad.ini:2", "bad.ini:4", "conflicting data"]),
        (["{cycle}"], ["cycle.ini", "cycle in children"]),
    ],
)
def test_cli_errors_are_one_line_without_traceback(
    fleet: Path, tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    bad = write(tmp_path / "bad.ini", "[web]\nh1 a=1\n[db]\nh1 a=2\n")
    cycle = write(tmp_path / "cycle.ini", "[a]\nh1\n[a:children]\nb\n[b:children]\na\n")
    argv = [a.format(fleet=fleet / "fleet.py", bad=bad, cycle=cycle) for a in args]
    out = run_cli(*argv, "debug-inventory")
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oxinfra: error: "), out.describe()
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- debug-inventory ----------------------------------------------------------------------------


def test_debug_inventory_json(fleet: Path) -> None:
    result = cli(fleet / "fleet.py", "debug-inventory", "--json", "--data", "db_password=x", "--limit", "db,@local")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out["hosts"]) == ["web02.example.com", "dba.example.com", "dbb.example.com", "@local"]
    dba = out["hosts"]["dba.example.com"]
    assert dba["groups"] == ["fleet", "db"]
    assert dba["data"] == {
        "db_password": "***",
        "color": "db",
        "ssh_user": "postgres",
        "ssh_port": 22,
        "api_token": "***",
        "region": "eu",
    }
    assert out["groups"]["db"] == ["dba.example.com", "dbb.example.com", "web02.example.com"]
    assert out["groups"]["edge"] == ["@local"]
    assert "s3cret" not in result.stdout


def test_debug_inventory_table(fleet: Path) -> None:
    result = cli(fleet / "ansible" / "hosts.ini", "debug-inventory")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["HOST", "GROUPS", "DATA"]
    bastion = next(line for line in lines if line.startswith("bastion "))
    assert "ungrouped" in bastion and "ssh_port=2222" in bastion and "ssh_password='***'" in bastion
    assert "hunter2" not in result.stdout
    assert "8 hosts in 5 groups" in result.stdout
    assert any(line.strip().startswith("prod (6): web01.example.com") for line in lines)


def test_debug_inventory_takes_no_arguments(fleet: Path) -> None:
    result = CliRunner().invoke(main, [str(fleet / "fleet.py"), "debug-inventory", "extra"])
    assert result.exit_code == 2 and "takes no further arguments" in result.output


# -- the Rust layout and selection, as properties -----------------------------------------------

host_names = st.text(alphabet=string.ascii_lowercase + string.digits + "-.", min_size=1, max_size=6).filter(
    lambda s: not s.startswith(("-", ".")) and ".." not in s and ".-" not in s
)


@settings(database=None, max_examples=150, deadline=None)
@given(st.lists(st.lists(host_names, max_size=6), min_size=1, max_size=5))
def test_layout_property(groups: list[list[str]]) -> None:
    """Hosts are first-seen, deduplicated; each host's group set is its groups in order."""
    specs = [(f"g{i}", f"o{i}", members, [], []) for i, members in enumerate(groups)]
    layout = _core.InventoryLayout(specs)
    expected = list(dict.fromkeys(name for members in groups for name in members))
    assert layout.hosts == expected
    per_host, sets = layout.group_sets()
    for index, name in enumerate(expected):
        assert sets[per_host[index]] == [i for i, members in enumerate(groups) if name in members]
    members = layout.members()
    for i, group in enumerate(groups):
        assert [expected[h] for h in members[i]] == list(dict.fromkeys(group))
    assert [expected[h] for h in members[layout.groups.index("all")]] == expected


globs = st.text(alphabet="ab1.*?", min_size=1, max_size=5) | st.builds(
    lambda a, b, neg: f"{a}[{'!' if neg else ''}{b}]*",
    st.sampled_from("ab1"),
    st.sampled_from(["a", "ab", "0-9"]),
    st.booleans(),
)


@settings(database=None, max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab1.", min_size=1, max_size=5), min_size=1, max_size=8, unique=True), globs)
def test_glob_property(hosts: list[str], glob: str) -> None:
    """The Rust glob agrees with fnmatch.fnmatchcase on host names."""
    hosts = [h for h in hosts if h[0] != "." and ".." not in h] or ["a"]
    layout = _core.InventoryLayout([("g", "", hosts, [], [])])
    expected = [h for h in hosts if fnmatch.fnmatchcase(h, glob)]
    if fnmatch.fnmatchcase("g", glob) or fnmatch.fnmatchcase("all", glob):
        expected = list(hosts)  # the glob matches a group name: all its hosts
    try:
        chosen = layout.select([glob])
    except HostSelectionError as exc:
        assert not expected and ("matches no host" in str(exc) or "no group or host has this name" in str(exc))
        return
    assert [hosts[i] for i in chosen] == expected


@settings(database=None, max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 5), st.integers(0, 60), st.integers(0, 60))
def test_range_selection_property(start: int, length: int, step: int, lo: int, hi: int) -> None:
    """Selecting a range selects exactly the present hosts it expands to, in host order."""
    present = [f"n{i}" for i in range(start, start + length + 1)]
    layout = _core.InventoryLayout([("g", "", present, [], [])])
    lo, hi = min(lo, hi), max(lo, hi)
    wanted = {f"n{i}" for i in range(lo, hi + 1, step)}
    expected = [h for h in present if h in wanted]
    if not expected:
        with pytest.raises(HostSelectionError, match="matches no host"):
            layout.select([f"n[{lo}:{hi}:{step}]"])
        return
    assert [present[i] for i in layout.select([f"n[{lo}:{hi}:{step}]"])] == expected
    rest = layout.select([f"!n[{lo}:{hi}:{step}]"]) if len(expected) < len(present) else []
    assert sorted([present[i] for i in rest] + expected, key=present.index) == present


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("web01.example.com", True),
        ("10.0.0.1", True),
        ("fe80::1", True),
        ("[::1]", True),
        ("@docker/x", True),
        ("a b", False),
        ("a..b", False),
        ("-a", False),
        ("", False),
        ("10.0.0.300", False),
        ("h:22", False),
    ],
)
def test_check_host_name(name: str, ok: bool) -> None:
    if ok:
        _core.check_host_name(name)
        return
    with pytest.raises(HostNameError, match="is not a valid host name"):
        _core.check_host_name(name)
    with pytest.raises(InventoryError):
        Host(name)


def test_environment_is_untouched(fleet: Path) -> None:
    before = dict(os.environ)
    load_inventory(str(fleet / "fleet.py"))
    assert dict(os.environ) == before


def test_inventory_bench_smoke() -> None:
    """benches/inventory.py at a small size: it runs and reports every phase (no timing checks)."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "benches" / "inventory.py"
    proc = subprocess.run(
        [sys.executable, str(bench), "--hosts", "2000", "--groups", "20", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "inventory: 2000 hosts in 21 groups" in proc.stdout
    for phase in ("load", "hosts", "merge", "match", "total", "peak RSS"):
        assert phase in proc.stdout
