/* conv_f32 entries of the x86 tables (conv_f32.c), named by x86.c's table definitions. */
#ifndef DETC_CONV_F32_X86_H
#define DETC_CONV_F32_X86_H

#include "kernels.h"

void *detc_conv_f32_pack_avx2(int n, int k, const float *w);
void detc_conv_f32_avx2(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo);
void *detc_conv_f32_pack_avx512(int n, int k, const float *w);
void detc_conv_f32_avx512(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo);

#endif
