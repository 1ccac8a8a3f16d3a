"""The committed P4 artifacts match their sources and expose what the controller needs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from google.protobuf import text_format

from controller.p4runtime_proto import p4info_pb2
from tools.p4_stamp import stale_entries

ROOT = Path(__file__).resolve().parent.parent
LB_STAMP = ROOT / "p4src" / "build" / "lb.stamp.json"
TEST_PROGRAMS_STAMP = ROOT / "tests" / "p4switch" / "p4" / "build" / "programs.stamp.json"


def load_p4info() -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse((ROOT / "p4src" / "build" / "lb.p4info.txt").read_text(), info)
    return info


@pytest.mark.parametrize("stamp", [LB_STAMP, TEST_PROGRAMS_STAMP], ids=["lb", "test-programs"])
def test_artifacts_match_sources(stamp: Path) -> None:
    if stamp is TEST_PROGRAMS_STAMP and not stamp.exists():
        pytest.skip("no test programs compiled yet")
    problems = stale_entries(stamp)
    assert not problems, "stale P4 build, run `make p4`:\n" + "\n".join(problems)


def test_stamp_detects_an_edited_source(tmp_path: Path) -> None:
    copy = tmp_path / "p4src"
    shutil.copytree(ROOT / "p4src", copy)
    assert stale_entries(copy / "build" / "lb.stamp.json") == []
    with open(copy / "routing.p4", "a") as f:
        f.write("\n// edited\n")
    (copy / "extra.p4").write_text("// new file\n")
    problems = stale_entries(copy / "build" / "lb.stamp.json")
    assert any("routing.p4" in p for p in problems)
    assert any("extra.p4" in p for p in problems)


def test_stamp_records_the_p4c_version() -> None:
    import json

    doc = json.loads(LB_STAMP.read_text())
    assert "p4c" in doc["p4c_version"].lower() or doc["p4c_version"][0].isdigit()


def names(entities) -> set[str]:
    return {e.preamble.name for e in entities}


def test_p4info_exposes_what_the_controller_uses() -> None:
    info = load_p4info()
    assert {
        "vip4", "vip6", "vip_port", "flow4", "flow6", "maglev", "as_encap",
        "reverse_nat4", "reverse_nat6", "route4", "route6", "pending_conf",
    } <= names(info.tables)
    assert {
        "set_vip", "set_vip_prefix", "use_flow_as", "use_bucket_as", "encap_gre4",
        "encap_gre6", "encap_l3dsr", "encap_nat4", "encap_nat6", "reverse_nat4_rewrite",
        "reverse_nat6_rewrite", "set_next_hop", "no_route", "set_pending_lifetime",
    } <= names(info.actions)
    assert {
        "vip_existing_session", "vip_first_session", "vip_untracked", "vip_no_server",
        "vip_pending_collision", "as_packets", "drop_counter",
    } <= names(info.counters)
    assert names(info.digests) == {"flow_digest_t"}


def test_flow_tables_age_and_maglev_key_is_vip_and_bucket() -> None:
    info = load_p4info()
    tables = {t.preamble.name: t for t in info.tables}
    assert tables["flow4"].idle_timeout_behavior == p4info_pb2.Table.NOTIFY_CONTROL
    assert tables["flow6"].idle_timeout_behavior == p4info_pb2.Table.NOTIFY_CONTROL
    assert [(m.name, m.bitwidth) for m in tables["maglev"].match_fields] == [
        ("vip_id", 16), ("bucket", 24),
    ]
    assert [m.name for m in tables["flow6"].match_fields] == [
        "vip_id", "src_addr", "dst_addr", "protocol", "src_port", "dst_port",
    ]
