/* eng_expressions.p4: the expression language p4c emits for BMv2.
 *
 * A frame with EtherType 0x88B5 carries an `in_t` header of operands; ingress
 * computes one result per operator into an `out_t` header that replaces it.
 * Unsigned wrap-around, saturating arithmetic, signed (int<8>) arithmetic and
 * comparisons, shifts, bit operations, concatenation, slices, casts that
 * widen, narrow and sign-extend, the conditional operator, booleans, and a
 * header stack indexed by a run-time value.
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header in_t {
    bit<8>  a;
    bit<8>  b;
    int<8>  sa;
    int<8>  sb;
    bit<16> w;
    bit<8>  idx;
}

header out_t {
    bit<8>  add;
    bit<8>  sub;
    bit<8>  mul;
    bit<8>  sat_add;
    bit<8>  sat_sub;
    int<8>  ssat_add;
    int<8>  ssat_sub;
    int<8>  sadd;
    bit<8>  shl;
    bit<8>  shr;
    int<8>  sshr;
    bit<8>  band;
    bit<8>  bor;
    bit<8>  bxor;
    bit<8>  bnot;
    bit<16> concat;
    bit<8>  slice;
    bit<4>  narrow;
    bit<4>  flags;      /* slt, ult, eq, bool expression */
    int<16> widen;      /* sign-extending cast of sa */
    bit<16> zwiden;     /* zero-extending cast of a */
    bit<8>  max;        /* a > b ? a : b */
    bit<8>  neg;        /* -sa as bit<8> */
    bit<8>  var_shift;  /* a << (b & 7) */
    bit<8>  picked;     /* slots[idx & 3].v */
    bit<8>  slot_count; /* slots valid after setValid on some */
}

header slot_t {
    bit<8> v;
}

struct headers_t {
    ethernet_t ethernet;
    in_t       op;
    out_t      res;
    slot_t[4]  slots;
}

struct metadata_t { }

parser EngParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x88B5: parse_op;
            default: accept;
        }
    }
    state parse_op {
        pkt.extract(hdr.op);
        transition accept;
    }
}

control EngVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngIngress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    apply {
        std.egress_spec = 1;
        if (!hdr.op.isValid()) {
            return;
        }
        bit<8> a = hdr.op.a;
        bit<8> b = hdr.op.b;
        int<8> sa = hdr.op.sa;
        int<8> sb = hdr.op.sb;
        hdr.res.setValid();
        hdr.res.add = a + b;
        hdr.res.sub = a - b;
        hdr.res.mul = a * b;
        hdr.res.sat_add = a |+| b;
        hdr.res.sat_sub = a |-| b;
        hdr.res.ssat_add = sa |+| sb;
        hdr.res.ssat_sub = sa |-| sb;
        hdr.res.sadd = sa + sb;
        hdr.res.shl = a << 3;
        hdr.res.shr = a >> 2;
        hdr.res.sshr = sa >> 2;
        hdr.res.band = a & b;
        hdr.res.bor = a | b;
        hdr.res.bxor = a ^ b;
        hdr.res.bnot = ~a;
        hdr.res.concat = a ++ b;
        hdr.res.slice = hdr.op.w[11:4];
        hdr.res.narrow = (bit<4>)hdr.op.w;
        bit<1> slt = (sa < sb) ? 1w1 : 1w0;
        bit<1> ult = (a < b) ? 1w1 : 1w0;
        bit<1> eq = (a == b) ? 1w1 : 1w0;
        bool mixed = (a > 5 && b < 10) || hdr.op.w == 0;
        hdr.res.flags = slt ++ ult ++ eq ++ (mixed ? 1w1 : 1w0);
        hdr.res.widen = (int<16>)sa;
        hdr.res.zwiden = (bit<16>)a;
        hdr.res.max = a > b ? a : b;
        hdr.res.neg = (bit<8>)(-sa);
        hdr.res.var_shift = a << (b & 7);
        hdr.slots[0].setValid();
        hdr.slots[0].v = 10;
        hdr.slots[1].setValid();
        hdr.slots[1].v = 11;
        hdr.slots[2].setValid();
        hdr.slots[2].v = 12;
        hdr.slots[3].setValid();
        hdr.slots[3].v = 13;
        hdr.res.picked = hdr.slots[hdr.op.idx & 3].v;
        hdr.slots[hdr.op.idx & 3].setInvalid();
        bit<8> count = 0;
        if (hdr.slots[0].isValid()) { count = count + 1; }
        if (hdr.slots[1].isValid()) { count = count + 1; }
        if (hdr.slots[2].isValid()) { count = count + 1; }
        if (hdr.slots[3].isValid()) { count = count + 1; }
        hdr.res.slot_count = count;
        hdr.op.setInvalid();
    }
}

control EngEgress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    apply { }
}

control EngComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control EngDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.op);
        pkt.emit(hdr.res);
    }
}

V1Switch(EngParser(), EngVerifyChecksum(), EngIngress(), EngEgress(),
         EngComputeChecksum(), EngDeparser()) main;
