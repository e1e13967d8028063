/* The quantized conv GEMM (conv_q8) shared by the NEON tables: filter packing, input row packing, the
 * row-block driver and the fused requantization. Included by neon.c (armv7 NEON and armv8.0-A) and
 * neon_dotprod.c (SDOT/UDOT, its own object built with +dotprod); each instantiates its micro-kernel.
 *
 * Without dot product ("pair" layout): a NEON 8x8-bit multiply widens to 16 bits; two products are
 * summed in 16 bits (SMULL + SMLAL2) and then pairwise into 32 bits (SADALP), 3 instructions per 16
 * multiply-adds. That sum fits in int16 only for signed bytes with |w| <= 127, so the filter is stored as
 * w' = w - o[c] with o[c] per channel chosen to bring every weight into [-127, 127], and u8 inputs are
 * flipped to signed (a' = a - 128, an XOR, done once when the rows are packed). The offsets come back in
 * the epilogue, exactly (modulo 2^32, as the portable kernel's sums):
 *   sum a*w = sum a'*w' + o[c] * sum a + a_off * sum w'      (a_off = 128 for flipped u8, else 0)
 * A filter with a channel spanning all 256 values has no such offset; it is multiplied one product at a
 * time (SMULL + SADALP, "wide"). Filter: channels in blocks of 4, K in steps of 16, [N/4][K/16][4][16];
 * rows: [K/16][MR][16]; a tile is MR rows x 4 channels, each a 16-lane dot product reduced at the end.
 *
 * With dot product (UDOT/SDOT): bytes are used as they are (o = 0, no flip). Filter: channels in blocks
 * of 12, K in groups of 4, [N/12][K/4][12][4]; rows [K/4][8][4]; the by-element UDOT multiplies 4
 * channels' 4 bytes by one row's 4 bytes, so a tile is 8 rows x 12 channels and needs no reduction. */
#ifndef DETC_CONV_Q8_NEON_H
#define DETC_CONV_Q8_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#ifdef __aarch64__
#define CQ_MR 4 /* pair tile: 16 accumulators + 4 rows + a filter vector + a product of 32 registers */
#else
#define CQ_MR 2 /* armv7 has 16 quad registers */
#endif
#define CQ_MC 64 /* rows packed together, sharing one pass over the packed filter */

enum { CQ_PAIR, CQ_WIDE, CQ_DOT };

typedef struct {
    int n, k, kp, np; /* N, K, K rounded up to kg, N rounded up to nr */
    int nr, kg;       /* channels per block, K values per group (pair: 4, 16; dot: 12, 4) */
    int mode;         /* CQ_PAIR, CQ_WIDE or CQ_DOT */
    int is_signed;
    int32_t *o;  /* [np]: filter offset per channel */
    int32_t *cb; /* [np]: a_off * sum over K of w' */
    int8_t *w;   /* [np / nr][kp / kg][nr][kg] */
} cq_pack;

static inline size_t cq_align16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

static inline int cq_wval(const uint8_t *w, size_t i, int is_signed)
{
    return is_signed ? (int8_t)w[i] : w[i];
}

