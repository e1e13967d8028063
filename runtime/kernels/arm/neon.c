/* NEON kernels for 32-bit ARM (armv7-a, NEON + VFPv4: this file alone is built with -mfpu=neon-vfpv4)
 * and aarch64 (armv8.0-A Advanced SIMD): the quantized conv GEMM (conv_q8_neon.h), the int8 Winograd's int16
 * GEMM (gemm_s16), quantized and float depthwise convolutions and the float GEMM's micro-kernel; from eltwise_neon.c, the requantizing add and
 * (aarch64) the f32 <-> u8/i8 casts. Integer results are identical to the
 * portable kernels (exact integer sums modulo 2^32, TFLite's requantization lane by lane); float results
 * differ by FMA's single rounding and the GEMM's blocked summation order, within the tolerances of
 * tests/test_kernels.c. */
#include "kernels.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "../sgemm.h"
#include "conv_q8_neon.h"
#include "eltwise_neon.h"

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

/* Channel blocks outer, pixels inner, so a block's requantization constants stay in registers. Inputs
 * are widened to 16 bits and multiplied by the int16 weights into 32-bit lanes (|x*w| <= 255*255); the
 * narrowing saturates to the byte range first and clamps to [act_min, act_max] after, which is the same
 * as clamping first because that range lies inside the byte range. */

static inline __attribute__((always_inline)) int16x8_t dw_lo16(uint8x16_t v, int is_signed)
{
    return is_signed ? vmovl_s8(vget_low_s8(vreinterpretq_s8_u8(v))) : vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));
}

static inline __attribute__((always_inline)) int16x8_t dw_hi16(uint8x16_t v, int is_signed)
{
    return is_signed ? vmovl_s8(vget_high_s8(vreinterpretq_s8_u8(v)))
                     : vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(v)));
}

/* Four requantized lanes plus the output zero point, narrowed to int16. */
#define DW_RQ(acc, v) vqmovn_s32(vaddq_s32(cq_requant((acc), mult##v, lsh##v, nrsh##v), zp))

/* Two taps' products for 8 channels into two accumulators of 4 lanes. */
#define DW_MAC2(lo, hi, a, b, wv)                                                                              \
    lo = vmlal_s16(lo, vget_low_s16(a), vget_low_s16((wv).val[0]));                                            \
    hi = vmlal_s16(hi, vget_high_s16(a), vget_high_s16((wv).val[0]));                                          \
    lo = vmlal_s16(lo, vget_low_s16(b), vget_low_s16((wv).val[1]));                                            \
    hi = vmlal_s16(hi, vget_high_s16(b), vget_high_s16((wv).val[1]));

/* Channels c .. c+15 (wide) or c .. c+7 of n pixels. Pixel i's tap t is taps[i * tstride + t] + i * pstep:
 * tstride 2P and pstep 0 for a pointer per tap and pixel (dwconv_q8), 0 and the step for a run
 * (dwconv_q8_run). */
