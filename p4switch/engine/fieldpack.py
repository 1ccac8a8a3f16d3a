"""How a header's fields map to packet bytes, as struct formats (shared by the
parser's extract and the deparser's emit).

A header is cut into byte-aligned *chunks*: the shortest runs of fields that
end on a byte boundary (``version:4 + ihl:4`` is one 1-byte chunk; a 48-bit MAC
is one 6-byte chunk). Each chunk is read with native ``struct`` codes
(a 6-byte chunk as ``H`` + ``I``), so extracting a header is one
``unpack_from`` plus shifts, and emitting it one ``pack``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .layout import FieldInfo

_NATIVE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _pieces(nbytes: int) -> list[int] | None:
    """Split a chunk into native struct sizes, largest first; None if too long."""
    if nbytes > 16:
        return None
    out = []
    for size in (8, 4, 2, 1):
        while nbytes >= size:
            out.append(size)
            nbytes -= size
    return out


@dataclass
class Chunk:
    nbytes: int
    fields: list[tuple[FieldInfo, int]]  # (field, right shift inside the chunk value)
    pieces: list[int] | None  # native sizes, or None for one "Ns" bytes item


@dataclass
class HeaderPacking:
    fmt: struct.Struct
    chunks: list[Chunk]
    simple: bool  # every chunk is one field read by one native code


def plan(fields: list[FieldInfo]) -> HeaderPacking:
    chunks: list[Chunk] = []
    run: list[FieldInfo] = []
    bits = 0
    for f in fields:
        if f.width == 0:
            continue  # bit<0>: no bytes in the packet, and its value is always 0
        run.append(f)
        bits += f.width
        if bits % 8 == 0:
            shift = bits
            placed = []
            for g in run:
                shift -= g.width
                placed.append((g, shift))
            chunks.append(Chunk(bits // 8, placed, _pieces(bits // 8)))
            run, bits = [], 0
    if run:
        raise ValueError(f"fields {[f.name for f in run]} do not end on a byte boundary")
    codes = []
    for c in chunks:
        if c.pieces is None:
            codes.append(f"{c.nbytes}s")
        else:
            codes.extend(_NATIVE[p] for p in c.pieces)
    simple = len(chunks) == len(fields) and all(
        len(c.fields) == 1
        and not c.fields[0][0].signed
        and c.pieces is not None
        and len(c.pieces) == 1
        for c in chunks
    )
    return HeaderPacking(struct.Struct("!" + "".join(codes)), chunks, simple)


def _field_value(f: FieldInfo, chunk_value: str, shift: int, first: bool) -> str:
    v = chunk_value if shift == 0 else f"({chunk_value} >> {shift})"
    if not first:
        v = f"({v} & {f.mask:#x})"
    if f.signed:
        v = f"_sext({v}, {f.width})"
    return v


def unpack_lines(p: HeaderPacking, tuple_name: str, slot: callable) -> list[str]:
    """Statements assigning the fields from the unpacked tuple ``tuple_name``.

    ``slot(field)`` gives the source of the field's slot index (a constant, or
    ``_b + k`` for a stack element chosen at run time).
    """
    lines: list[str] = []
    item = 0
    for c in p.chunks:
        if c.pieces is None:
            value = f"int.from_bytes({tuple_name}[{item}], 'big')"
            item += 1
        else:
            parts = []
            rest = c.nbytes * 8
            for size in c.pieces:
                rest -= size * 8
                parts.append(
                    f"({tuple_name}[{item}] << {rest})" if rest else f"{tuple_name}[{item}]"
                )
                item += 1
            value = " | ".join(parts) if len(parts) > 1 else parts[0]
        if len(c.fields) == 1:
            f, _ = c.fields[0]
            v = f"_sext({value}, {f.width})" if f.signed else value
            lines.append(f"F[{slot(f)}] = {v}")
        else:
            lines.append(f"_c = {value}")
            for k, (f, shift) in enumerate(c.fields):
                lines.append(f"F[{slot(f)}] = {_field_value(f, '_c', shift, k == 0)}")
    return lines


def pack_args(p: HeaderPacking, value_of: callable) -> list[str]:
    """The ``struct.pack`` arguments that emit fields; ``value_of(field)`` is the
    source of a field's value (``F[12]`` for a header field)."""
    args: list[str] = []
    for c in p.chunks:
        terms = []
        for f, shift in c.fields:
            v = value_of(f)
            if f.signed:
                v = f"({v} & {f.mask:#x})"
            terms.append(f"({v} << {shift})" if shift else v)
        value = " | ".join(terms)
        if c.pieces is None:
            args.append(f"({value}).to_bytes({c.nbytes}, 'big')")
            continue
        if len(c.pieces) == 1:
            args.append(value)
            continue
        rest = c.nbytes * 8
        for size in c.pieces:
            rest -= size * 8
            part = f"(({value}) >> {rest})" if rest else f"({value})"
            args.append(f"({part} & {(1 << (size * 8)) - 1:#x})")
    return args
