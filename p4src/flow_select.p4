/* Which AS serves this packet: the sticky flow tables first, the VIP's Maglev
 * bucket table for a flow they do not know.
 *
 * On a flow-table miss the packet is sent by its bucket and a digest tells
 * the controller (flow key, VIP, AS); the controller installs the flow entry
 * with idle_timeout_ns = the LB timeout and deletes it when the switch
 * reports it idle. That is how flows stick to their AS while the AS set
 * changes, and how they age. Fragments are hashed on addresses and protocol
 * only (every fragment of a datagram reaches one AS) and are not learned:
 * they are the "untracked" packets. */
#ifndef P4LB_FLOW_SELECT_P4
#define P4LB_FLOW_SELECT_P4

const bit<32> VIP_COUNTERS = 65536;  /* one cell per vip_id_t */
const bit<32> AS_COUNTERS = 65536;

control FlowSelect(inout headers_t hdr, inout metadata_t meta) {
    @name(".vip_existing_session") counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_existing_session;
    @name(".vip_first_session")    counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_first_session;
    @name(".vip_untracked")        counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_untracked;
    @name(".vip_no_server")        counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_no_server;

    @name(".use_flow_as")
    action use_flow_as(as_id_t as_id) {
        meta.as_id = as_id;
        meta.as_found = 1;
    }

    @name(".use_bucket_as")
    action use_bucket_as(as_id_t as_id) {
        meta.as_id = as_id;
        meta.as_found = 1;
    }

    /* Entries are installed by the controller from digests, never by hand. */
    @name(".flow4")
    table flow4 {
        key = {
            meta.flow.vip_id   : exact @name("vip_id");
            meta.flow.src4     : exact @name("src_addr");
            meta.flow.dst4     : exact @name("dst_addr");
            meta.flow.protocol : exact @name("protocol");
            meta.flow.src_port : exact @name("src_port");
            meta.flow.dst_port : exact @name("dst_port");
        }
        actions = { use_flow_as; @defaultonly NoAction; }
        default_action = NoAction();
        support_timeout = true;
        size = 1048576;
    }

    @name(".flow6")
    table flow6 {
        key = {
            meta.flow.vip_id   : exact @name("vip_id");
            meta.flow.src6     : exact @name("src_addr");
            meta.flow.dst6     : exact @name("dst_addr");
            meta.flow.protocol : exact @name("protocol");
            meta.flow.src_port : exact @name("src_port");
            meta.flow.dst_port : exact @name("dst_port");
        }
        actions = { use_flow_as; @defaultonly NoAction; }
        default_action = NoAction();
        support_timeout = true;
        size = 1048576;
    }

    /* Only buckets of VIPs with at least one live AS have entries; a miss is
     * "no server configured". */
    @name(".maglev")
    table maglev {
        key = {
            meta.flow.vip_id : exact @name("vip_id");
            meta.bucket      : exact @name("bucket");
        }
        actions = { use_bucket_as; @defaultonly NoAction; }
        default_action = NoAction();
        size = 1048576;
    }

    apply {
        if (hdr.ipv4.isValid()) {
            meta.flow.src4 = hdr.ipv4.src_addr;
            meta.flow.dst4 = hdr.ipv4.dst_addr;
        } else {
            meta.flow.src6 = hdr.ipv6.src_addr;
            meta.flow.dst6 = hdr.ipv6.dst_addr;
        }
        if (meta.is_fragment == 0 && meta.src_ip_sticky == 0) {
            meta.flow.src_port = meta.l4_src_port;
            meta.flow.dst_port = meta.l4_dst_port;
        }
        /* src_ip_sticky hashes the addresses only, so every flow of a source
         * shares one bucket (and one flow entry); fragments add the protocol. */
        if (meta.src_ip_sticky == 1) {
            meta.flow.protocol = 0;
        }

        if (hdr.ipv4.isValid()) {
            hash(meta.hash, HashAlgorithm.crc32, 32w0,
                 { meta.flow.src4, meta.flow.dst4, meta.flow.protocol,
                   meta.flow.src_port, meta.flow.dst_port }, 64w4294967296);
        } else {
            hash(meta.hash, HashAlgorithm.crc32, 32w0,
                 { meta.flow.src6, meta.flow.dst6, meta.flow.protocol,
                   meta.flow.src_port, meta.flow.dst_port }, 64w4294967296);
        }
        meta.bucket = meta.hash[23:0] & meta.new_len_mask;

        bit<32> vip_index = (bit<32>)meta.flow.vip_id;
        if (meta.is_fragment == 0) {
            bool hit;
            if (hdr.ipv4.isValid()) {
                hit = flow4.apply().hit;
            } else {
                hit = flow6.apply().hit;
            }
            if (hit) {
                vip_existing_session.count(vip_index);
                return;
            }
        }

        maglev.apply();
        if (meta.as_found == 0) {
            vip_no_server.count(vip_index);
            return;
        }
        if (meta.is_fragment == 1) {
            vip_untracked.count(vip_index);
            return;
        }
        vip_first_session.count(vip_index);
        flow_digest_t d;
        d.family = hdr.ipv4.isValid() ? 8w4 : 8w6;
        d.vip_id = meta.flow.vip_id;
        d.src_addr = hdr.ipv4.isValid() ? (ip6_addr_t)meta.flow.src4 : meta.flow.src6;
        d.dst_addr = hdr.ipv4.isValid() ? (ip6_addr_t)meta.flow.dst4 : meta.flow.dst6;
        d.protocol = meta.flow.protocol;
        d.src_port = meta.flow.src_port;
        d.dst_port = meta.flow.dst_port;
        d.as_id = meta.as_id;
        digest<flow_digest_t>(1, d);
    }
}

#endif
