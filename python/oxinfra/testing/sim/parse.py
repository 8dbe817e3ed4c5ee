"""Parsing the script dialect, and the parse cache shared by hosts (per script template)."""

from __future__ import annotations

import re
from typing import Any


# --------------------------------------------------------------------------------------------
# Parsing the script dialect
# --------------------------------------------------------------------------------------------
#
# Nodes are tuples (tag, ...):
#   ("cmd", assigns, words, redirs)     assigns: [(name, word)]
#   ("andor", first, [(op, pipeline)])  ("pipe", negate, [command])
#   ("brace", body, redirs)  ("sub", body, redirs)  ("if", [(cond, body)], else, redirs)
#   ("while", cond, body, redirs)  ("func", name, body)
# A body is a list of nodes. A word is a str (no expansion needed) or a tuple of parts:
#   str | ("v", name) | ("c", body) | ("a", text) | ("~", user)
# A redirection is [op, fd, word, heredoc_body].


class ShellSyntaxError(Exception):
    pass


_PLAIN = re.compile(r"[^\s'\"\\$;&|()<>`]+")
_DQ_PLAIN = re.compile(r'[^"\\$`]+')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_REDIR = re.compile(r"([0-9]?)(>>|>&|<<|<&|>\||<|>)")
_TILDE = re.compile(r"~([A-Za-z0-9_.-]*)(?=/|$|[\s;&|()<>])")
_DELIMS = frozenset(" \t\n;&|()<>")
_RESERVED = frozenset(("{", "}", "if", "then", "else", "elif", "fi", "while", "until", "for", "do", "done", "!"))


class Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.heredocs: list[list[Any]] = []

    def error(self, what: str) -> ShellSyntaxError:
        line = self.s.count("\n", 0, self.i) + 1
        return ShellSyntaxError(f"line {line}: {what}")

    # -- tokens -------------------------------------------------------------------------

    def blanks(self) -> None:
        s, n = self.s, self.n
        i = self.i
        while i < n:
            c = s[i]
            if c == " " or c == "\t":
                i += 1
            elif c == "\\" and s.startswith("\\\n", i):
                i += 2
            elif c == "#":
                j = s.find("\n", i)
                i = n if j < 0 else j
            else:
                break
        self.i = i

    def newline(self) -> None:
        self.i += 1
        if self.heredocs:
            pending, self.heredocs = self.heredocs, []
            s, n = self.s, self.n
            for redir in pending:
                delim = redir[2]
                i = self.i
                if s.startswith(delim, i) and (i + len(delim) == n or s[i + len(delim)] == "\n"):
                    redir[3] = ""
                    self.i = min(n, i + len(delim) + 1)
                    continue
                k = s.find("\n" + delim + "\n", i)
                if k < 0:
                    if s.endswith("\n" + delim):
                        k = n - len(delim) - 1
                    else:
                        raise self.error(f"here-document {delim!r} has no end")
                redir[3] = s[i : k + 1]
                self.i = min(n, k + len(delim) + 2)

    def separators(self) -> None:
        """Skip blanks and newlines."""
        while True:
            self.blanks()
            if self.i < self.n and self.s[self.i] == "\n":
                self.newline()
            else:
                return

    def peek_reserved(self) -> str | None:
        m = _PLAIN.match(self.s, self.i)
        if m is None:
            return None
        word = m.group()
        if word in _RESERVED and (m.end() == self.n or self.s[m.end()] in _DELIMS):
            return word
        return None

    def expect(self, word: str) -> None:
        self.separators()
        if self.peek_reserved() != word:
            raise self.error(f"expected {word!r}")
        self.i += len(word)

    # -- grammar ------------------------------------------------------------------------

    def parse(self) -> list[Any]:
        body = self.parse_list(frozenset())
        self.separators()
        if self.i < self.n:
            raise self.error(f"unexpected {self.s[self.i : self.i + 20]!r}")
        return body

    def parse_list(self, stops: frozenset[str]) -> list[Any]:
        items: list[Any] = []
        s = self.s
        while True:
            self.separators()
            if self.i >= self.n or s[self.i] == ")":
                break
            word = self.peek_reserved()
            if word is not None and word in stops:
                break
            items.append(self.parse_and_or())
            self.blanks()
            if self.i < self.n:
                c = s[self.i]
                if c == "\n":
                    self.newline()
                    continue
                if c == ";" or (c == "&" and not s.startswith("&&", self.i)):
                    self.i += 1
                    continue
            break
        return items

    def parse_and_or(self) -> Any:
        first = self.parse_pipeline()
        rest = []
        s = self.s
        while True:
            self.blanks()
            op = s[self.i : self.i + 2]
            if op == "&&" or op == "||":
                self.i += 2
                self.separators()
                rest.append((op, self.parse_pipeline()))
            else:
                break
        return ("andor", first, rest) if rest else first

    def parse_pipeline(self) -> Any:
        self.blanks()
        negate = False
        if self.peek_reserved() == "!":
            negate = True
            self.i += 1
            self.blanks()
        commands = [self.parse_command()]
        s = self.s
        while True:
            self.blanks()
            if self.i < self.n and s[self.i] == "|" and not s.startswith("||", self.i):
                self.i += 1
                self.separators()
                commands.append(self.parse_command())
            else:
                break
        if negate or len(commands) > 1:
            return ("pipe", negate, commands)
        return commands[0]

    def parse_command(self) -> Any:
        self.blanks()
        if self.i >= self.n:
            raise self.error("unexpected end of script")
        c = self.s[self.i]
        if c == "(":
            self.i += 1
            body = self.parse_list(frozenset())
            self.separators()
            if self.i >= self.n or self.s[self.i] != ")":
                raise self.error("expected ')'")
            self.i += 1
            return ("sub", body, self.parse_redirs())
        word = self.peek_reserved()
        if word == "{":
            self.i += 1
            body = self.parse_list(frozenset(("}",)))
            self.expect("}")
            return ("brace", body, self.parse_redirs())
        if word == "if":
            self.i += 2
            branches = []
            else_body = None
            cond = self.parse_list(frozenset(("then",)))
            self.expect("then")
            body = self.parse_list(frozenset(("elif", "else", "fi")))
            branches.append((cond, body))
            while True:
                self.separators()
                word = self.peek_reserved()
                if word == "elif":
                    self.i += 4
                    cond = self.parse_list(frozenset(("then",)))
                    self.expect("then")
                    branches.append((cond, self.parse_list(frozenset(("elif", "else", "fi")))))
                elif word == "else":
                    self.i += 4
                    else_body = self.parse_list(frozenset(("fi",)))
                    self.expect("fi")
                    break
                else:
                    self.expect("fi")
                    break
            return ("if", branches, else_body, self.parse_redirs())
        if word == "for":
            self.i += 3
            self.blanks()
            m = _NAME.match(self.s, self.i)
            if m is None:
                raise self.error("expected a name after 'for'")
            name = m.group()
            self.i = m.end()
            self.blanks()
            items: list[Any] | None = None
            m = _PLAIN.match(self.s, self.i)
            if m is not None and m.group() == "in" and (m.end() == self.n or self.s[m.end()] in _DELIMS):
                self.i = m.end()
                items = []
                while True:
                    self.blanks()
                    if self.i >= self.n or self.s[self.i] in ";\n":
                        break
                    items.append(self.word())
            self.blanks()
            if self.i < self.n and self.s[self.i] == ";":
                self.i += 1
            self.expect("do")
            body = self.parse_list(frozenset(("done",)))
            self.expect("done")
            return ("for", name, items, body, self.parse_redirs())
        if word == "while" or word == "until":
            self.i += len(word)
            cond = self.parse_list(frozenset(("do",)))
            self.expect("do")
            body = self.parse_list(frozenset(("done",)))
            self.expect("done")
            if word == "until":
                cond = [("pipe", True, [("brace", cond, [])])]
            return ("while", cond, body, self.parse_redirs())
        if word is not None and word != "!":
            raise self.error(f"unexpected {word!r}")
        return self.parse_simple()

    def parse_redirs(self) -> list[Any]:
        redirs: list[list[Any]] = []
        while True:
            self.blanks()
            m = _REDIR.match(self.s, self.i)
            if m is None:
                return redirs
            redirs.append(self.redirect(m))

    def redirect(self, m: re.Match[str]) -> list[Any]:
        fd, op = m.group(1), m.group(2)
        self.i = m.end()
        self.blanks()
        word = self.word()
        if word == "" and op != "<<":
            raise self.error(f"{op} names no file")
        if op == "<<":
            if not isinstance(word, str):
                raise self.error("here-document delimiters must be plain")
            redir = ["<<", 0, word, None]
            self.heredocs.append(redir)
            return redir
        default = 0 if op[0] == "<" else 1
        return [op, int(fd) if fd else default, word, None]

    def parse_simple(self) -> Any:
        assigns: list[Any] = []
        words: list[Any] = []
        redirs: list[Any] = []
        s = self.s
        while True:
            self.blanks()
            if self.i >= self.n:
                break
            c = s[self.i]
            if c in ";&|)\n":
                break
            if c == "(":
                if len(words) == 1 and not assigns and isinstance(words[0], str) and _NAME.fullmatch(words[0]):
                    self.i += 1
                    self.blanks()
                    if self.i >= self.n or s[self.i] != ")":
                        raise self.error("expected ')' in a function definition")
                    self.i += 1
                    self.separators()
                    return ("func", words[0], self.parse_command())
                raise self.error("unexpected '('")
            if c == "<" or c == ">" or c.isdigit():
                m = _REDIR.match(s, self.i)
                if m is not None:
                    redirs.append(self.redirect(m))
                    continue
            if not words:
                m = _ASSIGN.match(s, self.i)
                if m is not None:
                    self.i = m.end()
                    assigns.append((m.group(1), self.word()))
                    continue
            if not words and not assigns and c == "}":
                break
            words.append(self.word())
        if not words and not assigns and not redirs:
            raise self.error(f"expected a command at {s[self.i : self.i + 20]!r}")
        return ("cmd", assigns, words, redirs)

    def word(self) -> Any:
        """One word from the current position: a str when it needs no expansion."""
        s, n = self.s, self.n
        lits: list[str] = []
        parts: list[Any] = []
        if self.i < n and s[self.i] == "~":
            m = _TILDE.match(s, self.i)
            if m is not None:
                parts.append(("~", m.group(1)))
                self.i = m.end()
        while self.i < n:
            m = _PLAIN.match(s, self.i)
            if m is not None:
                lits.append(m.group())
                self.i = m.end()
                continue
            c = s[self.i]
            if c == "'":
                j = s.find("'", self.i + 1)
                if j < 0:
                    raise self.error("unterminated single quote")
                lits.append(s[self.i + 1 : j])
                self.i = j + 1
            elif c == '"':
                self.i += 1
                while True:
                    if self.i >= n:
                        raise self.error("unterminated double quote")
                    m = _DQ_PLAIN.match(s, self.i)
                    if m is not None:
                        lits.append(m.group())
                        self.i = m.end()
                        continue
                    c = s[self.i]
                    if c == '"':
                        self.i += 1
                        break
                    if c == "\\":
                        nxt = s[self.i + 1 : self.i + 2]
                        if nxt in ('"', "\\", "$", "`"):
                            lits.append(nxt)
                        elif nxt != "\n":
                            lits.append("\\" + nxt)
                        self.i += 2
                    elif c == "$":
                        self.dollar(lits, parts)
                    else:
                        raise self.error("backquotes are not supported")
            elif c == "\\":
                nxt = s[self.i + 1 : self.i + 2]
                if nxt != "\n":
                    lits.append(nxt)
                self.i += 2
            elif c == "$":
                self.dollar(lits, parts)
            elif c == "`":
                raise self.error("backquotes are not supported")
            else:
                break
        if not parts:
            return "".join(lits)
        if lits:
            parts.append("".join(lits))
        return tuple(parts)

    def dollar(self, lits: list[str], parts: list[Any]) -> None:
        s = self.s
        i = self.i + 1
        c = s[i : i + 1]

        def flush() -> None:
            if lits:
                parts.append("".join(lits))
                lits.clear()

        if s.startswith("((", i):
            depth = 0
            j = i + 2
            while j < self.n:
                if s[j] == "(":
                    depth += 1
                elif s[j] == ")":
                    if depth == 0 and s.startswith("))", j):
                        break
                    depth -= 1
                j += 1
            else:
                raise self.error("unterminated $((")
            flush()
            parts.append(("a", s[i + 2 : j]))
            self.i = j + 2
        elif c == "(":
            self.i = i + 1
            body = self.parse_list(frozenset())
            self.separators()
            if self.i >= self.n or s[self.i] != ")":
                raise self.error("unterminated $(")
            self.i += 1
            flush()
            parts.append(("c", body))
        elif c == "{":
            j = _closing_brace(s, i + 1)
            if j < 0:
                raise self.error("unterminated ${")
            flush()
            parts.append(("v", s[i + 1 : j]))
            self.i = j + 1
        elif c and c in "?$#!@*-0123456789":
            flush()
            parts.append(("v", c))
            self.i = i + 1
        else:
            m = _NAME.match(s, i)
            if m is None:
                lits.append("$")
                self.i = i
                return
            flush()
            parts.append(("v", m.group()))
            self.i = m.end()


