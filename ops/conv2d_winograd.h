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

/* Elements from one transform position's rows to the next in a block's scratch (n of elem bytes each): 64
 * bytes more than n, so that the 36 positions' rows do not all fall in the same L1 sets when n is a power of
 * two (the int8 output stage, which reads a vector of each of the 36, ran 1.6x slower so). */
static inline size_t wino_pos_stride(size_t n, size_t elem)
{
    return n + 64 / elem;
}

/* u = G g G^T (row-major 6x6) in double: the filter transform both Winograd convs use. Inline, so that the
 * loops over a filter's channels see G's zeros and constants (a called function took a third of loading an f32
 * R50-FPN). */
static inline void conv_wino_filter_transform(const double g[3][3], double u[WINO_N])
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    double tmp[6][3];
    for (int a = 0; a < 6; a++) /* G g */
        for (int kx = 0; kx < 3; kx++)
            tmp[a][kx] = G[a][0] * g[0][kx] + G[a][1] * g[1][kx] + G[a][2] * g[2][kx];
    for (int a = 0; a < 6; a++) /* (G g) G^T */
        for (int b = 0; b < 6; b++)
            u[a * 6 + b] = tmp[a][0] * G[b][0] + tmp[a][1] * G[b][1] + tmp[a][2] * G[b][2];
}

/* Transforms the OHWI [co][3][3][ci] filter of a conv with `tiles` output tiles (all images). pack: the
 * table's conv_f32_pack, or NULL for raw matrices. False when memory runs out (w is left empty). */
bool conv_wino_init(conv_wino *w, int ci, int co, int64_t tiles, const float *filter,
                    void *(*pack)(int, int, const float *));
void conv_wino_release(conv_wino *w);
/* Scratch bytes one part needs (transformed inputs and products of one block of tiles). */
size_t conv_wino_scratch_bytes(const conv_wino *w);

/* Where a conv's 4x4 output tiles lie (the float and the int8 Winograd both), over its first `images` images.
 * Each image is tiled on its own (tiles past its edge are partial), or, for a "same" conv (padding 1 all round,
 * output size = input size) of several small images such as the mask head's 100 ROIs of 14x14, the images sit
 * side by side on one canvas, canvas_cols to a row, in cells of (H + 1) x (W + 1) pixels: the extra row and
 * column of each cell are a separator that reads as padding and is not stored, which is all the padding a 3x3
 * window needs on either side, so every output equals the image's own. 100 ROIs of 14x14: 1444 tiles instead
 * of 1600 (85% of the computed pixels used instead of 77%). wino_geometry picks whichever needs fewer tiles. */
typedef struct {
    int in_h, in_w, out_h, out_w, pad_top, pad_left;
    int images;
    int canvas_cols, canvas_rows; /* 0, 0: each image tiled on its own */
    int tiles_h, tiles_w;         /* per image, or of the canvas */
} wino_geom;

/* The tiling of `images` images of a stride-1 3x3 conv (input in_h x in_w, output out_h x out_w, padding
 * pad_top and pad_left before the first row and column). */
wino_geom wino_geometry(int in_h, int in_w, int out_h, int out_w, int pad_top, int pad_left, int images);
/* All the tiles: numbered image by image (or over the canvas), row by row. */
int64_t wino_tile_count(const wino_geom *g);
/* Tile t's 6x6 input patch (in_pix[p], p row-major: the input pixel's index n*in_h*in_w + y*in_w + x, or -1 in
 * the padding or on a separator) and its 4x4 output pixels (out_pix, likewise over the output; -1 past the
 * edge or on a separator). */
void wino_tile_inputs(const wino_geom *g, int64_t t, int64_t in_pix[WINO_N]);
void wino_tile_outputs(const wino_geom *g, int64_t t, int64_t out_pix[WINO_TILE * WINO_TILE]);

typedef struct {
    const conv_wino *w;
    const detc_kernels *kernels;
    wino_geom g;
    const float *x, *bias;         /* NHWC input; bias [co] or NULL */
    float act_lo, act_hi;
    float *out;                    /* NHWC output */
} conv_wino_job;

/* Output tiles [t0, t1) (as wino_tile_count numbers them) into job->out; scratch holds
 * conv_wino_scratch_bytes, 64-byte aligned. */
void conv_wino_run(const conv_wino_job *j, int64_t t0, int64_t t1, void *scratch);

#endif
