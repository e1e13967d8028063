/* add, mul, relu, relu6, max_pool2d, avg_pool2d, pad, softmax, l2_normalize: results against references computed here,
 * then prepare's reports for malformed nodes. Every numeric case runs with 1, 2 and 3 threads.
 *
 * References and tolerances:
 *   f32 add/mul/relu/relu6/max_pool2d/pad: a naive loop over the output index doing the same single f32
 *     operation, so results must be identical.
 *   f32 avg_pool2d, softmax, l2_normalize: double precision, |d| <= 1e-6 + 1e-6 |ref|.
 *   quantized add/mul/relu (TensorFlow Lite's fixed-point arithmetic): within 1 quantum of
 *     round(real result / out.scale) + out.zp computed in double, and exact where the result is
 *     representable (equal scales); max_pool2d exact; avg_pool2d exact against round-half-away of the
 *     double mean (TFLite's (sum +- n/2) / n); pad exact, border = zero point.
 * (ONNX's official test vectors for the f32 paths are in tests/test_onnx_nodes.py.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "op_harness.h"

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static float rndf(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() % 100001) / 100000.0f;
}

static int64_t count_of(int rank, const int32_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

/* Flat index into a tensor of shape (rank, dims) broadcast to the output shape (orank, odims). */
static int64_t bcast_index(int64_t flat, int orank, const int32_t *odims, int rank, const int32_t *dims)
{
    int64_t idx = 0, stride = 1;
    for (int d = orank - 1; d >= 0; d--) {
        int64_t coord = flat % odims[d];
        flat /= odims[d];
        int k = d - (orank - rank);
        if (k >= 0) {
            idx += (dims[k] == 1 ? 0 : coord) * stride;
            stride *= dims[k];
        }
    }
    return idx;
}

/* ---------------- add / mul, f32 ---------------- */

typedef struct {
    int ra, rb, ro;
    int32_t a[6], b[6], o[6];
} bshape;

static void test_binary_f32(const char *op, const char *act, float lo, float hi)
{
    static const bshape shapes[] = {
        {4, 4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},
        {4, 1, 4, {2, 3, 4, 5}, {5}, {2, 3, 4, 5}},
        {4, 3, 4, {2, 1, 4, 1}, {3, 1, 5}, {2, 3, 4, 5}},
        {1, 2, 2, {1}, {2, 3}, {2, 3}},
        {2, 4, 4, {7, 1}, {1, 1, 1, 9}, {1, 1, 7, 9}},
        {6, 6, 6, {2, 1, 3, 1, 2, 2}, {1, 2, 1, 3, 1, 2}, {2, 2, 3, 3, 2, 2}},
        {4, 1, 4, {4, 64, 64, 8}, {8}, {4, 64, 64, 8}}, /* large: several parts */
        {4, 4, 4, {1, 1, 1, 1}, {3, 1, 40, 300}, {3, 1, 40, 300}},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const bshape *sh = &shapes[s];
        int64_t na = count_of(sh->ra, sh->a), nb = count_of(sh->rb, sh->b), no = count_of(sh->ro, sh->o);
        float *a = malloc(sizeof(float) * (size_t)na), *b = malloc(sizeof(float) * (size_t)nb);
        for (int64_t i = 0; i < na; i++)
            a[i] = rndf(-8, 8);
        for (int64_t i = 0; i < nb; i++)
            b[i] = rndf(-8, 8);
        for (int threads = 1; threads <= 3; threads++) {
            char attrs[64];
            snprintf(attrs, sizeof attrs, "{\"activation\": \"%s\"}", act);
            oh_case c;
            oh_init(&c, op, attrs);
            oh_input(&c, DETC_F32, sh->ra, sh->a, a, false);
            oh_input(&c, DETC_F32, sh->rb, sh->b, b, s % 2 == 1);
            int t = oh_output(&c, DETC_DTYPE_INVALID);
            bool prepared = oh_prepare(&c);
            CHECK(prepared, "%s shape case %zu prepares", op, s);
            if (!prepared) {
                oh_print_errors(&c);
                oh_free(&c);
                continue;
            }
            const detc_tensor *out = oh_tensor(&c, t);
            bool shape_ok = out->rank == sh->ro && memcmp(out->dims, sh->o, sizeof(int32_t) * (size_t)sh->ro) == 0;
            CHECK(shape_ok, "%s shape case %zu: broadcast output shape", op, s);
            CHECK(oh_eval(&c, threads) == DETC_OK, "%s eval", op);
            const float *y = oh_data(&c, t);
            int bad = 0;
            for (int64_t i = 0; shape_ok && i < no; i++) {
                float x1 = a[bcast_index(i, sh->ro, sh->o, sh->ra, sh->a)];
                float x2 = b[bcast_index(i, sh->ro, sh->o, sh->rb, sh->b)];
                float want = strcmp(op, "add") == 0 ? x1 + x2 : x1 * x2;
                want = want < lo ? lo : want > hi ? hi : want;
                bad += y[i] != want;
            }
            CHECK(bad == 0, "%s f32 %s, shape case %zu, %d threads: %d of %lld outputs differ from the naive loop", op,
                  act, s, threads, bad, (long long)no);
            oh_free(&c);
        }
        free(a);
        free(b);
    }
}

