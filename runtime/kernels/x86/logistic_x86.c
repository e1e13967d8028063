/* logistic_f32 for the x86 tables: y = 1 / (1 + e) with e = exp(-x), 8 (AVX2 + FMA) or 16 (AVX-512F)
 * lanes at a time. exp(t) = 2^k * p(r): k = round(t / ln 2), r = t - k ln 2 in two parts (|r| <= ln2 / 2,
 * exact to about 2^-35 with FMA), p the Taylor polynomial of degree 7 (its remainder r^8 / 8! is below
 * 6e-9 relative), 2^k built in the exponent field. t is clamped to [-87, 88] so that k stays a normal
 * exponent: beyond that the sigmoid is 1 (to float precision) or below 1e-37, which the clamp keeps within
 * the stated bound. The divide is IEEE. Tail elements go through a masked (AVX-512) or a padded copy
 * (AVX2). A NaN input gives NaN. */
#include <immintrin.h>

#include "logistic_x86.h"

#define AVX2FMA __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

/* Taylor coefficients 1/j! for j = 2..7, and ln 2 split so that k * LN2_HI is exact for |k| < 2^8. */
#define C2 0.5f
#define C3 (1.0f / 6.0f)
#define C4 (1.0f / 24.0f)
#define C5 (1.0f / 120.0f)
#define C6 (1.0f / 720.0f)
#define C7 (1.0f / 5040.0f)
#define LN2_HI 0.693145751953125f    /* 0x1.62e4p-1: 15 significant bits */
#define LN2_LO 1.428606765330187e-06f /* ln 2 - LN2_HI */
#define LOG2E 1.44269504088896341f

AVX2FMA static inline __m256 sigmoid8(__m256 x)
{
    __m256 t = _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), x), _mm256_set1_ps(-87.0f)),
                             _mm256_set1_ps(88.0f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), t);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(C7);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    __m256 y = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    /* min/max dropped a NaN: put it back */
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

AVX2FMA void detc_logistic_f32_avx2(long n, const float *x, float *y)
{
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, sigmoid8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float buf[8] = {0};
        for (long j = i; j < n; j++)
            buf[j - i] = x[j];
        _mm256_storeu_ps(buf, sigmoid8(_mm256_loadu_ps(buf)));
        for (long j = i; j < n; j++)
            y[j] = buf[j - i];
    }
}

AVX512 static inline __m512 sigmoid16(__m512 x)
{
    __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), x), _mm512_set1_ps(-87.0f)),
                             _mm512_set1_ps(88.0f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_HI), t);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(C7);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    __m512 e = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
    __m512 y = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

AVX512 void detc_logistic_f32_avx512(long n, const float *x, float *y)
{
    long i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, sigmoid16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, sigmoid16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
