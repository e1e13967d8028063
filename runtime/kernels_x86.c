/* x86 SIMD kernels: AVX2 and AVX-512 VNNI integer GEMMs and quantized depthwise convolutions. Compiled
 * with target attributes, so the build needs no -march flag and the CPU is probed at run time
 * (kernels.c). Results are identical to the portable kernels (integer arithmetic, no overflow: |a*b| <=
 * 255*255 and K < 2^15 per i32 lane; the depthwise requantization is TFLite's, lane by lane). */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "quant.h"

#define AVX2 __attribute__((target("avx2")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

AVX2 static inline int32_t hsum256(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* One row of A against four rows of B, 16 bytes of K per step widened to 16-bit lanes. */
#define GEMM_AVX2(NAME, T, WIDEN)                                                                              \
    AVX2 static void NAME(int M, int N, int K, const T *A, int lda, const T *B, int ldb, int32_t *C, int ldc)   \
    {                                                                                                          \
        for (int m = 0; m < M; m++) {                                                                          \
            const T *a = A + (long)m * lda;                                                                    \
            int32_t *c = C + (long)m * ldc;                                                                    \
            int n = 0;                                                                                         \
            for (; n + 4 <= N; n += 4) {                                                                       \
                const T *b0 = B + (long)n * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;               \
                __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;                                \
                int k = 0;                                                                                     \
                for (; k + 16 <= K; k += 16) {                                                                 \
                    __m256i va = WIDEN(_mm_loadu_si128((const __m128i *)(a + k)));                             \
                    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(va, WIDEN(_mm_loadu_si128((const __m128i *)(b0 + k))))); \
                    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(va, WIDEN(_mm_loadu_si128((const __m128i *)(b1 + k))))); \
                    s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(va, WIDEN(_mm_loadu_si128((const __m128i *)(b2 + k))))); \
                    s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(va, WIDEN(_mm_loadu_si128((const __m128i *)(b3 + k))))); \
                }                                                                                              \
                int32_t r0 = hsum256(s0), r1 = hsum256(s1), r2 = hsum256(s2), r3 = hsum256(s3);                \
                for (; k < K; k++) {                                                                           \
                    int32_t x = a[k];                                                                          \
                    r0 += x * b0[k];                                                                           \
                    r1 += x * b1[k];                                                                           \
                    r2 += x * b2[k];                                                                           \
                    r3 += x * b3[k];                                                                           \
                }                                                                                              \
                c[n] = r0;                                                                                     \
                c[n + 1] = r1;                                                                                 \
                c[n + 2] = r2;                                                                                 \
                c[n + 3] = r3;                                                                                 \
            }                                                                                                  \
            for (; n < N; n++) {                                                                               \
                const T *b = B + (long)n * ldb;                                                                \
                int32_t r = 0;                                                                                 \
                for (int k = 0; k < K; k++)                                                                    \
                    r += (int32_t)a[k] * b[k];                                                                 \
                c[n] = r;                                                                                      \
            }                                                                                                  \
        }                                                                                                      \
    }

GEMM_AVX2(gemm_u8_avx2, uint8_t, _mm256_cvtepu8_epi16)
GEMM_AVX2(gemm_s8_avx2, int8_t, _mm256_cvtepi8_epi16)

/* VNNI's vpdpbusd multiplies unsigned bytes by signed bytes. u8 x u8: flip B's sign bit (b - 128 as
 * s8) and add back 128 * sum(a). s8 x s8: flip A's (a + 128 as u8) and subtract 128 * sum(b). */
