"""Secrets in host data: ``oxinfra.api.Secret`` values and keys that look secret are used as
themselves on hosts and shown as ``***`` wherever oxinfra prints them."""

from __future__ import annotations

import json
import pickle
import subprocess
import textwrap
from pathlib import Path

import jinja2
import pytest

from e2e_helpers import invoke
from oxinfra._keys import freeze
from oxinfra._secrets import MASK, Redactor, is_secret_key, masked, secret_values
from oxinfra.api import Secret
from oxinfra.quoting import quote


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_password",
        "db.password",
        "DB_PASSWORD",
        "dbPassword",
        "passwd",
        "ssh_pass",
        "pw",
        "vault_pw",
        "vaultPW",
        "pwd",
        "secret",
        "client-secret",
        "token",
        "api_token",
        "oauthToken",
        "api_key",
        "apikey",
        "apiKey",
        "API_KEY",
        "auth",
        "basic_auth",
        "authMode",
        "credential",
        "credentials",
        "private_key",
        "privateKey",
        "ssh-private-key",
        "vault",
        "vault_addr",
        "passphrase",
        "wifi_psk",
        "ansible_become_pass",
    ],
)
def test_secret_key_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "user",
        "ssh_port",
        "color",
        "author",
        "upwards",
        "bypass",
        "authorized_keys",
        "keyboard",
        "path",
        "passenger",
        "compass",
        "region",
    ],
)
def test_plain_key_names(name: str) -> None:
    assert not is_secret_key(name)


def test_masked_at_any_depth() -> None:
    data = {
        "db": {"host": "db1", "password": "pw-db-1234", "replicas": [{"auth": {"user": "u", "key": "k"}}]},
        "api_key": "ak-1234",
        "list": [Secret("in-a-list"), "plain"],
        "n": 3,
        "vault": {"id": 1},
        "tuple": (Secret("x1234"), 2),
    }
    assert masked(data) == {
        "db": {"host": "db1", "password": MASK, "replicas": [{"auth": MASK}]},
        "api_key": MASK,
        "list": [MASK, "plain"],
        "n": 3,
        "vault": MASK,
        "tuple": (MASK, 2),
    }
    assert data["db"]["password"] == "pw-db-1234"  # copied, not changed
    assert secret_values(data, set()) == {"pw-db-1234", "k", "u", "ak-1234", "in-a-list", "1", "x1234"}


def test_secret_is_the_value_for_code_and_masked_for_display() -> None:
    s = Secret("hunter2-it's")
    assert s == "hunter2-it's" and isinstance(s, str)
    assert f"pw={s}" == "pw=hunter2-it's" and "pw=" + s == "pw=hunter2-it's"
    assert str(s) == "hunter2-it's" and type(str(s)) is str and type(s.reveal()) is str
    assert jinja2.Template("pw={{ pw }}").render(pw=s) == "pw=hunter2-it's"
    assert repr(s) == "Secret('***')" and "hunter2" not in repr({"pw": s}) and "hunter2" not in f"{s!r}"
    out = subprocess.run(["sh", "-c", f"printf %s {quote(s)}"], capture_output=True, text=True, check=True).stdout
    assert out == "hunter2-it's"
    back = pickle.loads(pickle.dumps(s))
    assert type(back) is Secret and back == s
    assert Secret(s) is s
    assert freeze(s) == freeze(Secret("hunter2-it's")) != freeze("hunter2-it's")
    with pytest.raises(TypeError):
        Secret(1234)  # type: ignore[arg-type]


def test_redactor_masks_text_lines_and_structures() -> None:
    key = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFF\n-----END KEY-----"
    r = Redactor(["hunter2", "ab", key, "hunter22"])
    assert r.text("mysql -phunter22 && echo hunter2") == "mysql -p*** && echo ***"
    assert r.text("ab abc") == "ab abc"  # too short to mask in free text
    assert r.text("line: EEEEFFFF") == "line: ***"
    event = {"op": "x", "error": "bad hunter2", "index": 3, "lines": ["hunter2", b"hunter2"]}
    assert r.deep(event) == {"op": "x", "error": "bad ***", "index": 3, "lines": ["***", "***"]}
    assert event["error"] == "bad hunter2"
    assert not Redactor([]) and Redactor([]).deep(event) is event
    clean = {"op": "x", "lines": ["a", "b"], "n": 1}
    assert r.deep(clean) is clean  # nothing to mask: no copy (every event of a run goes through)
    partly = {"keep": ["a"], "mask": ["hunter2"]}
    shown = r.deep(partly)
    assert shown == {"keep": ["a"], "mask": ["***"]} and shown["keep"] is partly["keep"]
    long = "x" * 5000 + " hunter2"  # long texts (outputs) are masked without being cached
    assert r.text(long) == "x" * 5000 + " ***" and r.masker()(long) == r.text(long)
    assert r.masker()("echo hunter2") == "echo ***"


