/* AVX-512 depthwise convolution (dwconv_q8 and dwconv_q8_run), a template included once by each of two files:
 * x86.c (DWV_VBMI 0: AVX-512 F, BW and VNNI, the avx512vnni table) and dw_q8_vbmi.c (DWV_VBMI 1: and VBMI, the
 * avx512vbmi table), so that no function compiled for VBMI runs on a CPU without it (Cascade Lake has VNNI
 * alone). The includer defines DWV_TARGET (its target attribute), DWV_VBMI and the names of the two entries,
 * DWV_DWCONV_Q8 and DWV_DWCONV_Q8_RUN; everything else is static to it. With VBMI a pair of byte vectors becomes
 * word pairs in one vpermt2b (dwv_pair), where unpacks, an insert and a widening took four instructions.
 *
 * dwconv_q8 with 16 channels per zmm, one int32 lane per channel: two taps' 16 bytes interleaved and
 * widened to word pairs (dwv_pair) and vpdpwssd multiplying both words by a pair of weights, so that
 * every vpdpwssd sums two taps (the high word of a byte widened alone meets a weight word of 0). Channel
 * blocks run outside the pixels, so that a block's weights and requantization constants are set up once
 * per run of pixels; the last block of C % 16 != 0 channels overlaps the one before (both write the same
 * bytes there).
 * Groups of DWV_NP pixels whose 3x3 windows move by a fixed distance (a stride-1 or stride-2 row away from
 * the left and right padding: pixel p's tap (r, kx) at tap (r, 0) + (s*p + kx) * e_r bytes, e_r = 0 for a
 * window row in the padding; checked per group) read each input vector of a row once and use it for every
 * pixel whose window covers it, 5 vpdpwssd per vector (dwv_groups); there a tail of 1..8 channels goes two
 * pixels per vector (L = 2). Other pixels (the left and right edges) sum their taps as the packed weight
 * pairs (2p, 2p+1) come. The requantization is q8_avx512.h's detc_rq64 (gemmlowp's two roundings as one),
 * four pixels' bytes packed together (q8_pack4). */
#ifndef DETC_DW_Q8_AVX512_H
#define DETC_DW_Q8_AVX512_H

#include <immintrin.h>

#include "dw_q8_x86.h"
#include "kernels.h"
#include "q8_avx512.h"

#define DWV_INLINE DWV_TARGET __attribute__((always_inline)) static inline
#define DWV_NP 8
#if defined(__clang__)
#define DWV_UNROLL _Pragma("clang loop unroll(full)")
#else
#define DWV_UNROLL _Pragma("GCC unroll 32")
#endif

/* A block's constants: bias, requantization, output clamp. */
typedef struct {
    __m512i bias, lo, hi, zp;
    detc_rq64 rq;
    q8_out q;
    __m512 fs, fb;       /* the float form (fix 3) */
    __m512i amin, amax;
} dwv_consts;

DWV_INLINE dwv_consts dwv_consts_load(const detc_dwconv_q8_params *prm, int c)
{
    dwv_consts k;
    k.bias = _mm512_loadu_si512(prm->bias + c);
    k.rq = detc_rq64_load(prm->mult + c, prm->lshift + c, prm->rshift + c, 0xFFFF);
    k.lo = _mm512_set1_epi32(prm->act_min - prm->out_zp);
    k.hi = _mm512_set1_epi32(prm->act_max - prm->out_zp);
    k.zp = _mm512_set1_epi32(prm->out_zp);
    k.q = q8_out_load(prm->out_zp, prm->act_min, prm->act_max, prm->is_signed);
    k.fs = _mm512_set1_ps(prm->frq_scale);
    k.fb = _mm512_set1_ps(prm->frq_offset);
    k.amin = _mm512_set1_epi32(prm->act_min);
    k.amax = _mm512_set1_epi32(prm->act_max);
    return k;
}

/* fix 0 and 1: detc_rq64_apply's, out_zp added after; 3: the float form the op found exact (kernels.h's frq),
 * out_zp in its offset. */
DWV_INLINE __m512i dwv_rq(__m512i acc, const dwv_consts *k, int fix)
{
    return fix == 3 ? detc_rq_float_apply(acc, k->fs, k->fb) : detc_rq64_apply(acc, &k->rq, fix);
}

