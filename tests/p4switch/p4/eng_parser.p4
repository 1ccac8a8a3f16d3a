/* eng_parser.p4: the parser features of the embedded switch.
 *
 * VLAN tags into a header stack (next/last), IPv4 with options as a varbit
 * extracted with a length computed from a lookahead, a verify() with a
 * program error, a select on two fields with a mask-free tuple, a parser
 * value set, and a header union for TCP/UDP. Ingress reports what the parser
 * saw in a `report` header emitted before Ethernet, and changes headers by
 * ingress port: 1 pushes a VLAN tag, 2 pops one, 3 replaces TCP by UDP in
 * the union (setValid on one member invalidates the other).
 */
#include <core.p4>
#include <v1model.p4>

error { BadIhl }

header report_t {
    bit<8>  parser_error;   /* 0 none, 1 too short, 2 BadIhl, 3 stack full, 4 header too short */
    bit<8>  vlans;          /* VLAN tags the parser counted */
    bit<8>  l4;             /* 1 tcp, 2 udp, 0 none */
    bit<8>  custom;         /* custom.value when the value set matched */
    bit<16> options_bytes;
    bit<16> last_vid;       /* vid of the last parsed VLAN tag */
}

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header vlan_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vid;
    bit<16> ether_type;
}

header custom_t {
    bit<8> tag;
    bit<8> value;
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
    varbit<320> options;
}

header tcp_t {
    bit<16> sport;
    bit<16> dport;
    bit<32> seq;
    bit<32> ack;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent;
}

header udp_t {
    bit<16> sport;
    bit<16> dport;
    bit<16> len;
    bit<16> checksum;
}

header_union l4_t {
    tcp_t tcp;
    udp_t udp;
}

struct headers_t {
    report_t   report;
    ethernet_t ethernet;
    vlan_t[2]  vlan;
    custom_t   custom;
    ipv4_t     ipv4;
    l4_t       l4;
}

struct metadata_t {
    bit<8>  vlans;
    bit<16> last_vid;
}

parser EngParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    value_set<bit<16>>(4) custom_types;

    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x8100: parse_vlan;
            0x0800: parse_ipv4;
            custom_types: parse_custom;
            default: accept;
        }
    }

    state parse_vlan {
        pkt.extract(hdr.vlan.next);
        meta.vlans = meta.vlans + 1;
        meta.last_vid = (bit<16>)hdr.vlan.last.vid;
        transition select(hdr.vlan.last.ether_type) {
            0x8100: parse_vlan;
            0x0800: parse_ipv4;
            default: accept;
        }
    }

    state parse_custom {
        pkt.extract(hdr.custom);
        transition accept;
    }

    state parse_ipv4 {
        bit<8> version_ihl = pkt.lookahead<bit<8>>();
        verify(version_ihl[3:0] >= 5, error.BadIhl);
        pkt.extract(hdr.ipv4, (bit<32>)(((bit<16>)version_ihl[3:0] - 5) * 32));
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, 6): parse_tcp;
            (0, 17): parse_udp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.l4.tcp);
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.l4.udp);
        transition accept;
    }
}

control EngVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    action push_vlan(bit<12> vid) {
        hdr.vlan.push_front(1);
        hdr.vlan[0].setValid();
        hdr.vlan[0].pcp = 0;
        hdr.vlan[0].dei = 0;
        hdr.vlan[0].vid = vid;
        hdr.vlan[0].ether_type = hdr.ethernet.ether_type;
        hdr.ethernet.ether_type = 0x8100;
    }

    action pop_vlan() {
        hdr.ethernet.ether_type = hdr.vlan[0].ether_type;
        hdr.vlan.pop_front(1);
    }

    action tcp_to_udp() {
        hdr.l4.udp.setValid();
        hdr.l4.udp.sport = 7;
        hdr.l4.udp.dport = 9;
        hdr.l4.udp.len = 8;
        hdr.l4.udp.checksum = 0;
    }

    action nop() { }

    table by_port {
        key = { std.ingress_port : exact; }
        actions = { push_vlan; pop_vlan; tcp_to_udp; nop; }
        default_action = nop();
    }

    apply {
        by_port.apply();
        hdr.report.setValid();
        if (std.parser_error == error.NoError) {
            hdr.report.parser_error = 0;
        } else if (std.parser_error == error.PacketTooShort) {
            hdr.report.parser_error = 1;
        } else if (std.parser_error == error.BadIhl) {
            hdr.report.parser_error = 2;
        } else if (std.parser_error == error.StackOutOfBounds) {
            hdr.report.parser_error = 3;
        } else if (std.parser_error == error.HeaderTooShort) {
            hdr.report.parser_error = 4;
        } else {
            hdr.report.parser_error = 255;
        }
        hdr.report.vlans = meta.vlans;
        hdr.report.last_vid = meta.last_vid;
        hdr.report.l4 = 0;
        if (hdr.l4.tcp.isValid()) {
            hdr.report.l4 = 1;
        } else if (hdr.l4.udp.isValid()) {
            hdr.report.l4 = 2;
        }
        hdr.report.options_bytes = 0;
        if (hdr.ipv4.isValid()) {
            hdr.report.options_bytes = ((bit<16>)hdr.ipv4.ihl << 2) - 20;
        }
        hdr.report.custom = 0;
        if (hdr.custom.isValid()) {
            hdr.report.custom = hdr.custom.value;
        }
        std.egress_spec = 1;
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
        pkt.emit(hdr.report);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.vlan);
        pkt.emit(hdr.custom);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.l4);
    }
}

V1Switch(EngParser(), EngVerifyChecksum(), EngIngress(), EngEgress(),
         EngComputeChecksum(), EngDeparser()) main;
