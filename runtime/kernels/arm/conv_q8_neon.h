/* The quantized conv GEMM (conv_q8) shared by the NEON tables: packing, the row-block driver and the
 * fused requantization. Included by neon.c (armv7 NEON and armv8.0-A) and neon_dotprod.c (SDOT/UDOT, its
 * own object built with +dotprod); each instantiates it with its own multiply-accumulate.
 *
 * Packed filter: channels in blocks of CQ_NR, K padded with zero weights to a multiple of 16; for each
 * block and each 16 values of K, the CQ_NR channels' 16 bytes one after the other, so the micro-kernel
 * reads it front to back.
 *
 * Without dot product, a NEON 8x8-bit multiply widens to 16 bits: two products are summed in 16 bits
 * (SMULL + SMLAL2) and then pairwise into 32 bits (SADALP), 3 instructions per 16 multiply-adds. That
 * sum fits in int16 only for signed bytes with |w| <= 127, so the filter is stored as w' = w - o[c] with
 * o[c] per channel chosen to bring every weight into [-127, 127], and u8 inputs are flipped to signed
 * (a' = a - 128, an XOR). The offsets come back in the epilogue, exactly (modulo 2^32, as the portable
 * kernel's sums):  sum a*w = sum a'*w' + o[c] * sum a + a_off * sum w'. A filter whose channel spans all
 * 256 values has no such offset; it is multiplied one product at a time (SMULL + SADALP, "wide").
 *
 * With dot product (UDOT/SDOT: four 8-bit products summed into each 32-bit lane), bytes are used as
 * they are (o = 0, no flip). */
#ifndef DETC_CONV_Q8_NEON_H
#define DETC_CONV_Q8_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#define CQ_NR 4
#ifdef __aarch64__
#define CQ_MR 4 /* 16 accumulators + 4 input rows + 4 filter vectors of the 32 registers */
#else
#define CQ_MR 2 /* armv7 has 16 quad registers */
#endif
#define CQ_MC 64 /* rows sharing one pass over the packed filter */

enum { CQ_PAIR, CQ_WIDE, CQ_DOT };

typedef struct {
    int n, k, kp, np; /* N, K, K rounded up to 16, N rounded up to CQ_NR */
    int mode;         /* CQ_PAIR, CQ_WIDE or CQ_DOT */
    int is_signed;
    int32_t *o;  /* [np]: filter offset per channel */
    int32_t *cb; /* [np]: a_off * sum over K of w' (a_off = 128 for flipped u8 inputs, else 0) */
    int8_t *w;   /* [np / CQ_NR][kp / 16][CQ_NR][16] */
} cq_pack;

static inline size_t cq_align16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

