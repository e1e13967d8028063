/* x86 SIMD kernels and the avx2 and avx512vnni tables: the float GEMM's micro-kernel (AVX2 + FMA, sgemm.h),
 * quantized conv GEMMs with fused requantization (conv_q8, AVX2 and AVX-512 VNNI), quantized depthwise
 * convolutions (dwconv_q8 and its runs; the AVX-512 ones in dw_q8_avx512.h, which dw_q8_vbmi.c also builds for
 * the avx512vbmi table). The tables also name the kernels of
 * dw_f32_x86.c (float depthwise), conv_f32.c (float conv GEMMs, Winograd transforms), wino_q8_x86.c,
 * logistic_x86.c and eltwise_x86.c (the requantizing add, the f32 <-> u8/i8 casts, ROIAlign's samples).
 * Compiled with target attributes, so the build needs no -march flag and the CPU is probed at run time
 * (kernels/select.c). Integer results are identical to the portable kernels (integer arithmetic, no overflow:
 * |a*b| <= 255*255 and K < 2^15 per i32 lane; conv_q8 accumulators wrap modulo 2^32 as the portable ones do;
 * the requantization is TFLite's, lane by lane: gemmlowp's two roundings, or conv_q8's round_once, ruy's one). */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "../sgemm.h"
#include "conv_f32_x86.h"
#include "dw_f32_x86.h"
#include "dw_q8_x86.h"
#include "logistic_x86.h"
#include "q8_avx512.h"
#include "eltwise_x86.h"
#include "wino_q8_x86.h"
#include "quant.h"

#define AVX2 __attribute__((target("avx2")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

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

/* Channels c..c+15 of n pixels. Pixel i's tap t is taps[i * tstride + t] + off0 + i * pstep: tstride 2P and
 * pstep 0 for a pointer per tap and pixel (dwconv_q8), 0 and the step for a run (dwconv_q8_run). */
INLINE_AVX2 void dw_block16_avx2(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                                 const uint8_t *const *taps, long tstride, ptrdiff_t pstep, ptrdiff_t off0,
                                 uint8_t *out, int c)
{
    const int C = prm->channels;
    const dw_rq8 r0 = dw_rq8_load(prm, c), r1 = dw_rq8_load(prm, c + 8);
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(prm->bias + c));
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(prm->bias + c + 8));
    const int16_t *w = prm->w + (long)c * 2;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + i * tstride;
        const ptrdiff_t off = off0 + i * pstep + c;
        __m256i a0 = b0, a1 = b1;
        for (int p = 0; p < P; p++) {
            __m128i x0 = _mm_loadu_si128((const __m128i *)(t[2 * p] + off));
            __m128i x1 = _mm_loadu_si128((const __m128i *)(t[2 * p + 1] + off));
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

/* Channels c..c+7 of n pixels (C < 16, or the last 8 channels in the AVX-512 kernel); taps as in
 * dw_block16_avx2. */
INLINE_AVX2 void dw_block8_avx2(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                                const uint8_t *const *taps, long tstride, ptrdiff_t pstep, ptrdiff_t off0,
                                uint8_t *out, int c)
{
    const int C = prm->channels;
    const dw_rq8 r0 = dw_rq8_load(prm, c);
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(prm->bias + c));
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + i * tstride;
        const ptrdiff_t off = off0 + i * pstep + c;
        __m256i a0 = b0;
        for (int p = 0; p < P; p++) {
            __m128i x0 = _mm_loadl_epi64((const __m128i *)(t[2 * p] + off));
            __m128i x1 = _mm_loadl_epi64((const __m128i *)(t[2 * p + 1] + off));
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

/* Channel tails overlap the previous block (the overlapping channels are computed twice, identically). Taps as
 * in dw_block16_avx2 (without off0). */
INLINE_AVX2 void dw_avx2_tiles(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                               const uint8_t *const *taps, long tstride, ptrdiff_t pstep, uint8_t *out)
{
    const int C = prm->channels;
    for (int i0 = 0; i0 < n; i0 += DW_TILE) {
        int m = n - i0 < DW_TILE ? n - i0 : DW_TILE;
        const uint8_t *const *t = taps + i0 * tstride;
        const ptrdiff_t off0 = i0 * pstep;
        uint8_t *o = out + (long)i0 * C;
        if (C >= 16) {
            int c = 0;
            for (; c + 16 <= C; c += 16)
                dw_block16_avx2(prm, P, is_signed, m, t, tstride, pstep, off0, o, c);
            if (c < C)
                dw_block16_avx2(prm, P, is_signed, m, t, tstride, pstep, off0, o, C - 16);
        } else {
            dw_block8_avx2(prm, P, is_signed, m, t, tstride, pstep, off0, o, 0);
            if (C > 8)
                dw_block8_avx2(prm, P, is_signed, m, t, tstride, pstep, off0, o, C - 8);
        }
    }
}

INLINE_AVX2 void dw_avx2_body(const detc_dwconv_q8_params *prm, int P, int is_signed, int n,
                              const uint8_t *const *taps, uint8_t *out)
{
    dw_avx2_tiles(prm, P, is_signed, n, taps, 2 * P, 0, out);
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
void detc_dwconv_q8_avx2(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    if (prm->channels < 8)
        dw_scalar(prm, n, taps, out);
    else if (prm->tap_pairs == 5)
        (prm->is_signed ? dw_avx2_s8_p5 : dw_avx2_u8_p5)(prm, n, taps, out);
    else
        (prm->is_signed ? dw_avx2_s8 : dw_avx2_u8)(prm, n, taps, out);
}

/* A run of pixels (dwconv_q8_run): the first pixel's taps moved by the step in the kernels above; fewer than 8
 * channels expanded for dw_scalar. */
AVX2 static void dw_avx2_run_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                                uint8_t *out)
{
    if (prm->is_signed)
        dw_avx2_tiles(prm, 5, 1, n, taps0, 0, step, out);
    else
        dw_avx2_tiles(prm, 5, 0, n, taps0, 0, step, out);
}
AVX2 static void dw_avx2_run_any(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                                 uint8_t *out)
{
    if (prm->is_signed)
        dw_avx2_tiles(prm, prm->tap_pairs, 1, n, taps0, 0, step, out);
    else
        dw_avx2_tiles(prm, prm->tap_pairs, 0, n, taps0, 0, step, out);
}

void detc_dwconv_q8_run_avx2(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                             uint8_t *out)
{
    if (prm->channels < 8)
        detc_dwconv_q8_run_expand(dw_scalar, prm, 0, n, taps0, step, out);
    else
        (prm->tap_pairs == 5 ? dw_avx2_run_p5 : dw_avx2_run_any)(prm, n, taps0, step, out);
}

#define AVX2FMA __attribute__((target("avx2,fma")))

/* ---------------- gemm_f32: the AVX2 + FMA micro-kernel of sgemm.h ---------------- */

#define SG_MR 6  /* 12 accumulators, 2 B vectors and a broadcast of the 16 ymm registers */
#define SG_NR 16

AVX2FMA static void sgemm_ukr_avx2(int kc, const float *a, const float *b, float *c, int ldc, int accumulate)
{
    __m256 acc[SG_MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < SG_MR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++, a += SG_MR, b += SG_NR) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < SG_MR; r++) {
            __m256 av = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < SG_MR; r++) {
        float *cr = c + (size_t)r * ldc;
        if (accumulate) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(cr));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, acc[r][0]);
        _mm256_storeu_ps(cr + 8, acc[r][1]);
    }
}

