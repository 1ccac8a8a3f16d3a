/* Is the packet for a VIP, and which one?
 *
 * vip4/vip6 match the destination by longest prefix and either name the VIP
 * directly (an all-port VIP) or name the prefix, whose per-(protocol, port)
 * VIPs are looked up in vip_port. p4c allows a single lpm key per table, so
 * the two-step lookup keeps both tables non-priority tables. */
#ifndef P4LB_VIP_LOOKUP_P4
#define P4LB_VIP_LOOKUP_P4

control VipLookup(inout headers_t hdr, inout metadata_t meta) {
    @name(".set_vip")
    /* flush_epoch: bumped by the controller when the VIP's flows are flushed,
     * so pending-flow slots written before the flush no longer match. */
    action set_vip(vip_id_t vip_id, bucket_t new_len_mask, bit<1> src_ip_sticky,
                   bit<8> flush_epoch) {
        meta.is_vip = 1;
        meta.flow.vip_id = vip_id;
        meta.new_len_mask = new_len_mask;
        meta.src_ip_sticky = src_ip_sticky;
        meta.flush_epoch = flush_epoch;
    }

    @name(".set_vip_prefix")
    action set_vip_prefix(bit<16> prefix_id) {
        meta.vip_has_ports = 1;
        meta.vip_prefix_id = prefix_id;
    }

    @name(".vip4")
    table vip4 {
        key = { hdr.ipv4.dst_addr : lpm @name("dst_addr"); }
        actions = { set_vip; set_vip_prefix; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    @name(".vip6")
    table vip6 {
        key = { hdr.ipv6.dst_addr : lpm @name("dst_addr"); }
        actions = { set_vip; set_vip_prefix; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    @name(".vip_port")
    table vip_port {
        key = {
            meta.vip_prefix_id : exact @name("prefix_id");
            meta.flow.protocol : exact @name("protocol");
            meta.l4_dst_port   : exact @name("dst_port");
        }
        actions = { set_vip; NoAction; }
        default_action = NoAction();
        size = 16384;
    }

    apply {
        if (hdr.ipv4.isValid()) {
            meta.flow.protocol = hdr.ipv4.protocol;
            vip4.apply();
        } else if (hdr.ipv6.isValid()) {
            meta.flow.protocol = hdr.ipv6_frag.isValid() ? hdr.ipv6_frag.next_hdr
                                                         : hdr.ipv6.next_hdr;
            vip6.apply();
        }
        /* A non-first fragment carries no port: it cannot be told apart
         * between the per-port VIPs of its prefix (the caller counts it). */
        if (meta.vip_has_ports == 1 && meta.has_l4 == 1) {
            vip_port.apply();
        }
    }
}

#endif
