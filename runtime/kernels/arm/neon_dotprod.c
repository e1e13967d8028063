/* aarch64 dot-product kernels (UDOT/SDOT, armv8.2-A+dotprod): the quantized conv GEMM only. This
 * object alone is built with -march=armv8.2-a+dotprod; select.c uses it when AT_HWCAP reports ASIMDDP.
 * Four 8-bit products summed into each 32-bit lane cannot overflow, so bytes are used as they are and
 * the sums are the portable kernel's exactly (conv_q8_neon.h has the layouts). */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include "conv_q8_neon.h"

#define DOT_MR 8  /* rows: 24 accumulators, 2 row vectors, 3 filter vectors of the 32 registers */
#define DOT_NR 12 /* channels */

/* Row r's 4 bytes (lane r % 4 of row vector r / 4) times 4 channels' 4 bytes, into acc[r][h]. */
#define DOT_ROW(OP, r)                                                                                         \
    acc[r][0] = OP(acc[r][0], b0, (r) < 4 ? a0 : a1, (r) % 4);                                                 \
    acc[r][1] = OP(acc[r][1], b1, (r) < 4 ? a0 : a1, (r) % 4);                                                 \
    acc[r][2] = OP(acc[r][2], b2, (r) < 4 ? a0 : a1, (r) % 4);

#define DOT_TILE(NAME, T, VT, LOAD, OP, TO_S32)                                                                \
    static void NAME(int kp, const T *ap, const T *wb, const VT init[3], int32x4_t res[DOT_MR][3])             \
    {                                                                                                          \
        VT acc[DOT_MR][3];                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < DOT_MR; r++) acc[r][0] = init[0], acc[r][1] = init[1],     \
                                                                acc[r][2] = init[2];                           \
        _Pragma("GCC unroll 2") for (int q = 0; q < kp; q += 4, ap += 32, wb += 48) {                          \
            __typeof__(LOAD(ap)) a0 = LOAD(ap), a1 = LOAD(ap + 16), b0 = LOAD(wb), b1 = LOAD(wb + 16);         \
            __typeof__(LOAD(ap)) b2 = LOAD(wb + 32);                                                           \
            DOT_ROW(OP, 0) DOT_ROW(OP, 1) DOT_ROW(OP, 2) DOT_ROW(OP, 3)                                        \
            DOT_ROW(OP, 4) DOT_ROW(OP, 5) DOT_ROW(OP, 6) DOT_ROW(OP, 7)                                        \
        }                                                                                                      \
        _Pragma("GCC unroll 8") for (int r = 0; r < DOT_MR; r++) {                                             \
            res[r][0] = TO_S32(acc[r][0]);                                                                     \
            res[r][1] = TO_S32(acc[r][1]);                                                                     \
            res[r][2] = TO_S32(acc[r][2]);                                                                     \
        }                                                                                                      \
    }

#define S32_ID(v) (v)
DOT_TILE(tile_udot, uint8_t, uint32x4_t, vld1q_u8, vdotq_laneq_u32, vreinterpretq_s32_u32)
DOT_TILE(tile_sdot, int8_t, int32x4_t, vld1q_s8, vdotq_laneq_s32, S32_ID)

/* Sums of 8 packed rows (4-byte groups of rows 0-3 and 4-7 alternate): a dot product with ones. */
static void row_sums(const uint8_t *ap, int kp, int is_signed, int32_t *rs)
{
    if (is_signed) {
        const int8x16_t ones = vdupq_n_s8(1);
        int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
        for (int q = 0; q < kp; q += 4, ap += 32) {
            s0 = vdotq_s32(s0, vld1q_s8((const int8_t *)ap), ones);
            s1 = vdotq_s32(s1, vld1q_s8((const int8_t *)ap + 16), ones);
        }
        vst1q_s32(rs, s0);
        vst1q_s32(rs + 4, s1);
    } else {
        const uint8x16_t ones = vdupq_n_u8(1);
        uint32x4_t s0 = vdupq_n_u32(0), s1 = s0;
        for (int q = 0; q < kp; q += 4, ap += 32) {
            s0 = vdotq_u32(s0, vld1q_u8(ap), ones);
            s1 = vdotq_u32(s1, vld1q_u8(ap + 16), ones);
        }
        vst1q_s32(rs, vreinterpretq_s32_u32(s0));
        vst1q_s32(rs + 4, vreinterpretq_s32_u32(s1));
    }
}

static void *conv_q8_pack_dot(int n, int k, const uint8_t *w, int is_signed)
{
    return cq_pack_filter(n, k, w, is_signed, 1);
}

/* A block of 8 channels' epilogue: the bias (with cb) starts the accumulators; then
 * + (o - w_zp) * sum a (o = 0 here), the requantization, + out_zp in saturating int16 (exact: the clamp
 * that follows lies in the byte range) and the clamp on bytes. */
