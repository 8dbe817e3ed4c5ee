"""Helpers shared by operation modules, one module per family (``files``: modes, ownership,
local paths, sed scripts). Like the operations, they import only the author API
(``oxinfra.api``), ``oxinfra.quoting`` and ``oxinfra.exceptions``."""
