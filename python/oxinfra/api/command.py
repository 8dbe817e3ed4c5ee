"""pyinfra's ``pyinfra.api.command`` names for deploy code: ``from oxinfra.api.command import
StringCommand, QuoteString`` (see :mod:`oxinfra.api.commands`)."""

from oxinfra.api.commands import FunctionCommand, QuoteString, StringCommand

__all__ = ["StringCommand", "QuoteString", "FunctionCommand"]
