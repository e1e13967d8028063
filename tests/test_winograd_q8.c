/* conv2d's int8 Winograd path (attribute "winograd": "int16", ops/conv2d_winograd_q8.c) against
 *  (1) a reference of the defined arithmetic computed here (its own B^T, G and A^T; integers in int64, the
 *      float steps in the op's order): integer parts exact (every |acc| < 2^31 is checked), the output bytes
 *      equal, or 1 apart only where y / s_out lies within 1e-3 of a rounding tie;
 *  (2) a float64 direct convolution of the dequantized operands, rounded to the output's grid: at most
 *      WQ_LSB_BOUND apart (the filter transform is rounded to int16, so this path approximates the direct sum;
 *      the direct int8 path is held to 1 here on the same cases, and the worst differences are printed);
 *  (3) the overflow bound: for every (o, xi) of extreme filters (all +-127, and 2000 input channels),
 *      25500 * sum_i |Uq| <= 2^31 - 1 (and is reached), and gemm_s16 on the worst-case input (|t| = 25500 with the weights'
 *      signs) returns that sum exactly; and the op on inputs at the ends of the zero point's range;
 *  (4) i8 and u8 (u8 filters with a zero point), padding same / valid / asymmetric, sizes off the 4x4 tile,
 *      batch 3 with a row count, relu and none, threads 1 and 2, the portable table and the best one.
 * And attribute validation: on an f32, strided, dilated or 1x1 conv, or with another value, it is an error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conv2d_winograd_q8.h"
#include "op_harness.h"
#include "wino_ref.h"

/* max |q_winograd - q_exact| (LSB of the output) against the float64 direct conv: measured worst 1 on these
 * cases (random data, outputs spanning the int8 range); 2 leaves room for other seeds. */
#define WQ_LSB_BOUND 2

