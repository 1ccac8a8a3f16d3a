/* Which AS serves this packet: the sticky flow tables first, then the table
 * of pending flows, the VIP's Maglev bucket table for a flow neither knows.
 *
 * On a miss of both, the packet is sent by its bucket, the choice is written
 * to a pending slot, and one digest tells the controller (flow key, VIP, AS);
 * the controller installs the flow entry with idle_timeout_ns = the LB
 * timeout and deletes it when the switch reports it idle. That is how flows
 * stick to their AS while the AS set changes, and how they age.
 *
 * Pending flows (SilkRoad's pending-connection problem): until its entry is
 * installed, a young flow's packets find its AS in a direct-mapped register
 * table indexed by a hash of the flow key, each slot holding a 32-bit
 * signature of the key (a second, independent hash), the AS and the time of
 * the first packet. So a bucket rewritten in that window moves nothing, and
 * a flow sends one digest, not one per packet until it is learned. A slot is
 * live for the pending lifetime (`pending_conf`, `lb conf pending-timeout`),
 * which covers the controller's learning delay; the first flow-table hit of
 * the learned flow frees it at once, so slots stay busy only for the
 * learning delay. A new flow whose slot holds another live flow is counted
 * (`vip_pending_collision`) and falls back to one digest per packet until
 * it is learned, as without the table. Flushing a VIP's flows (or an AS's)
 * bumps the VIP's flush epoch (set_vip), which makes its slots stale: a
 * flush cuts pending flows too.
 *
 * Fragments are hashed on addresses and protocol only (every fragment of a
 * datagram reaches one AS) and are neither learned nor pending: they are the
 * "untracked" packets. */
#ifndef P4LB_FLOW_SELECT_P4
#define P4LB_FLOW_SELECT_P4

const bit<32> VIP_COUNTERS = 65536;  /* one cell per vip_id_t */
const bit<32> AS_COUNTERS = 65536;
/* 2^18 slots: at 10k new flows/s each held ~10 ms until learned, ~100 are
 * busy, a collision per ~2,600 new flows; even if no flow were ever learned
 * (every slot live for the whole 2 s lifetime) 92 % of new flows would find
 * their slot free. Two 48-bit registers per slot. */
const bit<32> PENDING_SLOTS = 262144;
const bit<32> PENDING_SLOT_MASK = 262143;
const bit<48> DEFAULT_PENDING_LIFETIME_US = 2000000;

control FlowSelect(inout headers_t hdr, inout metadata_t meta, in bit<48> now) {
    @name(".vip_existing_session") counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_existing_session;
    @name(".vip_first_session")    counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_first_session;
    @name(".vip_untracked")        counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_untracked;
    @name(".vip_no_server")        counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_no_server;
    @name(".vip_pending_collision") counter(VIP_COUNTERS, CounterType.packets_and_bytes) vip_pending_collision;

    /* signature (55:24) ++ the VIP's flush epoch (23:16) ++ as_id (15:0) */
    @name(".pending_flow")  register<bit<56>>(PENDING_SLOTS) pending_flow;
    /* ingress timestamp (us) of the flow's first packet; 0 = free */
    @name(".pending_since") register<bit<48>>(PENDING_SLOTS) pending_since;

    bit<48> pending_lifetime = DEFAULT_PENDING_LIFETIME_US;

    @name(".set_pending_lifetime")
    action set_pending_lifetime(bit<48> lifetime_us) {
        pending_lifetime = lifetime_us;
    }

    /* Keyless: its default action carries the lifetime, so the controller
     * sets it with a table write (BMv2 serves no register writes over
     * P4Runtime). */
    @name(".pending_conf")
    table pending_conf {
        key = { }
        actions = { set_pending_lifetime; }
        default_action = set_pending_lifetime(DEFAULT_PENDING_LIFETIME_US);
        size = 1;
    }

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
        bit<32> slot = 0;
        bit<32> signature = 0;
        bool slot_live = false;
        if (meta.is_fragment == 0) {
            /* The slot hash takes the key's fields in reverse order, the
             * signature in order: two CRCs of one key, independent enough
             * that a flow meeting another's slot rarely shares its signature. */
            bit<32> slot_hash;
            if (hdr.ipv4.isValid()) {
                hash(slot_hash, HashAlgorithm.crc32, 32w0,
                     { meta.flow.dst_port, meta.flow.src_port, meta.flow.protocol,
                       meta.flow.dst4, meta.flow.src4, meta.flow.vip_id }, 64w4294967296);
                hash(signature, HashAlgorithm.crc32, 32w0,
                     { meta.flow.vip_id, meta.flow.src4, meta.flow.dst4, meta.flow.protocol,
                       meta.flow.src_port, meta.flow.dst_port }, 64w4294967296);
            } else {
                hash(slot_hash, HashAlgorithm.crc32, 32w0,
                     { meta.flow.dst_port, meta.flow.src_port, meta.flow.protocol,
                       meta.flow.dst6, meta.flow.src6, meta.flow.vip_id }, 64w4294967296);
                hash(signature, HashAlgorithm.crc32, 32w0,
                     { meta.flow.vip_id, meta.flow.src6, meta.flow.dst6, meta.flow.protocol,
                       meta.flow.src_port, meta.flow.dst_port }, 64w4294967296);
            }
            slot = slot_hash & PENDING_SLOT_MASK;
            bit<56> held;
            bit<48> since;
            pending_flow.read(held, slot);
            pending_since.read(since, slot);
            pending_conf.apply();
            /* A slot from before the VIP's last flush is stale: its AS may be gone. */
            slot_live = since != 0 && now - since < pending_lifetime
                        && held[23:16] == meta.flush_epoch;
            bool slot_mine = held[55:24] == signature;

            bool hit;
            if (hdr.ipv4.isValid()) {
                hit = flow4.apply().hit;
            } else {
                hit = flow6.apply().hit;
            }
            if (hit) {
                vip_existing_session.count(vip_index);
                if (since != 0 && slot_mine) {
                    pending_since.write(slot, 0);  /* learned: the slot is free */
                }
                return;
            }
            if (slot_live && slot_mine) {
                meta.as_id = held[15:0];
                meta.as_found = 1;
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
        if (slot_live) {
            vip_pending_collision.count(vip_index);
        } else {
            pending_flow.write(slot, signature ++ meta.flush_epoch ++ meta.as_id);
            pending_since.write(slot, now);
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