def _closing_brace(s: str, i: int) -> int:
    """Where the ``}`` that ends the ``${`` before ``s[i]`` is: quotes, backslashes and nested
    ``${...}`` in WORD skipped (-1: none)."""
    depth, n, dq = 0, len(s), False
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            dq = not dq
        elif c == "'" and not dq:
            j = s.find("'", i + 1)
            if j < 0:
                return -1
            i = j
        elif c == "$" and s.startswith("{", i + 1):
            depth += 1
            i += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


# Scripts of different hosts usually differ only by the connection's nonce and the host's
# name (in paths, in rendered files). Parsing is most of the simulator's cost, so a script is
# parsed once per *template*: its text with those strings replaced by placeholders that start
# with a NUL byte (a NUL can never be in a script: oxinfra.quoting rejects it). The placeholders
# are put back when words are expanded (Interpreter.restore). The replacement is exactly
# reversible, and it cannot change how the text parses as long as the replaced strings hold no
# shell syntax: the nonce is hex, and a host name is templated only if it has a character
# that no keyword or internal name has (``./@-``) and no character that means something to
# the shell. If a template does not parse, the script itself is parsed.

_NONCE_LINE = re.compile(r"__ox_n=([0-9a-f]+)\n")
_NAME_TEMPLATABLE = re.compile(r"[A-Za-z0-9_.@/-]*[.@/-][A-Za-z0-9_.@/-]*")
_PARSED: dict[str, list[Any]] = {}
_PARSED_MAX = 512


def template_of(text: str, subs: tuple[tuple[str, str], ...]) -> str:
    for placeholder, real in subs:
        text = text.replace(real, placeholder)
    return text


def substitutions(nonce: str | None, name: str) -> tuple[tuple[str, str], ...]:
    """(placeholder, real) pairs, in the order they are applied to a script's text."""
    subs = []
    if nonce and len(nonce) >= 16:
        subs += [("\x00N", nonce), ("\x00n", nonce[:8])]
    if len(name) >= 3 and _NAME_TEMPLATABLE.fullmatch(name):
        subs.append(("\x00H", name))
    return tuple(subs)


def parse_script(text: str, subs: tuple[tuple[str, str], ...] = ()) -> tuple[list[Any], bool]:
    """The parsed script, and whether it holds placeholders to restore."""
    if subs:
        key = template_of(text, subs)
        body = _PARSED.get(key)
        if body is not None:
            return body, True
        try:
            body = Parser(key).parse()
        except ShellSyntaxError:
            return Parser(text).parse(), False
        if len(_PARSED) >= _PARSED_MAX:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[key] = body
        return body, True
    return Parser(text).parse(), False
