/* dwconv_f32 entries of the x86 tables (dw_f32_x86.c), named by x86.c's table definitions. */
#ifndef DETC_DW_F32_X86_H
#define DETC_DW_F32_X86_H

#include "kernels.h"

void detc_dwconv_f32_avx2(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out);
void detc_dwconv_f32_avx512(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out);
void detc_dwconv_f32_run_avx2(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                              float *out);
void detc_dwconv_f32_run_avx512(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                                float *out);

#endif
