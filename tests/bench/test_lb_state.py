"""The bench's traffic and state: valid frames, valid VPP configuration."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from bench.lb_state import LbStateSize, config_lines, flow_frame, write_state_file
from tests.integration.lb_fixture import LB_P4INFO

pytestmark = pytest.mark.skipif(not LB_P4INFO.exists(), reason="p4src/build not built yet")


@pytest.mark.parametrize("size", [54, 64, 1400])
def test_frames_have_correct_checksums_and_length(size) -> None:
    frame = flow_frame(70_000, 100, size, new=False)
    pkt = Ether(frame)
    rebuilt = Ether(frame)
    del rebuilt[IP].chksum
    del rebuilt[TCP].chksum
    assert len(frame) == size and bytes(rebuilt) == frame
    assert pkt[IP].dst == "10.0.0.1" and pkt[TCP].dport == 80


def test_frame_smaller_than_its_headers_is_refused() -> None:
    with pytest.raises(ValueError, match="frame size 40"):
        flow_frame(0, 1, 40, new=True)


def test_state_configuration_is_valid_vpp_grammar(tmp_path) -> None:
    config = write_state_file(config_lines(LbStateSize(vips=3, ases_per_vip=4)),
                              tmp_path / "state.json")
    assert len(config.vips()) == 3 and config.as_count() == 12
    assert (tmp_path / "state.json").exists()
