/* Every kernel table variant this CPU supports against a naive int64/double reference computed here,
 * on sizes that exercise SIMD tails (K, N not multiples of the vector widths) and extreme values.
 * Integer kernels must be exact; float GEMM, conv_f32 and dwconv_f32 within 1e-5 of the sum of the products'
 * magnitudes (summation order, FMA). */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "op_harness.h"
#include "quant.h"
#include "wino_ref.h"

static uint32_t rng = 1;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void check_f32_gemm(const detc_kernels *k)
{
    int M = 7, N = 13, K = 301, worst_bad = 0;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++)
        A[i] = (float)((int)(next() % 2001) - 1000) / 1000.0f;
    for (int i = 0; i < N * K; i++)
        B[i] = (float)((int)(next() % 2001) - 1000) / 1000.0f;
    k->gemm_f32(M, N, K, A, K, B, K, C, N);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double r = 0, mag = 0;
            for (int q = 0; q < K; q++) {
                r += (double)A[m * K + q] * B[n * K + q];
                mag += fabs((double)A[m * K + q] * B[n * K + q]);
            }
            worst_bad += fabs(C[m * N + n] - r) > 1e-5 * mag + 1e-6;
        }
    CHECK(worst_bad == 0, "%s gemm_f32: %d results off by more than 1e-5 of the magnitude", k->name, worst_bad);
    free(A);
    free(B);
    free(C);
}

/* Depthwise conv (multiplier 1) on a random NHWC image: a naive TFLite-style reference (sum of
 * (x - xz) * (w - wz) over the taps inside the input, then detc_qmul_apply from quant.h) against the kernel
 * fed as ops/depthwise_conv2d.c feeds it (packed tap pairs, folded bias, one pointer per tap, padding
 * taps at a row of xz). */
typedef struct {
    int H, W, C, KH, KW, stride, pad, dil, is_signed, per_channel, zero_weights;
    int relu; /* out_zp = act_min, as after a ReLU: the x86 kernels then skip gemmlowp's negative-tie fixup */
    int frq;  /* one scale with a right shift of 3..10, and the float requantization when it fits (kernels.h) */
} dw_case;

static int dw_frq_cases; /* check_dw_case's cases that took the float requantization */

static int check_dw_case(const detc_kernels *k, const dw_case *t)
{
    const int C = t->C, T = t->KH * t->KW, P = (T + 1) / 2;
    const int OH = (t->H + 2 * t->pad - t->dil * (t->KH - 1) - 1) / t->stride + 1;
    const int OW = (t->W + 2 * t->pad - t->dil * (t->KW - 1) - 1) / t->stride + 1;
    uint8_t *x = malloc((size_t)t->H * t->W * C), *wq = malloc((size_t)T * C), *zero = malloc((size_t)C);
    uint8_t *out = malloc((size_t)OH * OW * C + 1), *ref = malloc((size_t)OH * OW * C);
    int16_t *wp = calloc((size_t)P * C * 2, sizeof *wp);
    int32_t *bias = malloc(sizeof(int32_t) * C), *fbias = malloc(sizeof(int32_t) * C);
    int32_t *mult = malloc(sizeof(int32_t) * C), *lsh = malloc(sizeof(int32_t) * C), *rsh = malloc(sizeof(int32_t) * C);
    const uint8_t **taps = malloc(sizeof *taps * (size_t)OW * 2 * P);
    int lo = t->is_signed ? -128 : 0, hi = t->is_signed ? 127 : 255;
    int32_t xz = lo + (int32_t)(next() % 256), wz = t->is_signed ? 0 : (int32_t)(next() % 256);
    int32_t oz = lo + (int32_t)(next() % 256), amin = lo + (int32_t)(next() % 40), amax = hi - (int32_t)(next() % 40);
    if (next() % 4 == 0) /* the whole byte range: the x86 kernels then leave the clamp to their saturating packs */
        amin = lo, amax = hi;
    if (t->relu)
        oz = amin;
    for (int i = 0; i < t->H * t->W * C; i++)
        x[i] = (uint8_t)next();
    for (int i = 0; i < T * C; i++)
        wq[i] = t->zero_weights ? (uint8_t)wz : (uint8_t)next();
    memset(zero, (uint8_t)xz, (size_t)C);
    detc_qmul q0 = {0, 0};
    for (int c = 0; c < C; c++) {
        /* multipliers in [2^30, 2^31) with shifts from -31 to +2; biases small, or anywhere in int32 when
         * the weights are all zero (the accumulator is then the bias: requantization of extreme values) */
        detc_qmul q = {(int32_t)((1u << 30) + (next() % (1u << 30))), -(int)(next() % 34) + 2};
        if (t->frq)
            q.shift = -3 - (int)(next() % 8);
        if (c == 0 || (t->per_channel && !t->frq))
            q0 = q;
        q = q0;
        mult[c] = q.multiplier;
        lsh[c] = q.shift > 0 ? q.shift : 0;
        rsh[c] = q.shift > 0 ? 0 : -q.shift;
        bias[c] = t->zero_weights ? (int32_t)next() : (int32_t)(next() % 200001) - 100000;
        if (t->zero_weights && c < 4)
            bias[c] = c == 0 ? INT32_MIN : c == 1 ? INT32_MAX : c == 2 ? -1 : 0;
        int64_t sum = 0;
        for (int tp = 0; tp < T; tp++) {
            int32_t v = (t->is_signed ? (int32_t)(int8_t)wq[tp * C + c] : (int32_t)wq[tp * C + c]) - wz;
            wp[((tp / 2) * C + c) * 2 + tp % 2] = (int16_t)v;
            sum += v;
        }
        fbias[c] = (int32_t)(bias[c] - (int64_t)xz * sum);
    }
    detc_dwconv_q8_params prm = {.channels = C, .tap_pairs = P, .is_signed = t->is_signed, .w = wp, .bias = fbias,
                                 .mult = mult, .lshift = lsh, .rshift = rsh, .out_zp = oz, .act_min = amin,
                                 .act_max = amax};
    if (t->frq) {
        prm.frq = detc_rq_float_fit(mult[0], rsh[0], oz, amin, amax, &prm.frq_scale, &prm.frq_offset);
        dw_frq_cases += prm.frq;
    }
#define XV(v) (t->is_signed ? (int32_t)(int8_t)(v) : (int32_t)(v))
    for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++)
            for (int c = 0; c < C; c++) {
                int64_t acc = bias[c];
                for (int ky = 0; ky < t->KH; ky++)
                    for (int kx = 0; kx < t->KW; kx++) {
                        int iy = oy * t->stride - t->pad + ky * t->dil, ix = ox * t->stride - t->pad + kx * t->dil;
                        if (iy >= 0 && iy < t->H && ix >= 0 && ix < t->W)
                            acc += (int64_t)(XV(x[(iy * t->W + ix) * C + c]) - xz) *
                                   (XV(wq[(ky * t->KW + kx) * C + c]) - wz);
                    }
                detc_qmul q = {mult[c], lsh[c] - rsh[c]};
                int32_t v = detc_qmul_apply((int32_t)acc, q) + oz;
                ref[(oy * OW + ox) * C + c] = (uint8_t)(v < amin ? amin : v > amax ? amax : v);
            }
    int bad = 0;
    out[OH * OW * C] = 0xa5; /* guard byte */
    for (int oy = 0; oy < OH; oy++) {
        const uint8_t **q = taps;
        for (int ox = 0; ox < OW; ox++) {
            for (int ky = 0; ky < t->KH; ky++)
                for (int kx = 0; kx < t->KW; kx++) {
                    int iy = oy * t->stride - t->pad + ky * t->dil, ix = ox * t->stride - t->pad + kx * t->dil;
                    *q++ = iy >= 0 && iy < t->H && ix >= 0 && ix < t->W ? x + (iy * t->W + ix) * C : zero;
                }
            if (T % 2)
                *q++ = zero;
        }
        k->dwconv_q8(&prm, OW, taps, out + oy * OW * C);
    }
    for (int i = 0; i < OH * OW * C; i++)
        bad += out[i] != ref[i];
    bad += out[OH * OW * C] != 0xa5;
#undef XV
    free(x);
    free(wq);
    free(zero);
    free(out);
    free(ref);
    free(wp);
    free(bias);
    free(fbias);
    free(mult);
    free(lsh);
    free(rsh);
    free(taps);
    return bad;
}

