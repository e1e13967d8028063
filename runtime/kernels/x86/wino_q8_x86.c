/* x86 kernels of the int8 Winograd conv: the input transform (wino_in_s16: AVX-512BW, 32 channels per vector,
 * and AVX2, 16), the output stage (wino_out_q8: AVX-512F, 16 channels, and AVX2, 8) and the int16 GEMMs
 * (gemm_s16, kernels.h): AVX-512 VNNI (vpdpwssd: two int16 pairs
 * summed into each int32 lane, 32 multiply-adds per instruction) in the avx512vnni table, AVX2 (vpmaddwd then
 * vpaddd) in the avx2 table. Both wrap modulo 2^32 as the portable kernel does (vpdpwssd and vpmaddwd do not
 * saturate), so every variant gives the same integers.
 *
 * Packing (conv_s16_pack): panels of NR output channels (NR = 32 for AVX-512, 16 for AVX2); panel p holds,
 * for every pair of k (k padded to even with a zero), the NR pairs W[p*NR + j][2q], W[p*NR + j][2q + 1]
 * (zeros past N), so one aligned load per vector gives each lane its channel's pair. A is read in place: one
 * 32-bit broadcast (a pair of int16) per row and pair; an odd K's last element is broadcast alone (high half
 * zero) so that no read passes the row's end. Loop order: panels, then rows in blocks of MR: the panel
 * (NR x K x 2 bytes, 16 KiB for K = 256) stays in L1 while the rows stream past it. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lanes_x86.h"
#include "quantize_x86.h"
#include "wino_q8_x86.h"
#include "wino_x86.h"

#define AVX2 __attribute__((target("avx2")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define AVX512 __attribute__((target("avx512f")))
#define AVX2FMA __attribute__((target("avx2,fma")))

/* Panels of nr channels, pairs of k: [panels][k pairs][nr][2] int16, 64-byte aligned. */
static void *pack_pairs(int n, int k, const int16_t *w, int nr)
{
    size_t panels = (size_t)(n + nr - 1) / (size_t)nr, kp = (size_t)(k + 1) / 2;
    size_t bytes = panels * kp * (size_t)nr * 2 * sizeof(int16_t);
    bytes = (bytes + 63) & ~(size_t)63;
    int16_t *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p)
        return NULL;
    memset(p, 0, bytes ? bytes : 64);
    for (int c = 0; c < n; c++) {
        int16_t *panel = p + (size_t)(c / nr) * kp * (size_t)nr * 2 + (size_t)(c % nr) * 2;
        for (int q = 0; q < k; q++)
            panel[(size_t)(q / 2) * (size_t)nr * 2 + (size_t)(q % 2)] = w[(size_t)c * (size_t)k + (size_t)q];
    }
    return p;
}

/* The pair A[k], A[k + 1] as one int32 (little-endian: A[k] in the low half, as vpdpwssd pairs them). */
static inline int32_t pair_at(const int16_t *a)
{
    int32_t v;
    memcpy(&v, a, sizeof v);
    return v;
}

/* An odd K's last element alone: the high half (the padded zero weight's partner) is 0. */
static inline int32_t last_alone(const int16_t *a)
{
    return (int32_t)(uint16_t)*a;
}

void *detc_conv_s16_pack_avx512(int n, int k, const int16_t *w)
{
    return pack_pairs(n, k, w, 32);
}

#define INLINE inline __attribute__((always_inline))

/* MR rows (1..8) by one panel of 32 channels (nlive of them stored); inlined where mr is a constant, so that
 * the row tests vanish from the inner loop. */
VNNI static INLINE void s16_block_avx512(int mr, int k, const int16_t *a, int lda, const int16_t *panel, int nlive,
                                         int32_t *out, int ldo)
{
    __m512i acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    int kp = k / 2;
    const int16_t *wp = panel;
    for (int q = 0; q < kp; q++, wp += 64) {
        __m512i w0 = _mm512_load_si512((const void *)wp), w1 = _mm512_load_si512((const void *)(wp + 32));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            if (r < mr) {
                __m512i x = _mm512_set1_epi32(pair_at(a + (size_t)r * (size_t)lda + 2 * q));
                acc[r][0] = _mm512_dpwssd_epi32(acc[r][0], x, w0);
                acc[r][1] = _mm512_dpwssd_epi32(acc[r][1], x, w1);
            }
        }
    }
    if (k % 2) {
        __m512i w0 = _mm512_load_si512((const void *)wp), w1 = _mm512_load_si512((const void *)(wp + 32));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            if (r < mr) {
                __m512i x = _mm512_set1_epi32(last_alone(a + (size_t)r * (size_t)lda + k - 1));
                acc[r][0] = _mm512_dpwssd_epi32(acc[r][0], x, w0);
                acc[r][1] = _mm512_dpwssd_epi32(acc[r][1], x, w1);
            }
        }
    }
    __mmask16 m0 = nlive >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nlive) - 1);
    __mmask16 m1 = nlive >= 32 ? (__mmask16)0xFFFF : nlive <= 16 ? 0 : (__mmask16)((1u << (nlive - 16)) - 1);
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        if (r < mr) {
            _mm512_mask_storeu_epi32(out + (size_t)r * (size_t)ldo, m0, acc[r][0]);
            _mm512_mask_storeu_epi32(out + (size_t)r * (size_t)ldo + 16, m1, acc[r][1]);
        }
    }
}

