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

void conv_wino_filter_transform(const double g[3][3], double u[WINO_N])
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
    size_t t = (size_t)w->tiles_per_block * WINO_N * sizeof(float);
    return align64((size_t)w->ci * sizeof(float)) + align64(t * (size_t)w->ci) + align64(t * (size_t)w->co);
}

/* Tile (n, ty, tx)'s 6x6 patch into V rows of the block (tile index i); taps in the padding read zeros. */
static void input_tile(const conv_wino_job *j, int n, int ty, int tx, int i, float *v, const float *zeros)
{
    const int ci = j->w->ci, T = j->w->tiles_per_block;
    const int iy0 = ty * WINO_TILE - j->g.pad_top, ix0 = tx * WINO_TILE - j->g.pad_left;
    const float *img = j->x + (size_t)n * j->g.in_h * j->g.in_w * ci;
    const float *taps[WINO_N];
    for (int y = 0; y < WINO_ALPHA; y++)
        for (int x = 0; x < WINO_ALPHA; x++) {
            int iy = iy0 + y, ix = ix0 + x;
            taps[y * WINO_ALPHA + x] = iy < 0 || iy >= j->g.in_h || ix < 0 || ix >= j->g.in_w
                                           ? zeros
                                           : img + ((size_t)iy * j->g.in_w + ix) * ci;
        }
    j->kernels->wino_in_f32(ci, taps, v + (size_t)i * ci, (size_t)T * ci);
}

/* Products of tile i into the output pixels inside it, with bias and clamp. */
static void output_tile(const conv_wino_job *j, int n, int ty, int tx, int i, const float *mm)
{
    const int co = j->w->co, T = j->w->tiles_per_block;
    const int oy0 = ty * WINO_TILE, ox0 = tx * WINO_TILE;
    float *img = j->out + (size_t)n * j->g.out_h * j->g.out_w * co;
    float *out[WINO_TILE * WINO_TILE];
    for (int r = 0; r < WINO_TILE; r++)
        for (int x = 0; x < WINO_TILE; x++)
            out[r * WINO_TILE + x] = oy0 + r < j->g.out_h && ox0 + x < j->g.out_w
                                         ? img + ((size_t)(oy0 + r) * j->g.out_w + ox0 + x) * co
                                         : NULL;
    j->kernels->wino_out_f32(co, mm + (size_t)i * co, (size_t)T * co, j->bias, j->act_lo, j->act_hi, out);
}

void conv_wino_run(const conv_wino_job *j, int64_t t0, int64_t t1, void *scratch)
{
    const conv_wino *w = j->w;
    const int ci = w->ci, co = w->co, T = w->tiles_per_block;
    const int64_t per_image = (int64_t)j->g.tiles_h * j->g.tiles_w;
    float *zeros = scratch;
    float *v = (float *)((char *)scratch + align64((size_t)ci * sizeof(float)));
    float *mm = (float *)((char *)v + align64((size_t)T * WINO_N * sizeof(float) * (size_t)ci));
    memset(zeros, 0, (size_t)ci * sizeof(float));
    const float inf = INFINITY;
    for (int64_t b0 = t0; b0 < t1; b0 += T) {
        int nt = (int)(t1 - b0 < T ? t1 - b0 : T);
        for (int i = 0; i < nt; i++) {
            int64_t t = b0 + i;
            int n = (int)(t / per_image), r = (int)(t % per_image);
            input_tile(j, n, r / j->g.tiles_w, r % j->g.tiles_w, i, v, zeros);
        }
        for (int xi = 0; xi < WINO_N; xi++) {
            const float *a = v + (size_t)xi * T * ci;
            float *o = mm + (size_t)xi * T * co;
            if (w->packed_by) {
                detc_conv_f32_params prm = {
                    .n = co, .k = ci, .packed = w->packed[xi], .bias = NULL, .act_lo = -inf, .act_hi = inf};
                j->kernels->conv_f32(&prm, nt, a, ci, o, co);
            } else {
                j->kernels->gemm_f32(nt, co, ci, a, ci, w->raw + (size_t)xi * co * ci, ci, o, co);
            }
        }
        for (int i = 0; i < nt; i++) {
            int64_t t = b0 + i;
            int n = (int)(t / per_image), r = (int)(t % per_image);
            output_tile(j, n, r / j->g.tiles_w, r % j->g.tiles_w, i, mm);
        }
    }
}
