"""The arithmetic Internet checksum (no bytes built) equals the checksum of the
bytes BMv2 would build, for random field layouts, validities, varbits and
payloads (property test)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from p4switch.engine.checksums import build_input
from p4switch.engine.codegen import CodeUnit
from p4switch.engine.layout import Layout
from p4switch.engine.packet import Packet

from .jsonprog import field


@st.composite
def layouts(draw):
    """Two headers (h0, h1) of random byte-multiple widths, a metadata header,
    and an optional varbit in h1."""

    def widths(total_bytes):
        cuts = sorted(draw(st.sets(st.integers(1, total_bytes * 8 - 1), max_size=6)))
        edges = [0, *cuts, total_bytes * 8]
        return [b - a for a, b in zip(edges, edges[1:], strict=False)]

    # whole 16-bit words mostly (the arithmetic path), sometimes odd bytes (the fallback)
    h0 = widths(draw(st.sampled_from([2, 4, 6, 3])))
    h1 = widths(draw(st.sampled_from([2, 4, 6, 5])))
    meta = [draw(st.integers(1, 24)) for _ in range(draw(st.integers(0, 3)))]
    varbit = draw(st.booleans())
    return h0, h1, meta, varbit


def program(h0, h1, meta, varbit):
    types = [
        {"name": "t0", "fields": [[f"f{i}", w] for i, w in enumerate(h0)]},
        {"name": "t1", "fields": [[f"f{i}", w] for i, w in enumerate(h1)]
         + ([["opt", "*"]] if varbit else []), "max_length": 64},
        {"name": "m", "fields": [[f"f{i}", w] for i, w in enumerate(meta)] + [["pad", 8]]},
    ]  # fmt: skip
    headers = [
        {"name": "h0", "id": 0, "header_type": "t0", "metadata": False},
        {"name": "h1", "id": 1, "header_type": "t1", "metadata": False},
        {"name": "m", "id": 2, "header_type": "m", "metadata": True},
    ]
    inputs = [field("h0", f"f{i}") for i in range(len(h0))]
    inputs += [field("m", f"f{i}") for i in range(len(meta))]
    inputs += [field("h1", f"f{i}") for i in range(len(h1))]
    if varbit:
        inputs.append(field("h1", "opt"))
    return {"header_types": types, "headers": headers}, inputs


@settings(max_examples=200, deadline=None)
@given(layouts(), st.data())
def test_arithmetic_equals_bytes(shape, data):
    h0, h1, meta, varbit = shape
    j, inputs = program(h0, h1, meta, varbit)
    layout = Layout(j)
    with_payload = data.draw(st.booleans())
    if with_payload:
        inputs = [*inputs, {"type": "payload", "value": None}]
    unit = CodeUnit()
    fast = build_input(layout, unit, inputs, "csum16", "test")
    slow = build_input(layout, unit, inputs, "csum16", "test", arithmetic=False)
    if sum(h0) % 16 == 0 and sum(h1) % 16 == 0:
        assert fast.__name__.startswith("csum")  # the arithmetic version was generated
    F, V = layout.initial_state()
    for h in layout.headers:
        for f in h.fields:
            if f.varbit:
                nbytes = data.draw(st.integers(0, 8))
                F[f.width_slot] = nbytes * 8
                F[f.slot] = data.draw(st.integers(0, (1 << (nbytes * 8)) - 1))
            else:
                F[f.slot] = data.draw(st.integers(0, f.mask))
    V[0] = data.draw(st.integers(0, 1))
    V[1] = data.draw(st.integers(0, 1))
    P = Packet(F, V, [], b"")
    P.payload = data.draw(st.binary(max_size=9))
    assert fast(P) == slow(P)
