"""``oxinfra INVENTORY fact MODULE.Fact key=value...``: read facts on every host, nothing else.

Each host (at most ``parallel`` at once, within the run's timeouts) connects, reads every
asked fact in ONE script (one round trip) and disconnects; no host lock is taken (nothing
changes). A host whose facts fail, or that cannot be reached, fails alone: its error is in
its result, the other hosts' values are read as usual.
"""

from __future__ import annotations

import asyncio
from typing import Any

from oxinfra._engine.control import RunControl
from oxinfra._engine.hostrun import HostRun
from oxinfra.api.arguments import Privilege, privileged
from oxinfra.api.facts import FactBase, FactClass, FactRequest, ShortFactBase
from oxinfra.connectors.base import ConnectSettings
from oxinfra.connectors.registry import connect
from oxinfra.exceptions import ConnectError, OxinfraError

__all__ = ["FactAsk", "HostFacts", "read_facts", "read_facts_async"]


class FactAsk:
    """One fact to read: its class (a FactBase or ShortFactBase), arguments, and the name
    pyinfra prints for it (``files.File (path=/etc)``)."""

    def __init__(self, cls: FactClass, kwargs: dict[str, Any]) -> None:
        self.cls = cls
        self.kwargs = kwargs
        shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        self.key = cls.name + (f" ({shown})" if shown else "")

    def base(self) -> type[FactBase[Any]]:
        cls = self.cls
        while issubclass(cls, ShortFactBase):
            cls = cls.fact
        return cls

    def value(self, raw: Any) -> Any:
        chain = []
        cls = self.cls
        while issubclass(cls, ShortFactBase):
            chain.append(cls)
            cls = cls.fact
        for short in reversed(chain):
            raw = short().process_data(raw)
        return raw


class HostFacts:
    """One host's answer: ``values`` by fact key; ``status`` success | failed | unreachable |
    error; ``error`` the first problem, one line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.status = "success"
        self.error: str | None = None


async def _one(
    host: Any, asks: list[FactAsk], context: tuple[Any, ...], settings: ConnectSettings, control: RunControl
) -> HostFacts:
    result = HostFacts(host.name)
    run = HostRun(host, [], True, None, control=control)
    requests = [FactRequest(a.base(), dict(a.kwargs), context) for a in asks]
    try:
        async with settings.connect_slots:
            run.deadline = control.deadline()
            conn = await control.within(run.deadline, connect(host, settings))
        try:
            run.shell = await control.within(run.deadline, conn.open_shell())
            await run.gather(requests)
        except BaseException:
            await conn.abort()
            raise
        else:
            await conn.close()
    except ConnectError as exc:
        result.status, result.error = "unreachable", str(exc)
        return result
    except OxinfraError as exc:  # output that cannot be parsed: this host only
        result.status, result.error = "error", f"{host.name}: {exc}"
        return result
    for ask, request in zip(asks, requests):
        entry = run.planner.facts.get(request.key)
        if entry is None or entry.error is not None:
            error = (
                entry.error
                if entry is not None and entry.error is not None
                else f"fact {ask.cls.name}: no answer came back"
            )
            result.errors[ask.key] = error
            result.values[ask.key] = None
            if result.error is None:
                result.status, result.error = "failed", f"{host.name}: {error}"
            continue
        try:
            result.values[ask.key] = ask.value(entry.value)
        except Exception as exc:  # a short fact's process_data
            result.errors[ask.key] = f"fact {ask.cls.name}: {type(exc).__name__}: {exc}"
            result.values[ask.key] = None
            if result.error is None:
                result.status, result.error = "failed", f"{host.name}: {result.errors[ask.key]}"
    return result


async def read_facts_async(
    inventory: Any,
    asks: list[FactAsk],
    parallel: int | None = None,
    privilege: Privilege | None = None,
    control: RunControl | None = None,
) -> dict[str, HostFacts]:
    """Every host's answer to ``asks``, in inventory order. ``privilege``: read them as
    ``--sudo`` and friends say."""
    control = control or RunControl()
    settings = ConnectSettings(None)
    context = privileged(privilege) if privilege is not None else ()
    hosts = inventory.hosts
    limit = asyncio.Semaphore(parallel or max(1, len(hosts)))

    async def bounded(host: Any) -> HostFacts:
        async with limit:
            return await _one(host, asks, context, settings, control)

    answers = await asyncio.gather(*(bounded(h) for h in hosts))
    return {a.name: a for a in answers}


def read_facts(inventory: Any, asks: list[FactAsk], **kwargs: Any) -> dict[str, HostFacts]:
    """Synchronous :func:`read_facts_async`."""
    return asyncio.run(read_facts_async(inventory, asks, **kwargs))
