/* Float depthwise convolutions (kernels.h dwconv_f32) of the x86 tables: AVX2 + FMA for the avx2 table, AVX-512F
 * for the avx512vnni one. Both differ from the portable kernel only by FMA's single rounding of each
 * multiply-add (tests/test_kernels.c). Compiled with target attributes: no -march flag needed. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "dw_f32_x86.h"

/* ---------------- float depthwise conv, AVX2 + FMA (dwconv_f32) ---------------- */

/* 8 channels per ymm, the pixel loop inside a channel block so that, in the kernels specialized for a tap
 * count (3x3), the block's weights are loaded once per tile of DWF_TILE pixels and stay in registers. Per pixel the taps are summed
 * in order into one accumulator starting at 0 with vfmadd (so only each step's rounding differs from the
 * portable kernel's multiply and add), then the bias, then max(act_lo), min(act_hi) with the NaN-passing
 * operand order. A channel tail is read and written with masks (no access past channel C). */
#define AVX2FMA __attribute__((target("avx2,fma")))
#define INLINE_AVX2FMA AVX2FMA __attribute__((always_inline)) static inline
#define DWF_TILE 16
#define DWF_PRELOAD 25 /* most taps whose weights a specialized kernel holds in registers */

INLINE_AVX2FMA void dwf_block8_avx2(const detc_dwconv_f32_params *prm, int T, int preload, int n,
                                    const float *const *taps, float *out, int c, int tail)
{
    const int C = prm->channels;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(C - c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define DWF_LD8(p) (tail ? _mm256_maskload_ps((p), mask) : _mm256_loadu_ps(p))
    const __m256 lo = _mm256_set1_ps(prm->act_lo), hi = _mm256_set1_ps(prm->act_hi);
    const __m256 b = DWF_LD8(prm->bias + c);
    const float *w = prm->w + c;
    __m256 wv[DWF_PRELOAD];
    if (preload)
        for (int tp = 0; tp < T; tp++)
            wv[tp] = DWF_LD8(w + (long)tp * C);
    for (int i = 0; i < n; i++) {
        const float *const *t = taps + (long)i * T;
        __m256 acc = _mm256_setzero_ps();
        for (int tp = 0; tp < T; tp++)
            acc = _mm256_fmadd_ps(DWF_LD8(t[tp] + c), preload ? wv[tp] : DWF_LD8(w + (long)tp * C), acc);
        __m256 v = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(acc, b)));
        if (tail)
            _mm256_maskstore_ps(out + (long)i * C + c, mask, v);
        else
            _mm256_storeu_ps(out + (long)i * C + c, v);
    }
#undef DWF_LD8
}

INLINE_AVX2FMA void dwf_avx2_body(const detc_dwconv_f32_params *prm, int T, int preload, int n,
                                  const float *const *taps, float *out)
{
    const int C = prm->channels;
    for (int i0 = 0; i0 < n; i0 += DWF_TILE) {
        int m = n - i0 < DWF_TILE ? n - i0 : DWF_TILE;
        const float *const *t = taps + (long)i0 * T;
        float *o = out + (long)i0 * C;
        int c = 0;
        for (; c + 8 <= C; c += 8)
            dwf_block8_avx2(prm, T, preload, m, t, o, c, 0);
        if (c < C)
            dwf_block8_avx2(prm, T, preload, m, t, o, c, 1);
    }
}

AVX2FMA static void dwf_avx2_t9(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    dwf_avx2_body(prm, 9, 1, n, taps, out);
}
AVX2FMA static void dwf_avx2_any(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    dwf_avx2_body(prm, prm->taps, 0, n, taps, out);
}

/* 3x3 kernels get a fully unrolled tap loop with the weights in registers. */
void detc_dwconv_f32_run_avx2(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                              float *out)
{
    detc_dwconv_f32_run_expand(detc_dwconv_f32_avx2, prm, 0, n, taps0, step, out);
}

void detc_dwconv_f32_avx2(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    (prm->taps == 9 ? dwf_avx2_t9 : dwf_avx2_any)(prm, n, taps, out);
}

/* ---------------- float depthwise conv, AVX-512F (dwconv_f32) ---------------- */