VNNI static void gemm_vnni(int M, int N, int K, const uint8_t *A, int lda, const uint8_t *B, int ldb, int32_t *C,
                           int ldc, int signed_inputs)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    for (int m = 0; m < M; m++) {
        const uint8_t *a = A + (long)m * lda;
        int32_t *c = C + (long)m * ldc;
        for (int n = 0; n < N; n += 4) {
            int nb = N - n < 4 ? N - n : 4;
            const uint8_t *b[4];
            for (int j = 0; j < 4; j++)
                b[j] = B + (long)(n + (j < nb ? j : 0)) * ldb;
            __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                            _mm512_setzero_si512()};
            __m512i sum_a = _mm512_setzero_si512(), sum_b[4] = {sum_a, sum_a, sum_a, sum_a};
            for (int k = 0; k < K; k += 64) {
                __mmask64 mask = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
                __m512i va = _mm512_maskz_loadu_epi8(mask, a + k);
                if (signed_inputs)
                    va = _mm512_maskz_mov_epi8(mask, _mm512_xor_si512(va, flip)); /* a + 128, padding stays 0 */
                else
                    sum_a = _mm512_dpbusd_epi32(sum_a, va, ones);
                for (int j = 0; j < 4; j++) {
                    __m512i vb = _mm512_maskz_loadu_epi8(mask, b[j] + k);
                    if (signed_inputs) {
                        sum_b[j] = _mm512_dpbusd_epi32(sum_b[j], ones, vb);
                        s[j] = _mm512_dpbusd_epi32(s[j], va, vb);
                    } else {
                        s[j] = _mm512_dpbusd_epi32(s[j], va, _mm512_xor_si512(vb, flip));
                    }
                }
            }
            int32_t corr_a = signed_inputs ? 0 : 128 * _mm512_reduce_add_epi32(sum_a);
            for (int j = 0; j < nb; j++) {
                int32_t r = _mm512_reduce_add_epi32(s[j]);
                c[n + j] = signed_inputs ? r - 128 * _mm512_reduce_add_epi32(sum_b[j]) : r + corr_a;
            }
        }
    }
}

static void gemm_u8_vnni(int M, int N, int K, const uint8_t *A, int lda, const uint8_t *B, int ldb, int32_t *C,
                         int ldc)
{
    gemm_vnni(M, N, K, A, lda, B, ldb, C, ldc, 0);
}

static void gemm_s8_vnni(int M, int N, int K, const int8_t *A, int lda, const int8_t *B, int ldb, int32_t *C,
                         int ldc)
{
    gemm_vnni(M, N, K, (const uint8_t *)A, lda, (const uint8_t *)B, ldb, C, ldc, 1);
}

/* ---------------- depthwise conv (dwconv_q8) ---------------- */

#define INLINE_AVX2 AVX2 __attribute__((always_inline)) static inline

/* Per-channel requantization constants of 8 lanes. */
typedef struct {
    __m256i mult, mult_odd, lsh, rsh, rmask, rthr, zp, lo, hi;
} dw_rq8;

INLINE_AVX2 dw_rq8 dw_rq8_load(const detc_dwconv_q8_params *prm, int c)
{
    dw_rq8 r;
    r.mult = _mm256_loadu_si256((const __m256i *)(prm->mult + c));
    r.mult_odd = _mm256_srli_epi64(r.mult, 32);
    r.lsh = _mm256_loadu_si256((const __m256i *)(prm->lshift + c));
    r.rsh = _mm256_loadu_si256((const __m256i *)(prm->rshift + c));
    r.rmask = _mm256_sub_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), r.rsh), _mm256_set1_epi32(1));
    r.rthr = _mm256_srli_epi32(r.rmask, 1);
    r.zp = _mm256_set1_epi32(prm->out_zp);
    r.lo = _mm256_set1_epi32(prm->act_min);
    r.hi = _mm256_set1_epi32(prm->act_max);
    return r;
}

/* detc_qmul_apply on 8 lanes, then + out_zp and the clamp. SaturatingRoundingDoublingHighMul is
 * floor((a*m + 2^30) / 2^31) for every a when m > 0 (its nudge 1 - 2^30 for a negative product, with C's
 * truncating division, lands on the same integer), and the saturating case a = m = INT32_MIN cannot occur;
 * the 64-bit products are formed on even and odd lanes and bits 31..62 kept. RoundingDivideByPOT as in
 * quant.h: (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)). */
