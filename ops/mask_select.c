/* mask_select: torchvision's maskrcnn_inference. mask_logits [D, M, M, K] (the mask predictor's NHWC
 * output, one channel per class), labels i32 [D], count i32 [1] -> [D, M, M] f32:
 *   out[d, y, x] = sigmoid(mask_logits[d, y, x, labels[d]]) = 1 / (1 + exp(-v))   for d < count
 * Rows d >= count, and rows whose label is outside 0..K-1, are zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

typedef struct {
    int d, m_h, m_w, k;
} ms_data;

static bool ms_prepare(detc_prep *p)
{
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "mask_logits") || !detc_prep_require_input(p, 1, "labels") ||
        !detc_prep_require_input(p, 2, "count"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), "mask_select takes f32 mask logits; keep the mask head f32") && ok;
    ok = detc_prep_dtype(p, 1, DETC_MASK(DETC_I32), "labels must be i32, as box_detections produces them") && ok;
    ok = detc_prep_dtype(p, 2, DETC_MASK(DETC_I32), "count must be i32 [1], as box_detections produces it") && ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    ok = detc_prep_rank(p, 1, 1, 1) && ok;
    ok = detc_prep_rank(p, 2, 1, 1) && ok;
    if (!ok)
        return false;
    const detc_tensor *m = detc_prep_in(p, 0), *l = detc_prep_in(p, 1), *c = detc_prep_in(p, 2);
    char ms[128], ls[128];
    detc_shape_str(m->rank, m->dims, ms, sizeof ms);
    detc_shape_str(l->rank, l->dims, ls, sizeof ls);
    if (m->dims[0] < 1 || m->dims[1] < 1 || m->dims[2] < 1 || m->dims[3] < 1 || l->dims[0] != m->dims[0]) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "mask logits %s must be [D, M, M, classes] with D = the %d labels of %s; connect the mask "
                        "predictor's output and box_detections' labels",
                        ms, (int)l->dims[0], ls);
        ok = false;
    }
    if (c->dims[0] != 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "count must have shape [1], found [%d]", (int)c->dims[0]);
        ok = false;
    }
    if (!ok)
        return false;
    int32_t dims[3] = {m->dims[0], m->dims[1], m->dims[2]};
    if (!detc_prep_set_output(p, 0, DETC_F32, 3, dims, NULL, false))
        return false;
    ms_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    *d = (ms_data){m->dims[0], m->dims[1], m->dims[2], m->dims[3]};
    return true;
}

typedef struct {
    const ms_data *d;
    const float *logits;
    const int32_t *labels;
    int count;
    float *out;
} ms_job;

static void ms_rows(void *ctx, int begin, int end)
{
    const ms_job *j = ctx;
    const ms_data *d = j->d;
    size_t px = (size_t)d->m_h * d->m_w;
    for (int r = begin; r < end; r++) {
        float *o = j->out + (size_t)r * px;
        int32_t label = j->labels[r];
        if (r >= j->count || label < 0 || label >= d->k) {
            memset(o, 0, px * sizeof *o);
            continue;
        }
        const float *src = j->logits + (size_t)r * px * d->k + label;
        for (size_t i = 0; i < px; i++)
            o[i] = 1.0f / (1.0f + expf(-src[i * d->k]));
    }
}

static detc_code ms_eval(const detc_exec *x, detc_node *node)
{
    const ms_data *d = node->op_data;
    int32_t count = op_read_i32(detc_in(x->g, node, 2), 0);
    ms_job j = {d, detc_in(x->g, node, 0)->data, detc_in(x->g, node, 1)->data, count < 0 ? 0 : count,
                detc_out(x->g, node, 0)->data};
    detc_parallel_for(x->pool, d->d, 1, ms_rows, &j);
    return DETC_OK;
}

const detc_op detc_op_mask_select = {
    .name = "mask_select",
    .min_inputs = 3,
    .max_inputs = 3,
    .n_outputs = 1,
    .prepare = ms_prepare,
    .eval = ms_eval,
};