/* The last rows of M (fewer than 8): one specialised block per count. */
VNNI static void s16_tail_avx512(int mr, int k, const int16_t *a, int lda, const int16_t *panel, int nlive,
                                 int32_t *out, int ldo)
{
    switch (mr) {
    case 1: s16_block_avx512(1, k, a, lda, panel, nlive, out, ldo); break;
    case 2: s16_block_avx512(2, k, a, lda, panel, nlive, out, ldo); break;
    case 3: s16_block_avx512(3, k, a, lda, panel, nlive, out, ldo); break;
    case 4: s16_block_avx512(4, k, a, lda, panel, nlive, out, ldo); break;
    case 5: s16_block_avx512(5, k, a, lda, panel, nlive, out, ldo); break;
    case 6: s16_block_avx512(6, k, a, lda, panel, nlive, out, ldo); break;
    default: s16_block_avx512(7, k, a, lda, panel, nlive, out, ldo); break;
    }
}

VNNI void detc_gemm_s16_avx512(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo)
{
    const size_t panel_len = (size_t)(k + 1) / 2 * 64;
    for (int c0 = 0; c0 < n; c0 += 32) {
        const int16_t *panel = (const int16_t *)packed + (size_t)(c0 / 32) * panel_len;
        int nlive = n - c0 < 32 ? n - c0 : 32;
        int r = 0;
        for (; r + 8 <= m; r += 8)
            s16_block_avx512(8, k, a + (size_t)r * (size_t)lda, lda, panel, nlive, out + (size_t)r * (size_t)ldo + c0,
                             ldo);
        if (r < m)
            s16_tail_avx512(m - r, k, a + (size_t)r * (size_t)lda, lda, panel, nlive,
                            out + (size_t)r * (size_t)ldo + c0, ldo);
    }
}

void *detc_conv_s16_pack_avx2(int n, int k, const int16_t *w)
{
    return pack_pairs(n, k, w, 16);
}

/* Stores the first nlive of 8 lanes (AVX2 has no masked integer store below 32 bits but this one). */
AVX2 static inline void store_live(int32_t *dst, __m256i v, int nlive)
{
    if (nlive >= 8) {
        _mm256_storeu_si256((__m256i *)(void *)dst, v);
    } else if (nlive > 0) {
        _mm256_maskstore_epi32((int *)dst, detc_lanes8_avx2(nlive), v);
    }
}

/* MR rows (1..4) by one panel of 16 channels (inlined as the AVX-512 one). */
AVX2 static INLINE void s16_block_avx2(int mr, int k, const int16_t *a, int lda, const int16_t *panel, int nlive,
                                       int32_t *out, int ldo)
{
    __m256i acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    int kp = k / 2;
    const int16_t *wp = panel;
    for (int q = 0; q <= kp; q++, wp += 32) {
        if (q == kp && k % 2 == 0)
            break;
        __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)wp);
        __m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(wp + 16));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            if (r < mr) {
                const int16_t *ar = a + (size_t)r * (size_t)lda;
                __m256i x = _mm256_set1_epi32(q < kp ? pair_at(ar + 2 * q) : last_alone(ar + k - 1));
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, w0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, w1));
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        if (r < mr) {
            store_live(out + (size_t)r * (size_t)ldo, acc[r][0], nlive);
            store_live(out + (size_t)r * (size_t)ldo + 8, acc[r][1], nlive - 8);
        }
    }
}

AVX2 static void s16_tail_avx2(int mr, int k, const int16_t *a, int lda, const int16_t *panel, int nlive, int32_t *out,
                               int ldo)
{
    switch (mr) {
    case 1: s16_block_avx2(1, k, a, lda, panel, nlive, out, ldo); break;
    case 2: s16_block_avx2(2, k, a, lda, panel, nlive, out, ldo); break;
    default: s16_block_avx2(3, k, a, lda, panel, nlive, out, ldo); break;
    }
}

