/* Portable C kernels: the reference every SIMD variant is tested against. */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

static void gemm_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int m = 0; m < M; m++) {
        const float *a = A + (long)m * lda;
        for (int n = 0; n < N; n++) {
            const float *b = B + (long)n * ldb;
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc += a[k] * b[k];
            C[(long)m * ldc + n] = acc;
        }
    }
}

/* dwconv_q8: channels in blocks of DW_BLOCK with a constant trip count, which gcc vectorizes even at -O2
 * (its cheap cost model refuses loops that need an epilogue), then the remaining channels one by one.
 * Accumulation is in uint32 so that it wraps exactly as the SIMD variants do (the sum itself fits in
 * int32 whenever TFLite's does). */
#define DW_BLOCK 16

static inline uint8_t dw_requant(const detc_dwconv_q8_params *prm, int c, uint32_t acc)
{
    detc_qmul m = {prm->mult[c], prm->lshift[c] - prm->rshift[c]};
    int32_t v = detc_qmul_apply((int32_t)acc, m) + prm->out_zp;
    return (uint8_t)(v < prm->act_min ? prm->act_min : (v > prm->act_max ? prm->act_max : v));
}

#define DW_ACCUMULATE(T, NB)                                                                                   \
    for (int p = 0; p < P; p++) {                                                                              \
        const T *x0 = (const T *)t[2 * p] + c0, *x1 = (const T *)t[2 * p + 1] + c0;                            \
        const int16_t *w = prm->w + ((long)p * C + c0) * 2;                                                    \
        for (int c = 0; c < (NB); c++)                                                                         \
            acc[c] += (uint32_t)(x0[c] * w[2 * c] + x1[c] * w[2 * c + 1]);                                     \
    }

static void dwconv_q8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    const int C = prm->channels, P = prm->tap_pairs;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + (long)i * 2 * P;
        uint8_t *o = out + (long)i * C;
        int c0 = 0;
        for (; c0 + DW_BLOCK <= C; c0 += DW_BLOCK) {
            uint32_t acc[DW_BLOCK];
            for (int c = 0; c < DW_BLOCK; c++)
                acc[c] = (uint32_t)prm->bias[c0 + c];
            if (prm->is_signed) {
                DW_ACCUMULATE(int8_t, DW_BLOCK)
            } else {
                DW_ACCUMULATE(uint8_t, DW_BLOCK)
            }
            for (int c = 0; c < DW_BLOCK; c++)
                o[c0 + c] = dw_requant(prm, c0 + c, acc[c]);
        }
        for (; c0 < C; c0++) {
            uint32_t acc[1] = {(uint32_t)prm->bias[c0]};
            if (prm->is_signed) {
                DW_ACCUMULATE(int8_t, 1)
            } else {
                DW_ACCUMULATE(uint8_t, 1)
            }
            o[c0] = dw_requant(prm, c0, acc[0]);
        }
    }
}

/* dwconv_f32: the op's per-pixel arithmetic (acc from 0, a product then a sum per tap in tap order, the
 * bias last, clamp to act_lo then act_hi), channels in blocks of DW_BLOCK with a constant trip count so
 * that gcc vectorizes them, then the rest one by one. */
#define DW_F32_ACCUMULATE(NB)                                                                                  \
    for (int tp = 0; tp < T; tp++) {                                                                           \
        const float *x = t[tp] + c0, *w = prm->w + (long)tp * C + c0;                                          \
        for (int c = 0; c < (NB); c++)                                                                         \
            acc[c] += x[c] * w[c];                                                                             \
    }                                                                                                          \
    for (int c = 0; c < (NB); c++) {                                                                           \
        float v = acc[c] + prm->bias[c0 + c];                                                                  \
        v = v < lo ? lo : v;                                                                                   \
        o[c0 + c] = v > hi ? hi : v;                                                                           \
    }

