/* fully_connected: y = x · Wᵀ + b, then the activation. x [R, ...] is read as R rows of K values (its
 * trailing dimensions flattened in memory order: NHWC for a [R, S, S, C] RoI feature, so a converter
 * must permute a PyTorch Linear's input columns from (C, S, S) to (S, S, C)); weights [N, K]; bias [N]
 * optional. Output [R, N]. f32 only. Split into row blocks across the thread pool; with constant weights and
 * a table with a SIMD conv_f32 (kernels.h) the weights are packed for it once, at prepare, and each block is
 * one call with the bias and activation fused; otherwise the block goes through exec->kernels->gemm_f32
 * and a bias/clamp pass. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

#define FC_ROWS_PER_PART 4

typedef struct {
    int rows, k, n;
    float act_lo, act_hi;
    void *packed; /* the weights as packed_by (a SIMD conv_f32_pack) lays them out, or NULL */
    void *(*packed_by)(int n, int k, const float *w);
} fc_data;

static void fc_release(void *op_data)
{
    fc_data *d = op_data;
    if (d)
        free(d->packed);
    free(d);
}

static bool fc_prepare(detc_prep *p)
{
    detc_activation act;
    bool ok = op_check_counts(p);
    ok = detc_attr_activation(p, &act) && ok;
    if (!detc_prep_require_input(p, 0, "input") || !detc_prep_require_input(p, 1, "weights"))
        return false;
    const char *fix = "fully_connected is f32 only; dequantize the weights and keep activations f32 when converting";
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), fix) && ok;
    ok = detc_prep_dtype(p, 1, DETC_MASK(DETC_F32), fix) && ok;
    ok = detc_prep_dtype(p, 2, DETC_MASK(DETC_F32), fix) && ok;
    ok = detc_prep_rank(p, 0, 2, DETC_MAX_RANK) && ok;
    ok = detc_prep_rank(p, 1, 2, 2) && ok;
    ok = detc_prep_rank(p, 2, 1, 1) && ok;
    if (!ok)
        return false;
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    int64_t k = 1;
    for (int i = 1; i < x->rank; i++)
        k *= x->dims[i];
    char xs[128], ws[128];
    detc_shape_str(x->rank, x->dims, xs, sizeof xs);
    detc_shape_str(w->rank, w->dims, ws, sizeof ws);
    if (x->dims[0] < 1 || w->dims[0] < 1 || k < 1 || w->dims[1] != k) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "input %s has %lld values per row but weights %s expect %d; weights must be [out_features, "
                        "%lld]",
                        xs, (long long)k, ws, (int)w->dims[1], (long long)k);
        ok = false;
    }
    if (b && b->dims[0] != w->dims[0]) {
        detc_prep_error(p, DETC_ERR_SHAPE, "bias has %d entries, expected %d (the weights' output features)",
                        (int)b->dims[0], (int)w->dims[0]);
        ok = false;
    }
    if (!ok)
        return false;
    int32_t dims[2] = {x->dims[0], w->dims[0]};
    if (!detc_prep_set_output(p, 0, DETC_F32, 2, dims, NULL, false))
        return false;
    fc_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->rows = x->dims[0];
    d->k = (int)k;
    d->n = w->dims[0];
    detc_activation_range_f(act, &d->act_lo, &d->act_hi);
    const detc_kernels *kt = p->kernels ? p->kernels : &detc_kernels_portable;
    if (kt->conv_f32 && kt->conv_f32 != detc_kernels_portable.conv_f32 && w->kind == DETC_TENSOR_CONSTANT && w->data) {
        d->packed = kt->conv_f32_pack(d->n, d->k, w->data);
        if (!d->packed) {
            detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
            return false;
        }
        d->packed_by = kt->conv_f32_pack;
        detc_prep_copied_input(p, 1); /* eval reads the packed copy only */
    }
    return true;
}

typedef struct {
    const fc_data *d;
    const detc_kernels *kernels;
    const float *x, *w, *b;
    float *out;
    int parts;
    bool packed; /* the table is the one the weights were packed for */
} fc_job;

static void fc_parts(void *ctx, int begin, int end)
{
    const fc_job *j = ctx;
    const fc_data *d = j->d;
    for (int part = begin; part < end; part++) {
        int r0 = (int)((int64_t)d->rows * part / j->parts), r1 = (int)((int64_t)d->rows * (part + 1) / j->parts);
        if (r1 <= r0)
            continue;
        float *out = j->out + (size_t)r0 * d->n;
        if (j->packed) {
            detc_conv_f32_params prm = {
                .n = d->n, .k = d->k, .packed = d->packed, .bias = j->b, .act_lo = d->act_lo, .act_hi = d->act_hi};
            j->kernels->conv_f32(&prm, r1 - r0, j->x + (size_t)r0 * d->k, d->k, out, d->n);
            continue;
        }
        j->kernels->gemm_f32(r1 - r0, d->n, d->k, j->x + (size_t)r0 * d->k, d->k, j->w, d->k, out, d->n);
        for (int r = 0; r < r1 - r0; r++)
            for (int c = 0; c < d->n; c++) {
                float v = out[(size_t)r * d->n + c] + (j->b ? j->b[c] : 0.0f);
                v = v < d->act_lo ? d->act_lo : v;
                out[(size_t)r * d->n + c] = v > d->act_hi ? d->act_hi : v;
            }
    }
}

static detc_code fc_eval(const detc_exec *x, detc_node *node)
{
    const fc_data *d = node->op_data;
    const detc_tensor *b = detc_in(x->g, node, 2);
    fc_job j = {.d = d,
                .kernels = x->kernels,
                .x = detc_in(x->g, node, 0)->data,
                .w = detc_in(x->g, node, 1)->data,
                .b = b ? b->data : NULL,
                .out = detc_out(x->g, node, 0)->data,
                .packed = d->packed && x->kernels->conv_f32_pack == d->packed_by};
    j.parts = op_parts(x, d->rows, FC_ROWS_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, fc_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_fully_connected = {
    .name = "fully_connected",
    .min_inputs = 2,
    .max_inputs = 3,
    .n_outputs = 1,
    .prepare = fc_prepare,
    .eval = fc_eval,
    .release = fc_release,
};