static const detc_sgemm_arch sgemm_avx2 = {SG_MR, SG_NR, sgemm_ukr_avx2, NULL};

static void gemm_f32_avx2(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    detc_sgemm(&sgemm_avx2, M, N, K, A, lda, B, ldb, C, ldc);
}

/* ---------------- quantized conv GEMM, AVX2 (conv_q8) ---------------- */

/* Packed filter: int16, channels in blocks of 8, [N8/8][K2][8 channels][2 values of K] (K padded to even and
 * N to 8 with zero weights). A row's values are widened to int16 in chunks and taken in pairs (one int32
 * broadcast); vpmaddwd sums the two products exactly (|a*w| <= 255*255), so the accumulator is the plain
 * sum a*w and acc = dot + bias[c] - w_zp[c] * sum(a), modulo 2^32. */
#define CQ2_MR 4   /* rows per micro-tile */
#define CQ2_NB 2   /* 8-channel blocks per micro-tile */
#define CQ2_KC 256 /* values of K widened at a time (even) */
#define CQ2_MC 64  /* rows sharing one pass over the packed filter */

static size_t cq2_weight_bytes(int n, int k)
{
    return (size_t)((n + 7) / 8) * (size_t)((k + 1) / 2) * 32;
}

static void *conv_q8_pack_avx2(int n, int k, const uint8_t *w, int is_signed)
{
    const int K2 = (k + 1) / 2;
    size_t total = (cq2_weight_bytes(n, k) + 63) & ~(size_t)63;
    int16_t *p = aligned_alloc(64, total ? total : 64);
    if (!p)
        return NULL;
    memset(p, 0, total ? total : 64);
    for (int c = 0; c < n; c++)
        for (int q = 0; q < k; q++) {
            uint8_t b = w[(size_t)c * k + q];
            p[((size_t)(c / 8) * K2 + q / 2) * 16 + (c % 8) * 2 + q % 2] = is_signed ? (int16_t)(int8_t)b : (int16_t)b;
        }
    return p;
}

INLINE_AVX2 dw_rq8 cq2_rq8_load(const detc_conv_q8_params *prm, int c, __m256i mk)
{
    dw_rq8 r;
    r.mult = _mm256_maskload_epi32(prm->mult + c, mk);
    r.mult_odd = _mm256_srli_epi64(r.mult, 32);
    r.lsh = _mm256_maskload_epi32(prm->lshift + c, mk);
    r.rsh = _mm256_maskload_epi32(prm->rshift + c, mk);
    r.rmask = _mm256_sub_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), r.rsh), _mm256_set1_epi32(1));
    r.rthr = _mm256_srli_epi32(r.rmask, 1);
    r.zp = _mm256_set1_epi32(prm->out_zp);
    r.lo = _mm256_set1_epi32(prm->act_min);
    r.hi = _mm256_set1_epi32(prm->act_max);
    return r;
}

/* conv_q8's round_once requantization (kernels.h; detc_qmul_apply_once), constants of 8 lanes. With h the
 * bits 31..62 of the 64-bit product P = sat(acc << l) * mult + nudge, floors compose:
 *   r = 0:  nudge = 2^30, result h = floor((P + 2^30) / 2^31);
 *   r > 0:  nudge = 0, h = floor(P / 2^31) and floor((h + 2^(r-1)) / 2^r) = (h >> r) + bit r-1 of h
 *           = floor((P + 2^(30+r)) / 2^(31+r)), with no sum that could overflow;
 * h fits int32 (|P| < 2^62), so the logical 64-bit shifts keep it exactly. vpsrlvd by r - 1 = -1 (a count
 * above 31) gives 0, which makes r = 0 take no rounding bit. The clamp comes before + out_zp (lo and hi are
 * act_min/act_max - out_zp), so nothing wraps, as in the portable kernel's 64-bit sum. */
typedef struct {
    __m256i mult, mult_odd, lsh, rsh, rsh1, ne, no, zp, lo, hi;
    int has_lsh; /* some lane shifts left (rare in convs): only then the saturation */
} cq2_rq1;

