"""The ``@operation`` decorator: it checks each call and hands it to the recorder in context.

An operation is a generator function. It reads facts with ``host.get_fact`` (or several at
once with :func:`get_facts`), then yields what must run: shell command strings built with
:func:`oxinfra.quoting.quote`, :class:`FileUpload` values, or :class:`FunctionCommand`
callbacks. When nothing needs doing it yields nothing and says why with ``host.noop``::

    from oxinfra import host
    from oxinfra.api import operation
    from oxinfra.facts.files import File
    from oxinfra.quoting import command

    @operation()
    def touched(path: str):
        '''Make sure ``path`` exists as a file.'''
        if host.get_fact(File, path=path):
            host.noop(f"{path} exists")
            return
        yield command("touch", "--", path)

Calling an operation inside a deploy checks the call (its arguments bind to the generator's
signature, its global arguments are valid) and records it for the current host through the
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
from typing import Any, Callable

from oxinfra.api.arguments import split_global_args
from oxinfra.api.commands import OperationMeta
from oxinfra.api.context import current_recorder
from oxinfra.api.facts import FactMissing, FactRequest, resolve_fact
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


def operation(func: Callable[..., Any] | None = None, *, is_idempotent: bool = True,
              shell_safe: bool = False, fact_batches: int = 1, fact_batches_reason: str = "") -> Any:
    """Turn a generator function into an operation (``@operation()`` or ``@operation``).

    ``shell_safe=True`` promises that the operation's commands never ``exit``, ``cd`` or set
    shell variables, so they may run in the host's shell without a subshell of their own.

    ``fact_batches``: how many batches of facts the operation reads at most (see the module
    docs); more than 1 needs ``fact_batches_reason``, one line saying why.
    """
    if isinstance(fact_batches, bool) or not isinstance(fact_batches, int) or fact_batches < 1:
        raise TypeError(f"@operation(fact_batches=...) must be a whole number of 1 or more, not {fact_batches!r}")
    if fact_batches > 1 and not (isinstance(fact_batches_reason, str) and fact_batches_reason.strip()):
        raise TypeError(f"@operation(fact_batches={fact_batches}) needs fact_batches_reason=: say why the "
                        "operation cannot read all its facts in one batch")
    if fact_batches == 1 and fact_batches_reason:
        raise TypeError("@operation(fact_batches_reason=...) is only for fact_batches of 2 or more")

    def decorate(gen_func: Callable[..., Any]) -> Callable[..., OperationMeta]:
        gen_func._oxinfra_shell_safe = shell_safe  # type: ignore[attr-defined]
        if not inspect.isgeneratorfunction(gen_func):
            raise TypeError(f"@operation needs a generator function (one that yields): {gen_func.__qualname__}")
        signature = inspect.signature(gen_func)
        valid_shapes: set[tuple[Any, ...]] = set()
        module = gen_func.__module__.rsplit(".", 1)[-1]
        op_name = f"{module}.{gen_func.__name__}"

        @functools.wraps(gen_func)
        def wrapper(*args: Any, **kwargs: Any) -> OperationMeta:
            recorder = current_recorder()
            if recorder is None:
                raise OperationError(
                    f"{op_name}() was called outside a deploy: run the file with the oxinfra CLI "
                    "or oxinfra.api.run()"
                )
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
            return recorder.record(gen_func, op_name, name, key, label, args, own, global_args)

        wrapper._oxinfra_operation = True  # type: ignore[attr-defined]
        wrapper.is_idempotent = is_idempotent  # type: ignore[attr-defined]
        wrapper.fact_batches = fact_batches  # type: ignore[attr-defined]
        wrapper.fact_batches_reason = fact_batches_reason  # type: ignore[attr-defined]
        return wrapper

    if func is not None:
        return decorate(func)
    return decorate
