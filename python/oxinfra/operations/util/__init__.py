"""Helpers shared by operation modules, one module per family: ``files`` (modes, ownership,
local paths, sed scripts), ``packaging`` (one ``ensure_packages`` for apt-get, dnf, yum,
apk, pacman and pip-style tools), ``service`` (one ``ensure_service`` for systemd, sysvinit
and OpenRC). Like the operations, they import only the author API (``oxinfra.api``),
``oxinfra.quoting`` and ``oxinfra.exceptions``; docs/writing-operations.md says how to use
them."""
