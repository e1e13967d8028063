/* quantize_q8's arithmetic on 8 (AVX2) and 16 (AVX-512F) float lanes, shared by the cast kernels (eltwise_x86.c)
 * and the int8 Winograd output stage (wino_q8_x86.c): r = round_half_away(x / scale) (a division, never a
 * multiply by the reciprocal), then + zp and the clamp to [lo, hi], as int32 lanes.
 * roundf's rounding is rebuilt from a truncation: q - trunc(q) is exact, and where it is at least 1/2 in
 * magnitude one more unit in q's direction; |q| >= 2^23 is already an integer. NaN gives 0, as the scalar
 * code's r != r test. The scalar code's clamp to +-1e9 before adding zp cannot change the result. */
#ifndef DETC_QUANTIZE_X86_H
#define DETC_QUANTIZE_X86_H

#include <immintrin.h>

__attribute__((always_inline, target("avx2"))) static inline __m256i
detc_quantize8_avx2(__m256 x, __m256 scale, __m256 zp, __m256 lo, __m256 hi)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256 q = _mm256_div_ps(x, scale);
    __m256 t = _mm256_round_ps(q, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(q, t));
    __m256 up = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), _mm256_or_ps(_mm256_and_ps(q, sign), one));
    __m256 r = _mm256_andnot_ps(_mm256_cmp_ps(q, q, _CMP_UNORD_Q), _mm256_add_ps(t, up));
    __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, zp), lo), hi);
    return _mm256_cvtps_epi32(v); /* an integer already: exact */
}

__attribute__((always_inline, target("avx512f"))) static inline __m512i
detc_quantize16_avx512(__m512 x, __m512 scale, __m512 zp, __m512 lo, __m512 hi)
{
    const __m512i sign = _mm512_set1_epi32((int32_t)0x80000000u);
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    __m512 q = _mm512_div_ps(x, scale);
    __m512 t = _mm512_roundscale_ps(q, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 frac = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(_mm512_sub_ps(q, t))));
    __m512 unit = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(q), sign), _mm512_castps_si512(one)));
    __m512 r = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ), t, unit);
    r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(q, q, _CMP_ORD_Q), r); /* NaN: 0 */
    __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, zp), lo), hi);
    return _mm512_cvtps_epi32(v);
}

#endif