/* One allocation: header, o, cb, then the 16-byte-aligned weights. */
static cq_pack *cq_pack_filter(int n, int k, const uint8_t *w, int is_signed, int dot)
{
    const int nr = dot ? 12 : 4, kg = dot ? 4 : 16;
    int kp = (k + kg - 1) / kg * kg, np = (n + nr - 1) / nr * nr;
    size_t head = cq_align16(sizeof(cq_pack)), arrays = cq_align16((size_t)np * 2 * sizeof(int32_t));
    size_t wbytes = cq_align16((size_t)np * (size_t)kp + 1);
    uint8_t *mem = aligned_alloc(16, head + arrays + wbytes);
    if (!mem)
        return NULL;
    cq_pack *p = (cq_pack *)mem;
    *p = (cq_pack){.n = n, .k = k, .kp = kp, .np = np, .nr = nr, .kg = kg, .is_signed = is_signed};
    p->o = (int32_t *)(mem + head);
    p->cb = p->o + np;
    p->w = (int8_t *)(mem + head + arrays);
    memset(p->w, 0, (size_t)np * (size_t)kp);

    /* Per channel: an offset o with every w - o in [-127, 127] (o in [max - 127, min + 127]); one channel
     * without one makes the filter "wide", where o = 128 (u8) or 0 (i8) keeps w - o a signed byte. */
    p->mode = dot ? CQ_DOT : CQ_PAIR;
    for (int c = 0; c < np; c++) {
        int o = 0;
        if (!dot && c < n && k > 0) {
            int lo = 255, hi = -128;
            for (int q = 0; q < k; q++) {
                int v = cq_wval(w, (size_t)c * k + q, is_signed);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            o = is_signed ? 0 : 128;
            o = o < hi - 127 ? hi - 127 : o;
            o = o > lo + 127 ? lo + 127 : o;
            if (hi - lo > 254)
                p->mode = CQ_WIDE;
        }
        p->o[c] = o;
    }
    if (p->mode == CQ_WIDE)
        for (int c = 0; c < np; c++)
            p->o[c] = c < n && !is_signed ? 128 : 0;
    const uint32_t a_off = dot || is_signed ? 0 : 128;
    for (int c = 0; c < np; c++) {
        int8_t *dst = p->w + (size_t)(c / nr) * nr * kp + (size_t)(c % nr) * kg;
        uint32_t sum = 0;
        for (int q = 0; c < n && q < k; q++) {
            int v = cq_wval(w, (size_t)c * k + q, is_signed) - p->o[c];
            sum += (uint32_t)v;
            dst[(size_t)(q / kg) * nr * kg + q % kg] = (int8_t)(uint8_t)v; /* dot: the raw byte */
        }
        p->cb[c] = (int32_t)(a_off * sum);
    }
    return p;
}

/* Lanes (a0+a1, a2+a3, b0+b1, b2+b3). */
static inline int32x4_t cq_padd(int32x4_t a, int32x4_t b)
{
#ifdef __aarch64__
    return vpaddq_s32(a, b);
#else
    return vcombine_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)), vpadd_s32(vget_low_s32(b), vget_high_s32(b)));
#endif
}

/* TFLite MultiplyByQuantizedMultiplier on 4 lanes: vqrdmulhq_s32 is SaturatingRoundingDoublingHighMul;
 * vrshlq_s32 by -e rounds ties up, so negative values first take gemmlowp's -1 fixup (the sign bit of
 * x & -e is set only when e > 0 and x < 0) to round them away from zero. */
static inline int32x4_t cq_requant(int32x4_t acc, int32x4_t mult, int32x4_t lsh, int32x4_t nrsh)
{
    int32x4_t h = vqrdmulhq_s32(vshlq_s32(acc, lsh), mult);
    h = vqaddq_s32(h, vshrq_n_s32(vandq_s32(h, nrsh), 31));
    return vrshlq_s32(h, nrsh);
}

/* conv_q8's round_once (kernels.h; ruy's one rounding, detc_qmul_apply_once) on 4 lanes. vqshlq_s32
 * saturates the left shift; with P = x * mult (mult >= 0, so neither multiply saturates) vqdmulhq_s32 is
 * floor(P / 2^31) and vqrdmulhq_s32 floor((P + 2^30) / 2^31). vrshlq_s32 by -r adds 2^(r-1) before shifting
 * without overflow, and floors compose: floor((floor(P / 2^31) + 2^(r-1)) / 2^r) = floor((P + 2^(30+r)) /
 * 2^(31+r)). Lanes with r = 0 (r0 set) take vqrdmulhq_s32's result. */
static inline int32x4_t cq_requant_once(int32x4_t acc, int32x4_t mult, int32x4_t lsh, int32x4_t nrsh, uint32x4_t r0)
{
    int32x4_t a = vqshlq_s32(acc, lsh);
    return vbslq_s32(r0, vqrdmulhq_s32(a, mult), vrshlq_s32(vqdmulhq_s32(a, mult), nrsh));
}

/* 4 channels' epilogue constants, built once per channel block and row block. */
typedef struct {
    int32x4_t b, od, mult, lsh, nrsh, zp, lo, hi;
    uint32x4_t r0; /* round_once: lanes without a right shift */
    int once;      /* prm->round_once */
} cq_epi;

