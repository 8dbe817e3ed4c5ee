"""Plan an operation against given fact values, with no host: for operation tests.

    from oxinfra.testing.plan import plan_operation
    from oxinfra.operations import files

    commands, noops = plan_operation(files.directory, {"path": "/srv/app"},
                                     facts=[("files.Directory", {"path": "/srv/app"}, None)])
    assert commands == ["mkdir -p -- /srv/app"]

The fact values are what the fact would have parsed to; a fact the operation reads that
is not given is an error naming it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from oxinfra.api.context import scope
from oxinfra.api.effects import PlanContext
from oxinfra.api.facts import FactMissing, FactRequest
from oxinfra.inventory.host import Host

__all__ = ["plan_operation", "MissingFact"]


class MissingFact(LookupError):
    """The operation read a fact the test did not provide."""


def _key(name: str, args: dict[str, Any]) -> tuple[str, str]:
    return name, repr(sorted(args.items()))


def plan_operation(
    op: Callable[..., Any],
    args: dict[str, Any],
    facts: Iterable[tuple[str, dict[str, Any], Any]] = (),
    host_name: str = "testhost",
    host_data: dict[str, Any] | None = None,
    local_dir: str | None = None,
) -> tuple[list[Any], list[str]]:
    """Run ``op``'s generator with ``args`` and the given facts; return (commands, noop reasons)."""
    generator = getattr(op, "__wrapped__", op)
    known = {_key(name, dict(fact_args)): value for name, fact_args, value in facts}
    target = Host(host_name, host_data or {})

    def lookup(host: Any, request: FactRequest) -> Any:
        key = _key(request.cls.name, request.kwargs)
        if key not in known:
            raise MissingFact(f"fact {request.cls.name}({request.kwargs}) was read but not given")
        return known[key]

    ctx = PlanContext()
    try:
        with scope(facts=lookup, privilege=(), plan=ctx, deploy_dir=local_dir, host=target):
            commands = list(generator(**args))
    except FactMissing as exc:  # pragma: no cover - lookup never raises it
        raise MissingFact(str(exc)) from None
    return commands, ctx.noops