static void check_dwconv(const detc_kernels *k)
{
    static const int Cs[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 64, 100, 129};
    int bad_cases = 0, cases = 0;
    for (size_t ic = 0; ic < sizeof Cs / sizeof Cs[0]; ic++)
        for (int variant = 0; variant < 12; variant++) {
            dw_case t = {.C = Cs[ic],
                         .H = 1 + (int)(next() % 9),
                         .W = 1 + (int)(next() % 11),
                         .KH = variant % 4 == 3 ? 1 + (int)(next() % 5) : 3,
                         .KW = variant % 4 == 3 ? 1 + (int)(next() % 5) : 3,
                         .stride = 1 + variant % 2,
                         .pad = (int)(next() % 3),
                         .dil = variant == 7 ? 2 : 1,
                         .is_signed = (variant / 2) % 2,
                         .per_channel = variant >= 4 && (variant / 2) % 2,
                         .zero_weights = variant >= 8 && variant < 10,
                         .relu = variant % 3 == 1};
            int span_h = t.dil * (t.KH - 1) + 1, span_w = t.dil * (t.KW - 1) + 1;
            if (t.H + 2 * t.pad < span_h)
                t.H = span_h;
            if (t.W + 2 * t.pad < span_w)
                t.W = span_w;
            int bad = check_dw_case(k, &t);
            if (bad)
                printf("  %s dwconv_q8: C %d, %dx%d input, %dx%d kernel, stride %d, pad %d, dilation %d, %s%s: "
                       "%d wrong\n",
                       k->name, t.C, t.H, t.W, t.KH, t.KW, t.stride, t.pad, t.dil, t.is_signed ? "i8" : "u8",
                       t.zero_weights ? " (zero weights, extreme biases)" : "", bad);
            bad_cases += bad != 0;
            cases++;
        }
    /* Rows long enough for the SIMD kernels' groups of pixels whose taps move by a fixed distance. */
    /* 20, 24, 40: a tail of 4 or 8 channels, which the AVX-512 kernel's groups take two pixels at a time */
    static const int wide_c[] = {16, 20, 24, 40, 64};
    for (int ic = 0; ic < 5; ic++)
        for (int variant = 0; variant < 4; variant++) {
            dw_case t = {.C = wide_c[ic], .H = 4, .W = 23 + variant, .KH = variant == 3 ? 5 : 3,
                         .KW = variant == 3 ? 5 : 3, .stride = 1 + variant % 2, .pad = variant == 2 ? 0 : 1 + variant / 3,
                         .dil = 1, .is_signed = variant % 2, .per_channel = variant % 2, .relu = variant < 2};
            int bad = check_dw_case(k, &t);
            if (bad)
                printf("  %s dwconv_q8: C %d, wide %dx%d input, %dx%d kernel, stride %d: %d wrong\n", k->name, t.C,
                       t.H, t.W, t.KH, t.KW, t.stride, bad);
            bad_cases += bad != 0;
            cases++;
        }
    /* the float requantization (kernels.h's frq): narrow and wide rows, both strides, u8 and i8 */
    dw_frq_cases = 0;
    for (int v = 0; v < 80; v++) {
        dw_case t = {.C = Cs[next() % (sizeof Cs / sizeof Cs[0])], .H = 2 + (int)(next() % 5),
                     .W = v % 2 ? 23 + (int)(next() % 9) : 1 + (int)(next() % 11), .KH = 3, .KW = 3,
                     .stride = 1 + (v / 2) % 2, .pad = (int)(next() % 2), .dil = 1, .is_signed = (v / 4) % 2,
                     .relu = v % 3 == 1, .frq = 1};
        if (t.H + 2 * t.pad < 3)
            t.H = 3;
        if (t.W + 2 * t.pad < 3)
            t.W = 3;
        int bad = check_dw_case(k, &t);
        if (bad)
            printf("  %s dwconv_q8: C %d, %dx%d input, stride %d, pad %d, %s, float requantization: %d wrong\n",
                   k->name, t.C, t.H, t.W, t.stride, t.pad, t.is_signed ? "i8" : "u8", bad);
        bad_cases += bad != 0;
        cases++;
    }
    CHECK(dw_frq_cases >= 15, "%s dwconv_q8: %d cases took the float requantization", k->name, dw_frq_cases);
    CHECK(bad_cases == 0, "%s dwconv_q8: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* dwconv_f32 on random NHWC images (channel counts 1..70, so every SIMD tail; 1x1, 3x3, 5x5 and odd
 * kernels; strides 1 and 2; padding; relu6, relu and no clamp; with and without dilation), fed as
 * ops/depthwise_conv2d.c feeds it (one pointer per tap, padding taps at a row of zeros), against a
 * double-precision reference over the taps inside the input. Every table must be within
 * |got - ref| <= 1e-5 * (sum |x*w| + |bias|) + 1e-6 (float rounding of the T products and sums, with or
 * without FMA); the output row is followed by guard floats that must stay untouched. */
typedef struct {
    int H, W, C, KH, KW, stride, pad, dil, act; /* act 0: none, 1: relu6, 2: relu */
} dwf_case;

static int check_dwf_case(const detc_kernels *k, const dwf_case *t, double *worst)
{
    const int C = t->C, T = t->KH * t->KW;
    const int OH = (t->H + 2 * t->pad - t->dil * (t->KH - 1) - 1) / t->stride + 1;
    const int OW = (t->W + 2 * t->pad - t->dil * (t->KW - 1) - 1) / t->stride + 1;
    float *x = malloc(sizeof(float) * (size_t)t->H * t->W * C), *w = malloc(sizeof(float) * (size_t)T * C);
    float *bias = malloc(sizeof(float) * C), *zero = calloc((size_t)C, sizeof(float));
    float *out = malloc(sizeof(float) * ((size_t)OW * C + 4));
    const float **taps = malloc(sizeof *taps * (size_t)OW * T);
    for (int i = 0; i < t->H * t->W * C; i++)
        x[i] = (float)((int)(next() % 20001) - 10000) / 3000.0f;
    for (int i = 0; i < T * C; i++)
        w[i] = (float)((int)(next() % 20001) - 10000) / 7000.0f;
    for (int c = 0; c < C; c++)
        bias[c] = (float)((int)(next() % 20001) - 10000) / 5000.0f;
    float lo = t->act ? 0.0f : -INFINITY, hi = t->act == 1 ? 6.0f : INFINITY;
    detc_dwconv_f32_params prm = {.channels = C, .taps = T, .w = w, .bias = bias, .act_lo = lo, .act_hi = hi};
    int bad = 0;
    for (int oy = 0; oy < OH; oy++) {
        const float **q = taps;
        for (int ox = 0; ox < OW; ox++)
            for (int ky = 0; ky < t->KH; ky++)
                for (int kx = 0; kx < t->KW; kx++) {
                    int iy = oy * t->stride - t->pad + ky * t->dil, ix = ox * t->stride - t->pad + kx * t->dil;
                    *q++ = iy >= 0 && iy < t->H && ix >= 0 && ix < t->W ? x + (iy * t->W + ix) * C : zero;
                }
        for (int g = 0; g < 4; g++)
            out[OW * C + g] = 12345.0f;
        k->dwconv_f32(&prm, OW, taps, out);
        for (int g = 0; g < 4; g++)
            bad += out[OW * C + g] != 12345.0f;
        for (int ox = 0; ox < OW; ox++)
            for (int c = 0; c < C; c++) {
                double acc = bias[c], mag = fabs(bias[c]);
                for (int ky = 0; ky < t->KH; ky++)
                    for (int kx = 0; kx < t->KW; kx++) {
                        int iy = oy * t->stride - t->pad + ky * t->dil, ix = ox * t->stride - t->pad + kx * t->dil;
                        if (iy >= 0 && iy < t->H && ix >= 0 && ix < t->W) {
                            double p = (double)x[(iy * t->W + ix) * C + c] * w[(ky * t->KW + kx) * C + c];
                            acc += p;
                            mag += fabs(p);
                        }
                    }
                acc = acc < lo ? lo : acc > hi ? hi : acc;
                double err = fabs(out[ox * C + c] - acc), tol = 1e-5 * mag + 1e-6;
                bad += !(err <= tol);
                if (err / tol > *worst)
                    *worst = err / tol;
            }
    }
    free(x);
    free(w);
    free(bias);
    free(zero);
    free(out);
    free(taps);
    return bad;
}

static void check_dwconv_f32(const detc_kernels *k)
{
    int bad_cases = 0, cases = 0;
    double worst = 0;
    for (int C = 1; C <= 70; C++)
        for (int variant = 0; variant < 6; variant++) {
            static const int ks[6][2] = {{3, 3}, {3, 3}, {5, 5}, {1, 1}, {5, 5}, {0, 0}};
            dwf_case t = {.C = C,
                          .H = 1 + (int)(next() % 9),
                          .W = 1 + (int)(next() % 19),
                          .KH = ks[variant][0] ? ks[variant][0] : 1 + (int)(next() % 7),
                          .KW = ks[variant][1] ? ks[variant][1] : 1 + (int)(next() % 7),
                          .stride = 1 + (variant + C) % 2,
                          .pad = (int)(next() % 3),
                          .dil = variant == 5 && C % 3 == 0 ? 2 : 1,
                          .act = (variant + C) % 3};
            int span_h = t.dil * (t.KH - 1) + 1, span_w = t.dil * (t.KW - 1) + 1;
            if (t.H + 2 * t.pad < span_h)
                t.H = span_h;
            if (t.W + 2 * t.pad < span_w)
                t.W = span_w;
            int bad = check_dwf_case(k, &t, &worst);
            if (bad)
                printf("  %s dwconv_f32: C %d, %dx%d input, %dx%d kernel, stride %d, pad %d, dilation %d, %s: "
                       "%d wrong\n",
                       k->name, t.C, t.H, t.W, t.KH, t.KW, t.stride, t.pad, t.dil,
                       t.act == 1 ? "relu6" : t.act == 2 ? "relu" : "no clamp", bad);
            bad_cases += bad != 0;
            cases++;
        }
    /* Rows long enough for the SIMD kernels' groups of pixels whose taps lie a fixed distance apart (and,
     * for a 3x3 kernel at stride 1, share their input columns) between the padded edges; rows of 70 pixels and
     * more span several of the AVX-512 kernel's 32-pixel passes, whose 3x3 runs hold the weights in
     * registers up to 128 channels (130: the groups past that). */
    static const int wide_c[] = {1, 8, 16, 24, 37, 48, 64, 96, 130};
    for (int ci = 0; ci < 9; ci++)
        for (int variant = 0; variant < 6; variant++) {
            static const int kk[6] = {3, 3, 5, 1, 3, 3};
            dwf_case t = {.C = wide_c[ci], .H = 4, .W = 29 + variant + (ci % 2) * 41, .KH = kk[variant], .KW = kk[variant],
                          .stride = 1 + variant % 2, .pad = variant == 5 ? 0 : kk[variant] / 2,
                          .dil = variant == 4 ? 2 : 1, .act = variant % 3};
            int bad = check_dwf_case(k, &t, &worst);
            if (bad)
                printf("  %s dwconv_f32: C %d, wide %dx%d input, %dx%d kernel, stride %d, dilation %d: %d wrong\n",
                       k->name, t.C, t.H, t.W, t.KH, t.KW, t.stride, t.dil, bad);
            bad_cases += bad != 0;
            cases++;
        }
    printf("  %s dwconv_f32: worst error %.3f of the tolerance\n", k->name, worst);
    CHECK(bad_cases == 0, "%s dwconv_f32: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* dwconv_q8_run and dwconv_f32_run (a run of pixels given as its first pixel's taps and the step) against the
 * portable table's per-pixel entries on the expanded pointers: q8 bytes exactly, f32 within dwconv_f32's
 * tolerance of a double sum over the same pointers. Run lengths 1..40 (the AVX-512 groups of 8 and their
 * remainders), strides 1 and 2, 3x3 kernels (the x86 run paths) and 5x5, 3x1 and dilated ones (not regular:
 * the expanded fallback), C = 8, 20, 24, 48, 130 (16-channel blocks, 8-channel tails taken two pixels per
 * vector, tails below 8). The input holds exactly the run's windows (nothing past them to read) and the
 * output is followed by guard elements. */
static int check_dw_run_case(const detc_kernels *k, int C, int KH, int KW, int dil, int stride, int n, int is_signed)
{
    const detc_kernels *ref = detc_kernels_select("portable");
    const int T = KH * KW, P = (T + 1) / 2, W = (n - 1) * stride + (KW - 1) * dil + 1, G = 24;
    const size_t in_elems = (size_t)KH * dil * W * C; /* rows dil apart */
    uint8_t *x = malloc(in_elems), *out = malloc((size_t)n * C + G), *want = malloc((size_t)n * C);
    float *xf = malloc(sizeof(float) * in_elems), *wf = malloc(sizeof(float) * T * C), *bf = malloc(sizeof(float) * C);
    float *outf = malloc(sizeof(float) * ((size_t)n * C + G));
    int16_t *wp = calloc((size_t)P * C * 2, sizeof *wp);
    int32_t *bias = malloc(sizeof(int32_t) * C), *mult = malloc(sizeof(int32_t) * C);
    int32_t *lsh = malloc(sizeof(int32_t) * C), *rsh = malloc(sizeof(int32_t) * C);
    const uint8_t *t0[DETC_DW_RUN_MAX_PTRS], **tq = malloc(sizeof *tq * (size_t)n * 2 * P);
    const float *f0[DETC_DW_RUN_MAX_PTRS];
    for (size_t i = 0; i < in_elems; i++) {
        x[i] = (uint8_t)next();
        xf[i] = (float)((int)(next() % 20001) - 10000) / 3000.0f;
    }
    for (int c = 0; c < C; c++) {
        for (int tp = 0; tp < T; tp++) {
            wp[((tp / 2) * C + c) * 2 + tp % 2] = (int16_t)((int)(next() % 511) - 255);
            wf[tp * C + c] = (float)((int)(next() % 20001) - 10000) / 7000.0f;
        }
        bias[c] = (int32_t)(next() % 2000001) - 1000000;
        bf[c] = (float)((int)(next() % 20001) - 10000) / 5000.0f;
        mult[c] = (int32_t)((1u << 30) + (next() % (1u << 30)));
        int sh = -(int)(next() % 24) + 1;
        lsh[c] = sh > 0 ? sh : 0;
        rsh[c] = sh > 0 ? 0 : -sh;
    }
    int lo = is_signed ? -128 : 0, oz = lo + (int)(next() % 200); /* below act_max: a ReLU's act_min = oz */
    detc_dwconv_q8_params prm = {.channels = C, .tap_pairs = P, .is_signed = is_signed, .w = wp, .bias = bias,
                                 .mult = mult, .lshift = lsh, .rshift = rsh, .out_zp = oz,
                                 .act_min = next() % 2 ? oz : lo + (int)(next() % 40), .act_max = lo + 255 - (int)(next() % 40)};
    float flo = next() % 2 ? 0.0f : -INFINITY, fhi = next() % 2 ? 6.0f : INFINITY;
    detc_dwconv_f32_params fp = {.channels = C, .taps = T, .w = wf, .bias = bf, .act_lo = flo, .act_hi = fhi};
    for (int ky = 0; ky < KH; ky++)
        for (int kx = 0; kx < KW; kx++) {
            size_t at = ((size_t)ky * dil * W + (size_t)kx * dil) * C;
            t0[ky * KW + kx] = x + at;
            f0[ky * KW + kx] = xf + at;
        }
    if (T % 2)
        t0[T] = t0[T - 1]; /* the weight-0 pad tap, as the op points it */
    for (int i = 0; i < n; i++)
        for (int tp = 0; tp < 2 * P; tp++)
            tq[i * 2 * P + tp] = t0[tp] + (ptrdiff_t)i * stride * C;
    ref->dwconv_q8(&prm, n, tq, want);
    memset(out + (size_t)n * C, 0xa5, G);
    for (int g = 0; g < G; g++)
        outf[(size_t)n * C + g] = 12345.0f;
    k->dwconv_q8_run(&prm, n, t0, (ptrdiff_t)stride * C, out);
    k->dwconv_f32_run(&fp, n, f0, (ptrdiff_t)stride * C, outf);
    int bad = 0;
    for (int i = 0; i < n * C; i++)
        bad += out[i] != want[i];
    for (int g = 0; g < G; g++)
        bad += out[(size_t)n * C + g] != 0xa5 || outf[(size_t)n * C + g] != 12345.0f;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            double acc = bf[c], mag = fabs(bf[c]);
            for (int tp = 0; tp < T; tp++) {
                double pr = (double)f0[tp][(ptrdiff_t)i * stride * C + c] * wf[tp * C + c];
                acc += pr;
                mag += fabs(pr);
            }
            acc = acc < flo ? flo : acc > fhi ? fhi : acc;
            bad += !(fabs(outf[i * C + c] - acc) <= 1e-5 * mag + 1e-6);
        }
    free(x);
    free(out);
    free(want);
    free(xf);
    free(wf);
    free(bf);
    free(outf);
    free(wp);
    free(bias);
    free(mult);
    free(lsh);
    free(rsh);
    free(tq);
    return bad;
}

static void check_dwconv_run(const detc_kernels *k)
{
    static const int Cs[] = {8, 20, 24, 48, 130, 3, 16};
    static const int ks[][3] = {{3, 3, 1}, {5, 5, 1}, {3, 1, 1}, {3, 3, 2}}; /* KH, KW, dilation */
    int bad_cases = 0, cases = 0;
    for (size_t ic = 0; ic < sizeof Cs / sizeof Cs[0]; ic++)
        for (int ik = 0; ik < 4; ik++)
            for (int stride = 1; stride <= 2; stride++)
                for (int n = 1; n <= 40; n++) {
                    if (ik && n % 7 != 3 && n != 8 && n != 16) /* the fallbacks on fewer lengths */
                        continue;
                    const int is_signed = (n + stride + (int)ic) % 2;
                    int bad = check_dw_run_case(k, Cs[ic], ks[ik][0], ks[ik][1], ks[ik][2], stride, n, is_signed);
                    if (bad)
                        printf("  %s dwconv_*_run: C %d, %dx%d kernel, dilation %d, stride %d, %d pixels, %s: %d wrong\n",
                               k->name, Cs[ic], ks[ik][0], ks[ik][1], ks[ik][2], stride, n, is_signed ? "i8" : "u8", bad);
                    bad_cases += bad != 0;
                    cases++;
                }
    CHECK(bad_cases == 0, "%s dwconv_q8_run / dwconv_f32_run: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* conv_q8 (quantized conv GEMM with fused requantization) on random cases: sizes with M, N and K tails
 * around the SIMD tile sizes, u8 and i8, zero and non-zero filter zero points, per-channel multipliers
 * with left and right shifts, activation clamps, extreme biases. Each table packs its own filter; the
 * output (with lda > K or lda = K, ldo > N and guard bytes around every row) must equal a naive reference
 * computed here bit for bit, and so every table equals the portable one. */
/* ruy's MultiplyByQuantizedMultiplier as ruy writes it (apply_multiplier.cc): total = 31 - shift,
 * (x * mult + 2^(total - 1)) >> total in int64, one rounding, ties up. Left unsaturated: the caller clamps
 * the int64 result, which is what conv_q8's round_once promises. */
static int64_t ref_round_once(int32_t x, int32_t mult, int shift)
{
    int total = 31 - shift;
    return ((int64_t)x * mult + ((int64_t)1 << (total - 1))) >> total;
}

/* extreme: 0 random, 1 extreme inputs and filter, 2 extreme biases, 3 a 255-value filter range, 4 exact
 * ties: a zero filter, so acc = bias, and biases that put x * mult * 2^shift exactly halfway between two
 * integers (mult = 2^30 and bias = odd * 2^r, or mult = 3 * 2^29 and bias = odd * 2^(r+1), r = -shift),
 * positive and negative, where the two roundings disagree for negative values (and where gemmlowp's first
 * rounding moves a value across a half). */
static int conv_q8_frq_cases; /* check_conv_q8_case's cases with the float requantization (scales 6) */

static int check_conv_q8_case(const detc_kernels *k, int M, int N, int K, int is_signed, int wzp_mode,
                              int extreme, int round_once, int relu, int tight, int scales)
{
    /* odd M: lda > K; even M: rows back to back. tight: output rows back to back too (the VNNI kernel stores
     * whole tiles of N = 16..64 at once there); else ldo > N. GUARD bytes after the last row must stay. */
    enum { GUARD = 64 };
    const int lda = K + (M % 2 ? 5 : 0), ldo = N + (tight ? 0 : 3);
    uint8_t *A = malloc((size_t)M * lda), *W = malloc((size_t)N * K), *out = malloc((size_t)M * ldo + GUARD);
    uint8_t *ref = malloc((size_t)M * ldo + GUARD);
    int32_t *bias = malloc(sizeof(int32_t) * N), *wzp = malloc(sizeof(int32_t) * N);
    int32_t *mult = malloc(sizeof(int32_t) * N), *lsh = malloc(sizeof(int32_t) * N), *rsh = malloc(sizeof(int32_t) * N);
    int lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
    for (int i = 0; i < M * lda; i++)
        A[i] = extreme == 1 ? (uint8_t)(is_signed ? 0x80 : 0xff) : (uint8_t)next();
    for (int i = 0; i < N * K; i++)
        W[i] = extreme == 1 ? (uint8_t)(i % 2 ? 0x80 : 0x7f) : (uint8_t)next();
    if (extreme == 3) {
        /* Every channel spans 255 values at most, both ends present (NEON's "pair" layout stores w - o in
         * [-127, 127]); inputs at their extremes in every other row. */
        for (int c = 0; c < N; c++) {
            int base = lo + (int)(next() % 2);
            for (int q = 0; q < K; q++)
                W[c * K + q] = (uint8_t)(base + (q == 0 ? 0 : q == 1 ? 254 : (int)(next() % 255)));
        }
        for (int m = 0; m < M; m += 2)
            memset(A + m * lda, m % 4 ? lo : hi, (size_t)K);
    }
    int32_t wz0 = lo + (int32_t)(next() % 256);
    for (int c = 0; c < N; c++) {
        /* wzp_mode 0: none (NULL); 1: one per-tensor zero point; 2: per channel */
        wzp[c] = wzp_mode == 2 ? lo + (int32_t)(next() % 256) : wz0;
        detc_qmul q = {(int32_t)((1u << 30) + (next() % (1u << 30))), -(int)(next() % 34) + 2};
        if (next() % 16 == 0)
            q.multiplier = 0;
        mult[c] = q.multiplier;
        lsh[c] = q.shift > 0 ? q.shift : 0;
        rsh[c] = q.shift > 0 ? 0 : -q.shift;
        bias[c] = extreme == 2 ? (int32_t)next() : (int32_t)(next() % 400001) - 200000;
        if (extreme == 2 && c < 4)
            bias[c] = c == 0 ? INT32_MIN : c == 1 ? INT32_MAX : c == 2 ? -1 : 0;
        if (extreme == 4 && c % 4 != 3) { /* every fourth channel keeps its random bias and multiplier */
            int r = 1 + (int)(next() % 29), three = (int)(next() % 2), e = r + three;
            int64_t kmax = ((INT32_MAX >> e) - 1) / 2, odd = 2 * (int64_t)(next() % (kmax < 300 ? kmax + 1 : 301)) + 1;
            mult[c] = three ? 3 << 29 : 1 << 30;
            lsh[c] = 0;
            rsh[c] = r;
            bias[c] = (int32_t)((next() % 2 ? -odd : odd) * ((int64_t)1 << e));
        }
    }
    /* scales 1: channel 0's multiplier and right shift for every channel (a per-tensor scale, as every uint8
     * model has; the VNNI kernel then requantizes every block with one set of constants); 2: the same with a
     * left shift of 1 or 2 instead, where a real multiplier of 1 to 4 would saturate nearly every output: the
     * filter at its zero points and biases within +-300, so that acc = bias lands in the output range;
     * 3: channel 0's right shift for every channel, multipliers per channel; 4: the other way round; 5: as 1
     * but for the last channel, which keeps its own (the checks for one scale must look at every lane); 6: as 1
     * with a right shift of 3..10 and, when detc_rq_float_fit holds, the float form (prm.frq) */
    const int32_t lsh0 = 1 + (int32_t)(next() % 2);
    if (scales == 6)
        rsh[0] = 3 + (int32_t)(next() % 8), lsh[0] = 0, mult[0] = mult[0] ? mult[0] : 1 << 30;
    for (int c = 0; scales && c < N - (scales == 5); c++) {
        if (scales != 3)
            mult[c] = mult[0];
        if (scales != 4) {
            lsh[c] = scales == 2 ? lsh0 : 0;
            rsh[c] = scales == 2 ? 0 : rsh[0];
        }
        if (scales == 2) {
            memset(W + (size_t)c * K, wzp_mode ? (uint8_t)wzp[c] : 0, (size_t)K);
            bias[c] = (int32_t)(next() % 601) - 300;
        }
    }
    if (extreme == 4)
        memset(W, 0, (size_t)N * K);
    int32_t oz = lo + (int32_t)(next() % 256), amin = lo + (int32_t)(next() % 40), amax = hi - (int32_t)(next() % 40);
    if (next() % 4 == 0) /* the whole byte range: the x86 kernels then leave the clamp to their saturating packs */
        amin = lo, amax = hi;
    if (relu) /* out_zp = act_min: the x86 kernels then skip gemmlowp's negative-tie fixup */
        oz = amin;
    detc_conv_q8_params prm = {.n = N, .k = K, .is_signed = is_signed, .bias = bias,
                               .w_zp = wzp_mode ? wzp : NULL, .mult = mult, .lshift = lsh, .rshift = rsh,
                               .out_zp = oz, .act_min = amin, .act_max = amax, .round_once = round_once};
    if (scales == 6 && !round_once) {
        prm.frq = detc_rq_float_fit(mult[0], rsh[0], oz, amin, amax, &prm.frq_scale, &prm.frq_offset);
        conv_q8_frq_cases += prm.frq;
    }
#define XV(v) (is_signed ? (int64_t)(int8_t)(v) : (int64_t)(uint8_t)(v))
    memset(ref, 0x5a, (size_t)M * ldo + GUARD);
    for (int m = 0; m < M; m++) {
        int64_t rs = 0;
        for (int q = 0; q < K; q++)
            rs += XV(A[m * lda + q]);
        for (int c = 0; c < N; c++) {
            int64_t acc = bias[c] - (wzp_mode ? (int64_t)wzp[c] * rs : 0);
            for (int q = 0; q < K; q++)
                acc += XV(A[m * lda + q]) * XV(W[c * K + q]);
            detc_qmul q = {mult[c], lsh[c] - rsh[c]};
            int32_t x = (int32_t)(uint32_t)(uint64_t)acc;
            int64_t v = round_once ? ref_round_once(x, mult[c], lsh[c] - rsh[c]) + oz : detc_qmul_apply(x, q) + oz;
            ref[m * ldo + c] = (uint8_t)(v < amin ? amin : v > amax ? amax : v);
        }
    }
#undef XV
    memset(out, 0x5a, (size_t)M * ldo + GUARD);
    void *packed = k->conv_q8_pack(N, K, W, is_signed);
    int bad = -1;
    if (packed) {
        prm.packed = packed;
        k->conv_q8(&prm, M, A, lda, out, ldo);
        bad = 0;
        for (int i = 0; i < M * ldo + GUARD; i++)
            bad += out[i] != ref[i];
    }
    free(packed);
    free(A);
    free(W);
    free(out);
    free(ref);
    free(bias);
    free(wzp);
    free(mult);
    free(lsh);
    free(rsh);
    return bad;
}

/* quant.h's detc_qmul_apply_once (the portable conv_q8's round_once) against ruy's formula: hand-picked
 * ties (where gemmlowp's two roundings go the other way), then random values over every shift; where
 * x * 2^shift overflows int32 only the clamped 8-bit result is promised. */
static void check_round_once_scalar(void)
{
    static const struct {
        int32_t x, mult;
        int shift;
        int32_t once, twice;
    } ties[] = {
        {-2, 1 << 30, -1, 0, -1},           /* -0.5: up to 0; gemmlowp away from zero */
        {2, 1 << 30, -1, 1, 1},             /* 0.5 */
        {-12, 1 << 30, -2, -1, -2},         /* -12 * 0.5 / 4 = -1.5 */
        {-12, 3 << 29, -3, -1, -1},         /* -12 * 0.75 / 8 = -1.125, no tie: both -1 */
        {-8, 3 << 29, -2, -1, -2},          /* -8 * 0.75 / 4 = -1.5 */
        {-(1 << 30), 1 << 30, -30, 0, -1},  /* -0.5 with the largest shift of a tie in int32 */
        {3, (1 << 30) + 1, -1, 1, 1},       /* just above 0.75 */
        {1, (1 << 30) + 1, -1, 0, 1},       /* just above 0.25: gemmlowp's first rounding makes it 0.5, then 1 */
        {-1, 1 << 30, 0, 0, 0},             /* -0.5 with no right shift: gemmlowp's first rounding is half up too */
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof ties / sizeof ties[0]; i++) {
        detc_qmul q = {ties[i].mult, ties[i].shift};
        int32_t once = detc_qmul_apply_once(ties[i].x, q), twice = detc_qmul_apply(ties[i].x, q);
        int64_t ref = ref_round_once(ties[i].x, ties[i].mult, ties[i].shift);
        if (once != ref || once != ties[i].once || twice != ties[i].twice) {
            printf("  round once: x %d mult %d shift %d: %d (ruy %lld), twice %d\n", (int)ties[i].x, (int)ties[i].mult,
                   ties[i].shift, (int)once, (long long)ref, (int)twice);
            bad++;
        }
    }
    int differ = 0;
    for (int i = 0; i < 200000; i++) {
        int32_t x = (int32_t)next();
        if (i % 3 == 0)
            x >>= next() % 31;
        detc_qmul q = {(int32_t)((1u << 30) + (next() % (1u << 30))), -(int)(next() % 34) + 2};
        if (i % 64 == 0)
            q.multiplier = 0;
        int32_t once = detc_qmul_apply_once(x, q);
        int64_t ref = ref_round_once(x, q.multiplier, q.shift);
        int64_t xs = (int64_t)x * ((int64_t)1 << (q.shift > 0 ? q.shift : 0));
        if (xs >= INT32_MIN && xs <= INT32_MAX)
            bad += once != ref;
        else /* saturated: same sign, at least 2^30 (or both 0), so any 8-bit clamp gives the same byte */
            bad += !(q.multiplier == 0 ? once == 0 && ref == 0
                                        : (once >= (1 << 30) && ref >= once) || (once <= -(1 << 30) && ref <= once));
        differ += once != detc_qmul_apply(x, q);
    }
    CHECK(bad == 0, "detc_qmul_apply_once equals ruy's single rounding: %d wrong", bad);
    CHECK(differ > 0, "single and double rounding differ somewhere (%d of 200000 random values)", differ);
}

static void check_conv_q8(const detc_kernels *k)
{
    static const int Ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 31, 63, 64, 65, 67, 130};
    static const int Ns[] = {1, 3, 12, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 80, 100, 129, 273};
    static const int Ks[] = {1, 2, 3, 4, 5, 7, 8, 15, 24, 27, 32, 63, 64, 65, 96, 129, 200, 256, 300, 1024};
    int bad_cases = 0, cases = 0;
    for (int t = 0; t < 400; t++) {
        int M = Ms[next() % (sizeof Ms / sizeof Ms[0])], N = Ns[next() % (sizeof Ns / sizeof Ns[0])];
        int K = Ks[next() % (sizeof Ks / sizeof Ks[0])];
        if (t < 2 * (int)(sizeof Ks / sizeof Ks[0]))
            K = Ks[t / 2], N = 17 + t % 2 * 48, M = 6; /* every K with a channel tail */
        int is_signed = t % 2, wzp_mode = (t / 2) % 3, round_once = (t / 6) % 2;
        int extreme = t % 7 == 3 ? 1 : t % 7 == 5 ? 2 : t % 7 == 1 || t % 7 == 6 ? 3 : t % 7 == 4 ? 4 : 0;
        if (extreme == 1 && K > 1024)
            K = 1024;
        if (extreme == 4)
            wzp_mode = 0; /* acc = bias exactly */
        int relu = t % 5 == 2, tight = t % 3 == 1, scales = (t / 7) % 6;
        int bad = check_conv_q8_case(k, M, N, K, is_signed, wzp_mode, extreme, round_once, relu, tight, scales);
        if (bad)
            printf("  %s conv_q8: M %d N %d K %d %s%s, %s rounding%s%s, filter zero points %s%s: %d wrong\n", k->name,
                   M, N, K, is_signed ? "i8" : "u8", tight ? ", ldo = N" : "", round_once ? "single" : "double",
                   relu ? " (out_zp = act_min)" : "",
                   scales == 1 ? ", one scale" : scales == 2 ? ", one scale shifting left"
                   : scales == 3 ? ", one shift" : scales == 4 ? ", one multiplier"
                   : scales == 5 ? ", one scale but the last channel's" : "",
                   wzp_mode == 0 ? "none" : wzp_mode == 1 ? "per tensor" : "per channel",
                   extreme == 1 ? ", extreme values" : extreme == 2 ? ", extreme biases" : extreme == 3 ? ", 255-value filter range" : extreme == 4 ? ", exact ties" : "", bad);
        bad_cases += bad != 0;
        cases++;
    }
    /* the float requantization (kernels.h's frq): one scale, gemmlowp rounding, whatever shape */
    conv_q8_frq_cases = 0;
    for (int t = 0; t < 120; t++) {
        int M = Ms[next() % (sizeof Ms / sizeof Ms[0])], N = Ns[next() % (sizeof Ns / sizeof Ns[0])];
        int K = Ks[next() % (sizeof Ks / sizeof Ks[0])], is_signed = t % 2, wzp_mode = (t / 2) % 3;
        int bad = check_conv_q8_case(k, M, N, K, is_signed, wzp_mode, t % 5 == 4 ? 2 : 0, 0, t % 3 == 1, t % 4 < 2, 6);
        if (bad)
            printf("  %s conv_q8: M %d N %d K %d %s, float requantization: %d wrong\n", k->name, M, N, K,
                   is_signed ? "i8" : "u8", bad);
        bad_cases += bad != 0;
        cases++;
    }
    /* SSD MobileNet v1's Conv2d_3_pointwise (ReLU6 at 6/255: zero point 0, the whole byte range) has the float
     * form; a right shift of 0 is refused (the float product could round up to 2^31) */
    float fs, fb;
    CHECK(detc_rq_float_fit(2050247808, 7, 0, 0, 255, &fs, &fb) && fabsf(fs - 0.00745876f) < 1e-7f &&
              fb == 0.50390625f, "float requantization of SSD's Conv2d_3_pointwise (%g, %g)", fs, fb);
    CHECK(!detc_rq_float_fit(2050247808, 0, 0, 0, 255, &fs, &fb), "no float requantization with a right shift of 0");
    CHECK(conv_q8_frq_cases >= 20, "%s conv_q8: %d cases took the float requantization", k->name, conv_q8_frq_cases);
    CHECK(bad_cases == 0, "%s conv_q8: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* The depthwise op itself on its dwconv_q8 path with i8 per-channel weights (the op fixtures in
 * test_ops_quantized.c reach that path with u8 only): 37 channels, 3x3, stride 2, SAME padding, a non-zero
 * input zero point (folded into the bias), against the same naive reference, 1 and 2 threads, portable and
 * best kernels. */
static void check_dw_op_i8(void)
{
    enum { H = 9, W = 8, C = 37, OH = 5, OW = 4 };
    static int8_t x[H * W * C], w[9 * C];
    static int32_t bias[C], zps[C];
    static float wscale[C];
    const float xs = 0.05f, os = 0.11f;
    const int32_t xz = -7, oz = 3;
    for (int i = 0; i < H * W * C; i++)
        x[i] = (int8_t)next();
    for (int i = 0; i < 9 * C; i++)
        w[i] = (int8_t)(next() % 255 - 127);
    for (int c = 0; c < C; c++) {
        bias[c] = (int32_t)(next() % 20001) - 10000;
        wscale[c] = 0.001f + 0.0001f * (float)c;
        zps[c] = 0;
    }
    /* SAME, stride 2: total padding (OH-1)*2 + 3 - H = 2 rows (top 1), (OW-1)*2 + 3 - W = 1 column (left 0) */
    uint8_t ref[OH * OW * C];
    for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++)
            for (int c = 0; c < C; c++) {
                int64_t acc = bias[c];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = oy * 2 - 1 + ky, ix = ox * 2 + kx;
                        if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                            acc += (int64_t)(x[(iy * W + ix) * C + c] - xz) * w[(ky * 3 + kx) * C + c];
                    }
                detc_qmul q;
                detc_qmul_from_double((double)xs * (double)wscale[c] / (double)os, &q);
                int32_t v = detc_qmul_apply((int32_t)acc, q) + oz;
                ref[(oy * OW + ox) * C + c] = (uint8_t)(int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
            }
    static const int32_t xd[4] = {1, H, W, C}, wd[4] = {1, 3, 3, C}, bd[1] = {C};
    for (int threads = 1; threads <= 2; threads++)
        for (int best = 0; best < 2; best++) {
            oh_case c;
            oh_init(&c, "depthwise_conv2d", "{\"stride\": [2, 2], \"padding\": \"same\"}");
            c.kernels = best ? NULL : "portable";
            int ti = oh_input(&c, DETC_I8, 4, xd, x, false);
            int tw = oh_input(&c, DETC_I8, 4, wd, w, true);
            int tb = oh_input(&c, DETC_I32, 1, bd, bias, true);
            int to = oh_output(&c, DETC_I8);
            oh_quant1(&c, ti, xs, xz);
            oh_quant(&c, tw, C, 3, wscale, zps);
            float bscale[C];
            for (int k = 0; k < C; k++)
                bscale[k] = xs * wscale[k];
            oh_quant(&c, tb, C, 0, bscale, zps);
            oh_quant1(&c, to, os, oz);
            bool ok = oh_prepare(&c);
            if (!ok)
                oh_print_errors(&c);
            int bad = -1;
            if (ok && oh_eval(&c, threads) == DETC_OK) {
                const uint8_t *got = oh_data(&c, to);
                bad = 0;
                for (int i = 0; i < OH * OW * C; i++)
                    bad += got[i] != ref[i];
            }
            CHECK(bad == 0, "depthwise op i8 per-channel M=1 (%d thread(s), %s kernels): %d wrong of %d", threads,
                  best ? "best" : "portable", bad, OH * OW * C);
            oh_free(&c);
        }
}

/* The depthwise op on its dwconv_f32 path, in what the float op fixtures (test_ops_float.c) leave out:
 * batch 2, dilation, explicit asymmetric padding, stride 2 on one axis, no bias / a bias, 3x3 and 5x5, 37
 * channels, against a double reference (tolerance as in check_dwconv_f32), 1 and 2 threads, portable and
 * best kernels. */
static void check_dw_op_f32(void)
{
    enum { N = 2, H = 7, W = 9, C = 37 };
    static float x[N * H * W * C], w[25 * C], bias[C], ref[N * H * W * C];
    for (int i = 0; i < N * H * W * C; i++)
        x[i] = (float)((int)(next() % 20001) - 10000) / 3000.0f;
    for (int i = 0; i < 25 * C; i++)
        w[i] = (float)((int)(next() % 20001) - 10000) / 7000.0f;
    for (int c = 0; c < C; c++)
        bias[c] = (float)((int)(next() % 20001) - 10000) / 5000.0f;
    for (int kcase = 0; kcase < 2; kcase++) {
        const int K = kcase ? 5 : 3, dh = kcase ? 1 : 2, sw = 2, pt = 2, pl = 1, pb = 1, pr = 0;
        const int OH = (H + pt + pb - dh * (K - 1) - 1) + 1, OW = (W + pl + pr - (K - 1) - 1) / sw + 1;
        const bool with_bias = kcase == 1;
        const float lo = kcase ? -INFINITY : 0.0f, hi = kcase ? INFINITY : 6.0f;
        static double mag[N * H * W * C];
        for (int n = 0; n < N; n++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++)
                    for (int c = 0; c < C; c++) {
                        double acc = with_bias ? bias[c] : 0.0, m = fabs(acc);
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int iy = oy - pt + ky * dh, ix = ox * sw - pl + kx;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                                    double p = (double)x[((n * H + iy) * W + ix) * C + c] * w[(ky * K + kx) * C + c];
                                    acc += p;
                                    m += fabs(p);
                                }
                            }
                        int o = ((n * OH + oy) * OW + ox) * C + c;
                        ref[o] = (float)(acc < lo ? lo : acc > hi ? hi : acc);
                        mag[o] = m;
                    }
        char attrs[200];
        snprintf(attrs, sizeof attrs,
                 "{\"stride\": [1, %d], \"dilation\": [%d, 1], \"padding\": [%d, %d, %d, %d], \"activation\": \"%s\"}",
                 sw, dh, pt, pl, pb, pr, kcase ? "none" : "relu6");
        const int32_t xd[4] = {N, H, W, C}, wd[4] = {1, K, K, C}, bd[1] = {C};
        for (int threads = 1; threads <= 2; threads++)
            for (int best = 0; best < 2; best++) {
                oh_case c;
                oh_init(&c, "depthwise_conv2d", attrs);
                c.kernels = best ? NULL : "portable";
                oh_input(&c, DETC_F32, 4, xd, x, false);
                oh_input(&c, DETC_F32, 4, wd, w, true);
                if (with_bias)
                    oh_input(&c, DETC_F32, 1, bd, bias, true);
                int to = oh_output(&c, DETC_F32);
                bool ok = oh_prepare(&c);
                if (!ok)
                    oh_print_errors(&c);
                int bad = -1;
                if (ok && oh_eval(&c, threads) == DETC_OK) {
                    const float *got = oh_data(&c, to);
                    bad = 0;
                    for (int i = 0; i < N * OH * OW * C; i++)
                        bad += !(fabs(got[i] - (double)ref[i]) <= 1e-5 * mag[i] + 1e-6);
                }
                CHECK(bad == 0, "depthwise op f32 M=1 %dx%d (%d thread(s), %s kernels): %d wrong of %d", K, K,
                      threads, best ? "best" : "portable", bad, N * OH * OW * C);
                oh_free(&c);
            }
    }
}

/* Tables are composed once per process: every selection of a name, from any thread, returns the same
 * immutable table. */
/* The depthwise op's split of each output row into edges (per-pixel taps) and an interior run (dwconv_*_run)
 * on random geometries: widths 1..33, kernels 1..5 by 1..5, strides 1..3, dilations 1..2, explicit padding
 * 0..3 on each side (rows all interior, all edge, or no interior at all), u8 and f32 with C = 24 (the AVX-512
 * u8 groups with an 8-channel tail), portable and best kernels; u8 against an int64 reference bit for bit,
 * f32 within check_dwconv_f32's tolerance. */
static void check_dw_op_rows(void)
{
    enum { C = 24, MAXHW = 33 };
    static uint8_t xq[MAXHW * MAXHW * C], wq[25 * C], refq[MAXHW * MAXHW * C];
    static float xf[MAXHW * MAXHW * C], wf[25 * C], bf[C], reff[MAXHW * MAXHW * C];
    static double mag[MAXHW * MAXHW * C];
    static int32_t bq[C];
    const float xs = 0.02f, ws = 0.005f, os = 0.07f;
    const int32_t xz = 121, wz = 131, oz = 9;
    int bad_cases = 0, cases = 0;
    for (int iter = 0; iter < 48; iter++) {
        const int KH = 1 + (int)(next() % 5), KW = 1 + (int)(next() % 5), sh = 1 + (int)(next() % 3);
        const int sw = 1 + (int)(next() % 3), dh = 1 + (int)(next() % 2), dw = 1 + (int)(next() % 2);
        const int pt = (int)(next() % 4), pl = (int)(next() % 4), pb = (int)(next() % 4), pr = (int)(next() % 4);
        int H = 1 + (int)(next() % 12), W = 1 + (int)(next() % MAXHW);
        if (H + pt + pb < dh * (KH - 1) + 1)
            H = dh * (KH - 1) + 1;
        if (W + pl + pr < dw * (KW - 1) + 1)
            W = dw * (KW - 1) + 1;
        const int OH = (H + pt + pb - dh * (KH - 1) - 1) / sh + 1, OW = (W + pl + pr - dw * (KW - 1) - 1) / sw + 1;
        for (int i = 0; i < H * W * C; i++) {
            xq[i] = (uint8_t)next();
            xf[i] = (float)((int)(next() % 20001) - 10000) / 3000.0f;
        }
        for (int i = 0; i < KH * KW * C; i++) {
            wq[i] = (uint8_t)next();
            wf[i] = (float)((int)(next() % 20001) - 10000) / 7000.0f;
        }
        for (int c = 0; c < C; c++) {
            bq[c] = (int32_t)(next() % 20001) - 10000;
            bf[c] = (float)((int)(next() % 20001) - 10000) / 5000.0f;
        }
        detc_qmul q;
        detc_qmul_from_double((double)xs * (double)ws / (double)os, &q);
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < C; c++) {
                    int64_t acc = bq[c];
                    double accf = bf[c], m = fabs(bf[c]);
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++) {
                            int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue;
                            int xi = (iy * W + ix) * C + c, wi = (ky * KW + kx) * C + c;
                            acc += (int64_t)(xq[xi] - xz) * (wq[wi] - wz);
                            double pr_ = (double)xf[xi] * wf[wi];
                            accf += pr_;
                            m += fabs(pr_);
                        }
                    int32_t v = detc_qmul_apply((int32_t)acc, q) + oz;
                    int o = (oy * OW + ox) * C + c;
                    refq[o] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                    reff[o] = (float)accf;
                    mag[o] = m;
                }
        char attrs[200];
        snprintf(attrs, sizeof attrs, "{\"stride\": [%d, %d], \"dilation\": [%d, %d], \"padding\": [%d, %d, %d, %d]}",
                 sh, sw, dh, dw, pt, pl, pb, pr);
        const int32_t xd[4] = {1, H, W, C}, wd[4] = {1, KH, KW, C}, bd[1] = {C};
        for (int f32 = 0; f32 < 2; f32++)
            for (int best = 0; best < 2; best++) {
                oh_case c;
                oh_init(&c, "depthwise_conv2d", attrs);
                c.kernels = best ? NULL : "portable";
                int ti = oh_input(&c, f32 ? DETC_F32 : DETC_U8, 4, xd, f32 ? (const void *)xf : xq, false);
                int tw = oh_input(&c, f32 ? DETC_F32 : DETC_U8, 4, wd, f32 ? (const void *)wf : wq, true);
                int tb = oh_input(&c, f32 ? DETC_F32 : DETC_I32, 1, bd, f32 ? (const void *)bf : bq, true);
                int to = oh_output(&c, f32 ? DETC_F32 : DETC_U8);
                if (!f32) {
                    oh_quant1(&c, ti, xs, xz);
                    oh_quant1(&c, tw, ws, wz);
                    oh_quant1(&c, tb, xs * ws, 0);
                    oh_quant1(&c, to, os, oz);
                }
                bool ok = oh_prepare(&c);
                if (!ok)
                    oh_print_errors(&c);
                int bad = -1;
                if (ok && oh_eval(&c, 1 + best) == DETC_OK) {
                    bad = 0;
                    for (int i = 0; i < OH * OW * C; i++)
                        bad += f32 ? !(fabs(((const float *)oh_data(&c, to))[i] - reff[i]) <= 1e-5 * mag[i] + 1e-6)
                                   : ((const uint8_t *)oh_data(&c, to))[i] != refq[i];
                }
                if (bad)
                    printf("  depthwise op rows: %s, %dx%d input, %dx%d kernel, stride %dx%d, dilation %dx%d, pads %d %d %d "
                           "%d, %s kernels: %d wrong\n",
                           f32 ? "f32" : "u8", H, W, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr, best ? "best" : "portable", bad);
                bad_cases += bad != 0;
                cases++;
                oh_free(&c);
            }
    }
    CHECK(bad_cases == 0, "depthwise op rows (edges and interior runs): %d wrong of %d cases", bad_cases, cases);
}

