"""mypy plugin: every operation's call accepts the global arguments (``_sudo=True``, ...)
and ``name=``.

``@operation`` keeps an operation's own parameters for mypy (a ``ParamSpec``, see
:mod:`oxinfra.api.typed`), and PEP 612 cannot add keyword arguments to one. This plugin
adds the global arguments and ``name``, typed as
:class:`oxinfra.api.typed.OperationArguments` says, as optional keyword-only arguments of
every ``Operation.__call__``::

    [tool.mypy]
    plugins = ["oxinfra.mypy_plugin"]

Then ``files.put(src="a", dest="/b", _sudo=True, name="b")`` type-checks, and ``_sudo="yes"``,
``_sduo=True`` or ``dset="/b"`` are errors.
"""

from __future__ import annotations

from typing import Callable

from mypy.nodes import ARG_NAMED_OPT, ARG_STAR2, TypeInfo
from mypy.plugin import MethodSigContext, Plugin
from mypy.types import CallableType, FunctionLike, TypedDictType, get_proper_type

_CALL = "oxinfra.api.typed.Operation.__call__"
_MODULE, _GLOBALS = "oxinfra.api.typed", "OperationArguments"


def _with_global_arguments(ctx: MethodSigContext) -> FunctionLike:
    signature = ctx.default_signature
    if not isinstance(signature, CallableType):
        return signature
    # the checker's table of modules is not part of the plugin interface mypy declares
    module = ctx.api.modules.get(_MODULE)  # type: ignore[attr-defined]
    symbol = module.names.get(_GLOBALS) if module is not None else None
    info = symbol.node if symbol is not None else None
    if not isinstance(info, TypeInfo) or info.typeddict_type is None:
        return signature
    typed: TypedDictType = info.typeddict_type
    if any(kind == ARG_STAR2 for kind in signature.arg_kinds):
        return signature  # the ParamSpec is not bound yet (or the operation takes **kwargs)
    names, kinds, types = list(signature.arg_names), list(signature.arg_kinds), list(signature.arg_types)
    taken = set(names)
    for name, value in typed.items.items():
        if name not in taken:
            names.append(name)
            kinds.append(ARG_NAMED_OPT)
            types.append(get_proper_type(value))
    return signature.copy_modified(arg_names=names, arg_kinds=kinds, arg_types=types)


class OxinfraPlugin(Plugin):
    def get_method_signature_hook(self, fullname: str) -> Callable[[MethodSigContext], FunctionLike] | None:
        return _with_global_arguments if fullname == _CALL else None


def plugin(version: str) -> type[Plugin]:
    return OxinfraPlugin