/* ---------------- add / mul, quantized ---------------- */

typedef struct {
    detc_dtype dt;
    float sa, sb, so;
    int32_t za, zb, zo;
    const char *act;
} qparams;

static double round_away(double x)
{
    return x >= 0 ? floor(x + 0.5) : -floor(-x + 0.5);
}

static void test_binary_quant(const char *op, const qparams *q, bool exact)
{
    static const int32_t da[4] = {1, 5, 7, 6}, db[1] = {6};
    bool is_u8 = q->dt == DETC_U8;
    int lo = is_u8 ? 0 : -128, hi = is_u8 ? 255 : 127;
    uint8_t a[210], b[6];
    for (int i = 0; i < 210; i++)
        a[i] = (uint8_t)rnd();
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)rnd();
    a[0] = is_u8 ? 0 : 0x80; /* the extremes */
    a[1] = is_u8 ? 255 : 0x7f;
    for (int threads = 1; threads <= 3; threads += 2) {
        char attrs[64];
        snprintf(attrs, sizeof attrs, "{\"activation\": \"%s\"}", q->act);
        oh_case c;
        oh_init(&c, op, attrs);
        int ta = oh_input(&c, q->dt, 4, da, a, false), tb = oh_input(&c, q->dt, 1, db, b, true);
        oh_quant1(&c, ta, q->sa, q->za);
        oh_quant1(&c, tb, q->sb, q->zb);
        int t = oh_output(&c, q->dt);
        oh_quant1(&c, t, q->so, q->zo);
        bool prepared = oh_prepare(&c);
        CHECK(prepared, "quantized %s prepares", op);
        if (!prepared) {
            oh_print_errors(&c);
            oh_free(&c);
            return;
        }
        CHECK(oh_eval(&c, threads) == DETC_OK, "quantized %s eval", op);
        const uint8_t *y = oh_data(&c, t);
        int worst = 0, bad_exact = 0;
        double act_lo = strcmp(q->act, "relu") == 0 || strcmp(q->act, "relu6") == 0 ? 0.0 : -INFINITY;
        double act_hi = strcmp(q->act, "relu6") == 0 ? 6.0 : INFINITY;
        for (int i = 0; i < 210; i++) {
            int qa = is_u8 ? a[i] : (int8_t)a[i], qb = is_u8 ? b[i % 6] : (int8_t)b[i % 6];
            double ra = q->sa * (double)(qa - q->za), rb = q->sb * (double)(qb - q->zb);
            double real = strcmp(op, "add") == 0 ? ra + rb : ra * rb;
            real = real < act_lo ? act_lo : real > act_hi ? act_hi : real;
            double want = round_away(real / q->so) + q->zo;
            want = want < lo ? lo : want > hi ? hi : want;
            int got = is_u8 ? y[i] : (int8_t)y[i];
            int d = abs(got - (int)want);
            worst = d > worst ? d : worst;
            bad_exact += d != 0;
        }
        CHECK(worst <= 1, "quantized %s %s: an output is %d quanta from the real-number result", op,
              detc_dtype_name(q->dt), worst);
        if (exact)
            CHECK(bad_exact == 0, "quantized %s %s with representable results: %d outputs not exact", op,
                  detc_dtype_name(q->dt), bad_exact);
        oh_free(&c);
    }
}

