"""pip.packages, pip.venv and pip.virtualenv for real, on ``@local`` (the container test image
has no Python): a virtualenv made with ``python3 -m venv`` in a temporary directory, and two
versions of a tiny package built here as wheels, installed with ``--no-index --find-links``
(no network).

The cycle: apply -> the installed version read back with the virtualenv's own Python ->
apply again: nothing changes -> drift (the package uninstalled by hand) -> ``--dry`` predicts
exactly the change -> apply repairs it. Then ``latest`` upgrades, ``present=False`` removes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy

pytestmark = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import ensurepip, venv"], capture_output=True).returncode != 0
    or shutil.which("python3") is None,
    reason="python3 with venv and ensurepip is needed",
)


def _wheel(directory: Path, version: str) -> Path:
    """A pure-Python wheel of ``oxtiny`` at ``version``, written by hand (a zip with the
    package and its dist-info; pip does not need hashes in RECORD)."""
    path = directory / f"oxtiny-{version}-py3-none-any.whl"
    info = f"oxtiny-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("oxtiny/__init__.py", f"VERSION = {version!r}\n")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: OxTiny\nVersion: {version}\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: oxinfra-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", f"oxtiny/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return path


def _installed(venv: Path) -> str | None:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('oxtiny'))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() if out.returncode == 0 else None


def test_packages_in_a_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "0.1")
    venv = tmp_path / "my env"  # a space: the venv's pip runs by its quoted path
    extra = f"--no-index --find-links '{wheels}' --disable-pip-version-check -q"

    def deploy(name: str, **kwargs: object) -> Path:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return write_deploy(
            tmp_path,
            f"""
            from oxinfra.operations import pip
            pip.packages(name="tiny", virtualenv={str(venv)!r}, virtualenv_kwargs={{"venv": True}},
                         extra_install_args={extra!r}, {args})
            """,
            name=name,
        )

    pinned = deploy("pinned.py", packages=["oxtiny==0.1"])
    one = run_deploy("@local", pinned)
    assert one.code == 0 and one.statuses("@local") == {"tiny": "changed"}, one.describe()
    assert (venv / "bin" / "activate").is_file()
    assert _installed(venv) == "0.1"
    two = run_deploy("@local", pinned)
    assert two.code == 0 and two.statuses("@local") == {"tiny": "unchanged"}, two.describe()

    subprocess.run([str(venv / "bin" / "pip"), "uninstall", "-q", "-y", "oxtiny"], check=True)  # drift
    dry = run_deploy("@local", pinned, dry=True)
    assert dry.code == 0 and dry.statuses("@local") == {"tiny": "changed"}, dry.describe()
    assert _installed(venv) is None
    three = run_deploy("@local", pinned)
    assert three.code == 0 and three.statuses("@local") == {"tiny": "changed"}, three.describe()
    assert _installed(venv) == "0.1"

    # a newer wheel appears: a name without a version is installed already; latest upgrades
    _wheel(wheels, "0.2")
    plain = deploy("plain.py", packages=["OxTiny"])
    assert run_deploy("@local", plain).statuses("@local") == {"tiny": "unchanged"}
    latest = deploy("latest.py", packages=["oxtiny"], latest=True)
    out = run_deploy("@local", latest)
    assert out.code == 0 and out.statuses("@local") == {"tiny": "changed"}, out.describe()
    assert _installed(venv) == "0.2"

    gone = deploy("gone.py", packages=["oxtiny"], present=False)
    out = run_deploy("@local", gone)
    assert out.code == 0 and out.statuses("@local") == {"tiny": "changed"}, out.describe()
    assert _installed(venv) is None
    assert run_deploy("@local", gone).statuses("@local") == {"tiny": "unchanged"}


def test_venv_created_and_removed(tmp_path: Path) -> None:
    venv = tmp_path / "env"
    make = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import pip
        pip.venv(name="env", path={str(venv)!r}, python="python3")
        """,
        name="make.py",
    )
    out = run_deploy("@local", make)
    assert out.code == 0 and out.statuses("@local") == {"env": "changed"}, out.describe()
    assert (venv / "bin" / "activate").is_file() and (venv / "bin" / "pip").exists()
    assert run_deploy("@local", make).statuses("@local") == {"env": "unchanged"}
    (venv / "bin" / "activate").unlink()  # drift: not a virtualenv any more
    dry = run_deploy("@local", make, dry=True)
    assert dry.statuses("@local") == {"env": "changed"}, dry.describe()
    out = run_deploy("@local", make)
    assert out.code == 0 and (venv / "bin" / "activate").is_file(), out.describe()

    remove = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import pip
        pip.virtualenv(name="env", path={str(venv)!r}, present=False)
        """,
        name="remove.py",
    )
    out = run_deploy("@local", remove)
    assert out.code == 0 and out.statuses("@local") == {"env": "changed"}, out.describe()
    assert not venv.exists()
    assert run_deploy("@local", remove).statuses("@local") == {"env": "unchanged"}
