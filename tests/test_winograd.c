/* conv2d's Winograd F(4x4, 3x3) path (ops/conv2d_winograd.c) against a float64 direct convolution, and the
 * direct path (no_winograd) on the same cases: sizes that are not multiples of the 4x4 tile, 'same', 'valid'
 * and asymmetric padding, batch 2, channel counts off the SIMD widths, bias or none, relu6 or none; 1 and 2
 * threads; the portable table (raw transformed filters through gemm_f32) and the best one (packed for its
 * conv_f32).
 *
 * Errors are measured relative to the magnitude of the sum, mag = sum |x*w| + |bias| (float64): the direct
 * path is held to 1e-5 * mag + 1e-6 (the kernel bound, tests/test_kernels.c); Winograd to
 * WINO_TOL * mag + 1e-6, the bound stated in ops/README.md. The worst ratio seen is printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "op_harness.h"

#define WINO_TOL 2e-5

static uint32_t rng = 7;
static float uniform(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return lo + (hi - lo) * (float)(rng % 1000001) / 1000000.0f;
}

typedef struct {
    int n, h, w, ci, co, pt, pl, pb, pr, bias, relu6;
    float xlo; /* inputs in [xlo, 1]: 0 as after a relu, -1 signed */
} wcase;

static double worst_norm[2]; /* max |got - exact| / mag, direct and Winograd */

static void run_case(const wcase *t, double *worst_wino, double *worst_direct, double *worst_rel_max)
{
    const int OH = t->h + t->pt + t->pb - 2, OW = t->w + t->pl + t->pr - 2;
    size_t nx = (size_t)t->n * t->h * t->w * t->ci, nw = (size_t)t->co * 9 * t->ci, no = (size_t)t->n * OH * OW * t->co;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc((size_t)t->co * sizeof *b);
    double *ref = malloc(no * sizeof *ref), *mag = malloc(no * sizeof *mag);
    for (size_t i = 0; i < nx; i++)
        x[i] = uniform(t->xlo, 1.0f);
    float ws = 1.0f / sqrtf(9.0f * t->ci);
    for (size_t i = 0; i < nw; i++)
        w[i] = uniform(-ws, ws);
    for (int i = 0; i < t->co; i++)
        b[i] = uniform(-0.5f, 0.5f);
    double ref_max = 0;
    for (int n = 0; n < t->n; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int o = 0; o < t->co; o++) {
                    double acc = t->bias ? b[o] : 0.0, m = fabs(acc);
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy - t->pt + ky, ix = ox - t->pl + kx;
                            if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w)
                                continue;
                            const float *xp = x + (((size_t)n * t->h + iy) * t->w + ix) * t->ci;
                            const float *wp = w + (((size_t)o * 3 + ky) * 3 + kx) * t->ci;
                            for (int c = 0; c < t->ci; c++) {
                                double p = (double)xp[c] * wp[c];
                                acc += p;
                                m += fabs(p);
                            }
                        }
                    if (t->relu6)
                        acc = acc < 0 ? 0 : acc > 6 ? 6 : acc;
                    size_t i = (((size_t)n * OH + oy) * OW + ox) * t->co + o;
                    ref[i] = acc;
                    mag[i] = m;
                    ref_max = fabs(acc) > ref_max ? fabs(acc) : ref_max;
                }
    char attrs[160];
    snprintf(attrs, sizeof attrs, "{\"padding\": [%d, %d, %d, %d], \"activation\": \"%s\"}", t->pt, t->pl, t->pb,
             t->pr, t->relu6 ? "relu6" : "none");
    const int32_t xd[4] = {t->n, t->h, t->w, t->ci}, wd[4] = {t->co, 3, 3, t->ci}, bd[1] = {t->co};
    for (int wino = 0; wino < 2; wino++)
        for (int threads = 1; threads <= 2; threads++)
            for (int best = 0; best < 2; best++) {
                oh_case c;
                oh_init(&c, "conv2d", attrs);
                c.kernels = best ? NULL : "portable";
                c.no_winograd = !wino;
                oh_input(&c, DETC_F32, 4, xd, x, false);
                oh_input(&c, DETC_F32, 4, wd, w, true);
                if (t->bias)
                    oh_input(&c, DETC_F32, 1, bd, b, true);
                int to = oh_output(&c, DETC_F32);
                bool ok = oh_prepare(&c);
                if (!ok)
                    oh_print_errors(&c);
                int bad = -1;
                if (ok && oh_eval(&c, threads) == DETC_OK) {
                    const float *got = oh_data(&c, to);
                    double tol = wino ? WINO_TOL : 1e-5, *worst = wino ? worst_wino : worst_direct;
                    bad = 0;
                    for (size_t i = 0; i < no; i++) {
                        double e = fabs(got[i] - ref[i]), r = e / (tol * mag[i] + 1e-6);
                        *worst = r > *worst ? r : *worst;
                        if (mag[i] > 0 && e / mag[i] > worst_norm[wino])
                            worst_norm[wino] = e / mag[i];
                        if (wino && ref_max > 0 && e / ref_max > *worst_rel_max)
                            *worst_rel_max = e / ref_max;
                        bad += !(r <= 1.0);
                    }
                }
                CHECK(bad == 0,
                      "conv2d 3x3 %s: %dx%dx%dx%d -> %d, pads %d %d %d %d, %d thread(s), %s kernels: %d wrong of %zu",
                      wino ? "Winograd" : "direct", t->n, t->h, t->w, t->ci, t->co, t->pt, t->pl, t->pb, t->pr,
                      threads, best ? "best" : "portable", bad, no);
                oh_free(&c);
            }
    free(x);
    free(w);
    free(b);
    free(ref);
    free(mag);
}

int main(void)
{
    static const wcase cases[] = {
        {1, 14, 14, 16, 16, 1, 1, 1, 1, 1, 0, -1.0f},  {2, 13, 11, 37, 33, 1, 1, 1, 1, 1, 1, 0.0f},
        {1, 9, 7, 64, 48, 0, 0, 0, 0, 0, 0, -1.0f},    {1, 6, 6, 16, 17, 2, 0, 1, 2, 1, 0, 0.0f},
        {1, 3, 4, 20, 70, 1, 1, 1, 1, 1, 1, -1.0f},    {1, 25, 18, 32, 64, 1, 1, 1, 1, 1, 0, 0.0f},
        {2, 17, 17, 256, 40, 1, 1, 1, 1, 1, 0, 0.0f},  {1, 8, 8, 300, 16, 1, 1, 1, 1, 0, 0, -1.0f},
        /* several small images, tiled on one canvas (conv2d_winograd.h): the mask head's 14x14 ROIs */
        {6, 14, 14, 24, 20, 1, 1, 1, 1, 1, 0, 0.0f},   {5, 7, 6, 16, 12, 1, 1, 1, 1, 1, 1, -1.0f},
    };
    double worst_wino = 0, worst_direct = 0, rel_max = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], &worst_wino, &worst_direct, &rel_max);
    printf("Winograd F(4x4, 3x3): worst |error| %.2e of sum|x*w|, %.3f of the bound %.0e * sum|x*w| + 1e-6, %.2e "
           "of the largest |output|\ndirect: worst |error| %.2e of sum|x*w|, %.3f of the bound 1e-5 * sum|x*w| + 1e-6\n",
           worst_norm[1], worst_wino, WINO_TOL, rel_max, worst_norm[0], worst_direct);
    return check_summary("test_winograd");
}