def test_calls_without_global_arguments_share_the_inherited_ones() -> None:
    from oxinfra.api.arguments import split_global_args

    defaults = {"_sudo": True, "_sudo_password": "p w"}
    first, _ = split_global_args({"path": "/a"}, defaults, "here")
    second, _ = split_global_args({"path": "/b"}, defaults, "here")
    assert first is second and first.sudo and first.sudo_password == "p w"
    assert type(first.sudo_password) is Secret
    own, kwargs = split_global_args({"path": "/c", "_sudo_user": "bob"}, defaults, "here")
    assert own is not first and own.sudo_user == "bob" and own.sudo_password == "p w" and kwargs == {"path": "/c"}
    assert split_global_args({"path": "/d"}, dict(defaults), "here")[0] is not first  # another dict


INVENTORY = """
    from oxinfra.api import Secret

    web = (["@local"], {
        "db": {"host": "db1", "password": "Nested-DB-pass-1"},
        "db.password": "Dotted-pass-2",
        "api_key": "Api-Key-value-3",
        "auth": {"user": "admin", "token": "Auth-token-4"},
        "vault_pw": "Vault-pw-5",
        "wrapped": Secret("Wrapped-secret-6"),
        "servers": [{"name": "s1", "credentials": ["Cred-in-list-7"]}],
        "color": "blue",
    })
"""
SECRETS = [
    "Nested-DB-pass-1",
    "Dotted-pass-2",
    "Api-Key-value-3",
    "Auth-token-4",
    "Vault-pw-5",
    "Wrapped-secret-6",
    "Cred-in-list-7",
]


@pytest.mark.parametrize("as_json", [False, True])
def test_debug_inventory_masks_at_any_depth(tmp_path: Path, as_json: bool) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(textwrap.dedent(INVENTORY))
    out = invoke(inventory, "debug-inventory", *(["--json"] if as_json else []), json_events=False)
    assert out.code == 0, out.describe()
    for value in SECRETS:
        assert value not in out.stdout + out.stderr, value
    assert "blue" in out.stdout and "db1" in out.stdout and "admin" not in out.stdout
    if as_json:
        data = json.loads(out.stdout)["hosts"]["@local"]["data"]
        assert data["db"] == {"host": "db1", "password": MASK}
        assert data["auth"] == data["api_key"] == data["vault_pw"] == data["wrapped"] == data["db.password"] == MASK
        assert data["servers"] == [{"name": "s1", "credentials": MASK}]
    else:
        assert "wrapped='***'" in out.stdout and "'password': '***'" in out.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "conflict.py",
            "a = [('@local', {'db_password': 'Conflict-one-1'})]\nb = [('@local', {'db_password': 'Conflict-two-2'})]\n",
        ),
        (
            "nested.py",
            "a = [('@local', {'db': {'password': 'Conflict-one-1'}})]\nb = [('@local', {'db': {'password': 'Conflict-two-2'}})]\n",
        ),
        ("quote.ini", "[web]\nh1 ansible_password='Conflict-one-1 Conflict-two-2\n"),
        ("vars.ini", "[web]\nh1\n[web:vars]\nvault_pw Conflict-one-1 Conflict-two-2\n"),
        ("token.ini", "[web]\nh1 ssh_port=22 api_token:Conflict-one-1Conflict-two-2\n"),
    ],
)
def test_inventory_errors_do_not_show_secret_values(tmp_path: Path, name: str, text: str) -> None:
    inventory = tmp_path / name
    inventory.write_text(text)
    out = invoke(inventory, "debug-inventory", json_events=False)
    assert out.code == 2 and "error" in out.stderr, out.describe()
    assert "Conflict-one-1" not in out.stderr and "Conflict-two-2" not in out.stderr, out.stderr


def test_a_registered_redactor_masks_secrets_found_after_it_was_made() -> None:
    from oxinfra._secrets import Redactor, Secret, register_secrets

    following, plain = Redactor(["inventory-secret"], registered=True), Redactor(["inventory-secret"])
    assert following.text("late-arg-secret-9f1 and inventory-secret") == "late-arg-secret-9f1 and ***"
    register_secrets([("x",), {"headers": {"Authorization": Secret("late-arg-secret-9f1")}}])
    assert following.text("late-arg-secret-9f1 and inventory-secret") == "*** and ***"
    assert following.deep({"cmd": ["echo late-arg-secret-9f1"]}) == {"cmd": ["echo ***"]}
    assert plain.text("late-arg-secret-9f1") == "late-arg-secret-9f1"