/* ---------------- relu / relu6 ---------------- */

static void test_relu_family(void)
{
    static const int32_t dims[2] = {5, 13};
    float x[65];
    for (int i = 0; i < 65; i++)
        x[i] = rndf(-10, 10);
    x[0] = NAN;
    x[1] = 6.0f;
    x[2] = -0.0f;
    for (int k = 0; k < 2; k++) {
        const char *op = k ? "relu6" : "relu";
        oh_case c;
        oh_init(&c, op, NULL);
        oh_input(&c, DETC_F32, 2, dims, x, false);
        int t = oh_output(&c, DETC_DTYPE_INVALID);
        CHECK(oh_prepare(&c), "%s f32 prepares", op);
        CHECK(oh_eval(&c, 2) == DETC_OK, "%s eval", op);
        const float *y = oh_data(&c, t);
        int bad = !isnan(y[0]);
        for (int i = 1; i < 65; i++) {
            float want = x[i] < 0 ? 0.0f : x[i];
            want = k && want > 6.0f ? 6.0f : want;
            bad += y[i] != want;
        }
        CHECK(bad == 0, "%s f32: %d outputs wrong (NaN must stay NaN)", op, bad);
        oh_free(&c);
    }
    /* quantized, same parameters in and out: max(q, zp) (relu6: also min(q, zp + round(6 / scale))) */
    static const int32_t qd[1] = {256};
    uint8_t q[256];
    for (int i = 0; i < 256; i++)
        q[i] = (uint8_t)i;
    for (int k = 0; k < 4; k++) {
        const char *op = k % 2 ? "relu6" : "relu";
        detc_dtype dt = k < 2 ? DETC_U8 : DETC_I8;
        float scale = 0.05f;
        int32_t zp = dt == DETC_U8 ? 100 : -20;
        oh_case c;
        oh_init(&c, op, NULL);
        int tx = oh_input(&c, dt, 1, qd, q, false);
        oh_quant1(&c, tx, scale, zp);
        int t = oh_output(&c, dt);
        oh_quant1(&c, t, scale, zp);
        CHECK(oh_prepare(&c), "%s %s prepares", op, detc_dtype_name(dt));
        CHECK(oh_eval(&c, 1) == DETC_OK, "%s eval", op);
        const uint8_t *y = oh_data(&c, t);
        int bad = 0, top = zp + 120; /* round(6 / 0.05) = 120 */
        for (int i = 0; i < 256; i++) {
            int v = dt == DETC_U8 ? i : (int8_t)i, want = v < zp ? zp : v;
            int qmax = dt == DETC_U8 ? 255 : 127;
            if (k % 2)
                want = want > (top < qmax ? top : qmax) ? (top < qmax ? top : qmax) : want;
            bad += (dt == DETC_U8 ? y[i] : (int8_t)y[i]) != want;
        }
        CHECK(bad == 0, "%s %s with equal parameters: %d of 256 codes wrong", op, detc_dtype_name(dt), bad);
        oh_free(&c);
    }
    /* quantized, rescaled output: within one quantum of the real result */
    oh_case c;
    oh_init(&c, "relu6", NULL);
    int tx = oh_input(&c, DETC_U8, 1, qd, q, false);
    oh_quant1(&c, tx, 0.1f, 128);
    int t = oh_output(&c, DETC_U8);
    oh_quant1(&c, t, 6.0f / 255.0f, 0);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "relu6 rescaling u8 runs");
    const uint8_t *y = oh_data(&c, t);
    int worst = 0;
    for (int i = 0; i < 256; i++) {
        double real = 0.1 * (i - 128);
        real = real < 0 ? 0 : real > 6 ? 6 : real;
        int d = abs(y[i] - (int)round_away(real / (6.0 / 255.0)));
        worst = d > worst ? d : worst;
    }
    CHECK(worst <= 1, "relu6 rescaling u8: %d quanta from the real result", worst);
    oh_free(&c);
}

/* ---------------- pooling ---------------- */

