/* eng_checksum.p4: checksums and hashes.
 *
 * verify_checksum on IPv4 (a bad one drops the packet in ingress);
 * update_checksum on IPv4 and update_checksum_with_payload on TCP and UDP
 * after NAT-like rewrites of the destination address and port; hash() with
 * every v1model algorithm BMv2 supports over the 5-tuple, written into a
 * `hashes` header emitted before Ethernet.
 */
#include <core.p4>
#include <v1model.p4>

header hashes_t {
    bit<32> crc32;
    bit<16> crc16;
    bit<16> csum16;
    bit<16> xor16;
    bit<32> identity;
    bit<32> crc32_custom;
    bit<16> crc16_custom;
    bit<16> bounded;       /* crc32 with base 100, max 1000 */
    bit<16> random_value;  /* random(10, 20) */
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
    bit<16> checksum;
    bit<32> src;
    bit<32> dst;
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

struct headers_t {
    hashes_t   hashes;
    ethernet_t ethernet;
    ipv4_t     ipv4;
    tcp_t      tcp;
    udp_t      udp;
}

struct metadata_t {
    bit<16> l4_len;
    bit<16> sport;  /* copied out of tcp/udp: hash() skips fields of invalid headers */
    bit<16> dport;
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
            6: parse_tcp;
            17: parse_udp;
            default: accept;
        }
    }
    state parse_tcp {
        pkt.extract(hdr.tcp);
        transition accept;
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        transition accept;
    }
}

control EngVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst },
            hdr.ipv4.checksum, HashAlgorithm.csum16);
    }
}

control EngIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    action nat(bit<32> addr, bit<16> port) {
        hdr.ipv4.dst = addr;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
        if (hdr.tcp.isValid()) {
            hdr.tcp.dport = port;
        } else {
            hdr.udp.dport = port;
        }
    }
    action nop() { }
    table nat_table {
        key = { hdr.ipv4.dst : exact; }
        actions = { nat; nop; }
        default_action = nop();
    }

    apply {
        if (std.checksum_error == 1) {
            mark_to_drop(std);
            exit;
        }
        std.egress_spec = 1;
        if (!hdr.ipv4.isValid()) {
            return;
        }
        meta.sport = 0;
        meta.dport = 0;
        if (hdr.tcp.isValid()) {
            meta.sport = hdr.tcp.sport;
            meta.dport = hdr.tcp.dport;
        } else if (hdr.udp.isValid()) {
            meta.sport = hdr.udp.sport;
            meta.dport = hdr.udp.dport;
        }
        hdr.hashes.setValid();
        hash(hdr.hashes.crc32, HashAlgorithm.crc32, 32w0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.ipv4.protocol, meta.sport, meta.dport },
             33w4294967296);
        hash(hdr.hashes.crc16, HashAlgorithm.crc16, 16w0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.ipv4.protocol, meta.sport, meta.dport },
             17w65536);
        hash(hdr.hashes.csum16, HashAlgorithm.csum16, 16w0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.ipv4.protocol, meta.sport, meta.dport },
             17w65536);
        hash(hdr.hashes.xor16, HashAlgorithm.xor16, 16w0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.ipv4.protocol, meta.sport, meta.dport },
             17w65536);
        hash(hdr.hashes.identity, HashAlgorithm.identity, 32w0,
             { hdr.ipv4.src }, 33w4294967296);
        hash(hdr.hashes.crc32_custom, HashAlgorithm.crc32_custom, 32w0,
             { hdr.ipv4.src, hdr.ipv4.dst }, 33w4294967296);
        hash(hdr.hashes.crc16_custom, HashAlgorithm.crc16_custom, 16w0,
             { hdr.ipv4.src, hdr.ipv4.dst }, 17w65536);
        hash(hdr.hashes.bounded, HashAlgorithm.crc32, 16w100,
             { hdr.ipv4.src, hdr.tcp.sport }, 32w1000);
        random(hdr.hashes.random_value, 16w10, 16w20);
        nat_table.apply();
        if (hdr.tcp.isValid()) {
            meta.l4_len = hdr.ipv4.total_len - ((bit<16>)hdr.ipv4.ihl << 2);
        } else if (hdr.udp.isValid()) {
            meta.l4_len = hdr.udp.len;
        }
    }
}

control EngEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    apply { }
}

control EngComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst },
            hdr.ipv4.checksum, HashAlgorithm.csum16);
        update_checksum_with_payload(hdr.tcp.isValid(),
            { hdr.ipv4.src, hdr.ipv4.dst, 8w0, hdr.ipv4.protocol, meta.l4_len,
              hdr.tcp.sport, hdr.tcp.dport, hdr.tcp.seq, hdr.tcp.ack,
              hdr.tcp.data_offset, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.window,
              hdr.tcp.urgent },
            hdr.tcp.checksum, HashAlgorithm.csum16);
        update_checksum_with_payload(hdr.udp.isValid() && hdr.udp.checksum != 0,
            { hdr.ipv4.src, hdr.ipv4.dst, 8w0, hdr.ipv4.protocol, meta.l4_len,
              hdr.udp.sport, hdr.udp.dport, hdr.udp.len },
            hdr.udp.checksum, HashAlgorithm.csum16);
    }
}

control EngDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.hashes);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
    }
}

V1Switch(EngParser(), EngVerifyChecksum(), EngIngress(), EngEgress(),
         EngComputeChecksum(), EngDeparser()) main;
