/* Parsing, checksum verification/update and deparsing.
 *
 * A packet that is truncated or malformed stops in the parser with
 * standard_metadata.parser_error set; the ingress drops and counts it, so no
 * half-parsed packet is ever forwarded. */
#ifndef P4LB_PARSER_P4
#define P4LB_PARSER_P4

error { IPv4BadVersion, IPv4BadHeaderLength, IPv6BadVersion }

parser LbParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t std_meta) {
    state start {
        transition select(std_meta.ingress_port) {
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
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }

    state parse_ipv4 {
        /* ihl is read ahead so that the options' length is known. */
        bit<8> version_ihl = pkt.lookahead<bit<8>>();
        verify(version_ihl[7:4] == 4, error.IPv4BadVersion);
        verify(version_ihl[3:0] >= 5, error.IPv4BadHeaderLength);
        pkt.extract(hdr.ipv4, (bit<32>)(((bit<16>)version_ihl[3:0] - 5) * 32));
        meta.is_fragment = (hdr.ipv4.flag_mf == 1 || hdr.ipv4.frag_offset != 0) ? 1w1 : 1w0;
        /* L4 headers are read only from bytes the datagram holds, never from
         * what follows it (padding, trailers). A total length below the
         * header's own is dropped by the ingress (DROP_BAD_IP_LENGTH). */
        bit<16> header_bytes = ((bit<16>)version_ihl[3:0]) << 2;
        bit<16> l4_bytes = (hdr.ipv4.total_len < header_bytes) ? 16w0
                                                               : hdr.ipv4.total_len - header_bytes;
        bit<1> holds_tcp = (l4_bytes >= 20) ? 1w1 : 1w0;
        bit<1> holds_udp = (l4_bytes >= 8) ? 1w1 : 1w0;
        bit<1> holds_icmp = (l4_bytes >= 4) ? 1w1 : 1w0;
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol,
                          holds_tcp, holds_udp, holds_icmp) {
            (0, PROTO_TCP, 1, _, _): parse_tcp;
            (0, PROTO_UDP, _, 1, _): parse_udp;
            (0, PROTO_ICMP, _, _, 1): parse_icmp;
            default: accept;
        }
    }

    state parse_ipv6 {
        pkt.extract(hdr.ipv6);
        verify(hdr.ipv6.version == 6, error.IPv6BadVersion);
        transition select(hdr.ipv6.next_hdr) {
            PROTO_TCP: parse_tcp;
            PROTO_UDP: parse_udp;
            PROTO_ICMPV6: parse_icmp;
            PROTO_IPV6_FRAG: parse_ipv6_frag;
            default: accept;
        }
    }

    state parse_ipv6_frag {
        pkt.extract(hdr.ipv6_frag);
        meta.is_fragment = 1;
        transition select(hdr.ipv6_frag.frag_offset, hdr.ipv6_frag.next_hdr) {
            (0, PROTO_TCP): parse_tcp;
            (0, PROTO_UDP): parse_udp;
            (0, PROTO_ICMPV6): parse_icmp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        meta.has_l4 = 1;
        meta.l4_src_port = hdr.tcp.src_port;
        meta.l4_dst_port = hdr.tcp.dst_port;
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        meta.has_l4 = 1;
        meta.l4_src_port = hdr.udp.src_port;
        meta.l4_dst_port = hdr.udp.dst_port;
        transition accept;
    }

    state parse_icmp {
        pkt.extract(hdr.icmp);
        transition accept;
    }
}

control LbVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification,
              hdr.ipv4.flag_reserved, hdr.ipv4.flag_df, hdr.ipv4.flag_mf,
              hdr.ipv4.frag_offset, hdr.ipv4.ttl, hdr.ipv4.protocol,
              hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.options },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

/* L4 checksums are updated incrementally where addresses or ports change
 * (l4_checksum.p4), so only the IPv4 header checksums are recomputed here. */
control LbComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification,
              hdr.ipv4.flag_reserved, hdr.ipv4.flag_df, hdr.ipv4.flag_mf,
              hdr.ipv4.frag_offset, hdr.ipv4.ttl, hdr.ipv4.protocol,
              hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.options },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
        update_checksum(hdr.outer_ipv4.isValid(),
            { hdr.outer_ipv4.version, hdr.outer_ipv4.ihl, hdr.outer_ipv4.tos,
              hdr.outer_ipv4.total_len, hdr.outer_ipv4.identification,
              hdr.outer_ipv4.flags, hdr.outer_ipv4.frag_offset,
              hdr.outer_ipv4.ttl, hdr.outer_ipv4.protocol,
              hdr.outer_ipv4.src_addr, hdr.outer_ipv4.dst_addr },
            hdr.outer_ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

control LbDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.outer_ipv4);
        pkt.emit(hdr.outer_ipv6);
        pkt.emit(hdr.gre);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.ipv6);
        pkt.emit(hdr.ipv6_frag);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
        pkt.emit(hdr.icmp);
    }
}

#endif
