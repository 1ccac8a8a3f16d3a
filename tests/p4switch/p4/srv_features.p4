/* srv_features.p4: one small v1model program that uses every P4Runtime feature
 * the embedded switch's server tests exercise. It knows nothing about load
 * balancing. The switch must run with --cpu-port 255.
 *
 * Ingress, in order:
 *   - a PacketOut (from the CPU port) leaves by the port its header names;
 *   - port_counter (indexed) counts every packet by ingress port;
 *   - learn_src (support_timeout): a miss sends a digest (src MAC, port), a hit
 *     refreshes the entry's idle time;
 *   - dmac (exact, direct counter): forward / drop / to_cpu / multicast / clone;
 *   - acl (ternary + optional, priorities) may override the port;
 *   - route (lpm) on IPv4 destination, range_tbl (range) on TTL;
 *   - ecmp (action selector), metered (direct meter), port_meter (indexed meter);
 *   - const_tbl (const entries) and const_default (const default action).
 */
#include <core.p4>
#include <v1model.p4>

const bit<9> CPU_PORT = 255;

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> _pad;
}

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> reason;
}

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
    bit<16> hdr_checksum;
    bit<32> src;
    bit<32> dst;
}

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    ethernet_t   ethernet;
    ipv4_t       ipv4;
}

struct learn_t {
    bit<48> src;
    bit<9>  port;
}

struct metadata_t {
    bit<7>  cpu_reason;
    bit<32> meter_color;
}

parser SrvParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        transition select(std.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x0800: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition accept;
    }
}

control SrvVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control SrvIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    counter(512, CounterType.packets_and_bytes) port_counter;
    direct_counter(CounterType.packets_and_bytes) dmac_counter;
    meter(16, MeterType.packets) port_meter;
    direct_meter<bit<32>>(MeterType.bytes) flow_meter;
    action_selector(HashAlgorithm.crc16, 32w64, 32w14) ecmp_selector;

    action nop() { }
    action drop() { mark_to_drop(std); }
    action forward(bit<9> port) { std.egress_spec = port; }
    action to_cpu(bit<7> reason) {
        std.egress_spec = CPU_PORT;
        meta.cpu_reason = reason;
    }
    action multicast(bit<16> group) { std.mcast_grp = group; }
    action forward_and_clone(bit<9> port, bit<32> session) {
        std.egress_spec = port;
        clone(CloneType.I2E, session);
    }
    action learn() {
        digest<learn_t>(1, { hdr.ethernet.src, std.ingress_port });
    }
    action set_dst_mac(bit<48> mac) { hdr.ethernet.dst = mac; }
    action metered_forward(bit<9> port) {
        std.egress_spec = port;
        flow_meter.read(meta.meter_color);
    }
    action default_only_drop() { mark_to_drop(std); }
    action table_only_forward(bit<9> port) { std.egress_spec = port; }

    table learn_src {
        key = { hdr.ethernet.src : exact; }
        actions = { nop; learn; }
        default_action = learn();
        support_timeout = true;
        size = 1024;
    }

    table dmac {
        key = { hdr.ethernet.dst : exact; }
        actions = { forward; drop; to_cpu; multicast; forward_and_clone;
                    @defaultonly default_only_drop; @tableonly table_only_forward; }
        default_action = drop();
        counters = dmac_counter;
        size = 65536;
    }

    table acl {
        key = {
            hdr.ethernet.ether_type : ternary;
            std.ingress_port        : optional;
        }
        actions = { forward; drop; nop; }
        default_action = nop();
        size = 256;
    }

    table route {
        key = { hdr.ipv4.dst : lpm; }
        actions = { set_dst_mac; nop; }
        default_action = nop();
        size = 1024;
    }

    table range_tbl {
        key = { hdr.ipv4.ttl : range; }
        actions = { drop; nop; }
        default_action = nop();
        size = 64;
    }

    table ecmp {
        key = {
            hdr.ethernet.dst : exact;
            hdr.ethernet.src : selector;
        }
        actions = { forward; nop; }
        implementation = ecmp_selector;
        size = 64;
    }

    table metered {
        key = { hdr.ethernet.src : exact; }
        actions = { metered_forward; nop; }
        default_action = nop();
        meters = flow_meter;
        size = 64;
    }

    table const_tbl {
        key = { hdr.ethernet.ether_type : exact; }
        actions = { nop; drop; }
        const entries = {
            0x88cc : drop();
            0x9000 : nop();
        }
        default_action = nop();
    }

    table const_default {
        key = { hdr.ethernet.src : exact; }
        actions = { nop; drop; }
        const default_action = nop();
        size = 16;
    }

    apply {
        if (hdr.packet_out.isValid()) {
            std.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
            exit;
        }
        port_counter.count((bit<32>) std.ingress_port);
        port_meter.execute_meter<bit<32>>((bit<32>) std.ingress_port[3:0], meta.meter_color);
        learn_src.apply();
        dmac.apply();
        acl.apply();
        if (hdr.ipv4.isValid()) {
            route.apply();
            range_tbl.apply();
        }
        ecmp.apply();
        metered.apply();
        const_tbl.apply();
        const_default.apply();
    }
}

control SrvEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    apply {
        if (std.egress_port == CPU_PORT) {
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = std.ingress_port;
            hdr.packet_in.reason = meta.cpu_reason;
        }
    }
}

control SrvComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control SrvDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
    }
}

V1Switch(SrvParser(), SrvVerifyChecksum(), SrvIngress(), SrvEgress(),
         SrvComputeChecksum(), SrvDeparser()) main;
