"""``oxinfra INVENTORY MODULE.OP [VALUE...] [key=value...]``: one operation from the command
line, as pyinfra's ``pyinfra INVENTORY server.user name home=/home/name``.

``MODULE`` is an operation module of ``oxinfra.operations`` (``files``, ``server``, ...) or
an importable module of the user's own; ``OP`` an operation in it. Each word ``key=value``
(``key`` a Python identifier) is a keyword argument, every other word a positional one, in
order. A value reads as pyinfra reads it: ``true``/``false`` (any case), a whole number,
JSON (``'["a","b"]'``, ``'{"k": 1}'``, ``null``), else the text as written -- except where
the operation's parameter takes text and not what the value parsed as (``line=3`` for
``files.line``'s ``line: str`` stays ``"3"``). One word that is the JSON
``[[positional...], {keywords...}]`` gives both. Global arguments (``_sudo=true``) and
``name=`` work as in a deploy file.

The call runs as a deploy of that one line (:func:`operation_deploy`): discovery, ``--dry``,
the prompt, ``-y``, ``--json`` and ``--shards`` are a deploy's. An unknown module or
operation, or arguments the operation does not take, are one line and exit code 2 before
anything runs. Values of keys that look secret (``password=``) are masked in everything
printed, as :class:`~oxinfra.api.Secret` values are.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, TypeGuard

from oxinfra._secrets import MASK, is_secret_key
from oxinfra.exceptions import DeployError

__all__ = ["OperationCall", "is_operation_word", "parse_operation", "operation_deploy", "cli_value", "recorded_words"]

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_PREFIX = "oxinfra.operations."


def is_operation_word(word: str) -> bool:
    """``files.line`` names an operation; ``deploy.py``, ``tasks/web.py`` and any existing
    file name a deploy file."""
    return bool(_DOTTED.fullmatch(word)) and not word.endswith(".py") and not os.path.exists(word)


def cli_value(raw: str) -> Any:
    """A ``key=value`` value as pyinfra reads it: true/false, a whole number, JSON, else text."""
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@dataclass
class OperationCall:
    """A parsed ``MODULE.OP ...``: where the operation is and its arguments."""

    word: str
    module: str
    name: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)


def _module_names(package: str) -> list[str]:
    import pkgutil

    try:
        found = importlib.import_module(package)
    except ImportError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(getattr(found, "__path__", [])) if not m.name.startswith("_"))


def _is_operation(value: Any) -> TypeGuard[Callable[..., Any]]:
    try:  # a module's names include proxies (``host``) that raise on any attribute
        return getattr(value, "_oxinfra_operation", False) is True
    except Exception:
        return False


def operation_names(module: Any) -> list[str]:
    """The operations a module defines (public names that are operations)."""
    return sorted(n for n, v in vars(module).items() if not n.startswith("_") and _is_operation(v))


def resolve_operation(word: str) -> tuple[str, Callable[..., Any]]:
    """The module path and the operation ``MODULE.OP`` names; DeployError saying what is
    there otherwise."""
    module_name, _, op_name = word.rpartition(".")
    found = None
    for candidate in (_PREFIX + module_name, module_name):
        try:
            found = importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not candidate.startswith(exc.name):
                raise DeployError(f"{word}: importing {candidate} failed: {exc}") from None
            continue
        except Exception as exc:  # the user's module failed to import: say so, in one line
            raise DeployError(f"{word}: importing {candidate} failed: {type(exc).__name__}: {exc}") from None
        break
    if found is None:
        modules = _module_names("oxinfra.operations")
        close = difflib.get_close_matches(module_name, modules, n=1)
        hint = f"; did you mean {close[0]}.{op_name}?" if close else f" (modules: {', '.join(modules)})"
        raise DeployError(f"{word}: no operation module {module_name!r}{hint}")
    op = vars(found).get(op_name)
    if not _is_operation(op):
        names = operation_names(found)
        close = difflib.get_close_matches(op_name, names, n=1)
        hint = (
            f"; did you mean {module_name}.{close[0]}?" if close else f" (its operations: {', '.join(names) or 'none'})"
        )
        raise DeployError(f"{word}: {found.__name__} has no operation {op_name!r}{hint}")
    return found.__name__, op


def _type_hints(op: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(inspect.unwrap(op))
    except Exception:  # annotations that do not resolve: take every value as parsed
        return {}


def _accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (loosely: unknown forms accept)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_accepts(arg, value) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is None or hint is type(None):
        return value is None
    if origin is not None:
        hint = origin
    if not isinstance(hint, type):
        return True
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    try:
        return isinstance(value, hint)
    except TypeError:
        return True


def _typed(hint: Any, raw: str) -> Any:
    """``raw`` parsed, or the text itself where the parameter takes text but not what it
    parsed as (``line=3`` for a ``line: str``)."""
    value = cli_value(raw)
    if hint is not None and not _accepts(hint, value) and _accepts(hint, raw):
        return raw
    return value


def parse_operation(words: list[str] | tuple[str, ...]) -> OperationCall:
    """``["files.line", "path=/x", "line=y"]`` -> the call, checked against the operation's
    signature (its own arguments; global ones are checked when it is called)."""
    from oxinfra.api.arguments import GLOBAL_ARG_NAMES

    word, rest = words[0], list(words[1:])
    module, op = resolve_operation(word)
    signature = inspect.signature(op)
    hints = _type_hints(op)
    params = list(signature.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_keyword = next((p for p in params if p.kind is p.VAR_KEYWORD), None)
    call = OperationCall(word, module, word.rpartition(".")[2])
    if len(rest) == 1 and rest[0].lstrip().startswith("["):
        try:
            both = json.loads(rest[0])
        except ValueError:
            both = None
        if isinstance(both, list) and len(both) == 2 and isinstance(both[0], list) and isinstance(both[1], dict):
            call.args, call.kwargs = list(both[0]), dict(both[1])
            rest = []
    for item in rest:
        key, sep, raw = item.partition("=")
        if sep and key.isidentifier():
            if key in call.kwargs:
                raise DeployError(f"{word}: {key}= is given twice")
            param = signature.parameters.get(key)
            hint = hints.get(key) if param is not None else None
            call.kwargs[key] = _typed(hint, raw)
        else:
            index = len(call.args)
            hint = hints.get(positional[index].name) if index < len(positional) else None
            call.args.append(_typed(hint, item))
    unknown_globals = sorted(k for k in call.kwargs if k.startswith("_") and k not in GLOBAL_ARG_NAMES)
    if unknown_globals:
        raise DeployError(f"{word}: no global argument {', '.join(unknown_globals)} (oxinfra --help, arguments.md)")
    own = {k: v for k, v in call.kwargs.items() if k not in GLOBAL_ARG_NAMES and k != "name"}
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes = ", ".join(names) + (f", **{var_keyword.name}" if var_keyword is not None else "")
    unknown = [k for k in own if k not in signature.parameters] if var_keyword is None else []
    if unknown:
        raise DeployError(f"{word}: no argument {', '.join(unknown)} (it takes: {takes})")
    try:
        signature.bind(*call.args, **own)
    except TypeError as exc:
        raise DeployError(f"{word}: {exc} (it takes: {takes})") from None
    return call


def operation_deploy(call: OperationCall) -> Any:
    """A deploy of one line that makes ``call``: its arguments travel as JSON text inside
    the source (never as code), so any value reads back as given."""
    from oxinfra._engine.evaluate import DeployFile

    kwargs = dict(call.kwargs)
    kwargs.setdefault("name", call.word)
    secret = sorted(k for k, v in kwargs.items() if isinstance(v, str) and is_secret_key(k))
    payload = json.dumps([call.args, kwargs])
    source = (
        "import importlib as _i, json as _j; from oxinfra.api import Secret as _S; "
        f"_a, _k = _j.loads({payload!r}); _k.update((_n, _S(_k[_n])) for _n in {secret!r}); "
        f"getattr(_i.import_module({call.module!r}), {call.name!r})(*_a, **_k)\n"
    )
    return DeployFile.from_source("<command line>", source, os.getcwd())


def recorded_words(words: list[str] | tuple[str, ...]) -> list[str]:
    """The words as the state file records them: values of keys that look secret masked."""
    out = []
    for item in words:
        key, sep, _ = item.partition("=")
        out.append(f"{key}={MASK}" if sep and key.isidentifier() and is_secret_key(key) else item)
    return out
