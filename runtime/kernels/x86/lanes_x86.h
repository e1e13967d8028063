/* The AVX2 lane mask the x86 kernels use for a vector's live part (conv_f32.c's GEMM and Winograd transforms,
 * wino_q8_x86.c's int16 GEMM and int8 output stage): AVX2's masked loads and stores take a vector of lanes. */
#ifndef DETC_LANES_X86_H
#define DETC_LANES_X86_H

#include <immintrin.h>

/* The first `live` of 8 int32 lanes set (all of them from 8, none below 1). */
__attribute__((always_inline, target("avx2"))) static inline __m256i detc_lanes8_avx2(int live)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(live < 0 ? 0 : live > 8 ? 8 : live), idx);
}

#endif