static void *select_many(void *arg)
{
    const detc_kernels **got = arg;
    for (int i = 0; i < 1000; i++)
        if (detc_kernels_select(NULL) != got[0] || detc_kernels_select("portable") != got[1])
            return (void *)1;
    return NULL;
}

static void check_select_threads(void)
{
    const detc_kernels *want[2] = {detc_kernels_select("auto"), detc_kernels_select("portable")};
    pthread_t t[4];
    int bad = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, select_many, want);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    CHECK(bad == 0 && want[0] && want[1] && want[0] != want[1] && strcmp(want[1]->name, "portable") == 0,
          "kernel tables are selected once: the same pointers from 4 threads (auto %s)", want[0] ? want[0]->name : "-");
}

/* conv_f32 against a double reference: M, N, K around every variant's tile sizes (rows 12/6, panels 32/16,
 * K blocks of 256; a last panel of 1..8, 9..16, 17..24 and 25..32 live channels, which the AVX-512 kernel runs as a
 * ymm, a zmm, a zmm and a ymm, two zmm), lda and ldo wider than K and N, with and without bias, with relu6 and with no clamp;
 * |got - exact| <= 1e-5 * (sum |a*w| + |bias|) + 1e-6. */
static void check_conv_f32(const detc_kernels *k)
{
    static const int Ms[] = {1, 5, 6, 7, 12, 13, 25, 40};
    static const int Ns[] = {1, 8, 15, 16, 17, 20, 24, 31, 32, 33, 48, 56, 64, 70};
    static const int Ks[] = {1, 3, 16, 27, 255, 256, 257, 600};
    int bad_cases = 0, cases = 0;
    double worst = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
                int M = Ms[mi], N = Ns[ni], K = Ks[ki], lda = K + (int)(ki % 3), ldo = N + (int)(ni % 2) * 5;
                int mode = (int)((mi + ni + ki) % 3); /* 0: bias + relu6, 1: no bias, no clamp, 2: bias, relu */
                float *A = malloc(sizeof(float) * (size_t)M * lda), *W = malloc(sizeof(float) * (size_t)N * K);
                float *bias = malloc(sizeof(float) * (size_t)N), *out = malloc(sizeof(float) * (size_t)M * ldo);
                for (int i = 0; i < M * lda; i++)
                    A[i] = (float)((int)(next() % 2001) - 1000) / 500.0f;
                for (int i = 0; i < N * K; i++)
                    W[i] = (float)((int)(next() % 2001) - 1000) / 2000.0f;
                for (int i = 0; i < N; i++)
                    bias[i] = (float)((int)(next() % 2001) - 1000) / 100.0f;
                for (int i = 0; i < M * ldo; i++)
                    out[i] = 12345.0f; /* the gap past N must stay as it is */
                float lo = mode == 1 ? -INFINITY : 0.0f, hi = mode == 0 ? 6.0f : INFINITY;
                void *packed = k->conv_f32_pack(N, K, W);
                CHECK(packed != NULL, "%s conv_f32_pack(%d, %d)", k->name, N, K);
                if (!packed)
                    continue;
                detc_conv_f32_params prm = {.n = N, .k = K, .packed = packed, .bias = mode == 1 ? NULL : bias,
                                            .act_lo = lo, .act_hi = hi};
                k->conv_f32(&prm, M, A, lda, out, ldo);
                int bad = 0;
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < ldo; n++) {
                        float got = out[(size_t)m * ldo + n];
                        if (n >= N) {
                            bad += got != 12345.0f;
                            continue;
                        }
                        double r = mode == 1 ? 0.0 : bias[n], mag = fabs(r);
                        for (int q = 0; q < K; q++) {
                            double pr = (double)A[(size_t)m * lda + q] * W[(size_t)n * K + q];
                            r += pr;
                            mag += fabs(pr);
                        }
                        r = r < lo ? lo : r > hi ? hi : r;
                        double tol = 1e-5 * mag + 1e-6, e = fabs(got - r) / tol;
                        worst = e > worst ? e : worst;
                        bad += !(e <= 1.0);
                    }
                if (bad)
                    printf("  %s conv_f32: M %d N %d K %d lda %d ldo %d mode %d: %d wrong\n", k->name, M, N, K, lda,
                           ldo, mode, bad);
                bad_cases += bad > 0;
                cases++;
                free(packed);
                free(A);
                free(W);
                free(bias);
                free(out);
            }
    printf("  %s conv_f32: worst error %.3f of the tolerance\n", k->name, worst);
    CHECK(bad_cases == 0, "%s conv_f32: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* wino_in_f32 and wino_out_f32 against float64 transforms (matrices from ops/conv2d_winograd.c), channel
 * counts around every vector width, a padding tap (NULL-free: a row of zeros), pixels left out of the
 * output tile, bias or none, relu6 or none: |got - exact| <= 1e-6 * (|B^T| |d| |B|) + 1e-7 (likewise
 * with A and the bias). */
static void check_winograd(const detc_kernels *k)
{
    static const double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    static const double AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
    static const int Cs[] = {1, 7, 8, 9, 16, 17, 33, 64};
    int bad = 0;
    for (size_t ci = 0; ci < sizeof Cs / sizeof Cs[0]; ci++) {
        const int C = Cs[ci];
        const size_t stride = (size_t)C + 3;
        float *x = malloc(sizeof(float) * 36 * C), *zeros = calloc((size_t)C, sizeof(float));
        float *v = malloc(sizeof(float) * 36 * stride), *o = malloc(sizeof(float) * 16 * C), *bias = malloc(sizeof(float) * C);
        const float *taps[36];
        for (int i = 0; i < 36 * C; i++)
            x[i] = (float)((int)(next() % 20001) - 10000) / 3000.0f;
        for (int c = 0; c < C; c++)
            bias[c] = (float)((int)(next() % 2001) - 1000) / 300.0f;
        for (int p = 0; p < 36; p++)
            taps[p] = p == 7 ? zeros : x + p * C;
        k->wino_in_f32(C, taps, v, stride);
        for (int c = 0; c < C; c++)
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++) {
                    double r = 0, mag = 0;
                    for (int y = 0; y < 6; y++)
                        for (int z = 0; z < 6; z++) {
                            double d = taps[y * 6 + z][c];
                            r += BT[a][y] * d * BT[b][z];
                            mag += fabs(BT[a][y] * d * BT[b][z]);
                        }
                    bad += !(fabs(v[(a * 6 + b) * stride + c] - r) <= 1e-6 * mag + 1e-7);
                }
        for (int mode = 0; mode < 2; mode++) {
            float *out[16];
            for (int p = 0; p < 16; p++) {
                out[p] = p % 5 == 3 ? NULL : o + p * C;
                for (int c = 0; c < C; c++)
                    o[p * C + c] = 777.0f;
            }
            float lo = mode ? 0.0f : -INFINITY, hi = mode ? 6.0f : INFINITY;
            k->wino_out_f32(C, v, stride, mode ? bias : NULL, lo, hi, out);
            for (int p = 0; p < 16; p++)
                for (int c = 0; c < C; c++) {
                    if (!out[p]) {
                        bad += o[p * C + c] != 777.0f;
                        continue;
                    }
                    double r = mode ? bias[c] : 0, mag = fabs(r);
                    for (int y = 0; y < 6; y++)
                        for (int z = 0; z < 6; z++) {
                            double t = AT[p / 4][y] * v[(y * 6 + z) * stride + c] * AT[p % 4][z];
                            r += t;
                            mag += fabs(t);
                        }
                    r = r < lo ? lo : r > hi ? hi : r;
                    bad += !(fabs(o[p * C + c] - r) <= 1e-6 * mag + 1e-7);
                }
        }
        free(x);
        free(zeros);
        free(v);
        free(o);
        free(bias);
    }
    CHECK(bad == 0, "%s wino_in_f32 / wino_out_f32: %d values off float64", k->name, bad);
}

