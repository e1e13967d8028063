/* Winograd F(4x4, 3x3) for quantized stride-1 3x3 convs, with exact int16 transforms (matrices and tiles as in
 * conv2d_winograd.c). Used only where the model asks for it (conv2d attribute "winograd": "int16"): the filter
 * transform is rounded to int16, so the result approximates the direct int8 conv instead of equalling it.
 *
 * Input: d = x - x_zp in [dlo, dhi] = [qmin - x_zp, qmax - x_zp] (a span of 255 that holds 0; taps in the
 * padding read d = 0), t = B^T d B per 6x6 patch, in int16: B^T's row abs-sums are at most 10, so |t| <= 25500
 * (WINO_Q8_T_MAX) and the transform (the table's wino_in_s16) is exact. At position xi = (a, b), t is
 * sum c_yx d_yx with c = B^T[a] (x) B^T[b], so |t| <= T[xi] = max(sum_{c>0} c dhi + sum_{c<0} c dlo,
 * -(sum_{c>0} c dlo + sum_{c<0} c dhi)): 25500 at most, half that after a ReLU (d in [0, 255]), 4590 at the
 * smallest. The tighter bound leaves the filter more bits.
 * Filter, at init, in double: U[o][xi][i] = (G g G^T)[xi], g = w[o][:, :][i] - w_zp[o]. Per (o, xi) a scale
 *   sigma = max(L / Q, max_i |U| / 32767),  L = sum_i |U|,  Q = floor((2^31 - 1) / T[xi]) - Ci
 * (an all-zero row: sigma = 1) and Uq = round(U / sigma), int16. Then sum_i |Uq| <= L / sigma + Ci / 2 <= Q + Ci / 2,
 * so for every input |sum_i t * Uq| <= T[xi] * (Q + Ci / 2) < 2^31: the 36 int16 GEMMs (the table's gemm_s16)
 *   acc[xi][tile][o] = sum_i t[xi][tile][i] * Uq[o][xi][i]
 * are exact in int32 (tests/test_winograd_q8.c checks it with the worst-case input, |t| = T[xi] with the
 * weights' signs).
 * Output, in float, in a fixed order, by the table's wino_out_q8 in one pass per tile: m[xi] = (float)acc *
 * scale[xi][o] (scale = sigma * s_x * s_w[o], computed in double and rounded once), y = A^T m A + bias_f[o]
 * (wino_out_f32's arithmetic: A^T's constants are powers of two, so a contracted multiply-add rounds as the
 * separate multiply and add, and every table gives the same floats), q = clamp(round_half_away(y / s_out) +
 * out_zp) (quantize_q8's, exact) clamped to the activation's range. Tiles past the output's edge are not
 * stored. Against a float64 direct conv of the dequantized operands the bytes differ by at most 1 (measured;
 * tests/test_winograd_q8.c holds them to 2). */
#include "conv2d_winograd_q8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch of one block of tiles (transformed inputs, int16, and products, int32): T = budget / (36 * (2 Ci +
 * 4 Co)), at most a quarter of the conv's tiles (a small map still splits across threads), a multiple of 8 (the
 * AVX-512 GEMM's row block). */
#define WQ_BLOCK_BYTES (512u << 10)
#define WQ_MIN_TILES 8
#define WQ_MAX_TILES 144

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

void conv_wino_q8_release(conv_wino_q8 *w)
{
    for (int xi = 0; xi < WINO_N; xi++)
        free(w->packed[xi]);
    free(w->scale);
    free(w->bias);
    free(w->uq);
    memset(w, 0, sizeof *w);
}

/* round(v), halves away from zero, for |v| < 2^31 (lround's libm call dominated loading a model). */
static inline int32_t round_away(double v)
{
    int32_t t = (int32_t)v; /* toward zero, exact */
    double f = v - (double)t;
    return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
}

int32_t conv_wino_q8_t_bound(int xi, int32_t dlo, int32_t dhi)
{
    static const int bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                 {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    int32_t hi = 0, lo = 0; /* the largest and the smallest t over the box [dlo, dhi]^36 */
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++) {
            int32_t c = bt[xi / 6][y] * bt[xi % 6][x];
            hi += c * (c > 0 ? dhi : dlo);
            lo += c * (c > 0 ? dlo : dhi);
        }
    return hi > -lo ? hi : -lo;
}

