"""oxinfra: agentless configuration management. Deploys are plain Python; a Rust core
makes them fast for very large fleets.

Inside a deploy file::

    from oxinfra import host
    from oxinfra.operations import files, server

    files.directory(path=f"/srv/{host.name}")

pyinfra 3's other names for deploy code are here too, loaded on first use: ``config``
(:mod:`oxinfra.api.config`), ``inventory``, ``state``, ``logger``
(:mod:`oxinfra.api.runtime`) and ``local`` (:mod:`oxinfra.api.local`).
"""

from oxinfra.api.context import host

__all__ = ["host", "config", "inventory", "state", "logger", "local", "__version__"]

# name -> (module, attribute or None for the module itself), imported on first use (PEP 562).
# The version is the native core's (maturin builds the package with Cargo.toml's version):
# reading the installed metadata instead cost every run a few milliseconds of imports.
_LAZY = {
    "__version__": ("oxinfra._core", "__version__"),
    "config": ("oxinfra.api.config", "config"),
    "inventory": ("oxinfra.api.runtime", "inventory"),
    "state": ("oxinfra.api.runtime", "state"),
    "logger": ("oxinfra.api.runtime", "logger"),
    "local": ("oxinfra.api.local", None),
}


def __getattr__(name: str) -> object:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = importlib.import_module(found[0])
    value = module if found[1] is None else getattr(module, found[1])
    globals()[name] = value
    return value