INLINE_AVX2 __m256i dw_requant8(__m256i acc, const dw_rq8 *r)
{
    const __m256i nudge = _mm256_set1_epi64x(1LL << 30);
    __m256i a = _mm256_sllv_epi32(acc, r->lsh);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, r->mult), nudge);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), r->mult_odd), nudge);
    __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    __m256i rem = _mm256_and_si256(h, r->rmask);
    __m256i thr = _mm256_sub_epi32(r->rthr, _mm256_srai_epi32(h, 31));
    __m256i v = _mm256_sub_epi32(_mm256_srav_epi32(h, r->rsh), _mm256_cmpgt_epi32(rem, thr));
    v = _mm256_add_epi32(v, r->zp);
    return _mm256_min_epi32(_mm256_max_epi32(v, r->lo), r->hi);
}

/* 16 bytes of two taps interleaved (x0[0], x1[0], x0[1], ...) widened to 16-bit. */
INLINE_AVX2 __m256i dw_widen(__m128i v, int is_signed)
{
    return is_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

/* Channels c..c+15 of n pixels. */
INLINE_AVX2 void dw_block16_avx2(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                                 const uint8_t *const *taps, uint8_t *out, int c)
{
    const int C = prm->channels;
    const dw_rq8 r0 = dw_rq8_load(prm, c), r1 = dw_rq8_load(prm, c + 8);
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(prm->bias + c));
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(prm->bias + c + 8));
    const int16_t *w = prm->w + (long)c * 2;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + (long)i * 2 * P;
        __m256i a0 = b0, a1 = b1;
        for (int p = 0; p < P; p++) {
            __m128i x0 = _mm_loadu_si128((const __m128i *)(t[2 * p] + c));
            __m128i x1 = _mm_loadu_si128((const __m128i *)(t[2 * p + 1] + c));
            const int16_t *wp = w + (long)p * C * 2;
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(dw_widen(_mm_unpacklo_epi8(x0, x1), is_signed),
                                                        _mm256_loadu_si256((const __m256i *)wp)));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(dw_widen(_mm_unpackhi_epi8(x0, x1), is_signed),
                                                        _mm256_loadu_si256((const __m256i *)(wp + 16))));
        }
        __m256i v = _mm256_packs_epi32(dw_requant8(a0, &r0), dw_requant8(a1, &r1)); /* 0-3 8-11 | 4-7 12-15 */
        v = _mm256_permute4x64_epi64(v, 0xD8);
        __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
        __m128i bytes = is_signed ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
        _mm_storeu_si128((__m128i *)(out + (long)i * C + c), bytes);
    }
}

/* Channels c..c+7 of n pixels (C < 16, or the last 8 channels in the AVX-512 kernel). */
INLINE_AVX2 void dw_block8_avx2(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                                const uint8_t *const *taps, uint8_t *out, int c)
{
    const int C = prm->channels;
    const dw_rq8 r0 = dw_rq8_load(prm, c);
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(prm->bias + c));
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + (long)i * 2 * P;
        __m256i a0 = b0;
        for (int p = 0; p < P; p++) {
            __m128i x0 = _mm_loadl_epi64((const __m128i *)(t[2 * p] + c));
            __m128i x1 = _mm_loadl_epi64((const __m128i *)(t[2 * p + 1] + c));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(dw_widen(_mm_unpacklo_epi8(x0, x1), is_signed),
                                                        _mm256_loadu_si256((const __m256i *)(prm->w + ((long)p * C + c) * 2))));
        }
        __m256i v = dw_requant8(a0, &r0);
        __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        __m128i bytes = is_signed ? _mm_packs_epi16(s16, s16) : _mm_packus_epi16(s16, s16);
        _mm_storel_epi64((__m128i *)(out + (long)i * C + c), bytes);
    }
}

/* Fewer than 8 channels: the portable arithmetic, one channel at a time. */
static void dw_scalar(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    const int C = prm->channels, P = prm->tap_pairs;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            uint32_t acc = (uint32_t)prm->bias[c];
            for (int t = 0; t < 2 * P; t++) {
                const uint8_t *x = taps[(long)i * 2 * P + t] + c;
                int32_t xv = prm->is_signed ? (int32_t)(int8_t)*x : (int32_t)*x;
                acc += (uint32_t)(xv * prm->w[((long)(t / 2) * C + c) * 2 + t % 2]);
            }
            detc_qmul m = {prm->mult[c], prm->lshift[c] - prm->rshift[c]};
            int32_t v = detc_qmul_apply((int32_t)acc, m) + prm->out_zp;
            v = v < prm->act_min ? prm->act_min : (v > prm->act_max ? prm->act_max : v);
            out[(long)i * C + c] = (uint8_t)v;
        }
}