static uint32_t rng = 11;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static const double G[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                               {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};

typedef struct {
    int n, rows, h, w, ci, co, pt, pl, pb, pr, is_signed, relu;
    int x_extreme; /* inputs at the ends of the zero point's range (|d| up to 255), filters at +-127 */
} qcase;

static double round_away(double v)
{
    return v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The defined arithmetic's filter side for output channel o: sigma[xi] and Uq[xi][i]. */
static void ref_filter(const qcase *t, const int *g, int o, int32_t x_zp, double *sigma, int32_t *uq)
{
    const int qlo = t->is_signed ? -128 : 0;
    const int ci = t->ci;
    double *u = malloc(sizeof(double) * 36 * (size_t)ci);
    for (int i = 0; i < ci; i++) {
        double gg[3][3], tmp[6][3];
        for (int k = 0; k < 9; k++)
            gg[k / 3][k % 3] = g[((size_t)o * 9 + k) * ci + i];
        for (int a = 0; a < 6; a++)
            for (int x = 0; x < 3; x++)
                tmp[a][x] = G[a][0] * gg[0][x] + G[a][1] * gg[1][x] + G[a][2] * gg[2][x];
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
                u[(size_t)(a * 6 + b) * ci + i] = tmp[a][0] * G[b][0] + tmp[a][1] * G[b][1] + tmp[a][2] * G[b][2];
    }
    for (int xi = 0; xi < 36; xi++) {
        double q = (double)(2147483647 / wino_ref_t_bound(xi, qlo - x_zp, qlo + 255 - x_zp) - ci);
        double l = 0, mx = 0;
        for (int i = 0; i < ci; i++) {
            l += fabs(u[(size_t)xi * ci + i]);
            mx = fmax(mx, fabs(u[(size_t)xi * ci + i]));
        }
        double s = fmax(l / q, mx / 32767.0);
        sigma[xi] = s > 0 ? s : 1.0;
        for (int i = 0; i < ci; i++)
            uq[(size_t)xi * ci + i] = (int32_t)round_away(u[(size_t)xi * ci + i] / sigma[xi]);
    }
    free(u);
}

/* A^T m A as the op computes it (conv2d_winograd.c's order: s12, d12, s34, d34 per column, then per row). */
static void ref_at(const float m[36], float y[16])
{
    float t[4][6];
    for (int x = 0; x < 6; x++) {
        float m0 = m[0 * 6 + x], m1 = m[6 + x], m2 = m[12 + x], m3 = m[18 + x], m4 = m[24 + x], m5 = m[30 + x];
        float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        t[0][x] = m0 + s12 + s34;
        t[1][x] = d12 + 2.0f * d34;
        t[2][x] = s12 + 4.0f * s34;
        t[3][x] = d12 + 8.0f * d34 + m5;
    }
    for (int r = 0; r < 4; r++) {
        const float *a = t[r];
        float s12 = a[1] + a[2], d12 = a[1] - a[2], s34 = a[3] + a[4], d34 = a[3] - a[4];
        y[r * 4 + 0] = a[0] + s12 + s34;
        y[r * 4 + 1] = d12 + 2.0f * d34;
        y[r * 4 + 2] = s12 + 4.0f * s34;
        y[r * 4 + 3] = d12 + 8.0f * d34 + a[5];
    }
}

static int worst_exact_direct, worst_exact_wino, tie_diffs, overflow_seen, canvases_seen;

/* The planes the op tiles (conv2d_winograd.h): each image, or, for a padding-1 "same" conv of 2 or more images,
 * one canvas of cells (h + 1) x (w + 1), cols to a row, whenever that needs fewer 4x4 tiles (the fewest, and of
 * equal counts the fewest columns). */
typedef struct {
    int cols, crows;       /* 0, 0: no canvas */
    int planes, ph, pw;    /* planes and their size (the output grid's) */
} tiling;

static tiling ref_tiling(const qcase *t, int OH, int OW)
{
    tiling r = {0, 0, t->n, OH, OW};
    if (t->rows < 2 || t->pt != 1 || t->pl != 1 || t->pb != 1 || t->pr != 1)
        return r;
    long best = (long)t->rows * ((OH + 3) / 4) * ((OW + 3) / 4);
    for (int cols = 1; cols <= t->rows; cols++) {
        int crows = (t->rows + cols - 1) / cols;
        int ch = crows * (t->h + 1) - 1, cw = cols * (t->w + 1) - 1;
        long tiles = (long)((ch + 3) / 4) * ((cw + 3) / 4);
        if (tiles < best) {
            best = tiles;
            r = (tiling){cols, crows, 1, ch, cw};
        }
    }
    return r;
}

/* Plane pixel (y, x) of plane `plane` as an image pixel (n, iy, ix) of h x w images: false in the padding, on a
 * separator or past the `rows` images on the canvas. */
static bool ref_plane_pixel(const tiling *tl, int rows, int h, int w, int plane, int y, int x, int *n, int *iy,
                            int *ix)
{
    if (!tl->cols) {
        *n = plane, *iy = y, *ix = x;
        return y >= 0 && y < h && x >= 0 && x < w;
    }
    if (y < 0 || x < 0 || y % (h + 1) == h || x % (w + 1) == w)
        return false;
    *n = y / (h + 1) * tl->cols + x / (w + 1), *iy = y % (h + 1), *ix = x % (w + 1);
    return y / (h + 1) < tl->crows && x / (w + 1) < tl->cols && *n < rows;
}

static void run_case(const qcase *t)
{
    const int OH = t->h + t->pt + t->pb - 2, OW = t->w + t->pl + t->pr - 2, ci = t->ci, co = t->co;
    const int qlo = t->is_signed ? -128 : 0, qhi = t->is_signed ? 127 : 255;
    size_t nx = (size_t)t->n * t->h * t->w * ci, nw = (size_t)co * 9 * ci, no = (size_t)t->n * OH * OW * co;
    uint8_t *x = malloc(nx), *w = malloc(nw);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)co), *w_zp = malloc(sizeof(int32_t) * (size_t)co);
    int *g = malloc(sizeof(int) * nw);
    float *w_scale = malloc(sizeof(float) * (size_t)co), *b_scale = malloc(sizeof(float) * (size_t)co);
    uint8_t *ref_a = malloc(no), *ref_b = malloc(no);
    double *ref_y = malloc(sizeof(double) * no);
    const int32_t x_zp = t->x_extreme ? (t->is_signed ? -128 : 255) : qlo + 100 + (int32_t)(next() % 40);
    const float x_scale = 0.02f + 0.001f * (float)(next() % 10);
    for (size_t i = 0; i < nx; i++)
        x[i] = t->x_extreme ? (uint8_t)(next() % 2 ? (t->is_signed ? 127 : 0) : x_zp) : (uint8_t)(qlo + (int)(next() % 256));
    const int32_t wz = t->is_signed ? 0 : 120 + (int32_t)(next() % 10);
    for (int o = 0; o < co; o++) {
        w_zp[o] = wz;
        w_scale[o] = t->is_signed ? 0.002f + 0.0005f * (float)(next() % 8) : 0.003f;
        b_scale[o] = x_scale * w_scale[o];
        bias[o] = (int32_t)(next() % 20001) - 10000;
    }
    for (size_t i = 0; i < nw; i++) {
        int v = t->x_extreme ? (next() % 2 ? 127 : -127) : (int)(next() % 256) - 128;
        if (!t->is_signed)
            v = clampi(v + wz, 0, 255);
        w[i] = (uint8_t)(t->is_signed ? (uint8_t)(int8_t)v : (uint8_t)v);
        g[i] = (t->is_signed ? (int)(int8_t)w[i] : (int)w[i]) - wz;
    }
    /* the output scale: the float64 outputs' spread over about 200 steps */
    double ymax = 0;
    for (int n = 0; n < t->n; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int o = 0; o < co; o++) {
                    int64_t acc = 0;
                    for (int k = 0; k < 9; k++) {
                        int iy = oy - t->pt + k / 3, ix = ox - t->pl + k % 3;
                        if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w)
                            continue;
                        const uint8_t *xp = x + (((size_t)n * t->h + iy) * t->w + ix) * ci;
                        for (int c = 0; c < ci; c++)
                            acc += (int64_t)((t->is_signed ? (int)(int8_t)xp[c] : (int)xp[c]) - x_zp) *
                                   g[((size_t)o * 9 + k) * ci + c];
                    }
                    double y = ((double)acc + bias[o]) * (double)x_scale * (double)w_scale[o];
                    size_t i = (((size_t)n * OH + oy) * OW + ox) * co + o;
                    ref_y[i] = y;
                    ymax = fmax(ymax, fabs(y));
                }
    const float out_scale = (float)(ymax / 100.0 > 0 ? ymax / 100.0 : 1.0);
    const int32_t out_zp = t->is_signed ? -3 : 128;
    const int act_min = t->relu ? out_zp : qlo, act_max = qhi;
    for (size_t i = 0; i < no; i++) /* (2): the float64 direct conv on the output grid */
        ref_b[i] = (uint8_t)clampi((int)round_away(ref_y[i] / out_scale) + out_zp, act_min, act_max);
    /* (1): the defined arithmetic, tile by tile */
    double *sigma = malloc(sizeof(double) * 36 * (size_t)co);
    int32_t *uq = malloc(sizeof(int32_t) * 36 * (size_t)co * ci);
    for (int o = 0; o < co; o++)
        ref_filter(t, g, o, x_zp, sigma + (size_t)o * 36, uq + (size_t)o * 36 * ci);
    int64_t *tr = malloc(sizeof(int64_t) * 36 * (size_t)ci);
    bool *tie = calloc(no, sizeof(bool));
    const tiling tl = ref_tiling(t, OH, OW);
    canvases_seen += tl.cols > 0;
    for (int plane = 0; plane < tl.planes; plane++)
        for (int ty = 0; ty < (tl.ph + 3) / 4; ty++)
            for (int tx = 0; tx < (tl.pw + 3) / 4; tx++) {
                for (int c = 0; c < ci; c++) {
                    int64_t d[6][6], tt[36];
                    for (int y = 0; y < 6; y++)
                        for (int xx = 0; xx < 6; xx++) {
                            int n, iy, ix;
                            d[y][xx] = 0;
                            if (ref_plane_pixel(&tl, t->rows, t->h, t->w, plane, ty * 4 - t->pt + y,
                                                tx * 4 - t->pl + xx, &n, &iy, &ix)) {
                                uint8_t b = x[(((size_t)n * t->h + iy) * t->w + ix) * ci + c];
                                d[y][xx] = (t->is_signed ? (int)(int8_t)b : (int)b) - x_zp;
                            }
                        }
                    wino_ref_input(d, tt);
                    for (int xi = 0; xi < 36; xi++)
                        tr[(size_t)xi * ci + c] = tt[xi];
                }
                for (int o = 0; o < co; o++) {
                    float m[36], y[16];
                    double sxw = (double)x_scale * (double)w_scale[o];
                    for (int xi = 0; xi < 36; xi++) {
                        int64_t acc = 0;
                        for (int c = 0; c < ci; c++)
                            acc += tr[(size_t)xi * ci + c] * uq[((size_t)o * 36 + xi) * ci + c];
                        if (acc > 2147483647 || acc < -2147483647)
                            overflow_seen++;
                        m[xi] = (float)acc * (float)(sigma[(size_t)o * 36 + xi] * sxw);
                    }
                    ref_at(m, y);
                    float bf = (float)((double)bias[o] * sxw);
                    for (int p = 0; p < 16; p++) {
                        int n, oy, ox;
                        if (!ref_plane_pixel(&tl, t->rows, OH, OW, plane, ty * 4 + p / 4, tx * 4 + p % 4, &n, &oy,
                                             &ox))
                            continue;
                        float v = y[p] + bf;
                        float qv = v / out_scale;
                        size_t i = (((size_t)n * OH + oy) * OW + ox) * co + o;
                        ref_a[i] = (uint8_t)clampi((int)round_away(qv) + out_zp, act_min, act_max);
                        tie[i] = fabs(fabs(qv - floor(qv)) - 0.5) < 1e-3;
                    }
                }
            }
    int rows = t->rows;
    for (size_t i = (size_t)rows * OH * OW * co; i < no; i++) /* rows past the count: the zero point */
        ref_a[i] = ref_b[i] = (uint8_t)out_zp;
    char attrs[200];
    const int32_t xd[4] = {t->n, t->h, t->w, ci}, wd[4] = {co, 3, 3, ci}, bd[1] = {co}, cd[1] = {1};
    for (int wino = 0; wino < 2; wino++)
        for (int threads = 1; threads <= 2; threads++)
            for (int best = 0; best < 2; best++) {
                snprintf(attrs, sizeof attrs, "{\"padding\": [%d, %d, %d, %d], \"activation\": \"%s\"%s}", t->pt,
                         t->pl, t->pb, t->pr, t->relu ? "relu" : "none", wino ? ", \"winograd\": \"int16\"" : "");
                oh_case c;
                oh_init(&c, "conv2d", attrs);
                c.kernels = best ? NULL : "portable";
                detc_dtype dt = t->is_signed ? DETC_I8 : DETC_U8;
                int xi = oh_input(&c, dt, 4, xd, x, false), wi = oh_input(&c, dt, 4, wd, w, true);
                int bi = oh_input(&c, DETC_I32, 1, bd, bias, true);
                if (rows < t->n)
                    oh_input(&c, DETC_I32, 1, cd, &rows, false);
                int to = oh_output(&c, dt);
                oh_quant1(&c, xi, x_scale, x_zp);
                int32_t zeros[1024] = {0};
                if (t->is_signed) {
                    oh_quant(&c, wi, co, 0, w_scale, zeros);
                    oh_quant(&c, bi, co, 0, b_scale, zeros);
                } else {
                    oh_quant1(&c, wi, w_scale[0], wz);
                    oh_quant1(&c, bi, b_scale[0], 0);
                }
                oh_quant1(&c, to, out_scale, out_zp);
                bool ok = oh_prepare(&c);
                if (!ok)
                    oh_print_errors(&c);
                int bad = -1, worst = 0;
                if (ok && oh_eval(&c, threads) == DETC_OK) {
                    const uint8_t *got = oh_data(&c, to);
                    bad = 0;
                    for (size_t i = 0; i < no; i++) {
                        int q = t->is_signed ? (int)(int8_t)got[i] : (int)got[i];
                        int qa = t->is_signed ? (int)(int8_t)ref_a[i] : (int)ref_a[i];
                        int qb = t->is_signed ? (int)(int8_t)ref_b[i] : (int)ref_b[i];
                        int e = abs(q - qb);
                        worst = e > worst ? e : worst;
                        if (wino) {
                            bool near = abs(q - qa) == 1 && tie[i];
                            tie_diffs += near;
                            bad += (q != qa && !near) || e > WQ_LSB_BOUND;
                        } else {
                            bad += e > 1;
                        }
                    }
                    int *w_worst = wino ? &worst_exact_wino : &worst_exact_direct;
                    *w_worst = worst > *w_worst ? worst : *w_worst;
                }
                CHECK(bad == 0,
                      "conv2d 3x3 %s %s: %dx%dx%dx%d (%d rows) -> %d, pads %d %d %d %d%s%s, %d thread(s), %s kernels: "
                      "%d wrong of %zu (worst %d LSB from float64)",
                      t->is_signed ? "i8" : "u8", wino ? "Winograd int16" : "direct", t->n, t->h, t->w, ci, rows, co,
                      t->pt, t->pl, t->pb, t->pr, t->relu ? ", relu" : "", t->x_extreme ? ", extreme values" : "",
                      threads, best ? "best" : "portable", bad, no, worst);
                oh_free(&c);
            }
    free(x);
    free(w);
    free(bias);
    free(w_zp);
    free(g);
    free(w_scale);
    free(b_scale);
    free(ref_a);
    free(ref_b);
    free(ref_y);
    free(sigma);
    free(uq);
    free(tr);
    free(tie);
}