/* Pixels outer, 16-channel blocks inner, so that a pixel's taps are read along their channels (with
 * C = 384 a tile of pixels' taps per block, as the AVX2 kernel reads them, does not fit L1). DWF5_NP
 * consecutive pixels whose taps lie a fixed distance apart (stride-s pixels of a row away from the padding:
 * pixel i + p's tap t is pixel i's plus p * d bytes, checked per group) are summed together: one weight
 * vector and one tap pointer serve DWF5_NP independent accumulators. When moreover taps 3r, 3r+1, 3r+2 are
 * d apart (a 3x3 kernel at stride 1), pixel p's tap 3r+1 is pixel p+1's tap 3r: each row's DWF5_NP + 2
 * input vectors are loaded once and used three times. Other pixels (the edges) go one at a time. Per pixel
 * and channel the taps are summed in order from 0 with vfmadd, then the bias and the clamp, as the AVX2
 * kernel does. Only a channel tail uses masked loads (zeroing, no access past channel C): they are slower
 * than plain ones. */
#define AVX512F __attribute__((target("avx512f")))
#define INLINE_AVX512F AVX512F __attribute__((always_inline)) static inline
#define DWF5_NP 8
/* The pixel and tap loops run fully unrolled so that the accumulators live in registers (clang reads
 * "GCC unroll" as a count, which it does not apply to a shorter loop). */
#if defined(__clang__)
#define DWF5_UNROLL _Pragma("clang loop unroll(full)")
#define DWF5_UNROLL_TAPS /* the tap count is a constant in the specialized kernels, which clang unrolls */
#else
#define DWF5_UNROLL _Pragma("GCC unroll 32")
#define DWF5_UNROLL_TAPS _Pragma("GCC unroll 9")
#endif

#define DWF5_LD(full, mask, p) ((full) ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((mask), (p)))

/* One 16-channel block (a partial one when !FULL) of NP pixels: the bias, the clamp, the stores. */
INLINE_AVX512F void dwf_store_avx512(const detc_dwconv_f32_params *prm, const int NP, const int FULL, __mmask16 mask,
                                     const __m512 *acc, int c, float *out)
{
    const int C = prm->channels;
    const __m512 lo = _mm512_set1_ps(prm->act_lo), hi = _mm512_set1_ps(prm->act_hi);
    const __m512 b = DWF5_LD(FULL, mask, prm->bias + c);
DWF5_UNROLL
    for (int p = 0; p < NP; p++) {
        __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(acc[p], b)));
        if (FULL)
            _mm512_storeu_ps(out + (long)p * C + c, v);
        else
            _mm512_mask_storeu_ps(out + (long)p * C + c, mask, v);
    }
}

/* NP pixels, pixel p's tap t at t0[t] + p * d bytes, written to out + p * C; block c. */
INLINE_AVX512F void dwf_block_avx512(const detc_dwconv_f32_params *prm, const int T, const int NP, const int FULL,
                                     __mmask16 mask, const float *const *t0, ptrdiff_t d, int c, float *out)
{
    const int C = prm->channels;
    const float *w = prm->w + c;
    __m512 acc[DWF5_NP];
DWF5_UNROLL
    for (int p = 0; p < NP; p++)
        acc[p] = _mm512_setzero_ps();
DWF5_UNROLL_TAPS
    for (int tp = 0; tp < T; tp++) {
        const __m512 wv = DWF5_LD(FULL, mask, w + (long)tp * C);
        const char *x = (const char *)(t0[tp] + c);
DWF5_UNROLL
        for (int p = 0; p < NP; p++)
            acc[p] = _mm512_fmadd_ps(DWF5_LD(FULL, mask, (const float *)(const void *)(x + p * d)), wv, acc[p]);
    }
    dwf_store_avx512(prm, NP, FULL, mask, acc, c, out);
}