static void dwconv_f32(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    const int C = prm->channels, T = prm->taps;
    const float lo = prm->act_lo, hi = prm->act_hi;
    for (int i = 0; i < n; i++) {
        const float *const *t = taps + (long)i * T;
        float *o = out + (long)i * C;
        int c0 = 0;
        for (; c0 + DW_BLOCK <= C; c0 += DW_BLOCK) {
            float acc[DW_BLOCK] = {0};
            DW_F32_ACCUMULATE(DW_BLOCK)
        }
        for (; c0 < C; c0++) {
            float acc[1] = {0};
            DW_F32_ACCUMULATE(1)
        }
    }
}

/* Runs of pixels: the pointers expanded for the per-pixel loops above (the reference for every table's run
 * entries). */
static void dwconv_q8_run(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                          uint8_t *out)
{
    detc_dwconv_q8_run_expand(dwconv_q8, prm, 0, n, taps0, step, out);
}

static void dwconv_f32_run(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                           float *out)
{
    detc_dwconv_f32_run_expand(dwconv_f32, prm, 0, n, taps0, step, out);
}

/* conv_q8: the filter as given ([N][K]), one output element at a time. Accumulation in uint32, which
 * wraps exactly as the SIMD variants do. */
static void *conv_q8_pack(int n, int k, const uint8_t *w, int is_signed)
{
    (void)is_signed;
    size_t bytes = (size_t)n * (size_t)k;
    void *p = malloc(bytes ? bytes : 1);
    if (p && bytes)
        memcpy(p, w, bytes);
    return p;
}

/* dot[c] = sum_q a[q] * b[c*K + q] for c < N (wrapping). */
#define CONV_Q8_DOT(NAME, T)                                                                                   \
    static void NAME(int N, int K, const T *a, const T *b, uint32_t *dot)                                     \
    {                                                                                                          \
        for (int c = 0; c < N; c++, b += K) {                                                                  \
            uint32_t acc = 0;                                                                                  \
            for (int q = 0; q < K; q++)                                                                        \
                acc += (uint32_t)((int32_t)a[q] * (int32_t)b[q]);                                              \
            dot[c] = acc;                                                                                      \
        }                                                                                                      \
    }
CONV_Q8_DOT(conv_q8_dot_u8, uint8_t)
CONV_Q8_DOT(conv_q8_dot_s8, int8_t)

#define CONV_Q8_BLOCK 64

static void conv_q8(const detc_conv_q8_params *prm, int m, const uint8_t *a8, int lda, uint8_t *out, int ldo)
{
    const int N = prm->n, K = prm->k;
    const uint8_t *w = prm->packed;
    uint32_t dot[CONV_Q8_BLOCK];
    for (int i = 0; i < m; i++) {
        const uint8_t *a = a8 + (long)i * lda;
        uint8_t *o = out + (long)i * ldo;
        uint32_t rs = 0;
        if (prm->w_zp)
            for (int q = 0; q < K; q++)
                rs += prm->is_signed ? (uint32_t)(int32_t)(int8_t)a[q] : (uint32_t)a[q];
        for (int c0 = 0; c0 < N; c0 += CONV_Q8_BLOCK) {
            int nc = N - c0 < CONV_Q8_BLOCK ? N - c0 : CONV_Q8_BLOCK;
            if (prm->is_signed)
                conv_q8_dot_s8(nc, K, (const int8_t *)a, (const int8_t *)w + (long)c0 * K, dot);
            else
                conv_q8_dot_u8(nc, K, a, w + (long)c0 * K, dot);
            for (int c = 0; c < nc; c++) {
                int ch = c0 + c;
                uint32_t v = dot[c] + (uint32_t)prm->bias[ch] - (prm->w_zp ? (uint32_t)prm->w_zp[ch] * rs : 0);
                detc_qmul q = {prm->mult[ch], prm->lshift[ch] - prm->rshift[ch]};
                if (prm->round_once) { /* exact: the sum in 64 bits */
                    int64_t r = (int64_t)detc_qmul_apply_once((int32_t)v, q) + prm->out_zp;
                    o[ch] = (uint8_t)(r < prm->act_min ? prm->act_min : (r > prm->act_max ? prm->act_max : r));
                    continue;
                }
                int32_t r = detc_qmul_apply((int32_t)v, q) + prm->out_zp;
                o[ch] = (uint8_t)(r < prm->act_min ? prm->act_min : (r > prm->act_max ? prm->act_max : r));
            }
        }
    }
}