INLINE_AVX2 cq2_rq1 cq2_rq1_load(const detc_conv_q8_params *prm, int c, __m256i mk)
{
    cq2_rq1 r;
    r.mult = _mm256_maskload_epi32(prm->mult + c, mk);
    r.mult_odd = _mm256_srli_epi64(r.mult, 32);
    r.lsh = _mm256_maskload_epi32(prm->lshift + c, mk);
    r.rsh = _mm256_maskload_epi32(prm->rshift + c, mk);
    r.has_lsh = !_mm256_testz_si256(r.lsh, r.lsh);
    r.rsh1 = _mm256_sub_epi32(r.rsh, _mm256_set1_epi32(1));
    __m256i nudge = _mm256_and_si256(_mm256_cmpeq_epi32(r.rsh, _mm256_setzero_si256()), _mm256_set1_epi32(1 << 30));
    r.ne = _mm256_and_si256(nudge, _mm256_set1_epi64x(0xFFFFFFFFLL));
    r.no = _mm256_srli_epi64(nudge, 32);
    r.zp = _mm256_set1_epi32(prm->out_zp);
    r.lo = _mm256_set1_epi32(prm->act_min - prm->out_zp);
    r.hi = _mm256_set1_epi32(prm->act_max - prm->out_zp);
    return r;
}

INLINE_AVX2 __m256i cq2_requant1(__m256i acc, const cq2_rq1 *r)
{
    __m256i a = acc;
    if (r->has_lsh) { /* saturate where the shift lost bits: INT32_MAX or INT32_MIN by acc's sign */
        a = _mm256_sllv_epi32(acc, r->lsh);
        __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(acc, 31), _mm256_set1_epi32(INT32_MAX));
        a = _mm256_blendv_epi8(sat, a, _mm256_cmpeq_epi32(_mm256_srav_epi32(a, r->lsh), acc));
    }
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, r->mult), r->ne);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), r->mult_odd), r->no);
    __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    __m256i v = _mm256_add_epi32(_mm256_srav_epi32(h, r->rsh),
                                 _mm256_and_si256(_mm256_srlv_epi32(h, r->rsh1), _mm256_set1_epi32(1)));
    return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(v, r->lo), r->hi), r->zp);
}

/* 8 clamped values to bytes; left (< 8: the channel tail) of them stored. */
INLINE_AVX2 void cq2_store(__m256i v, int is_signed, uint8_t *dst, int left)
{
    __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    __m128i bytes = is_signed ? _mm_packs_epi16(s16, s16) : _mm_packus_epi16(s16, s16);
    if (left >= 8) {
        _mm_storel_epi64((__m128i *)dst, bytes);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, bytes);
        memcpy(dst, tmp, (size_t)left);
    }
}

/* CQ2_MR rows (a[i]; rows past mr repeat row 0 and are not stored) x NB 8-channel blocks from block blk. */
INLINE_AVX2 void cq2_tile(const detc_conv_q8_params *prm, const uint8_t *const *a, const uint32_t *rs, int mr,
                          int blk, int NB, int is_signed, uint8_t *out, int ldo)
{
    const int K = prm->k;
    const size_t bstride = (size_t)(K + 1) / 2 * 16; /* int16 values per block */
    const int16_t *b = (const int16_t *)prm->packed + (size_t)blk * bstride;
    int16_t buf[CQ2_MR][CQ2_KC] __attribute__((aligned(32)));
    __m256i acc[CQ2_MR][CQ2_NB];
#pragma GCC unroll 4
    for (int i = 0; i < CQ2_MR; i++)
#pragma GCC unroll 2
        for (int j = 0; j < NB; j++)
            acc[i][j] = _mm256_setzero_si256();
    for (int k0 = 0; k0 < K; k0 += CQ2_KC) {
        const int kc = K - k0 < CQ2_KC ? K - k0 : CQ2_KC, pairs = (kc + 1) / 2;
        for (int i = 0; i < CQ2_MR; i++) {
            const uint8_t *src = a[i] + k0;
            int q = 0;
            for (; q + 16 <= kc; q += 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(src + q));
                _mm256_store_si256((__m256i *)(buf[i] + q), is_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v));
            }
            for (; q < kc; q++)
                buf[i][q] = is_signed ? (int16_t)(int8_t)src[q] : (int16_t)src[q];
            if (kc % 2)
                buf[i][kc] = 0;
        }
        const int16_t *bk = b + (size_t)k0 * 8;
        for (int s = 0; s < pairs; s++) {
            __m256i vb[CQ2_NB];
#pragma GCC unroll 2
            for (int j = 0; j < NB; j++)
                vb[j] = _mm256_load_si256((const __m256i *)(bk + j * bstride + (size_t)s * 16));
#pragma GCC unroll 4
            for (int i = 0; i < CQ2_MR; i++) {
                int32_t pair;
                memcpy(&pair, buf[i] + 2 * s, 4);
                __m256i va = _mm256_set1_epi32(pair);
#pragma GCC unroll 2
                for (int j = 0; j < NB; j++)
                    acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(va, vb[j]));
            }
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 2
    for (int j = 0; j < NB; j++) {
        const int c = (blk + j) * 8, left = prm->n - c;
        const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
        const __m256i bias = _mm256_maskload_epi32(prm->bias + c, mk);
        const __m256i wzp = prm->w_zp ? _mm256_maskload_epi32(prm->w_zp + c, mk) : _mm256_setzero_si256();
        __m256i v[CQ2_MR];
#pragma GCC unroll 4
        for (int i = 0; i < CQ2_MR; i++)
            v[i] = _mm256_sub_epi32(_mm256_add_epi32(acc[i][j], bias),
                                    _mm256_mullo_epi32(wzp, _mm256_set1_epi32((int32_t)rs[i])));
        if (prm->round_once) {
            const cq2_rq1 r = cq2_rq1_load(prm, c, mk);
#pragma GCC unroll 4
            for (int i = 0; i < CQ2_MR; i++)
                if (i < mr)
                    cq2_store(cq2_requant1(v[i], &r), is_signed, out + (long)i * ldo + c, left);
        } else {
            const dw_rq8 r = cq2_rq8_load(prm, c, mk);
#pragma GCC unroll 4
            for (int i = 0; i < CQ2_MR; i++)
                if (i < mr)
                    cq2_store(dw_requant8(v[i], &r), is_signed, out + (long)i * ldo + c, left);
        }
    }
}

