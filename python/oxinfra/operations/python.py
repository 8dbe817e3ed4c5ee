"""Run Python code on the controller, in the order of the deploy."""

from __future__ import annotations

from typing import Any, Callable

from oxinfra.api import FunctionCommand, OperationGenerator, operation
from oxinfra.exceptions import OperationValueError

__all__ = ["call", "raise_exception"]


@operation(is_idempotent=False)
def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> OperationGenerator:
    """Call a Python function on the controller when the host's deploy reaches this point:
    the operations before it have run on the host, the ones after it wait for it.

    + function: the function to call
    + args, kwargs: what to call it with

    While it runs, ``host`` is the host and ``host.get_fact(...)`` reads the host as it is
    then (a round trip for the facts that are not fresh); what it returns is the
    operation's ``return_value``, which later operations read in ``_if=`` (they are planned
    after it ran) or in later callbacks. It counts as a change; an exception it raises
    fails the operation on that host. ``--dry`` does not call it.

    Example::

        def count_users():
            return len(host.get_fact(Command, command="getent passwd").splitlines())  # facts.server.Command

        users = python.call(name="Count users", function=count_users)
        server.shell(name="Many users", commands=["logger many users"], _if=lambda: users.return_value > 100)
    """
    if not callable(function):
        raise OperationValueError(f"python.call: function= must be callable, not {function!r}")
    yield FunctionCommand(function, args, kwargs)


@operation(is_idempotent=False)
def raise_exception(exception: type[BaseException], *args: Any, **kwargs: Any) -> OperationGenerator:
    """Raise an exception on the controller when the host's deploy reaches this point: the
    operation fails on that host with it (the operations after it do not run there, unless
    ``_ignore_errors``).

    + exception: the exception class
    + args, kwargs: what to make it with

    Example::

        python.raise_exception(NotImplementedError, "no support for this distribution yet", name="Unsupported")
    """
    if not (isinstance(exception, type) and issubclass(exception, Exception)):
        raise OperationValueError(f"python.raise_exception: exception= must be an Exception class, not {exception!r}")

    def raise_it(*args: Any, **kwargs: Any) -> None:
        raise exception(*args, **kwargs)

    yield FunctionCommand(raise_it, args, kwargs)