/* conv_f32: the filter as it is ([N][K] row-major), a multiply and an add per k in order, then the bias and
 * the clamp (v < lo ? lo : v, then v > hi ? hi : v: a NaN passes through). */
static void *conv_f32_pack(int n, int k, const float *w)
{
    if (n <= 0 || k < 0)
        return NULL;
    size_t len = (size_t)n * (size_t)k;
    float *p = malloc(len ? len * sizeof(float) : 1);
    if (p && len)
        memcpy(p, w, len * sizeof(float));
    return p;
}

static void conv_f32(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo)
{
    const float *w = prm->packed;
    for (int r = 0; r < m; r++) {
        const float *ar = a + (long)r * lda;
        for (int c = 0; c < prm->n; c++) {
            const float *wc = w + (long)c * prm->k;
            float acc = 0.0f;
            for (int k = 0; k < prm->k; k++)
                acc += ar[k] * wc[k];
            float v = acc + (prm->bias ? prm->bias[c] : 0.0f);
            v = v < prm->act_lo ? prm->act_lo : v;
            out[(long)r * ldo + c] = v > prm->act_hi ? prm->act_hi : v;
        }
    }
}

/* Winograd F(4x4, 3x3) transforms: channels in blocks of WB (constant trip counts, vectorized at -O2), the
 * last block zero-padded. bt6: out[r] = (B^T in)[r], r < 6; at6: out[r] = (A^T in)[r], r < 4; in and out
 * step is and os blocks per row. */
#define WB 16

