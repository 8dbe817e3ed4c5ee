"""The ``@operation`` decorator: it checks each call and hands it to the recorder in context.

An operation is a generator function. It reads facts with ``host.get_fact`` (or several at
once with :func:`get_facts`), then yields what must run: shell command strings built with
:func:`oxinfra.quoting.quote`, :class:`FileUpload` values, or :class:`FunctionCommand`
callbacks. When nothing needs doing it yields nothing and says why with ``host.noop``::

    from oxinfra import host
    from oxinfra.api import OperationGenerator, operation
    from oxinfra.facts.files import File
    from oxinfra.quoting import command

    @operation()
    def touched(path: str) -> OperationGenerator:
        '''Make sure ``path`` exists as a file.'''
        if host.get_fact(File, path=path):
            host.noop(f"{path} exists")
            return
        yield command("touch", "--", path)

Operations compose through their raw generator, ``_inner``: an operation that ends in
``yield from files.put._inner(src, dest)`` does what ``files.put`` would, as part of itself.
The composed generator reads the caller's facts and its ``touches``, ``noop`` reasons and
predicted contents are the caller's (:mod:`oxinfra.api.effects`); its facts are asked for
in the same batch as those of the other operations the caller composes; a composed part
that yields commands without declaring what they change makes the whole caller "may change
anything"; an operation declared ``shell_safe`` cannot compose one that is not.

Calling an operation inside a deploy checks the call (its arguments bind to the generator's
signature and fit its annotations, :mod:`oxinfra.api.argtypes`; its global arguments are
valid) and records it for the current host through the
recorder the engine puts in context; the engine runs the generator later, once the facts it
reads have been gathered (docs/architecture.md).

An operation reads its facts in one batch: every fact it needs is gathered in the host's
first round trip (read them together with :func:`get_facts`). One that must read a fact
before it knows which others it needs (a second batch: one more round trip per host, for
every host that reaches it) says so and why: ``@operation(fact_batches=2,
fact_batches_reason="which facts it reads depends on what the first one finds")``. The
engine does not rely on it; the operation fixture tests (tests/test_operation_fixtures.py)
fail an operation that reads facts in more batches than it declares.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, Generator, overload

if TYPE_CHECKING:
    from oxinfra.api.typed import Operation, P

from oxinfra._secrets import register_secrets
from oxinfra.api.argtypes import ArgumentCheck, compile_checks
from oxinfra.api.arguments import split_global_args
from oxinfra.api.commands import OperationMeta
from oxinfra.api.context import current_plan, current_recorder
from oxinfra.api.facts import FactMissing, FactRequest, qualified_name, resolve_fact
from oxinfra.exceptions import OperationError, OperationTypeError

__all__ = ["operation", "get_facts"]


def get_facts(host: Any, requests: list[tuple[type, dict[str, Any]]]) -> list[Any]:
    """Read several facts at once. Where some are not gathered yet, all missing ones are
    asked for together, so an operation's facts cost one batch, not one round each."""
    values: list[Any] = []
    missing: list[FactRequest] = []
    for cls, kwargs in requests:
        try:
            values.append(resolve_fact(host, cls, (), kwargs))
        except FactMissing as exc:
            missing.extend(exc.requests)
            values.append(None)
    if missing:
        raise FactMissing(*missing)
    return values


@overload
def operation(
    func: Callable[P, Generator[Any, Any, Any]],
    *,
    is_idempotent: bool = ...,
    shell_safe: bool = ...,
    quiet: bool = ...,
    fact_batches: int = ...,
    fact_batches_reason: str = ...,
) -> Operation[P]: ...


@overload
def operation(
    func: None = None,
    *,
    is_idempotent: bool = ...,
    shell_safe: bool = ...,
    quiet: bool = ...,
    fact_batches: int = ...,
    fact_batches_reason: str = ...,
) -> Callable[[Callable[P, Generator[Any, Any, Any]]], Operation[P]]: ...


