"""Generated Python: the namespace it runs in and the exceptions it raises.

"Interpret once, run many": every parser state, action, condition, key
builder, checksum and the deparser is turned into Python source at load time
and compiled into one namespace per loaded program. Generated code sees the
packet as ``P`` (a :class:`~p4switch.engine.packet.Packet`), its field list as
``F``, validity flags as ``V``, stack counters as ``N`` and action data as
``D``; every other object it needs (tables, counters, helper functions) is
bound into the namespace under a generated name by :meth:`CodeUnit.bind`.
"""

from __future__ import annotations

import itertools
import logging
import re
from typing import Any

log = logging.getLogger("p4switch.engine")


class ParserError(Exception):
    """A parser exception (BMv2 ``parser_exception``): stops parsing with ``code``."""

    def __init__(self, code: int, pos: int) -> None:
        super().__init__(code)
        self.code = code
        self.pos = pos


class StackOutOfBounds(Exception):
    """``hs.last``/``hs.next`` on an empty or full stack, or a bad stack index."""


class PacketFault(Exception):
    """The program did something BMv2 aborts on (a failed ``assert``, a division by
    zero, an out-of-range stack index). The packet is dropped and counted; the
    switch keeps running."""


def sign_extend(value: int, width: int) -> int:
    """Two's complement value of the low ``width`` bits of ``value``."""
    half = 1 << (width - 1)
    return ((value + half) & ((half << 1) - 1)) - half


def two_comp_mod(value: int, width: int) -> int:
    return sign_extend(value, width)


def usat_cast(value: int, width: int) -> int:
    top = (1 << width) - 1
    return top if value > top else 0 if value < 0 else value


def sat_cast(value: int, width: int) -> int:
    top = (1 << (width - 1)) - 1
    low = -(1 << (width - 1))
    return top if value > top else low if value < low else value


def prologue(body: str, indent: str = "    ") -> str:
    """The local bindings (F, V, N) that ``body`` actually uses, as one line."""
    names = [n for n in ("F", "V", "N") if re.search(r"\b" + n + r"\b", body)]
    if not names:
        return ""
    return indent + "; ".join(f"{n} = P.{n}" for n in names) + "\n"


def fault(message: str) -> None:
    raise PacketFault(message)


class CodeUnit:
    """One namespace of generated functions, and the objects they call."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "__builtins__": __builtins__,
            "ParserError": ParserError,
            "StackOutOfBounds": StackOutOfBounds,
            "PacketFault": PacketFault,
            "_sext": sign_extend,
            "_two_comp_mod": two_comp_mod,
            "_usat_cast": usat_cast,
            "_sat_cast": sat_cast,
            "_fault": fault,
            "_log": log,
        }
        self._ids = itertools.count()
        self._bound: dict[int, str] = {}
        self.sources: dict[str, str] = {}  # generated source by function name, for debugging

    def bind(self, prefix: str, obj: Any) -> str:
        """Put ``obj`` in the namespace; returns the name generated code uses for it."""
        known = self._bound.get(id(obj))
        if known is not None and self.ns.get(known) is obj:
            return known
        name = f"_{prefix}{next(self._ids)}"
        self.ns[name] = obj
        self._bound[id(obj)] = name
        return name

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def define(self, name: str, source: str) -> Any:
        """Compile ``source`` (which defines ``name``) and return the function."""
        try:
            code = compile(source, f"<p4:{name}>", "exec")
        except SyntaxError as e:  # a bug in a generator, not in the program
            raise RuntimeError(f"generated code for {name} does not compile: {e}\n{source}") from e
        exec(code, self.ns)
        self.sources[name] = source
        return self.ns[name]