static inline void bt6(const float *in, int is, float *out, int os)
{
    for (int c = 0; c < WB; c++) {
        float d0 = in[0 * is * WB + c], d1 = in[1 * is * WB + c], d2 = in[2 * is * WB + c];
        float d3 = in[3 * is * WB + c], d4 = in[4 * is * WB + c], d5 = in[5 * is * WB + c];
        out[0 * os * WB + c] = 4.0f * d0 - 5.0f * d2 + d4;
        out[1 * os * WB + c] = -4.0f * (d1 + d2) + (d3 + d4);
        out[2 * os * WB + c] = 4.0f * (d1 - d2) + (d4 - d3);
        out[3 * os * WB + c] = 2.0f * (d3 - d1) + (d4 - d2);
        out[4 * os * WB + c] = 2.0f * (d1 - d3) + (d4 - d2);
        out[5 * os * WB + c] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

static inline void at6(const float *in, int is, float *out, int os)
{
    for (int c = 0; c < WB; c++) {
        float m0 = in[0 * is * WB + c], m1 = in[1 * is * WB + c], m2 = in[2 * is * WB + c];
        float m3 = in[3 * is * WB + c], m4 = in[4 * is * WB + c], m5 = in[5 * is * WB + c];
        float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        out[0 * os * WB + c] = m0 + s12 + s34;
        out[1 * os * WB + c] = d12 + 2.0f * d34;
        out[2 * os * WB + c] = s12 + 4.0f * s34;
        out[3 * os * WB + c] = d12 + 8.0f * d34 + m5;
    }
}

static void wino_in_f32(int channels, const float *const *taps, float *v, size_t stride)
{
    float d[36 * WB], t[36 * WB], r[36 * WB];
    for (int c0 = 0; c0 < channels; c0 += WB) {
        int nc = channels - c0 < WB ? channels - c0 : WB;
        if (nc < WB)
            memset(d, 0, sizeof d);
        for (int p = 0; p < 36; p++)
            memcpy(d + p * WB, taps[p] + c0, (size_t)nc * sizeof(float));
        for (int x = 0; x < 6; x++) /* columns: B^T d */
            bt6(d + x * WB, 6, t + x * WB, 6);
        for (int y = 0; y < 6; y++) /* rows: (B^T d) B */
            bt6(t + y * 6 * WB, 1, r + y * 6 * WB, 1);
        for (int xi = 0; xi < 36; xi++)
            memcpy(v + (size_t)xi * stride + c0, r + xi * WB, (size_t)nc * sizeof(float));
    }
}

/* y[p*WB + c] = (A^T a A)[p] of WB channels, a[xi*WB + c] the 36 products. */
static void wino_out_tile(const float *a, float *y)
{
    float t[24 * WB];
    for (int x = 0; x < 6; x++) /* columns: A^T m, 4 rows of 6 */
        at6(a + x * WB, 6, t + x * WB, 6);
    for (int r = 0; r < 4; r++) /* rows: (A^T m) A */
        at6(t + r * 6 * WB, 1, y + r * 4 * WB, 1);
}

static void wino_out_f32(int channels, const float *m, size_t stride, const float *bias, float act_lo, float act_hi,
                         float *const *out)
{
    float a[36 * WB], y[16 * WB];
    for (int c0 = 0; c0 < channels; c0 += WB) {
        int nc = channels - c0 < WB ? channels - c0 : WB;
        if (nc < WB)
            memset(a, 0, sizeof a);
        for (int xi = 0; xi < 36; xi++)
            memcpy(a + xi * WB, m + (size_t)xi * stride + c0, (size_t)nc * sizeof(float));
        wino_out_tile(a, y);
        for (int p = 0; p < 16; p++) {
            if (!out[p])
                continue;
            for (int c = 0; c < nc; c++) {
                float v = y[p * WB + c] + (bias ? bias[c0 + c] : 0.0f);
                v = v < act_lo ? act_lo : v;
                out[p][c0 + c] = v > act_hi ? act_hi : v;
            }
        }
    }
}

/* The op's own formula, element by element: the reference the SIMD variants are held to. */
static void logistic_f32(long n, const float *x, float *y)
{
    for (long i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

/* ---------------- int16 GEMM (conv_s16_pack, gemm_s16) ---------------- */

/* B^T on six rows of WB int16 (in[r] at in + r * is, out[r] at out + r * os): exact, |out| <= 10 max |in|. */
static inline void bt6_s16(const int16_t *in, int is, int16_t *out, int os)
{
    for (int c = 0; c < WB; c++) {
        int d0 = in[0 * is + c], d1 = in[1 * is + c], d2 = in[2 * is + c];
        int d3 = in[3 * is + c], d4 = in[4 * is + c], d5 = in[5 * is + c];
        out[0 * os + c] = (int16_t)(4 * d0 - 5 * d2 + d4);
        out[1 * os + c] = (int16_t)(-4 * (d1 + d2) + (d3 + d4));
        out[2 * os + c] = (int16_t)(4 * (d1 - d2) + (d4 - d3));
        out[3 * os + c] = (int16_t)(2 * (d3 - d1) + (d4 - d2));
        out[4 * os + c] = (int16_t)(2 * (d1 - d3) + (d4 - d2));
        out[5 * os + c] = (int16_t)(4 * d1 - 5 * d3 + d5);
    }
}

/* Channels in blocks of WB as wino_in_f32, in int16. */
static void wino_in_s16(int channels, const uint8_t *const *taps, int32_t zp, int is_signed, int16_t *v, size_t stride)
{
    int16_t d[36 * WB], t[36 * WB], r[36 * WB];
    for (int c0 = 0; c0 < channels; c0 += WB) {
        int nc = channels - c0 < WB ? channels - c0 : WB;
        if (nc < WB)
            memset(d, 0, sizeof d);
        for (int p = 0; p < 36; p++) {
            const uint8_t *src = taps[p] + c0;
            int16_t *dst = d + p * WB;
            for (int c = 0; c < nc; c++)
                dst[c] = (int16_t)((is_signed ? (int32_t)(int8_t)src[c] : (int32_t)src[c]) - zp);
        }
        for (int x = 0; x < 6; x++) /* columns: B^T d */
            bt6_s16(d + x * WB, 6 * WB, t + x * WB, 6 * WB);
        for (int y = 0; y < 6; y++) /* rows: (B^T d) B */
            bt6_s16(t + y * 6 * WB, WB, r + y * 6 * WB, WB);
        for (int xi = 0; xi < 36; xi++)
            memcpy(v + (size_t)xi * stride + c0, r + xi * WB, (size_t)nc * sizeof(int16_t));
    }
}

/* The packed filter is the [N][K] matrix as it is. */
static void *conv_s16_pack(int n, int k, const int16_t *w)
{
    size_t len = (size_t)n * (size_t)k;
    int16_t *p = malloc(len ? len * sizeof *p : 1);
    if (p && len)
        memcpy(p, w, len * sizeof *p);
    return p;
}

/* Sums in uint32 so that wrapping (outside the caller's bound) is defined and equals the SIMD variants'. */
static void gemm_s16(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo)
{
    const int16_t *w = packed;
    for (int r = 0; r < m; r++) {
        const int16_t *ar = a + (size_t)r * (size_t)lda;
        for (int c = 0; c < n; c++) {
            const int16_t *wc = w + (size_t)c * (size_t)k;
            uint32_t acc = 0;
            for (int q = 0; q < k; q++)
                acc += (uint32_t)((int32_t)ar[q] * (int32_t)wc[q]);
            out[(size_t)r * (size_t)ldo + c] = (int32_t)acc;
        }
    }
}

/* ---------------- elementwise int8 (add_q8, quantize_q8, dequantize_q8) ---------------- */

static inline int32_t add_rescale(int32_t x, int32_t mult, int32_t rshift)
{
    return detc_rdbpot(detc_srdhm(x, mult), rshift);
}

static void add_q8(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b, int b_step,
                   uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t ba = a[i * (size_t)a_step], bb = b[i * (size_t)b_step];
        int32_t qa = prm->is_signed ? (int8_t)ba : ba, qb = prm->is_signed ? (int8_t)bb : bb;
        /* |q + offset| <= 383: the shift by 20 cannot overflow */
        int32_t x = add_rescale((qa + prm->a_offset) * (1 << 20), prm->a_mult, prm->a_rshift);
        int32_t y = add_rescale((qb + prm->b_offset) * (1 << 20), prm->b_mult, prm->b_rshift);
        int32_t v = add_rescale(prm->sub ? x - y : x + y, prm->out_mult, prm->out_rshift) + prm->out_zp;
        v = v < prm->act_min ? prm->act_min : (v > prm->act_max ? prm->act_max : v);
        out[i] = (uint8_t)v; /* modulo 256: i8 bytes keep their bit pattern */
    }
}

/* quantize_q8's value of x, clamped to [lo, hi] (integers within the type's range). */
static inline uint8_t quantize_one(float x, float scale, float z, float lo, float hi)
{
    float r = detc_roundf_away(x / scale);
    /* clamp in float first: the int conversion of a huge value is undefined */
    r = r != r ? 0.0f : (r < -1e9f ? -1e9f : (r > 1e9f ? 1e9f : r));
    float v = r + z;
    v = v < lo ? lo : (v > hi ? hi : v);
    return (uint8_t)(int32_t)v; /* modulo 256: i8 bytes keep their bit pattern */
}

static void quantize_q8(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out)
{
    float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f, z = (float)zp;
    for (size_t i = 0; i < n; i++)
        out[i] = quantize_one(x[i], scale, z, lo, hi);
}

/* The products scaled one by one, wino_out_f32's transform and bias, quantize_q8's rounding. */
static void wino_out_q8(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride, uint8_t *const *out)
{
    const int C = prm->channels;
    const float z = (float)prm->out_zp, lo = (float)prm->q_lo, hi = (float)prm->q_hi;
    float a[36 * WB], y[16 * WB];
    for (int c0 = 0; c0 < C; c0 += WB) {
        int nc = C - c0 < WB ? C - c0 : WB;
        if (nc < WB)
            memset(a, 0, sizeof a);
        for (int xi = 0; xi < 36; xi++)
            for (int c = 0; c < nc; c++)
                a[xi * WB + c] = (float)acc[(size_t)xi * stride + (size_t)(c0 + c)] *
                                 prm->scale[(size_t)xi * (size_t)C + (size_t)(c0 + c)];
        wino_out_tile(a, y);
        for (int p = 0; p < 16; p++) {
            if (!out[p])
                continue;
            for (int c = 0; c < nc; c++)
                out[p][c0 + c] = quantize_one(y[p * WB + c] + prm->bias[c0 + c], prm->out_scale, z, lo, hi);
        }
    }
}

static void dequantize_q8(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out)
{
    if (is_signed)
        for (size_t i = 0; i < n; i++)
            out[i] = scale * (float)((int32_t)(int8_t)q[i] - zp);
    else
        for (size_t i = 0; i < n; i++)
            out[i] = scale * (float)((int32_t)q[i] - zp);
}

/* roi_sample_f32, and roi_sample_q8 as dequantize_q8 of a block of each neighbour then roi_sample_f32 (the same
 * floats). The channel loop runs in blocks of 16 with a constant trip count and restrict pointers, which gcc
 * and clang vectorize at -O2 with every lane doing the scalar loop's float operations in the same order (gcc:
 * no contraction in ISO C mode; clang: the pragma). */
#define ROI_BLOCK 16

static void roi_sample_f32(int C, const float *restrict p1, const float *restrict p2, const float *restrict p3,
                           const float *restrict p4, const float w[4], float *restrict o)
{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    const float w1 = w[0], w2 = w[1], w3 = w[2], w4 = w[3];
    int c = 0;
    for (; c + ROI_BLOCK <= C; c += ROI_BLOCK) {
        const float *a1 = p1 + c, *a2 = p2 + c, *a3 = p3 + c, *a4 = p4 + c;
        float *x = o + c;
        for (int k = 0; k < ROI_BLOCK; k++)
            x[k] += w1 * a1[k] + w2 * a2[k] + w3 * a3[k] + w4 * a4[k];
    }
    for (; c < C; c++)
        o[c] += w1 * p1[c] + w2 * p2[c] + w3 * p3[c] + w4 * p4[c];
}

static void roi_sample_q8(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                          int is_signed, float scale, int32_t zp, const float w[4], float *o)
{
    const uint8_t *q[4] = {q1, q2, q3, q4};
    float d[4][ROI_BLOCK];
    for (int c = 0; c < C; c += ROI_BLOCK) {
        int n = C - c < ROI_BLOCK ? C - c : ROI_BLOCK;
        for (int i = 0; i < 4; i++)
            dequantize_q8((size_t)n, q[i] + c, scale, zp, is_signed, d[i]);
        roi_sample_f32(n, d[0], d[1], d[2], d[3], w, o + c);
    }
}

static void lut_u8(const uint8_t table[256], size_t n, const uint8_t *in, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = table[in[i]];
}

const detc_kernels detc_kernels_portable = {
    .name = "portable",
    .gemm_f32 = gemm_f32,
    .dwconv_q8 = dwconv_q8,
    .dwconv_f32 = dwconv_f32,
    .dwconv_q8_run = dwconv_q8_run,
    .dwconv_f32_run = dwconv_f32_run,
    .conv_q8_pack = conv_q8_pack,
    .conv_q8 = conv_q8,
    .conv_f32_pack = conv_f32_pack,
    .conv_f32 = conv_f32,
    .wino_in_f32 = wino_in_f32,
    .wino_out_f32 = wino_out_f32,
    .logistic_f32 = logistic_f32,
    .wino_in_s16 = wino_in_s16,
    .conv_s16_pack = conv_s16_pack,
    .gemm_s16 = gemm_s16,
    .add_q8 = add_q8,
    .quantize_q8 = quantize_q8,
    .wino_out_q8 = wino_out_q8,
    .dequantize_q8 = dequantize_q8,
    .roi_sample_q8 = roi_sample_q8,
    .roi_sample_f32 = roi_sample_f32,
    .lut_u8 = lut_u8,
};
