"""pyinfra 3's ``pyinfra.context`` names: ``from oxinfra.context import host`` (the host whose
deploy is evaluated or whose operation is planned), ``state``, ``inventory`` and ``config``
(see :mod:`oxinfra.api.runtime`, :mod:`oxinfra.api.config`)."""

from oxinfra.api.config import config
from oxinfra.api.context import host
from oxinfra.api.runtime import inventory, state

__all__ = ["host", "state", "inventory", "config"]