INLINE_AVX2 void cq2_body(const detc_conv_q8_params *prm, int m, const uint8_t *A, int lda, uint8_t *out, int ldo,
                          int is_signed)
{
    const int NBLK = (prm->n + 7) / 8, K = prm->k;
    uint32_t rs[CQ2_MC + CQ2_MR];
    for (int m0 = 0; m0 < m; m0 += CQ2_MC) {
        const int mc = m - m0 < CQ2_MC ? m - m0 : CQ2_MC;
        for (int i = 0; i < mc + CQ2_MR; i++) {
            uint32_t sum = 0;
            if (i < mc && prm->w_zp) {
                const uint8_t *row = A + (long)(m0 + i) * lda;
                for (int q = 0; q < K; q++)
                    sum += is_signed ? (uint32_t)(int32_t)(int8_t)row[q] : (uint32_t)row[q];
            }
            rs[i] = sum;
        }
        for (int g = 0; g < NBLK; g += CQ2_NB) {
            const int nb = NBLK - g < CQ2_NB ? NBLK - g : CQ2_NB;
            for (int i = 0; i < mc; i += CQ2_MR) {
                const int mr = mc - i < CQ2_MR ? mc - i : CQ2_MR;
                const uint8_t *a[CQ2_MR];
                for (int r = 0; r < CQ2_MR; r++)
                    a[r] = A + (long)(m0 + i + (r < mr ? r : 0)) * lda;
                uint8_t *o = out + (long)(m0 + i) * ldo;
                if (nb == 2)
                    cq2_tile(prm, a, rs + i, mr, g, 2, is_signed, o, ldo);
                else
                    cq2_tile(prm, a, rs + i, mr, g, 1, is_signed, o, ldo);
            }
        }
    }
}

AVX2 static void conv_q8_avx2_u8(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out,
                                 int ldo)
{
    cq2_body(prm, m, a, lda, out, ldo, 0);
}

AVX2 static void conv_q8_avx2_s8(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out,
                                 int ldo)
{
    cq2_body(prm, m, a, lda, out, ldo, 1);
}

static void conv_q8_avx2(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo)
{
    (prm->is_signed ? conv_q8_avx2_s8 : conv_q8_avx2_u8)(prm, m, a, lda, out, ldo);
}

const detc_kernels detc_kernels_avx2 = {
    .name = "avx2",
    .gemm_f32 = gemm_f32_avx2,
    .dwconv_q8 = detc_dwconv_q8_avx2,
    .dwconv_f32 = detc_dwconv_f32_avx2,
    .dwconv_q8_run = detc_dwconv_q8_run_avx2,
    .dwconv_f32_run = detc_dwconv_f32_run_avx2,
    .conv_q8_pack = conv_q8_pack_avx2,
    .conv_q8 = conv_q8_avx2,
    .conv_f32_pack = detc_conv_f32_pack_avx2,
    .conv_f32 = detc_conv_f32_avx2,
    .wino_in_f32 = detc_wino_in_f32_avx2,
    .wino_out_f32 = detc_wino_out_f32_avx2,
    .wino_in_s16 = detc_wino_in_s16_avx2,
    .conv_s16_pack = detc_conv_s16_pack_avx2,
    .gemm_s16 = detc_gemm_s16_avx2,
    .wino_out_q8 = detc_wino_out_q8_avx2,
    .logistic_f32 = detc_logistic_f32_avx2,
    .add_q8 = detc_add_q8_avx2,
    .quantize_q8 = detc_quantize_q8_avx2,
    .dequantize_q8 = detc_dequantize_q8_avx2,
    .roi_sample_q8 = detc_roi_sample_q8_avx2,
    .roi_sample_f32 = detc_roi_sample_f32_avx2,
};
#define INLINE_VNNI VNNI __attribute__((always_inline)) static inline

/* The AVX-512 VNNI depthwise kernels (dw_q8_avx512.h) without VBMI; dw_q8_vbmi.c has them with it. */
#define DWV_TARGET VNNI
#define DWV_VBMI 0
#define DWV_DWCONV_Q8 dwconv_q8_vnni
#define DWV_DWCONV_Q8_RUN dwconv_q8_run_vnni
#include "dw_q8_avx512.h"

/* ---------------- quantized conv GEMM (conv_q8) ---------------- */

/* Packed filter: channels in blocks of 16, [N16/16][K4][16 channels][4 bytes of K] (K padded to a multiple
 * of 4 and N to 16 with zero weights), then int32 corr[N16]. u8 weights are stored as b - 128 (s8) and
 * corr is 0; i8 weights as they are and corr[c] = -128 * sum_k w[c][k], since the kernel feeds vpdpbusd's
 * unsigned operand a + 128. So, with dot = the vpdpbusd sum:
 *   u8: sum a*w = dot + 128 * sum(a)      i8: sum a*w = dot + corr[c]
 * and the accumulator is dot + bias[c] + corr[c] + (128 [u8] - w_zp[c]) * sum(a), modulo 2^32. */