typedef struct {
    int32x4_t b[3], od[3], mult[3], lsh[3], nrsh[3];
    uint32x4_t r0[3]; /* round_once: lanes without a right shift */
    int once;         /* prm->round_once */
    int16x8_t zp;
    uint8x16_t lo, hi;
} dot_epi;

static void dot_epi_load(dot_epi *e, const detc_conv_q8_params *prm, const cq_pack *p, int c0, int nc);

static void dot_epi_init(dot_epi *e, const detc_conv_q8_params *prm, const cq_pack *p, int c0, int nc)
{
    e->zp = vdupq_n_s16((int16_t)prm->out_zp);
    e->lo = vdupq_n_u8((uint8_t)prm->act_min);
    e->hi = vdupq_n_u8((uint8_t)prm->act_max);
    e->once = prm->round_once;
    dot_epi_load(e, prm, p, c0, nc);
    for (int h = 0; h < 3; h++)
        e->r0[h] = vceqq_s32(e->nrsh[h], vdupq_n_s32(0));
}

static void dot_epi_load(dot_epi *e, const detc_conv_q8_params *prm, const cq_pack *p, int c0, int nc)
{
    if (nc == DOT_NR) { /* whole block: straight vector loads */
        for (int h = 0; h < 3; h++) {
            int c = c0 + 4 * h;
            e->b[h] = vaddq_s32(vld1q_s32(prm->bias + c), vld1q_s32(p->cb + c));
            e->od[h] = prm->w_zp ? vnegq_s32(vld1q_s32(prm->w_zp + c)) : vdupq_n_s32(0);
            e->mult[h] = vld1q_s32(prm->mult + c);
            e->lsh[h] = vld1q_s32(prm->lshift + c);
            e->nrsh[h] = vnegq_s32(vld1q_s32(prm->rshift + c));
        }
        return;
    }
    int32_t v[5][DOT_NR];
    for (int j = 0; j < DOT_NR; j++) {
        int c = c0 + (j < nc ? j : 0);
        v[0][j] = (int32_t)((uint32_t)prm->bias[c] + (uint32_t)p->cb[c]);
        v[1][j] = (int32_t)(0u - (uint32_t)(prm->w_zp ? prm->w_zp[c] : 0));
        v[2][j] = prm->mult[c];
        v[3][j] = prm->lshift[c];
        v[4][j] = -prm->rshift[c];
    }
    for (int h = 0; h < 3; h++) {
        e->b[h] = vld1q_s32(v[0] + 4 * h);
        e->od[h] = vld1q_s32(v[1] + 4 * h);
        e->mult[h] = vld1q_s32(v[2] + 4 * h);
        e->lsh[h] = vld1q_s32(v[3] + 4 * h);
        e->nrsh[h] = vld1q_s32(v[4] + 4 * h);
    }
}

static inline __attribute__((always_inline)) int32x4_t dot_rq(const dot_epi *e, int h, int32x4_t acc, int32_t rs,
                                                              int has_lsh)
{
    int32x4_t v = vreinterpretq_s32_u32(vmlaq_n_u32(vreinterpretq_u32_s32(acc), vreinterpretq_u32_s32(e->od[h]),
                                                    (uint32_t)rs));
    if (e->once) /* ruy's one rounding: cq_requant_once, the left shift saturating */
        return vbslq_s32(e->r0[h], vqrdmulhq_s32(has_lsh ? vqshlq_s32(v, e->lsh[h]) : v, e->mult[h]),
                         vrshlq_s32(vqdmulhq_s32(has_lsh ? vqshlq_s32(v, e->lsh[h]) : v, e->mult[h]), e->nrsh[h]));
    if (has_lsh)
        v = vshlq_s32(v, e->lsh[h]);
    int32x4_t q = vqrdmulhq_s32(v, e->mult[h]);
    q = vqaddq_s32(q, vshrq_n_s32(vandq_s32(q, e->nrsh[h]), 31));
    return vrshlq_s32(q, e->nrsh[h]);
}

/* One row's 12 channels to bytes; nc of them stored. */
static inline __attribute__((always_inline)) void dot_row(const dot_epi *e, const int32x4_t res[3], int32_t rs,
                                                          int is_signed, int has_lsh, uint8_t *o, int nc)
{
    int16x4_t q2 = vqmovn_s32(dot_rq(e, 2, res[2], rs, has_lsh));
    int16x8_t h = vcombine_s16(vqmovn_s32(dot_rq(e, 0, res[0], rs, has_lsh)), vqmovn_s32(dot_rq(e, 1, res[1], rs, has_lsh)));
    int16x8_t h2 = vcombine_s16(q2, q2);
    h = vqaddq_s16(h, e->zp);
    h2 = vqaddq_s16(h2, e->zp);
    uint8x16_t b;
    if (is_signed) {
        int8x16_t v = vcombine_s8(vqmovn_s16(h), vqmovn_s16(h2));
        v = vminq_s8(vmaxq_s8(v, vreinterpretq_s8_u8(e->lo)), vreinterpretq_s8_u8(e->hi));
        b = vreinterpretq_u8_s8(v);
    } else {
        b = vminq_u8(vmaxq_u8(vcombine_u8(vqmovun_s16(h), vqmovun_s16(h2)), e->lo), e->hi);
    }
    if (nc == DOT_NR) {
        vst1_u8(o, vget_low_u8(b));
        uint32_t last = vgetq_lane_u32(vreinterpretq_u32_u8(b), 2);
        memcpy(o + 8, &last, 4);
    } else {
        uint8_t t[16];
        vst1q_u8(t, b);
        for (int j = 0; j < nc; j++)
            o[j] = t[j];
    }
}