/* Clamped to the output range already: truncating to bytes is exact. */
DWV_INLINE void dwv_store(__m512i acc, const dwv_consts *k, int fix, uint8_t *o)
{
    const __m512i v = fix == 3 ? _mm512_min_epi32(_mm512_max_epi32(dwv_rq(acc, k, 3), k->amin), k->amax)
                               : q8_clamp16(dwv_rq(acc, k, fix), k->lo, k->hi, k->zp);
    _mm_storeu_si128((__m128i *)o, _mm512_cvtepi32_epi8(v));
}

/* Lane l = (p[l], q[l]) as a word pair (sign- or zero-extended bytes), for vpdpwssd against a pair of
 * weights: the bytes interleaved, then widened to words; with VBMI, both placed by one vpermt2b. */
DWV_INLINE __m512i dwv_pair(__m128i p, __m128i q, int is_signed)
{
#if DWV_VBMI
    /* bytes p[c] and q[c] to bytes 4c and 4c + 2 (unsigned: the bytes between them zeroed) or to bytes 4c + 1 and
     * 4c + 3 (signed: then shifted down into their words with their sign) */
#define DWV_IDX(c) ((c) | (0x40 + (c)) << 16) /* byte 0: p[c], byte 2: q[c] (vpermt2b's second table) */
    const __m512i idx = _mm512_setr_epi32(DWV_IDX(0), DWV_IDX(1), DWV_IDX(2), DWV_IDX(3), DWV_IDX(4), DWV_IDX(5),
                                          DWV_IDX(6), DWV_IDX(7), DWV_IDX(8), DWV_IDX(9), DWV_IDX(10), DWV_IDX(11),
                                          DWV_IDX(12), DWV_IDX(13), DWV_IDX(14), DWV_IDX(15));
#undef DWV_IDX
    const __m512i zp = _mm512_castsi128_si512(p), zq = _mm512_castsi128_si512(q);
    if (!is_signed)
        return _mm512_maskz_permutex2var_epi8(0x5555555555555555ULL, zp, idx, zq);
    return _mm512_srai_epi16(_mm512_maskz_permutex2var_epi8(0xAAAAAAAAAAAAAAAAULL, zp, _mm512_slli_epi16(idx, 8), zq), 8);
#else
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(p, q)), _mm_unpackhi_epi8(p, q), 1);
    return is_signed ? _mm512_cvtepi8_epi16(v) : _mm512_cvtepu8_epi16(v);
#endif
}

/* n pixels one at a time (taps as given), channels c..c+15. */
DWV_INLINE void dwv_pixels(const detc_dwconv_q8_params *prm, const int P, int is_signed, int fix, int n,
                            const uint8_t *const *taps, uint8_t *out, int c, const dwv_consts *k)
{
    const int C = prm->channels;
    const int16_t *w = prm->w + (long)c * 2;
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = taps + (long)i * 2 * P;
        __m512i a = k->bias;
        for (int p = 0; p < P; p++) {
            const __m512i x = dwv_pair(_mm_loadu_si128((const __m128i *)(t[2 * p] + c)),
                                       _mm_loadu_si128((const __m128i *)(t[2 * p + 1] + c)), is_signed);
            a = _mm512_dpwssd_epi32(a, x, _mm512_loadu_si512(w + (long)p * C * 2));
        }
        dwv_store(a, k, fix, out + (long)i * C + c);
    }
}

/* 8 channels c..c+7 of two pixels per vector (lanes 0-7 and 8-15), for a channel count of 16n + 8 or less
 * that would otherwise take a 16-channel block half of which recomputes channels already written:
 * the block's constants for channels c..c+7 twice. */
DWV_INLINE __m512i dwv_dup8(const int32_t *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

DWV_INLINE dwv_consts dwv_consts_dup8(const detc_dwconv_q8_params *prm, int c)
{
    dwv_consts k = dwv_consts_load(prm, c); /* clamp and zero point; lanes replaced below */
    k.bias = dwv_dup8(prm->bias + c);
    k.rq = detc_rq64_from(dwv_dup8(prm->mult + c), dwv_dup8(prm->lshift + c), dwv_dup8(prm->rshift + c));
    return k;
}

/* 16 bytes of a row at column a (p): with L = 2, 8 channels of column a and 8 of column a + S (s bytes on). */
DWV_INLINE __m128i dwv_col(const uint8_t *p, ptrdiff_t s, int L)
{
    return L == 1 ? _mm_loadu_si128((const __m128i *)p)
                  : _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)p), _mm_loadl_epi64((const __m128i *)(p + s)));
}

