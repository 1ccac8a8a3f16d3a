/* eng_tables.p4: match kinds, table properties and control flow.
 *
 * The ingress port picks which table runs (one feature per port), the result
 * goes into the packet: ipv4.identification = meta.tag, ipv4.diffserv =
 * meta.color, and the egress port (2 unless an action chose another).
 *   port 1: t_exact   (exact x2, direct counter, .hit adds 0x8000)
 *   port 2: t_lpm     (lpm, direct meter read into meta.color)
 *   port 3: t_ternary (ternary x2, switch on action_run, exit on drop)
 *   port 4: t_range   (range + exact)
 *   port 5: t_optional (optional x2)
 *   port 6: t_const   (const entries, const default action)
 *   port 7: t_selector (action selector over src/sport)
 *   port 8: t_profile  (action profile)
 *   port 9: t_valid    (a key on a header's validity bit: tcp valid or not)
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> checksum;
    bit<32> src;
    bit<32> dst;
}

header ports_t {
    bit<16> sport;
    bit<16> dport;
}

struct headers_t {
    ethernet_t ethernet;
    ipv4_t     ipv4;
    ports_t    ports;
}

struct metadata_t {
    bit<16> tag;
    bit<8>  color;
}

parser EngParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x0800: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.protocol) {
            6: parse_ports;
            17: parse_ports;
            default: accept;
        }
    }
    state parse_ports {
        pkt.extract(hdr.ports);
        transition accept;
    }
}

control EngVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    direct_counter(CounterType.packets_and_bytes) exact_counter;
    direct_meter<bit<8>>(MeterType.packets) lpm_meter;

    action set_tag(bit<16> tag) { meta.tag = tag; }
    action set_tag_metered(bit<16> tag) {
        meta.tag = tag;
        lpm_meter.read(meta.color);
    }
    action set_port(bit<9> port) { std.egress_spec = port; }
    action drop() { mark_to_drop(std); }
    action nop() { }

    table t_exact {
        key = {
            hdr.ipv4.src      : exact;
            hdr.ipv4.protocol : exact;
        }
        actions = { set_tag; nop; }
        counters = exact_counter;
        default_action = nop();
        size = 64;
    }

    table t_lpm {
        key = { hdr.ipv4.dst : lpm; }
        actions = { set_tag_metered; nop; }
        meters = lpm_meter;
        default_action = nop();
    }

    table t_ternary {
        key = {
            hdr.ipv4.src   : ternary;
            hdr.ports.dport : ternary;
        }
        actions = { set_tag; drop; nop; }
        default_action = nop();
    }

    table t_range {
        key = {
            hdr.ports.sport   : range;
            hdr.ipv4.protocol : exact;
        }
        actions = { set_tag; nop; }
        default_action = nop();
    }

    table t_optional {
        key = {
            hdr.ipv4.protocol : optional;
            hdr.ports.dport   : optional;
        }
        actions = { set_tag; nop; }
        default_action = nop();
    }

    table t_const {
        key = { hdr.ipv4.diffserv : exact; }
        actions = { set_tag; nop; }
        const entries = {
            1 : set_tag(0x0101);
            2 : set_tag(0x0202);
        }
        const default_action = set_tag(0x0E0E);
    }

    action_selector(HashAlgorithm.crc16, 32w16, 32w16) sel;
    table t_selector {
        key = {
            hdr.ipv4.dst    : exact;
            hdr.ipv4.src    : selector;
            hdr.ports.sport : selector;
        }
        actions = { set_port; drop; }
        implementation = sel;
        size = 16;
    }

    action_profile(32w16) profile;
    table t_profile {
        key = { hdr.ports.dport : exact; }
        actions = { set_tag; nop; }
        implementation = profile;
        size = 16;
    }

    table t_valid {
        key = {
            hdr.ports.isValid() : exact;
            hdr.ipv4.protocol   : exact;
        }
        actions = { set_tag; nop; }
        default_action = nop();
    }

    apply {
        std.egress_spec = 2;
        meta.tag = 0;
        meta.color = 0;
        if (std.ingress_port == 1) {
            if (t_exact.apply().hit) {
                meta.tag = meta.tag | 0x8000;
            }
        } else if (std.ingress_port == 2) {
            t_lpm.apply();
        } else if (std.ingress_port == 3) {
            switch (t_ternary.apply().action_run) {
                drop: { exit; }
                set_tag: { meta.tag = meta.tag + 1; }
            }
        } else if (std.ingress_port == 4) {
            t_range.apply();
        } else if (std.ingress_port == 5) {
            t_optional.apply();
        } else if (std.ingress_port == 6) {
            t_const.apply();
        } else if (std.ingress_port == 7) {
            t_selector.apply();
        } else if (std.ingress_port == 8) {
            t_profile.apply();
        } else if (std.ingress_port == 9) {
            t_valid.apply();
        }
        if (hdr.ipv4.isValid()) {
            hdr.ipv4.identification = meta.tag;
            hdr.ipv4.diffserv = meta.color;
        }
    }
}

control EngEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    apply { }
}

control EngComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.ports);
    }
}

V1Switch(EngParser(), EngVerifyChecksum(), EngIngress(), EngEgress(),
         EngComputeChecksum(), EngDeparser()) main;
