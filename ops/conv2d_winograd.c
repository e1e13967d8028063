/* Winograd F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) for
 * stride-1 3x3 float convs: each 4x4 block of output pixels (a tile) comes from the 6x6 input patch d
 * around it as
 *     Y = A^T [ (G g G^T) . (B^T d B) ] A
 * per pair of input and output channels, summed over input channels: the sum over channels of the 36
 * element-wise products is, for each of the 36 transform positions xi, a GEMM of the transformed inputs
 * V[xi] (tiles x Ci) by the transformed filter U[xi] (Co x Ci), run through the kernel table's conv_f32
 * (packed once, at prepare) or gemm_f32. 36 multiplies per tile and channel pair instead of 144. The
 * transforms of inputs and products are the table's wino_in_f32 and wino_out_f32 (SIMD over channels).
 *
 * Interpolation points 0, 1, -1, 2, -2 and infinity:
 *   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;  0 -2 -1 2 1 0;  0 2 -1 -2 1 0;  0 4 0 -5 0 1]
 *   G   = [1/4 0 0;  -1/6 -1/6 -1/6;  -1/6 1/6 -1/6;  1/24 1/12 1/6;  1/24 -1/12 1/6;  0 0 1]
 *   A^T = [1 1 1 1 1 0;  0 1 -1 2 -2 0;  0 1 1 4 4 0;  0 1 -1 8 -8 1]
 * The filter transform is computed in double and rounded once, the others in float. The result differs from the direct sum by rounding only; tests/test_winograd.c measures it against a
 * float64 direct convolution (the bound it states is in ops/README.md). Tiles past the output's edge read
 * zeros and their extra pixels are not stored. */
#include "conv2d_winograd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch one block of tiles may use (transformed inputs and products): T = budget / (36*4*(Ci+Co)), at most
 * a quarter of the conv's tiles (so that a small map still splits across threads), a multiple of 12. */
#define WINO_BLOCK_BYTES (2u << 20)
#define WINO_MIN_TILES 12
#define WINO_MAX_TILES 144

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

bool conv_wino_init(conv_wino *w, int ci, int co, int64_t tiles, const float *filter,
                    void *(*pack)(int, int, const float *))
{
    memset(w, 0, sizeof *w);
    w->ci = ci;
    w->co = co;
    int64_t t = (int64_t)WINO_BLOCK_BYTES / ((int64_t)WINO_N * (int64_t)sizeof(float) * (ci + co));
    int64_t quarter = (tiles + 3) / 4; /* small maps: blocks small enough for a few parts */
    quarter = (quarter + WINO_MIN_TILES - 1) / WINO_MIN_TILES * WINO_MIN_TILES;
    t = t < quarter ? t : quarter;
    t = t / WINO_MIN_TILES * WINO_MIN_TILES;
    w->tiles_per_block = (int)(t < WINO_MIN_TILES ? WINO_MIN_TILES : t > WINO_MAX_TILES ? WINO_MAX_TILES : t);
    size_t mat = (size_t)co * (size_t)ci;
    float *u = malloc(WINO_N * mat * sizeof(float));
    if (!u)
        return false;
    for (int o = 0; o < co; o++)
        for (int i = 0; i < ci; i++) {
            double g[3][3], ut[WINO_N];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    g[ky][kx] = filter[(((size_t)o * 3 + ky) * 3 + kx) * ci + i];
            conv_wino_filter_transform(g, ut);
            for (int xi = 0; xi < WINO_N; xi++)
                u[(size_t)xi * mat + (size_t)o * ci + i] = (float)ut[xi];
        }
    if (!pack) {
        w->raw = u;
        return true;
    }
    for (int xi = 0; xi < WINO_N; xi++) {
        w->packed[xi] = pack(co, ci, u + (size_t)xi * mat);
        if (!w->packed[xi]) {
            free(u);
            conv_wino_release(w);
            return false;
        }
    }
    w->packed_by = pack;
    free(u);
    return true;
}

void conv_wino_release(conv_wino *w)
{
    for (int xi = 0; xi < WINO_N; xi++)
        free(w->packed[xi]);
    free(w->raw);
    memset(w, 0, sizeof *w);
}