/* One allocation: header, o, cb, then the 16-byte-aligned weights. */
static cq_pack *cq_pack_filter(int n, int k, const uint8_t *w, int is_signed, int dot)
{
    int kp = (k + 15) & ~15, np = (n + CQ_NR - 1) / CQ_NR * CQ_NR;
    size_t head = cq_align16(sizeof(cq_pack)), arrays = cq_align16((size_t)np * 2 * sizeof(int32_t));
    uint8_t *mem = aligned_alloc(16, head + arrays + cq_align16((size_t)np * (size_t)kp + 1));
    if (!mem)
        return NULL;
    cq_pack *p = (cq_pack *)mem;
    p->n = n;
    p->k = k;
    p->kp = kp;
    p->np = np;
    p->is_signed = is_signed;
    p->o = (int32_t *)(mem + head);
    p->cb = p->o + np;
    p->w = (int8_t *)(mem + head + arrays);
    memset(p->w, 0, (size_t)np * (size_t)kp);

    /* Per channel: the range of its weights (as values: u8 0..255, i8 -128..127) and an offset o with
     * every w - o in [-127, 127]; one channel without one makes the filter "wide". */
    p->mode = dot ? CQ_DOT : CQ_PAIR;
    for (int c = 0; c < np; c++) {
        int lo = 0, hi = 0, o = 0;
        if (c < n && k > 0) {
            lo = 255, hi = -128;
            for (int q = 0; q < k; q++) {
                int v = is_signed ? (int8_t)w[(size_t)c * k + q] : w[(size_t)c * k + q];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            if (!dot) {
                o = is_signed ? 0 : 128; /* the offset the wide mode uses */
                if (o < hi - 127)
                    o = hi - 127;
                if (o > lo + 127)
                    o = lo + 127;
                if (hi - lo > 254)
                    p->mode = CQ_WIDE;
            }
        }
        p->o[c] = o;
    }
    if (p->mode == CQ_WIDE) /* any offset that keeps w' in [-128, 127] */
        for (int c = 0; c < np; c++)
            p->o[c] = c < n && !is_signed ? 128 : 0;
    int a_off = dot || is_signed ? 0 : 128;
    for (int c = 0; c < n; c++) {
        int8_t *dst = p->w + (size_t)(c / CQ_NR) * CQ_NR * kp + (size_t)(c % CQ_NR) * 16;
        int32_t sum = 0;
        for (int q = 0; q < k; q++) {
            int v = (is_signed ? (int8_t)w[(size_t)c * k + q] : w[(size_t)c * k + q]) - p->o[c];
            sum += v;
            dst[(size_t)(q / 16) * CQ_NR * 16 + q % 16] = (int8_t)(uint8_t)v; /* dot: the raw byte */
        }
        p->cb[c] = (int32_t)((uint32_t)a_off * (uint32_t)sum);
    }
    for (int c = n; c < np; c++)
        p->cb[c] = 0;
    return p;
}

/* Sum of a row's K values (u8, or i8 when is_signed), modulo 2^32. */
static inline int32_t cq_row_sum(const uint8_t *a, int k, int is_signed)
{
    int q = 0;
    int32x4_t acc = vdupq_n_s32(0);
    if (is_signed) {
        for (; q + 16 <= k; q += 16)
            acc = vpadalq_s16(acc, vpaddlq_s8(vld1q_s8((const int8_t *)a + q)));
    } else {
        uint32x4_t u = vdupq_n_u32(0);
        for (; q + 16 <= k; q += 16)
            u = vpadalq_u16(u, vpaddlq_u8(vld1q_u8(a + q)));
        acc = vreinterpretq_s32_u32(u);
    }
    int32_t s = vgetq_lane_s32(acc, 0) + vgetq_lane_s32(acc, 1) + vgetq_lane_s32(acc, 2) + vgetq_lane_s32(acc, 3);
    for (; q < k; q++)
        s += is_signed ? (int8_t)a[q] : a[q];
    return s;
}

/* [a0+a1 (lanes 0,1 of a summed pairwise), ...]: lanes (a0+a1, a2+a3, b0+b1, b2+b3). */
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

/* 4 clamped int32 lanes to bytes (exact: act_min/act_max lie in the byte range). */
static inline void cq_store4(int32x4_t v, int is_signed, uint8_t *o, int nc)
{
    int16x8_t h = vcombine_s16(vqmovn_s32(v), vqmovn_s32(v));
    uint8x8_t b = is_signed ? vreinterpret_u8_s8(vqmovn_s16(h)) : vqmovun_s16(h);
    if (nc == 4) { /* a fixed-size copy: one unaligned 32-bit store */
        uint32_t v = vget_lane_u32(vreinterpret_u32_u8(b), 0);
        memcpy(o, &v, 4);
        return;
    }
    for (int j = 0; j < nc; j++) /* nc < 4: the last channel block */
        o[j] = vget_lane_u8(vext_u8(b, b, 0), 0), b = vext_u8(b, b, 1);
}

/* A channel block's epilogue constants, built once per block and row block. */
typedef struct {
    int32x4_t b, od, mult, lsh, nrsh, zp, lo, hi;
} cq_epi;

static inline void cq_epi_init(cq_epi *e, const detc_conv_q8_params *prm, const cq_pack *p, int c0, int nc)
{
    int32_t b[CQ_NR], od[CQ_NR], mult[CQ_NR], lsh[CQ_NR], nrsh[CQ_NR];
    for (int j = 0; j < CQ_NR; j++) {
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
}

/* One row of CQ_NR channels: sum a*w + bias - w_zp * sum a = dot + cb + bias + (o - w_zp) * sum a, all
 * modulo 2^32; then the requantization, the clamp and nc bytes stored. */
static inline int32x4_t cq_finish(const cq_epi *e, int32x4_t dot, int32_t rs)
{
    int32x4_t v = vreinterpretq_s32_u32(vmlaq_u32(vreinterpretq_u32_s32(vaddq_s32(dot, e->b)),
                                                  vreinterpretq_u32_s32(e->od), vdupq_n_u32((uint32_t)rs)));
    v = vaddq_s32(cq_requant(v, e->mult, e->lsh, e->nrsh), e->zp);
    return vminq_s32(vmaxq_s32(v, e->lo), e->hi);
}

/* The tile's rows: 16 values of K at a time, the last partial 16 from a zero-padded copy of the row's
 * tail (the filter is zero there, so the padding's value does not matter; the row is never read past K). */
typedef struct {
    const uint8_t *row[CQ_MR];
    const uint8_t *tail[CQ_MR];
} cq_rows;
/* The MAC of one 16-value step: CQ_MAC(acc, a, b) with a, b int8x16_t and acc int32x4_t; defined by the
 * including file. The micro-kernel: CQ_MR rows x CQ_NR channels, whole K. */
#define CQ_STEP(MAC, FLIP, SRC)                                                                                \
    {                                                                                                          \
        int8x16_t a[CQ_MR];                                                                                    \
        _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++) a[i] = vld1q_s8((const int8_t *)(SRC));        \
        if (FLIP)                                                                                              \
            _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++) a[i] = veorq_s8(a[i], flip);               \
        _Pragma("GCC unroll 4") for (int j = 0; j < CQ_NR; j++) {                                              \
            int8x16_t b = vld1q_s8(wb + 16 * j);                                                               \
            _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++) MAC(acc[i][j], a[i], b);                   \
        }                                                                                                      \
        wb += 16 * CQ_NR;                                                                                      \
    }

