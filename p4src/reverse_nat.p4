/* Return traffic of NAT VIPs: an AS answering from AS:target_port is
 * rewritten back to VIP:port, so the client sees the address it called.
 * Traffic that matches no mapping passes unchanged (VPP drops it). */
#ifndef P4LB_REVERSE_NAT_P4
#define P4LB_REVERSE_NAT_P4

control ReverseNat(inout headers_t hdr, inout metadata_t meta) {
    L4ChecksumFix() l4_checksum_fix;
    bit<16> new_src_port = 0;
    bit<1>  rewrite = 0;

    @name(".reverse_nat4_rewrite")
    action reverse_nat4_rewrite(ip4_addr_t vip_addr, bit<16> vip_port) {
        meta.l4_csum_acc = csum_replace16(csum_replace32(0, hdr.ipv4.src_addr, vip_addr),
                                          meta.l4_src_port, vip_port);
        hdr.ipv4.src_addr = vip_addr;
        new_src_port = vip_port;
        rewrite = 1;
    }

    @name(".reverse_nat6_rewrite")
    action reverse_nat6_rewrite(ip6_addr_t vip_addr, bit<16> vip_port) {
        meta.l4_csum_acc = csum_replace16(csum_replace128(0, hdr.ipv6.src_addr, vip_addr),
                                          meta.l4_src_port, vip_port);
        hdr.ipv6.src_addr = vip_addr;
        new_src_port = vip_port;
        rewrite = 1;
    }

    @name(".reverse_nat4")
    table reverse_nat4 {
        key = {
            hdr.ipv4.src_addr  : exact @name("as_addr");
            meta.flow.protocol : exact @name("protocol");
            meta.l4_src_port   : exact @name("as_port");
        }
        actions = { reverse_nat4_rewrite; @defaultonly NoAction; }
        default_action = NoAction();
        size = 65536;
    }

    @name(".reverse_nat6")
    table reverse_nat6 {
        key = {
            hdr.ipv6.src_addr  : exact @name("as_addr");
            meta.flow.protocol : exact @name("protocol");
            meta.l4_src_port   : exact @name("as_port");
        }
        actions = { reverse_nat6_rewrite; @defaultonly NoAction; }
        default_action = NoAction();
        size = 65536;
    }

    apply {
        /* Only whole TCP/UDP headers can be reverse-NATed: a non-first
         * fragment has no port to match. */
        if (meta.has_l4 == 0) {
            return;
        }
        if (hdr.ipv4.isValid()) {
            reverse_nat4.apply();
        } else if (hdr.ipv6.isValid()) {
            reverse_nat6.apply();
        }
        if (rewrite == 1) {
            if (hdr.tcp.isValid()) {
                hdr.tcp.src_port = new_src_port;
            } else if (hdr.udp.isValid()) {
                hdr.udp.src_port = new_src_port;
            }
            l4_checksum_fix.apply(hdr, meta);
        }
    }
}

#endif