/* The row groups of one channel block: a whole group's epilogue unrolled with the constants in registers. */
static inline __attribute__((always_inline)) void dot_block(const detc_conv_q8_params *prm, const cq_pack *p,
                                                            const uint8_t *ap, const int32_t *rs, int mc,
                                                            int c0, int nc, uint8_t *out, int ldo, int is_signed,
                                                            int has_lsh)
{
    dot_epi e;
    dot_epi_init(&e, prm, p, c0, nc);
    const int8_t *wb = p->w + (size_t)c0 * p->kp;
    for (int i0 = 0; i0 < mc; i0 += DOT_MR) {
        int32x4_t res[DOT_MR][3];
        const uint8_t *ar = ap + (size_t)i0 * p->kp;
        if (is_signed) {
            tile_sdot(p->kp, (const int8_t *)ar, wb, e.b, res);
        } else {
            const uint32x4_t init[3] = {vreinterpretq_u32_s32(e.b[0]), vreinterpretq_u32_s32(e.b[1]),
                                        vreinterpretq_u32_s32(e.b[2])};
            tile_udot(p->kp, ar, (const uint8_t *)wb, init, res);
        }
        uint8_t *o = out + (size_t)i0 * ldo + c0;
        if (i0 + DOT_MR <= mc && nc == DOT_NR) {
#pragma GCC unroll 8
            for (int i = 0; i < DOT_MR; i++)
                dot_row(&e, res[i], rs[i0 + i], is_signed, has_lsh, o + (size_t)i * ldo, DOT_NR);
            continue;
        }
        for (int i = 0; i < DOT_MR && i0 + i < mc; i++)
            dot_row(&e, res[i], rs[i0 + i], is_signed, 1, o + (size_t)i * ldo, nc);
    }
}

static int block_has_lsh(const detc_conv_q8_params *prm, int c0, int nc)
{
    for (int j = 0; j < nc; j++)
        if (prm->lshift[c0 + j])
            return 1;
    return 0;
}

/* Blocks of CQ_MC rows packed with their sums, each block against every 8-channel block. */
static void conv_q8_dot(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo)
{
    const cq_pack *p = prm->packed;
    cq_rowbuf rb;
    int mcb = CQ_MC;
    uint8_t *ap = cq_rowbuf_get(&rb, (size_t)CQ_MC * p->kp);
    if (!ap) {
        mcb = DOT_MR;
        ap = cq_rowbuf_get(&rb, (size_t)DOT_MR * p->kp);
        if (!ap)
            return;
    }
    for (int m0 = 0; m0 < m; m0 += mcb) {
        int mc = m - m0 < mcb ? m - m0 : mcb;
        cq_pack_rows(a + (size_t)m0 * lda, lda, mc, p->k, p->kp, DOT_MR, 4, 0, ap);
        for (int i0 = 0; i0 < mc; i0 += DOT_MR)
            row_sums(ap + (size_t)i0 * p->kp, p->kp, p->is_signed, rb.rs + i0);
        uint8_t *o = out + (size_t)m0 * ldo;
        for (int c0 = 0; c0 < p->n; c0 += DOT_NR) {
            int nc = p->n - c0 < DOT_NR ? p->n - c0 : DOT_NR;
            int lsh = block_has_lsh(prm, c0, nc);
            if (p->is_signed && lsh)
                dot_block(prm, p, ap, rb.rs, mc, c0, nc, o, ldo, 1, 1);
            else if (p->is_signed)
                dot_block(prm, p, ap, rb.rs, mc, c0, nc, o, ldo, 1, 0);
            else if (lsh)
                dot_block(prm, p, ap, rb.rs, mc, c0, nc, o, ldo, 0, 1);
            else
                dot_block(prm, p, ap, rb.rs, mc, c0, nc, o, ldo, 0, 0);
        }
    }
    cq_rowbuf_put(&rb);
}

const detc_kernels detc_kernels_neon_dotprod = {
    .name = "neon-dotprod",
    .conv_q8_pack = conv_q8_pack_dot,
    .conv_q8 = conv_q8_dot,
};
#elif defined(__aarch64__)
#error "neon_dotprod.c needs -march=armv8.2-a+dotprod (the Makefile's KERNEL_FLAGS_neon_dotprod)"
#endif