static inline __attribute__((always_inline)) void dw_block(const detc_dwconv_q8_params *prm, int n,
                                                           const uint8_t *const *taps, ptrdiff_t tstride,
                                                           ptrdiff_t pstep, uint8_t *out, int c, int is_signed,
                                                           int wide)
{
    const int C = prm->channels, P = prm->tap_pairs;
    const int32x4_t zp = vdupq_n_s32(prm->out_zp);
    const int32x4_t nrsh0 = vnegq_s32(vld1q_s32(prm->rshift + c)), nrsh1 = vnegq_s32(vld1q_s32(prm->rshift + c + 4));
    const int32x4_t nrsh2 = wide ? vnegq_s32(vld1q_s32(prm->rshift + c + 8)) : nrsh0;
    const int32x4_t nrsh3 = wide ? vnegq_s32(vld1q_s32(prm->rshift + c + 12)) : nrsh0;
    const int32x4_t mult0 = vld1q_s32(prm->mult + c), mult1 = vld1q_s32(prm->mult + c + 4);
    const int32x4_t mult2 = wide ? vld1q_s32(prm->mult + c + 8) : mult0;
    const int32x4_t mult3 = wide ? vld1q_s32(prm->mult + c + 12) : mult0;
    const int32x4_t lsh0 = vld1q_s32(prm->lshift + c), lsh1 = vld1q_s32(prm->lshift + c + 4);
    const int32x4_t lsh2 = wide ? vld1q_s32(prm->lshift + c + 8) : lsh0;
    const int32x4_t lsh3 = wide ? vld1q_s32(prm->lshift + c + 12) : lsh0;
    const uint8x16_t lo = vdupq_n_u8((uint8_t)prm->act_min), hi = vdupq_n_u8((uint8_t)prm->act_max);
    const size_t wstep = (size_t)C * 2;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + i * tstride;
        const ptrdiff_t off = i * pstep + c;
        int32x4_t a0 = vld1q_s32(prm->bias + c), a1 = vld1q_s32(prm->bias + c + 4);
        int32x4_t a2 = wide ? vld1q_s32(prm->bias + c + 8) : a0, a3 = wide ? vld1q_s32(prm->bias + c + 12) : a0;
        const int16_t *w = prm->w + (size_t)c * 2;
        for (int p = 0; p < P; p++, t += 2, w += wstep) {
            if (wide) {
                uint8x16_t x0 = vld1q_u8(t[0] + off), x1 = vld1q_u8(t[1] + off);
                int16x8x2_t wa = vld2q_s16(w), wb = vld2q_s16(w + 16); /* [c][2] -> per-tap weights */
                int16x8_t xa = dw_lo16(x0, is_signed), xb = dw_lo16(x1, is_signed);
                DW_MAC2(a0, a1, xa, xb, wa)
                xa = dw_hi16(x0, is_signed);
                xb = dw_hi16(x1, is_signed);
                DW_MAC2(a2, a3, xa, xb, wb)
            } else {
                uint8x16_t x0 = vcombine_u8(vld1_u8(t[0] + off), vdup_n_u8(0));
                uint8x16_t x1 = vcombine_u8(vld1_u8(t[1] + off), vdup_n_u8(0));
                int16x8x2_t wa = vld2q_s16(w);
                int16x8_t xa = dw_lo16(x0, is_signed), xb = dw_lo16(x1, is_signed);
                DW_MAC2(a0, a1, xa, xb, wa)
            }
        }
        int16x8_t h0 = vcombine_s16(DW_RQ(a0, 0), DW_RQ(a1, 1));
        int16x8_t h1 = wide ? vcombine_s16(DW_RQ(a2, 2), DW_RQ(a3, 3)) : h0;
        uint8_t *o = out + (size_t)i * C + c;
        if (is_signed) {
            int8x16_t b = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
            b = vminq_s8(vmaxq_s8(b, vreinterpretq_s8_u8(lo)), vreinterpretq_s8_u8(hi));
            if (wide)
                vst1q_s8((int8_t *)o, b);
            else
                vst1_s8((int8_t *)o, vget_low_s8(b));
        } else {
            uint8x16_t b = vcombine_u8(vqmovun_s16(h0), vqmovun_s16(h1));
            b = vminq_u8(vmaxq_u8(b, lo), hi);
            if (wide)
                vst1q_u8(o, b);
            else
                vst1_u8(o, vget_low_u8(b));
        }
    }
}

/* Channel c alone, as the portable kernel; taps as in dw_block. */
static void dw_one(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, ptrdiff_t tstride,
                   ptrdiff_t pstep, uint8_t *out, int c)
{
    const int C = prm->channels, P = prm->tap_pairs;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + i * tstride;
        const ptrdiff_t off = i * pstep + c;
        uint32_t acc = (uint32_t)prm->bias[c];
        for (int p = 0; p < P; p++) {
            const int16_t *w = prm->w + ((size_t)p * C + c) * 2;
            int x0 = prm->is_signed ? (int8_t)t[2 * p][off] : t[2 * p][off];
            int x1 = prm->is_signed ? (int8_t)t[2 * p + 1][off] : t[2 * p + 1][off];
            acc += (uint32_t)(x0 * w[0] + x1 * w[1]);
        }
        detc_qmul m = {prm->mult[c], prm->lshift[c] - prm->rshift[c]};
        int32_t v = detc_qmul_apply((int32_t)acc, m) + prm->out_zp;
        out[(size_t)i * C + c] = (uint8_t)(v < prm->act_min ? prm->act_min : (v > prm->act_max ? prm->act_max : v));
    }
}