/* logistic_f32 against float64 over the whole float range: random magnitudes from 1e-8 to 200 of both
 * signs, the ends of the clamp, zeros, infinities and a NaN; lengths 0..40 so every tail is hit, y == x
 * (in place) included. Bound as documented in kernels.h. */
static void check_logistic(const detc_kernels *k)
{
    enum { N = 4096 };
    static float x[N + 64], y[N + 64];
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double mag = pow(10.0, -8.0 + 10.3 * (next() % 100000) / 100000.0);
        x[i] = (float)((next() & 1) ? mag : -mag);
    }
    const float special[] = {0.0f, -0.0f, 87.0f, -87.0f, 88.0f, -88.0f, 89.5f, -89.5f, 103.9f, -103.9f, 1e30f, -1e30f,
                             INFINITY, -INFINITY, 0.5f, -0.5f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[i] = special[i];
    k->logistic_f32(N, x, y);
    for (int i = 0; i < N; i++) {
        double want = 1.0 / (1.0 + exp(-(double)x[i])), err = fabs((double)y[i] - want);
        double rel = want > 0 ? err / want : err;
        if (!(err <= 1e-6 * want + 1e-37)) {
            if (bad++ < 5)
                printf("  %s logistic_f32(%.9g) = %.9g, float64 %.17g\n", k->name, x[i], y[i], want);
        } else if (want > 1e-30 && rel > worst)
            worst = rel;
    }
    for (int n = 0; n <= 40; n++) { /* tails, in place, and a NaN that stays NaN */
        float a[48], b[48];
        for (int i = 0; i < 48; i++)
            a[i] = b[i] = (float)((int)(next() % 2000) - 1000) / 97.0f;
        if (n > 0)
            a[n - 1] = b[n - 1] = NAN;
        k->logistic_f32(n, a, a);
        for (int i = 0; i < 48; i++) {
            double want = 1.0 / (1.0 + exp(-(double)b[i]));
            bool ok = i >= n ? a[i] == b[i] /* past the end: untouched */
                      : isnan(b[i]) ? isnan(a[i])
                                    : fabs((double)a[i] - want) <= 1e-6 * want + 1e-37;
            bad += !ok;
        }
    }
    printf("  %s logistic_f32: worst relative error %.2g (bound 1e-6)\n", k->name, worst);
    CHECK(bad == 0, "%s logistic_f32: %d values off float64", k->name, bad);
}

