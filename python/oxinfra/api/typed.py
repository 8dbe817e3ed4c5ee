"""Types for code that embeds or calls oxinfra: the global arguments as a ``TypedDict``, and
the type of an operation (:class:`Operation`).

``@operation`` keeps the generator's parameters (a ``ParamSpec``): ``files.put(src=...,
dset=...)`` is a mypy error, as is a wrong type. PEP 612 cannot add keyword arguments to a
``ParamSpec``, so the global arguments (``_sudo=True``...) and ``name=`` that every
operation accepts (:class:`OperationArguments`) are added to each call's signature by
oxinfra's mypy plugin::

    # pyproject.toml
    [tool.mypy]
    plugins = ["oxinfra.mypy_plugin"]

Without the plugin, pass global arguments for a block with ``host.arguments(_sudo=True)``
(or ``deploy``'s ``_sudo=``), which type-checks without it.

An operation's generator function is annotated ``-> OperationGenerator``
(:data:`oxinfra.api.OperationGenerator`): what it yields is then checked too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Generic, Mapping, ParamSpec, Protocol, Sequence, TypedDict

if TYPE_CHECKING:
    from oxinfra.api.commands import OperationMeta

__all__ = ["GlobalArguments", "OperationArguments", "Operation", "P"]

P = ParamSpec("P")


class GlobalArguments(TypedDict, total=False):
    """Every operation's global arguments (pyinfra 3.10's names), as ``run(global_args=...)``
    takes them (defaults under every operation's own). See :mod:`oxinfra.api.arguments` for
    what each does and which values are refused."""

    _sudo: bool
    _sudo_user: str | None
    _su_user: str | None
    _sudo_password: str | None
    _use_sudo_login: bool
    _preserve_sudo_env: bool
    _sensitive: bool
    _env: Mapping[str, str] | None
    _chdir: str | None
    _ignore_errors: bool
    _if: Callable[[], bool] | Sequence[Callable[[], bool]] | None
    _timeout: float | None
    _retries: int
    _retry_delay: float
    _retry_until: Callable[[dict[str, Any]], bool] | None
    _use_su_login: bool
    _preserve_su_env: bool
    _su_shell: str | bool | None
    _success_exit_codes: Sequence[int] | None
    _shell_executable: str
    _stdin: str | Sequence[str] | None
    _temp_dir: str | None
    _continue_on_error: bool
    _run_once: bool
    _serial: bool
    _parallel: int
    _get_pty: bool
    _su_password: str | None
    _doas: bool
    _doas_user: str | None
    _dzdo: bool
    _dzdo_user: str | None


class OperationArguments(GlobalArguments, total=False):
    """What every operation call accepts besides its own parameters: the global arguments
    and ``name`` (what the run shows for the operation instead of ``module.op``). The mypy
    plugin adds these to each operation's call."""

    name: str | None


class Operation(Protocol, Generic[P]):
    """What ``@operation`` turns a generator function into: called with the generator's own
    parameters (plus the global arguments, see the module docs), it records the call and
    returns its :class:`~oxinfra.api.OperationMeta`. ``_inner`` is the raw generator, for
    composing it into another operation (``yield from files.put._inner(...)``)."""

    is_idempotent: bool
    fact_batches: int
    fact_batches_reason: str

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> OperationMeta: ...

    @property
    def _inner(self) -> Callable[P, Any]: ...
