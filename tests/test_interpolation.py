"""``interpolate_variables=True`` lets the host's shell read variables and do nothing else
(issue 8): ``${X?e}`` would end the host's persistent shell, ``${X=1}`` assign, an
unterminated ``${X`` leave it waiting, ``$(...)`` run a command. Against a real shell
(``@local``): such a value is refused before anything runs, with the file kept; ``$(...)``,
backticks and other ``$`` are written literally, ``$NAME`` expanded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e_helpers import assert_no_traceback, run_cli, run_deploy, write_deploy


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (
            'files.line(name="l", path="@ROOT@/conf", line="A=${OXINFRA_UNSET?gone}", interpolate_variables=True)',
            "line",
        ),
        (
            'files.line(name="l", path="@ROOT@/conf", line="^A=", replace="A=${B=1}", interpolate_variables=True)',
            "replace",
        ),
        ('files.line(name="l", path="@ROOT@/conf", line="A=${HOME", interpolate_variables=True)', "line"),
        (
            'files.replace(name="r", path="@ROOT@/conf", text="A=1", replace="${HOME:-$(touch @ROOT@/pwned)}", '
            "interpolate_variables=True)",
            "replace",
        ),
        (
            'files.replace(name="r", path="@ROOT@/conf", text="${#HOME}", replace="x", interpolate_variables=True)',
            "text",
        ),
    ],
    ids=["exit-form", "assign-form", "unterminated", "default-with-command", "length-form"],
)
def test_expansion_forms_other_than_a_variable_are_refused(tmp_path: Path, call: str, argument: str) -> None:
    conf = tmp_path / "conf"
    conf.write_text("A=1\nkeep\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.file(name="before", path="@ROOT@/before")
        {call}
    """,
        tmp_path,
    )
    out = run_cli("-y", "@local", deploy, timeout=30)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    message = out.stderr.strip()
    assert f"{argument}=" in message and "only $NAME and ${NAME}" in message, message
    assert conf.read_text() == "A=1\nkeep\n"
    assert not (tmp_path / "before").exists() and not (tmp_path / "pwned").exists()


def test_variables_expand_and_nothing_else_runs(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("keep\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="l", path="@ROOT@/conf", line="H=$HOME ${HOME} $(touch @ROOT@/pwned) `id` $1 5$ x",
                   interpolate_variables=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        tmp_path,
    )
    for expected in ("changed", "unchanged"):
        out = run_deploy("@local", deploy)
        assert out.statuses("@local") == {"l": expected, "after": expected}, out.describe()
    home = os.environ["HOME"]
    assert conf.read_text() == f"keep\nH={home} {home} $(touch {tmp_path}/pwned) `id` $1 5$ x\n"
    assert not (tmp_path / "pwned").exists()
