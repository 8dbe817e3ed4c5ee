"""Built-in operations, named and argued as in pyinfra 3 (``files.put``, ``server.shell`` ...)."""
