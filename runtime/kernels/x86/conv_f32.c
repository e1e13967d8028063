/* x86 float conv GEMMs with fused bias and activation (conv_f32, kernels.h): AVX2 + FMA (avx2 table) and
 * AVX-512F (avx512vnni table, beside its other AVX-512F float kernel).
 *
 * The filter is packed once (conv_f32_pack) into panels of NR output channels, K-major: panel p holds, for
 * every k, the NR values W[p*NR + j][k] (zeros past N), so the micro-kernel loads one panel row per k with
 * aligned vector loads. A is read in place: one broadcast per row and k (MR rows of KC values, a few KiB,
 * stay in L1 while every panel passes over them; packing them first cost more than it saved). Loop order:
 * K blocks of KC, rows in blocks of MR, panels; the KC x N slice of the filter stays in L2.
 * Accumulators start from 0 on the first K block, are stored to `out` between K blocks, and get the bias
 * (after the sum, as the portable kernel rounds it) and the clamp on the last one. The N edge uses masked loads and stores (a panel whose live channels fit in half of it
 * runs half the FMAs); the M edge runs a micro-kernel specialised for the remaining row count. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv_f32_x86.h"
#include "lanes_x86.h"
#include "wino_x86.h"

#define CF_KC 256
/* k steps ahead that the AVX-512 micro-kernel prefetches its panel (SSD f32 1 thread, CPU time per inference
 * with 0 / 8 / 16 / 24 / 32: 14.8 / 13.7 / 13.4 / 13.8 / 14.0 ms) */
#define CF_PF_K 16

/* Loops over a micro-tile's rows and vectors run fully unrolled, so that the accumulators live in registers
 * (clang reads "GCC unroll N" as a count, which it does not apply to a shorter loop). */
#if defined(__clang__)
#define UNROLL_FULL _Pragma("clang loop unroll(full)")
#else
#define UNROLL_FULL _Pragma("GCC unroll 16")
#endif /* K values per packed block of A (and per pass over the filter's panel rows) */

/* NR-wide panels, K-major, zero-padded; 64-byte aligned (aligned_alloc needs a multiple of 64). */
static void *pack_panels(int n, int k, const float *w, int nr)
{
    if (n <= 0 || k < 0)
        return NULL;
    int panels = (n + nr - 1) / nr;
    size_t bytes = (size_t)panels * (size_t)(k > 0 ? k : 1) * (size_t)nr * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        return NULL;
    memset(p, 0, bytes);
    for (int pn = 0; pn < panels; pn++)
        for (int c = 0; c < nr && pn * nr + c < n; c++) {
            const float *src = w + (size_t)(pn * nr + c) * (size_t)k;
            float *dst = p + (size_t)pn * (size_t)k * (size_t)nr + c;
            for (int kk = 0; kk < k; kk++)
                dst[(size_t)kk * nr] = src[kk];
        }
    return p;
}

/* K = 0: the output is the clamped bias. */
static void empty_sum(const detc_conv_f32_params *prm, int m, float *out, int ldo)
{
    for (int r = 0; r < m; r++)
        for (int c = 0; c < prm->n; c++) {
            float v = prm->bias ? prm->bias[c] : 0.0f;
            v = v < prm->act_lo ? prm->act_lo : v;
            out[(size_t)r * ldo + c] = v > prm->act_hi ? prm->act_hi : v;
        }
}

/* ---------------- AVX-512F: 12 rows x 32 channels ---------------- */

#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define C5_MR 12
#define C5_NR 32

typedef struct {
    int kc, lda, ldo, first, last, clamp;
    const float *bias; /* at the panel's first channel, or NULL */
    __mmask16 m0, m1;
    float lo, hi;
} c5_args;

/* The panel's live channels, vector by vector: V 0: one ymm (1..8), 1: one zmm (9..16), 2: a zmm and a ymm
 * (17..24), 3: two zmm (25..32). On a CPU that splits a zmm operation in two 256-bit halves (AMD Zen 4) a ymm
 * FMA costs half a zmm one, so a panel of 24 channels (SSD's first conv, its box encodings) runs 3/4 of the
 * FMAs of a masked zmm pair. The ymm halves are loaded and stored through zmm masks (AVX-512F without VL:
 * their VEX FMAs keep to registers 0-15, which 12 accumulators, a weight and the broadcast fit). */
