/* Forwarding after the load-balancing decision, as a router does it: longest
 * prefix match on the destination of the header that leaves (the outer one
 * after a GRE encap) → egress port and MAC rewrite. A packet forwarded in
 * place (routed, NAT, L3DSR) has its TTL/hop limit decremented and is dropped
 * when it would expire; a fresh GRE outer header starts at 128. */
#ifndef P4LB_ROUTING_P4
#define P4LB_ROUTING_P4

control Routing(inout headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t std_meta) {
    @name(".set_next_hop")
    action set_next_hop(bit<9> port, mac_addr_t src_mac, mac_addr_t dst_mac) {
        std_meta.egress_spec = port;
        hdr.ethernet.src_addr = src_mac;
        hdr.ethernet.dst_addr = dst_mac;
    }

    /* For the controller's own addresses (health-check sources). */
    @name(".send_to_cpu")
    action send_to_cpu() {
        std_meta.egress_spec = CPU_PORT;
        hdr.packet_in.setValid();
        hdr.packet_in.ingress_port = (bit<16>)std_meta.ingress_port;
    }

    @name(".no_route")
    action no_route() {
        meta.drop = 1;
        meta.drop_reason = DROP_NO_ROUTE;
    }

    @name(".route4")
    table route4 {
        key = { meta.route_dst4 : lpm @name("dst_addr"); }
        actions = { set_next_hop; no_route; send_to_cpu; }
        default_action = no_route();
        size = 16384;
    }

    @name(".route6")
    table route6 {
        key = { meta.route_dst6 : lpm @name("dst_addr"); }
        actions = { set_next_hop; no_route; send_to_cpu; }
        default_action = no_route();
        size = 16384;
    }

    apply {
        if (meta.decrement_ttl == 1) {
            if (hdr.ipv4.isValid()) {
                if (hdr.ipv4.ttl <= 1) {
                    meta.drop = 1;
                    meta.drop_reason = DROP_TTL_EXPIRED;
                    return;
                }
                hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
            } else if (hdr.ipv6.isValid()) {
                if (hdr.ipv6.hop_limit <= 1) {
                    meta.drop = 1;
                    meta.drop_reason = DROP_TTL_EXPIRED;
                    return;
                }
                hdr.ipv6.hop_limit = hdr.ipv6.hop_limit - 1;
            }
        }
        if (meta.route_family == 4) {
            route4.apply();
        } else if (meta.route_family == 6) {
            route6.apply();
        }
    }
}

#endif