/* '+'-joined names: the portable table with those variants over it, in the order of preference whatever
 * the order in the name, composed once. */
static void check_select_sets(void)
{
    CHECK(detc_kernels_select("portable+no-such-table") == NULL && detc_kernels_select("portable+") == NULL &&
              detc_kernels_select("+portable") == NULL && detc_kernels_select("portable+auto") == NULL,
          "a '+' list with an unknown or empty name is refused");
    const detc_kernels *p = detc_kernels_select("portable+portable");
    CHECK(p && strcmp(p->name, "portable") == 0 && p->conv_q8 == detc_kernels_select("portable")->conv_q8,
          "'portable+portable' is the portable table (%s)", p ? p->name : "NULL");
    const detc_kernels *a = detc_kernels_select("avx2"), *v = detc_kernels_select("avx512vnni");
    if (!a || !v) {
        printf("SKIP '+' table sets of avx2 and avx512vnni: not supported by this CPU\n");
        return;
    }
    const detc_kernels *s = detc_kernels_select("avx512vnni+avx2");
    CHECK(s && strcmp(s->name, "portable+avx2+avx512vnni") == 0 && s->gemm_f32 == a->gemm_f32 &&
              s->conv_q8 == v->conv_q8 && s->conv_q8_pack == v->conv_q8_pack,
          "'avx512vnni+avx2' composes avx2 then avx512vnni over portable (%s)", s ? s->name : "NULL");
    CHECK(s == detc_kernels_select("avx2+avx512vnni"), "a set is composed once, whatever the order of its names");
    check_conv_q8(s);
}