#define C5_Z0(V) ((V) >= 1)
#define C5_Y0(V) ((V) == 0)
#define C5_Z1(V) ((V) == 3)
#define C5_Y1(V) ((V) == 2)

/* ap: row 0 of the A block at its first k, rows g->lda apart; bp: the panel at that k. */
AVX512 __attribute__((always_inline)) static inline void c5_tile(const int MR, const int V, const c5_args *g,
                                                                 const float *ap, const float *bp, float *c)
{
    __m512 acc[C5_MR][2];
    __m256 acy[C5_MR];
    const int z0 = C5_Z0(V), y0 = C5_Y0(V), z1 = C5_Z1(V), y1 = C5_Y1(V);
    const __mmask16 m0 = g->m0, m1 = g->m1;
UNROLL_FULL
    for (int r = 0; r < MR; r++) {
        const float *cr = c + (size_t)r * g->ldo;
        acc[r][0] = z0 && !g->first ? _mm512_maskz_loadu_ps(m0, cr) : _mm512_setzero_ps();
        acc[r][1] = z1 && !g->first ? _mm512_maskz_loadu_ps(m1, cr + 16) : _mm512_setzero_ps();
        acy[r] = (y0 || y1) && !g->first ? _mm512_castps512_ps256(_mm512_maskz_loadu_ps(y0 ? m0 : m1, cr + (y0 ? 0 : 16)))
                                         : _mm256_setzero_ps();
    }
    const size_t lda = (size_t)g->lda;
    const float *a4 = ap + 4 * lda, *a8 = ap + 8 * lda;
    for (int k = 0; k < g->kc; k++) {
        /* The panel's rows CF_PF_K ahead: in a network each layer's filter comes from L3 or memory (the
         * layers between evicted it), and the hardware prefetchers restart at every 4 KiB page. (A prefetch
         * past the panel's end is harmless: prefetches do not fault.) */
        _mm_prefetch((const char *)(bp + (size_t)(k + CF_PF_K) * C5_NR), _MM_HINT_T0);
        if (V >= 2)
            _mm_prefetch((const char *)(bp + (size_t)(k + CF_PF_K) * C5_NR + 16), _MM_HINT_T0);
        const float *bk = bp + (size_t)k * C5_NR;
        __m512 w0 = z0 ? _mm512_load_ps(bk) : _mm512_setzero_ps();
        __m512 w1 = z1 ? _mm512_load_ps(bk + 16) : w0;
        __m256 wy = y0 ? _mm256_load_ps(bk) : y1 ? _mm256_load_ps(bk + 16) : _mm256_setzero_ps();
UNROLL_FULL
        for (int r = 0; r < MR; r++) {
            const float *base = r < 4 ? ap : r < 8 ? a4 : a8;
            const float *ak = base + (size_t)(r & 3) * lda + k;
            if (z0) {
                __m512 av = _mm512_set1_ps(*ak);
                acc[r][0] = _mm512_fmadd_ps(av, w0, acc[r][0]);
                if (z1)
                    acc[r][1] = _mm512_fmadd_ps(av, w1, acc[r][1]);
                if (y1)
                    acy[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(av), wy, acy[r]);
            } else {
                acy[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ak), wy, acy[r]);
            }
        }
    }
    if (g->last && g->bias) { /* after the sum, as the portable kernel and a BLAS + bias pass round it */
        __m512 b0 = _mm512_maskz_loadu_ps(m0, g->bias);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, g->bias + 16);
        __m256 by = _mm512_castps512_ps256(y0 ? b0 : b1);
UNROLL_FULL
        for (int r = 0; r < MR; r++) {
            if (z0)
                acc[r][0] = _mm512_add_ps(acc[r][0], b0);
            if (z1)
                acc[r][1] = _mm512_add_ps(acc[r][1], b1);
            if (y0 || y1)
                acy[r] = _mm256_add_ps(acy[r], by);
        }
    }
    if (g->last && g->clamp) {
        __m512 lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);
        __m256 loy = _mm256_set1_ps(g->lo), hiy = _mm256_set1_ps(g->hi);
