/* wino_in_s16, gemm_s16 and wino_out_q8 entries of the x86 tables (wino_q8_x86.c), named by x86.c's table definitions. */
#ifndef DETC_WINO_Q8_X86_H
#define DETC_WINO_Q8_X86_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

void detc_wino_in_s16_avx512(int channels, const uint8_t *const *taps, int32_t zp, int is_signed, int16_t *v,
                             size_t stride);
void detc_wino_in_s16_avx2(int channels, const uint8_t *const *taps, int32_t zp, int is_signed, int16_t *v,
                           size_t stride);
void *detc_conv_s16_pack_avx512(int n, int k, const int16_t *w);
void detc_gemm_s16_avx512(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo);
void *detc_conv_s16_pack_avx2(int n, int k, const int16_t *w);
void detc_gemm_s16_avx2(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo);
void detc_wino_out_q8_avx512(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride,
                             uint8_t *const *out);
void detc_wino_out_q8_avx2(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride,
                           uint8_t *const *out);

#endif
