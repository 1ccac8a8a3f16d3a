/* Packet formats and the metadata the pipeline carries between stages.
 * This is the only file that knows header layouts (DESIGN.md: p4src/ is the
 * only place that knows packet formats). */
#ifndef P4LB_HEADERS_P4
#define P4LB_HEADERS_P4

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_IPV6 = 0x86DD;
const bit<8>  PROTO_ICMP = 1;
const bit<8>  PROTO_TCP = 6;
const bit<8>  PROTO_UDP = 17;
const bit<8>  PROTO_GRE = 47;
const bit<8>  PROTO_IPV6_FRAG = 44;
const bit<8>  PROTO_ICMPV6 = 58;
const bit<8>  ENCAP_TTL = 128;
/* The switch's --cpu-port: P4Runtime PacketOut enters here, and what leaves
 * here becomes a PacketIn. Routes never use it (the controller refuses). */
const bit<9>  CPU_PORT = 510;

typedef bit<48> mac_addr_t;
typedef bit<32> ip4_addr_t;
typedef bit<128> ip6_addr_t;
typedef bit<16> vip_id_t;
typedef bit<16> as_id_t;
/* new_len may be up to 2^24 buckets (VPP allows any power of two; a 24-bit
 * bucket index keeps the maglev key small while allowing 16M buckets). */
typedef bit<24> bucket_t;

/* A health probe from the controller (PacketOut): a client packet to the
 * VIP, sent to the AS named here through that AS's encap, so the probe
 * proves the tunnel, the decap, the DSCP mapping or the NAT. */
@controller_header("packet_out")
header packet_out_h {
    as_id_t probe_as_id;
}

/* A packet for one of the controller's addresses (health-check answers). */
@controller_header("packet_in")
header packet_in_h {
    bit<16> ingress_port;
}

header ethernet_h {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

/* IPv4 with its options: L4 ports are found after them, and the header
 * checksum covers them. */
header ipv4_h {
    bit<4>      version;
    bit<4>      ihl;
    bit<6>      dscp;
    bit<2>      ecn;
    bit<16>     total_len;
    bit<16>     identification;
    bit<1>      flag_reserved;
    bit<1>      flag_df;
    bit<1>      flag_mf;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ip4_addr_t  src_addr;
    ip4_addr_t  dst_addr;
    varbit<320> options;
}

/* The outer header of a GRE4 encap never has options; a separate type keeps
 * the inner header byte-identical. */
header outer_ipv4_h {
    bit<4>     version;
    bit<4>     ihl;
    bit<8>     tos;
    bit<16>    total_len;
    bit<16>    identification;
    bit<3>     flags;
    bit<13>    frag_offset;
    bit<8>     ttl;
    bit<8>     protocol;
    bit<16>    hdr_checksum;
    ip4_addr_t src_addr;
    ip4_addr_t dst_addr;
}

header ipv6_h {
    bit<4>     version;
    bit<6>     dscp;
    bit<2>     ecn;
    bit<20>    flow_label;
    bit<16>    payload_len;
    bit<8>     next_hdr;
    bit<8>     hop_limit;
    ip6_addr_t src_addr;
    ip6_addr_t dst_addr;
}

header ipv6_frag_h {
    bit<8>  next_hdr;
    bit<8>  reserved;
    bit<13> frag_offset;
    bit<2>  res;
    bit<1>  flag_m;
    bit<32> identification;
}

header gre_h {
    bit<1>  checksum_present;
    bit<12> reserved0;
    bit<3>  version;
    bit<16> protocol;
}

header tcp_h {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

header udp_h {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length;
    bit<16> checksum;
}

/* ICMP and ICMPv6 share this 4-byte prefix. */
header icmp_h {
    bit<8>  icmp_type;
    bit<8>  code;
    bit<16> checksum;
}

struct headers_t {
    packet_out_h packet_out;
    packet_in_h  packet_in;
    ethernet_h   ethernet;
    outer_ipv4_h outer_ipv4;
    ipv6_h       outer_ipv6;
    gre_h        gre;
    ipv4_h       ipv4;
    ipv6_h       ipv6;
    ipv6_frag_h  ipv6_frag;
    tcp_h        tcp;
    udp_h        udp;
    icmp_h       icmp;
}

/* The digest that teaches the controller a new flow: the flow key of the
 * flow4/flow6 tables, and the AS that the Maglev bucket chose. */
struct flow_digest_t {
    bit<8>     family;      /* 4 or 6 */
    vip_id_t   vip_id;
    ip6_addr_t src_addr;    /* IPv4 addresses in the low 32 bits */
    ip6_addr_t dst_addr;
    bit<8>     protocol;
    bit<16>    src_port;
    bit<16>    dst_port;
    as_id_t    as_id;
}

/* Why a packet was dropped: the index into the drop_counter array. */
const bit<32> DROP_PARSER_ERROR = 0;   /* truncated or malformed headers */
const bit<32> DROP_BAD_CHECKSUM = 1;   /* IPv4 header checksum wrong */
const bit<32> DROP_NOT_IP = 2;         /* not IPv4 or IPv6 */
const bit<32> DROP_TTL_EXPIRED = 3;
const bit<32> DROP_NO_ROUTE = 4;
const bit<32> DROP_NO_SERVER = 5;      /* VIP without any AS */
const bit<32> DROP_TRUNCATED = 6;      /* IP length beyond the frame */
const bit<32> DROP_FRAGMENT_NO_PORT = 7; /* non-first fragment, per-port VIP */
const bit<32> DROP_BAD_IP_LENGTH = 8;  /* IPv4 total length below its header's */
const bit<32> DROP_REASONS = 9;

struct flow_t {
    vip_id_t   vip_id;
    ip4_addr_t src4;
    ip4_addr_t dst4;
    ip6_addr_t src6;
    ip6_addr_t dst6;
    bit<8>     protocol;
    bit<16>    src_port;
    bit<16>    dst_port;
}

struct metadata_t {
    bit<1>     is_fragment;       /* any fragment, first or not */
    bit<1>     has_l4;            /* ports were parsed */
    bit<16>    l4_src_port;       /* copied out of tcp/udp: hash() skips invalid headers */
    bit<16>    l4_dst_port;
    bit<1>     is_vip;
    bit<16>    vip_prefix_id;     /* set when the prefix has per-port VIPs */
    bit<1>     vip_has_ports;
    bit<24>    new_len_mask;
    bit<1>     src_ip_sticky;
    bit<8>     flush_epoch;       /* the VIP's; pending slots of older epochs are stale */
    flow_t     flow;
    bit<32>    hash;
    bucket_t   bucket;
    as_id_t    as_id;
    bit<1>     as_found;
    bit<1>     decrement_ttl;     /* routed or rewritten in place (not tunneled) */
    bit<8>     route_family;      /* family of the header routing looks at */
    ip4_addr_t route_dst4;
    ip6_addr_t route_dst6;
    bit<32>    l4_csum_acc;
    bit<1>     drop;
    bit<32>    drop_reason;       /* one's complement sum for incremental updates */
    bit<1>     is_probe;          /* a health probe from the controller */
    as_id_t    probe_as_id;
}

#endif
