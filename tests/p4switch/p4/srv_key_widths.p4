/* srv_key_widths.p4: match fields whose P4Info bitwidth is not the BMv2 JSON's,
 * as p4c writes them.
 *
 *   - by_parser_error (standard_metadata.parser_error) and by_error_and_type (a
 *     metadata error next to the EtherType): values of type `error`, which
 *     P4Runtime has no encoding for. The P4Info gives them no bitwidth, the
 *     JSON 32 bits. They set the egress port and the source MAC.
 *   - by_port: a type the P4Info shows as 32 bits (@p4runtime_translation), 9
 *     bits in the JSON (the ingress port). Sets the source MAC too.
 *   - by_tag: a type the P4Info shows as 12 bits, 16 in the JSON (the
 *     EtherType): both take 2 bytes. Sets the destination MAC.
 *   - by_nothing: a bit<0> field (0 bits in both) next to the EtherType, and an
 *     action with a bit<0> parameter. EtherType 0x88B5 adds a header with a
 *     bit<0> field. Sets the destination MAC.
 */
#include <core.p4>
#include <v1model.p4>

@p4runtime_translation("p4lb.test/port_t", bit<32>)
type bit<9> port_t;

@p4runtime_translation("p4lb.test/tag_t", bit<12>)
type bit<16> tag_t;

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header extra_t {
    bit<0> none;
    bit<8> value;
}

struct headers_t {
    ethernet_t ethernet;
    extra_t extra;
}

struct metadata_t {
    error seen;
    port_t in_port;
    tag_t tag;
    bit<0> nothing;
}

parser KeyParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x88B5: parse_extra;
            default: accept;
        }
    }
    state parse_extra {
        pkt.extract(hdr.extra);
        transition accept;
    }
}

control KeyVerifyChecksum(inout headers_t hdr, inout metadata_t meta) { apply { } }

control KeyIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    action forward(bit<9> port) { std.egress_spec = port; }
    action drop() { mark_to_drop(std); }
    action set_src(bit<48> src) { hdr.ethernet.src = src; }
    action set_dst(bit<48> dst) { hdr.ethernet.dst = dst; }
    action set_dst_and_nothing(bit<48> dst, bit<0> nothing) {
        hdr.ethernet.dst = dst;
        meta.nothing = nothing;
    }

    table by_parser_error {
        key = { std.parser_error : exact; }
        actions = { forward; drop; }
        default_action = forward(1);
        size = 16;
    }
    table by_error_and_type {
        key = {
            meta.seen : exact;
            hdr.ethernet.ether_type : exact;
        }
        actions = { set_src; NoAction; }
        default_action = NoAction();
        size = 16;
    }
    table by_port {
        key = { meta.in_port : exact; }
        actions = { set_src; NoAction; }
        default_action = NoAction();
        size = 16;
    }
    table by_tag {
        key = { meta.tag : exact; }
        actions = { set_dst; NoAction; }
        default_action = NoAction();
        size = 16;
    }

    table by_nothing {
        key = {
            meta.nothing : exact;
            hdr.ethernet.ether_type : exact;
        }
        actions = { set_dst_and_nothing; NoAction; }
        default_action = NoAction();
        size = 16;
    }

    apply {
        meta.seen = std.parser_error;
        meta.in_port = (port_t) std.ingress_port;
        meta.tag = (tag_t) hdr.ethernet.ether_type;
        by_parser_error.apply();
        by_error_and_type.apply();
        by_port.apply();
        by_tag.apply();
        by_nothing.apply();
    }
}

control KeyEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) { apply { } }

control KeyComputeChecksum(inout headers_t hdr, inout metadata_t meta) { apply { } }

control KeyDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.extra);
    }
}

V1Switch(KeyParser(), KeyVerifyChecksum(), KeyIngress(), KeyEgress(),
         KeyComputeChecksum(), KeyDeparser()) main;