typedef struct {
    int n, h, w, c, kh, kw, sh, sw, dh, dw;
    const char *padding; /* JSON */
    int pt, pl, pb, pr;  /* the padding it means */
    int oh, ow;
} pool_case;

static const pool_case pool_cases[] = {
    {1, 7, 9, 3, 3, 3, 2, 2, 1, 1, "\"same\"", 1, 1, 1, 1, 4, 5},
    {2, 6, 6, 5, 2, 2, 2, 2, 1, 1, "\"valid\"", 0, 0, 0, 0, 3, 3},
    {1, 5, 8, 4, 3, 2, 1, 2, 1, 1, "[2, 1, 0, 1]", 2, 1, 0, 1, 5, 5},
    {1, 9, 9, 2, 3, 3, 1, 1, 2, 2, "[2, 2, 2, 2]", 2, 2, 2, 2, 9, 9},
    {1, 64, 40, 16, 2, 2, 2, 2, 1, 1, "\"same\"", 0, 0, 0, 0, 32, 20},
};

/* Window sum/max over valid positions; returns the number of valid positions. */
static int pool_ref(const pool_case *p, const float *x, int n, int oy, int ox, int ch, double *sum, float *mx)
{
    int valid = 0;
    *sum = 0;
    *mx = -INFINITY;
    for (int ky = 0; ky < p->kh; ky++)
        for (int kx = 0; kx < p->kw; kx++) {
            int iy = oy * p->sh - p->pt + ky * p->dh, ix = ox * p->sw - p->pl + kx * p->dw;
            if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                continue;
            float v = x[(((size_t)n * p->h + iy) * p->w + ix) * p->c + ch];
            *sum += v;
            *mx = v > *mx ? v : *mx;
            valid++;
        }
    return valid;
}

static void test_pools_f32(void)
{
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++) {
        const pool_case *p = &pool_cases[k];
        int32_t dims[4] = {p->n, p->h, p->w, p->c};
        int64_t nx = count_of(4, dims);
        float *x = malloc(sizeof(float) * (size_t)nx);
        for (int64_t i = 0; i < nx; i++)
            x[i] = rndf(-5, 5);
        for (int variant = 0; variant < 4; variant++) {
            bool avg = variant >= 2, include_pad = variant == 3;
            const char *act = variant == 1 ? "relu" : "none";
            char attrs[256];
            snprintf(attrs, sizeof attrs,
                     "{\"kernel\": [%d, %d], \"stride\": [%d, %d], \"dilation\": [%d, %d], \"padding\": %s, "
                     "\"activation\": \"%s\"%s}",
                     p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->padding, act,
                     include_pad ? ", \"count_include_pad\": true" : "");
            for (int threads = 1; threads <= 3; threads++) {
                oh_case c;
                oh_init(&c, avg ? "avg_pool2d" : "max_pool2d", attrs);
                oh_input(&c, DETC_F32, 4, dims, x, false);
                int t = oh_output(&c, DETC_DTYPE_INVALID);
                bool prepared = oh_prepare(&c);
                CHECK(prepared, "pool case %zu variant %d prepares", k, variant);
                if (!prepared) {
                    oh_print_errors(&c);
                    oh_free(&c);
                    continue;
                }
                const detc_tensor *o = oh_tensor(&c, t);
                CHECK(o->dims[1] == p->oh && o->dims[2] == p->ow, "pool case %zu: output %dx%d, expected %dx%d", k,
                      (int)o->dims[1], (int)o->dims[2], p->oh, p->ow);
                CHECK(oh_eval(&c, threads) == DETC_OK, "pool eval");
                const float *y = oh_data(&c, t);
                int bad = 0;
                for (int n = 0; n < p->n; n++)
                    for (int oy = 0; oy < p->oh; oy++)
                        for (int ox = 0; ox < p->ow; ox++)
                            for (int ch = 0; ch < p->c; ch++) {
                                double sum;
                                float mx;
                                int valid = pool_ref(p, x, n, oy, ox, ch, &sum, &mx);
                                float got = y[(((size_t)n * p->oh + oy) * p->ow + ox) * p->c + ch];
                                if (avg) {
                                    double want = sum / (include_pad ? p->kh * p->kw : valid);
                                    bad += !(fabs(got - want) <= 1e-6 + 1e-6 * fabs(want));
                                } else {
                                    float want = variant == 1 && mx < 0 ? 0.0f : mx;
                                    bad += got != want;
                                }
                            }
                CHECK(bad == 0, "%s case %zu variant %d, %d threads: %d outputs wrong", avg ? "avg_pool2d" : "max_pool2d",
                      k, variant, threads, bad);
                oh_free(&c);
            }
        }
        free(x);
    }
}

