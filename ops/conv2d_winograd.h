/* Winograd F(4x4, 3x3) for conv2d's stride-1, dilation-1 3x3 float convolutions (conv2d_winograd.c). */
#ifndef DETC_CONV2D_WINOGRAD_H
#define DETC_CONV2D_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define WINO_TILE 4   /* output pixels per tile side */
#define WINO_ALPHA 6  /* transformed tile side: WINO_TILE + 3 - 1 */
#define WINO_N 36     /* WINO_ALPHA^2 products per tile and channel pair */

typedef struct conv_wino {
    int ci, co;
    int tiles_per_block;            /* T: tiles whose products run as one GEMM per transform position */
    /* the 36 transformed filters U[xi] = (G g G^T)[xi], [co][ci] each: packed for `packed_by` (the table's
     * conv_f32, a SIMD variant) or, when packed_by is NULL, raw for any table's gemm_f32 */
    void *packed[WINO_N];
    void *(*packed_by)(int n, int k, const float *w);
    float *raw;                     /* [36][co][ci] when not packed */
} conv_wino;

/* u = G g G^T (row-major 6x6) in double: the filter transform both Winograd convs use. */
void conv_wino_filter_transform(const double g[3][3], double u[WINO_N]);

/* Transforms the OHWI [co][3][3][ci] filter of a conv with `tiles` output tiles (all images). pack: the
 * table's conv_f32_pack, or NULL for raw matrices. False when memory runs out (w is left empty). */
bool conv_wino_init(conv_wino *w, int ci, int co, int64_t tiles, const float *filter,
                    void *(*pack)(int, int, const float *));
void conv_wino_release(conv_wino *w);
/* Scratch bytes one part needs (transformed inputs and products of one block of tiles). */
size_t conv_wino_scratch_bytes(const conv_wino *w);

/* Where a conv's 4x4 output tiles lie (the float and the int8 Winograd both): input and output sizes, the
 * padding before the first row and column, and tiles per image (tiles past the output's edge are partial). */
typedef struct {
    int in_h, in_w, out_h, out_w, pad_top, pad_left;
    int tiles_h, tiles_w;
} wino_geom;

typedef struct {
    const conv_wino *w;
    const detc_kernels *kernels;
    wino_geom g;
    const float *x, *bias;         /* NHWC input; bias [co] or NULL */
    float act_lo, act_hi;
    float *out;                    /* NHWC output */
} conv_wino_job;

/* Output tiles [t0, t1) (numbered image by image, row by row) into job->out; scratch holds
 * conv_wino_scratch_bytes, 64-byte aligned. */
void conv_wino_run(const conv_wino_job *j, int64_t t0, int64_t t1, void *scratch);

#endif
