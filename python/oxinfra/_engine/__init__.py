"""The engine that runs deploys: recording and evaluation, reuse, ordering, planning, scripts,
the per-host pipeline, the run drivers (in-process and sharded) and their reports.

Private: nothing of the author API (``oxinfra.api``, operations, facts), the inventory or the
connectors imports it; it imports them. Its modules may change for speed without touching
the deploys, operations and facts that run on it.
"""
