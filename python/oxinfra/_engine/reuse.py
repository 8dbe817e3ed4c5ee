"""Compute once, reuse: hosts with equal operation arguments and equal facts get equal plans.

A fleet runs the same deploy on many hosts, and most operation calls are the same on all of
them (same arguments, same global arguments, same deploy directory). Three things are reused
within one run (docs/architecture.md, "Compute once, reuse"):

* **Discovery** (:func:`oxinfra._engine.evaluate.discover`): an operation call whose arguments
  are plain values (strings, numbers, bytes, lists, tuples, dicts, sets of them) is run with
  no facts once per distinct call; the facts it asks for and, for operations that read none,
  its commands are shared by every host that makes the same call.
* **Evaluation** (``oxinfra._engine.pipeline._evaluate_all``): a deploy file that read nothing of
  the host but its data, and whose every call was shared, is not run again for hosts with the
  same chain of data layers: they copy the calls.
* **Dry plans** (:class:`oxinfra._engine.hostrun.HostRun`): a host whose every call was shared
  has a *class*: those shared calls with their names and call sites. Hosts of one class
  whose first fact batch returned byte-identical output are planned once; the others replay
  that plan (equal outcome records are one object, :attr:`RunMemo.records`).

Nothing is shared that may depend on the host itself: a call whose operation reads the host
(``host.name``, ``host.data``, a template that names ``host``; see
:func:`oxinfra.api.context.note_host_read`) while it is discovered or planned, a call with
``_if`` conditions, and a host whose planning needed facts beyond its first batch are
computed for that host alone. Operations must therefore be functions of their arguments,
their facts and the host object -- which every built-in one is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oxinfra._keys import _freeze, _Unfreezable

if TYPE_CHECKING:
    from oxinfra.api.facts import FactRequest

__all__ = ["RunMemo", "SharedCall", "call_key"]

# Values whose == is exact (floats are not: 0.0 == -0.0); they key a call as they are.
_ATOM_SET = frozenset({str, int, bool, bytes, type(None)})


def call_key(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], global_args: Any, directory: str | None
) -> tuple[Any, ...] | None:
    """What makes two operation calls the same call, or None if this one is not shareable."""
    globals_key = global_args.key
    if globals_key is None:
        return None
    types = tuple(map(type, kwargs.values()))
    if not args and _ATOM_SET.issuperset(types):  # the usual call: keywords with plain values
        return (func, directory, tuple(kwargs.items()), types, globals_key)
    try:
        items = []
        for k, v in kwargs.items():
            items.append((k, v if type(v) is str else _freeze(v)))
        return (func, directory, _freeze(args), tuple(items), globals_key)
    except _Unfreezable:
        return None


class SharedCall:
    """What discovery found for one distinct call: shared by every host making it.
    Compared by identity, so a host's class (a tuple of these) hashes fast. ``memo`` is what
    the operation kept in ``op_memo()`` during discovery; each host starts its own copy."""

    __slots__ = ("first_facts", "precomputed", "memo")

    def __init__(
        self, first_facts: list[FactRequest] | tuple[FactRequest, ...], precomputed: Any, memo: dict[str, Any]
    ) -> None:
        self.first_facts = first_facts
        self.precomputed = precomputed
        self.memo = memo


class RunMemo:
    """The reuse tables of one run (per process: each shard has its own)."""

    __slots__ = ("calls", "max_calls", "plans", "fact_scripts", "records", "hits", "misses", "limits")

    def __init__(self) -> None:
        self.calls: dict[tuple[Any, ...], SharedCall] = {}
        # Distinct calls remembered at most: a fleet of hosts that are all different (every
        # path names the host) would otherwise keep a key per call until evaluation ends.
        self.max_calls = 1 << 16
        # class -> the first fact batch's script (oxinfra._engine.script.FactScript)
        self.fact_scripts: dict[tuple[Any, ...], Any] = {}
        # Outcome records (HostResult.ops entries) by their values: hosts share equal ones.
        self.records: dict[tuple[Any, ...], dict[str, Any]] = {}
        # (class, first-batch outputs) -> the plan outcome of every operation, or None when
        # that plan may not be reused (see HostRun).
        self.plans: dict[tuple[Any, ...], Any] = {}
        self.hits = 0
        self.misses = 0
        # call-site key -> the semaphore of an operation with _serial/_parallel (how many
        # hosts run it at once; hosts of this process)
        self.limits: dict[Any, Any] = {}
