"""``--data`` reaches templates exactly as host data does -- as ``host.data.NAME`` (a template
sees ``host`` and files.template's keyword arguments, as in pyinfra; no data key is a bare name)
-- and the error for an undefined name says that, and what to write instead. A template also
sees ``inventory`` and ``state``, as in pyinfra."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import assert_no_traceback, invoke, run_cli


def _project(tmp_path: Path, template: str) -> tuple[Path, Path, Path]:
    (tmp_path / "app.j2").write_text(template)
    dest = tmp_path / "app.conf"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(f"from oxinfra.operations import files\nfiles.template(src='app.j2', dest={str(dest)!r})\n")
    inventory = tmp_path / "inventory.py"
    inventory.write_text("hosts = [('@local', {'app_name': 'from-host-data'})]\n")
    return deploy, dest, inventory


def test_data_and_host_data_reach_templates_the_same_way(tmp_path: Path) -> None:
    deploy, dest, inventory = _project(tmp_path, "name={{ host.data.app_name }}\n")
    out = invoke("-y", "--no-host-lock", inventory, deploy)
    assert out.code == 0, out.describe()
    assert dest.read_text() == "name=from-host-data\n"
    out = invoke("-y", "--no-host-lock", inventory, deploy, "--data", "app_name=demo")
    assert out.code == 0, out.describe()
    assert dest.read_text() == "name=demo\n"  # --data wins over host data, as everywhere
    out = invoke("-y", "--no-host-lock", "@local", deploy, "--data", "app_name=only-data")
    assert out.code == 0, out.describe()
    assert dest.read_text() == "name=only-data\n"


def test_an_undefined_name_that_is_host_data_says_to_write_host_data_name(tmp_path: Path) -> None:
    deploy, dest, _ = _project(tmp_path, "name={{ app_name }}\n")
    out = run_cli("-y", "--no-host-lock", "@local", deploy, "--data", "app_name=demo", cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.describe()
    assert "app.j2:1: 'app_name' is undefined" in lines[0]
    # true after the fix: the name IS the host's data, reachable as host.data.app_name
    assert "write {{ host.data.app_name }}" in lines[0] and "set it in host data" not in lines[0], lines[0]
    assert not dest.exists()


def test_an_undefined_name_elsewhere_says_both_ways(tmp_path: Path) -> None:
    deploy, dest, _ = _project(tmp_path, "name={{ app_name }}\n")
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()
    line = out.stderr.strip()
    assert "'app_name' is undefined" in line and "files.template(..., app_name=...)" in line, line
    assert "{{ host.data.app_name }} with host data or --data app_name=VALUE" in line, line


def test_missing_host_data_in_a_template_names_the_key(tmp_path: Path) -> None:
    deploy, dest, _ = _project(tmp_path, "name={{ host.data.app_nmae }}\n")
    out = run_cli("-y", "--no-host-lock", "@local", deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()
    line = out.stderr.strip()
    assert "app.j2:1: host.data has no app_nmae" in line and "--data app_nmae=VALUE" in line, line
    assert "HostData object" not in line


def test_templates_see_the_inventory_and_state_as_in_pyinfra(tmp_path: Path) -> None:
    """pyinfra 3.10 renders this template on the same inventory (group ``web`` = ``@local``)
    as ``web=@local state=True n=1``: a template sees ``inventory`` and ``state`` beside
    ``host``. An argument of files.template with one of those names wins."""
    deploy, dest, _ = _project(
        tmp_path,
        "web={{ inventory.get_group('web') | map(attribute='name') | join(',') }}"
        " state={{ state is defined }} n={{ inventory | length }}\n",
    )
    inventory = tmp_path / "inventory.py"
    inventory.write_text("web = ['@local']\n")
    out = invoke("-y", "--no-host-lock", inventory, deploy)
    assert out.code == 0, out.describe()
    assert dest.read_text() == "web=@local state=True n=1\n"
    (tmp_path / "app.j2").write_text("state={{ state }}\n")
    deploy.write_text(
        f"from oxinfra.operations import files\nfiles.template(src='app.j2', dest={str(dest)!r}, state='given')\n"
    )
    out = invoke("-y", "--no-host-lock", inventory, deploy)
    assert out.code == 0, out.describe()
    assert dest.read_text() == "state=given\n"


def test_a_template_reading_the_inventory_in_a_sharded_run_says_where(tmp_path: Path) -> None:
    """As for deploy code: the whole inventory is in no single worker of a sharded run."""
    deploy, dest, _ = _project(tmp_path, "web={{ inventory.get_group('web') | length }}\n")
    inventory = tmp_path / "inventory.py"
    inventory.write_text("web = ['@local', '@sim/other']\n")
    out = run_cli("-y", "--no-host-lock", "--shards", "2", inventory, deploy, cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    line = out.stderr.strip()
    assert "\n" not in line and "deploy.py:2: app.j2:1: `inventory` is not available in a sharded run" in line, line
    assert not dest.exists()