AVX2 void detc_gemm_s16_avx2(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo)
{
    const size_t panel_len = (size_t)(k + 1) / 2 * 32;
    for (int c0 = 0; c0 < n; c0 += 16) {
        const int16_t *panel = (const int16_t *)packed + (size_t)(c0 / 16) * panel_len;
        int nlive = n - c0 < 16 ? n - c0 : 16;
        int r = 0;
        for (; r + 4 <= m; r += 4)
            s16_block_avx2(4, k, a + (size_t)r * (size_t)lda, lda, panel, nlive, out + (size_t)r * (size_t)ldo + c0,
                           ldo);
        if (r < m)
            s16_tail_avx2(m - r, k, a + (size_t)r * (size_t)lda, lda, panel, nlive, out + (size_t)r * (size_t)ldo + c0,
                          ldo);
    }
}

/* ---------------- output stage (wino_out_q8) ----------------
 * One pass over the tile's 36 product rows per block of channels: convert and scale, A^T m A in registers (the
 * float output transform's WINO_AT_TILE, whose fused forms round as the portable kernel's separate operations),
 * bias, and quantize_q8's rounding, with no float tile stored in between. */

AVX512 void detc_wino_out_q8_avx512(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride,
                                    uint8_t *const *out)
{
    const int C = prm->channels;
    const __m512 f2 = _mm512_set1_ps(2.0f), f4 = _mm512_set1_ps(4.0f), f8 = _mm512_set1_ps(8.0f);
    const __m512 os = _mm512_set1_ps(prm->out_scale), zp = _mm512_set1_ps((float)prm->out_zp);
    const __m512 lo = _mm512_set1_ps((float)prm->q_lo), hi = _mm512_set1_ps((float)prm->q_hi);
    for (int c0 = 0; c0 < C; c0 += 16) {
        __mmask16 mk = C - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1);
        __m512 b = _mm512_maskz_loadu_ps(mk, prm->bias + c0);
        /* m[xi] = (float)acc * scale; a pixel's value lies in [q_lo, q_hi]: its low byte is the result */
#define LOAD(xi)                                                                                                       \
    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(mk, acc + (size_t)(xi) * stride + c0)),                \
                  _mm512_maskz_loadu_ps(mk, prm->scale + (size_t)(xi) * (size_t)C + c0))
#define EMIT(p, v)                                                                                                     \
    if (out[p])                                                                                                        \
        _mm512_mask_cvtepi32_storeu_epi8(out[p] + c0, mk,                                                              \
                                         detc_quantize16_avx512(_mm512_add_ps((v), b), os, zp, lo, hi))
        WINO_AT_TILE(__m512, _mm512_add_ps, _mm512_sub_ps, _mm512_fmadd_ps, LOAD, EMIT);
#undef LOAD
#undef EMIT
    }
}

/* The first `live` (<= 8) of the bytes at 0..3 of each 128-bit half of q (a pixel's values after the shuffle). */
AVX2FMA static inline void store_low_bytes(uint8_t *dst, int live, __m256i q)
{
    uint32_t b0 = (uint32_t)_mm256_extract_epi32(q, 0), b1 = (uint32_t)_mm256_extract_epi32(q, 4);
    uint8_t bytes[8];
    memcpy(bytes, &b0, 4);
    memcpy(bytes + 4, &b1, 4);
    memcpy(dst, bytes, (size_t)live);
}

AVX2FMA void detc_wino_out_q8_avx2(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride,
                                  uint8_t *const *out)
{
    const int C = prm->channels;
    const __m256 f2 = _mm256_set1_ps(2.0f), f4 = _mm256_set1_ps(4.0f), f8 = _mm256_set1_ps(8.0f);
    const __m256 os = _mm256_set1_ps(prm->out_scale), zp = _mm256_set1_ps((float)prm->out_zp);
    const __m256 lo = _mm256_set1_ps((float)prm->q_lo), hi = _mm256_set1_ps((float)prm->q_hi);
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                                               12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    for (int c0 = 0; c0 < C; c0 += 8) {
        const int live = C - c0 < 8 ? C - c0 : 8;
        const __m256i mk = detc_lanes8_avx2(live);
        __m256 b = _mm256_maskload_ps(prm->bias + c0, mk);
#define LOAD(xi)                                                                                                       \
    _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_maskload_epi32((const int *)(acc + (size_t)(xi) * stride + c0), mk)),    \
                  _mm256_maskload_ps(prm->scale + (size_t)(xi) * (size_t)C + c0, mk))
#define EMIT(p, v)                                                                                                     \
    if (out[p])                                                                                                        \
        store_low_bytes(out[p] + c0, live,                                                                             \
                        _mm256_shuffle_epi8(detc_quantize8_avx2(_mm256_add_ps((v), b), os, zp, lo, hi), low_bytes))
        WINO_AT_TILE(__m256, _mm256_add_ps, _mm256_sub_ps, _mm256_fmadd_ps, LOAD, EMIT);