#define CQ_MR 4  /* rows per micro-tile */
#define CQ_NB 4  /* 16-channel blocks per micro-tile */
#define CQ_MC 64 /* rows sharing one pass over the packed filter */

static size_t cq_weight_bytes(int n, int k)
{
    return (size_t)((n + 15) / 16) * (size_t)((k + 3) / 4) * 64;
}

static void *conv_q8_pack_vnni(int n, int k, const uint8_t *w, int is_signed)
{
    const int K4 = (k + 3) / 4, N16 = (n + 15) / 16 * 16;
    size_t wbytes = cq_weight_bytes(n, k), total = (wbytes + (size_t)N16 * 4 + 63) & ~(size_t)63;
    uint8_t *p = aligned_alloc(64, total);
    if (!p)
        return NULL;
    memset(p, 0, total);
    int32_t *corr = (int32_t *)(p + wbytes);
    for (int c = 0; c < n; c++) {
        uint32_t sum = 0;
        for (int q = 0; q < k; q++) {
            uint8_t b = w[(size_t)c * k + q];
            p[((size_t)(c / 16) * K4 + q / 4) * 64 + (c % 16) * 4 + q % 4] = is_signed ? b : (uint8_t)(b ^ 0x80);
            sum += (uint32_t)(int32_t)(int8_t)b;
        }
        corr[c] = is_signed ? (int32_t)(0u - 128u * sum) : 0;
    }
    return p;
}

static inline int32_t cq_load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The last K % 4 bytes of a row, zero-extended (their weights are 0 anyway), byte by byte: for the rows whose
 * 4-byte load would reach past the end of A. */
static inline int32_t cq_load_tail(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int t = 0; t < n; t++)
        v |= (uint32_t)p[t] << (8 * t);
    return (int32_t)v;
}

/* conv_q8's round_once requantization (q8_avx512.h's detc_rq_once), then the clamp and the output zero point. */
typedef struct {
    detc_rq_once q;
    __m512i zp, lo, hi;
} cq_rq1;

INLINE_VNNI cq_rq1 cq_rq1_load(const detc_conv_q8_params *prm, int c, __mmask16 mk)
{
    cq_rq1 r;
    r.q = detc_rq_once_load(prm->mult + c, prm->lshift + c, prm->rshift + c, mk);
    r.zp = _mm512_set1_epi32(prm->out_zp);
    r.lo = _mm512_set1_epi32(prm->act_min - prm->out_zp);
    r.hi = _mm512_set1_epi32(prm->act_max - prm->out_zp);
    return r;
}

INLINE_VNNI __m512i cq_requant1(__m512i acc, const cq_rq1 *r)
{
    return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(detc_rq_once_apply(acc, &r->q), r->lo), r->hi), r->zp);
}

/* A 16-channel block's constants, set up once per pass over the rows: base = bias + corr, coef =
 * 128 (u8) - w_zp, and the gemmlowp requantization (modes 0 and 1: block 0's serves every block). */
typedef struct {
    __m512i base, coef;
    detc_rq64 rq;       /* modes 0, 1 and 3 */
    cq_rq1 r1;          /* mode 2 */
    __m512 fs, fb;      /* mode 4: frq_scale, frq_offset */
} cq_blk;

/* Every one of v[0..n) equals v[0], 16 at a time: conv_q8 checks its channels' scales and zero points once per
 * call (a scalar loop over up to 768 channels was 0.4% of SSD's run). */
INLINE_VNNI int cq_same(const int32_t *v, int n)
{
    const __m512i v0 = _mm512_set1_epi32(v[0]);
    __mmask16 diff = 0;
    for (int c = 0; c < n; c += 16) {
        const __mmask16 mk = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        diff |= _mm512_mask_cmpneq_epi32_mask(mk, _mm512_maskz_loadu_epi32(mk, v + c), v0);
    }
    return diff == 0;
}

/* cq_tile's MODE: gemmlowp with one multiplier and right shift (at most 22) for every channel and no left
 * shift (every uint8 model: per-tensor scales, multipliers below 1), 0 when act_min >= out_zp and 1 when not
 * (rq64_apply's fix); 2: round_once; 3: gemmlowp per channel or with left shifts; 4: the float form the op
 * found exact (prm->frq, cq_rq). One set of requantization constants in modes 0, 1 and 4 leaves the registers
 * of NB - 1 sets to the accumulators, and holds out_zp (detc_rq64_add_zp, frq_offset). */
VNNI static int cq_mode(const detc_conv_q8_params *prm)
{
    if (prm->round_once)
        return 2;
    if (prm->frq)
        return 4;
    if (!cq_same(prm->mult, prm->n) || !cq_same(prm->rshift, prm->n) || detc_any_lshift(prm->lshift, prm->n) ||
        prm->rshift[0] > 22)
        return 3;
    return prm->act_min - prm->out_zp < 0;
}

/* The requantization of MODE (cq_mode's) without the clamp: mode 4's float form has out_zp in its offset; the
 * byte packs and q8_pack4's clamp then clamp it as they do the integer form. */
INLINE_VNNI __m512i cq_rq(__m512i acc, const cq_blk *b, const int MODE, const int FIX)
{
    return MODE == 4 ? detc_rq_float_apply(acc, b->fs, b->fb) : detc_rq64_apply(acc, &b->rq, FIX);
}

/* CQ_MR rows (a[i]; rows past mr repeat row 0 and are not stored) x NB blocks starting at block blk.
 * The accumulators start at each block's base. rowc[i]: with uni 1 (one coef for every channel), coef *
 * sum(row i), added to that start; with uni 0, sum(row i), multiplied by each block's coef at the end; with
 * uni 2 (i8 rows, no filter zero point: no row sums), unused. MODE: cq_mode's. */
