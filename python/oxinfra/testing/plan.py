"""Plan an operation against given fact values, with no host: for operation tests.

    from oxinfra.testing.plan import plan_operation
    from oxinfra.operations import files

    planned = plan_operation(files.directory, {"path": "/srv/app"},
                             facts=[("files.Directory", {"path": "/srv/app"}, None)])
    assert planned.commands == ["mkdir -p -- /srv/app"]
    assert planned.created_dirs == ["/srv/app"]

The fact values are what the fact would have parsed to; a fact the operation reads that
is not given is an error naming it.

Facts are handed over the way the engine gathers them: the generator first runs with no
facts at all (discovery); the facts it asked for when it stopped are the first batch. It
then runs again with those; each time it stops on a fact not gathered yet, the facts it
asked for make one more batch. ``fact_batches`` lists them, so a test can tell an operation
that costs the host one round trip for its facts from one that costs more.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from oxinfra.api.context import scope
from oxinfra.api.effects import PlanContext, plan_commands
from oxinfra.api.facts import FactMissing, FactRequest
from oxinfra.inventory.host import Host

__all__ = ["plan_operation", "PlannedOperation", "MissingFact", "discover_operations"]


class MissingFact(LookupError):
    """The operation read a fact the test did not provide."""


def _key(name: str, args: dict[str, Any]) -> tuple[str, str]:
    return name, repr(sorted(args.items()))


class PlannedOperation:
    """What planning an operation gave: its commands and what it declared about itself.

    - ``commands``: what the generator yielded; ``noops``: the reasons it gave for doing nothing;
    - ``touched``: the paths it declared its commands may change (``touches``), with the
      parents or ancestors it added; ``subtrees``: the roots it declared everything below of;
      ``declared``: whether it declared anything (an operation that declares nothing is taken
      to change anything);
    - ``created_dirs``: the directories it said its commands create (``ensure_directory``,
      ``mark_directory``), in order;
    - ``contents``: the file contents it predicted (``predict_content``), by path;
    - ``fact_batches``: the facts it read, batch by batch (see the module docs); empty for
      an operation that reads none.
    """

    __slots__ = ("commands", "noops", "touched", "subtrees", "declared", "created_dirs", "contents", "fact_batches")

    def __init__(self, commands: list[Any], ctx: PlanContext, fact_batches: list[list[FactRequest]]) -> None:
        self.commands = commands
        self.noops = list(ctx.noops)
        self.touched = frozenset(ctx.touched)
        self.subtrees = list(ctx.subtrees)
        self.declared = ctx.declared
        self.created_dirs = list(ctx.created_dirs)
        self.contents = dict(ctx.contents)
        self.fact_batches = fact_batches

    def __repr__(self) -> str:
        return f"PlannedOperation(commands={self.commands!r}, noops={self.noops!r})"


def fixture_value(value: Any) -> Any:
    """A fixture's fact value with each ``{"datetime": ISO 8601}`` made that datetime and each
    ``{"base64": text}`` those bytes (JSON has neither); other values as given."""
    from datetime import datetime

    if isinstance(value, dict):
        if list(value) == ["datetime"] and isinstance(value["datetime"], str):
            return datetime.fromisoformat(value["datetime"])
        if list(value) == ["base64"] and isinstance(value["base64"], str):
            import base64

            return base64.b64decode(value["base64"])
        return {k: fixture_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fixture_value(v) for v in value]
    return value


def plan_operation(
    op: Callable[..., Any],
    args: dict[str, Any],
    facts: Iterable[tuple[str, dict[str, Any], Any]] = (),
    host_name: str = "testhost",
    host_data: dict[str, Any] | None = None,
    local_dir: str | None = None,
) -> PlannedOperation:
    """Run ``op``'s generator with ``args`` and the given facts, handing the facts over in
    batches as the engine gathers them; return what it planned and declared."""
    generator = getattr(op, "__wrapped__", op)
    known = {_key(name, dict(fact_args)): fixture_value(value) for name, fact_args, value in facts}
    target = Host(host_name, host_data or {})
    gathered: dict[tuple[str, str], Any] = {}
    batches: list[list[FactRequest]] = []
    memo: dict[str, Any] = {}  # op_memo(): kept from discovery to planning, as in the engine

    def lookup(host: Any, request: FactRequest) -> Any:
        key = _key(request.cls.name, request.kwargs)
        if key not in gathered:
            raise FactMissing(request)
        return gathered[key]

    while True:
        ctx = PlanContext(memo=memo)
        try:
            with scope(facts=lookup, privilege=(), plan=ctx, deploy_dir=local_dir, host=target):
                commands = plan_commands(ctx, generator, (), args)  # as the engine drains it
        except FactMissing as exc:
            batch: list[FactRequest] = []
            for request in exc.requests:
                key = _key(request.cls.name, request.kwargs)
                if key in gathered:
                    continue
                if key not in known:
                    raise MissingFact(f"fact {request.cls.name}({request.kwargs}) was read but not given") from None
                gathered[key] = known[key]
                batch.append(request)
            if not batch:  # pragma: no cover - a fact source that raises for gathered facts
                raise MissingFact(f"the operation asked again for facts it was given: {exc}") from None
            batches.append(batch)
            continue
        return PlannedOperation(commands, ctx, batches)


def discover_operations() -> dict[str, Callable[..., Any]]:
    """Every ``@operation`` defined in a module of ``oxinfra.operations``, by fixture folder
    name (``<family>.<op>``, see :func:`oxinfra.api.facts.qualified_name`): what the fixture
    runner and the audits run over, so a new operation cannot be left out."""
    import importlib
    import pkgutil
    import types

    import oxinfra.operations
    from oxinfra.api.facts import qualified_name

    found: dict[str, Callable[..., Any]] = {}
    prefix = oxinfra.operations.__name__ + "."
    for info in pkgutil.walk_packages(oxinfra.operations.__path__, prefix):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, types.FunctionType)
                and getattr(value, "_oxinfra_operation", False)
                and value.__module__ == module.__name__
            ):
                found[qualified_name(module.__name__, value.__name__)] = value
    return found
