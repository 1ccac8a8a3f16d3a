"""Names to P4Info ids, ints to canonical bytes, and back; bad names and values refused."""

from __future__ import annotations

import pytest

from controller.p4_schema import DecodedEntry, P4Schema, SchemaError
from tests.integration.lb_fixture import lb_p4info


@pytest.fixture(scope="module")
def schema() -> P4Schema:
    return P4Schema(lb_p4info())


def test_round_trip_of_every_match_kind(schema: P4Schema) -> None:
    for entry in (
        DecodedEntry("maglev", (3, 1023), "use_bucket_as", (7,)),
        DecodedEntry("vip4", ((0x0A000000, 8),), "set_vip", (1, 1023, 1)),
        DecodedEntry("route6", ((1 << 127, 1),), "set_next_hop", (2, 0x02, 0xFFFFFFFFFFFF)),
        DecodedEntry("flow6", (1, 2**128 - 1, 5, 6, 0, 65535), "use_flow_as", (9,)),
    ):
        te = schema.encode_entry(entry)
        assert schema.decode_entry(te) == entry


def test_bytes_are_canonical(schema: P4Schema) -> None:
    te = schema.encode_entry(DecodedEntry("maglev", (0, 1), "use_bucket_as", (0,)))
    assert [m.exact.value for m in te.match] == [b"\x00", b"\x01"]
    assert te.action.action.params[0].value == b"\x00"


def test_lpm_zero_prefix_omits_the_field(schema: P4Schema) -> None:
    te = schema.encode_entry(DecodedEntry("route4", ((0, 0),), "no_route", ()))
    assert len(te.match) == 0


@pytest.mark.parametrize("entry,message", [
    (DecodedEntry("maglev", (1, 1 << 24), "use_bucket_as", (1,)), "maglev.bucket"),
    (DecodedEntry("maglev", (-1, 0), "use_bucket_as", (1,)), "maglev.vip_id"),
    (DecodedEntry("maglev", (1, 0), "use_bucket_as", (1 << 16,)), "use_bucket_as.as_id"),
    (DecodedEntry("maglev", (1,), "use_bucket_as", (1,)), "1 key values for 2"),
    (DecodedEntry("maglev", (1, 0), "encap_gre4", (1, 2)), "has no action encap_gre4"),
    (DecodedEntry("maglev", (1, 0), "use_bucket_as", ()), "0 params for 1"),
    (DecodedEntry("no_such_table", (), "x", ()), "no_such_table"),
])
def test_bad_entries_are_refused_naming_the_problem(schema, entry, message) -> None:
    with pytest.raises(SchemaError, match=message):
        schema.encode_entry(entry)