static inline void cq_epi_init(cq_epi *e, const detc_conv_q8_params *prm, const cq_pack *p, int c0, int nc)
{
    int32_t b[4], od[4], mult[4], lsh[4], nrsh[4];
    for (int j = 0; j < 4; j++) {
        int c = c0 + (j < nc ? j : 0);
        b[j] = (int32_t)((uint32_t)prm->bias[c] + (uint32_t)p->cb[c]);
        od[j] = (int32_t)((uint32_t)p->o[c] - (uint32_t)(prm->w_zp ? prm->w_zp[c] : 0));
        mult[j] = prm->mult[c];
        lsh[j] = prm->lshift[c];
        nrsh[j] = -prm->rshift[c];
    }
    e->b = vld1q_s32(b);
    e->od = vld1q_s32(od);
    e->mult = vld1q_s32(mult);
    e->lsh = vld1q_s32(lsh);
    e->nrsh = vld1q_s32(nrsh);
    e->zp = vdupq_n_s32(prm->out_zp);
    e->lo = vdupq_n_s32(prm->act_min);
    e->hi = vdupq_n_s32(prm->act_max);
    e->r0 = vceqq_s32(e->nrsh, vdupq_n_s32(0));
    e->once = prm->round_once;
}

/* One row of 4 channels: sum a*w + bias - w_zp * sum a = dot + cb + bias + (o - w_zp) * sum a, all
 * modulo 2^32; then the requantization and the clamp (round_once: + out_zp saturating, so that the clamp
 * sees the exact sum, as the portable kernel's). */
static inline int16x4_t cq_finish(const cq_epi *e, int32x4_t dot, int32_t rs)
{
    int32x4_t v = vreinterpretq_s32_u32(vmlaq_u32(vreinterpretq_u32_s32(vaddq_s32(dot, e->b)),
                                                  vreinterpretq_u32_s32(e->od), vdupq_n_u32((uint32_t)rs)));
    if (e->once)
        v = vqaddq_s32(cq_requant_once(v, e->mult, e->lsh, e->nrsh, e->r0), e->zp);
    else
        v = vaddq_s32(cq_requant(v, e->mult, e->lsh, e->nrsh), e->zp);
    return vqmovn_s32(vminq_s32(vmaxq_s32(v, e->lo), e->hi));
}

/* 8 clamped values to bytes (exact: act_min/act_max lie in the byte range); nc of them stored. */
static inline void cq_store8(int16x8_t h, int is_signed, uint8_t *o, int nc)
{
    uint8x8_t b = is_signed ? vreinterpret_u8_s8(vqmovn_s16(h)) : vqmovun_s16(h);
    if (nc == 8) {
        vst1_u8(o, b);
    } else if (nc == 4) { /* a fixed-size copy: one unaligned 32-bit store */
        uint32_t v = vget_lane_u32(vreinterpret_u32_u8(b), 0);
        memcpy(o, &v, 4);
    } else {
        uint8_t t[8];
        vst1_u8(t, b);
        for (int j = 0; j < nc; j++)
            o[j] = t[j];
    }
}

/* Packs rows [0, rows) of a (lda apart) for the micro-kernel: groups of mr rows, each [kp/kg][mr][kg],
 * zero past K and past the last row; flip XORs every byte (u8 -> signed for the pair layout). */
