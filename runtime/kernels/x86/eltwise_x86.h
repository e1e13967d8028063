/* Elementwise int8 entries of the x86 tables (eltwise_x86.c), named by x86.c's table definitions. */
#ifndef DETC_ELTWISE_X86_H
#define DETC_ELTWISE_X86_H

#include "kernels.h"

void detc_add_q8_avx2(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b,
                      int b_step, uint8_t *out);
void detc_quantize_q8_avx2(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out);
void detc_dequantize_q8_avx2(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out);
void detc_add_q8_avx512(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b,
                        int b_step, uint8_t *out);
void detc_quantize_q8_avx512(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out);
void detc_dequantize_q8_avx512(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out);
void detc_roi_sample_q8_avx2(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                             int is_signed, float scale, int32_t zp, const float w[4], float *o);
void detc_roi_sample_f32_avx2(int C, const float *p1, const float *p2, const float *p3, const float *p4,
                              const float w[4], float *o);
void detc_roi_sample_f32_avx512(int C, const float *p1, const float *p2, const float *p3, const float *p4,
                                const float w[4], float *o);
void detc_roi_sample_q8_avx512(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                               int is_signed, float scale, int32_t zp, const float w[4], float *o);

#endif
