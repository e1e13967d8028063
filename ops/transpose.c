/* transpose: out dims[i] = x dims[perm[i]] (TensorFlow Lite's TRANSPOSE, rank 1..6). Any dtype; a
 * quantized input's parameters pass through (values are copied). */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    int rank;
    size_t elem;
    int32_t out_dims[DETC_MAX_RANK];
    int64_t src_stride[DETC_MAX_RANK]; /* input stride (elements) of output axis i */
} tr_data;

static bool tr_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input") || !detc_prep_rank(p, 0, 1, DETC_MAX_RANK) || !ok)
        return false;
    int64_t perm[DETC_MAX_RANK];
    if (!detc_attr_ints(p, "perm", true, x->rank, x->rank, NULL, 0, x->rank - 1, perm, NULL))
        return false;
    bool seen[DETC_MAX_RANK] = {false};
    for (int i = 0; i < x->rank; i++) {
        if (seen[perm[i]]) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute 'perm' names axis %d twice; it must be a permutation of "
                            "0..%d", (int)perm[i], x->rank - 1);
            return false;
        }
        seen[perm[i]] = true;
    }
    tr_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    int64_t in_stride[DETC_MAX_RANK];
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= x->dims[i];
    }
    d->rank = x->rank;
    d->elem = detc_dtype_size(x->dtype);
    for (int i = 0; i < x->rank; i++) {
        d->out_dims[i] = x->dims[perm[i]];
        d->src_stride[i] = in_stride[perm[i]];
    }
    return detc_prep_set_output(p, 0, x->dtype, x->rank, d->out_dims,
                                detc_tensor_is_quantized(x) ? &x->quant : NULL, false);
}

static detc_code tr_eval(const detc_exec *x, detc_node *node)
{
    const tr_data *d = node->op_data;
    const unsigned char *src = detc_in(x->g, node, 0)->data;
    unsigned char *dst = detc_out(x->g, node, 0)->data;
    int64_t n = detc_tensor_count(detc_out(x->g, node, 0));
    int32_t idx[DETC_MAX_RANK] = {0};
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        memcpy(dst + (size_t)i * d->elem, src + (size_t)off * d->elem, d->elem);
        for (int a = d->rank - 1; a >= 0; a--) {
            off += d->src_stride[a];
            if (++idx[a] < d->out_dims[a])
                break;
            off -= d->src_stride[a] * d->out_dims[a];
            idx[a] = 0;
        }
    }
    return DETC_OK;
}

const detc_op detc_op_transpose = {
    .name = "transpose",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = tr_prepare,
    .eval = tr_eval,
};
