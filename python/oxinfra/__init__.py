"""oxinfra: agentless configuration management. Deploys are plain Python; a Rust core
makes them fast for very large fleets.

Inside a deploy file::

    from oxinfra import host
    from oxinfra.operations import files, server

    files.directory(path=f"/srv/{host.name}")
"""

from importlib.metadata import PackageNotFoundError, version

from oxinfra.api.context import host

try:
    __version__ = version("oxinfra")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    from oxinfra._core import __version__

__all__ = ["host", "__version__"]
