"""Built-in facts, named as pyinfra 3 names them (``files.File``, ``server.Home`` ...)."""