/* sigma[xi] and Uq of output channel o at every xi, from its transformed filter u[xi][i]. */
static void quantize_row(conv_wino_q8 *w, int o, const double *u, double sigma_of[WINO_N])
{
    const int ci = w->ci;
    for (int xi = 0; xi < WINO_N; xi++) {
        const double q = (double)(INT32_MAX / w->t_max[xi] - ci);
        const double *ux = u + (size_t)xi * ci;
        double l = 0, mx = 0;
        for (int i = 0; i < ci; i++) {
            l += fabs(ux[i]);
            mx = fabs(ux[i]) > mx ? fabs(ux[i]) : mx;
        }
        double sigma = l / q > mx / 32767.0 ? l / q : mx / 32767.0;
        if (!(sigma > 0))
            sigma = 1.0;
        sigma_of[xi] = sigma;
        int16_t *dst = w->uq + ((size_t)xi * w->co + o) * ci;
        for (int i = 0; i < ci; i++)
            dst[i] = (int16_t)round_away(ux[i] / sigma);
    }
}

bool conv_wino_q8_init(conv_wino_q8 *w, const conv_wino_q8_spec *s, void *(*pack)(int, int, const int16_t *))
{
    memset(w, 0, sizeof *w);
    const int ci = s->ci, co = s->co;
    w->ci = ci;
    w->co = co;
    w->is_signed = s->is_signed;
    w->x_zp = s->x_zp;
    const int32_t qmin = s->is_signed ? -128 : 0;
    w->out = (detc_wino_q8_out_params){.channels = co,
                                       .out_scale = s->out_scale,
                                       .out_zp = s->out_zp,
                                       .q_lo = s->act_min > qmin ? s->act_min : qmin,
                                       .q_hi = s->act_max < qmin + 255 ? s->act_max : qmin + 255};
    for (int xi = 0; xi < WINO_N; xi++)
        w->t_max[xi] = conv_wino_q8_t_bound(xi, qmin - s->x_zp, qmin + 255 - s->x_zp);
    int64_t t = (int64_t)WQ_BLOCK_BYTES / ((int64_t)WINO_N * (2 * (int64_t)ci + 4 * (int64_t)co));
    int64_t quarter = (s->tiles + 3) / 4;
    quarter = (quarter + WQ_MIN_TILES - 1) / WQ_MIN_TILES * WQ_MIN_TILES;
    t = t < quarter ? t : quarter;
    t = t / WQ_MIN_TILES * WQ_MIN_TILES;
    w->tiles_per_block = (int)(t < WQ_MIN_TILES ? WQ_MIN_TILES : t > WQ_MAX_TILES ? WQ_MAX_TILES : t);
    size_t mat = (size_t)co * (size_t)ci;
    w->scale = malloc(sizeof(float) * WINO_N * (size_t)co);
    w->bias = malloc(sizeof(float) * (size_t)co);
    w->uq = malloc(sizeof(int16_t) * WINO_N * mat + 1);
    double *u = malloc(sizeof(double) * WINO_N * (size_t)ci);
    if (!w->scale || !w->bias || !w->uq || !u) {
        free(u);
        conv_wino_q8_release(w);
        return false;
    }
    w->out.scale = w->scale;
    w->out.bias = w->bias;
    for (int o = 0; o < co; o++) {
        for (int i = 0; i < ci; i++) {
            double g[3][3], ut[WINO_N];
            for (int k = 0; k < 9; k++) {
                uint8_t b = s->filter[((size_t)o * 9 + (size_t)k) * ci + i];
                g[k / 3][k % 3] = (double)((s->is_signed ? (int32_t)(int8_t)b : (int32_t)b) - s->w_zp[o]);
            }
            conv_wino_filter_transform(g, ut);
            for (int xi = 0; xi < WINO_N; xi++)
                u[(size_t)xi * ci + i] = ut[xi];
        }
        double sigma[WINO_N];
        quantize_row(w, o, u, sigma);
        double sxw = (double)s->x_scale * (double)s->w_scale[o];
        for (int xi = 0; xi < WINO_N; xi++)
            w->scale[(size_t)xi * co + o] = (float)(sigma[xi] * sxw);
        w->bias[o] = (float)((double)s->bias[o] * sxw);
    }
    free(u);
    for (int xi = 0; xi < WINO_N; xi++) {
        w->packed[xi] = pack(co, ci, w->uq + (size_t)xi * mat);
        if (!w->packed[xi]) {
            conv_wino_q8_release(w);
            return false;
        }
    }
    w->packed_by = pack;
    free(w->uq); /* the packed copies are what eval reads */
    w->uq = NULL;
    return true;
}