INLINE_VNNI void cq_tile(const detc_conv_q8_params *prm, const uint8_t *const *a, const uint8_t *a_end,
                         const uint32_t *rowc, int uni, int mr, int blk, const int NB, const int MODE, const int WHOLE,
                         int is_signed, const cq_blk *cb, const q8_out *q, uint8_t *out, int ldo)
{
    const int K = prm->k, kf = K >> 2, kt = K & 3;
    const size_t bstride = (size_t)(K + 3) / 4 * 64;
    const uint8_t *b = (const uint8_t *)prm->packed + (size_t)blk * bstride;
    const int FIX = MODE == 3 ? 2 : MODE == 4 ? 0 : MODE; /* detc_rq64_apply's */
    const int32_t flip = is_signed ? (int32_t)0x80808080u : 0;
    __m512i acc[CQ_MR][CQ_NB];
#pragma GCC unroll 4
    for (int i = 0; i < CQ_MR; i++) {
        const __m512i rc = _mm512_set1_epi32((int32_t)rowc[i]);
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++)
            acc[i][j] = uni == 1 ? _mm512_add_epi32(cb[j].base, rc) : cb[j].base;
    }
    for (int s = 0; s < kf; s++) {
        __m512i vb[CQ_NB];
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++)
            vb[j] = _mm512_load_si512(b + j * bstride + (size_t)s * 64);
#pragma GCC unroll 4
        for (int i = 0; i < CQ_MR; i++) {
            __m512i va = _mm512_set1_epi32(cq_load4(a[i] + 4 * s) ^ flip);
#pragma GCC unroll 4
            for (int j = 0; j < NB; j++)
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], va, vb[j]);
        }
    }
    if (kt) {
        __m512i vb[CQ_NB];
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++)
            vb[j] = _mm512_load_si512(b + j * bstride + (size_t)kf * 64);
#pragma GCC unroll 4
        for (int i = 0; i < CQ_MR; i++) {
            /* a 4-byte load wherever it stays inside A (its bytes past the row meet weights 0): the tail
             * assembled from bytes went through memory as a stalled store-to-load forward, which made
             * K = 27 (3x3 on 3 channels) cost as much as K = 48 */
            const uint8_t *p = a[i] + 4 * kf;
            __m512i va = _mm512_set1_epi32((a_end - p >= 4 ? cq_load4(p) : cq_load_tail(p, kt)) ^ flip);
#pragma GCC unroll 4
            for (int j = 0; j < NB; j++)
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], va, vb[j]);
        }
    }
    if (WHOLE) {
        /* CQ_MR whole rows back to back (cq_body's whole): the 4 * NB vectors in memory order, row by row,
         * four to a 64-byte store in place of a 16-byte store each */
        __m512i v[CQ_MR * CQ_NB];
#pragma GCC unroll 4
        for (int i = 0; i < CQ_MR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < NB; j++) {
                __m512i x = acc[i][j]; /* the block's base is in it from the start */
                if (!uni)
                    x = _mm512_add_epi32(x, _mm512_mullo_epi32(cb[j].coef, _mm512_set1_epi32((int32_t)rowc[i])));
                v[i * NB + j] = cq_rq(x, &cb[MODE == 3 ? j : 0], MODE, FIX);
            }
#pragma GCC unroll 4
        for (int f = 0; f < NB; f++)
            _mm512_storeu_si512(out + 64 * f, q8_pack4(v[4 * f], v[4 * f + 1], v[4 * f + 2], v[4 * f + 3], q, is_signed, MODE == 3));
        return;
    }
#pragma GCC unroll 4
    for (int j = 0; j < NB; j++) {
        const int c = (blk + j) * 16, left = prm->n - c;
        const __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512i v[CQ_MR];
#pragma GCC unroll 4
        for (int i = 0; i < CQ_MR; i++) {
            v[i] = acc[i][j];
            if (!uni)
                v[i] = _mm512_add_epi32(v[i], _mm512_mullo_epi32(cb[j].coef, _mm512_set1_epi32((int32_t)rowc[i])));
        }
        if (MODE == 2) {
            /* clamped to the output range already: truncating to bytes is exact */
#pragma GCC unroll 4
            for (int i = 0; i < CQ_MR; i++)
                if (i < mr)
                    _mm512_mask_cvtepi32_storeu_epi8(out + (long)i * ldo + c, mk, cq_requant1(v[i], &cb[j].r1));
            continue;
        }
        const cq_blk *rb = &cb[MODE == 3 ? j : 0];
        const __m512i bytes = q8_pack4(cq_rq(v[0], rb, MODE, FIX), cq_rq(v[1], rb, MODE, FIX), cq_rq(v[2], rb, MODE, FIX),
                                       cq_rq(v[3], rb, MODE, FIX), q, is_signed, MODE == 3);
        if (left >= 16) {
            _mm_storeu_si128((__m128i *)(out + c), _mm512_castsi512_si128(bytes));
            if (mr > 1)
                _mm_storeu_si128((__m128i *)(out + ldo + c), _mm512_extracti32x4_epi32(bytes, 1));
            if (mr > 2)
                _mm_storeu_si128((__m128i *)(out + 2L * ldo + c), _mm512_extracti32x4_epi32(bytes, 2));
            if (mr > 3)
                _mm_storeu_si128((__m128i *)(out + 3L * ldo + c), _mm512_extracti32x4_epi32(bytes, 3));
        } else {
            /* (no AVX-512VL: a 64-byte masked store of the lane moved to the bottom) */
            const __mmask64 m64 = mk;
            _mm512_mask_storeu_epi8(out + c, m64, bytes);
            if (mr > 1)
                _mm512_mask_storeu_epi8(out + ldo + c, m64, _mm512_shuffle_i32x4(bytes, bytes, 1));
            if (mr > 2)
                _mm512_mask_storeu_epi8(out + 2L * ldo + c, m64, _mm512_shuffle_i32x4(bytes, bytes, 2));
            if (mr > 3)
                _mm512_mask_storeu_epi8(out + 3L * ldo + c, m64, _mm512_shuffle_i32x4(bytes, bytes, 3));
        }
    }
}

