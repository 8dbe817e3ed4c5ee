"""Paths no system call takes whole (issue 8): ``PATH_MAX`` (4096) bytes or more, or a name
over ``NAME_MAX`` (255) bytes. Every file operation refuses them before reading any fact, with
an OperationValueError naming the limit, instead of failing on the host at some step (or, for
``mkdir -p``, building a path later tools cannot name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, write_deploy
from oxinfra.exceptions import OperationValueError
from oxinfra.operations.util.files import check_path
from oxinfra.testing.plan import plan_operation
from test_audit_error_paths import OPERATIONS, _recipe

LONG_NAME = "/srv/" + "n" * 256
LONG_PATH = "/srv" + ("/" + "d" * 250) * 17 + "/f"  # 4275 bytes, every name under NAME_MAX
NON_ASCII_NAME = "/srv/" + "é" * 128  # 256 bytes in UTF-8, 128 characters


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize(
    ("path", "limit"),
    [(LONG_NAME, "NAME_MAX"), (LONG_PATH, "PATH_MAX"), (NON_ASCII_NAME, "NAME_MAX")],
    ids=["long-name", "long-path", "long-utf8-name"],
)
def test_every_file_operation_refuses_before_reading_facts(op: str, path: str, limit: str) -> None:
    from oxinfra.operations import files

    args, key = _recipe(op)
    args[key] = path
    with pytest.raises(OperationValueError, match=limit):
        plan_operation(getattr(files, op), args, facts=[])  # no fact given: none may be read


def test_link_target_over_path_max_is_refused() -> None:
    from oxinfra.operations import files

    with pytest.raises(OperationValueError, match="PATH_MAX"):
        plan_operation(files.link, {"path": "/srv/l", "target": "/" + "t/" * 2048}, facts=[])


@pytest.mark.parametrize(
    "path", ["/srv/" + "n" * 255, "/" + ("d" * 254 + "/") * 15 + "x" * 254, "/srv/" + "é" * 127], ids=str.__len__
)
def test_paths_at_the_limits_are_allowed(path: Any) -> None:
    assert len(path.encode()) < 4096
    check_path(path)


def test_a_deploy_with_a_too_long_name_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("keep\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.file(name="before", path="@ROOT@/before")
        files.line(name="long", path="@ROOT@/{"n" * 256}", line="x")
    """,
        tmp_path,
    )
    out = run_cli("-y", "@local", deploy, timeout=30)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    assert "256-byte name" in out.stderr and "NAME_MAX" in out.stderr, out.describe()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf", "deploy.py"]