static inline void cq_pack_rows(const uint8_t *a, int lda, int rows, int k, int kp, int mr, int kg, uint8_t flip,
                                uint8_t *dst)
{
    const uint8x16_t fl = vdupq_n_u8(flip);
    for (int i0 = 0; i0 < rows; i0 += mr, dst += (size_t)mr * kp) {
        for (int r = 0; r < mr; r++) {
            uint8_t *d = dst + (size_t)r * kg;
            if (i0 + r >= rows) {
                for (int q = 0; q < kp; q += kg)
                    memset(d + (size_t)q * mr, flip, (size_t)kg);
                continue;
            }
            const uint8_t *s = a + (size_t)(i0 + r) * lda;
            int q = 0;
            if (kg == 16) {
                for (; q + 16 <= k; q += 16)
                    vst1q_u8(d + (size_t)q * mr, veorq_u8(vld1q_u8(s + q), fl));
            } else { /* kg == 4: 16 bytes make four groups, mr * 4 bytes apart */
                for (; q + 16 <= k; q += 16) {
                    uint32x4_t v = vreinterpretq_u32_u8(veorq_u8(vld1q_u8(s + q), fl));
                    uint8_t *g = d + (size_t)q * mr;
                    vst1q_lane_u32((uint32_t *)(void *)g, v, 0);
                    vst1q_lane_u32((uint32_t *)(void *)(g + 4 * mr), v, 1);
                    vst1q_lane_u32((uint32_t *)(void *)(g + 8 * mr), v, 2);
                    vst1q_lane_u32((uint32_t *)(void *)(g + 12 * mr), v, 3);
                }
            }
#ifdef __aarch64__
            if (q < k && k >= 16) { /* the tail: the row's last 16 bytes shifted down by a table lookup */
                const uint8x16_t iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
                const uint8x16_t r = vdupq_n_u8((uint8_t)(k - q));
                uint8x16_t idx = vorrq_u8(vaddq_u8(iota, vsubq_u8(vdupq_n_u8(16), r)), vcgeq_u8(iota, r));
                uint8x16_t v = veorq_u8(vqtbl1q_u8(vld1q_u8(s + k - 16), idx), fl);
                uint8_t *g = d + (size_t)q * mr;
                if (kg == 16) {
                    vst1q_u8(g, v);
                } else {
                    uint32x4_t v32 = vreinterpretq_u32_u8(v);
                    int groups = (kp - q) / 4;
                    vst1q_lane_u32((uint32_t *)(void *)g, v32, 0);
                    if (groups > 1)
                        vst1q_lane_u32((uint32_t *)(void *)(g + 4 * mr), v32, 1);
                    if (groups > 2)
                        vst1q_lane_u32((uint32_t *)(void *)(g + 8 * mr), v32, 2);
                    if (groups > 3)
                        vst1q_lane_u32((uint32_t *)(void *)(g + 12 * mr), v32, 3);
                }
                continue;
            }
#endif
            for (; q < kp; q++) /* the tail, then zeros (as flipped bytes, which the zero filter ignores) */
                d[(size_t)(q / kg) * mr * kg + q % kg] = (uint8_t)((q < k ? s[q] : 0) ^ flip);
        }
    }
}

/* Row sums (sum a, modulo 2^32) of a group of CQ_MR rows packed for the pair layout: the packed bytes are
 * a ^ flip as signed values, padding included (0 ^ flip), so sum a = sum packed + 128 * kp when flipped. */
static inline void cq_pair_row_sums(const int8_t *ap, int kp, int flipped, int32_t *rs)
{
    int32x4_t acc[CQ_MR];
    for (int i = 0; i < CQ_MR; i++)
        acc[i] = vdupq_n_s32(0);
    for (int q = 0; q < kp; q += 16, ap += 16 * CQ_MR)
        for (int i = 0; i < CQ_MR; i++)
            acc[i] = vpadalq_s16(acc[i], vpaddlq_s8(vld1q_s8(ap + 16 * i)));
    for (int i = 0; i < CQ_MR; i++) {
        int32x4_t a = acc[i];
        rs[i] = (int32_t)((uint32_t)vgetq_lane_s32(a, 0) + (uint32_t)vgetq_lane_s32(a, 1) +
                          (uint32_t)vgetq_lane_s32(a, 2) + (uint32_t)vgetq_lane_s32(a, 3) +
                          (flipped ? 128u * (uint32_t)kp : 0u));
    }
}

/* The pair/wide micro-kernel: CQ_MR packed rows x 4 channels over the whole (padded) K. MAC(acc, a, b)
 * with a, b int8x16_t and acc int32x4_t is defined by the including file. */
#define CQ_TILE_KERNEL(NAME, MAC)                                                                              \
    static inline __attribute__((always_inline)) void NAME(int kp, const int8_t *ap, const int8_t *wb,        \
                                                          int32x4_t res[CQ_MR])                             \
    {                                                                                                      \
        int32x4_t acc[CQ_MR][4];                                                                           \
        _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++)                                            \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_s32(0);                \
        for (int q = 0; q < kp; q += 16, ap += 16 * CQ_MR, wb += 64) {                                     \
            int8x16_t a[CQ_MR];                                                                            \
            _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++) a[i] = vld1q_s8(ap + 16 * i);          \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {                                          \
                int8x16_t b = vld1q_s8(wb + 16 * j);                                                       \
                _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++) MAC(acc[i][j], a[i], b);           \
            }                                                                                              \
        }                                                                                                  \
        _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++)                                            \
            res[i] = cq_padd(cq_padd(acc[i][0], acc[i][1]), cq_padd(acc[i][2], acc[i][3]));                \
    }

