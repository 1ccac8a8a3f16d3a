"""p4runtime-shell alone pushes lb.p4 and writes what one GRE4 VIP needs.

    python lb_entries.py GRPC_ADDR P4INFO_TXT BMV2_JSON

Run in p4runtime-shell's environment by tests/test_ptf_p4runtime_shell.py,
which then sends a packet to the VIP with PTF.
"""

import sys

import p4runtime_sh.shell as sh


def entry(table, action, match, params):
    te = sh.TableEntry(table)(action=action)
    for k, v in match.items():
        te.match[k] = v
    for k, v in params.items():
        te.action[k] = v
    te.insert()


def main(grpc_addr, p4info, device_config):
    sh.setup(device_id=0, grpc_addr=grpc_addr, election_id=(0, 1),
             config=sh.FwdPipeConfig(p4info, device_config), verbose=False)
    try:
        entry("vip4", "set_vip", {"dst_addr": "10.0.0.1/32"},
              {"vip_id": "1", "new_len_mask": "0", "src_ip_sticky": "0", "flush_epoch": "0"})
        entry("maglev", "use_bucket_as", {"vip_id": "1", "bucket": "0"}, {"as_id": "7"})
        entry("as_encap", "encap_gre4", {"as_id": "7"},
              {"src_addr": "192.0.2.1", "as_addr": "10.1.0.7"})
        entry("route4", "set_next_hop", {"dst_addr": "10.1.0.0/16"},
              {"port": "2", "src_mac": "02:4c:42:00:00:02", "dst_mac": "02:00:00:00:00:a5"})
        read = list(sh.TableEntry("maglev").read())
        assert len(read) == 1, read
        assert read[0].action["as_id"].value == b"\x07", read[0]
    finally:
        sh.teardown()


if __name__ == "__main__":
    main(*sys.argv[1:])