/* Pixels per tile: the requantization constants of a channel block are loaded once per tile while the
 * tile's inputs stay in L1. */
#define DW_TILE 16

/* Channel tails overlap the previous block (the overlapping channels are computed twice, identically). */
INLINE_AVX2 void dw_avx2_body(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                              const uint8_t *const *taps, uint8_t *out)
{
    const int C = prm->channels;
    for (int i0 = 0; i0 < n; i0 += DW_TILE) {
        int m = n - i0 < DW_TILE ? n - i0 : DW_TILE;
        const uint8_t *const *t = taps + (long)i0 * 2 * P;
        uint8_t *o = out + (long)i0 * C;
        if (C >= 16) {
            int c = 0;
            for (; c + 16 <= C; c += 16)
                dw_block16_avx2(prm, P, is_signed, m, t, o, c);
            if (c < C)
                dw_block16_avx2(prm, P, is_signed, m, t, o, C - 16);
        } else {
            dw_block8_avx2(prm, P, is_signed, m, t, o, 0);
            if (C > 8)
                dw_block8_avx2(prm, P, is_signed, m, t, o, C - 8);
        }
    }
}

AVX2 static void dw_avx2_u8_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_avx2_body(prm, 5, 0, n, taps, out);
}
AVX2 static void dw_avx2_s8_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_avx2_body(prm, 5, 1, n, taps, out);
}
AVX2 static void dw_avx2_u8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_avx2_body(prm, prm->tap_pairs, 0, n, taps, out);
}
AVX2 static void dw_avx2_s8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_avx2_body(prm, prm->tap_pairs, 1, n, taps, out);
}

/* 3x3 kernels (5 tap pairs) get a fully unrolled tap loop. */
static void dwconv_q8_avx2(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    if (prm->channels < 8)
        dw_scalar(prm, n, taps, out);
    else if (prm->tap_pairs == 5)
        (prm->is_signed ? dw_avx2_s8_p5 : dw_avx2_u8_p5)(prm, n, taps, out);
    else
        (prm->is_signed ? dw_avx2_s8 : dw_avx2_u8)(prm, n, taps, out);
}

const detc_kernels detc_kernels_avx2 = {
    .name = "avx2", .gemm_u8_i32 = gemm_u8_avx2, .gemm_s8_i32 = gemm_s8_avx2, .dwconv_q8 = dwconv_q8_avx2};
/* dwconv_q8 with 16 channels per zmm: two taps' bytes interleaved and widened to 16-bit, vpdpwssd
 * multiplies the pairs and accumulates; the requantization is dw_requant8's on 16 lanes. */
#define INLINE_VNNI VNNI __attribute__((always_inline)) static inline

typedef struct {
    __m512i mult, mult_odd, lsh, rsh, rmask, rthr, zp, lo, hi;
} dw_rq16;

INLINE_VNNI dw_rq16 dw_rq16_load(const detc_dwconv_q8_params *prm, int c)
{
    dw_rq16 r;
    r.mult = _mm512_loadu_si512(prm->mult + c);
    r.mult_odd = _mm512_srli_epi64(r.mult, 32);
    r.lsh = _mm512_loadu_si512(prm->lshift + c);
    r.rsh = _mm512_loadu_si512(prm->rshift + c);
    r.rmask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), r.rsh), _mm512_set1_epi32(1));
    r.rthr = _mm512_srli_epi32(r.rmask, 1);
    r.zp = _mm512_set1_epi32(prm->out_zp);
    r.lo = _mm512_set1_epi32(prm->act_min);
    r.hi = _mm512_set1_epi32(prm->act_max);
    return r;
}

