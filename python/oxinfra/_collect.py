"""The cyclic garbage collector during large runs: fewer collections where they only rescan
objects that live on. Process-wide settings, each restored when its block ends."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

__all__ = ["gc_paused", "fewer_collections", "short_collections"]


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


@contextlib.contextmanager
def short_collections() -> Iterator[None]:
    """For a run that shares the process with an application's event loop (it runs on a
    worker thread): every collection holds every thread, so keep them short -- young
    collections at the usual threshold (a few thousand objects each) and no full collection
    while the block runs (it would scan every object the run made: 70-170 ms at 1,000 hosts,
    measured with benches/embed.py). Objects in cycles wait for the next full collection."""
    threshold = gc.get_threshold()
    short = (min(threshold[0], 700), min(threshold[1], 10), 1_000_000)
    gc.set_threshold(*short)
    try:
        yield
    finally:
        if gc.get_threshold() == short:
            gc.set_threshold(*threshold)
