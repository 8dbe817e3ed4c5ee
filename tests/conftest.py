"""Shared pytest fixtures.

* ``sshd_fleet`` (session): a real OpenSSH sshd on loopback serving 3 hosts
  (127.0.0.1..127.0.0.3), see :class:`oxinfra.testing.sshd.LoopbackFleet`.
* ``sshd_fleet_factory`` (per test): ``make(n_hosts, **kwargs) -> LoopbackFleet``; every fleet
  it starts is stopped when the test ends.
* ``container_fleet`` (session): 4 Debian containers on a private Docker network, reached over
  SSH, see :class:`oxinfra.testing.containers.ContainerFleet` (the image is built first if
  this recipe's is missing, about a minute).
* ``container_fleet_factory`` (per test): ``make(n_hosts, **kwargs) -> ContainerFleet``
  (``cap_add=("SYS_ADMIN",)``: see the class); every fleet it starts is removed when the test
  ends.
* ``workload_dir`` (per test): a private copy of ``benches/workloads/standard-10``.
* every CLI run records its failed hosts in a session temporary file (``OXINFRA_STATE_FILE``),
  not in the source tree.

When sshd (or Docker) cannot run here the fleet fixtures skip with the reason -- except under CI
(``CI`` set to true), where that is a failure, so a broken CI machine cannot pass silently.
Tests that use containers carry the ``containers`` mark (``-m "not containers"`` leaves them out).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import WORKLOAD_SRC, serve_directory, stopped_after, stopped_after_all, unavailable


def _start_fleet(n_hosts: int, **kwargs: Any) -> Any:
    from oxinfra.testing.sshd import LoopbackFleet, SshdUnavailable

    fleet = LoopbackFleet(n_hosts, **kwargs)
    try:
        return fleet.start()
    except SshdUnavailable as exc:
        unavailable("real sshd", exc)


@pytest.fixture(scope="session", autouse=True)
def _state_file_out_of_the_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs record their failed hosts (``--state-file``); tests that do not test that keep
    the record out of the source tree (tests of it pass their own)."""
    os.environ["OXINFRA_STATE_FILE"] = str(tmp_path_factory.mktemp("state") / "last-run.json")
    try:
        yield
    finally:
        os.environ.pop("OXINFRA_STATE_FILE", None)


@pytest.fixture(scope="session")
def sshd_fleet() -> Iterator[Any]:
    yield from stopped_after(_start_fleet(3))


@pytest.fixture
def sshd_fleet_factory() -> Iterator[Callable[..., Any]]:
    yield from stopped_after_all(_start_fleet)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "containers: needs Docker (the container test fleet)")


#: Why Docker or the test image is unavailable, once found out: later tests skip at once.
_containers_unavailable: list[str] = []
_container_image: list[str] = []


def _start_container_fleet(n_hosts: int, **kwargs: Any) -> Any:
    from oxinfra.testing.containers import ContainerFleet, ContainersUnavailable, ensure_image, reap_stale

    if not _container_image and not _containers_unavailable:
        try:
            _container_image.append(ensure_image())
            reap_stale()
        except ContainersUnavailable as exc:
            _containers_unavailable.append(str(exc))
    if _containers_unavailable:
        reason = _containers_unavailable[0]
    else:
        try:
            return ContainerFleet(n_hosts, image=_container_image[0], **kwargs).start()
        except ContainersUnavailable as exc:
            reason = str(exc)
    unavailable("containers", reason)


@pytest.fixture(scope="session")
def container_fleet() -> Iterator[Any]:
    yield from stopped_after(_start_container_fleet(4))


@pytest.fixture
def container_fleet_factory() -> Iterator[Callable[..., Any]]:
    yield from stopped_after_all(_start_container_fleet)


@pytest.fixture
def workload_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "standard-10"
    shutil.copytree(WORKLOAD_SRC, dest)
    return dest


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback serving a directory: (base URL, the directory)."""
    served = tmp_path / "served"
    served.mkdir()
    with serve_directory("127.0.0.1", served) as base:
        yield base, served


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory like /tmp (mode 1777) that the unprivileged user ``nobody`` can reach."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="oxinfra-shared-", dir="/tmp"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path)
