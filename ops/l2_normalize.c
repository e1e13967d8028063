/* l2_normalize: y = x / sqrt(max(sum(x^2 along axis), epsilon)), TensorFlow's tf.math.l2_normalize
 * (Square -> Sum -> Maximum(epsilon) -> Rsqrt -> Mul in a frozen graph). Attributes: `axis` (default -1,
 * negative counts from the end), `epsilon` (default 1e-12, TensorFlow's default): it keeps an all-zero
 * vector at zero instead of dividing by zero. The sum is in f32, in order along the axis; the result is
 * x times 1/sqrt(.), as the Rsqrt graph computes it.
 *
 * f32 only: a quantized input is refused in prepare (cast to f32 around it when converting). */
#include <math.h>
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Vectors per parallel part at least. */
#define L2N_MIN_ROWS_PER_PART 256

typedef struct {
    int64_t outer, n, inner; /* dims before the axis, along it, after it */
    float epsilon;
} l2n_data;

static bool l2n_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    int64_t axis = -1;
    double eps = 1e-12;
    ok = detc_attr_int(p, "axis", false, -1, -DETC_MAX_RANK, DETC_MAX_RANK - 1, &axis) && ok;
    ok = detc_attr_float(p, "epsilon", false, 1e-12, 0.0, 1e30, &eps) && ok;
    if (!detc_prep_require_input(p, 0, "input") || !ok)
        return false;
    if (!detc_prep_dtype(p, 0, DETC_MASK(DETC_F32),
                         "detc's l2_normalize is f32 only; insert a cast to f32 before it (and back after it) "
                         "when converting a quantized model") ||
        !detc_prep_rank(p, 0, 1, DETC_MAX_RANK))
        return false;
    if (axis < -x->rank || axis >= x->rank) {
        char xs[128];
        detc_shape_str(x->rank, x->dims, xs, sizeof xs);
        detc_prep_error(p, DETC_ERR_ATTR, "attribute 'axis' is %lld, but the input %s has rank %d; use -%d..%d",
                        (long long)axis, xs, x->rank, x->rank, x->rank - 1);
        return false;
    }
    int a = (int)(axis < 0 ? axis + x->rank : axis);
    l2n_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->outer = d->inner = 1;
    for (int i = 0; i < a; i++)
        d->outer *= x->dims[i];
    d->n = x->dims[a];
    for (int i = a + 1; i < x->rank; i++)
        d->inner *= x->dims[i];
    d->epsilon = (float)eps;
    return detc_prep_set_output(p, 0, DETC_F32, x->rank, x->dims, NULL, false);
}

/* ---------------- eval ---------------- */

typedef struct {
    const l2n_data *d;
    const float *x;
    float *out;
    int parts;
} l2n_job;

static void l2n_vector(const float *x, float *y, int64_t n, int64_t stride, float eps)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i * stride] * x[i * stride];
    float inv = 1.0f / sqrtf(sum > eps ? sum : eps);
    for (int64_t i = 0; i < n; i++)
        y[i * stride] = x[i * stride] * inv;
}

static void run_parts(void *ctx, int begin, int end)
{
    const l2n_job *j = ctx;
    const l2n_data *d = j->d;
    int64_t rows = d->outer * d->inner;
    for (int part = begin; part < end; part++) {
        int64_t r0 = rows * part / j->parts, r1 = rows * (part + 1) / j->parts;
        for (int64_t r = r0; r < r1; r++) {
            int64_t o = r / d->inner, i = r % d->inner, base = o * d->n * d->inner + i;
            l2n_vector(j->x + base, j->out + base, d->n, d->inner, d->epsilon);
        }
    }
}

static detc_code l2n_eval(const detc_exec *x, detc_node *node)
{
    const l2n_data *d = node->op_data;
    l2n_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data};
    j.parts = op_parts(x, d->outer * d->inner, L2N_MIN_ROWS_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, run_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_l2_normalize = {
    .name = "l2_normalize",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = l2n_prepare,
    .eval = l2n_eval,
};