/* A column's 16 bytes (dwv_col) widened to int32 alone, for vpdpwssd against a weight in the low word. */
DWV_INLINE __m512i dwv_widen(__m128i v, int is_signed)
{
    return is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

/* ngroups groups of DWV_NP pixels (10 tap pointers each, tap 9 of weight 0) whose 3x3 windows move by S
 * times their tap distance. L = 1: channels c..c+15, pixel q in vector q; L = 2: channels c..c+7 of pixels
 * 2q and 2q+1 in vector q (lanes 0-7, 8-15; k and the weights hold c..c+7 twice). Both words of every
 * vpdpwssd carry a tap, 5 per vector (dwv_tap_weights):
 *   rows 0 and 1 of column a, paired: once per column, against w01[a - a0] (a0: the vector's first column);
 *   row 2, columns a and a + 1 paired: at a0 against w2[0] = (w[2][0], w[2][1]), and for w[2][2] at
 *   a0 + 1 against w2[1] = (0, w[2][2]) (S = 1: the next vector's a0 pair when L = 1), or at a0 + 2 against
 *   w2[1] = (w[2][2], 0) (S = 2: the next vector's a0 pair when L = 1; else row 2 widened alone, the high
 *   word's weight 0, which keeps every read inside the windows).
 * With L = 2 a column is pixel 2q's column next to pixel 2q+1's, S further on. Every column is read once
 * and used for every vector whose window holds it.
 * Group g's taps are at taps + g * tstride, moved by g * gstep bytes: (DWV_NP * 10, 0) for a pointer per tap
 * and pixel, (0, DWV_NP * step) for a run given as its first pixel's taps (dwconv_q8_run). */
DWV_INLINE void dwv_groups(const detc_dwconv_q8_params *prm, const int S, const int L, int is_signed, int fix,
                            int ngroups, const uint8_t *const *taps, long tstride, ptrdiff_t gstep, uint8_t *out,
                            int c, const dwv_consts *k, const __m512i *w01, const __m512i *w2)
{
    const int C = prm->channels, NV = DWV_NP / L, LS = L * S;
    for (int g = 0; g < ngroups; g++) {
        const uint8_t *const *t = taps + g * tstride;
        const uint8_t *x0 = t[0] + c + g * gstep, *x1 = t[3] + c + g * gstep, *x2 = t[6] + c + g * gstep;
        /* 0 for a row in the padding */
        const ptrdiff_t e0 = t[1] - t[0], e1 = t[4] - t[3], e2 = t[7] - t[6];
        __m512i acc[DWV_NP];
DWV_UNROLL
        for (int q = 0; q < NV; q++)
            acc[q] = k->bias;
DWV_UNROLL
        for (int a = 0; a < (NV - 1) * LS + 3; a++) {
            if (a % LS >= 3) /* no vector's window starts here (L = 2 at stride 2) */
                continue;
            const __m512i v01 = dwv_pair(dwv_col(x0 + a * e0, S * e0, L), dwv_col(x1 + a * e1, S * e1, L), is_signed);
DWV_UNROLL
            for (int q = 0; q < NV; q++)
                if (a - LS * q >= 0 && a - LS * q < 3)
                    acc[q] = _mm512_dpwssd_epi32(acc[q], v01, w01[a - LS * q]);
            /* row 2: w2[0] at a0 and w2[1] at a0 + S for the vectors that have them here */
            const int first = a % LS == 0 && a / LS < NV, second = a >= S && (a - S) % LS == 0 && (a - S) / LS < NV;
            if (first || second) {
                __m512i v2;
                if (first || S == 1)
                    v2 = dwv_pair(dwv_col(x2 + a * e2, S * e2, L), dwv_col(x2 + (a + 1) * e2, S * e2, L), is_signed);
                else
                    v2 = dwv_widen(dwv_col(x2 + a * e2, S * e2, L), is_signed);
                if (first)
                    acc[a / LS] = _mm512_dpwssd_epi32(acc[a / LS], v2, w2[0]);
                if (second)
                    acc[(a - S) / LS] = _mm512_dpwssd_epi32(acc[(a - S) / LS], v2, w2[1]);
            }
        }
        uint8_t *o = out + (long)g * DWV_NP * C + c;
DWV_UNROLL
        for (int q = 0; q < NV; q += 4) {
            const __m512i b = q8_pack4(dwv_rq(acc[q], k, fix), dwv_rq(acc[q + 1], k, fix), dwv_rq(acc[q + 2], k, fix),
                                       dwv_rq(acc[q + 3], k, fix), &k->q, is_signed, fix != 3);
            const __m128i v[4] = {_mm512_castsi512_si128(b), _mm512_extracti32x4_epi32(b, 1),
                                  _mm512_extracti32x4_epi32(b, 2), _mm512_extracti32x4_epi32(b, 3)};
DWV_UNROLL
            for (int i = 0; i < 4; i++) {
                uint8_t *oi = o + (long)(L * (q + i)) * C;
                if (L == 1) {
                    _mm_storeu_si128((__m128i *)oi, v[i]);
                } else {
                    _mm_storel_epi64((__m128i *)oi, v[i]);
                    _mm_storel_epi64((__m128i *)(oi + C), _mm_unpackhi_epi64(v[i], v[i]));
                }
            }
        }
    }
}

/* S (1 or 2) when the DWV_NP pixels at t (10 pointers each) are 3x3 windows, tap (r, kx) kx tap distances
 * right of tap (r, 0) (that row's own distance), each pixel's window S tap distances right of the one
 * before, or a row of one pointer for every tap and pixel (a row in the padding); else 0. Addresses are
 * compared as integers (a padding tap points at another object). */
DWV_INLINE int dwv_regular9(const uint8_t *const *t)
{
    long long dr[3];
    int s = 0;
    for (int r = 0; r < 3; r++) {
        const uintptr_t b = (uintptr_t)t[3 * r], e = (uintptr_t)t[3 * r + 1] - b, d = (uintptr_t)t[10 + 3 * r] - b;
        if ((uintptr_t)t[3 * r + 2] - b != 2 * e)
            return 0;
        if (e == 0) {
            if (d != 0)
                return 0;
        } else {
            const int sr = d == e ? 1 : d == 2 * e ? 2 : 0;
            if (!sr || (s && sr != s))
                return 0;
            s = sr;
        }
        dr[r] = (long long)d;
    }
    /* taps 0..7 of pixel p against pixel 0's moved by p times their row's distance; tap 8 apart */
    const __m512i t0 = _mm512_loadu_si512(t), vd = _mm512_setr_epi64(dr[0], dr[0], dr[0], dr[1], dr[1], dr[1], dr[2], dr[2]);
    __m512i want = t0;
    __mmask8 bad = 0;
    for (int p = 1; p < DWV_NP; p++) {
        want = _mm512_add_epi64(want, vd);
        bad |= _mm512_cmpneq_epi64_mask(_mm512_loadu_si512(t + p * 10), want);
        bad |= (uintptr_t)t[p * 10 + 8] - (uintptr_t)t[8] != (uintptr_t)dr[2] * (uintptr_t)p;
    }
    return bad ? 0 : s ? s : 1;
}

/* The 3x3 weights for dwv_groups at stride S from the packed pairs of taps 2p, 2p+1 (tap 3r + kx): word pairs
 * w01[kx] = (w[0][kx], w[1][kx]), w2[0] = (w[2][0], w[2][1]), w2[1] = (0, w[2][2]) at S = 1, (w[2][2], 0) at
 * S = 2. */
DWV_INLINE void dwv_tap_weights(const __m512i *pairs, int S, __m512i *w01, __m512i *w2)
{
    /* pairs[p] = (tap 2p, tap 2p + 1) */
    w01[0] = _mm512_mask_blend_epi16(0xAAAAAAAA, pairs[0], pairs[1]); /* taps 0, 3 */
    w01[1] = _mm512_or_si512(_mm512_srli_epi32(pairs[0], 16), _mm512_slli_epi32(pairs[2], 16)); /* 1, 4 */
    w01[2] = _mm512_mask_blend_epi16(0xAAAAAAAA, pairs[1], pairs[2]); /* 2, 5 */
    w2[0] = pairs[3];                                                 /* 6, 7 */
    w2[1] = S == 1 ? _mm512_slli_epi32(pairs[4], 16) : _mm512_and_si512(pairs[4], _mm512_set1_epi32(0xFFFF));
}

/* ng groups at stride kind (1 or 2), 16 channels from c, or with half the 8 from c two pixels per vector. */
DWV_INLINE void dwv_groups_at(const detc_dwconv_q8_params *prm, int kind, int half, int is_signed, int fix, int ng,
                               const uint8_t *const *taps, long tstride, ptrdiff_t gstep, uint8_t *out, int c,
                               const dwv_consts *k, const __m512i *w01, const __m512i *w2)
{
#define DWV_GROUPS(S, L, FIX) dwv_groups(prm, S, L, is_signed, FIX, ng, taps, tstride, gstep, out, c, k, w01, w2)
#define DWV_GROUPS_FIX(S, L) (fix == 3 ? DWV_GROUPS(S, L, 3) : fix ? DWV_GROUPS(S, L, 1) : DWV_GROUPS(S, L, 0))
    if (half)
        kind == 1 ? DWV_GROUPS_FIX(1, 2) : DWV_GROUPS_FIX(2, 2);
    else
        kind == 1 ? DWV_GROUPS_FIX(1, 1) : DWV_GROUPS_FIX(2, 1);
#undef DWV_GROUPS_FIX
#undef DWV_GROUPS
}

/* Pixels [i0, i0 + n) either way (kind 0: one at a time; 1, 2: groups at that stride, their taps as
 * dwv_groups' tstride and gstep say), every channel block. */
DWV_INLINE void dwv_run(const detc_dwconv_q8_params *prm, const int P, int is_signed, int kind, int n,
                         const uint8_t *const *taps, long tstride, ptrdiff_t gstep, uint8_t *out)
{
    /* fix: detc_rq64_apply's 0 or 1, or 3 for the float form */
    const int C = prm->channels, fix = prm->frq ? 3 : prm->act_min - prm->out_zp < 0;
    /* groups and a tail of 1..8 channels: the tail two pixels per vector (dwv_groups' L = 2) */
    const int half = kind != 0 && C % 16 != 0 && C % 16 <= 8, cmain = half ? C - C % 16 : C;
    __m512i pairs[5], w01[3], w2[2];
    if (half) {
        const int c = C - 8;
        const dwv_consts k = dwv_consts_dup8(prm, c);
        for (int p = 0; p < 5; p++)
            pairs[p] = dwv_dup8((const int32_t *)(const void *)(prm->w + ((long)p * C + c) * 2));
        dwv_tap_weights(pairs, kind, w01, w2);
        dwv_groups_at(prm, kind, 1, is_signed, fix, n / DWV_NP, taps, tstride, gstep, out, c, &k, w01, w2);
    }
    for (int c0 = 0; c0 < cmain; c0 += 16) {
        const int c = c0 + 16 <= C ? c0 : C - 16;
        const dwv_consts k = dwv_consts_load(prm, c);
        if (kind == 0) {
            if (fix == 3)
                dwv_pixels(prm, P, is_signed, 3, n, taps, out, c, &k);
            else if (fix)
                dwv_pixels(prm, P, is_signed, 1, n, taps, out, c, &k);
            else
                dwv_pixels(prm, P, is_signed, 0, n, taps, out, c, &k);
            continue;
        }
        for (int p = 0; p < 5; p++)
            pairs[p] = _mm512_loadu_si512(prm->w + ((long)p * C + c) * 2);
        dwv_tap_weights(pairs, kind, w01, w2);
        dwv_groups_at(prm, kind, 0, is_signed, fix, n / DWV_NP, taps, tstride, gstep, out, c, &k, w01, w2);
    }
}

/* Tap 9 (the pad of a 3x3 kernel's last pair) has weight 0 in every channel. */
DWV_INLINE int dwv_tap9_zero(const detc_dwconv_q8_params *prm)
{
    const int C = prm->channels;
    const int16_t *w = prm->w + (long)4 * C * 2;
    for (int c0 = 0; c0 < C; c0 += 16) {
        const int c = c0 + 16 <= C ? c0 : C - 16;
        if (_mm512_test_epi32_mask(_mm512_loadu_si512(w + (long)c * 2), _mm512_set1_epi32((int)0xFFFF0000u)))
            return 0;
    }
    return 1;
}

/* Runs of regular groups and of other pixels, in order. */
DWV_INLINE void dw_vnni_body(const detc_dwconv_q8_params *prm, const int P, int is_signed, int n,
                              const uint8_t *const *taps, uint8_t *out)
{
    const int C = prm->channels, nine = P == 5 && n >= DWV_NP && dwv_tap9_zero(prm);
    int i = 0, s = nine ? dwv_regular9(taps) : 0;
    while (i < n) {
        int j = i;
        if (s) { /* groups at stride s from i */
            int s2 = 0;
            do {
                j += DWV_NP;
                s2 = n - j >= DWV_NP ? dwv_regular9(taps + (long)j * 10) : 0;
            } while (s2 == s);
            dwv_run(prm, 5, is_signed, s, j - i, taps + (long)i * 10, DWV_NP * 10, 0, out + (long)i * C);
            s = s2;
        } else { /* single pixels up to the next group */
            do {
                j++;
                s = nine && n - j >= DWV_NP ? dwv_regular9(taps + (long)j * 10) : 0;
            } while (j < n && !s);
            dwv_run(prm, P, is_signed, 0, j - i, taps + (long)i * 2 * P, 0, 0, out + (long)i * C);
        }
        i = j;
    }
}

DWV_TARGET static void dw_vnni_u8_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, 5, 0, n, taps, out);
}
DWV_TARGET static void dw_vnni_s8_p5(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, 5, 1, n, taps, out);
}
DWV_TARGET static void dw_vnni_u8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, prm->tap_pairs, 0, n, taps, out);
}
DWV_TARGET static void dw_vnni_s8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    dw_vnni_body(prm, prm->tap_pairs, 1, n, taps, out);
}

