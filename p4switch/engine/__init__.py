"""The embedded switch's data plane: executes p4c's BMv2 JSON (v1model) with
simple_switch semantics. ``load_switch`` is the entry point the P4Runtime
server uses (contract: p4switch/runtime_api.py).

The JSON is compiled once, at load, into Python functions (see codegen.py);
packets then run generated code, never a walk over the JSON. Modules, in the
spirit of BMv2's src/bm_sim and targets/simple_switch:

- layout.py       header vector layout: every field's slot in the flat lists F/V/N
- codegen.py      the namespace generated code runs in; exceptions it raises
- expressions.py  JSON expressions -> Python expressions
- primitives.py   action primitives -> Python statements (assign, add_header, hash, clone...)
- actions.py      action functions, including p4c's _jump/_jump_if_zero
- headers.py      whole-header operations: unions, stack push/pop, header copies
- fieldpack.py    header <-> bytes as struct formats (shared by parser and deparser)
- parser.py       parse states -> functions; parser errors as BMv2; value sets
- deparser.py     the deparser
- hashes.py       BMv2's hash algorithms (crc16/32, csum16, xor16, identity...)
- checksums.py    named calculations and verify/update checksums
- externs.py      counter, meter and register arrays
- action_profiles.py  action profiles and selectors
- match_units.py  table keys and lookup structures (exact dict, LPM levels, ternary/range lists)
- tables.py       match tables: entries, defaults, indirect tables, direct resources, ageing
- controls.py     control flow graphs (tables, conditionals, action calls)
- program.py      loads a whole program; bad JSON raises ValueError naming the element
- v1model.py      simple_switch's intrinsic metadata and instance types
- packet.py       one packet in flight
- replication.py  multicast groups and clone sessions
- pipeline.py     simple_switch's packet path: ingress, replication, egress, recirculation
- switch.py       the SwitchRuntime object: runtime API, lock, ageing thread
- bench.py        packets/s of the engine on any program (python -m p4switch.engine.bench)

Speed comes from what the generated code avoids: fields are ints in a flat
list at constant indices; headers go in and out with one ``struct`` call;
each pipeline is one function (branches rejoin at post-dominators, p4c's
keyless tables become inlined action bodies); parser states along acyclic
paths are spliced into one function; the Internet checksum is computed from
field values without building bytes; ageing keeps entries in deadline slots.
"""

from __future__ import annotations

from .switch import EmbeddedSwitch


def load_switch(bmv2_json: dict, cpu_port: int | None) -> EmbeddedSwitch:
    """Load a BMv2 JSON program; raises ValueError naming the bad JSON element."""
    return EmbeddedSwitch(bmv2_json, cpu_port)


__all__ = ["EmbeddedSwitch", "load_switch"]
