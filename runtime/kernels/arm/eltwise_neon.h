/* Elementwise int8 entries of the neon table (eltwise_neon.c), named by neon.c's table definition. */
#ifndef DETC_ELTWISE_NEON_H
#define DETC_ELTWISE_NEON_H

#include "kernels.h"

void detc_add_q8_neon(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b,
                      int b_step, uint8_t *out);
#ifdef __aarch64__
void detc_quantize_q8_neon(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out);
void detc_dequantize_q8_neon(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out);
void detc_wino_out_q8_neon(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride, uint8_t *const *out);
#endif

#endif