/* Fewer than 16 channels, or a channel that shifts left (the dwv kernels requantize without left shifts):
 * the AVX2 kernel (AVX-512 implies AVX2). */
DWV_TARGET static void DWV_DWCONV_Q8(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out)
{
    if (prm->channels < 16 || detc_any_lshift(prm->lshift, prm->channels))
        detc_dwconv_q8_avx2(prm, n, taps, out);
    else if (prm->tap_pairs == 5)
        (prm->is_signed ? dw_vnni_s8_p5 : dw_vnni_u8_p5)(prm, n, taps, out);
    else
        (prm->is_signed ? dw_vnni_s8 : dw_vnni_u8)(prm, n, taps, out);
}

/* S (1 or 2) when a run's first pixel holds 3x3 windows (tap (r, kx) kx times its row's distance e_r != 0 right of
 * tap (r, 0)) that move by S * e_r per pixel in every row, as dwv_groups reads them; else 0. */
static int dwv_regular_run(const uint8_t *const *t, ptrdiff_t step)
{
    int s = 0;
    for (int r = 0; r < 3; r++) {
        const uintptr_t b = (uintptr_t)t[3 * r], e = (uintptr_t)t[3 * r + 1] - b;
        const int sr = e == 0 ? 0 : (uintptr_t)step == e ? 1 : (uintptr_t)step == 2 * e ? 2 : 0;
        if ((uintptr_t)t[3 * r + 2] - b != 2 * e || !sr || (s && sr != s))
            return 0;
        s = sr;
    }
    return s;
}

