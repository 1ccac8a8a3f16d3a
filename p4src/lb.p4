/* p4lb: a Maglev-style layer-4 load balancer (v1model).
 *
 * Ingress, in order:
 *   drop what did not parse or failed its IPv4 checksum
 *   VipLookup   is the destination a VIP, and which one      (vip_lookup.p4)
 *   FlowSelect  sticky flow entry, pending flow, else the Maglev bucket (flow_select.p4)
 *   AsEncap     gre4 / gre6 / l3dsr / nat4 / nat6            (as_encap.p4)
 *   ReverseNat  return traffic of NAT VIPs (non-VIP only)    (reverse_nat.p4)
 *   Routing     LPM → port and MACs, TTL                     (routing.p4)
 * A health probe from the controller (PacketOut, packet_out header) skips
 * FlowSelect: it goes to the AS the controller names, through its encap,
 * and learns no flow. Answers to the controller's addresses are routed to
 * the CPU port (send_to_cpu) and reach it as PacketIn.
 * Every drop sets a reason and is counted once, in drop_counter. */
#include <core.p4>
#include <v1model.p4>

#include "headers.p4"
#include "parser.p4"
#include "l4_checksum.p4"
#include "vip_lookup.p4"
#include "flow_select.p4"
#include "as_encap.p4"
#include "reverse_nat.p4"
#include "routing.p4"

control LbIngress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std_meta) {
    @name(".drop_counter") counter(DROP_REASONS, CounterType.packets_and_bytes) drop_counter;

    VipLookup() vip_lookup;
    FlowSelect() flow_select;
    AsEncap() as_encap_stage;
    L4ChecksumFix() l4_checksum_fix;
    ReverseNat() reverse_nat;
    Routing() routing;

    apply {
        if (hdr.packet_out.isValid()) {
            meta.is_probe = 1;
            meta.probe_as_id = hdr.packet_out.probe_as_id;
            hdr.packet_out.setInvalid();
        }
        if (std_meta.parser_error != error.NoError) {
            meta.drop = 1;
            meta.drop_reason = DROP_PARSER_ERROR;
        } else if (std_meta.checksum_error == 1) {
            meta.drop = 1;
            meta.drop_reason = DROP_BAD_CHECKSUM;
        } else if (hdr.ipv4.isValid()) {
            /* RFC 1812 5.2.2: shorter than its own header. */
            if (hdr.ipv4.total_len < ((bit<16>)hdr.ipv4.ihl) << 2) {
                meta.drop = 1;
                meta.drop_reason = DROP_BAD_IP_LENGTH;
            /* A header promising more bytes than the frame holds. */
            } else if ((bit<32>)hdr.ipv4.total_len + 14 > std_meta.packet_length) {
                meta.drop = 1;
                meta.drop_reason = DROP_TRUNCATED;
            }
            meta.route_family = 4;
            meta.route_dst4 = hdr.ipv4.dst_addr;
        } else if (hdr.ipv6.isValid()) {
            if ((bit<32>)hdr.ipv6.payload_len + 54 > std_meta.packet_length) {
                meta.drop = 1;
                meta.drop_reason = DROP_TRUNCATED;
            }
            meta.route_family = 6;
            meta.route_dst6 = hdr.ipv6.dst_addr;
        } else {
            meta.drop = 1;
            meta.drop_reason = DROP_NOT_IP;
        }

        if (meta.drop == 0) {
            meta.decrement_ttl = 1;
            vip_lookup.apply(hdr, meta);
            if (meta.vip_has_ports == 1 && meta.is_vip == 0 && meta.is_fragment == 1
                    && meta.has_l4 == 0) {
                meta.drop = 1;
                meta.drop_reason = DROP_FRAGMENT_NO_PORT;
            } else if (meta.is_vip == 1) {
                meta.decrement_ttl = 0;
                if (meta.is_probe == 1) {
                    meta.as_id = meta.probe_as_id;
                    meta.as_found = 1;
                } else {
                    flow_select.apply(hdr, meta, std_meta.ingress_global_timestamp);
                }
                if (meta.as_found == 0) {
                    meta.drop = 1;
                    meta.drop_reason = DROP_NO_SERVER;
                } else {
                    as_encap_stage.apply(hdr, meta);
                    if (meta.drop == 0 && meta.decrement_ttl == 1) {
                        l4_checksum_fix.apply(hdr, meta);
                    }
                }
            } else {
                reverse_nat.apply(hdr, meta);
            }
        }

        if (meta.drop == 0) {
            routing.apply(hdr, meta, std_meta);
        }
        if (meta.drop == 1) {
            drop_counter.count(meta.drop_reason);
            mark_to_drop(std_meta);
        }
    }
}

control LbEgress(inout headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std_meta) {
    apply { }
}

V1Switch(LbParser(), LbVerifyChecksum(), LbIngress(), LbEgress(),
         LbComputeChecksum(), LbDeparser()) main;