/* (3) The bound on the op's own transformed filters (conv_wino_q8_init, packed by the portable table: its
 * packed form is the [Co][Ci] matrix Uq[xi] as it is) for filters of all +-127 (signs random) and of one
 * sign, i8 input with zero point x_zp: with T = wino_ref_t_bound(xi) over the input's range, T * sum_i |Uq| <=
 * 2^31 - 1 for every (o, xi), and some reaching T * (Q - Ci / 2); and gemm_s16 of every table on the worst-case
 * input |t| = T with the weights' signs returns the int64 sum. x_zp = -128 is a ReLU's range (d in [0, 255]). */
static void check_bound(int ci, int co, int one_sign, int32_t x_zp)
{
    size_t nw = (size_t)co * 9 * ci;
    uint8_t *f = malloc(nw);
    for (size_t i = 0; i < nw; i++)
        f[i] = (uint8_t)(int8_t)(one_sign || next() % 2 ? 127 : -127);
    int32_t *zp = calloc((size_t)co, sizeof(int32_t)), *bias = calloc((size_t)co, sizeof(int32_t));
    float *ws = malloc(sizeof(float) * (size_t)co);
    for (int o = 0; o < co; o++)
        ws[o] = 0.01f;
    conv_wino_q8_spec s = {.ci = ci, .co = co, .is_signed = 1, .tiles = 64, .filter = f, .w_zp = zp, .bias = bias,
                           .x_scale = 0.1f, .out_scale = 0.1f, .w_scale = ws, .x_zp = x_zp, .act_min = -128,
                           .act_max = 127};
    conv_wino_q8 w;
    bool ok = conv_wino_q8_init(&w, &s, detc_kernels_portable.conv_s16_pack);
    CHECK(ok, "conv_wino_q8_init (Ci %d, Co %d)", ci, co);
    if (!ok)
        return;
    static const char *tables[] = {"portable", "avx2", "avx512vnni", "neon", "auto"};
    int16_t *a = malloc(sizeof(int16_t) * (size_t)ci);
    int32_t *out = malloc(sizeof(int32_t) * (size_t)co);
    int over = 0, wrong = 0, reached = 0;
    for (int xi = 0; xi < 36; xi++) {
        const int16_t *uq = w.packed[xi];
        const int64_t tb = wino_ref_t_bound(xi, -128 - x_zp, 127 - x_zp), q = 2147483647 / tb - ci;
        int64_t highest = 0;
        int full = 0; /* a row whose largest |Uq| is 32767: there the int16 range, not the sum, set sigma */
        for (int o = 0; o < co; o++) {
            int64_t sum = 0;
            for (int i = 0; i < ci; i++) {
                sum += tb * (int64_t)abs(uq[(size_t)o * ci + i]);
                full |= abs(uq[(size_t)o * ci + i]) == 32767;
            }
            over += sum > 2147483647;
            highest = sum > highest ? sum : highest;
            if (o != xi % co)
                continue;
            for (int i = 0; i < ci; i++)
                a[i] = (int16_t)(uq[(size_t)o * ci + i] < 0 ? -tb : tb);
            for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
                const detc_kernels *kt = detc_kernels_select(tables[k]);
                if (!kt)
                    continue;
                void *packed = kt->conv_s16_pack(co, ci, uq);
                kt->gemm_s16(packed, co, ci, 1, a, ci, out, co);
                wrong += out[o] != sum;
                free(packed);
            }
        }
        reached += highest >= tb * (q - ci / 2) || full;
    }
    CHECK(over == 0 && wrong == 0 && reached == 36,
          "int16 Winograd bound, Ci %d Co %d%s, x_zp %d: %d (o, xi) over 2^31 - 1, %d worst-case sums wrong, %d of 36 "
          "positions with a row reaching T * (Q - Ci/2)",
          ci, co, one_sign ? " (one sign)" : "", (int)x_zp, over, wrong, reached);
    conv_wino_q8_release(&w);
    free(a);
    free(out);
    free(f);
    free(zp);
    free(bias);
    free(ws);
}

