/* eng_replication.p4: the packet replication engine and simple_switch's
 * packet-path primitives.
 *
 * The destination MAC selects a behaviour (table `mode`): unicast, multicast
 * (mcast_grp), ingress clone, egress clone, resubmit, recirculate, truncate.
 * Frames carry a `tag` header (EtherType 0x88B6) that egress fills with what
 * the copy saw: instance_type, egress_rid, preserved metadata, ports.
 * Metadata fields tagged @field_list(1) survive clones, @field_list(2)
 * resubmit and recirculation.
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header tag_t {
    bit<8>  instance_type;
    bit<8>  rid;
    bit<8>  mark;
    bit<8>  rounds;
    bit<16> egress_port;
    bit<16> ingress_port;
    bit<32> packet_length;
}

struct headers_t {
    ethernet_t ethernet;
    tag_t      tag;
}

struct metadata_t {
    @field_list(1)
    bit<8> mark;
    @field_list(1, 2)
    bit<8> rounds;
    @field_list(2)
    bit<8> want_recirc;
    bit<8> e2e;
    bit<32> session;
}

parser EngParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x88B6: parse_tag;
            default: accept;
        }
    }
    state parse_tag {
        pkt.extract(hdr.tag);
        transition accept;
    }
}

control EngVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    action unicast(bit<9> port) {
        std.egress_spec = port;
    }
    action multicast(bit<16> group) {
        std.mcast_grp = group;
    }
    action clone_i2e(bit<9> port, bit<32> session) {
        std.egress_spec = port;
        meta.mark = 0x11;
        clone_preserving_field_list(CloneType.I2E, session, 1);
    }
    action clone_e2e(bit<9> port, bit<32> session) {
        std.egress_spec = port;
        meta.e2e = 1;
        meta.session = session;
    }
    action resubmit_once(bit<9> port) {
        std.egress_spec = port;
        meta.rounds = meta.rounds + 1;
    }
    action recirculate_twice(bit<9> port) {
        std.egress_spec = port;
        meta.want_recirc = 1;
    }
    action truncate_to(bit<9> port, bit<32> length) {
        std.egress_spec = port;
        truncate(length);
    }
    action drop() {
        mark_to_drop(std);
    }

    table mode {
        key = { hdr.ethernet.dst : exact; }
        actions = { unicast; multicast; clone_i2e; clone_e2e; resubmit_once;
                    recirculate_twice; truncate_to; drop; }
        default_action = drop();
    }

    apply {
        if (std.instance_type == 6) {
            meta.mark = 0x66;  /* resubmitted */
        } else if (std.instance_type == 4) {
            meta.mark = 0x44;  /* recirculated */
        }
        switch (mode.apply().action_run) {
            resubmit_once: {
                if (meta.rounds == 1) {
                    resubmit_preserving_field_list(2);
                }
            }
        }
    }
}

control EngEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    apply {
        if (hdr.tag.isValid()) {
            hdr.tag.instance_type = (bit<8>)std.instance_type;
            hdr.tag.rid = (bit<8>)std.egress_rid;
            hdr.tag.mark = meta.mark;
            hdr.tag.rounds = meta.rounds;
            hdr.tag.egress_port = (bit<16>)std.egress_port;
            hdr.tag.ingress_port = (bit<16>)std.ingress_port;
            hdr.tag.packet_length = std.packet_length;
        }
        if (meta.e2e == 1 && std.instance_type == 0) {
            meta.mark = 0x22;
            clone_preserving_field_list(CloneType.E2E, meta.session, 1);
        }
        if (meta.want_recirc == 1 && meta.rounds < 2) {
            meta.rounds = meta.rounds + 1;
            recirculate_preserving_field_list(2);
        }
    }
}

control EngComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.tag);
    }
}

V1Switch(EngParser(), EngVerifyChecksum(), EngIngress(), EngEgress(),
         EngComputeChecksum(), EngDeparser()) main;
