/* NEON kernels for 32-bit ARM (armv7-a, NEON + VFPv4: this file alone is built with -mfpu=neon-vfpv4)
 * and aarch64 (armv8.0-A Advanced SIMD): the quantized conv GEMM (conv_q8_neon.h), quantized and float
 * depthwise convolutions and the float GEMM's micro-kernel. Integer results are identical to the
 * portable kernels (exact integer sums modulo 2^32, TFLite's requantization lane by lane); float results
 * differ by FMA's single rounding and the GEMM's blocked summation order, within the tolerances of
 * tests/test_kernels.c. */
#include "kernels.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "../sgemm.h"
#include "conv_q8_neon.h"

/* ---------------- conv_q8: two products per 16-bit lane, or one ("wide") ---------------- */

#ifdef __aarch64__
#define MAC_PAIR(acc, a, b) (acc) = vpadalq_s16((acc), vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), (a), (b)))
#define MAC_WIDE(acc, a, b)                                                                                    \
    (acc) = vpadalq_s16(vpadalq_s16((acc), vmull_s8(vget_low_s8(a), vget_low_s8(b))), vmull_high_s8((a), (b)))
#else
#define MAC_PAIR(acc, a, b)                                                                                    \
    (acc) = vpadalq_s16((acc), vmlal_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), vget_high_s8(a), vget_high_s8(b)))
#define MAC_WIDE(acc, a, b)                                                                                    \
    (acc) = vpadalq_s16(vpadalq_s16((acc), vmull_s8(vget_low_s8(a), vget_low_s8(b))),                        \
                        vmull_s8(vget_high_s8(a), vget_high_s8(b)))
#endif

CQ_TILE_KERNEL(tile_pair, MAC_PAIR)
CQ_TILE_KERNEL(tile_wide, MAC_WIDE)
CQ_DRIVER(conv_pair, tile_pair)
CQ_DRIVER(conv_wide, tile_wide)

static void *conv_q8_pack_neon(int n, int k, const uint8_t *w, int is_signed)
{
    return cq_pack_filter(n, k, w, is_signed, 0);
}

static void conv_q8_neon(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo)
{
    const cq_pack *p = prm->packed;
    if (p->mode == CQ_WIDE)
        conv_wide(prm, m, a, lda, out, ldo);
    else
        conv_pair(prm, m, a, lda, out, ldo);
}

/* ---------------- dwconv_q8 ---------------- */

static inline __attribute__((always_inline)) int16x8_t dw_widen(uint8x8_t v, int is_signed)
{
    return is_signed ? vmovl_s8(vreinterpret_s8_u8(v)) : vreinterpretq_s16_u16(vmovl_u8(v));
}

/* Channels c..c+7 of one pixel: the tap pairs' products summed into the bias (|x*w| <= 255*255). */
static inline __attribute__((always_inline)) void dw_block8(const detc_dwconv_q8_params *prm,
                                                            const uint8_t *const *t, int c, int is_signed,
                                                            uint8_t *o)
{
    const int C = prm->channels, P = prm->tap_pairs;
    int32x4_t lo = vld1q_s32(prm->bias + c), hi = vld1q_s32(prm->bias + c + 4);
    const int16_t *w = prm->w + (size_t)c * 2;
    for (int p = 0; p < P; p++, w += (size_t)C * 2) {
        int16x8_t x0 = dw_widen(vld1_u8(t[2 * p] + c), is_signed);
        int16x8_t x1 = dw_widen(vld1_u8(t[2 * p + 1] + c), is_signed);
        int16x8x2_t wv = vld2q_s16(w); /* [c][2] -> tap 2p's and tap 2p+1's weights */
        lo = vmlal_s16(lo, vget_low_s16(x0), vget_low_s16(wv.val[0]));
        hi = vmlal_s16(hi, vget_high_s16(x0), vget_high_s16(wv.val[0]));
        lo = vmlal_s16(lo, vget_low_s16(x1), vget_low_s16(wv.val[1]));
        hi = vmlal_s16(hi, vget_high_s16(x1), vget_high_s16(wv.val[1]));
    }
    int32x4_t zp = vdupq_n_s32(prm->out_zp), mn = vdupq_n_s32(prm->act_min), mx = vdupq_n_s32(prm->act_max);
    int32x4_t r[2];
    for (int h = 0; h < 2; h++) {
        int32x4_t v = cq_requant(h ? hi : lo, vld1q_s32(prm->mult + c + 4 * h), vld1q_s32(prm->lshift + c + 4 * h),
                                 vnegq_s32(vld1q_s32(prm->rshift + c + 4 * h)));
        r[h] = vminq_s32(vmaxq_s32(vaddq_s32(v, zp), mn), mx);
    }
    int16x8_t h16 = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
    if (is_signed)
        vst1_s8((int8_t *)o, vqmovn_s16(h16));
    else
        vst1_u8(o, vqmovun_s16(h16));
}