/* The attribute on a conv it does not apply to, or with another value: a load error naming it and the fix. */
static void check_validation(void)
{
    static const struct {
        const char *attrs;
        int k, f32;
        const char *needle;
    } bad[] = {
        {"{\"winograd\": \"int16\", \"stride\": [2, 2]}", 3, 0, "stride 2x2"},
        {"{\"winograd\": \"int16\", \"dilation\": [2, 2]}", 3, 0, "dilation 2x2"},
        {"{\"winograd\": \"int16\"}", 1, 0, "kernel 1x1"},
        {"{\"winograd\": \"int16\"}", 3, 1, "f32"},
        {"{\"winograd\": \"int8\"}", 3, 0, "\"int16\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oh_case c;
        oh_init(&c, "conv2d", bad[i].attrs);
        const int32_t xd[4] = {1, 9, 9, 4}, wd[4] = {4, bad[i].k, bad[i].k, 4};
        detc_dtype dt = bad[i].f32 ? DETC_F32 : DETC_I8;
        int x = oh_input(&c, dt, 4, xd, NULL, false), w = oh_input(&c, dt, 4, wd, NULL, true);
        int y = oh_output(&c, dt);
        if (!bad[i].f32) {
            oh_quant1(&c, x, 0.1f, 0);
            oh_quant1(&c, w, 0.1f, 0);
            oh_quant1(&c, y, 0.1f, 0);
        }
        CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "winograd", bad[i].needle),
              "conv2d %s (%dx%d, %s) is refused naming the attribute and '%s'", bad[i].attrs, bad[i].k, bad[i].k,
              bad[i].f32 ? "f32" : "i8", bad[i].needle);
        oh_free(&c);
    }
}