/* DWF5_NP pixels of a 3x3 kernel at stride 1: row r's vectors v[j] = t0[3r] + j * d, j < DWF5_NP + 2. */
INLINE_AVX512F void dwf_block3_avx512(const detc_dwconv_f32_params *prm, const int FULL, __mmask16 mask,
                                      const float *const *t0, ptrdiff_t d, int c, float *out)
{
    const int C = prm->channels;
    const float *w = prm->w + c;
    __m512 acc[DWF5_NP];
DWF5_UNROLL
    for (int p = 0; p < DWF5_NP; p++)
        acc[p] = _mm512_setzero_ps();
DWF5_UNROLL
    for (int r = 0; r < 3; r++) {
        const char *x = (const char *)(t0[3 * r] + c);
        __m512 v[DWF5_NP + 2];
DWF5_UNROLL
        for (int j = 0; j < DWF5_NP + 2; j++)
            v[j] = DWF5_LD(FULL, mask, (const float *)(const void *)(x + j * d));
DWF5_UNROLL
        for (int kx = 0; kx < 3; kx++) {
            const __m512 wv = DWF5_LD(FULL, mask, w + (long)(3 * r + kx) * C);
DWF5_UNROLL
            for (int p = 0; p < DWF5_NP; p++)
                acc[p] = _mm512_fmadd_ps(v[p + kx], wv, acc[p]);
        }
    }
    dwf_store_avx512(prm, DWF5_NP, FULL, mask, acc, c, out);
}

/* kind 0: NP pixels through dwf_block_avx512; 1: DWF5_NP pixels through dwf_block3_avx512. */
INLINE_AVX512F void dwf_pixels_avx512(const detc_dwconv_f32_params *prm, const int T, const int NP, const int kind,
                                      const float *const *t0, ptrdiff_t d, float *out)
{
    const int C = prm->channels;
    int c = 0;
    for (; c + 16 <= C; c += 16) {
        if (kind)
            dwf_block3_avx512(prm, 1, 0xffff, t0, d, c, out);
        else
            dwf_block_avx512(prm, T, NP, 1, 0xffff, t0, d, c, out);
    }
    if (c < C) {
        const __mmask16 mask = (__mmask16)((1u << (C - c)) - 1);
        if (kind)
            dwf_block3_avx512(prm, 0, mask, t0, d, c, out);
        else
            dwf_block_avx512(prm, T, NP, 0, mask, t0, d, c, out);
    }
}

/* 0: pixels 1 .. np-1 of taps[0 .. np*T) are not pixel 0's moved by one fixed distance; else 1, with the
 * distance in *d, or 2 when T is 9 and taps 3r, 3r+1, 3r+2 are also *d apart. (Addresses are compared as
 * integers: a padding tap points at another object.) */
static inline int dwf_regular(const float *const *taps, int T, int np, ptrdiff_t *d)
{
    const uintptr_t base = (uintptr_t)taps[0];
    const uintptr_t step = (uintptr_t)taps[T] - base;
    for (int p = 1; p < np; p++)
        for (int tp = 0; tp < T; tp++)
            if ((uintptr_t)taps[p * T + tp] - (uintptr_t)taps[tp] != step * (uintptr_t)p)
                return 0;
    *d = (ptrdiff_t)step;
    if (T != 9)
        return 1;
    for (int r = 0; r < 3; r++)
        if ((uintptr_t)taps[3 * r + 1] - (uintptr_t)taps[3 * r] != step ||
            (uintptr_t)taps[3 * r + 2] - (uintptr_t)taps[3 * r] != 2 * step)
            return 1;
    return 2;
}

/* 3x3 kernels: runs. A run is pixel 0 of taps[0 .. n*9) and the pixels after it whose taps are its own moved
 * by p * d bytes (the pixels of a row between the padded edges, at any stride); returns its length (at
 * least 1) and d. Eight of a pixel's nine pointers are compared in one vector (as integers: a padding tap
 * points at another object). */
INLINE_AVX512F int dwf_run9(const float *const *taps, int n, ptrdiff_t *d)
{
    *d = 0;
    if (n < 2)
        return 1;
    const uint64_t step = (uint64_t)((uintptr_t)taps[9] - (uintptr_t)taps[0]);
    const __m512i vstep = _mm512_set1_epi64((long long)step);
    __m512i e = _mm512_loadu_si512((const void *)taps);
    uint64_t e8 = (uint64_t)(uintptr_t)taps[8];
    int p = 1;
    for (; p < n; p++) {
        e = _mm512_add_epi64(e, vstep);
        e8 += step;
        if (_mm512_cmpneq_epi64_mask(_mm512_loadu_si512((const void *)(taps + 9 * p)), e) ||
            (uint64_t)(uintptr_t)taps[9 * p + 8] != e8)
            break;
    }
    *d = (ptrdiff_t)step;
    return p;
}