/* Channel c alone, as the portable kernel. */
static uint8_t dw_one(const detc_dwconv_q8_params *prm, const uint8_t *const *t, int c)
{
    const int C = prm->channels, P = prm->tap_pairs;
    uint32_t acc = (uint32_t)prm->bias[c];
    for (int p = 0; p < P; p++) {
        const int16_t *w = prm->w + ((size_t)p * C + c) * 2;
        int x0 = prm->is_signed ? (int8_t)t[2 * p][c] : t[2 * p][c];
        int x1 = prm->is_signed ? (int8_t)t[2 * p + 1][c] : t[2 * p + 1][c];
        acc += (uint32_t)(x0 * w[0] + x1 * w[1]);
    }
    detc_qmul m = {prm->mult[c], prm->lshift[c] - prm->rshift[c]};
    int32_t v = detc_qmul_apply((int32_t)acc, m) + prm->out_zp;
    return (uint8_t)(v < prm->act_min ? prm->act_min : (v > prm->act_max ? prm->act_max : v));
}

static inline __attribute__((always_inline)) void dw_pixels(const detc_dwconv_q8_params *prm, int n,
                                                            const uint8_t *const *taps, uint8_t *out,
                                                            int is_signed)
{
    const int C = prm->channels, P = prm->tap_pairs;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + (size_t)i * 2 * P;
        uint8_t *o = out + (size_t)i * C;
        int c = 0;
        for (; c + 8 <= C; c += 8)
            dw_block8(prm, t, c, is_signed, o + c);
        for (; c < C; c++)
            o[c] = dw_one(prm, t, c);
    }
}

static void dwconv_q8_neon(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    if (prm->is_signed)
        dw_pixels(prm, n, taps, out, 1);
    else
        dw_pixels(prm, n, taps, out, 0);
}

/* ---------------- dwconv_f32 ---------------- */

static void dwconv_f32_neon(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    const int C = prm->channels, T = prm->taps;
    const float lo = prm->act_lo, hi = prm->act_hi;
    const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    for (int i = 0; i < n; i++) {
        const float *const *t = taps + (size_t)i * T;
        float *o = out + (size_t)i * C;
        int c = 0;
        for (; c + 8 <= C; c += 8) {
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
            for (int tp = 0; tp < T; tp++) {
                const float *x = t[tp] + c, *w = prm->w + (size_t)tp * C + c;
                a0 = vfmaq_f32(a0, vld1q_f32(x), vld1q_f32(w));
                a1 = vfmaq_f32(a1, vld1q_f32(x + 4), vld1q_f32(w + 4));
            }
            a0 = vaddq_f32(a0, vld1q_f32(prm->bias + c));
            a1 = vaddq_f32(a1, vld1q_f32(prm->bias + c + 4));
            /* v < lo ? lo : v, then v > hi ? hi : v: a NaN passes through, as in the portable loop */
            a0 = vbslq_f32(vcltq_f32(a0, vlo), vlo, a0);
            a1 = vbslq_f32(vcltq_f32(a1, vlo), vlo, a1);
            vst1q_f32(o + c, vbslq_f32(vcgtq_f32(a0, vhi), vhi, a0));
            vst1q_f32(o + c + 4, vbslq_f32(vcgtq_f32(a1, vhi), vhi, a1));
        }
        for (; c < C; c++) {
            float acc = 0.0f;
            for (int tp = 0; tp < T; tp++)
                acc += t[tp][c] * prm->w[(size_t)tp * C + c];
            float v = acc + prm->bias[c];
            v = v < lo ? lo : v;
            o[c] = v > hi ? hi : v;
        }
    }
}

