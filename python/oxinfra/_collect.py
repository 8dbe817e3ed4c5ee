"""The cyclic garbage collector during large runs: fewer collections where they only rescan
objects that live on. Process-wide settings, each restored when its block ends."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

__all__ = ["gc_paused", "fewer_collections"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while making many objects that form no cycles:
    otherwise its collections, triggered by the allocations, cost more than the objects."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """A run allocates many objects that live until it ends (operation calls, results); the
    collector would scan them again and again. Young collections are made rarer while the
    block runs."""
    threshold = gc.get_threshold()
    raised = (max(threshold[0], 50_000), *threshold[1:])
    gc.set_threshold(*raised)
    try:
        yield
    finally:
        # Only undo what is still ours: with two runs at once, the first to end restores the
        # original and the other leaves it alone.
        if gc.get_threshold() == raised:
            gc.set_threshold(*threshold)