/* DWF5_NP pixels of a run from pixel i for one channel block (see dwf_run_block). Addresses advance by d
 * one load at a time: ten precomputed offsets per row would not fit the general registers. */
INLINE_AVX512F void dwf_run_group(const int C, const int SHARED, const int FULL, __mmask16 mask, const char *const *x0,
                                  ptrdiff_t d, int i, const __m512 *wv, __m512 b, __m512 lo, __m512 hi, float *out)
{
    const ptrdiff_t off = (ptrdiff_t)i * d;
    __m512 acc[DWF5_NP];
DWF5_UNROLL
    for (int p = 0; p < DWF5_NP; p++)
        acc[p] = _mm512_setzero_ps();
    if (SHARED) {
DWF5_UNROLL
        for (int r = 0; r < 3; r++) {
            const char *x = x0[3 * r] + off;
            __m512 v[DWF5_NP + 2];
DWF5_UNROLL
            for (int j = 0; j < DWF5_NP + 2; j++, x += d)
                v[j] = DWF5_LD(FULL, mask, (const float *)(const void *)x);
DWF5_UNROLL
            for (int kx = 0; kx < 3; kx++)
DWF5_UNROLL
                for (int p = 0; p < DWF5_NP; p++)
                    acc[p] = _mm512_fmadd_ps(v[p + kx], wv[3 * r + kx], acc[p]);
        }
    } else {
DWF5_UNROLL
        for (int tp = 0; tp < 9; tp++) {
            const char *x = x0[tp] + off;
DWF5_UNROLL
            for (int p = 0; p < DWF5_NP; p++, x += d)
                acc[p] = _mm512_fmadd_ps(DWF5_LD(FULL, mask, (const float *)(const void *)x), wv[tp], acc[p]);
        }
    }
    float *o = out + (long)i * C;
DWF5_UNROLL
    for (int p = 0; p < DWF5_NP; p++, o += C) {
        __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(acc[p], b)));
        if (FULL)
            _mm512_storeu_ps(o, v);
        else
            _mm512_mask_storeu_ps(o, mask, v);
    }
}

/* Pixels [0, L) of a run for one channel block (a partial one when !FULL), the nine weight vectors held in
 * registers through the run: DWF5_NP pixels at a time, the last group ending at pixel L - 1 (it recomputes
 * some pixels of the one before, the same values: single pixels would wait on their FMAs' latency); a run
 * shorter than a group goes one pixel at a time. SHARED (a 3x3 kernel at stride 1: taps 3r, 3r+1, 3r+2 of
 * a pixel d apart) loads each row's DWF5_NP + 2 input vectors once for three taps. t0: pixel 0's taps;
 * pixel i's tap t is at t0[t] + i * d bytes; out: pixel 0's output, block c. */
INLINE_AVX512F void dwf_run_block(const detc_dwconv_f32_params *prm, const int SHARED, const int FULL, __mmask16 mask,
                                  const float *const *t0, ptrdiff_t d, int L, int c, float *out)
{
    const int C = prm->channels;
    const __m512 lo = _mm512_set1_ps(prm->act_lo), hi = _mm512_set1_ps(prm->act_hi);
    const __m512 b = DWF5_LD(FULL, mask, prm->bias + c);
    __m512 wv[9];
DWF5_UNROLL
    for (int tp = 0; tp < 9; tp++)
        wv[tp] = DWF5_LD(FULL, mask, prm->w + (long)tp * C + c);
    const char *x0[9];
DWF5_UNROLL
    for (int tp = 0; tp < 9; tp++)
        x0[tp] = (const char *)(t0[tp] + c);
    out += c;
    if (L >= DWF5_NP) {
        for (int i = 0;; i += DWF5_NP) {
            if (i > L - DWF5_NP)
                i = L - DWF5_NP;
            dwf_run_group(C, SHARED, FULL, mask, x0, d, i, wv, b, lo, hi, out);
            if (i == L - DWF5_NP)
                break;
        }
        return;
    }
    for (int i = 0; i < L; i++) {
        const ptrdiff_t off = (ptrdiff_t)i * d;
        __m512 acc = _mm512_setzero_ps();
DWF5_UNROLL
        for (int tp = 0; tp < 9; tp++)
            acc = _mm512_fmadd_ps(DWF5_LD(FULL, mask, (const float *)(const void *)(x0[tp] + off)), wv[tp], acc);
        __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(acc, b)));
        if (FULL)
            _mm512_storeu_ps(out + (long)i * C, v);
        else
            _mm512_mask_storeu_ps(out + (long)i * C, mask, v);
    }
}

