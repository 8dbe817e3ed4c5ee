"""api/context.py: every context value is set through scope() and comes back when it ends."""

from __future__ import annotations

import pytest

from oxinfra import host
from oxinfra.api.context import current_deploy_dir, current_host, current_plan, scope
from oxinfra.exceptions import DeployError
from oxinfra.inventory import Host


def test_scope_sets_and_restores_nested_values() -> None:
    outer, inner = Host("outer"), Host("inner")
    assert not host and current_deploy_dir() is None
    with scope(host=outer, deploy_dir="/a"):
        assert host.name == "outer" and current_deploy_dir() == "/a"
        with scope(host=inner):
            assert host.name == "inner" and current_deploy_dir() == "/a"
        assert host.name == "outer"
    assert not host and current_deploy_dir() is None


def test_scope_restores_on_errors() -> None:
    with pytest.raises(ZeroDivisionError):
        with scope(host=Host("h"), plan=object()):
            1 / 0
    assert not host and current_plan() is None
    with pytest.raises(DeployError, match="only available while a deploy runs"):
        current_host()


def test_scope_names_unknown_values() -> None:
    with pytest.raises(TypeError, match=r"unknown context value 'hots' \(known: host, deploy_dir"):
        with scope(hots=Host("h")):
            pass
    assert not host


def test_current_host_is_the_host_and_counts_as_a_read() -> None:
    target = Host("web1")
    reads = [False, False]
    with scope(host=target, reads=reads):
        assert current_host() is target
    assert reads == [True, True]