size_t conv_wino_q8_scratch_bytes(const conv_wino_q8 *w)
{
    const size_t T = (size_t)w->tiles_per_block;
    return align64((size_t)w->ci) + align64(WINO_N * wino_pos_stride(T * w->ci, sizeof(int16_t)) * sizeof(int16_t)) +
           align64(WINO_N * wino_pos_stride(T * w->co, sizeof(int32_t)) * sizeof(int32_t));
}

/* Tile i's 6x6 patch (in_pix: wino_tile_inputs's), less the zero point, transformed (the table's wino_in_s16)
 * into rows i of the block's t[xi] (T rows of Ci each); taps in the padding point at a row of the zero point
 * (d = 0). */
static void input_tile(const conv_wino_q8_job *j, int i, int16_t *v, size_t v_stride, const uint8_t *zp_row,
                       const int64_t *in_pix)
{
    const conv_wino_q8 *w = j->w;
    const int ci = w->ci;
    const uint8_t *taps[WINO_N];
    for (int p = 0; p < WINO_N; p++)
        taps[p] = in_pix[p] < 0 ? zp_row : j->x + (size_t)in_pix[p] * ci;
    j->kernels->wino_in_s16(ci, taps, w->x_zp, w->is_signed, v + (size_t)i * ci, v_stride);
}

/* Products of tile i (acc[xi][i][o]) to the tile's output pixels (out_pix; the table's wino_out_q8). */
static void output_tile(const conv_wino_q8_job *j, int i, const int32_t *acc, size_t acc_stride,
                        const int64_t *out_pix)
{
    const conv_wino_q8 *w = j->w;
    const int co = w->co;
    uint8_t *ys[WINO_TILE * WINO_TILE];
    for (int p = 0; p < WINO_TILE * WINO_TILE; p++)
        ys[p] = out_pix[p] < 0 ? NULL : j->out + (size_t)out_pix[p] * co;
    j->kernels->wino_out_q8(&w->out, acc + (size_t)i * co, acc_stride, ys);
}

void conv_wino_q8_run(const conv_wino_q8_job *j, int64_t t0, int64_t t1, void *scratch)
{
    const conv_wino_q8 *w = j->w;
    const int ci = w->ci, co = w->co, T = w->tiles_per_block;
    const size_t vs = wino_pos_stride((size_t)T * ci, sizeof(int16_t));
    const size_t as = wino_pos_stride((size_t)T * co, sizeof(int32_t));
    uint8_t *zp_row = scratch;
    int16_t *v = (int16_t *)(void *)((char *)scratch + align64((size_t)ci));
    int32_t *acc = (int32_t *)(void *)((char *)v + align64(WINO_N * vs * sizeof(int16_t)));
    memset(zp_row, (int)(uint8_t)w->x_zp, (size_t)ci);
    for (int64_t b0 = t0; b0 < t1; b0 += T) {
        int nt = (int)(t1 - b0 < T ? t1 - b0 : T);
        for (int i = 0; i < nt; i++) {
            int64_t in_pix[WINO_N];
            wino_tile_inputs(&j->g, b0 + i, in_pix);
            input_tile(j, i, v, vs, zp_row, in_pix);
        }
        for (int xi = 0; xi < WINO_N; xi++)
            j->kernels->gemm_s16(w->packed[xi], co, ci, nt, v + xi * vs, ci, acc + xi * as, co);
        for (int i = 0; i < nt; i++) {
            int64_t out_pix[WINO_TILE * WINO_TILE];
            wino_tile_outputs(&j->g, b0 + i, out_pix);
            output_tile(j, i, acc, as, out_pix);
        }
    }
}