UNROLL_FULL
        for (int r = 0; r < MR; r++) { /* max(lo, v), min(hi, v): a NaN v passes through */
            if (z0)
                acc[r][0] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[r][0]));
            if (z1)
                acc[r][1] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[r][1]));
            if (y0 || y1)
                acy[r] = _mm256_min_ps(hiy, _mm256_max_ps(loy, acy[r]));
        }
    }
UNROLL_FULL
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * g->ldo;
        if (z0)
            _mm512_mask_storeu_ps(cr, m0, acc[r][0]);
        if (z1)
            _mm512_mask_storeu_ps(cr + 16, m1, acc[r][1]);
        if (y0 || y1)
            _mm512_mask_storeu_ps(cr + (y0 ? 0 : 16), y0 ? m0 : m1, _mm512_castps256_ps512(acy[r]));
    }
}

typedef void (*c5_fn)(const c5_args *g, const float *ap, const float *bp, float *c);
#define C5_DEF(R)                                                                                              \
    AVX512 static void c5_r##R##_0(const c5_args *g, const float *ap, const float *bp, float *c)               \
    {                                                                                                          \
        c5_tile(R, 0, g, ap, bp, c);                                                                           \
    }                                                                                                          \
    AVX512 static void c5_r##R##_1(const c5_args *g, const float *ap, const float *bp, float *c)               \
    {                                                                                                          \
        c5_tile(R, 1, g, ap, bp, c);                                                                           \
    }                                                                                                          \
    AVX512 static void c5_r##R##_2(const c5_args *g, const float *ap, const float *bp, float *c)               \
    {                                                                                                          \
        c5_tile(R, 2, g, ap, bp, c);                                                                           \
    }                                                                                                          \
    AVX512 static void c5_r##R##_3(const c5_args *g, const float *ap, const float *bp, float *c)               \
    {                                                                                                          \
        c5_tile(R, 3, g, ap, bp, c);                                                                           \
    }
C5_DEF(1)
C5_DEF(2)
C5_DEF(3)
C5_DEF(4)
C5_DEF(5)
C5_DEF(6)
C5_DEF(7)
C5_DEF(8)
C5_DEF(9)
C5_DEF(10)
C5_DEF(11)
C5_DEF(12)
#define C5_ROW(R) {c5_r##R##_0, c5_r##R##_1, c5_r##R##_2, c5_r##R##_3}
static const c5_fn c5_tiles[C5_MR + 1][4] = {
    {NULL, NULL, NULL, NULL}, C5_ROW(1), C5_ROW(2), C5_ROW(3),  C5_ROW(4),  C5_ROW(5),  C5_ROW(6),
    C5_ROW(7),                C5_ROW(8), C5_ROW(9), C5_ROW(10), C5_ROW(11), C5_ROW(12),
};

void *detc_conv_f32_pack_avx512(int n, int k, const float *w)
{
    return pack_panels(n, k, w, C5_NR);
}

AVX512 void detc_conv_f32_avx512(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out,
                                 int ldo)
{
    const int n = prm->n, K = prm->k;
    if (m <= 0 || n <= 0)
        return;
    if (K <= 0) {
        empty_sum(prm, m, out, ldo);
        return;
    }
    const float *W = prm->packed;
    const int panels = (n + C5_NR - 1) / C5_NR;
    c5_args g = {.lda = lda, .ldo = ldo, .lo = prm->act_lo, .hi = prm->act_hi};
    g.clamp = !(isinf(prm->act_lo) && prm->act_lo < 0 && isinf(prm->act_hi) && prm->act_hi > 0);
    for (int k0 = 0; k0 < K; k0 += CF_KC) {
        g.kc = K - k0 < CF_KC ? K - k0 : CF_KC;
        g.first = k0 == 0;
        g.last = k0 + g.kc == K;
        for (int r0 = 0, rows; r0 < m; r0 += rows) {
            /* 13..23 rows left: two tiles of about half, not 12 and a few (a tile of one or four rows waits on
             * its FMAs' latency and streams the whole panel for them: SSD's 361- and 100-row 1x1 convs) */
            int left = m - r0;
            rows = left < C5_MR ? left : left < 2 * C5_MR ? (left + 1) / 2 : C5_MR;
            const float *ar = a + (size_t)r0 * lda + k0;
            for (int p = 0; p < panels; p++) {
                int live = n - p * C5_NR;
                g.m0 = live >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << live) - 1);
                g.m1 = live >= 32 ? (__mmask16)0xFFFF : live > 16 ? (__mmask16)((1u << (live - 16)) - 1) : 0;
                g.bias = prm->bias ? prm->bias + p * C5_NR : NULL;
                const float *bp = W + ((size_t)p * K + k0) * C5_NR;
                c5_tiles[rows][live > 24 ? 3 : live > 16 ? 2 : live > 8](&g, ar, bp, out + (size_t)r0 * ldo + p * C5_NR);
            }
        }
    }
}