/* ---------------- gemm_f32: the micro-kernel of sgemm.h ---------------- */

#ifdef __aarch64__
#define SG_MR 8 /* 16 accumulators, 2 A and 2 B registers */
#define SG_NR 8
#define SG_ROW(r, av, lane)                                                                                    \
    c##r##0 = vfmaq_laneq_f32(c##r##0, b0, av, lane);                                                          \
    c##r##1 = vfmaq_laneq_f32(c##r##1, b1, av, lane);
#define SG_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define SG_MR 4 /* 8 accumulators of armv7's 16 quad registers */
#define SG_NR 8
#define SG_ROW(r, av, lane)                                                                                    \
    {                                                                                                          \
        float32x4_t s = vdupq_lane_f32(lane < 2 ? vget_low_f32(av) : vget_high_f32(av), lane & 1);              \
        c##r##0 = vfmaq_f32(c##r##0, b0, s);                                                                   \
        c##r##1 = vfmaq_f32(c##r##1, b1, s);                                                                   \
    }
#define SG_ROWS(X) X(0) X(1) X(2) X(3)
#endif

#define SG_DECL(r) float32x4_t c##r##0 = vdupq_n_f32(0.0f), c##r##1 = c##r##0;
#define SG_FMA(r) SG_ROW(r, (r < 4 ? a0 : a1), (r & 3))
#define SG_STORE(r)                                                                                            \
    if (accumulate) {                                                                                          \
        c##r##0 = vaddq_f32(c##r##0, vld1q_f32(c + r * ldc));                                                  \
        c##r##1 = vaddq_f32(c##r##1, vld1q_f32(c + r * ldc + 4));                                              \
    }                                                                                                          \
    vst1q_f32(c + r * ldc, c##r##0);                                                                           \
    vst1q_f32(c + r * ldc + 4, c##r##1);

static void sgemm_ukr_neon(int kc, const float *a, const float *b, float *c, int ldc, int accumulate)
{
    SG_ROWS(SG_DECL)
    for (int k = 0; k < kc; k++, a += SG_MR, b += SG_NR) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        float32x4_t a0 = vld1q_f32(a);
#ifdef __aarch64__
        float32x4_t a1 = vld1q_f32(a + 4);
#else
        float32x4_t a1 = a0;
#endif
        (void)a1;
        SG_ROWS(SG_FMA)
    }
    SG_ROWS(SG_STORE)
}

static const detc_sgemm_arch sgemm_neon = {SG_MR, SG_NR, sgemm_ukr_neon};

static void gemm_f32_neon(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    detc_sgemm(&sgemm_neon, M, N, K, A, lda, B, ldb, C, ldc);
}

const detc_kernels detc_kernels_neon = {
    .name = "neon",
    .gemm_f32 = gemm_f32_neon,
    .dwconv_q8 = dwconv_q8_neon,
    .dwconv_f32 = dwconv_f32_neon,
    .conv_q8_pack = conv_q8_pack_neon,
    .conv_q8 = conv_q8_neon,
};
#else
/* A 32-bit build without NEON in its flags: the table is empty (select.c checks HWCAP first anyway). */
const detc_kernels detc_kernels_neon = {.name = "neon"};
#endif