/* ---------------- elementwise int8: add_q8, quantize_q8, dequantize_q8 ----------------
 * Against references written here in int64 and double (not the kernels' formulation): every table, so every
 * SIMD variant equals the portable one bit for bit. Output buffers carry guard bytes after n. */

/* gemmlowp SaturatingRoundingDoublingHighMul: a*b / 2^31 rounded to nearest, ties toward +infinity. */
static int64_t ref_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t p = (int64_t)a * b + (1LL << 30);
    return p >= 0 ? p / (1LL << 31) : -((-p + (1LL << 31) - 1) / (1LL << 31)); /* floor */
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero. */
static int64_t ref_rdbpot(int64_t x, int e)
{
    if (e == 0)
        return x;
    int64_t half = 1LL << (e - 1);
    return x >= 0 ? (x + half) / (1LL << e) : -((-x + half) / (1LL << e));
}

static int32_t ref_rescale(int64_t x, int32_t mult, int32_t rshift)
{
    return (int32_t)ref_rdbpot(ref_srdhm((int32_t)x, mult), rshift);
}

static int32_t pick_mult(void)
{
    switch (next() % 6) {
    case 0:
        return 0;
    case 1:
        return 1 << 30;
    case 2:
        return INT32_MAX;
    default:
        return (int32_t)((1u << 30) + next() % (1u << 30));
    }
}

static int32_t pick_rshift(void)
{
    int r = (int)(next() % 8);
    return r == 0 ? 0 : r == 1 ? 31 : r == 2 ? 1 : (int32_t)(next() % 32);
}