int main(void)
{
    static const qcase cases[] = {
        {1, 1, 14, 14, 32, 32, 1, 1, 1, 1, 1, 1, 0},   {2, 2, 13, 11, 37, 33, 1, 1, 1, 1, 1, 0, 0},
        {1, 1, 9, 7, 64, 48, 0, 0, 0, 0, 0, 1, 0},     {1, 1, 6, 6, 16, 17, 2, 0, 1, 2, 0, 0, 0},
        {3, 2, 14, 14, 40, 24, 1, 1, 1, 1, 1, 1, 0},   {1, 1, 3, 4, 20, 70, 1, 1, 1, 1, 1, 0, 0},
        {1, 1, 10, 9, 33, 19, 1, 1, 1, 1, 1, 0, 1},    {1, 1, 10, 9, 33, 19, 1, 1, 1, 1, 0, 0, 1},
        {1, 1, 17, 17, 129, 40, 1, 1, 1, 1, 1, 1, 0},
        /* several small images: tiled on one canvas (ref_tiling), 6 of 7 ROIs as the mask head's */
        {7, 6, 14, 14, 24, 20, 1, 1, 1, 1, 1, 1, 0},   {5, 5, 7, 6, 16, 12, 1, 1, 1, 1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    CHECK(overflow_seen == 0, "the defined arithmetic's integer sums stay within int32 (%d beyond)", overflow_seen);
    CHECK(canvases_seen >= 3, "cases tiled on a canvas: %d", canvases_seen);
    printf("int8 Winograd int16: worst %d LSB from the float64 direct conv (bound %d); direct int8: worst %d; %d "
           "outputs 1 LSB off the reference at a float tie\n",
           worst_exact_wino, WQ_LSB_BOUND, worst_exact_direct, tie_diffs);
    check_bound(64, 8, 0, 0);
    check_bound(2000, 4, 1, 0);
    check_bound(3, 2, 0, 0);
    check_bound(256, 4, 0, -128); /* a ReLU's range: d in [0, 255], the bound half as large or less */
    check_bound(256, 4, 1, 127);  /* d in [-255, 0] */
    check_validation();
    return check_summary("test_winograd_q8");
}
