"""Option parsing shared by the simulated commands."""

from __future__ import annotations


def _operands(argv: list[str], with_value: str = "") -> tuple[set[str], dict[str, str], list[str]]:
    """Split ``argv[1:]`` into single-letter flags, options taking a value (letters in
    ``with_value``), and operands (everything after ``--`` or the first non-option)."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    rest: list[str] = []
    args = argv[1:]
    k = 0
    while k < len(args):
        arg = args[k]
        if arg == "--":
            rest.extend(args[k + 1 :])
            break
        if len(arg) > 1 and arg[0] == "-" and not rest:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in with_value:
                    if j + 1 < len(arg):
                        values[letter] = arg[j + 1 :]
                    else:
                        k += 1
                        values[letter] = args[k] if k < len(args) else ""
                    break
                flags.add(letter)
                j += 1
        else:
            rest.append(arg)
        k += 1
    return flags, values, rest