#define CQ_TILE_KERNEL(NAME, MAC, FLIP)                                                                        \
    static inline __attribute__((always_inline)) void NAME(const cq_pack *p, const cq_rows *r,              \
                                                          const int8_t *wb, int8x16_t flip,                 \
                                                          int32x4_t res[CQ_MR])                             \
    {                                                                                                      \
        int32x4_t acc[CQ_MR][CQ_NR];                                                                       \
        _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++)                                            \
            _Pragma("GCC unroll 4") for (int j = 0; j < CQ_NR; j++) acc[i][j] = vdupq_n_s32(0);            \
        const int kfull = p->k & ~15; /* rows indexed by q: one induction variable for all */            \
        for (int q = 0; q < kfull; q += 16)                                                                \
            CQ_STEP(MAC, FLIP, r->row[i] + q)                                                              \
        if (p->k % 16)                                                                                     \
            CQ_STEP(MAC, FLIP, r->tail[i])                                                                 \
        _Pragma("GCC unroll 4") for (int i = 0; i < CQ_MR; i++)                                            \
            res[i] = cq_padd(cq_padd(acc[i][0], acc[i][1]), cq_padd(acc[i][2], acc[i][3]));                \
    }

/* The driver: blocks of CQ_MC rows (their sums and K tails first), each against every channel block.
 * Rows past m in the last tile repeat row m-1; their results are dropped. */
#define CQ_DRIVER(NAME, TILE, FLIP)                                                                            \
    static void NAME(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo) \
    {                                                                                                      \
        const cq_pack *p = prm->packed;                                                                    \
        const int8x16_t flip = vdupq_n_s8((int8_t)(FLIP && !p->is_signed ? 0x80 : 0));                    \
        int32_t rs[CQ_MC];                                                                                 \
        uint8_t tails[CQ_MC][16];                                                                          \
        for (int m0 = 0; m0 < m; m0 += CQ_MC) {                                                            \
            int mc = m - m0 < CQ_MC ? m - m0 : CQ_MC;                                                      \
            for (int i = 0; i < mc; i++) {                                                                 \
                const uint8_t *row = a + (size_t)(m0 + i) * lda;                                           \
                rs[i] = cq_row_sum(row, p->k, p->is_signed);                                               \
                memset(tails[i], 0, 16);                                                                   \
                memcpy(tails[i], row + (p->k & ~15), (size_t)(p->k % 16));                                 \
            }                                                                                              \
            for (int c0 = 0; c0 < p->n; c0 += CQ_NR) {                                                     \
                int nc = p->n - c0 < CQ_NR ? p->n - c0 : CQ_NR;                                            \
                const int8_t *wb = p->w + (size_t)c0 * p->kp;                                              \
                cq_epi e;                                                                                  \
                cq_epi_init(&e, prm, p, c0, nc);                                                           \
                for (int i0 = 0; i0 < mc; i0 += CQ_MR) {                                                   \
                    int rows = mc - i0 < CQ_MR ? mc - i0 : CQ_MR;                                          \
                    cq_rows r;                                                                             \
                    for (int i = 0; i < CQ_MR; i++) {                                                      \
                        int ri = i0 + (i < rows ? i : rows - 1);                                           \
                        r.row[i] = a + (size_t)(m0 + ri) * lda;                                            \
                        r.tail[i] = tails[ri];                                                             \
                    }                                                                                      \
                    int32x4_t res[CQ_MR];                                                                  \
                    TILE(p, &r, wb, flip, res);                                                            \
                    for (int i = 0; i < rows; i++)                                                         \
                        cq_store4(cq_finish(&e, res[i], rs[i0 + i]), p->is_signed,                         \
                                  out + (size_t)(m0 + i0 + i) * ldo + c0, nc);                             \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }

#endif
