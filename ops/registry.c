/* Op lookup by name, over a static table of every op in ops/. */
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "ops.h"

static const detc_op *const all_ops[] = {
    &detc_op_conv2d,   &detc_op_depthwise_conv2d, &detc_op_concat, &detc_op_reshape,
    &detc_op_logistic, &detc_op_detection_postprocess, &detc_op_cast,
    &detc_op_add, &detc_op_mul, &detc_op_max_pool2d, &detc_op_avg_pool2d, &detc_op_pad, &detc_op_relu, &detc_op_relu6,
    &detc_op_softmax, &detc_op_l2_normalize,
    &detc_op_ssd_detection_output,
    &detc_op_roi_align, &detc_op_rpn_proposals, &detc_op_box_detections, &detc_op_anchors,
    &detc_op_resize_nearest, &detc_op_fully_connected, &detc_op_conv2d_transpose, &detc_op_mask_select,
    &detc_op_non_max_suppression,
    &detc_op_sub, &detc_op_requantize, &detc_op_hard_swish, &detc_op_transpose, &detc_op_slice, &detc_op_tanh,
    &detc_op_mean, &detc_op_resize_bilinear,
};

#define N_OPS ((int)(sizeof all_ops / sizeof all_ops[0]))

const detc_op *detc_op_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < N_OPS; i++)
        if (strcmp(all_ops[i]->name, name) == 0)
            return all_ops[i];
    return NULL;
}

void detc_op_names(char *out, size_t out_len)
{
    size_t used = 0;
    if (out_len == 0)
        return;
    out[0] = '\0';
    for (int i = 0; i < N_OPS; i++) {
        int n = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", all_ops[i]->name);
        if (n < 0 || (size_t)n >= out_len - used)
            return;
        used += (size_t)n;
    }
}