/* ---------------- AVX2 + FMA: 6 rows x 16 channels ---------------- */

#define AVX2FMA __attribute__((target("avx2,fma")))
#define C2_MR 6
#define C2_NR 16

typedef struct {
    int kc, lda, ldo, first, last, clamp;
    const float *bias;
    __m256i m0, m1; /* lanes with a live channel: all ones */
    float lo, hi;
} c2_args;

AVX2FMA __attribute__((always_inline)) static inline void c2_tile(const int MR, const int NB, const c2_args *g,
                                                                  const float *ap, const float *bp, float *c)
{
    __m256 acc[C2_MR][2];
    if (g->first) {
UNROLL_FULL
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm256_setzero_ps();
            acc[r][1] = _mm256_setzero_ps();
        }
    } else {
UNROLL_FULL
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm256_maskload_ps(c + (size_t)r * g->ldo, g->m0);
            acc[r][1] = NB > 1 ? _mm256_maskload_ps(c + (size_t)r * g->ldo + 8, g->m1) : _mm256_setzero_ps();
        }
    }
    const size_t lda = (size_t)g->lda;
    const float *a3 = ap + 3 * lda;
    for (int k = 0; k < g->kc; k++) {
        __m256 w0 = _mm256_load_ps(bp + (size_t)k * C2_NR);
        __m256 w1 = NB > 1 ? _mm256_load_ps(bp + (size_t)k * C2_NR + 8) : w0;
UNROLL_FULL
        for (int r = 0; r < MR; r++) {
            const float *base = r < 3 ? ap : a3;
            __m256 av = _mm256_broadcast_ss(base + (size_t)(r % 3) * lda + k);
            acc[r][0] = _mm256_fmadd_ps(av, w0, acc[r][0]);
            if (NB > 1)
                acc[r][1] = _mm256_fmadd_ps(av, w1, acc[r][1]);
        }
    }
    if (g->last && g->bias) {
        __m256 b0 = _mm256_maskload_ps(g->bias, g->m0);
        __m256 b1 = NB > 1 ? _mm256_maskload_ps(g->bias + 8, g->m1) : b0;
UNROLL_FULL
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm256_add_ps(acc[r][0], b0);
            if (NB > 1)
                acc[r][1] = _mm256_add_ps(acc[r][1], b1);
        }
    }
    if (g->last && g->clamp) {
        __m256 lo = _mm256_set1_ps(g->lo), hi = _mm256_set1_ps(g->hi);
UNROLL_FULL
        for (int r = 0; r < MR; r++)
UNROLL_FULL
            for (int b = 0; b < NB; b++)
                acc[r][b] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[r][b]));
    }
UNROLL_FULL
    for (int r = 0; r < MR; r++) {
        _mm256_maskstore_ps(c + (size_t)r * g->ldo, g->m0, acc[r][0]);
        if (NB > 1)
            _mm256_maskstore_ps(c + (size_t)r * g->ldo + 8, g->m1, acc[r][1]);
    }
}

typedef void (*c2_fn)(const c2_args *g, const float *ap, const float *bp, float *c);
#define C2_DEF(R)                                                                                              \
    AVX2FMA static void c2_r##R##_1(const c2_args *g, const float *ap, const float *bp, float *c)              \
    {                                                                                                          \
        c2_tile(R, 1, g, ap, bp, c);                                                                           \
    }                                                                                                          \
    AVX2FMA static void c2_r##R##_2(const c2_args *g, const float *ap, const float *bp, float *c)              \
    {                                                                                                          \
        c2_tile(R, 2, g, ap, bp, c);                                                                           \
    }
