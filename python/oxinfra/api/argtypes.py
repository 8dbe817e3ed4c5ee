"""Operation arguments checked against the operation's annotations, when the call is recorded.

An operation's parameters say what they take: ``path: str``, ``present: bool``,
``user: str | None``, ``packages: str | list[str] | None``. ``@operation`` compiles each
annotation it understands into a check once, and checks every call's arguments while the
deploy is evaluated: ``files.directory(path=None)`` is then refused with
``files.directory: path must be a string, not None`` before any host is touched, instead of
failing on the host after the operations before it applied.

What is checked: ``str``, ``bool`` (True or False only: ``"no"`` and ``1`` are refused),
``int`` (not a bool), ``float`` (an int too), ``bytes``, ``None``, ``list[X]`` (a tuple
too: operations take either), ``tuple[X, ...]`` (a list too), ``dict[K, V]`` and unions of
them. Any other annotation (``Any``, ``IO[bytes]``, ``Callable``, a class) accepts anything,
and so does a union holding one; a parameter whose default is None also takes None. A
parameter with no annotation, or one that cannot be resolved, is not checked.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any, Callable

__all__ = ["ArgumentCheck", "argument_errors", "compile_checks"]

#: A compiled annotation: whether a value fits, and what it takes ("a string or None").
_Check = tuple[Callable[[Any], bool], str]

_SCALARS: dict[Any, _Check] = {
    str: (lambda v: isinstance(v, str), "a string"),
    bool: (lambda v: isinstance(v, bool), "True or False"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    bytes: (lambda v: isinstance(v, bytes), "bytes"),
    type(None): (lambda v: v is None, "None"),
    None: (lambda v: v is None, "None"),
}

_PLURALS = {
    "a string": "strings",
    "True or False": "True or False values",
    "a whole number": "whole numbers",
    "a number": "numbers",
    "None": "None",
}


def _plural(description: str) -> str:
    """``a list of ...``: "a string or a whole number" -> "strings or whole numbers"."""
    parts = re.split(r", | or (?!False)", description.replace("True, False", "True or False"))
    words = [_PLURALS.get(p, f"values of {p}") for p in parts]
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return " or ".join(words)
    return "(" + ", ".join(words[:-1]) + " or " + words[-1] + ")"


def _either(names: list[str]) -> str:
    """Descriptions joined: "a string, a list of strings or None"."""
    if "a number" in names and "a whole number" in names:
        names = [n for n in names if n != "a whole number"]
    names = [n for n in names if n != "None"] + (["None"] if "None" in names else [])
    if len(names) == 1:
        return names[0]
    names = ["True, False" if n == "True or False" and i < len(names) - 1 else n for i, n in enumerate(names)]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _compile(tp: Any) -> _Check | None:
    """The check of one annotation; None when it accepts anything."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        members = [_compile(a) for a in args]
        if any(m is None for m in members):
            return None
        checks = [m[0] for m in members if m is not None]
        return (lambda v: any(check(v) for check in checks)), _either([m[1] for m in members if m is not None])
    if origin in (list, tuple) and args:
        items = args[:1] if origin is list or (len(args) == 2 and args[1] is Ellipsis) else None
        if items is None:  # tuple[X, Y]: a fixed shape
            fixed = [_compile(a) for a in args]

            def fits(v: Any) -> bool:
                return (
                    isinstance(v, (list, tuple))
                    and len(v) == len(fixed)
                    and all(c is None or c[0](x) for c, x in zip(fixed, v))
                )

            return fits, f"a tuple of {len(fixed)} values"
        item = _compile(items[0])
        kind = "a list" if origin is list else "a tuple"
        if item is None:
            return (lambda v: isinstance(v, (list, tuple))), kind
        item_check = item[0]
        return (
            lambda v: isinstance(v, (list, tuple)) and all(item_check(x) for x in v)
        ), f"{kind} of {_plural(item[1])}"
    if origin is dict and len(args) == 2:
        key, value = _compile(args[0]), _compile(args[1])

        def fits_dict(v: Any) -> bool:
            return isinstance(v, dict) and all(
                (key is None or key[0](k)) and (value is None or value[0](x)) for k, x in v.items()
            )

        text = "a dict" + (f" of {_plural(value[1])}" if value is not None else "")
        return fits_dict, text
    if tp in (list, tuple):
        return (lambda v: isinstance(v, (list, tuple))), "a list"
    if tp is dict:
        return (lambda v: isinstance(v, dict)), "a dict"
    return None


class ArgumentCheck:
    """The compiled checks of one operation's parameters (:func:`compile_checks`)."""

    __slots__ = ("positional", "named", "extra")

    def __init__(self, positional: list[str], named: dict[str, _Check], extra: _Check | None) -> None:
        #: Names of the parameters positional arguments bind to, in order.
        self.positional = positional
        #: Checks by parameter name (unchecked parameters left out).
        self.named = named
        #: The check of ``**kwargs`` values, if annotated.
        self.extra = extra

    def errors(self, args: tuple[Any, ...], kwargs: dict[str, Any], show_values: bool = True) -> list[str]:
        """One message per argument that does not fit (``path must be a string, not None``)."""
        found: list[str] = []
        pairs = list(zip(self.positional, args)) + list(kwargs.items())
        for name, value in pairs:
            check = self.named.get(name)
            if check is None:
                if self.extra is None or name in self.positional:
                    continue
                check = self.extra
            if not check[0](value):
                found.append(f"{name} must be {check[1]}, not {_describe(value, check, show_values)}")
        return found


def _describe(value: Any, check: _Check, show_values: bool) -> str:
    """The value that does not fit: itself (short), or its type when values are hidden; for a
    list or tuple whose items do not fit, the first such item."""
    if isinstance(value, (list, tuple)) and value and check[0](type(value)()):
        # it takes a list or tuple: name the first item that no list it takes may hold
        for item in value:
            if not check[0](type(value)((item,))):
                return f"a {type(value).__name__} holding {_short(item, show_values)}"
    return _short(value, show_values)


def _short(value: Any, show_values: bool) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if not show_values:
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 60 else text[:45] + "..." + text[-10:]


def compile_checks(func: Callable[..., Any]) -> ArgumentCheck:
    """The checks of ``func``'s annotated parameters (annotations given as text are
    resolved in the function's module)."""
    signature = inspect.signature(func)
    namespace = getattr(func, "__globals__", {})
    positional: list[str] = []
    named: dict[str, _Check] = {}
    extra: _Check | None = None
    for param in signature.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional.append(param.name)
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(namespace))  # noqa: S307 - the function's own annotation
            except Exception:
                continue
        try:
            check = _compile(annotation)
        except Exception:
            check = None
        if check is None:
            continue
        if param.default is None and not check[0](None):
            fits = check[0]
            check = (lambda v, fits=fits: v is None or fits(v)), _either([check[1], "None"])
        if param.kind is param.VAR_KEYWORD:
            extra = check
        elif param.kind is not param.VAR_POSITIONAL:
            named[param.name] = check
    return ArgumentCheck(positional, named, extra)


def argument_errors(operation: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    """What is wrong with the types of these arguments of ``operation`` (an ``@operation``
    or a plain generator function): one message each, empty when they fit."""
    func = getattr(operation, "__wrapped__", operation)
    checks = getattr(func, "_oxinfra_argument_check", None)
    if checks is None:
        checks = compile_checks(func)
    return checks.errors(args, kwargs)
