/* srv_dead_table.p4: a pipeline whose P4Info and BMv2 JSON disagree as p4c
 * makes them. p4c writes the P4Info from the program before its mid-end and
 * the JSON after it; the mid-end proves the `else` branch below dead (`mode` is
 * always 1) and drops the tables only that branch applies, by_src (keyed)
 * and untagged (keyless). The P4Info keeps them. dmac forwards as in
 * srv_minimal.p4.
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

struct headers_t { ethernet_t ethernet; }
struct metadata_t { }

parser DeadParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition accept;
    }
}

control DeadVerifyChecksum(inout headers_t hdr, inout metadata_t meta) { apply { } }

control DeadIngress(inout headers_t hdr, inout metadata_t meta,
                    inout standard_metadata_t std) {
    action forward(bit<9> port) { std.egress_spec = port; }
    action drop() { mark_to_drop(std); }
    action retag(bit<16> ether_type) { hdr.ethernet.ether_type = ether_type; }

    table dmac {
        key = { hdr.ethernet.dst : exact; }
        actions = { forward; drop; }
        default_action = drop();
        size = 64;
    }
    table by_src {
        key = { hdr.ethernet.src : exact; }
        actions = { retag; NoAction; }
        default_action = NoAction();
        size = 64;
    }
    table untagged {
        actions = { retag; NoAction; }
        default_action = NoAction();
    }

    apply {
        bit<8> mode = 1;
        if (mode == 1) {
            dmac.apply();
        } else {
            by_src.apply();
            untagged.apply();
        }
    }
}

control DeadEgress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) { apply { } }

control DeadComputeChecksum(inout headers_t hdr, inout metadata_t meta) { apply { } }

control DeadDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.ethernet); }
}

V1Switch(DeadParser(), DeadVerifyChecksum(), DeadIngress(), DeadEgress(),
         DeadComputeChecksum(), DeadDeparser()) main;
