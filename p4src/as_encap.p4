/* How a packet reaches its AS: the five VPP encaps.
 *
 * gre4/gre6 wrap the packet unchanged in an outer IPv4/IPv6 + GRE header
 * (TTL/hop limit 128, source = `lb conf ip4-src-address/ip6-src-address`,
 * carried in each entry so a conf change is a table rewrite, not a register
 * write BMv2 cannot do over P4Runtime). l3dsr rewrites the destination to the
 * AS and the DSCP to the VIP's, keeping ECN. nat4/nat6 rewrite destination
 * address and port. L4 checksums are fixed incrementally (l4_checksum.p4). */
#ifndef P4LB_AS_ENCAP_P4
#define P4LB_AS_ENCAP_P4

control AsEncap(inout headers_t hdr, inout metadata_t meta) {
    @name(".as_packets") counter(AS_COUNTERS, CounterType.packets_and_bytes) as_packets;

    bit<1>  rewrite_dst_port = 0;
    bit<16> new_dst_port = 0;

    /* Length of the inner IP packet, from its own header: Ethernet padding
     * of short frames is not part of it. */
    bit<16> inner_len = 0;

    @name(".encap_gre4")
    action encap_gre4(ip4_addr_t src_addr, ip4_addr_t as_addr) {
        hdr.outer_ipv4.setValid();
        hdr.outer_ipv4.version = 4;
        hdr.outer_ipv4.ihl = 5;
        hdr.outer_ipv4.tos = 0;
        hdr.outer_ipv4.total_len = inner_len + 24;
        hdr.outer_ipv4.identification = 0;
        hdr.outer_ipv4.flags = 0;
        hdr.outer_ipv4.frag_offset = 0;
        hdr.outer_ipv4.ttl = ENCAP_TTL;
        hdr.outer_ipv4.protocol = PROTO_GRE;
        hdr.outer_ipv4.src_addr = src_addr;
        hdr.outer_ipv4.dst_addr = as_addr;
        hdr.gre.setValid();
        hdr.gre.checksum_present = 0;
        hdr.gre.reserved0 = 0;
        hdr.gre.version = 0;
        hdr.gre.protocol = hdr.ipv4.isValid() ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
        hdr.ethernet.ether_type = ETHERTYPE_IPV4;
        meta.route_family = 4;
        meta.route_dst4 = as_addr;
    }

    @name(".encap_gre6")
    action encap_gre6(ip6_addr_t src_addr, ip6_addr_t as_addr) {
        hdr.outer_ipv6.setValid();
        hdr.outer_ipv6.version = 6;
        hdr.outer_ipv6.dscp = 0;
        hdr.outer_ipv6.ecn = 0;
        hdr.outer_ipv6.flow_label = 0;
        hdr.outer_ipv6.payload_len = inner_len + 4;
        hdr.outer_ipv6.next_hdr = PROTO_GRE;
        hdr.outer_ipv6.hop_limit = ENCAP_TTL;
        hdr.outer_ipv6.src_addr = src_addr;
        hdr.outer_ipv6.dst_addr = as_addr;
        hdr.gre.setValid();
        hdr.gre.checksum_present = 0;
        hdr.gre.reserved0 = 0;
        hdr.gre.version = 0;
        hdr.gre.protocol = hdr.ipv4.isValid() ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
        hdr.ethernet.ether_type = ETHERTYPE_IPV6;
        meta.route_family = 6;
        meta.route_dst6 = as_addr;
    }

    @name(".encap_l3dsr")
    action encap_l3dsr(ip4_addr_t as_addr, bit<6> dscp) {
        meta.l4_csum_acc = csum_replace32(0, hdr.ipv4.dst_addr, as_addr);
        hdr.ipv4.dst_addr = as_addr;
        hdr.ipv4.dscp = dscp;
        meta.decrement_ttl = 1;
        meta.route_family = 4;
        meta.route_dst4 = as_addr;
    }

    @name(".encap_nat4")
    action encap_nat4(ip4_addr_t as_addr, bit<16> target_port) {
        meta.l4_csum_acc = csum_replace16(csum_replace32(0, hdr.ipv4.dst_addr, as_addr),
                                          meta.l4_dst_port, target_port);
        hdr.ipv4.dst_addr = as_addr;
        rewrite_dst_port = 1;
        new_dst_port = target_port;
        meta.decrement_ttl = 1;
        meta.route_family = 4;
        meta.route_dst4 = as_addr;
    }

    @name(".encap_nat6")
    action encap_nat6(ip6_addr_t as_addr, bit<16> target_port) {
        meta.l4_csum_acc = csum_replace16(csum_replace128(0, hdr.ipv6.dst_addr, as_addr),
                                          meta.l4_dst_port, target_port);
        hdr.ipv6.dst_addr = as_addr;
        rewrite_dst_port = 1;
        new_dst_port = target_port;
        meta.decrement_ttl = 1;
        meta.route_family = 6;
        meta.route_dst6 = as_addr;
    }

    @name(".as_encap")
    table as_encap {
        key = { meta.as_id : exact @name("as_id"); }
        actions = { encap_gre4; encap_gre6; encap_l3dsr; encap_nat4; encap_nat6;
                    @defaultonly NoAction; }
        default_action = NoAction();
        size = 65536;
    }

    apply {
        inner_len = hdr.ipv4.isValid() ? hdr.ipv4.total_len : hdr.ipv6.payload_len + 40;
        as_packets.count((bit<32>)meta.as_id);
        if (!as_encap.apply().hit) {
            /* An AS id without an encap entry: the controller never leaves
             * one behind, so this is counted as "no server". */
            meta.drop = 1;
            meta.drop_reason = DROP_NO_SERVER;
            return;
        }
        if (rewrite_dst_port == 1) {
            if (hdr.tcp.isValid()) {
                hdr.tcp.dst_port = new_dst_port;
            } else if (hdr.udp.isValid()) {
                hdr.udp.dst_port = new_dst_port;
            }
        }
    }
}

#endif