size_t conv_wino_scratch_bytes(const conv_wino *w)
{
    const size_t T = (size_t)w->tiles_per_block;
    return align64((size_t)w->ci * sizeof(float)) + align64(WINO_N * wino_pos_stride(T * w->ci, 4) * sizeof(float)) +
           align64(WINO_N * wino_pos_stride(T * w->co, 4) * sizeof(float));
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Tiles of a canvas `cols` images wide (cells of (h + 1) x (w + 1), the last separator row and column left out). */
static int64_t canvas_tiles(int h, int w, int images, int cols, int *rows)
{
    *rows = (int)ceil_div(images, cols);
    return ceil_div((int64_t)*rows * (h + 1) - 1, WINO_TILE) * ceil_div((int64_t)cols * (w + 1) - 1, WINO_TILE);
}

wino_geom wino_geometry(int in_h, int in_w, int out_h, int out_w, int pad_top, int pad_left, int images)
{
    wino_geom g = {.in_h = in_h, .in_w = in_w, .out_h = out_h, .out_w = out_w, .pad_top = pad_top,
                   .pad_left = pad_left, .images = images,
                   .tiles_h = (int)ceil_div(out_h, WINO_TILE), .tiles_w = (int)ceil_div(out_w, WINO_TILE)};
    if (images < 2 || pad_top != 1 || pad_left != 1 || out_h != in_h || out_w != in_w)
        return g;
    int64_t best = (int64_t)images * g.tiles_h * g.tiles_w;
    for (int cols = 1; cols <= images; cols++) {
        int rows;
        int64_t t = canvas_tiles(out_h, out_w, images, cols, &rows);
        if (t < best) {
            best = t;
            g.canvas_cols = cols;
            g.canvas_rows = rows;
        }
    }
    if (g.canvas_cols) {
        g.tiles_h = (int)ceil_div((int64_t)g.canvas_rows * (out_h + 1) - 1, WINO_TILE);
        g.tiles_w = (int)ceil_div((int64_t)g.canvas_cols * (out_w + 1) - 1, WINO_TILE);
    }
    return g;
}

int64_t wino_tile_count(const wino_geom *g)
{
    return (int64_t)(g->canvas_cols ? 1 : g->images) * g->tiles_h * g->tiles_w;
}

/* Coordinate v along one axis of n consecutive positions from v0: where each lands among `len` pixels (at[k],
 * -1 in the padding or on a separator) and in which image row or column of the canvas (cell[k]). Without a
 * canvas (cells 0) the pixels are 0..len-1 of the image itself. */
static void map_axis(int64_t v0, int n, int len, int cells, int at[], int cell[])
{
    for (int k = 0; k < n; k++) {
        int64_t v = v0 + k;
        cell[k] = 0;
        if (!cells) {
            at[k] = v < 0 || v >= len ? -1 : (int)v;
            continue;
        }
        int64_t c = v < 0 ? -1 : v / (len + 1), in = v - c * (len + 1);
        at[k] = c < 0 || c >= cells || in == len ? -1 : (int)in;
        cell[k] = (int)c;
    }
}

/* The n x n pixels from (y0, x0) (of image `img`, or of the canvas) as indices among the images' h x w pixels. */
static void map_block(const wino_geom *g, int64_t img, int64_t y0, int64_t x0, int n, int h, int w, int64_t *pix)
{
    int ay[WINO_ALPHA], cy[WINO_ALPHA], ax[WINO_ALPHA], cx[WINO_ALPHA];
    map_axis(y0, n, h, g->canvas_rows, ay, cy);
    map_axis(x0, n, w, g->canvas_cols, ax, cx);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            int64_t im = g->canvas_cols ? (int64_t)cy[y] * g->canvas_cols + cx[x] : img;
            pix[y * n + x] = ay[y] < 0 || ax[x] < 0 || im >= g->images ? -1 : (im * h + ay[y]) * w + ax[x];
        }
}