static void check_add_q8(const detc_kernels *k)
{
    static const size_t ns[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257, 1000};
    int bad_cases = 0, cases = 0;
    uint8_t a[1024], b[1024], out[1024 + 16], ref[1024 + 16];
    for (int t = 0; t < 1500; t++) {
        size_t n = ns[next() % (sizeof ns / sizeof ns[0])];
        int is_signed = t % 2, as = (t / 2) % 4 != 1, bs = (t / 2) % 4 != 2;
        if ((t / 2) % 4 == 3 && t % 3 == 0)
            as = bs = 0;
        int lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
        detc_add_q8_params prm = {.is_signed = is_signed, .sub = (t / 8) % 2};
        prm.a_offset = -(lo + (int32_t)(next() % 256));
        prm.b_offset = -(lo + (int32_t)(next() % 256));
        prm.a_mult = pick_mult();
        prm.b_mult = pick_mult();
        prm.out_mult = pick_mult();
        prm.a_rshift = pick_rshift();
        prm.b_rshift = pick_rshift();
        prm.out_rshift = pick_rshift();
        if (t % 5 == 0) { /* realistic: inputs halved or less, output shift small: many results saturate */
            prm.a_rshift = 1 + (int32_t)(next() % 3);
            prm.b_rshift = 1 + (int32_t)(next() % 3);
            prm.out_rshift = 16 + (int32_t)(next() % 6);
        }
        if (t % 4 == 1) { /* as ops/add.c: the operand with the larger scale has multiplier 2^30, shift 0 */
            if (t % 8 == 1) {
                prm.a_mult = 1 << 30;
                prm.a_rshift = 0;
            } else {
                prm.b_mult = 1 << 30;
                prm.b_rshift = 0;
            }
        }
        if (t % 6 == 5) { /* operands rescaled to about +-255 and output near 1:1: every rounding shows */
            prm.a_rshift = 17 + (int32_t)(next() % 6);
            prm.b_rshift = 17 + (int32_t)(next() % 6);
            prm.out_mult = (int32_t)((1u << 30) + next() % (1u << 30));
            prm.out_rshift = (int32_t)(next() % 3);
        }
        int near = t % 13 == 7;
        if (near) { /* a - b of equal bytes with multipliers close together: the difference of the two rescaled
                     * operands is a few units, so the output shows their last bits */
            prm.sub = 1;
            prm.a_mult = (int32_t)((1u << 30) + 4096 + next() % ((1u << 30) - 8192));
            prm.b_mult = prm.a_mult + (int32_t)(next() % 8192) - 4096;
            prm.a_rshift = prm.b_rshift = (int32_t)(next() % 3);
            prm.b_offset = prm.a_offset;
            prm.out_mult = (int32_t)((1u << 30) + next() % (1u << 30));
            prm.out_rshift = (int32_t)(next() % 2);
        }
        if (t % 11 == 3) { /* offsets past +-255: the x86 kernels' general path */
            prm.a_offset = (t % 2 ? 1 : -1) * (256 + (int32_t)(next() % 128));
            prm.b_offset = -(lo + (int32_t)(next() % 256));
        }
        prm.out_zp = lo + (int32_t)(next() % 256);
        prm.act_min = t % 3 ? lo : lo + (int32_t)(next() % 100);
        prm.act_max = t % 3 ? hi : hi - (int32_t)(next() % 100);
        for (size_t i = 0; i < sizeof a; i++) {
            a[i] = t % 7 == 0 ? (uint8_t)(i % 2 ? lo : hi) : (uint8_t)next();
            b[i] = t % 7 == 0 ? (uint8_t)(i % 3 ? hi : lo) : (uint8_t)next();
            b[i] = near ? a[i] : b[i];
        }
        memset(ref, 0xa5, sizeof ref);
        memset(out, 0xa5, sizeof out);
        for (size_t i = 0; i < n; i++) {
            uint8_t ba = a[i * (size_t)as], bb = b[i * (size_t)bs];
            int64_t qa = is_signed ? (int8_t)ba : ba, qb = is_signed ? (int8_t)bb : bb;
            int32_t x = ref_rescale((qa + prm.a_offset) * 1048576, prm.a_mult, prm.a_rshift);
            int32_t y = ref_rescale((qb + prm.b_offset) * 1048576, prm.b_mult, prm.b_rshift);
            int64_t v = ref_rescale(prm.sub ? (int64_t)x - y : (int64_t)x + y, prm.out_mult, prm.out_rshift) + prm.out_zp;
            ref[i] = (uint8_t)(v < prm.act_min ? prm.act_min : v > prm.act_max ? prm.act_max : v);
        }
        k->add_q8(&prm, n, a, as, b, bs, out);
        int bad = memcmp(out, ref, sizeof out) != 0;
        if (bad)
            printf("  %s add_q8: n %zu %s %s steps %d %d: wrong\n", k->name, n, is_signed ? "i8" : "u8",
                   prm.sub ? "sub" : "add", as, bs);
        bad_cases += bad;
        cases++;
    }
    CHECK(bad_cases == 0, "%s add_q8: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* roundf's half away from zero, in double (exact for any float) */
static double ref_round_away(float q)
{
    double d = q;
    return d >= 0 ? floor(d + 0.5) : -floor(-d + 0.5);
}

static void check_quantize_q8(const detc_kernels *k)
{
    static const size_t ns[] = {0, 1, 5, 8, 15, 16, 17, 31, 32, 33, 100, 255};
    float x[256];
    uint8_t out[256 + 16], ref[256 + 16];
    int bad_cases = 0, cases = 0;
    for (int t = 0; t < 600; t++) {
        size_t n = ns[next() % (sizeof ns / sizeof ns[0])];
        int is_signed = t % 2;
        int lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
        int32_t zp = lo + (int32_t)(next() % 256);
        float scale = t % 4 == 0 ? ldexpf(1.0f, (int)(next() % 9) - 6) /* exact ties */
                      : t % 4 == 1 ? 1e-30f : (float)(next() % 100000 + 1) * 1e-5f;
        for (size_t i = 0; i < 256; i++) {
            uint32_t kind = next() % 16;
            float v = ((float)(int32_t)(next() % 20001) - 10000.0f) * 0.037f * scale;
            if (kind == 0)
                v = ((float)(int32_t)(next() % 601) - 300.0f + 0.5f) * scale; /* a tie when scale is 2^k */
            else if (kind == 1) {
                static const float special[] = {NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0.0f, -0.0f,
                                                1e-45f, -1e-45f, 3e9f, -3e9f, 0.49999997f, -0.49999997f,
                                                0.5f, -0.5f, 8388607.5f, -8388607.5f, 16777216.0f, 2.5f, -2.5f};
                v = special[next() % (sizeof special / sizeof special[0])];
            } else if (kind == 2)
                v = nextafterf(((float)(int32_t)(next() % 61) - 30.0f + 0.5f) * scale, next() % 2 ? INFINITY : -INFINITY);
            x[i] = v;
        }
        memset(ref, 0xa5, sizeof ref);
        memset(out, 0xa5, sizeof out);
        for (size_t i = 0; i < n; i++) {
            float q = x[i] / scale;
            double r = (q != q ? 0.0 : ref_round_away(q)) + zp; /* NaN: the zero point */
            ref[i] = (uint8_t)(int32_t)(r < lo ? lo : r > hi ? hi : r);
        }
        k->quantize_q8(n, x, scale, zp, is_signed, out);
        int bad = memcmp(out, ref, sizeof out) != 0;
        if (bad)
            printf("  %s quantize_q8: n %zu %s scale %g zp %d: wrong\n", k->name, n, is_signed ? "i8" : "u8",
                   (double)scale, zp);
        bad_cases += bad;
        cases++;
    }
    CHECK(bad_cases == 0, "%s quantize_q8: %d wrong of %d cases", k->name, bad_cases, cases);
}

static void check_dequantize_q8(const detc_kernels *k)
{
    static const size_t ns[] = {0, 1, 5, 7, 8, 9, 15, 16, 17, 33, 100, 256};
    uint8_t q[256];
    float out[256 + 8], ref[256 + 8];
    int bad_cases = 0, cases = 0;
    for (int t = 0; t < 300; t++) {
        size_t n = ns[next() % (sizeof ns / sizeof ns[0])];
        int is_signed = t % 2;
        int32_t zp = (is_signed ? -128 : 0) + (int32_t)(next() % 256);
        float scale = t % 3 == 0 ? 1e-40f /* subnormal products */ : (float)(next() % 1000000 + 1) * 3.1e-7f;
        for (int i = 0; i < 256; i++)
            q[i] = t % 5 == 0 ? (uint8_t)i : (uint8_t)next();
        for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++)
            ref[i] = out[i] = -7.0f;
        for (size_t i = 0; i < n; i++) /* the product of a float and a 9-bit integer is exact in double */
            ref[i] = (float)((double)scale * (double)((is_signed ? (int8_t)q[i] : q[i]) - zp));
        k->dequantize_q8(n, q, scale, zp, is_signed, out);
        int bad = memcmp(out, ref, sizeof out) != 0;
        if (bad)
            printf("  %s dequantize_q8: n %zu %s: wrong\n", k->name, n, is_signed ? "i8" : "u8");
        bad_cases += bad;
        cases++;
    }
    CHECK(bad_cases == 0, "%s dequantize_q8: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* A^T's 6 -> 4 in the order the wino_out_q8 contract states (kernels.h, wino_out_f32's): each sum left to right. */
static void ref_at6(const float m[6], float o[4])
{
    float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    float e0 = m[0] + s12, t2 = 2.0f * d34, t4 = 4.0f * s34, t8 = 8.0f * d34;
    o[0] = e0 + s34;
    o[1] = d12 + t2;
    o[2] = s12 + t4;
    float e3 = d12 + t8;
    o[3] = e3 + m[5];
}

/* wino_out_q8 against its contract computed here step by step in float (scale, A^T m A, bias) and the rounding
 * in double: channel counts off the vector widths, padded strides, u8 and i8, activation clamps, pixels left out
 * (their bytes and the bytes past C untouched), products from small to near 2^31 and exact ties. */
static void check_wino_out_q8(const detc_kernels *k)
{
    static const int cs[] = {1, 7, 8, 15, 16, 17, 24, 33, 64, 100};
    int bad_cases = 0, cases = 0;
    for (int t = 0; t < 200; t++) {
        const int C = cs[next() % 10], is_signed = t % 2;
        const size_t stride = (size_t)C + next() % 9;
        const int qmin = is_signed ? -128 : 0;
        int32_t *acc = malloc(sizeof(int32_t) * 36 * stride);
        float *scale = malloc(sizeof(float) * 36 * (size_t)C), *bias = malloc(sizeof(float) * (size_t)C);
        /* big: products near 2^31; ties: scales, bias and the output scale powers of two and products small
         * enough that every float step is exact, so that y / out_scale lands on halves */
        const int big = t % 4 == 0, ties = t % 4 == 1;
        for (size_t i = 0; i < 36 * stride; i++)
            acc[i] = big    ? (int32_t)(next() % 2000000001u) - 1000000000
                     : ties ? (int32_t)(next() % 20001) - 10000
                            : (int32_t)(next() % 200001) - 100000;
        for (int i = 0; i < 36 * C; i++)
            scale[i] = ties ? 0.03125f : (float)(next() % 1000 + 1) * (big ? 1e-9f : 1e-6f);
        for (int c = 0; c < C; c++)
            bias[c] = ((float)(int32_t)(next() % 2001) - 1000.0f) * (ties ? 0.03125f : 0.01f);
        detc_wino_q8_out_params prm = {.channels = C,
                                       .scale = scale,
                                       .bias = bias,
                                       .out_scale = ties ? 0.0625f : (float)(next() % 1000 + 1) * 1e-3f,
                                       .out_zp = qmin + (int32_t)(next() % 256),
                                       .q_lo = t % 5 == 0 ? qmin + (int32_t)(next() % 100) : qmin,
                                       .q_hi = t % 5 == 0 ? qmin + 155 + (int32_t)(next() % 100) : qmin + 255};
        uint8_t *out = malloc((size_t)16 * (size_t)(C + 8)), *ref = malloc((size_t)16 * (size_t)(C + 8));
        memset(out, 0xa5, (size_t)16 * (size_t)(C + 8));
        memset(ref, 0xa5, (size_t)16 * (size_t)(C + 8));
        uint8_t *outs[16];
        for (int p = 0; p < 16; p++)
            outs[p] = t % 7 == 3 && next() % 3 == 0 ? NULL : out + (size_t)p * (size_t)(C + 8);
        for (int c = 0; c < C; c++) {
            float m[36], col[24], y[16];
            for (int xi = 0; xi < 36; xi++) {
                float a = (float)acc[(size_t)xi * stride + (size_t)c];
                m[xi] = a * scale[(size_t)xi * (size_t)C + (size_t)c];
            }
            for (int x = 0; x < 6; x++) { /* columns: col[r*6 + x] = (A^T m)[r][x] */
                float v[6], o[4];
                for (int yy = 0; yy < 6; yy++)
                    v[yy] = m[yy * 6 + x];
                ref_at6(v, o);
                for (int r = 0; r < 4; r++)
                    col[r * 6 + x] = o[r];
            }
            for (int r = 0; r < 4; r++) /* rows */
                ref_at6(col + r * 6, y + r * 4);
            for (int p = 0; p < 16; p++) {
                if (!outs[p])
                    continue;
                float v = y[p] + bias[c];
                float q = v / prm.out_scale;
                double r = (q != q ? 0.0 : ref_round_away(q)) + prm.out_zp;
                r = r < prm.q_lo ? prm.q_lo : r > prm.q_hi ? prm.q_hi : r;
                ref[(size_t)p * (size_t)(C + 8) + (size_t)c] = (uint8_t)(int32_t)r;
            }
        }
        k->wino_out_q8(&prm, acc, stride, outs);
        int bad = memcmp(out, ref, (size_t)16 * (size_t)(C + 8)) != 0;
        if (bad)
            printf("  %s wino_out_q8: C %d %s out_scale %g: wrong\n", k->name, C, is_signed ? "i8" : "u8",
                   (double)prm.out_scale);
        bad_cases += bad;
        cases++;
        free(acc);
        free(scale);
        free(bias);
        free(out);
        free(ref);
    }
    CHECK(bad_cases == 0, "%s wino_out_q8: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* wino_in_s16 against B^T d B computed here in int64 (B^T of ops/conv2d_winograd.c), d = x - zp: channel counts
 * off the vector widths, u8 and i8, zero points and inputs at the ends of the range (|d| = 255), a padded stride,
 * and the words between channel runs left as they are. */
static void check_wino_in_s16(const detc_kernels *k)
{
    static const int cs[] = {1, 7, 15, 16, 17, 31, 32, 33, 64, 100};
    int bad_cases = 0, cases = 0, reached = 0;
    for (int t = 0; t < 120; t++) {
        int C = cs[next() % 10], is_signed = t % 2, extreme = t % 3 == 0;
        int lo = is_signed ? -128 : 0;
        int32_t zp = extreme ? (next() % 2 ? lo : lo + 255) : lo + (int32_t)(next() % 256);
        size_t stride = (size_t)C + next() % 5;
        uint8_t *x = malloc((size_t)36 * C);
        for (int i = 0; i < 36 * C; i++) {
            int v = extreme ? (next() % 2 ? lo : lo + 255) : lo + (int)(next() % 256);
            x[i] = (uint8_t)v;
        }
        const uint8_t *taps[36];
        for (int p = 0; p < 36; p++)
            taps[p] = x + (size_t)p * C;
        int16_t *v = malloc(sizeof(int16_t) * 36 * stride), *ref = malloc(sizeof(int16_t) * 36 * stride);
        for (size_t i = 0; i < 36 * stride; i++)
            v[i] = ref[i] = 0x5a5a;
        for (int c = 0; c < C; c++) {
            int64_t d[6][6], tr[36];
            for (int p = 0; p < 36; p++)
                d[p / 6][p % 6] = (is_signed ? (int)(int8_t)x[(size_t)p * C + c] : (int)x[(size_t)p * C + c]) - zp;
            wino_ref_input(d, tr);
            for (int xi = 0; xi < 36; xi++) {
                ref[(size_t)xi * stride + c] = (int16_t)tr[xi];
                int m = (int)(tr[xi] < 0 ? -tr[xi] : tr[xi]);
                reached = m > reached ? m : reached;
            }
        }
        k->wino_in_s16(C, taps, zp, is_signed, v, stride);
        int bad = memcmp(v, ref, sizeof(int16_t) * 36 * stride) != 0;
        if (bad)
            printf("  %s wino_in_s16: C %d %s zp %d: wrong\n", k->name, C, is_signed ? "i8" : "u8", zp);
        bad_cases += bad;
        cases++;
        free(x);
        free(v);
        free(ref);
    }
    CHECK(bad_cases == 0 && reached <= 25500, "%s wino_in_s16: %d wrong of %d cases (largest |v| %d)", k->name,
          bad_cases, cases, reached);
}

/* gemm_s16 against an int64 reference reduced modulo 2^32 (the kernels wrap as the portable one does): tails
 * of M, N and K, padded strides, full-range int16 values, and the int8 Winograd conv's worst case: inputs of
 * |t| = 25500 whose signs match filter rows of sum |w| = Q + K/2 (Q = floor((2^31 - 1) / 25500) - K, the
 * bound ops/conv2d_winograd_q8.c guarantees), whose sums reach 2^31 - 1 without passing it. */
static void check_gemm_s16(const detc_kernels *k)
{
    static const int ms[] = {1, 3, 4, 7, 8, 9, 17}, ns[] = {1, 5, 8, 16, 17, 31, 32, 33, 70},
                     ks[] = {1, 2, 3, 7, 16, 33, 64, 257};
    int bad_cases = 0, cases = 0;
    for (int t = 0; t < 160; t++) {
        int M = ms[next() % 7], N = ns[next() % 9], K = ks[next() % 8], worst = t % 4 == 3;
        int lda = K + (int)(next() % 3), ldo = N + (int)(next() % 5);
        int16_t *A = malloc(sizeof(int16_t) * (size_t)M * (size_t)lda + 2), *W = malloc(sizeof(int16_t) * (size_t)N * K);
        int32_t *out = malloc(sizeof(int32_t) * (size_t)M * ldo), *ref = malloc(sizeof(int32_t) * (size_t)M * ldo);
        int64_t q_bound = 2147483647 / 25500 - K;
        for (int c = 0; c < N; c++) {
            int64_t budget = q_bound + K / 2; /* the row's sum of |w| in the worst case, spread evenly */
            for (int q = 0; q < K; q++) {
                int32_t v = (int32_t)(next() % 65536) - 32768;
                if (worst) {
                    int64_t mag = budget / K + (q < budget % K);
                    v = (int32_t)(mag > 32767 ? 32767 : mag) * (next() % 2 ? 1 : -1);
                }
                W[(size_t)c * K + q] = (int16_t)v;
            }
        }
        for (int r = 0; r < M; r++)
            for (int q = 0; q < lda; q++)
                A[(size_t)r * lda + q] = worst ? (int16_t)(q < K && W[(size_t)(r % N) * K + q] < 0 ? -25500 : 25500)
                                               : (int16_t)((int32_t)(next() % 65536) - 32768);
        for (size_t i = 0; i < (size_t)M * ldo; i++)
            out[i] = ref[i] = 0x5a5a5a5a; /* the gaps between rows (ldo > N) must stay as they are */
        int reached = 0;
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) {
                int64_t sum = 0;
                for (int q = 0; q < K; q++)
                    sum += (int64_t)A[(size_t)r * lda + q] * W[(size_t)c * K + q];
                ref[(size_t)r * ldo + c] = (int32_t)(uint32_t)(uint64_t)sum;
                if (worst && c == r % N) /* the row whose signs match: exact, below 2^31 */
                    reached |= sum > 2147483647 || sum < 2147483647LL * 3 / 4 ? 2 : 1;
            }
        void *packed = k->conv_s16_pack(N, K, W);
        k->gemm_s16(packed, N, K, M, A, lda, out, ldo);
        int bad = memcmp(out, ref, sizeof(int32_t) * (size_t)M * ldo) != 0 || (worst && reached != 1 && K > 2);
        if (bad)
            printf("  %s gemm_s16: M %d N %d K %d lda %d ldo %d%s: wrong (bound check %d)\n", k->name, M, N, K, lda, ldo,
                   worst ? " worst case" : "", reached);
        bad_cases += bad;
        cases++;
        free(packed);
        free(A);
        free(W);
        free(out);
        free(ref);
    }
    CHECK(bad_cases == 0, "%s gemm_s16: %d wrong of %d cases", k->name, bad_cases, cases);
}

/* roi_sample_q8 (f32 = 0), and roi_sample_f32 (f32 = 1) on the dequantized values, against the formula
 * evaluated here in double: each float operation of the kernel (d = scale * (float)v, w * d, the left-to-right
 * sums, o + sum) is one IEEE rounding, and a float product or sum of two floats computed in double and rounded
 * to float once is that rounding (double holds it exactly). */
static float ref_f(double x)
{
    return (float)x;
}

static void check_roi_sample(const detc_kernels *k, int f32)
{
    static const int cs[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 256};
    uint8_t q[4][256];
    float d[4][256], o[256 + 8], ref[256 + 8];
    int bad_cases = 0, cases = 0;
    for (int t = 0; t < 400; t++) {
        int C = cs[next() % (sizeof cs / sizeof cs[0])], is_signed = t % 2;
        int32_t zp = (is_signed ? -128 : 0) + (int32_t)(next() % 256);
        float scale = (float)(next() % 1000000 + 1) * 3.1e-7f, w[4];
        for (int i = 0; i < 4; i++)
            w[i] = t % 7 == 0 ? (i == 0 ? 1.0f : 0.0f) : (float)(next() % 65536) / 65536.0f;
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 256; c++) {
                q[i][c] = (uint8_t)next();
                d[i][c] = ref_f((double)scale * (double)((is_signed ? (int8_t)q[i][c] : q[i][c]) - zp));
            }
        for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
            o[i] = ref[i] = (float)((int)(next() % 2001) - 1000) * 0.01f;
        for (int c = 0; c < C; c++) {
            float sum = 0.0f;
            for (int i = 0; i < 4; i++) {
                float p = ref_f((double)w[i] * (double)d[i][c]);
                sum = i == 0 ? p : ref_f((double)sum + (double)p);
            }
            ref[c] = ref_f((double)ref[c] + (double)sum);
        }
        if (f32)
            k->roi_sample_f32(C, d[0], d[1], d[2], d[3], w, o);
        else
            k->roi_sample_q8(C, q[0], q[1], q[2], q[3], is_signed, scale, zp, w, o);
        int bad = memcmp(o, ref, sizeof o) != 0;
        if (bad)
            printf("  %s roi_sample_%s: C %d %s: wrong\n", k->name, f32 ? "f32" : "q8", C, is_signed ? "i8" : "u8");
        bad_cases += bad;
        cases++;
    }
    CHECK(bad_cases == 0, "%s roi_sample_%s: %d wrong of %d cases", k->name, f32 ? "f32" : "q8", bad_cases, cases);
}

/* lut_u8 against the look-up written here: random tables, lengths around the 64-byte step (a tail of every
 * size up to 63 included), every byte value as input, out apart from in and out == in; guard bytes after n
 * stay as they were. */
static void check_lut_u8(const detc_kernels *k)
{
    enum { MAXN = 300, GUARD = 70 };
    uint8_t table[256], in[MAXN + GUARD], out[MAXN + GUARD], ref[MAXN + GUARD];
    int bad_cases = 0, cases = 0;
    for (int n = 0; n <= MAXN; n += n < 140 ? 1 : 37) {
        for (int v = 0; v < 256; v++)
            table[v] = (uint8_t)next();
        for (int i = 0; i < MAXN + GUARD; i++)
            in[i] = (uint8_t)(i < 256 && n % 2 ? (uint32_t)i : next()); /* odd n: 0, 1, 2, ... covers every byte value */
        for (int in_place = 0; in_place < 2; in_place++) {
            memset(out, 0xa5, sizeof out);
            memcpy(ref, out, sizeof ref);
            for (int i = 0; i < n; i++)
                ref[i] = table[in[i]];
            if (in_place) {
                memcpy(out, in, (size_t)n);
                k->lut_u8(table, (size_t)n, out, out);
            } else {
                k->lut_u8(table, (size_t)n, in, out);
            }
            if (memcmp(out, ref, sizeof out) != 0) { /* guard bytes included */
                printf("  %s lut_u8: n %d%s: wrong\n", k->name, n, in_place ? " in place" : "");
                bad_cases++;
            }
            cases++;
        }
    }
    CHECK(bad_cases == 0, "%s lut_u8: %d wrong of %d cases", k->name, bad_cases, cases);
}

int main(void)
{
    static const char *names[] = {"portable", "avx2", "avx512vnni", "avx512vbmi", "amx", "blas", "neon", "neon-dotprod", "auto"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const detc_kernels *k = detc_kernels_select(names[i]);
        if (!k) {
            if (strcmp(names[i], "amx") == 0)
                printf("SKIP kernels 'amx': needs an x86-64 Linux build, a CPU with AMX-TILE, AMX-INT8 and "
                       "AVX-512 (F, BW), and the kernel's tile data permission (arch_prctl)\n");
            else
                printf("SKIP kernels '%s': not built or not supported by this CPU\n", names[i]);
            continue;
        }
        printf("kernels '%s' -> %s\n", names[i], k->name);
        check_f32_gemm(k);
        check_dwconv(k);
        check_dwconv_f32(k);
        check_dwconv_run(k);
        check_conv_q8(k);
        check_conv_f32(k);
        check_winograd(k);
        check_gemm_s16(k);
        check_wino_in_s16(k);
        check_wino_out_q8(k);
        check_logistic(k);
        check_add_q8(k);
        check_quantize_q8(k);
        check_dequantize_q8(k);
        check_roi_sample(k, 0);
        check_roi_sample(k, 1);
        check_lut_u8(k);
    }
    check_round_once_scalar();
    check_dw_op_i8();
    check_dw_op_f32();
    check_dw_op_rows();
    CHECK(detc_kernels_select("no-such-table") == NULL, "unknown table names are refused");
    check_select_sets();
    CHECK(detc_kernels_select("") == detc_kernels_select(NULL), "an empty name (DETC_KERNELS=) selects auto");
    check_select_threads();
    return check_summary("test_kernels");
}
