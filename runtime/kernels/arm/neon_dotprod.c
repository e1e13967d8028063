/* aarch64 dot-product kernels (UDOT/SDOT, armv8.2-A+dotprod): the quantized conv GEMM only. This
 * object alone is built with -march=armv8.2-a+dotprod; select.c uses it when AT_HWCAP reports ASIMDDP.
 * Four 8-bit products summed into each 32-bit lane cannot overflow, so bytes are used as they are and
 * the sums are the portable kernel's exactly (conv_q8_neon.h has the layouts). */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include "conv_q8_neon.h"

#define DOT_MR 8 /* 16 accumulators, 2 row vectors, 2 filter vectors */

/* Row r's 4 bytes (lane r % 4 of row vector r / 4) times 4 channels' 4 bytes, into acc[r][h]. */
#define DOT_ROW(OP, r)                                                                                         \
    acc[r][0] = OP(acc[r][0], b0, (r) < 4 ? a0 : a1, (r) % 4);                                                 \
    acc[r][1] = OP(acc[r][1], b1, (r) < 4 ? a0 : a1, (r) % 4);

#define DOT_TILE(NAME, T, VT, LOAD, OP, TO_S32)                                                                \
    static void NAME(int kp, const T *ap, const T *wb, int32x4_t res[DOT_MR][2])                               \
    {                                                                                                          \
        VT acc[DOT_MR][2];                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < DOT_MR; r++) acc[r][0] = acc[r][1] = (VT){0};              \
        for (int q = 0; q < kp; q += 4, ap += 32, wb += 32) {                                                  \
            __typeof__(LOAD(ap)) a0 = LOAD(ap), a1 = LOAD(ap + 16), b0 = LOAD(wb), b1 = LOAD(wb + 16);         \
            DOT_ROW(OP, 0) DOT_ROW(OP, 1) DOT_ROW(OP, 2) DOT_ROW(OP, 3)                                        \
            DOT_ROW(OP, 4) DOT_ROW(OP, 5) DOT_ROW(OP, 6) DOT_ROW(OP, 7)                                        \
        }                                                                                                      \
        _Pragma("GCC unroll 8") for (int r = 0; r < DOT_MR; r++) {                                             \
            res[r][0] = TO_S32(acc[r][0]);                                                                     \
            res[r][1] = TO_S32(acc[r][1]);                                                                     \
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
        const uint8_t *a0 = a + (size_t)m0 * lda;
        cq_pack_rows(a0, lda, mc, p->k, p->kp, DOT_MR, 4, 0, ap);
        for (int i0 = 0; i0 < mc; i0 += DOT_MR)
            row_sums(ap + (size_t)i0 * p->kp, p->kp, p->is_signed, rb.rs + i0);
        for (int c0 = 0; c0 < p->n; c0 += 8) {
            int nc = p->n - c0 < 8 ? p->n - c0 : 8;
            const int8_t *wb = p->w + (size_t)c0 * p->kp;
            cq_epi e0, e1;
            cq_epi_init(&e0, prm, p, c0, nc < 4 ? nc : 4);
            cq_epi_init(&e1, prm, p, nc > 4 ? c0 + 4 : c0, nc > 4 ? nc - 4 : 1);
            for (int i0 = 0; i0 < mc; i0 += DOT_MR) {
                int32x4_t res[DOT_MR][2];
                const uint8_t *ar = ap + (size_t)i0 * p->kp;
                if (p->is_signed)
                    tile_sdot(p->kp, (const int8_t *)ar, wb, res);
                else
                    tile_udot(p->kp, ar, (const uint8_t *)wb, res);
                uint8_t *o = out + (size_t)(m0 + i0) * ldo + c0;
                if (i0 + DOT_MR <= mc && nc == 8) { /* the common case, unrolled */
                    const cq_epi f0 = e0, f1 = e1;
#pragma GCC unroll 8
                    for (int i = 0; i < DOT_MR; i++) {
                        int32_t rs = rb.rs[i0 + i];
                        int16x8_t h = vcombine_s16(cq_finish(&f0, res[i][0], rs), cq_finish(&f1, res[i][1], rs));
                        cq_store8(h, p->is_signed, o + (size_t)i * ldo, 8);
                    }
                    continue;
                }
                for (int i = 0; i < DOT_MR && i0 + i < mc; i++) {
                    int32_t rs = rb.rs[i0 + i];
                    int16x8_t h = vcombine_s16(cq_finish(&e0, res[i][0], rs), cq_finish(&e1, res[i][1], rs));
                    cq_store8(h, p->is_signed, o + (size_t)i * ldo, nc);
                }
            }
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