INLINE_VNNI __m512i dw_requant16(__m512i acc, const dw_rq16 *r)
{
    const __m512i nudge = _mm512_set1_epi64(1LL << 30);
    __m512i a = _mm512_sllv_epi32(acc, r->lsh);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, r->mult), nudge);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), r->mult_odd), nudge);
    __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i rem = _mm512_and_si512(h, r->rmask);
    __m512i thr = _mm512_sub_epi32(r->rthr, _mm512_srai_epi32(h, 31));
    __m512i v = _mm512_srav_epi32(h, r->rsh);
    v = _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(rem, thr), v, _mm512_set1_epi32(1));
    v = _mm512_add_epi32(v, r->zp);
    return _mm512_min_epi32(_mm512_max_epi32(v, r->lo), r->hi);
}

INLINE_VNNI void dw_block16_vnni(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                                 const uint8_t *const *taps, uint8_t *out, int c)
{
    const int C = prm->channels;
    const dw_rq16 r = dw_rq16_load(prm, c);
    const __m512i b = _mm512_loadu_si512(prm->bias + c);
    const int16_t *w = prm->w + (long)c * 2;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + (long)i * 2 * P;
        __m512i a = b;
        for (int p = 0; p < P; p++) {
            __m128i x0 = _mm_loadu_si128((const __m128i *)(t[2 * p] + c));
            __m128i x1 = _mm_loadu_si128((const __m128i *)(t[2 * p + 1] + c));
            __m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(x0, x1)),
                                                _mm_unpackhi_epi8(x0, x1), 1);
            __m512i xw = is_signed ? _mm512_cvtepi8_epi16(x) : _mm512_cvtepu8_epi16(x);
            a = _mm512_dpwssd_epi32(a, xw, _mm512_loadu_si512(w + (long)p * C * 2));
        }
        /* clamped to the output range already: truncating to bytes is exact */
        _mm_storeu_si128((__m128i *)(out + (long)i * C + c), _mm512_cvtepi32_epi8(dw_requant16(a, &r)));
    }
}

INLINE_VNNI void dw_vnni_body(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                              const uint8_t *const *taps, uint8_t *out)
{
    const int C = prm->channels;
    for (int i0 = 0; i0 < n; i0 += DW_TILE) {
        int m = n - i0 < DW_TILE ? n - i0 : DW_TILE;
        const uint8_t *const *t = taps + (long)i0 * 2 * P;
        uint8_t *o = out + (long)i0 * C;
        int c = 0;
        for (; c + 16 <= C; c += 16)
            dw_block16_vnni(prm, P, is_signed, m, t, o, c);
        if (c + 8 >= C && c < C) /* e.g. 24 channels: 16 + 8, not 16 + 16 */
            dw_block8_avx2(prm, P, is_signed, m, t, o, C - 8);
        else if (c < C)
            dw_block16_vnni(prm, P, is_signed, m, t, o, C - 16);
    }
}

VNNI static void dw_vnni_u8_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, 5, 0, n, taps, out);
}
VNNI static void dw_vnni_s8_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, 5, 1, n, taps, out);
}
VNNI static void dw_vnni_u8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, prm->tap_pairs, 0, n, taps, out);
}
VNNI static void dw_vnni_s8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, prm->tap_pairs, 1, n, taps, out);
}

/* Fewer than 16 channels: the AVX2 kernel (AVX-512 implies AVX2). */
static void dwconv_q8_vnni(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    if (prm->channels < 16)
        dwconv_q8_avx2(prm, n, taps, out);
    else if (prm->tap_pairs == 5)
        (prm->is_signed ? dw_vnni_s8_p5 : dw_vnni_u8_p5)(prm, n, taps, out);
    else
        (prm->is_signed ? dw_vnni_s8 : dw_vnni_u8)(prm, n, taps, out);
}

const detc_kernels detc_kernels_avx512vnni = {
    .name = "avx512vnni", .gemm_u8_i32 = gemm_u8_vnni, .gemm_s8_i32 = gemm_s8_vnni, .dwconv_q8 = dwconv_q8_vnni};

int detc_cpu_has_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}

int detc_cpu_has_avx512vnni(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}
#endif