/* A 3x3 kernel's runs, DWF_RUN_TILE pixels per pass over the channel blocks (so that a pass's input rows stay
 * in L1 from one block to the next while the weights are loaded once per block and pass). */
#define DWF_RUN_TILE 32
/* One run of L pixels, pixel p's tap t at t[t] + p * d bytes. */
INLINE_AVX512F void dwf_run9_tiles(const detc_dwconv_f32_params *prm, const float *const *t, ptrdiff_t d, int L,
                                   float *out)
{
    const int C = prm->channels;
    const __mmask16 tail = (__mmask16)((1u << (C % 16)) - 1);
    int shared = L >= 2;
    for (int r = 0; r < 3 && shared; r++)
        shared = (uintptr_t)t[3 * r + 1] - (uintptr_t)t[3 * r] == (uintptr_t)d &&
                 (uintptr_t)t[3 * r + 2] - (uintptr_t)t[3 * r] == 2 * (uintptr_t)d;
    {
        for (int i0 = 0; i0 < L; i0 += DWF_RUN_TILE) {
            int m = L - i0 < DWF_RUN_TILE + DWF5_NP ? L - i0 : DWF_RUN_TILE; /* no last pass under a group */
            const float *t0[9];
            for (int tp = 0; tp < 9; tp++)
                t0[tp] = (const float *)(const void *)((const char *)t[tp] + (ptrdiff_t)i0 * d);
            float *o = out + (long)i0 * C;
            int c = 0;
            if (shared) {
                for (; c + 16 <= C; c += 16)
                    dwf_run_block(prm, 1, 1, 0xffff, t0, d, m, c, o);
                if (c < C)
                    dwf_run_block(prm, 1, 0, tail, t0, d, m, c, o);
            } else {
                for (; c + 16 <= C; c += 16)
                    dwf_run_block(prm, 0, 1, 0xffff, t0, d, m, c, o);
                if (c < C)
                    dwf_run_block(prm, 0, 0, tail, t0, d, m, c, o);
            }
        }
    }
}

INLINE_AVX512F void dwf_avx512_runs9(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    for (int i = 0; i < n;) {
        ptrdiff_t d;
        const int L = dwf_run9(taps + (long)i * 9, n - i, &d);
        dwf_run9_tiles(prm, taps + (long)i * 9, d, L, out + (long)i * prm->channels);
        i += L;
    }
}

/* Groups of DWF5_NP regular pixels, then of DWF5_NP / 2; a pixel that starts no group (one with padding
 * taps, or in the last few) goes alone. */
INLINE_AVX512F void dwf_avx512_body(const detc_dwconv_f32_params *prm, const int T, int n, const float *const *taps,
                                    float *out)
{
    const int C = prm->channels;
    for (int i = 0; i < n;) {
        const float *const *t = taps + (long)i * T;
        ptrdiff_t d = 0;
        int kind;
        if (n - i >= DWF5_NP && (kind = dwf_regular(t, T, DWF5_NP, &d)) != 0) {
            if (kind == 2)
                dwf_pixels_avx512(prm, 9, DWF5_NP, 1, t, d, out + (long)i * C);
            else
                dwf_pixels_avx512(prm, T, DWF5_NP, 0, t, d, out + (long)i * C);
            i += DWF5_NP;
        } else if (n - i >= DWF5_NP / 2 && dwf_regular(t, T, DWF5_NP / 2, &d)) {
            dwf_pixels_avx512(prm, T, DWF5_NP / 2, 0, t, d, out + (long)i * C);
            i += DWF5_NP / 2;
        } else {
            dwf_pixels_avx512(prm, T, 1, 0, t, 0, out + (long)i * C);
            i++;
        }
    }
}