/* Tile t's first output pixel (image n, or the canvas: n 0). */
static void tile_origin(const wino_geom *g, int64_t t, int64_t *n, int64_t *oy0, int64_t *ox0)
{
    const int64_t per_image = (int64_t)g->tiles_h * g->tiles_w, r = t % per_image;
    *n = g->canvas_cols ? 0 : t / per_image;
    *oy0 = r / g->tiles_w * WINO_TILE;
    *ox0 = r % g->tiles_w * WINO_TILE;
}

void wino_tile_inputs(const wino_geom *g, int64_t t, int64_t in_pix[WINO_N])
{
    int64_t n, oy0, ox0;
    tile_origin(g, t, &n, &oy0, &ox0);
    map_block(g, n, oy0 - g->pad_top, ox0 - g->pad_left, WINO_ALPHA, g->in_h, g->in_w, in_pix);
}

void wino_tile_outputs(const wino_geom *g, int64_t t, int64_t out_pix[WINO_TILE * WINO_TILE])
{
    int64_t n, oy0, ox0;
    tile_origin(g, t, &n, &oy0, &ox0);
    map_block(g, n, oy0, ox0, WINO_TILE, g->out_h, g->out_w, out_pix);
}

/* Tile t's 6x6 patch into V rows of the block (tile index i); taps in the padding read zeros. */
static void input_tile(const conv_wino_job *j, int i, float *v, size_t v_stride, const float *zeros,
                       const int64_t *in_pix)
{
    const int ci = j->w->ci;
    const float *taps[WINO_N];
    for (int p = 0; p < WINO_N; p++)
        taps[p] = in_pix[p] < 0 ? zeros : j->x + (size_t)in_pix[p] * ci;
    j->kernels->wino_in_f32(ci, taps, v + (size_t)i * ci, v_stride);
}

/* Products of tile i into the output pixels inside it, with bias and clamp. */
static void output_tile(const conv_wino_job *j, int i, const float *mm, size_t mm_stride, const int64_t *out_pix)
{
    const int co = j->w->co;
    float *out[WINO_TILE * WINO_TILE];
    for (int p = 0; p < WINO_TILE * WINO_TILE; p++)
        out[p] = out_pix[p] < 0 ? NULL : j->out + (size_t)out_pix[p] * co;
    j->kernels->wino_out_f32(co, mm + (size_t)i * co, mm_stride, j->bias, j->act_lo, j->act_hi, out);
}

void conv_wino_run(const conv_wino_job *j, int64_t t0, int64_t t1, void *scratch)
{
    const conv_wino *w = j->w;
    const int ci = w->ci, co = w->co, T = w->tiles_per_block;
    const size_t vs = wino_pos_stride((size_t)T * ci, sizeof(float)), ms = wino_pos_stride((size_t)T * co, sizeof(float));
    float *zeros = scratch;
    float *v = (float *)((char *)scratch + align64((size_t)ci * sizeof(float)));
    float *mm = (float *)((char *)v + align64(WINO_N * vs * sizeof(float)));
    memset(zeros, 0, (size_t)ci * sizeof(float));
    const float inf = INFINITY;
    for (int64_t b0 = t0; b0 < t1; b0 += T) {
        int nt = (int)(t1 - b0 < T ? t1 - b0 : T);
        for (int i = 0; i < nt; i++) {
            int64_t in_pix[WINO_N];
            wino_tile_inputs(&j->g, b0 + i, in_pix);
            input_tile(j, i, v, vs, zeros, in_pix);
        }
        for (int xi = 0; xi < WINO_N; xi++) {
            const float *a = v + xi * vs;
            float *o = mm + xi * ms;
            if (w->packed_by) {
                detc_conv_f32_params prm = {
                    .n = co, .k = ci, .packed = w->packed[xi], .bias = NULL, .act_lo = -inf, .act_hi = inf};
                j->kernels->conv_f32(&prm, nt, a, ci, o, co);
            } else {
                j->kernels->gemm_f32(nt, co, ci, a, ci, w->raw + (size_t)xi * co * ci, ci, o, co);
            }
        }
        for (int i = 0; i < nt; i++) {
            int64_t out_pix[WINO_TILE * WINO_TILE];
            wino_tile_outputs(&j->g, b0 + i, out_pix);
            output_tile(j, i, mm, ms, out_pix);
        }
    }
}