static inline __attribute__((always_inline)) void dw_all(const detc_dwconv_q8_params *prm, int n,
                                                         const uint8_t *const *taps, ptrdiff_t tstride,
                                                         ptrdiff_t pstep, uint8_t *out, int is_signed)
{
    const int C = prm->channels;
    int c = 0;
    for (; c + 16 <= C; c += 16)
        dw_block(prm, n, taps, tstride, pstep, out, c, is_signed, 1);
    for (; c + 8 <= C; c += 8)
        dw_block(prm, n, taps, tstride, pstep, out, c, is_signed, 0);
    for (; c < C; c++)
        dw_one(prm, n, taps, tstride, pstep, out, c);
}

static void dwconv_q8_neon(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    const ptrdiff_t ptrs = 2 * (ptrdiff_t)prm->tap_pairs;
    if (prm->is_signed)
        dw_all(prm, n, taps, ptrs, 0, out, 1);
    else
        dw_all(prm, n, taps, ptrs, 0, out, 0);
}

/* A run of pixels (dwconv_q8_run): the first pixel's taps moved by the step in the kernels above. */
static void dwconv_q8_run_neon(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                               uint8_t *out)
{
    if (prm->is_signed)
        dw_all(prm, n, taps0, 0, step, out, 1);
    else
        dw_all(prm, n, taps0, 0, step, out, 0);
}

/* ---------------- dwconv_f32 ---------------- */

/* Pixel i's tap t at taps[i * tstride + t] + i * pstep floats: tstride T and pstep 0 for a pointer per tap and
 * pixel (dwconv_f32), 0 and the step for a run (dwconv_f32_run). */
