/* srv_minimal.p4: a second, tiny program for the server tests that swap
 * pipelines: one exact table forwarding on the destination MAC. */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

struct headers_t { ethernet_t ethernet; }
struct metadata_t { }

parser MinParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition accept;
    }
}

control MinVerifyChecksum(inout headers_t hdr, inout metadata_t meta) { apply { } }

control MinIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    action forward(bit<9> port) { std.egress_spec = port; }
    action drop() { mark_to_drop(std); }
    table dmac {
        key = { hdr.ethernet.dst : exact; }
        actions = { forward; drop; }
        default_action = drop();
        size = 1024;
    }
    apply { dmac.apply(); }
}

control MinEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) { apply { } }

control MinComputeChecksum(inout headers_t hdr, inout metadata_t meta) { apply { } }

control MinDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.ethernet); }
}

V1Switch(MinParser(), MinVerifyChecksum(), MinIngress(), MinEgress(),
         MinComputeChecksum(), MinDeparser()) main;