/* A run given as its first pixel's taps (dwconv_f32_run) through dwf_avx512_body's groups: DWF5_NP pixels
 * at a time (3x3 at stride 1 sharing each row's vectors), then DWF5_NP / 2, then single pixels. d in bytes. */
INLINE_AVX512F void dwf_avx512_body_run(const detc_dwconv_f32_params *prm, const int T, int n, const float *const *taps0,
                                        ptrdiff_t d, float *out)
{
    const int C = prm->channels;
    int shared = T == 9;
    for (int r = 0; r < 3 && shared; r++)
        shared = (uintptr_t)taps0[3 * r + 1] - (uintptr_t)taps0[3 * r] == (uintptr_t)d &&
                 (uintptr_t)taps0[3 * r + 2] - (uintptr_t)taps0[3 * r] == 2 * (uintptr_t)d;
    const float *t[DETC_DW_RUN_MAX_PTRS];
    for (int i = 0; i < n;) {
        for (int tp = 0; tp < T; tp++)
            t[tp] = (const float *)(const void *)((const char *)taps0[tp] + (ptrdiff_t)i * d);
        if (n - i >= DWF5_NP) {
            dwf_pixels_avx512(prm, T, DWF5_NP, shared, t, d, out + (long)i * C);
            i += DWF5_NP;
        } else if (n - i >= DWF5_NP / 2) {
            dwf_pixels_avx512(prm, T, DWF5_NP / 2, 0, t, d, out + (long)i * C);
            i += DWF5_NP / 2;
        } else {
            dwf_pixels_avx512(prm, T, 1, 0, t, 0, out + (long)i * C);
            i++;
        }
    }
}

/* Runs with the weights in registers up to DWF_RUN_MAX_C channels (SSD f32 150x150x24: 0.35 -> 0.25 ms,
 * 75x75x96: 0.29 -> 0.23 ms); past them the groups of dwf_avx512_body, which were faster there (38x38x192:
 * 0.11 against 0.12 ms, 19x19x384: 0.056 against 0.07 ms; kernel time alone, one thread). */
#define DWF_RUN_MAX_C 128
AVX512F static void dwf_avx512_t9(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    if (prm->channels <= DWF_RUN_MAX_C)
        dwf_avx512_runs9(prm, n, taps, out);
    else
        dwf_avx512_body(prm, 9, n, taps, out);
}
AVX512F static void dwf_avx512_t25(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    dwf_avx512_body(prm, 25, n, taps, out);
}
AVX512F static void dwf_avx512_any(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    dwf_avx512_body(prm, prm->taps, n, taps, out);
}

AVX512F static void dwf_avx512_run_t9(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t d,
                                      float *out)
{
    if (prm->channels <= DWF_RUN_MAX_C)
        dwf_run9_tiles(prm, taps0, d, n, out);
    else
        dwf_avx512_body_run(prm, 9, n, taps0, d, out);
}
AVX512F static void dwf_avx512_run_t25(const detc_dwconv_f32_params *prm, int n, const float *const *taps0,
                                       ptrdiff_t d, float *out)
{
    dwf_avx512_body_run(prm, 25, n, taps0, d, out);
}
AVX512F static void dwf_avx512_run_any(const detc_dwconv_f32_params *prm, int n, const float *const *taps0,
                                       ptrdiff_t d, float *out)
{
    dwf_avx512_body_run(prm, prm->taps, n, taps0, d, out);
}

/* 3x3 and 5x5 kernels get a fully unrolled tap loop. */
void detc_dwconv_f32_avx512(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out)
{
    (prm->taps == 9 ? dwf_avx512_t9 : prm->taps == 25 ? dwf_avx512_t25 : dwf_avx512_any)(prm, n, taps, out);
}

/* A run of pixels (dwconv_f32_run): its first pixel's taps and the step straight into the kernels above. */
void detc_dwconv_f32_run_avx512(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                                float *out)
{
    const ptrdiff_t d = step * (ptrdiff_t)sizeof(float);
    (prm->taps == 9 ? dwf_avx512_run_t9 : prm->taps == 25 ? dwf_avx512_run_t25 : dwf_avx512_run_any)(prm, n, taps0, d, out);
}

#endif