static void test_pools_quant(void)
{
    const pool_case *p = &pool_cases[2]; /* explicit asymmetric padding */
    int32_t dims[4] = {p->n, p->h, p->w, p->c};
    int64_t nx = count_of(4, dims);
    uint8_t *x = malloc((size_t)nx);
    float *xf = malloc(sizeof(float) * (size_t)nx);
    for (int dt_i = 0; dt_i < 2; dt_i++) {
        detc_dtype dt = dt_i ? DETC_I8 : DETC_U8;
        int32_t zp = dt_i ? -5 : 120;
        for (int64_t i = 0; i < nx; i++) {
            x[i] = (uint8_t)rnd();
            xf[i] = dt_i ? (float)(int8_t)x[i] : (float)x[i]; /* the raw codes */
        }
        for (int variant = 0; variant < 3; variant++) {
            bool avg = variant >= 1, include_pad = variant == 2;
            char attrs[256];
            snprintf(attrs, sizeof attrs, "{\"kernel\": [%d, %d], \"stride\": [%d, %d], \"padding\": %s%s}", p->kh,
                     p->kw, p->sh, p->sw, p->padding, include_pad ? ", \"count_include_pad\": true" : "");
            oh_case c;
            oh_init(&c, avg ? "avg_pool2d" : "max_pool2d", attrs);
            int tx = oh_input(&c, dt, 4, dims, x, false);
            oh_quant1(&c, tx, 0.02f, zp);
            int t = oh_output(&c, DETC_DTYPE_INVALID);
            bool prepared = oh_prepare(&c);
            CHECK(prepared, "quantized pool prepares");
            if (!prepared) {
                oh_print_errors(&c);
                oh_free(&c);
                continue;
            }
            const detc_tensor *o = oh_tensor(&c, t);
            CHECK(o->quant.count == 1 && o->quant.scale[0] == 0.02f && o->quant.zero_point[0] == zp,
                  "quantized pool output keeps the input's quantization");
            CHECK(oh_eval(&c, 2) == DETC_OK, "quantized pool eval");
            const uint8_t *y = oh_data(&c, t);
            int bad = 0;
            for (int oy = 0; oy < p->oh; oy++)
                for (int ox = 0; ox < p->ow; ox++)
                    for (int ch = 0; ch < p->c; ch++) {
                        double sum;
                        float mx;
                        int valid = pool_ref(p, xf, 0, oy, ox, ch, &sum, &mx);
                        int count = include_pad ? p->kh * p->kw : valid;
                        double want = avg ? round_away((sum + (double)(count - valid) * zp) / count) : mx;
                        int8_t sv = (int8_t)y[((size_t)oy * p->ow + ox) * p->c + ch];
                        double got = dt_i ? sv : y[((size_t)oy * p->ow + ox) * p->c + ch];
                        bad += got != want;
                    }
            CHECK(bad == 0, "%s %s variant %d: %d outputs wrong", avg ? "avg_pool2d" : "max_pool2d",
                  detc_dtype_name(dt), variant, bad);
            oh_free(&c);
        }
    }
    free(x);
    free(xf);
}

/* ---------------- pad ---------------- */