#undef LOAD
#undef EMIT
    }
}

/* ---------------- input transform (wino_in_s16) ---------------- */

/* B^T on six int16 vectors (d0..d5 -> o[0..5], o[k] at o[k * os]) with adds, subtracts and shifts: equal modulo
 * 2^16 to the portable kernel's int arithmetic, and exact since every result is within int16. */
#define BT6_S16(ADD, SUB, SHL, d0, d1, d2, d3, d4, d5, o, os)                                                 \
    do {                                                                                                       \
        (o)[0 * (os)] = ADD(SUB(SHL(SUB(d0, d2), 2), d2), d4);                                                 \
        (o)[1 * (os)] = SUB(ADD(d3, d4), SHL(ADD(d1, d2), 2));                                                 \
        (o)[2 * (os)] = ADD(SHL(SUB(d1, d2), 2), SUB(d4, d3));                                                 \
        (o)[3 * (os)] = ADD(SHL(SUB(d3, d1), 1), SUB(d4, d2));                                                 \
        (o)[4 * (os)] = ADD(SHL(SUB(d1, d3), 1), SUB(d4, d2));                                                 \
        (o)[5 * (os)] = ADD(SUB(SHL(SUB(d1, d3), 2), d3), d5);                                                 \
    } while (0)

VNNI void detc_wino_in_s16_avx512(int channels, const uint8_t *const *taps, int32_t zp, int is_signed, int16_t *v,
                                  size_t stride)
{
    const __m512i z = _mm512_set1_epi16((int16_t)zp);
    for (int c0 = 0; c0 < channels; c0 += 32) {
        int nc = channels - c0 < 32 ? channels - c0 : 32;
        __mmask32 mk = nc == 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << nc) - 1);
        __m512i t[36];
        WINO_UNROLL
        for (int x = 0; x < 6; x++) {
            __m512i d[6];
            WINO_UNROLL
            for (int y = 0; y < 6; y++) {
                __m256i b = _mm512_castsi512_si256(_mm512_maskz_loadu_epi8((__mmask64)mk, taps[y * 6 + x] + c0));
                d[y] = _mm512_sub_epi16(is_signed ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b), z);
            }
            BT6_S16(_mm512_add_epi16, _mm512_sub_epi16, _mm512_slli_epi16, d[0], d[1], d[2], d[3], d[4], d[5], t + x, 6);
        }
        WINO_UNROLL
        for (int y = 0; y < 6; y++) {
            __m512i o[6];
            const __m512i *d = t + y * 6;
            BT6_S16(_mm512_add_epi16, _mm512_sub_epi16, _mm512_slli_epi16, d[0], d[1], d[2], d[3], d[4], d[5], o, 1);
            WINO_UNROLL
            for (int x = 0; x < 6; x++)
                _mm512_mask_storeu_epi16(v + (size_t)(y * 6 + x) * stride + c0, mk, o[x]);
        }
    }
}

AVX2 void detc_wino_in_s16_avx2(int channels, const uint8_t *const *taps, int32_t zp, int is_signed, int16_t *v,
                                size_t stride)
{
    const __m256i z = _mm256_set1_epi16((int16_t)zp);
    for (int c0 = 0; c0 < channels; c0 += 16) {
        int nc = channels - c0 < 16 ? channels - c0 : 16;
        __m256i t[36];
        WINO_UNROLL
        for (int x = 0; x < 6; x++) {
            __m256i d[6];
            WINO_UNROLL
            for (int y = 0; y < 6; y++) {
                __m128i b = _mm_setzero_si128();
                if (nc == 16)
                    b = _mm_loadu_si128((const __m128i *)(const void *)(taps[y * 6 + x] + c0));
                else
                    memcpy(&b, taps[y * 6 + x] + c0, (size_t)nc);
                d[y] = _mm256_sub_epi16(is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b), z);
            }
            BT6_S16(_mm256_add_epi16, _mm256_sub_epi16, _mm256_slli_epi16, d[0], d[1], d[2], d[3], d[4], d[5], t + x, 6);
        }
        WINO_UNROLL
        for (int y = 0; y < 6; y++) {
            __m256i o[6];
            const __m256i *d = t + y * 6;
            BT6_S16(_mm256_add_epi16, _mm256_sub_epi16, _mm256_slli_epi16, d[0], d[1], d[2], d[3], d[4], d[5], o, 1);
            WINO_UNROLL
            for (int x = 0; x < 6; x++) {
                int16_t *dst = v + (size_t)(y * 6 + x) * stride + c0;
                if (nc == 16)
                    _mm256_storeu_si256((__m256i *)(void *)dst, o[x]);
                else
                    memcpy(dst, &o[x], (size_t)nc * sizeof(int16_t));
            }
        }
    }
}

#endif
