/* eng_stateful.p4: counters, meters, registers, digests and idle timeout.
 *
 * `flows` (exact on the IPv4 source, support_timeout) hits -> count the flow's
 * counter index and meter it; a miss sends a digest of (src, dst, port) so a
 * controller can learn it. A register keeps, per counter index, the last TTL
 * seen and returns the previous one in ipv4.identification; the meter color
 * goes into ipv4.diffserv.
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

struct headers_t {
    ethernet_t ethernet;
    ipv4_t     ipv4;
}

struct learn_t {
    bit<32> src;
    bit<32> dst;
    bit<9>  port;
}

struct metadata_t {
    bit<8> color;
    bit<16> previous;
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
        transition accept;
    }
}

control EngVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    counter(8, CounterType.packets_and_bytes) flow_counter;
    meter(8, MeterType.packets) flow_meter;
    register<bit<16>>(8) last_ttl;

    action track(bit<3> index) {
        flow_counter.count((bit<32>)index);
        flow_meter.execute_meter((bit<32>)index, meta.color);
        last_ttl.read(meta.previous, (bit<32>)index);
        last_ttl.write((bit<32>)index, (bit<16>)hdr.ipv4.ttl);
        std.egress_spec = 1;
    }
    action learn() {
        digest<learn_t>(1, { hdr.ipv4.src, hdr.ipv4.dst, std.ingress_port });
        std.egress_spec = 2;
    }

    table flows {
        key = { hdr.ipv4.src : exact; }
        actions = { track; learn; }
        default_action = learn();
        support_timeout = true;
        size = 64;
    }

    apply {
        if (hdr.ipv4.isValid()) {
            flows.apply();
            hdr.ipv4.diffserv = meta.color;
            hdr.ipv4.identification = meta.previous;
        } else {
            mark_to_drop(std);
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
    }
}

V1Switch(EngParser(), EngVerifyChecksum(), EngIngress(), EngEgress(),
         EngComputeChecksum(), EngDeparser()) main;