static void test_pad(void)
{
    static const int32_t dims[3] = {2, 3, 4};
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i + 1);
    for (int threads = 1; threads <= 3; threads++) {
        oh_case c;
        oh_init(&c, "pad", "{\"pads\": [[1, 0], [0, 2], [3, 1]]}");
        oh_input(&c, DETC_F32, 3, dims, x, false);
        int t = oh_output(&c, DETC_DTYPE_INVALID);
        CHECK(oh_prepare(&c), "pad f32 prepares");
        const detc_tensor *o = oh_tensor(&c, t);
        CHECK(o->rank == 3 && o->dims[0] == 3 && o->dims[1] == 5 && o->dims[2] == 8, "pad output shape [3, 5, 8]");
        CHECK(oh_eval(&c, threads) == DETC_OK, "pad eval");
        const float *y = oh_data(&c, t);
        int bad = 0;
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 5; b++)
                for (int d = 0; d < 8; d++) {
                    int ia = a - 1, ib = b, id = d - 3;
                    float want = ia >= 0 && ib < 3 && id >= 0 && id < 4 ? x[(ia * 3 + ib) * 4 + id] : 0.0f;
                    bad += y[(a * 5 + b) * 8 + d] != want;
                }
        CHECK(bad == 0, "pad f32 with %d threads: %d values wrong", threads, bad);
        oh_free(&c);
    }
    /* quantized: the border is the zero point; quantization passes through */
    static const int32_t qd[2] = {2, 2};
    static const uint8_t q[4] = {1, 2, 3, 4};
    oh_case c;
    oh_init(&c, "pad", "{\"pads\": [[0, 1], [1, 0]]}");
    int tx = oh_input(&c, DETC_U8, 2, qd, q, false);
    oh_quant1(&c, tx, 0.5f, 77);
    int t = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "pad u8 runs");
    static const uint8_t want[9] = {77, 1, 2, 77, 3, 4, 77, 77, 77};
    CHECK(memcmp(oh_data(&c, t), want, 9) == 0, "pad u8 fills with the zero point 77");
    CHECK(oh_tensor(&c, t)->quant.count == 1 && oh_tensor(&c, t)->quant.zero_point[0] == 77,
          "pad u8 keeps the quantization");
    oh_free(&c);
    /* i16 without quantization: zero bytes */
    static const int16_t s16[2] = {-300, 300};
    static const int32_t sd[1] = {2};
    oh_init(&c, "pad", "{\"pads\": [[2, 1]]}");
    oh_input(&c, DETC_I16, 1, sd, s16, false);
    t = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "pad i16 runs");
    static const int16_t want16[5] = {0, 0, -300, 300, 0};
    CHECK(memcmp(oh_data(&c, t), want16, sizeof want16) == 0, "pad i16 fills with 0");
    oh_free(&c);
}

/* ---------------- softmax ---------------- */

static void test_softmax(void)
{
    static const int32_t dims[3] = {3, 5, 7};
    float x[105];
    for (int i = 0; i < 105; i++)
        x[i] = rndf(-20, 20);
    x[0] = 1000.0f; /* exp() of these overflows without the max subtraction */
    x[1] = 1001.0f;
    static const struct {
        int axis;
        double beta;
    } cases[] = {{-1, 1.0}, {1, 1.0}, {0, 1.0}, {2, 0.5}, {-3, 2.0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int threads = 1; threads <= 3; threads += 2) {
            char attrs[64];
            snprintf(attrs, sizeof attrs, "{\"axis\": %d, \"beta\": %g}", cases[k].axis, cases[k].beta);
            oh_case c;
            oh_init(&c, "softmax", attrs);
            oh_input(&c, DETC_F32, 3, dims, x, false);
            int t = oh_output(&c, DETC_DTYPE_INVALID);
            CHECK(oh_prepare(&c) && oh_eval(&c, threads) == DETC_OK, "softmax axis %d runs", cases[k].axis);
            const float *y = oh_data(&c, t);
            int axis = cases[k].axis < 0 ? cases[k].axis + 3 : cases[k].axis, n = dims[axis], bad = 0;
            int inner = 1;
            for (int d = axis + 1; d < 3; d++)
                inner *= dims[d];
            for (int i = 0; i < 105; i++) {
                int base = i - (i / inner % n) * inner; /* first element of i's softmax vector */
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < n; j++)
                    mx = x[base + j * inner] > mx ? x[base + j * inner] : mx;
                for (int j = 0; j < n; j++)
                    sum += exp(cases[k].beta * (x[base + j * inner] - mx));
                double want = exp(cases[k].beta * (x[i] - mx)) / sum;
                bad += !(fabs(y[i] - want) <= 1e-6 + 1e-6 * want);
            }
            CHECK(bad == 0, "softmax axis %d beta %g, %d threads: %d values off the double reference", cases[k].axis,
                  cases[k].beta, threads, bad);
            oh_free(&c);
        }
}

