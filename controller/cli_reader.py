"""Reading a command line word by word: keywords, options, values, completion.

:class:`Reader` walks the words of one line for the grammar in
:mod:`controller.cli_grammar`; every keyword may be an unambiguous prefix
(:func:`resolve_keyword`), and every error is a :class:`ParseError` quoting
the line up to the offending word. In completion mode the reader raises
:class:`Completion` with the words that may come next when it reaches the
end of the line.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from controller.lb_values import LbConfigError, check_int, check_power_of_two, parse_enum

if TYPE_CHECKING:
    from controller.lb_model import LbConfig

_T = TypeVar("_T")


class ParseError(LbConfigError):
    """A command line the grammar does not allow.

    ``position`` is the index of the offending token (``len(tokens)`` when the
    line ended too early), ``expected`` the words that would have fitted.
    """

    def __init__(self, context: str, problem: str, position: int, expected: Sequence[str] = ()):
        super().__init__(f"{context}: {problem}" if context else problem)
        self.position = position
        self.expected = tuple(expected)


class Completion(Exception):
    """Raised in completion mode when the parser reaches the end of the words."""

    def __init__(self, candidates: Iterable[str]) -> None:
        self.candidates = list(candidates)


class Reader:
    """The words of one line, consumed left to right."""

    def __init__(
        self, tokens: list[str], completing: bool = False, config: LbConfig | None = None
    ) -> None:
        self.tokens = tokens
        self.pos = 0
        self.completing = completing
        self.config = config

    def context(self, upto: int) -> str:
        return " ".join(self.tokens[: upto + 1])

    def fail(self, problem: str, at: int | None = None, expected: Sequence[str] = ()) -> ParseError:
        at = self.pos if at is None else at
        return ParseError(self.context(at), problem, at, expected)

    def done(self, candidates: Iterable[str] = ()) -> bool:
        """True at the end of the line (in completion mode: offer ``candidates``)."""
        if self.pos < len(self.tokens):
            return False
        if self.completing:
            raise Completion(candidates)
        return True

    def keyword(self, choices: Sequence[str], what: str) -> str:
        if self.done(choices):
            raise self.fail(
                f"missing {what}, expected one of {', '.join(choices)}", expected=choices
            )
        token = self.tokens[self.pos]
        try:
            word = resolve_keyword(token, choices, what)
        except LbConfigError as e:
            raise self.fail(str(e), expected=choices) from None
        if word is None:
            raise self.fail(
                f"unknown {what} {token!r}, expected one of {', '.join(choices)}",
                expected=choices,
            )
        self.pos += 1
        return word

    def value(self, what: str, convert: Callable[[str], _T], candidates: Sequence[str] = ()) -> _T:
        """The next word, converted; errors from ``convert`` are reported at that word."""
        if self.done(candidates):
            raise self.fail(f"expected {what}", expected=candidates)
        token = self.tokens[self.pos]
        try:
            result = convert(token)
        except LbConfigError as e:
            raise self.fail(str(e), expected=candidates) from None
        self.pos += 1
        return result

    def vip_prefixes(self) -> list[str]:
        if self.config is None:
            return []
        return sorted({str(v.prefix) for v in self.config.vips()})


def resolve_keyword(token: str, choices: Sequence[str], what: str) -> str | None:
    """The keyword ``token`` names: itself, or the one choice it is a prefix of.

    None when it names none; an LbConfigError naming the candidates when it
    is a prefix of several (an exact match always wins: ``buckets``).
    """
    if token in choices:
        return token
    matches = [c for c in choices if c.startswith(token)]
    if len(matches) > 1:
        raise LbConfigError(f"ambiguous {what} {token!r}: could be {', '.join(matches)}")
    return matches[0] if matches else None


def number(what: str, low: int, high: int) -> Callable[[str], int]:
    def convert(token: str) -> int:
        if not token.isascii() or not token.isdigit():
            raise LbConfigError(f"{what} {token!r} is not a decimal number")
        return check_int(int(token), what, low, high)

    return convert


def milliseconds(what: str, low: int, high: int) -> Callable[[str], int]:
    """Seconds with up to three decimals ('2', '0.5') as milliseconds, within low-high ms."""

    def convert(token: str) -> int:
        whole, dot, frac = token.partition(".")
        digits = whole + frac
        if not digits or not digits.isascii() or not digits.isdigit() or len(frac) > 3 \
                or (dot and not frac) or not whole:
            raise LbConfigError(f"{what} {token!r} is not a number of seconds like 2 or 0.5")
        ms = int(whole) * 1000 + int(frac.ljust(3, "0") or 0)
        if not low <= ms <= high:
            raise LbConfigError(f"{what} {token}s is out of range {low / 1000:g}-{high / 1000:g}s")
        return ms

    return convert


def power_of_two(what: str, high: int) -> Callable[[str], int]:
    def convert(token: str) -> int:
        return check_power_of_two(number(what, 0, 1 << 64)(token), what, high)

    return convert


def choice(enum_type: type[enum.StrEnum], what: str) -> Callable[[str], enum.StrEnum]:
    values = [m.value for m in enum_type]

    def convert(token: str) -> enum.StrEnum:
        return parse_enum(enum_type, resolve_keyword(token, values, what) or token, what)

    return convert


def options(
    reader: Reader,
    names: Sequence[str],
    extra: Callable[[str], bool] | None = None,
    extra_candidates: Iterable[str] = (),
    values: dict[str, Callable[[Reader], object]] | None = None,
) -> dict[str, Any]:
    """Reads ``name [value]`` options in any order, each at most once.

    An option's value is read by its entry in ``values``; an option without
    an entry is a flag (True).
    ``extra`` may consume a word that is not an option (AS addresses).
    """
    values = values or {}
    seen: dict[str, Any] = {}
    while not reader.done([n for n in names if n not in seen] + list(extra_candidates)):
        try:
            name = resolve_keyword(reader.tokens[reader.pos], names, "option")
        except LbConfigError as e:
            raise reader.fail(str(e), expected=names) from None
        if name is None:
            token = reader.tokens[reader.pos]
            if extra is not None and extra(token):
                continue
            what = "an AS address or one of" if extra is not None else "one of"
            raise reader.fail(
                f"unknown option {token!r}, expected {what} {', '.join(names)}",
                expected=names,
            )
        token = name
        if token in seen:
            raise reader.fail(f"{token!r} is given twice")
        reader.pos += 1
        read_value = values.get(token)
        seen[token] = True if read_value is None else read_value(reader)
    return seen