def operation(
    func: Callable[..., Any] | None = None,
    *,
    is_idempotent: bool = True,
    shell_safe: bool = False,
    quiet: bool = False,
    fact_batches: int = 1,
    fact_batches_reason: str = "",
) -> Any:
    """Turn a generator function into an operation (``@operation()`` or ``@operation``).

    For mypy and IDEs the result is an :class:`oxinfra.api.typed.Operation` with the
    generator's own parameters: a wrong argument name or type is a type error (the global
    arguments, ``_sudo=``..., need ``oxinfra.mypy_plugin``: see :mod:`oxinfra.api.typed`).

    ``shell_safe=True`` promises that the operation's commands never ``exit``, ``cd`` or set
    shell variables, so they may run in the host's shell without a subshell of their own.

    ``quiet=True`` promises that the operation's commands print nothing when they succeed
    (``mkdir``, ``ln``, ``mv``, a ``printf`` into a file): whatever they print is a diagnostic.
    The engine then runs them with their stderr joined to their stdout, reports all of it as
    the operation's stderr, and marks the operation's end on one stream instead of two (one
    write and one SSH packet less per operation).

    ``fact_batches``: how many batches of facts the operation reads at most (see the module
    docs); more than 1 needs ``fact_batches_reason``, one line saying why.
    """
    if isinstance(fact_batches, bool) or not isinstance(fact_batches, int) or fact_batches < 1:
        raise TypeError(f"@operation(fact_batches=...) must be a whole number of 1 or more, not {fact_batches!r}")
    if fact_batches > 1 and not (isinstance(fact_batches_reason, str) and fact_batches_reason.strip()):
        raise TypeError(
            f"@operation(fact_batches={fact_batches}) needs fact_batches_reason=: say why the "
            "operation cannot read all its facts in one batch"
        )
    if fact_batches == 1 and fact_batches_reason:
        raise TypeError("@operation(fact_batches_reason=...) is only for fact_batches of 2 or more")

    def decorate(gen_func: Callable[..., Any]) -> Callable[..., OperationMeta]:
        # attributes set on functions (here and below): mypy cannot type them on a function
        # object; callers see them through the Operation protocol (oxinfra.api.typed)
        gen_func._oxinfra_shell_safe = shell_safe  # type: ignore[attr-defined]
        gen_func._oxinfra_quiet = quiet  # type: ignore[attr-defined]
        if not inspect.isgeneratorfunction(gen_func):
            raise TypeError(f"@operation needs a generator function (one that yields): {gen_func.__qualname__}")
        signature = inspect.signature(gen_func)
        valid_shapes: set[tuple[Any, ...]] = set()
        op_name = qualified_name(gen_func.__module__, gen_func.__name__)
        # compiled at the first call: annotations may name what the module defines later
        checks: list[ArgumentCheck] = []

        @functools.wraps(gen_func)
        def wrapper(*args: Any, **kwargs: Any) -> OperationMeta:
            recorder = current_recorder()
            if recorder is None:
                raise OperationError(
                    f"{op_name}() was called outside a deploy: run the file with the oxinfra CLI or oxinfra.api.run()"
                )
            # a Secret among the arguments (the global ones too; nested in lists and dicts)
            # is masked in everything the run shows, like the inventory's secrets
            register_secrets([args, kwargs, recorder.deploy_args[-1]])
            key, label = recorder.call_site()
            global_args, own = split_global_args(kwargs, recorder.deploy_args[-1], lambda: f"{label}: {op_name}()")
            name = own.pop("name", None)
            shape = (len(args), *own)
            if shape not in valid_shapes:  # arity and names only: the same shape binds the same way
                try:
                    signature.bind(*args, **own)
                except TypeError as exc:
                    raise OperationTypeError(f"{label}: {op_name}(): {exc}") from None
                valid_shapes.add(shape)
            if not checks:
                checks.append(compile_checks(gen_func))
            # the types, against the annotations: refused now, before any host is touched
            wrong = checks[0].errors(args, own, show_values=not global_args.sensitive)
            if wrong:
                raise OperationTypeError(f"{label}: {op_name}: {wrong[0]}")
            meta: OperationMeta = recorder.record(gen_func, op_name, name, key, label, args, own, global_args)
            return meta

        wrapper._inner = _composable(gen_func, op_name, shell_safe, quiet)  # type: ignore[attr-defined]
        wrapper._oxinfra_operation = True  # type: ignore[attr-defined]
        wrapper.is_idempotent = is_idempotent  # type: ignore[attr-defined]
        wrapper.fact_batches = fact_batches  # type: ignore[attr-defined]
        wrapper.fact_batches_reason = fact_batches_reason  # type: ignore[attr-defined]
        return wrapper

    if func is not None:
        return decorate(func)
    return decorate


def _composable(gen_func: Callable[..., Any], op_name: str, shell_safe: bool, quiet: bool) -> Callable[..., Any]:
    """The generator ``gen_func`` as another operation's generator runs it (``op._inner``).

    Outside planning it is ``gen_func`` itself. While an operation is planned: a fact it
    cannot read yet is noted for the caller's batch and the composed part yields nothing
    (the caller finishes, then :func:`oxinfra.api.effects.plan_commands` asks for every
    noted fact at once; drained any other way, the fact is asked for at once); it gets its
    own ``op_memo()``; whether it declared what its own commands change is checked apart
    from the caller's declarations.
    """

    @functools.wraps(gen_func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        ctx = current_plan()
        if ctx is None:
            return (yield from gen_func(*args, **kwargs))
        if ctx.shell_safe and not shell_safe:
            error = OperationError(
                f"an operation declared shell_safe=True composes {op_name}, which is not shell-safe: "
                "drop shell_safe from the composing operation"
            )
            ctx.inner_error = error
            raise error
        if ctx.quiet and not quiet:
            error = OperationError(
                f"an operation declared quiet=True composes {op_name}, which is not quiet (its "
                "commands may print when they succeed): drop quiet from the composing operation"
            )
            ctx.inner_error = error
            raise error
        index = ctx.compositions
        ctx.compositions += 1
        outer_memo, outer_declared, composed_before = ctx.memo, ctx.own_declared, ctx.composed
        ctx.memo = outer_memo.setdefault(f"_inner.{index}.{op_name}", {})
        ctx.own_declared = False
        count = 0
        try:
            for command in gen_func(*args, **kwargs):
                count += 1
                yield command
        except FactMissing as exc:
            if not ctx.collect_missing:
                raise
            ctx.missing.extend(exc.requests)
            count = 0
        except Exception as exc:
            ctx.inner_error = exc
            raise
        else:
            nested = ctx.composed - composed_before  # yielded by operations it composed in turn
            if count > nested and not ctx.own_declared:
                ctx.undeclared = True
        finally:
            ctx.memo, ctx.own_declared = outer_memo, outer_declared
        ctx.composed = composed_before + count
        return None

    return inner