C2_DEF(1)
C2_DEF(2)
C2_DEF(3)
C2_DEF(4)
C2_DEF(5)
C2_DEF(6)
static const c2_fn c2_tiles[C2_MR + 1][2] = {
    {NULL, NULL},       {c2_r1_1, c2_r1_2}, {c2_r2_1, c2_r2_2}, {c2_r3_1, c2_r3_2},
    {c2_r4_1, c2_r4_2}, {c2_r5_1, c2_r5_2}, {c2_r6_1, c2_r6_2},
};

void *detc_conv_f32_pack_avx2(int n, int k, const float *w)
{
    return pack_panels(n, k, w, C2_NR);
}

AVX2FMA void detc_conv_f32_avx2(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo)
{
    const int n = prm->n, K = prm->k;
    if (m <= 0 || n <= 0)
        return;
    if (K <= 0) {
        empty_sum(prm, m, out, ldo);
        return;
    }
    const float *W = prm->packed;
    const int panels = (n + C2_NR - 1) / C2_NR;
    c2_args g = {.lda = lda, .ldo = ldo, .lo = prm->act_lo, .hi = prm->act_hi};
    g.clamp = !(isinf(prm->act_lo) && prm->act_lo < 0 && isinf(prm->act_hi) && prm->act_hi > 0);
    for (int k0 = 0; k0 < K; k0 += CF_KC) {
        g.kc = K - k0 < CF_KC ? K - k0 : CF_KC;
        g.first = k0 == 0;
        g.last = k0 + g.kc == K;
        for (int r0 = 0; r0 < m; r0 += C2_MR) {
            int rows = m - r0 < C2_MR ? m - r0 : C2_MR;
            const float *ar = a + (size_t)r0 * lda + k0;
            for (int p = 0; p < panels; p++) {
                int live = n - p * C2_NR;
                g.m0 = detc_lanes8_avx2(live);
                g.m1 = detc_lanes8_avx2(live - 8);
                g.bias = prm->bias ? prm->bias + p * C2_NR : NULL;
                const float *bp = W + ((size_t)p * K + k0) * C2_NR;
                c2_tiles[rows][live > 8](&g, ar, bp, out + (size_t)r0 * ldo + p * C2_NR);
            }
        }
    }
}

/* ---------------- Winograd F(4x4, 3x3) transforms (wino_in_f32, wino_out_f32) ---------------- */

AVX512 void detc_wino_in_f32_avx512(int channels, const float *const *taps, float *v, size_t stride)
{
    const __m512 f2 = _mm512_set1_ps(2.0f), f4 = _mm512_set1_ps(4.0f), f5 = _mm512_set1_ps(5.0f);
    for (int c0 = 0; c0 < channels; c0 += 16) {
        __mmask16 mk = channels - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (channels - c0)) - 1);
        __m512 t[36];
        WINO_UNROLL
        for (int x = 0; x < 6; x++) {
            __m512 d[6];
            WINO_UNROLL
            for (int y = 0; y < 6; y++)
                d[y] = _mm512_maskz_loadu_ps(mk, taps[y * 6 + x] + c0);
            WINO_BT6(_mm512_add_ps, _mm512_sub_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps, d[0], d[1], d[2], d[3], d[4],
                     d[5], t + x, 6);
        }
        WINO_UNROLL
        for (int y = 0; y < 6; y++) {
            __m512 o[6];
            const __m512 *d = t + y * 6;
            WINO_BT6(_mm512_add_ps, _mm512_sub_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps, d[0], d[1], d[2], d[3], d[4],
                     d[5], o, 1);
            WINO_UNROLL
            for (int x = 0; x < 6; x++)
                _mm512_mask_storeu_ps(v + (size_t)(y * 6 + x) * stride + c0, mk, o[x]);
        }
    }
}