static inline __attribute__((always_inline)) void dwf_neon(const detc_dwconv_f32_params *prm, int n,
                                                           const float *const *taps, ptrdiff_t tstride,
                                                           ptrdiff_t pstep, float *out)
{
    const int C = prm->channels, T = prm->taps;
    const float lo = prm->act_lo, hi = prm->act_hi;
    const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    for (int i = 0; i < n; i++) {
        const float *const *t = taps + i * tstride;
        const ptrdiff_t off = i * pstep;
        float *o = out + (size_t)i * C;
        int c = 0;
        for (; c + 8 <= C; c += 8) {
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
            for (int tp = 0; tp < T; tp++) {
                const float *x = t[tp] + off + c, *w = prm->w + (size_t)tp * C + c;
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
                acc += t[tp][off + c] * prm->w[(size_t)tp * C + c];
            float v = acc + prm->bias[c];
            v = v < lo ? lo : v;
            o[c] = v > hi ? hi : v;
        }
    }
}

static void dwconv_f32_neon(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    dwf_neon(prm, n, taps, prm->taps, 0, out);
}

/* A run of pixels (dwconv_f32_run): the first pixel's taps moved by the step. */
static void dwconv_f32_run_neon(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                                float *out)
{
    dwf_neon(prm, n, taps0, 0, step, out);
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
#pragma GCC unroll 2
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

/* 8 rows, 4 values of K at a time: two 4x4 transposes into the k-major panel. */
static void sgemm_pack8_neon(const float *src, int ld, int k0, int kc, float *dst)
{
    const float *r[8];
    for (int j = 0; j < 8; j++)
        r[j] = src + (size_t)j * ld + k0;
    for (int k = 0; k < kc; k += 4, dst += 32) {
        for (int h = 0; h < 2; h++) {
            float32x4x2_t t01 = vtrnq_f32(vld1q_f32(r[4 * h] + k), vld1q_f32(r[4 * h + 1] + k));
            float32x4x2_t t23 = vtrnq_f32(vld1q_f32(r[4 * h + 2] + k), vld1q_f32(r[4 * h + 3] + k));
            /* t01 = (a0 b0 a2 b2), (a1 b1 a3 b3); t23 likewise for rows c, d */
            vst1q_f32(dst + 4 * h, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
            vst1q_f32(dst + 8 + 4 * h, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
            vst1q_f32(dst + 16 + 4 * h, vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
            vst1q_f32(dst + 24 + 4 * h, vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
        }
    }
}

static const detc_sgemm_arch sgemm_neon = {SG_MR, SG_NR, sgemm_ukr_neon, sgemm_pack8_neon};

static void gemm_f32_neon(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    detc_sgemm(&sgemm_neon, M, N, K, A, lda, B, ldb, C, ldc);
}

/* ---------------- logistic_f32 ---------------- */

/* logistic_x86.c's scheme on 4 lanes: exp(-x) = 2^k * p(r), k rounded with the 1.5 * 2^23 trick (no
 * vrndnq on armv7), r = t - k ln 2 in two parts, p the degree-7 Taylor polynomial; the reciprocal is
 * vdivq on aarch64 and vrecpe plus two Newton steps on armv7 (about 1 ulp). */
static inline float32x4_t sigmoid4(float32x4_t x)
{
    const float32x4_t magic = vdupq_n_f32(12582912.0f); /* 1.5 * 2^23 */
    float32x4_t t = vminq_f32(vmaxq_f32(vnegq_f32(x), vdupq_n_f32(-87.0f)), vdupq_n_f32(88.0f));
    float32x4_t k = vsubq_f32(vmlaq_n_f32(magic, t, 1.44269504088896341f), magic);
    float32x4_t r = vfmsq_f32(t, k, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, k, vdupq_n_f32(1.428606765330187e-06f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
    float32x4_t d = vaddq_f32(vdupq_n_f32(1.0f), vmulq_f32(p, vreinterpretq_f32_s32(bits)));
#ifdef __aarch64__
    float32x4_t y = vdivq_f32(vdupq_n_f32(1.0f), d);
#else
    float32x4_t y = vrecpeq_f32(d);
    y = vmulq_f32(y, vrecpsq_f32(d, y));
    y = vmulq_f32(y, vrecpsq_f32(d, y));
#endif
    return vbslq_f32(vceqq_f32(x, x), y, x); /* a NaN stays NaN */
}

static void logistic_f32_neon(long n, const float *x, float *y)
{
    long i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, sigmoid4(vld1q_f32(x + i)));
    if (i < n) {
        float buf[4] = {0};
        for (long j = i; j < n; j++)
            buf[j - i] = x[j];
        vst1q_f32(buf, sigmoid4(vld1q_f32(buf)));
        for (long j = i; j < n; j++)
            y[j] = buf[j - i];
    }
}

/* ---------------- gemm_s16: the int8 Winograd conv's int16 GEMM ---------------- */

/* Panels of 8 output channels, K-major: [panels][k][8] int16 (zeros past N), one vector load per k. */
static void *conv_s16_pack_neon(int n, int k, const int16_t *w)
{
    size_t panels = (size_t)(n + 7) / 8, len = panels * (size_t)k * 8;
    int16_t *p = calloc(len ? len : 1, sizeof *p);
    if (!p)
        return NULL;
    for (int c = 0; c < n; c++)
        for (int q = 0; q < k; q++)
            p[((size_t)(c / 8) * (size_t)k + (size_t)q) * 8 + (size_t)(c % 8)] = w[(size_t)c * (size_t)k + (size_t)q];
    return p;
}

/* MR rows (1..4) by one panel: vmlal (widening, wrapping modulo 2^32 as the portable sum does) of each row's
 * A[r][k] (a lane of 4 consecutive k, or the scalar for the last K % 4) into 8 int32 lanes. Inlined where mr is
 * a constant. */
static inline __attribute__((always_inline)) void s16_block_neon(int mr, int k, const int16_t *a, int lda,
                                                                 const int16_t *panel, int nlive, int32_t *out,
                                                                 int ldo)
{
    int32x4_t acc[4][2];
    for (int r = 0; r < 4; r++)
        acc[r][0] = acc[r][1] = vdupq_n_s32(0);
    int q = 0;
    for (; q + 4 <= k; q += 4) {
        const int16_t *wp = panel + (size_t)q * 8;
        int16x8_t w0 = vld1q_s16(wp), w1 = vld1q_s16(wp + 8), w2 = vld1q_s16(wp + 16), w3 = vld1q_s16(wp + 24);
        for (int r = 0; r < 4; r++) {
            if (r >= mr)
                continue;
            int16x4_t x = vld1_s16(a + (size_t)r * (size_t)lda + q);
            acc[r][0] = vmlal_lane_s16(acc[r][0], vget_low_s16(w0), x, 0);
            acc[r][1] = vmlal_lane_s16(acc[r][1], vget_high_s16(w0), x, 0);
            acc[r][0] = vmlal_lane_s16(acc[r][0], vget_low_s16(w1), x, 1);
            acc[r][1] = vmlal_lane_s16(acc[r][1], vget_high_s16(w1), x, 1);
            acc[r][0] = vmlal_lane_s16(acc[r][0], vget_low_s16(w2), x, 2);
            acc[r][1] = vmlal_lane_s16(acc[r][1], vget_high_s16(w2), x, 2);
            acc[r][0] = vmlal_lane_s16(acc[r][0], vget_low_s16(w3), x, 3);
            acc[r][1] = vmlal_lane_s16(acc[r][1], vget_high_s16(w3), x, 3);
        }
    }
    for (; q < k; q++) {
        int16x8_t w0 = vld1q_s16(panel + (size_t)q * 8);
        for (int r = 0; r < 4; r++) {
            if (r >= mr)
                continue;
            int16_t x = a[(size_t)r * (size_t)lda + q];
            acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(w0), x);
            acc[r][1] = vmlal_n_s16(acc[r][1], vget_high_s16(w0), x);
        }
    }
    for (int r = 0; r < mr; r++) {
        int32_t *dst = out + (size_t)r * (size_t)ldo;
        if (nlive == 8) {
            vst1q_s32(dst, acc[r][0]);
            vst1q_s32(dst + 4, acc[r][1]);
        } else {
            int32_t tmp[8];
            vst1q_s32(tmp, acc[r][0]);
            vst1q_s32(tmp + 4, acc[r][1]);
            memcpy(dst, tmp, (size_t)nlive * sizeof *dst);
        }
    }
}

static void gemm_s16_neon(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo)
{
    for (int c0 = 0; c0 < n; c0 += 8) {
        const int16_t *panel = (const int16_t *)packed + (size_t)(c0 / 8) * (size_t)k * 8;
        int nlive = n - c0 < 8 ? n - c0 : 8, r = 0;
        for (; r + 4 <= m; r += 4)
            s16_block_neon(4, k, a + (size_t)r * (size_t)lda, lda, panel, nlive, out + (size_t)r * (size_t)ldo + c0,
                           ldo);
        const int16_t *ar = a + (size_t)r * (size_t)lda;
        int32_t *o = out + (size_t)r * (size_t)ldo + c0;
        switch (m - r) {
        case 3: s16_block_neon(3, k, ar, lda, panel, nlive, o, ldo); break;
        case 2: s16_block_neon(2, k, ar, lda, panel, nlive, o, ldo); break;
        case 1: s16_block_neon(1, k, ar, lda, panel, nlive, o, ldo); break;
        default: break;
        }
    }
}

const detc_kernels detc_kernels_neon = {
    .name = "neon",
    .conv_s16_pack = conv_s16_pack_neon,
    .gemm_s16 = gemm_s16_neon,
    .gemm_f32 = gemm_f32_neon,
    .dwconv_q8 = dwconv_q8_neon,
    .dwconv_f32 = dwconv_f32_neon,
    .dwconv_q8_run = dwconv_q8_run_neon,
    .dwconv_f32_run = dwconv_f32_run_neon,
    .conv_q8_pack = conv_q8_pack_neon,
    .conv_q8 = conv_q8_neon,
    .logistic_f32 = logistic_f32_neon,
    .add_q8 = detc_add_q8_neon,
#ifdef __aarch64__
    .quantize_q8 = detc_quantize_q8_neon,
    .dequantize_q8 = detc_dequantize_q8_neon,
    .wino_out_q8 = detc_wino_out_q8_neon,
#endif
};
#else
/* A 32-bit build without NEON in its flags: the table is empty (select.c checks HWCAP first anyway). */
const detc_kernels detc_kernels_neon = {.name = "neon"};
#endif