/* Every row tile of the block group at g (nb blocks), MODE as cq_tile's. */
INLINE_VNNI void cq_rows(const detc_conv_q8_params *prm, const uint8_t *A, int lda, const uint8_t *a_end, int mc,
                         const uint32_t *rowc, int uni, int g, const int NB, const int MODE, const int WHOLE,
                         int is_signed, const cq_blk *cb, const q8_out *q, uint8_t *out, int ldo)
{
    for (int i = 0; i < mc; i += CQ_MR) {
        const int mr = mc - i < CQ_MR ? mc - i : CQ_MR;
        const uint8_t *a[CQ_MR];
        for (int r = 0; r < CQ_MR; r++)
            a[r] = A + (long)(i + (r < mr ? r : 0)) * lda;
        if (WHOLE && mr == CQ_MR)
            cq_tile(prm, a, a_end, rowc + i, uni, mr, g, NB, MODE, 1, is_signed, cb, q, out + (long)i * ldo, ldo);
        else
            cq_tile(prm, a, a_end, rowc + i, uni, mr, g, NB, MODE, 0, is_signed, cb, q, out + (long)i * ldo, ldo);
    }
}

INLINE_VNNI void cq_rows_nb(const detc_conv_q8_params *prm, const uint8_t *A, int lda, const uint8_t *a_end, int mc,
                            const uint32_t *rowc, int uni, int g, int nb, const int MODE, const int WHOLE,
                            int is_signed, const cq_blk *cb, const q8_out *q, uint8_t *out, int ldo)
{
    switch (nb) {
    case 4:
        cq_rows(prm, A, lda, a_end, mc, rowc, uni, g, 4, MODE, WHOLE, is_signed, cb, q, out, ldo);
        break;
    case 3:
        cq_rows(prm, A, lda, a_end, mc, rowc, uni, g, 3, MODE, WHOLE, is_signed, cb, q, out, ldo);
        break;
    case 2:
        cq_rows(prm, A, lda, a_end, mc, rowc, uni, g, 2, MODE, WHOLE, is_signed, cb, q, out, ldo);
        break;
    default:
        cq_rows(prm, A, lda, a_end, mc, rowc, uni, g, 1, MODE, WHOLE, is_signed, cb, q, out, ldo);
        break;
    }
}

/* WHOLE: the caller checked that the rows are whole (conv_q8_vnni: gemmlowp rounding, N = 16, 32, 48 or 64 in
 * one group of full blocks, ldo = N, so that a tile of CQ_MR rows is 64 * NB contiguous bytes). MODE: cq_mode's.
 * One function per signedness, WHOLE and MODE (conv_q8_vnni picks it): each holds only its own four block
 * counts, so that adding a mode does not move the others' code. */
INLINE_VNNI void cq_body(const detc_conv_q8_params *prm, int m, const uint8_t *A, int lda, uint8_t *out, int ldo,
                         int is_signed, const int WHOLE, const int MODE)
{
    const int N = prm->n, NBLK = (N + 15) / 16;
    const int need_rs = !is_signed || prm->w_zp;
    const int32_t *corr = (const int32_t *)((const uint8_t *)prm->packed + cq_weight_bytes(N, prm->k));
    /* one filter zero point (per tensor, as every u8 model has): coef * sum(row) is one number per row */
    int uni = !prm->w_zp || cq_same(prm->w_zp, N);
    if (!need_rs)
        uni = 2;
    const uint32_t coef0 = (is_signed ? 0u : 128u) - (prm->w_zp ? (uint32_t)prm->w_zp[0] : 0u);
    const q8_out q = q8_out_load(prm->out_zp, prm->act_min, prm->act_max, is_signed);
    const int nch = (prm->k + 63) / 64; /* 64-byte chunks of a row */
    const uint8_t *a_end = A + (long)(m - 1) * lda + prm->k; /* one past A's last byte */
    uint32_t rowc[CQ_MC + CQ_MR];
    for (int m0 = 0; m0 < m; m0 += CQ_MC) {
        const int mc = m - m0 < CQ_MC ? m - m0 : CQ_MC;
        int i = 0;
        if (need_rs && nch <= 4) /* eight rows at a time */
            for (; i + 8 <= mc; i += 8) {
                const uint8_t *a8 = A + (long)(m0 + i) * lda;
                if (nch == 1)
                    detc_row_sums8_q8(a8, lda, prm->k, 1, is_signed, rowc + i);
                else if (nch == 2)
                    detc_row_sums8_q8(a8, lda, prm->k, 2, is_signed, rowc + i);
                else if (nch == 3)
                    detc_row_sums8_q8(a8, lda, prm->k, 3, is_signed, rowc + i);
                else
                    detc_row_sums8_q8(a8, lda, prm->k, 4, is_signed, rowc + i);
                for (int r = i; r < i + 8 && uni; r++)
                    rowc[r] *= coef0;
            }
        for (; i < mc + CQ_MR; i++) {
            uint32_t rs = i < mc && need_rs ? detc_row_sum_q8(A + (long)(m0 + i) * lda, prm->k, is_signed) : 0;
            rowc[i] = uni ? coef0 * rs : rs;
        }
        for (int g = 0, nb; g < NBLK; g += nb) {
            /* groups of CQ_NB blocks; a last group of 1 or 2 is evened out with the one before (6 blocks: 3 + 3,
             * 5: 3 + 2), whose fewer accumulators per broadcast row would run below the others' rate */
            const int left = NBLK - g;
            nb = left <= CQ_NB ? left : left == CQ_NB + 1 || left == CQ_NB + 2 ? (left + 1) / 2 : CQ_NB;
            cq_blk cb[CQ_NB];
            for (int j = 0; j < nb; j++) {
                const int c = (g + j) * 16, left = N - c;
                const __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                cb[j].base = _mm512_add_epi32(_mm512_maskz_loadu_epi32(mk, prm->bias + c), _mm512_load_si512(corr + c));
                cb[j].coef = _mm512_set1_epi32(is_signed ? 0 : 128);
                if (prm->w_zp)
                    cb[j].coef = _mm512_sub_epi32(cb[j].coef, _mm512_maskz_loadu_epi32(mk, prm->w_zp + c));
                if (MODE == 2) /* once per pass, not per tile of rows */
                    cb[j].r1 = cq_rq1_load(prm, c, mk);
                else if (MODE == 4 && j == 0) {
                    cb[0].fs = _mm512_set1_ps(prm->frq_scale);
                    cb[0].fb = _mm512_set1_ps(prm->frq_offset);
                } else if (MODE == 3 || (MODE != 4 && j == 0))
                    cb[j].rq = detc_rq64_load(prm->mult + c, prm->lshift + c, prm->rshift + c, mk);
                if (MODE < 2 && j == 0)
                    detc_rq64_add_zp(&cb[0].rq, prm->out_zp);
            }
            const uint8_t *a = A + (long)m0 * lda;
            uint8_t *o = out + (long)m0 * ldo;
            cq_rows_nb(prm, a, lda, a_end, mc, rowc, uni, g, nb, MODE, WHOLE, is_signed, cb, &q, o, ldo);
        }
    }
}