/* ---------------- l2_normalize ---------------- */

static void test_l2_normalize(void)
{
    static const int32_t dims[3] = {3, 5, 7};
    float x[105];
    for (int i = 0; i < 105; i++)
        x[i] = rndf(-3, 3);
    for (int i = 0; i < 7; i++)
        x[i] = 0.0f; /* an all-zero vector along the last axis: epsilon keeps it at 0, not NaN */
    static const struct {
        int axis;
        double eps;
    } cases[] = {{-1, 1e-12}, {1, 1e-12}, {0, 1e-12}, {-1, 100.0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int threads = 1; threads <= 3; threads += 2) {
            char attrs[80];
            snprintf(attrs, sizeof attrs, "{\"axis\": %d, \"epsilon\": %g}", cases[k].axis, cases[k].eps);
            oh_case c;
            oh_init(&c, "l2_normalize", attrs);
            oh_input(&c, DETC_F32, 3, dims, x, false);
            int t = oh_output(&c, DETC_DTYPE_INVALID);
            bool ran = oh_prepare(&c) && oh_eval(&c, threads) == DETC_OK;
            CHECK(ran, "l2_normalize axis %d runs", cases[k].axis);
            if (!ran) {
                oh_free(&c);
                continue;
            }
            const float *y = oh_data(&c, t);
            int axis = cases[k].axis < 0 ? cases[k].axis + 3 : cases[k].axis, n = dims[axis], bad = 0;
            int inner = 1;
            for (int d = axis + 1; d < 3; d++)
                inner *= dims[d];
            for (int i = 0; i < 105; i++) {
                int base = i - (i / inner % n) * inner;
                double sum = 0;
                for (int j = 0; j < n; j++)
                    sum += (double)x[base + j * inner] * x[base + j * inner];
                double want = x[i] / sqrt(sum > cases[k].eps ? sum : cases[k].eps);
                bad += !(fabs(y[i] - want) <= 1e-6 + 1e-6 * fabs(want));
            }
            CHECK(bad == 0, "l2_normalize axis %d eps %g, %d threads: %d values off the double reference",
                  cases[k].axis, cases[k].eps, threads, bad);
            oh_free(&c);
        }
}

/* ---------------- prepare's reports ---------------- */

static void test_errors(void)
{
    static const int32_t d23[2] = {2, 3}, d4[1] = {4}, d33[4] = {1, 3, 3, 1}, d8[1] = {8};
    oh_case c;

    oh_init(&c, "add", NULL);
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_input(&c, DETC_F32, 1, d4, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_SHAPE, "cannot be broadcast", "[2, 3]"),
          "add refuses shapes that do not broadcast, naming both");
    oh_free(&c);

    oh_init(&c, "mul", NULL);
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_input(&c, DETC_U8, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_DTYPE, "same dtype", "fix"), "mul refuses mixed dtypes");
    oh_free(&c);

    oh_init(&c, "add", NULL);
    oh_input(&c, DETC_U8, 2, d23, NULL, false);
    oh_input(&c, DETC_U8, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_QUANT, "without quantization parameters", NULL),
          "add refuses u8 operands without quantization");
    oh_free(&c);

    oh_init(&c, "mul", NULL);
    int ta = oh_input(&c, DETC_I8, 2, d23, NULL, false), tb = oh_input(&c, DETC_I8, 2, d23, NULL, false);
    oh_quant1(&c, ta, 0.1f, 0);
    oh_quant1(&c, tb, 0.1f, 0);
    oh_output(&c, DETC_I8);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_QUANT, "quant", NULL),
          "mul refuses a quantized output without parameters");
    oh_free(&c);

    oh_init(&c, "add", "{\"activation\": \"gelu\"}");
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'activation'", NULL), "add refuses unknown activations");
    oh_free(&c);

    oh_init(&c, "max_pool2d", "{\"stride\": [1, 1]}");
    oh_input(&c, DETC_F32, 4, d33, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'kernel'", "missing"), "max_pool2d needs a kernel");
    oh_free(&c);

    oh_init(&c, "max_pool2d", "{\"kernel\": [2, 2], \"padding\": [3, 0, 3, 0]}");
    oh_input(&c, DETC_F32, 4, d33, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_SHAPE, "entirely in the padding", "row 0"),
          "max_pool2d refuses windows that see only padding");
    oh_free(&c);

    oh_init(&c, "avg_pool2d", "{\"kernel\": [5, 1]}");
    oh_input(&c, DETC_F32, 4, d33, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_SHAPE, "does not fit", NULL),
          "avg_pool2d refuses a window larger than the padded input");
    oh_free(&c);

    oh_init(&c, "avg_pool2d", "{\"kernel\": [2, 2]}");
    oh_input(&c, DETC_F16, 4, d33, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_DTYPE, "f16", NULL), "avg_pool2d refuses f16");
    oh_free(&c);

    oh_init(&c, "pad", "{\"pads\": [[1, 1]]}");
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "2 [before, after] pairs", NULL),
          "pad needs one pair per dimension");
    oh_free(&c);

    oh_init(&c, "pad", "{\"pads\": [[1, -1], [0, 0]]}");
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'pads'[0]", "0..1024"), "pad refuses negative padding");
    oh_free(&c);

    oh_init(&c, "softmax", NULL);
    int tq = oh_input(&c, DETC_U8, 1, d8, NULL, false);
    oh_quant1(&c, tq, 0.1f, 0);
    oh_quant1(&c, oh_output(&c, DETC_U8), 1.0f / 128, 0);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_QUANT, "scale 1/256", "as TensorFlow Lite requires"),
          "a quantized softmax must output 1/256, as TFLite requires");
    oh_free(&c);

    oh_init(&c, "softmax", "{\"axis\": 2}");
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'axis' is 2", "rank 2"), "softmax checks its axis");
    oh_free(&c);

    oh_init(&c, "l2_normalize", NULL);
    tq = oh_input(&c, DETC_I8, 1, d8, NULL, false);
    oh_quant1(&c, tq, 0.1f, 0);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_DTYPE, "f32 only", "cast"),
          "l2_normalize refuses quantized input and says to cast");
    oh_free(&c);

    oh_init(&c, "l2_normalize", "{\"axis\": -3}");
    oh_input(&c, DETC_F32, 2, d23, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'axis' is -3", "rank 2"),
          "l2_normalize checks its axis");
    oh_free(&c);

    oh_init(&c, "relu", NULL);
    oh_input(&c, DETC_I32, 1, d8, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_DTYPE, "i32", "relu takes f32"), "relu refuses i32");
    oh_free(&c);
}

