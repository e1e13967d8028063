/* The AVX2 dwconv_q8 entries (x86.c), to which the AVX-512 depthwise kernels (dw_q8_avx512.h) hand fewer than 16
 * channels or a channel that shifts left. */
#ifndef DETC_DW_Q8_X86_H
#define DETC_DW_Q8_X86_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

void detc_dwconv_q8_avx2(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out);
void detc_dwconv_q8_run_avx2(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                             uint8_t *out);

#endif
