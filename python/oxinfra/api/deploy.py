"""``@deploy``: operations grouped under a name.

A deploy file is plain Python run once per host with ``oxinfra.host`` set to that host;
every operation it calls is recorded for the host. ``@deploy("name")`` groups operations
under a name and passes global arguments given to the call down to them::

    from oxinfra.api import deploy
    from oxinfra.operations import files, server

    @deploy("Install app")
    def install_app(version="1.0"):
        files.directory(path="/opt/app")
        server.shell(commands=[f"echo {version} > /opt/app/VERSION"])

    install_app(_sudo=True)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from oxinfra.api.arguments import split_global_args
from oxinfra.api.context import current_data_defaults, current_recorder, scope
from oxinfra.exceptions import DeployError

__all__ = ["deploy"]


def deploy(name: str | None = None, data_defaults: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Group operations into a named deploy; global arguments of the call apply to them all.

    ``data_defaults`` is the lowest layer of host data while the deploy runs: ``host.data.x``
    inside it falls back to ``data_defaults["x"]`` when no inventory layer sets ``x``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        label = name or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = current_recorder()
            if recorder is None:
                raise DeployError(f"deploy {label!r} was called outside a running deploy")
            global_args, own = split_global_args(kwargs, {}, f"deploy {label!r}")
            recorder.push_args({k: v for k, v in kwargs.items() if k.startswith("_")})
            recorder.deploy_names.append(label)
            layers = (data_defaults, *current_data_defaults()) if data_defaults else current_data_defaults()
            try:
                with scope(data_defaults=layers):
                    return func(*args, **own)
            finally:
                recorder.deploy_names.pop()
                recorder.pop_args()

        return wrapper

    if callable(name):  # used bare: @deploy
        func, name = name, None
        return decorate(func)
    return decorate
