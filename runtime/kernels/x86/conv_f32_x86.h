/* conv_f32 entries of the x86 tables (conv_f32.c), named by x86.c's table definitions. */
#ifndef DETC_CONV_F32_X86_H
#define DETC_CONV_F32_X86_H

#include "kernels.h"

void *detc_conv_f32_pack_avx2(int n, int k, const float *w);
void detc_conv_f32_avx2(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo);
void *detc_conv_f32_pack_avx512(int n, int k, const float *w);
void detc_conv_f32_avx512(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo);

void detc_wino_in_f32_avx2(int channels, const float *const *taps, float *v, size_t stride);
void detc_wino_out_f32_avx2(int channels, const float *m, size_t stride, const float *bias, float act_lo, float act_hi,
                            float *const *out);
void detc_wino_in_f32_avx512(int channels, const float *const *taps, float *v, size_t stride);
void detc_wino_out_f32_avx512(int channels, const float *m, size_t stride, const float *bias, float act_lo,
                              float act_hi, float *const *out);

#endif