AVX512 void detc_wino_out_f32_avx512(int channels, const float *m, size_t stride, const float *bias, float act_lo,
                                     float act_hi, float *const *out)
{
    const __m512 f2 = _mm512_set1_ps(2.0f), f4 = _mm512_set1_ps(4.0f), f8 = _mm512_set1_ps(8.0f);
    const __m512 lo = _mm512_set1_ps(act_lo), hi = _mm512_set1_ps(act_hi);
    const int clamp = !(isinf(act_lo) && act_lo < 0 && isinf(act_hi) && act_hi > 0);
    for (int c0 = 0; c0 < channels; c0 += 16) {
        __mmask16 mk = channels - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (channels - c0)) - 1);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mk, bias + c0) : _mm512_setzero_ps();
#define LOAD(xi) _mm512_maskz_loadu_ps(mk, m + (size_t)(xi) * stride + c0)
#define EMIT(p, v)                                                                                                     \
    if (out[p]) {                                                                                                      \
        __m512 val = _mm512_add_ps((v), b);                                                                           \
        _mm512_mask_storeu_ps(out[p] + c0, mk, clamp ? _mm512_min_ps(hi, _mm512_max_ps(lo, val)) : val);              \
    }
        WINO_AT_TILE(__m512, _mm512_add_ps, _mm512_sub_ps, _mm512_fmadd_ps, LOAD, EMIT);
#undef LOAD
#undef EMIT
    }
}

AVX2FMA void detc_wino_in_f32_avx2(int channels, const float *const *taps, float *v, size_t stride)
{
    const __m256 f2 = _mm256_set1_ps(2.0f), f4 = _mm256_set1_ps(4.0f), f5 = _mm256_set1_ps(5.0f);
    for (int c0 = 0; c0 < channels; c0 += 8) {
        __m256i mk = detc_lanes8_avx2(channels - c0);
        __m256 t[36];
        WINO_UNROLL
        for (int x = 0; x < 6; x++) {
            __m256 d[6];
            WINO_UNROLL
            for (int y = 0; y < 6; y++)
                d[y] = _mm256_maskload_ps(taps[y * 6 + x] + c0, mk);
            WINO_BT6(_mm256_add_ps, _mm256_sub_ps, _mm256_fmadd_ps, _mm256_fnmadd_ps, d[0], d[1], d[2], d[3], d[4],
                     d[5], t + x, 6);
        }
        WINO_UNROLL
        for (int y = 0; y < 6; y++) {
            __m256 o[6];
            const __m256 *d = t + y * 6;
            WINO_BT6(_mm256_add_ps, _mm256_sub_ps, _mm256_fmadd_ps, _mm256_fnmadd_ps, d[0], d[1], d[2], d[3], d[4],
                     d[5], o, 1);
            WINO_UNROLL
            for (int x = 0; x < 6; x++)
                _mm256_maskstore_ps(v + (size_t)(y * 6 + x) * stride + c0, mk, o[x]);
        }
    }
}

AVX2FMA void detc_wino_out_f32_avx2(int channels, const float *m, size_t stride, const float *bias, float act_lo,
                                   float act_hi, float *const *out)
{
    const __m256 f2 = _mm256_set1_ps(2.0f), f4 = _mm256_set1_ps(4.0f), f8 = _mm256_set1_ps(8.0f);
    const __m256 lo = _mm256_set1_ps(act_lo), hi = _mm256_set1_ps(act_hi);
    const int clamp = !(isinf(act_lo) && act_lo < 0 && isinf(act_hi) && act_hi > 0);
    for (int c0 = 0; c0 < channels; c0 += 8) {
        __m256i mk = detc_lanes8_avx2(channels - c0);
        __m256 b = bias ? _mm256_maskload_ps(bias + c0, mk) : _mm256_setzero_ps();
#define LOAD(xi) _mm256_maskload_ps(m + (size_t)(xi) * stride + c0, mk)
#define EMIT(p, v)                                                                                                     \
    if (out[p]) {                                                                                                      \
        __m256 val = _mm256_add_ps((v), b);                                                                           \
        _mm256_maskstore_ps(out[p] + c0, mk, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, val)) : val);                \
    }
        WINO_AT_TILE(__m256, _mm256_add_ps, _mm256_sub_ps, _mm256_fmadd_ps, LOAD, EMIT);
#undef LOAD
#undef EMIT
    }
}

#endif