/* Packed rows for one block of at most CQ_MC rows: on the stack when small, else on the heap. */
#define CQ_STACK_ROWS 8192
typedef struct {
    uint8_t *buf;
    uint8_t stack[CQ_STACK_ROWS] __attribute__((aligned(16)));
    int32_t rs[CQ_MC + 8]; /* whole row groups */
} cq_rowbuf;

static inline uint8_t *cq_rowbuf_get(cq_rowbuf *rb, size_t bytes)
{
    rb->buf = bytes <= CQ_STACK_ROWS ? rb->stack : aligned_alloc(16, cq_align16(bytes));
    return rb->buf;
}

static inline void cq_rowbuf_put(cq_rowbuf *rb)
{
    if (rb->buf != rb->stack)
        free(rb->buf);
}

/* The driver (pair and wide): blocks of CQ_MC rows packed with their sums, each block against every
 * channel block. When memory for the packed rows runs out, row groups are packed one at a time. */
#define CQ_DRIVER(NAME, TILE)                                                                                  \
    static void NAME(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo) \
    {                                                                                                      \
        const cq_pack *p = prm->packed;                                                                    \
        const uint8_t flip = p->is_signed ? 0 : 0x80;                                                      \
        cq_rowbuf rb;                                                                                      \
        int mcb = CQ_MC;                                                                                   \
        uint8_t *ap = cq_rowbuf_get(&rb, (size_t)CQ_MC * p->kp);                                           \
        if (!ap) {                                                                                         \
            mcb = CQ_MR;                                                                                   \
            ap = cq_rowbuf_get(&rb, (size_t)CQ_MR * p->kp); /* fits the stack unless K is huge */          \
            if (!ap)                                                                                       \
                return;                                                                                    \
        }                                                                                                  \
        for (int m0 = 0; m0 < m; m0 += mcb) {                                                              \
            int mc = m - m0 < mcb ? m - m0 : mcb;                                                          \
            const uint8_t *a0 = a + (size_t)m0 * lda;                                                      \
            cq_pack_rows(a0, lda, mc, p->k, p->kp, CQ_MR, 16, flip, ap);                                   \
            for (int i0 = 0; i0 < mc; i0 += CQ_MR)                                                         \
                cq_pair_row_sums((const int8_t *)ap + (size_t)i0 * p->kp, p->kp, flip != 0, rb.rs + i0);   \
            for (int c0 = 0; c0 < p->n; c0 += 4) {                                                         \
                int nc = p->n - c0 < 4 ? p->n - c0 : 4;                                                    \
                const int8_t *wb = p->w + (size_t)c0 * p->kp;                                              \
                cq_epi e;                                                                                  \
                cq_epi_init(&e, prm, p, c0, nc);                                                           \
                for (int i0 = 0; i0 < mc; i0 += CQ_MR) {                                                   \
                    int32x4_t res[CQ_MR];                                                                  \
                    TILE(p->kp, (const int8_t *)ap + (size_t)i0 * p->kp, wb, res);                         \
                    uint8_t *o = out + (size_t)(m0 + i0) * ldo + c0;                                       \
                    if (i0 + CQ_MR <= mc && nc == 4) { /* the common case, unrolled */                     \
                        const cq_epi ev = e;                                                               \
                        _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++) {                          \
                            int16x4_t h = cq_finish(&ev, res[i], rb.rs[i0 + i]);                           \
                            cq_store8(vcombine_s16(h, h), p->is_signed, o + (size_t)i * ldo, 4);           \
                        }                                                                                  \
                        continue;                                                                          \
                    }                                                                                      \
                    for (int i = 0; i < CQ_MR && i0 + i < mc; i++) {                                       \
                        int16x4_t h = cq_finish(&e, res[i], rb.rs[i0 + i]);                                \
                        cq_store8(vcombine_s16(h, h), p->is_signed, o + (size_t)i * ldo, nc);              \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        cq_rowbuf_put(&rb);                                                                                \
    }

#endif
