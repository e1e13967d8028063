/* AVX-512 pieces of the quantized kernels shared by x86.c (VNNI) and amx.c (AMX conv_q8).
 *
 * detc_requant_gemmlowp16: TFLite's MultiplyByQuantizedMultiplier with gemmlowp's two roundings on 16
 * int32 lanes. SaturatingRoundingDoublingHighMul is
 * floor((a*m + 2^30) / 2^31) for every a when m > 0 (its nudge 1 - 2^30 for a negative product, with C's
 * truncating division, lands on the same integer; the saturating case a = m = INT32_MIN cannot occur),
 * the 64-bit products formed on even and odd lanes and bits 31..62 kept; then RoundingDivideByPOT as
 * (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)), with rmask = 2^e - 1 and rthr = rmask >> 1.
 * Without the output zero point and the clamp: the callers add and clamp in their own order. */
#ifndef DETC_Q8_AVX512_H
#define DETC_Q8_AVX512_H

#include <immintrin.h>
#include <stdint.h>

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

/* Sum of the first k bytes (u8, or i8 when is_signed) of a row, modulo 2^32: the row sums that filter zero
 * points multiply (and the u8-as-s8 correction of x86.c's VNNI kernel). */
__attribute__((always_inline, target("avx512f,avx512bw"))) static inline uint32_t
detc_row_sum_q8(const uint8_t *a, int k, int is_signed)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    __m512i s = zero;
    for (int q = 0; q < k; q += 64) {
        __mmask64 mask = k - q >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (k - q)) - 1);
        __m512i v = _mm512_maskz_loadu_epi8(mask, a + q);
        if (is_signed)
            v = _mm512_maskz_mov_epi8(mask, _mm512_xor_si512(v, flip)); /* a + 128 */
        s = _mm512_add_epi64(s, _mm512_sad_epu8(v, zero));
    }
    uint64_t t = (uint64_t)_mm512_reduce_add_epi64(s);
    return (uint32_t)t - (is_signed ? 128u * (uint32_t)k : 0u);
}

#endif
