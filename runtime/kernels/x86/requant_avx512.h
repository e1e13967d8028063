/* TFLite's MultiplyByQuantizedMultiplier with gemmlowp's two roundings on 16 int32 lanes, shared by the
 * AVX-512 VNNI kernels (x86.c) and the AMX conv_q8 (amx.c): SaturatingRoundingDoublingHighMul is
 * floor((a*m + 2^30) / 2^31) for every a when m > 0 (its nudge 1 - 2^30 for a negative product, with C's
 * truncating division, lands on the same integer; the saturating case a = m = INT32_MIN cannot occur),
 * the 64-bit products formed on even and odd lanes and bits 31..62 kept; then RoundingDivideByPOT as
 * (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)), with rmask = 2^e - 1 and rthr = rmask >> 1.
 * Without the output zero point and the clamp: the callers add and clamp in their own order. */
#ifndef DETC_REQUANT_AVX512_H
#define DETC_REQUANT_AVX512_H

#include <immintrin.h>

__attribute__((always_inline, target("avx512f"))) static inline __m512i
detc_requant_gemmlowp16(__m512i acc, __m512i mult, __m512i mult_odd, __m512i lsh, __m512i rsh, __m512i rmask,
                        __m512i rthr)
{
    const __m512i nudge = _mm512_set1_epi64(1LL << 30);
    __m512i a = _mm512_sllv_epi32(acc, lsh);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, mult), nudge);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), mult_odd), nudge);
    __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i rem = _mm512_and_si512(h, rmask);
    __m512i thr = _mm512_sub_epi32(rthr, _mm512_srai_epi32(h, 31));
    __m512i v = _mm512_srav_epi32(h, rsh);
    return _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(rem, thr), v, _mm512_set1_epi32(1));
}

#endif
