"""``@sim/NAME``: a simulated host, for benchmarking and testing deploys at scale with no network.

A :class:`SimConnection` is a real connector: the run, the facts, the planning, the scripts
and the markers are exactly the production ones. Only the far end differs: instead of an
``sh`` on a machine, the scripts oxinfra sends are interpreted in Python against an
in-memory filesystem (:class:`SimHost`: paths -> directories, files and symbolic links with
mode, owner, group, content, link target and times).

What is interpreted is the dialect :mod:`oxinfra._engine.script` writes, and the commands the
built-in facts and operations use -- not a general shell:

* shell syntax: simple commands, ``;``/``&&``/``||``/``|``, ``{ }``, ``( )``, ``if``, ``while``,
  ``for``, function definitions, single/double quotes, ``$VAR``, ``${VAR%PATTERN}`` (and
  ``%%``, ``#``, ``##``), ``$?``, ``$#``, ``"$@"``, ``$( )``, ``$(( ))`` (+ and -), ``~user``,
  redirections ``<``, ``>``, ``>>``, ``>&2``, ``2>``, quoted here-documents. There is no field
  splitting and no pathname expansion (oxinfra quotes every value). As in a POSIX ``sh``, a failed redirection of a
  special builtin (``:``, ``export``, ``set``, ...) ends the shell.
* the marker functions of the prelude run natively -- but only functions whose definition
  is exactly one of :func:`oxinfra._engine.script.prelude`'s and whose interpreted body prints
  the same bytes as the native one (checked once per process); any other function is
  interpreted. The loops that prove paths absent (:func:`oxinfra.facts.files.absent_proof`,
  :func:`oxinfra._engine.script.absent_loop`) run natively under the same rule;
* commands: ``:``, ``true``, ``false``, ``test``/``[``, ``echo``, ``printf``, ``exit``,
  ``break``, ``continue``, ``export``, ``read``, ``exec``, ``cd``, ``umask`` (octal; new files and directories get 666/777
  masked), ``set -C`` (noclobber), ``set --``, ``shift``, ``sleep`` (does not sleep), ``command -v``, ``id``,
  ``uname``, ``stat -c``, ``readlink``, ``sha1sum``/``sha256sum``/``md5sum``, ``grep``
  (literal patterns directly, BRE/ERE through Python's ``re``; a file with a NUL byte is
  binary unless ``-a``: "binary file matches" on stderr only, as GNU grep 3.5+), ``mkdir``, ``chmod``
  (octal modes), ``chown``, ``chgrp``, ``touch``, ``ln``, ``rm``, ``mv``, ``cp``, ``cat``,
  ``base64 -d``, ``tail -c``, ``sed -i`` (``s/RE/REPL/FLAGS`` and ``/RE/d``, any delimiter; a link is replaced by a new
  file, as GNU sed does), and
  ``sh -c`` and ``sh -s`` (script on stdin), ``sudo``, ``su``, ``timeout`` (which run their
  command, as the given user; sudo asks no password and reads none, as for root).
* **any other command** (a user's ``server.shell`` commands, package managers, ...) succeeds
  with no output and changes nothing. Commands from the list above run for real against the
  in-memory filesystem wherever they appear, ``server.shell`` included: ``echo x > /etc/f``
  fails on a fresh host, which has no ``/etc`` (seed one with ``sim_files``).

A fresh host holds ``/``, ``/tmp`` (1777) and the user's home, nothing else.

Permissions are not checked (every user may do anything); users and groups are names with no
database behind them. New files get mode 644, directories 755 (umask 022 unless changed),
owned by the user commands run as. Times are whole seconds of the controller's clock; reads do not change atime.

Select it with host names ``@sim/NAME``. Host data:

* ``sim_user`` (default ``root``): the user commands run as (home ``/root`` for root, else
  ``/home/USER``);
* ``sim_files``: ``{path: content}`` to seed a fresh host with (parent directories are
  created);
* ``sim_latency``: seconds to wait per round trip (a simulated network).

A host's filesystem lives in this process (:func:`machine`, :func:`reset`) for as long as the
process does, so a second run in the same process sees what the first one did.

Speed: parsing is most of the cost, so parsed scripts are cached per *template* (the text
with the connection's nonce and the host's name replaced, see :func:`parse_script`): hosts
whose scripts differ only by those share one parse. standard-10's fact script costs about
0.1-0.3 ms per host, run 1's operation script under 1 ms; scripts that embed per-host
values (guards comparing timestamps or checksums in later runs) are parsed per host, about
0.25 ms per KB. A fresh shell's first script on a machine nothing has changed is answered
from a cache when an earlier machine made alike (same user, seeds and second of creation)
was sent the same script (nonce aside), the script changed nothing there and printed
nothing only that machine has (``uname -n``): in a dry run that is every host's only script.
:data:`stats` counts scripts and the seconds spent on them.
"""

from __future__ import annotations

# The command table (interp._BUILTINS) is filled in when the command modules are imported.
from oxinfra.testing.sim import commands as _commands  # noqa: F401
from oxinfra.testing.sim.connection import SimConnection, SimShell, stats
from oxinfra.testing.sim.fs import FsError, Node, SimHost, machine, machines, reset
from oxinfra.testing.sim.interp import Interpreter
from oxinfra.testing.sim.parse import Parser, ShellSyntaxError, parse_script, substitutions, template_of
from oxinfra.testing.sim.text import line_matcher, posix_regex

__all__ = [
    "SimConnection",
    "SimShell",
    "SimHost",
    "Node",
    "machine",
    "reset",
    "machines",
    "stats",
    # the parts tests and benches reach through this package
    "FsError",
    "Interpreter",
    "Parser",
    "ShellSyntaxError",
    "parse_script",
    "substitutions",
    "template_of",
    "line_matcher",
    "posix_regex",
]
