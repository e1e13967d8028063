/* Winograd F(4x4, 3x3) for quantized (u8/i8) stride-1 3x3 convs with exact int16 transforms
 * (conv2d_winograd_q8.c): what conv2d runs for a conv with attribute "winograd": "int16". */
#ifndef DETC_CONV2D_WINOGRAD_Q8_H
#define DETC_CONV2D_WINOGRAD_Q8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conv2d_winograd.h"
#include "kernels.h"

/* The bound every transformed input obeys: |t| <= 10 * 10 * 255 (B^T's row abs-sums are at most 10). */
#define WINO_Q8_T_MAX 25500

typedef struct conv_wino_q8 {
    int ci, co;
    int tiles_per_block;   /* T: tiles whose products run as one gemm_s16 per transform position */
    int is_signed;         /* 0: u8 input and output, 1: i8 */
    int32_t x_zp;
    detc_wino_q8_out_params out; /* the output stage's constants (scale, bias, the output's quantization) */
    int32_t t_max[WINO_N]; /* |t| at position xi never exceeds it (conv_wino_q8_t_bound of the input's range) */
    float *scale;          /* [36][co]: (float)(sigma[o][xi] * s_x * s_w[o]) */
    float *bias;           /* [co]: (float)(bias[o] * s_x * s_w[o]) */
    int16_t *uq;           /* [36][co][ci]: round(U / sigma), only while packing (NULL after init) */
    void *packed[WINO_N];  /* uq[xi] as packed_by lays it out */
    void *(*packed_by)(int n, int k, const int16_t *w);
} conv_wino_q8;

/* What conv_wino_q8_init needs of the conv's operands. */
typedef struct {
    int ci, co, is_signed;
    int64_t tiles;                 /* output tiles of all images: sizes the blocks */
    const uint8_t *filter;         /* OHWI [co][3][3][ci], u8 or i8 */
    const int32_t *w_zp;           /* [co] filter zero points (0 for i8) */
    const int32_t *bias;           /* [co] */
    float x_scale, out_scale;
    const float *w_scale;          /* [co] (a per-tensor scale repeated) */
    int32_t x_zp, out_zp, act_min, act_max;
} conv_wino_q8_spec;

/* The largest |t| at transform position xi (t = B^T d B) over inputs d in [dlo, dhi] (dlo <= 0 <= dhi). */
int32_t conv_wino_q8_t_bound(int xi, int32_t dlo, int32_t dhi);

/* Transforms and packs the filter for pack (a table's conv_s16_pack). False when memory runs out (w is left
 * empty). */
bool conv_wino_q8_init(conv_wino_q8 *w, const conv_wino_q8_spec *s, void *(*pack)(int, int, const int16_t *));
void conv_wino_q8_release(conv_wino_q8 *w);
size_t conv_wino_q8_scratch_bytes(const conv_wino_q8 *w);

typedef struct {
    const conv_wino_q8 *w;
    const detc_kernels *kernels;   /* its conv_s16_pack must be w->packed_by */
    wino_geom g;
    const uint8_t *x;              /* NHWC input */
    uint8_t *out;                  /* NHWC output */
} conv_wino_q8_job;

/* Output tiles [t0, t1) (as wino_tile_count numbers them); scratch holds conv_wino_q8_scratch_bytes,
 * 64-byte aligned. */
void conv_wino_q8_run(const conv_wino_q8_job *j, int64_t t0, int64_t t1, void *scratch);

#endif
