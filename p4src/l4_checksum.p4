/* Incremental one's-complement checksum updates (RFC 1624, eqn. 3):
 *   HC' = ~(~HC + ~m + m')
 * Incremental rather than recomputed, so that a rewritten first fragment
 * (whose checksum covers bytes in later fragments) stays correct, and a packet
 * that arrived with a bad L4 checksum still has one: the LB must not launder
 * corruption. The delta of every rewritten 16-bit word is accumulated in a
 * bit<32> and folded once. */
#ifndef P4LB_L4_CHECKSUM_P4
#define P4LB_L4_CHECKSUM_P4

bit<32> csum_replace16(in bit<32> acc, in bit<16> old_v, in bit<16> new_v) {
    return acc + (bit<32>)(~old_v) + (bit<32>)new_v;
}

bit<32> csum_replace32(in bit<32> acc, in bit<32> old_v, in bit<32> new_v) {
    return csum_replace16(csum_replace16(acc, old_v[31:16], new_v[31:16]),
                          old_v[15:0], new_v[15:0]);
}

bit<32> csum_replace128(in bit<32> acc, in bit<128> old_v, in bit<128> new_v) {
    bit<32> a = csum_replace32(acc, old_v[127:96], new_v[127:96]);
    a = csum_replace32(a, old_v[95:64], new_v[95:64]);
    a = csum_replace32(a, old_v[63:32], new_v[63:32]);
    return csum_replace32(a, old_v[31:0], new_v[31:0]);
}

/* Applies an accumulated delta to a checksum field's current value. */
bit<16> csum_apply(in bit<16> old_csum, in bit<32> delta) {
    bit<32> s = (bit<32>)(~old_csum) + delta;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return ~s[15:0];
}

/* Applies meta.l4_csum_acc to whichever L4 header the packet carries. A UDP
 * checksum of 0 over IPv4 means "none" and stays 0; a computed 0 is sent as
 * 0xffff (RFC 768). */
control L4ChecksumFix(inout headers_t hdr, in metadata_t meta) {
    apply {
        if (hdr.tcp.isValid()) {
            hdr.tcp.checksum = csum_apply(hdr.tcp.checksum, meta.l4_csum_acc);
        } else if (hdr.udp.isValid()) {
            if (hdr.udp.checksum != 0 || hdr.ipv6.isValid()) {
                bit<16> c = csum_apply(hdr.udp.checksum, meta.l4_csum_acc);
                hdr.udp.checksum = (c == 0) ? 16w0xffff : c;
            }
        } else if (hdr.icmp.isValid() && hdr.ipv6.isValid()) {
            /* ICMPv6 covers the pseudo-header; ICMPv4 does not. */
            hdr.icmp.checksum = csum_apply(hdr.icmp.checksum, meta.l4_csum_acc);
        }
    }
}

#endif