int main(void)
{
    test_binary_f32("add", "none", -INFINITY, INFINITY);
    test_binary_f32("mul", "none", -INFINITY, INFINITY);
    test_binary_f32("add", "relu6", 0.0f, 6.0f);
    test_binary_f32("mul", "relu_n1_to_1", -1.0f, 1.0f);

    static const qparams qadd[] = {
        {DETC_U8, 0.05f, 0.02f, 0.07f, 128, 100, 120, "none"},
        {DETC_I8, 0.1f, 0.3f, 0.25f, -3, 10, 0, "relu"},
        {DETC_U8, 0.5f, 0.5f, 0.5f, 0, 0, 0, "none"},
    };
    for (int i = 0; i < 3; i++)
        test_binary_quant("add", &qadd[i], i == 2);
    static const qparams qmul[] = {
        {DETC_U8, 0.05f, 0.02f, 0.01f, 128, 100, 120, "none"},
        {DETC_I8, 0.1f, 0.3f, 0.25f, -3, 10, 5, "relu6"},
        {DETC_I8, 1.0f, 1.0f, 1.0f, 0, 0, 0, "none"},
    };
    for (int i = 0; i < 3; i++)
        test_binary_quant("mul", &qmul[i], i == 2);
    test_relu_family();
    test_pools_f32();
    test_pools_quant();
    test_pad();
    test_softmax();
    test_l2_normalize();
    test_errors();
    return check_summary("test_ops_arith_pool");
}