typedef void (*cq_fn)(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo);

#define CQ_FN(SIGNED, WHOLE, MODE)                                                                                 \
    VNNI static void conv_q8_vnni_##SIGNED##WHOLE##MODE(const detc_conv_q8_params *prm, int m, const uint8_t *a,      \
                                                        int lda, uint8_t *out, int ldo)                           \
    {                                                                                                              \
        cq_body(prm, m, a, lda, out, ldo, SIGNED, WHOLE, MODE);                                                    \
    }
CQ_FN(0, 0, 0)
CQ_FN(0, 0, 1)
CQ_FN(0, 0, 2)
CQ_FN(0, 0, 3)
CQ_FN(0, 0, 4)
CQ_FN(0, 1, 0)
CQ_FN(0, 1, 1)
CQ_FN(0, 1, 3)
CQ_FN(0, 1, 4)
CQ_FN(1, 0, 0)
CQ_FN(1, 0, 1)
CQ_FN(1, 0, 2)
CQ_FN(1, 0, 3)
CQ_FN(1, 0, 4)
CQ_FN(1, 1, 0)
CQ_FN(1, 1, 1)
CQ_FN(1, 1, 3)
CQ_FN(1, 1, 4)
#undef CQ_FN

/* [is_signed][whole][mode]; whole rows never come with round_once (mode 2) */
static const cq_fn cq_fns[2][2][5] = {
    {{conv_q8_vnni_000, conv_q8_vnni_001, conv_q8_vnni_002, conv_q8_vnni_003, conv_q8_vnni_004},
     {conv_q8_vnni_010, conv_q8_vnni_011, conv_q8_vnni_002, conv_q8_vnni_013, conv_q8_vnni_014}},
    {{conv_q8_vnni_100, conv_q8_vnni_101, conv_q8_vnni_102, conv_q8_vnni_103, conv_q8_vnni_104},
     {conv_q8_vnni_110, conv_q8_vnni_111, conv_q8_vnni_102, conv_q8_vnni_113, conv_q8_vnni_114}},
};

VNNI static void conv_q8_vnni(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo)
{
    /* whole rows (cq_body's WHOLE): SSD MobileNet v1 0.75's 150x150 pointwise conv, 24 -> 48 channels */
    const int whole = !prm->round_once && prm->n % 16 == 0 && prm->n <= 16 * CQ_NB && ldo == prm->n;
    cq_fns[prm->is_signed != 0][whole][cq_mode(prm)](prm, m, a, lda, out, ldo);
}

const detc_kernels detc_kernels_avx512vnni = {
    .name = "avx512vnni",
    .dwconv_q8 = dwconv_q8_vnni,
    .dwconv_f32 = detc_dwconv_f32_avx512,
    .dwconv_q8_run = dwconv_q8_run_vnni,
    .dwconv_f32_run = detc_dwconv_f32_run_avx512,
    .conv_q8_pack = conv_q8_pack_vnni,
    .conv_q8 = conv_q8_vnni,
    .conv_f32_pack = detc_conv_f32_pack_avx512,
    .conv_f32 = detc_conv_f32_avx512,
    .wino_in_f32 = detc_wino_in_f32_avx512,
    .wino_out_f32 = detc_wino_out_f32_avx512,
    .wino_in_s16 = detc_wino_in_s16_avx512,
    .conv_s16_pack = detc_conv_s16_pack_avx512,
    .gemm_s16 = detc_gemm_s16_avx512,
    .wino_out_q8 = detc_wino_out_q8_avx512,
    .logistic_f32 = detc_logistic_f32_avx512,
    .add_q8 = detc_add_q8_avx512,
    .quantize_q8 = detc_quantize_q8_avx512,
    .dequantize_q8 = detc_dequantize_q8_avx512,
    .roi_sample_q8 = detc_roi_sample_q8_avx512,
    .roi_sample_f32 = detc_roi_sample_f32_avx512,
};

#endif
