"""Rendering ``files.template``'s (and ``server.script_template``'s) jinja2 templates: what a
template sees (``host`` and the operation's keyword arguments, as in pyinfra), which templates
read the host, and errors that say where and how to define a missing name."""

from __future__ import annotations

import os
import re
import traceback
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes

from oxinfra.api import current_host, host, inventory, state
from oxinfra.exceptions import OxinfraError, TemplateError
from oxinfra.operations.util.files import local_path

__all__ = ["render_template"]


def _frozen(value: Any) -> Any:
    """``value`` as a hashable key that is equal exactly when the values are: lists, tuples,
    dicts and sets by their items (tagged by type); anything else as it is, which must
    hash (else TypeError)."""
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_frozen(v) for v in value))
    if isinstance(value, dict):
        return (type(value), frozenset((_frozen(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return (type(value), frozenset(_frozen(v) for v in value))
    hash(value)
    return value


class _EnvOptions:
    """jinja_env_kwargs as a cache key: compared by :func:`_frozen`, handed on as given
    (``{"extensions": [...]}`` stays a list)."""

    __slots__ = ("key", "options")

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.key = _frozen(options)  # TypeError: a value that cannot be a key

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _EnvOptions) and self.key == other.key


def _new_template(path: str, env_options: dict[str, Any]) -> jinja2.Template:
    options: dict[str, Any] = {"undefined": jinja2.StrictUndefined, "keep_trailing_newline": True}
    options.update(env_options)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.dirname(path) or "."), **options)
    return env.get_template(os.path.basename(path))


@lru_cache(maxsize=256)
def _cached_template(path: str, mtime: float, env_options: _EnvOptions) -> jinja2.Template:
    return _new_template(path, env_options.options)


def _load_template(path: str, mtime: float, env_kwargs: dict[str, Any]) -> jinja2.Template:
    """The template, loaded once per file version and options; options with a value that
    cannot be a key (an object that does not hash) load it each time."""
    try:
        options = _EnvOptions(env_kwargs)
    except TypeError:
        return _new_template(path, env_kwargs)
    return _cached_template(path, mtime, options)


@lru_cache(maxsize=256)
def _uses_host(template: jinja2.Template) -> bool:
    """Whether rendering may read ``host``: it names it, or pulls in other templates (which
    might). A template that does not renders the same for every host, so the rendering of
    equal arguments is shared between hosts."""
    env, name = template.environment, template.name
    if env.loader is None or name is None:  # not a template _load_template loaded: assume it may
        return True
    source, _, _ = env.loader.get_source(env, name)
    tree = env.parse(source)
    if (
        tree.find(jinja2.nodes.Include)
        or tree.find(jinja2.nodes.Import)
        or tree.find(jinja2.nodes.FromImport)
        or tree.find(jinja2.nodes.Extends)
    ):
        return True
    return "host" in jinja2.meta.find_undeclared_variables(tree)


def _template_line(exc: BaseException, path: str) -> int | None:
    line = getattr(exc, "lineno", None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return line or None


_UNDEFINED = re.compile(r"'(\w+)' is undefined")
_NO_HOST_DATA = re.compile(r"'[\w.]*HostData object' has no attribute '(\w+)'")


def _undefined_error(where: str, message: str, op: str) -> TemplateError:
    """What an undefined name in a template means and what to write instead. A template sees
    ``host``, ``inventory``, ``state`` and the operation's keyword arguments (as in pyinfra): host data -- the
    inventory's, group data, ``--data`` -- is ``host.data.NAME`` there, never a bare name."""
    missing = _NO_HOST_DATA.fullmatch(message)
    if missing is not None:
        name = missing.group(1)
        return TemplateError(
            f"{where}: host.data has no {name}: set it in host data or with --data {name}=VALUE "
            f"(or write host.data.get({name!r}, DEFAULT))"
        )
    undefined = _UNDEFINED.fullmatch(message)
    if undefined is None:
        return TemplateError(f"{where}: {message}")
    name = undefined.group(1)
    try:
        in_data = name in current_host().data
    except Exception:  # no host in context, or data that cannot say: give both ways
        in_data = False
    if in_data:
        return TemplateError(
            f"{where}: {message}: the host's data has {name}, which templates see as host.data.{name} (as in "
            f"pyinfra): write {{{{ host.data.{name} }}}}, or pass {op}(..., {name}=...)"
        )
    return TemplateError(
        f"{where}: {message}: pass it as {op}(..., {name}=...), or write {{{{ host.data.{name} }}}} with "
        f"host data or --data {name}=VALUE"
    )


def render_template(
    src: str, data: dict[str, Any], env_kwargs: dict[str, Any] | None = None, op: str = "files.template"
) -> str:
    """Render a jinja2 template file with ``host``, ``inventory``, ``state`` and ``data``;
    undefined names are errors that say how to define them (``op``: the operation named in
    the hint)."""
    path = local_path(src)
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        raise TemplateError(f"template not found: {src} (looked at {path})") from None
    try:
        template = _load_template(os.path.abspath(path), mtime, dict(env_kwargs or {}))
        # A template that may read the host gets it, and that counts as reading it; any other
        # never looks at the name.
        # pyinfra's names beside the host: the run's inventory and state (the same for every
        # host: reading them makes nothing host-specific); files.template's arguments win
        values = {"host": current_host() if _uses_host(template) else host, "inventory": inventory, "state": state}
        values.update(data)
        return template.render(**values)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{src}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        line = _template_line(exc, os.path.abspath(path))
        raise _undefined_error(src if line is None else f"{src}:{line}", str(exc.message), op) from None
    except TypeError as exc:
        raise TemplateError(f"{src}: cannot render: {exc}") from None
    except TemplateError:
        raise
    except OxinfraError as exc:  # what the template read refused (``inventory`` in a sharded run)
        line = _template_line(exc, os.path.abspath(path))
        error = TemplateError(f"{src if line is None else f'{src}:{line}'}: {exc}")
        error.exit_code = exc.exit_code
        raise error from None
