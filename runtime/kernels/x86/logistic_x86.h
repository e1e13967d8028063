/* logistic_f32 entries of the x86 tables (logistic_x86.c), named by x86.c's table definitions. */
#ifndef DETC_LOGISTIC_X86_H
#define DETC_LOGISTIC_X86_H

void detc_logistic_f32_avx2(long n, const float *x, float *y);
void detc_logistic_f32_avx512(long n, const float *x, float *y);

#endif