/* The whole groups of a run of 3x3 windows (16 channels or more, tap 9 of weight 0, regular): how many
 * pixels they took (0 when the run is not one of those). */
DWV_TARGET static int dwv_run_groups(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                               uint8_t *out)
{
    if (prm->channels < 16 || prm->tap_pairs != 5 || n < DWV_NP || !dwv_tap9_zero(prm))
        return 0;
    const int s = dwv_regular_run(taps0, step), done = n - n % DWV_NP;
    if (!s)
        return 0;
    if (prm->is_signed)
        dwv_run(prm, 5, 1, s, done, taps0, 0, DWV_NP * step, out);
    else
        dwv_run(prm, 5, 0, s, done, taps0, 0, DWV_NP * step, out);
    return done;
}

/* A run of pixels (dwconv_q8_run): 3x3 kernels in dwv_groups from the first pixel's taps, the last n % DWV_NP
 * pixels (and every other kernel) by expanding the pointers for DWV_DWCONV_Q8; fewer than 16 channels or a
 * left shift as DWV_DWCONV_Q8 does, in the AVX2 kernel. */
DWV_TARGET static void DWV_DWCONV_Q8_RUN(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                               uint8_t *out)
{
    if (prm->channels < 16 || detc_any_lshift(prm->lshift, prm->channels)) {
        detc_dwconv_q8_run_avx2(prm, n, taps0, step, out);
        return;
    }
    detc_dwconv_q8_run_expand(DWV_DWCONV_Q8, prm, dwv_run_groups(prm, n, taps0, step, out), n, taps0, step, out);
}

#endif
