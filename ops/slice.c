/* slice: the block x[begin[i] : begin[i] + size[i]] along every axis (TensorFlow's Slice; detc-convert maps
 * TFLite's SPLIT and SPLIT_V to one slice per output). Any dtype; quantization passes through. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    int rank;
    size_t elem;
    int32_t out_dims[DETC_MAX_RANK];
    int64_t begin_off;                 /* element offset of the first element */
    int64_t in_stride[DETC_MAX_RANK];
} slice_data;

static bool slice_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input") || !detc_prep_rank(p, 0, 1, DETC_MAX_RANK) || !ok)
        return false;
    int64_t begin[DETC_MAX_RANK], size[DETC_MAX_RANK];
    ok = detc_attr_ints(p, "begin", true, x->rank, x->rank, NULL, 0, INT32_MAX, begin, NULL);
    ok = detc_attr_ints(p, "size", true, x->rank, x->rank, NULL, -1, INT32_MAX, size, NULL) && ok;
    if (!ok)
        return false;
    slice_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        d->in_stride[i] = s;
        s *= x->dims[i];
    }
    d->rank = x->rank;
    d->elem = detc_dtype_size(x->dtype);
    d->begin_off = 0;
    for (int i = 0; i < x->rank; i++) {
        int64_t sz = size[i] == -1 ? x->dims[i] - begin[i] : size[i];
        if (begin[i] >= x->dims[i] || sz < 1 || begin[i] + sz > x->dims[i]) {
            char xs[128];
            detc_shape_str(x->rank, x->dims, xs, sizeof xs);
            detc_prep_error(p, DETC_ERR_ATTR,
                            "begin %lld, size %lld on axis %d do not fit input %s (need 0 <= begin, 1 <= size, "
                            "begin + size <= dim)",
                            (long long)begin[i], (long long)size[i], i, xs);
            return false;
        }
        d->out_dims[i] = (int32_t)sz;
        d->begin_off += begin[i] * d->in_stride[i];
    }
    return detc_prep_set_output(p, 0, x->dtype, x->rank, d->out_dims,
                                detc_tensor_is_quantized(x) ? &x->quant : NULL, false);
}

static detc_code slice_eval(const detc_exec *x, detc_node *node)
{
    const slice_data *d = node->op_data;
    const unsigned char *src = detc_in(x->g, node, 0)->data;
    unsigned char *dst = detc_out(x->g, node, 0)->data;
    int last = d->rank - 1;
    size_t run = (size_t)d->out_dims[last] * d->elem;
    int64_t rows = detc_tensor_count(detc_out(x->g, node, 0)) / d->out_dims[last];
    int32_t idx[DETC_MAX_RANK] = {0};
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = d->begin_off;
        for (int a = 0; a < last; a++)
            off += idx[a] * d->in_stride[a];
        memcpy(dst + (size_t)r * run, src + (size_t)off * d->elem, run);
        for (int a = last - 1; a >= 0; a--) {
            if (++idx[a] < d->out_dims[a])
                break;
            idx[a] = 0;
        }
    }
    return DETC_OK;
}

const detc_op detc_op_slice = {
    .name = "slice",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = slice_prepare,
    .eval = slice_eval,
};
