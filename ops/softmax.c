/* softmax: y = exp(beta * (x - max)) / sum(exp(beta * (x - max))) along attribute `axis` (default -1,
 * negative counts from the end), `beta` default 1 (TensorFlow Lite's SOFTMAX option). Subtracting the
 * maximum first keeps exp() in range for any finite input (numerically stable); the sum is in f32, in
 * order along the axis.
 *
 * f32 only. A quantized softmax (TFLite's uint8/int8 lookup-table kernels) is refused in prepare: cast
 * the input to f32 and the output back when converting. */
#include <math.h>
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Rows (softmax vectors) per parallel part at least. */
#define SOFTMAX_MIN_ROWS_PER_PART 64

typedef struct {
    int64_t outer, n, inner; /* dims before the axis, along it, after it */
    float beta;
} softmax_data;

static bool softmax_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    int64_t axis = -1;
    double beta = 1.0;
    ok = detc_attr_int(p, "axis", false, -1, -DETC_MAX_RANK, DETC_MAX_RANK - 1, &axis) && ok;
    ok = detc_attr_float(p, "beta", false, 1.0, 1e-6, 1e6, &beta) && ok;
    if (!detc_prep_require_input(p, 0, "input") || !ok)
        return false;
    if (!detc_prep_dtype(p, 0, DETC_MASK(DETC_F32),
                         "detc's softmax is f32 only; insert a cast to f32 before it (and back after it) when "
                         "converting a quantized model") ||
        !detc_prep_rank(p, 0, 1, DETC_MAX_RANK))
        return false;
    if (axis < -x->rank || axis >= x->rank) {
        char xs[128];
        detc_shape_str(x->rank, x->dims, xs, sizeof xs);
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'axis' is %lld, but the input %s has rank %d; use -%d..%d", (long long)axis, xs,
                        x->rank, x->rank, x->rank - 1);
        return false;
    }
    int a = (int)(axis < 0 ? axis + x->rank : axis);
    softmax_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->outer = d->inner = 1;
    for (int i = 0; i < a; i++)
        d->outer *= x->dims[i];
    d->n = x->dims[a];
    for (int i = a + 1; i < x->rank; i++)
        d->inner *= x->dims[i];
    d->beta = (float)beta;
    return detc_prep_set_output(p, 0, DETC_F32, x->rank, x->dims, NULL, false);
}

/* ---------------- eval ---------------- */

typedef struct {
    const softmax_data *d;
    const float *x;
    float *out;
    int parts;
} softmax_job;

/* One softmax vector of n values `stride` apart. */
static void softmax_vector(const float *x, float *y, int64_t n, int64_t stride, float beta)
{
    float mx = x[0];
    for (int64_t i = 1; i < n; i++)
        mx = x[i * stride] > mx ? x[i * stride] : mx;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float e = expf((x[i * stride] - mx) * beta);
        y[i * stride] = e;
        sum += e;
    }
    for (int64_t i = 0; i < n; i++)
        y[i * stride] /= sum;
}

static void run_parts(void *ctx, int begin, int end)
{
    const softmax_job *j = ctx;
    const softmax_data *d = j->d;
    int64_t rows = d->outer * d->inner;
    for (int part = begin; part < end; part++) {
        int64_t r0 = rows * part / j->parts, r1 = rows * (part + 1) / j->parts;
        for (int64_t r = r0; r < r1; r++) {
            int64_t o = r / d->inner, i = r % d->inner, base = o * d->n * d->inner + i;
            softmax_vector(j->x + base, j->out + base, d->n, d->inner, d->beta);
        }
    }
}

static detc_code softmax_eval(const detc_exec *x, detc_node *node)
{
    const softmax_data *d = node->op_data;
    softmax_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data};
    j.parts = op_parts(x, d->outer * d->inner, SOFTMAX_MIN_ROWS_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, run_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_softmax = {
    .name = "softmax",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = softmax_prepare,
    .eval = softmax_eval,
};
